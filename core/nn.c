/*
** nn.c -- Neuron, Layer and MLP (tl_nn.h): construction, initialisation,
** the forward passes and parameter helpers.  The fused ops they build
** (neuron row, linear) are in nn_ops.c.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tl_nn.h"

struct tl_mlp {
  tl_mlp_kind kind;
  size_t nin, nlayers, nscalars;
  size_t *sizes;        /* neurons per layer */
  tl_act *acts;         /* activation per layer */
  tl_node **params;     /* 2 * nlayers array leaves, W then b per layer,
                        ** one reference each */
  tl_node **row[2];     /* scalar forward scratch: the widest layer, twice */
};

/* {======================================================================
** Activations
** ======================================================================= */

static const struct {
  const char *name, *title;
  tl_op op;             /* TL_OP_LEAF for none */
} acts[TL_ACT_COUNT] = {
  [TL_ACT_LINEAR]  = {"linear", "Linear", TL_OP_LEAF},
  [TL_ACT_RELU]    = {"relu", "ReLU", TL_OP_RELU},
  [TL_ACT_TANH]    = {"tanh", "Tanh", TL_OP_TANH},
  [TL_ACT_SIGMOID] = {"sigmoid", "Sigmoid", TL_OP_SIGMOID},
};

const char *tl_act_name(tl_act act) {
  return (unsigned)act < TL_ACT_COUNT ? acts[act].name : "?";
}

const char *tl_act_title(tl_act act) {
  return (unsigned)act < TL_ACT_COUNT ? acts[act].title : "?";
}

tl_act tl_act_from_name(const char *name) {
  for (int i = 0; i < TL_ACT_COUNT; i++)
    if (strcmp(name, acts[i].name) == 0) return (tl_act)i;
  return TL_ACT_COUNT;
}

/* }====================================================================== */

/* {======================================================================
** Construction
** ======================================================================= */

/* Checks an architecture and counts its scalar parameters into *nscalars. */
static int check_arch(tl_ctx *ctx, tl_mlp_kind kind, size_t nin,
                      size_t nlayers, const size_t *sizes, const tl_act *act,
                      size_t *nscalars) {
  if ((unsigned)kind >= TL_KIND_COUNT)
    return tl_ctx_fail(ctx, TL_EARG, "unknown model kind %d", (int)kind), 0;
  if (nin == 0 || nin > TL_MLP_MAX_WIDTH)
    return tl_ctx_fail(ctx, TL_EARG, "number of inputs must be in 1..%u, "
                       "got %zu", TL_MLP_MAX_WIDTH, nin), 0;
  if (nlayers == 0 || nlayers > TL_MLP_MAX_LAYERS || sizes == NULL ||
      act == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "number of layers must be in 1..%u, "
                       "got %zu", TL_MLP_MAX_LAYERS, nlayers), 0;
  if (kind != TL_KIND_MLP && nlayers != 1)
    return tl_ctx_fail(ctx, TL_EARG, "a %s has one layer, got %zu",
                       kind == TL_KIND_NEURON ? "Neuron" : "Layer", nlayers), 0;
  if (kind == TL_KIND_NEURON && sizes[0] != 1)
    return tl_ctx_fail(ctx, TL_EARG, "a Neuron has one output, got %zu",
                       sizes[0]), 0;
  size_t total = 0, fan_in = nin;
  for (size_t l = 0; l < nlayers; l++) {
    if (sizes[l] == 0 || sizes[l] > TL_MLP_MAX_WIDTH)
      return tl_ctx_fail(ctx, TL_EARG, "size of layer %zu must be in 1..%u, "
                         "got %zu", l, TL_MLP_MAX_WIDTH, sizes[l]), 0;
    if ((unsigned)act[l] >= TL_ACT_COUNT)
      return tl_ctx_fail(ctx, TL_EARG, "unknown activation %d in layer %zu",
                         (int)act[l], l), 0;
    /* both factors <= 10^6 + 1, so the product fits before the check */
    total += sizes[l] * (fan_in + 1);
    if (total > TL_MLP_MAX_PARAMS)
      return tl_ctx_fail(ctx, TL_EARG, "model too large: more than %u "
                         "parameters", TL_MLP_MAX_PARAMS), 0;
    fan_in = sizes[l];
  }
  *nscalars = total;
  return 1;
}

