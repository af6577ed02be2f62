/*
** nn.c -- Neuron, Layer and MLP (tl_nn.h): construction, initialisation,
** the forward pass and parameter helpers.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tl_nn.h"

struct tl_mlp {
  tl_mlp_kind kind;
  size_t nin, nlayers, nparams;
  size_t *sizes;        /* neurons per layer */
  tl_act *acts;         /* activation per layer */
  tl_node **params;     /* nparams leaves, one reference each */
  tl_node **row[2];     /* forward scratch: the widest layer, twice */
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

/* Checks an architecture and counts its parameters into *nparams. */
static int check_arch(tl_ctx *ctx, tl_mlp_kind kind, size_t nin,
                      size_t nlayers, const size_t *sizes, const tl_act *act,
                      size_t *nparams) {
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
                         "got %zu", l + 1, TL_MLP_MAX_WIDTH, sizes[l]), 0;
    if ((unsigned)act[l] >= TL_ACT_COUNT)
      return tl_ctx_fail(ctx, TL_EARG, "unknown activation %d in layer %zu",
                         (int)act[l], l + 1), 0;
    /* both factors <= 10^6 + 1, so the product fits before the check */
    total += sizes[l] * (fan_in + 1);
    if (total > TL_MLP_MAX_PARAMS)
      return tl_ctx_fail(ctx, TL_EARG, "model too large: more than %u "
                         "parameters", TL_MLP_MAX_PARAMS), 0;
    fan_in = sizes[l];
  }
  *nparams = total;
  return 1;
}