/* Allocates a model and its lists, without parameters (all NULL). */
static tl_mlp *alloc_mlp(tl_ctx *ctx, tl_mlp_kind kind, size_t nin,
                         size_t nlayers, const size_t *sizes,
                         const tl_act *act, size_t nscalars) {
  size_t widest = 0;
  for (size_t l = 0; l < nlayers; l++)
    if (sizes[l] > widest) widest = sizes[l];
  tl_mlp *m = calloc(1, sizeof *m);
  if (m == NULL) goto nomem;
  m->kind = kind;
  m->nin = nin;
  m->nlayers = nlayers;
  m->nscalars = nscalars;
  m->sizes = malloc(nlayers * sizeof *m->sizes);
  m->acts = malloc(nlayers * sizeof *m->acts);
  m->params = calloc(2 * nlayers, sizeof *m->params);
  m->row[0] = malloc(widest * sizeof(tl_node *));
  m->row[1] = malloc(widest * sizeof(tl_node *));
  if (!m->sizes || !m->acts || !m->params || !m->row[0] || !m->row[1]) {
    tl_mlp_free(ctx, m);
    goto nomem;
  }
  memcpy(m->sizes, sizes, nlayers * sizeof *sizes);
  memcpy(m->acts, act, nlayers * sizeof *act);
  return m;
nomem:
  tl_ctx_fail(ctx, TL_ENOMEM, "out of memory creating a model");
  return NULL;
}

/* Makes every layer's W (size x fan_in) and b (size), values not yet set;
** 0 (and the model freed) when memory is short. */
static int alloc_params(tl_ctx *ctx, tl_mlp *m) {
  size_t fan_in = m->nin;
  for (size_t l = 0; l < m->nlayers; l++) {
    size_t shape[2] = {m->sizes[l], fan_in};
    m->params[2 * l] = tl__array_node(ctx, 2, shape);
    if (m->params[2 * l] != NULL)
      m->params[2 * l + 1] = tl__array_node(ctx, 1, shape);
    if (m->params[2 * l + 1] == NULL) {
      tl_mlp_free(ctx, m);
      return 0;
    }
    fan_in = m->sizes[l];
  }
  return 1;
}

tl_mlp *tl_mlp_new(tl_ctx *ctx, tl_mlp_kind kind, size_t nin, size_t nlayers,
                   const size_t *sizes, const tl_act *act, tl_init init) {
  size_t nscalars;
  if (!check_arch(ctx, kind, nin, nlayers, sizes, act, &nscalars)) return NULL;
  tl_mlp *m = alloc_mlp(ctx, kind, nin, nlayers, sizes, act, nscalars);
  if (m == NULL || !alloc_params(ctx, m)) return NULL;
  size_t fan_in = nin;
  for (size_t l = 0; l < nlayers; l++) {
    double bound = init == TL_INIT_UNIFORM ? 1.0 : 1.0 / sqrt((double)fan_in);
    double *w = tl_values(m->params[2 * l]), *b = tl_values(m->params[2 * l + 1]);
    /* micrograd's neuron order: row j of W, then b[j] */
    for (size_t j = 0; j < sizes[l]; j++)
      for (size_t i = 0; i <= fan_in; i++) {
        double u = tl_rng_uniform(ctx);           /* [0, 1) */
        *(i < fan_in ? &w[j * fan_in + i] : &b[j]) = bound * (2 * u - 1);
      }
    fan_in = sizes[l];
  }
  return m;
}

tl_mlp *tl__mlp_with_params(tl_ctx *ctx, tl_mlp_kind kind, size_t nin,
                            size_t nlayers, const size_t *sizes,
                            const tl_act *act, const double *params) {
  size_t nscalars;
  if (!check_arch(ctx, kind, nin, nlayers, sizes, act, &nscalars)) return NULL;
  tl_mlp *m = alloc_mlp(ctx, kind, nin, nlayers, sizes, act, nscalars);
  if (m == NULL || !alloc_params(ctx, m)) return NULL;
  for (size_t i = 0; i < 2 * nlayers; i++) {
    size_t size = tl_size(m->params[i]);
    memcpy(tl_values(m->params[i]), params, size * sizeof *params);
    params += size;
  }
  return m;
}

tl_mlp *tl_mlp_new_from(tl_ctx *ctx, tl_mlp_kind kind, size_t nin,
                        size_t nlayers, const size_t *sizes,
                        const tl_act *act, const double *values) {
  return tl__mlp_with_params(ctx, kind, nin, nlayers, sizes, act, values);
}

void tl_mlp_free(tl_ctx *ctx, tl_mlp *m) {
  if (m == NULL) return;
  if (m->params != NULL)
    for (size_t i = 0; i < 2 * m->nlayers; i++) tl_release(ctx, m->params[i]);
  free(m->params);
  free(m->sizes);
  free(m->acts);
  free(m->row[0]);
  free(m->row[1]);
  free(m);
}

/* }====================================================================== */

/* {======================================================================
** Accessors
** ======================================================================= */

tl_mlp_kind tl_mlp_kind_of(const tl_mlp *m) { return m->kind; }
tl_dtype tl_mlp_dtype(const tl_mlp *m) { return tl__dtype(m->params[0]); }

tl_status tl_mlp_to_dtype(tl_ctx *ctx, tl_mlp *m, tl_dtype t) {
  size_t np = 2 * m->nlayers;
  tl_node **fresh = calloc(np, sizeof *fresh);
  if (fresh == NULL) return tl_ctx_fail(ctx, TL_ENOMEM, "out of memory");
  for (size_t i = 0; i < np; i++) {
    tl_node *old = m->params[i];
    fresh[i] = tl__array_node_t(ctx, t, old->val.arr->ndim, old->val.arr->shape);
    if (fresh[i] != NULL && tl_label(old) != NULL &&    /* L1.W stays L1.W */
        tl_set_label(ctx, fresh[i], tl_label(old)) != TL_OK) {
      tl_release(ctx, fresh[i]);
      fresh[i] = NULL;
    }
    if (fresh[i] == NULL) {
      for (size_t j = 0; j < i; j++) tl_release(ctx, fresh[j]);
      free(fresh);
      return TL_ENOMEM;
    }
    for (size_t k = 0, size = tl__size(old); k < size; k++)
      tl_set_value_at(fresh[i], k, tl__at(old, k));
    fresh[i]->flags |= old->flags & TL_F_NO_GRAD;   /* frozen stays frozen */
  }
  for (size_t i = 0; i < np; i++) {
    tl_release(ctx, m->params[i]);
    m->params[i] = fresh[i];
  }
  free(fresh);
  return TL_OK;
}
size_t tl_mlp_nin(const tl_mlp *m) { return m->nin; }
size_t tl_mlp_nout(const tl_mlp *m) { return m->sizes[m->nlayers - 1]; }
size_t tl_mlp_nlayers(const tl_mlp *m) { return m->nlayers; }
size_t tl_mlp_layer_size(const tl_mlp *m, size_t l) {
  return l < m->nlayers ? m->sizes[l] : 0;
}
tl_act tl_mlp_layer_act(const tl_mlp *m, size_t l) {
  return l < m->nlayers ? m->acts[l] : TL_ACT_COUNT;
}
size_t tl_mlp_nparams(const tl_mlp *m) { return 2 * m->nlayers; }
tl_node *const *tl_mlp_params(const tl_mlp *m) { return m->params; }
size_t tl_mlp_nscalars(const tl_mlp *m) { return m->nscalars; }

/* Layer l holds size * (fan_in + 1) scalars: neuron j's fan_in weights
** (row j of W), then its bias b[j]. */
int tl_mlp_scalar(const tl_mlp *m, size_t i, tl_node **array, size_t *pos) {
  size_t fan_in = m->nin;
  for (size_t l = 0; l < m->nlayers; l++) {
    size_t span = m->sizes[l] * (fan_in + 1);
    if (i < span) {
      size_t j = i / (fan_in + 1), c = i % (fan_in + 1);
      *array = m->params[2 * l + (c == fan_in)];
      *pos = c == fan_in ? j : j * fan_in + c;
      return 1;
    }
    i -= span;
    fan_in = m->sizes[l];
  }
  return 0;
}

tl_status tl_mlp_set_grad_at(tl_ctx *ctx, tl_node *arr, size_t pos, double g) {
  if (!(arr->flags & TL_F_HAS_GRAD) && tl_set_grads(ctx, arr, NULL) != TL_OK)
    return TL_ENOMEM;
  if (tl__dtype(arr) == TL_FLOAT32) ((float *)tl__grads_any(arr))[pos] = (float)g;
  else tl__grads(arr)[pos] = g;
  return TL_OK;
}

size_t tl_mlp_bytes(const tl_mlp *m) {
  size_t widest = 0, bytes = sizeof *m;
  for (size_t l = 0; l < m->nlayers; l++)
    if (m->sizes[l] > widest) widest = m->sizes[l];
  bytes += m->nlayers * (sizeof *m->sizes + sizeof *m->acts + 2 * sizeof *m->params);
  bytes += 2 * widest * sizeof(tl_node *);
  for (size_t i = 0; i < 2 * m->nlayers; i++) {
    const tl__array *arr = m->params[i]->val.arr;
    size_t es = tl__esize((tl_dtype)arr->dtype);
    bytes += sizeof *arr + arr->size * es;
    if (arr->grad != NULL) bytes += arr->size * es;
  }
  return bytes;
}

/* }====================================================================== */