/* Allocates a model and its arrays, without parameters (all NULL). */
static tl_mlp *alloc_mlp(tl_ctx *ctx, tl_mlp_kind kind, size_t nin,
                         size_t nlayers, const size_t *sizes,
                         const tl_act *act, size_t nparams) {
  size_t widest = 0;
  for (size_t l = 0; l < nlayers; l++)
    if (sizes[l] > widest) widest = sizes[l];
  tl_mlp *m = calloc(1, sizeof *m);
  if (m == NULL) goto nomem;
  m->kind = kind;
  m->nin = nin;
  m->nlayers = nlayers;
  m->nparams = nparams;
  m->sizes = malloc(nlayers * sizeof *m->sizes);
  m->acts = malloc(nlayers * sizeof *m->acts);
  m->params = calloc(nparams, sizeof *m->params);
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

/* Makes parameter i a leaf holding 'v'; 0 when the pool is exhausted. */
static int set_param(tl_ctx *ctx, tl_mlp *m, size_t i, double v) {
  m->params[i] = tl_leaf(ctx, v);
  return m->params[i] != NULL;
}

tl_mlp *tl_mlp_new(tl_ctx *ctx, tl_mlp_kind kind, size_t nin, size_t nlayers,
                   const size_t *sizes, const tl_act *act, tl_init init) {
  size_t nparams;
  if (!check_arch(ctx, kind, nin, nlayers, sizes, act, &nparams)) return NULL;
  tl_mlp *m = alloc_mlp(ctx, kind, nin, nlayers, sizes, act, nparams);
  if (m == NULL) return NULL;
  size_t i = 0, fan_in = nin;
  for (size_t l = 0; l < nlayers; l++) {
    double bound = init == TL_INIT_UNIFORM ? 1.0 : 1.0 / sqrt((double)fan_in);
    for (size_t j = 0; j < sizes[l] * (fan_in + 1); j++, i++) {
      double u = tl_rng_uniform(ctx);           /* [0, 1) */
      if (!set_param(ctx, m, i, bound * (2 * u - 1))) {
        tl_mlp_free(ctx, m);
        return NULL;
      }
    }
    fan_in = sizes[l];
  }
  return m;
}

tl_mlp *tl__mlp_with_params(tl_ctx *ctx, tl_mlp_kind kind, size_t nin,
                            size_t nlayers, const size_t *sizes,
                            const tl_act *act, const double *params) {
  size_t nparams;
  if (!check_arch(ctx, kind, nin, nlayers, sizes, act, &nparams)) return NULL;
  tl_mlp *m = alloc_mlp(ctx, kind, nin, nlayers, sizes, act, nparams);
  if (m == NULL) return NULL;
  for (size_t i = 0; i < nparams; i++)
    if (!set_param(ctx, m, i, params[i])) {
      tl_mlp_free(ctx, m);
      return NULL;
    }
  return m;
}

void tl_mlp_free(tl_ctx *ctx, tl_mlp *m) {
  if (m == NULL) return;
  if (m->params != NULL)
    for (size_t i = 0; i < m->nparams; i++) tl_release(ctx, m->params[i]);
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
size_t tl_mlp_nin(const tl_mlp *m) { return m->nin; }
size_t tl_mlp_nout(const tl_mlp *m) { return m->sizes[m->nlayers - 1]; }
size_t tl_mlp_nlayers(const tl_mlp *m) { return m->nlayers; }
size_t tl_mlp_layer_size(const tl_mlp *m, size_t l) {
  return l < m->nlayers ? m->sizes[l] : 0;
}
tl_act tl_mlp_layer_act(const tl_mlp *m, size_t l) {
  return l < m->nlayers ? m->acts[l] : TL_ACT_COUNT;
}
size_t tl_mlp_nparams(const tl_mlp *m) { return m->nparams; }
tl_node *const *tl_mlp_params(const tl_mlp *m) { return m->params; }

/* }====================================================================== */

/* {======================================================================
** Forward pass and parameter helpers
** ======================================================================= */

static void release_all(tl_ctx *ctx, size_t n, tl_node **xs) {
  for (size_t i = 0; i < n; i++) tl_release(ctx, xs[i]);
}

tl_status tl_mlp_forward(tl_ctx *ctx, tl_mlp *m, tl_node *const *x,
                         tl_node **out) {
  if (x == NULL || out == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "forward: NULL input or output array");
  for (size_t i = 0; i < m->nin; i++)
    if (x[i] == NULL)
      return tl_ctx_fail(ctx, TL_EARG, "forward: input %zu is NULL", i + 1);
  tl_node *const *in = x;       /* this layer's inputs */
  tl_node **prev = NULL;        /* ... when they are ours to release */
  size_t fan_in = m->nin;
  tl_node *const *p = m->params;
  for (size_t l = 0; l < m->nlayers; l++) {
    tl_node **dst = m->row[l & 1];
    tl_op op = acts[m->acts[l]].op;
    for (size_t j = 0; j < m->sizes[l]; j++, p += fan_in + 1) {
      tl_node *z = tl_neuron(ctx, fan_in, p, in, p[fan_in]);
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

/* {======================================================================
** Batched forward: one matmul per layer instead of one node per neuron
** ======================================================================= */

/* Replaces *h by r, a node made from it, dropping the old reference; 0 when
** r is NULL (the op failed and left its message). */
static int then(tl_ctx *ctx, tl_node **h, tl_node *r) {
  tl_release(ctx, *h);
  *h = r;
  return r != NULL;
}

/* Layer l's weights as an (fan_in x size) array node and its biases as a
** (size) one, gathered from the model's scalar parameters with tl_stack,
** so that gradients flow back into the same leaves the scalar path uses. */
static int layer_arrays(tl_ctx *ctx, tl_node *const *p, size_t fan_in,
                        size_t size, tl_node **w, tl_node **b) {
  tl_node **gather = malloc((fan_in * size + size) * sizeof *gather);
  if (gather == NULL) {
    tl_ctx_fail(ctx, TL_ENOMEM, "forward: out of memory");
    return 0;
  }
  tl_node **bias = gather + fan_in * size;
  for (size_t j = 0; j < size; j++) {       /* neuron j: w[0..fan_in), b */
    for (size_t i = 0; i < fan_in; i++) gather[i * size + j] = p[j * (fan_in + 1) + i];
    bias[j] = p[j * (fan_in + 1) + fan_in];
  }
  size_t wshape[2] = {fan_in, size};
  *w = tl_stack(ctx, fan_in * size, gather, 2, wshape);
  *b = *w ? tl_stack(ctx, size, bias, 1, &size) : NULL;
  free(gather);
  if (*b == NULL) { tl_release(ctx, *w); *w = NULL; return 0; }
  return 1;
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
  size_t fan_in = m->nin;
  tl_node *const *p = m->params;
  for (size_t l = 0; l < m->nlayers; l++) {
    size_t size = m->sizes[l];
    tl_node *w, *b;
    if (!layer_arrays(ctx, p, fan_in, size, &w, &b)) { tl_release(ctx, h); return NULL; }
    int ok = then(ctx, &h, tl_matmul(ctx, h, w)) && then(ctx, &h, tl_add(ctx, h, b));
    tl_release(ctx, w);
    tl_release(ctx, b);
    tl_op op = acts[m->acts[l]].op;
    if (ok && op != TL_OP_LEAF) ok = then(ctx, &h, tl_unary(ctx, op, h));
    if (!ok) return NULL;
    p += size * (fan_in + 1);
    fan_in = size;
  }
  return h;
}

/* }====================================================================== */

void tl_mlp_zero_grad(tl_mlp *m) {
  for (size_t i = 0; i < m->nparams; i++)
    m->params[i]->flags &= (uint8_t)~TL_F_HAS_GRAD;
}

tl_node *tl_mlp_l2(tl_ctx *ctx, tl_mlp *m) {
  return tl_sumsq(ctx, m->nparams, m->params);
}

/* }====================================================================== */