/* {======================================================================
** Forward passes and parameter helpers
** ======================================================================= */

static void release_all(tl_ctx *ctx, size_t n, tl_node **xs) {
  for (size_t i = 0; i < n; i++) tl_release(ctx, xs[i]);
}

tl_status tl_mlp_forward(tl_ctx *ctx, tl_mlp *m, tl_node *const *x,
                         tl_node **out) {
  if (x == NULL || out == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "forward: NULL input or output array");
  for (size_t i = 0; i < m->nin; i++)
    if (x[i] == NULL || tl__is_array(x[i]))
      return tl_ctx_fail(ctx, TL_EARG, "forward: input %zu is not a scalar "
                         "node", i);
  tl_node *const *in = x;       /* this layer's inputs */
  tl_node **prev = NULL;        /* ... when they are ours to release */
  size_t fan_in = m->nin;
  for (size_t l = 0; l < m->nlayers; l++) {
    tl_node **dst = m->row[l & 1];
    tl_node *w = m->params[2 * l], *b = m->params[2 * l + 1];
    tl_op op = acts[m->acts[l]].op;
    for (size_t j = 0; j < m->sizes[l]; j++) {
      /* the model's weights and this layer's inputs were checked */
      tl_node *z = tl__neuron_row_checked(ctx, w, b, j, in);
      tl_node *a = z;
      if (z != NULL && op != TL_OP_LEAF) {
        a = tl_unary(ctx, op, z);
        tl_release(ctx, z);     /* 'a' holds it now */
      }
      if (a == NULL) {
        release_all(ctx, j, dst);
        if (prev != NULL) release_all(ctx, fan_in, prev);
        /* the op left its message; with numerics checking on, a non-finite
        ** value is the likely cause, otherwise only memory can fail */
        return ctx->check_numerics ? TL_ENUMERIC : TL_ENOMEM;
      }
      dst[j] = a;
    }
    /* this layer's nodes hold the previous layer's: drop our references */
    if (prev != NULL) release_all(ctx, fan_in, prev);
    prev = dst;
    in = dst;
    fan_in = m->sizes[l];
  }
  memcpy(out, prev, fan_in * sizeof *out);
  return TL_OK;
}

/* Replaces *h by r, a node made from it, dropping the old reference; 0 when
** r is NULL (the op failed and left its message). */
static int then(tl_ctx *ctx, tl_node **h, tl_node *r) {
  tl_release(ctx, *h);
  *h = r;
  return r != NULL;
}

tl_node *tl_mlp_forward_batch(tl_ctx *ctx, tl_mlp *m, tl_node *x) {
  if (x == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "forward: NULL input");
    return NULL;
  }
  size_t nd = tl_ndim(x), cols = nd == 2 ? tl_dim(x, 1) : tl_dim(x, 0);
  if ((nd != 1 && nd != 2) || cols != m->nin) {
    char s[64];
    tl_ctx_fail(ctx, TL_EARG, "forward: input of shape %s, (N, %zu) or (%zu) "
                "expected", tl__shape_str(x, s, sizeof s), m->nin, m->nin);
    return NULL;
  }
  tl_node *h = x;
  tl_retain(h);
  for (size_t l = 0; l < m->nlayers; l++) {
    tl_op op = acts[m->acts[l]].op;
    if (!then(ctx, &h, tl_linear(ctx, h, m->params[2 * l], m->params[2 * l + 1])) ||
        (op != TL_OP_LEAF && !then(ctx, &h, tl_unary(ctx, op, h))))
      return NULL;
  }
  return h;
}

void tl_mlp_zero_grad(tl_mlp *m) {
  for (size_t i = 0; i < 2 * m->nlayers; i++)
    m->params[i]->flags &= (uint8_t)~TL_F_HAS_GRAD;
}

/* The sum over the parameter arrays, in PyTorch's order, of (p^2).sum(). */
tl_node *tl_mlp_l2(tl_ctx *ctx, tl_mlp *m) {
  tl_node *total = NULL;
  for (size_t i = 0; i < 2 * m->nlayers; i++) {
    tl_node *sq = tl_with_const(ctx, TL_OP_POW_K, m->params[i], 2);
    if (sq == NULL || !then(ctx, &sq, tl_reduce(ctx, TL_OP_REDUCE_SUM, sq, -1))) {
      tl_release(ctx, total);
      return NULL;
    }
    if (total != NULL && !then(ctx, &sq, tl_add(ctx, total, sq))) {
      tl_release(ctx, total);
      return NULL;
    }
    tl_release(ctx, total);     /* sq holds it now */
    total = sq;
  }
  return total;
}

/* }====================================================================== */
