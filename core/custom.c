/*
** custom.c -- custom ops (tl_custom.h): a node whose forward and backward
** are callbacks; and the two steps a gradient checker takes at any op:
** its value again at perturbed inputs (tl_replay), and what its backward
** rule alone gives its inputs (tl_local_grads).
**
** A custom node is n-ary: its block (tl__small_alloc, freed with the node)
** holds the input list, then a copy of the tl_custom_fn and of its name.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "size.h"
#include "tl_custom.h"
#include "tl_loss.h"
#include "tl_nn.h"
#include "tl_ops_extra.h"

#define NAME_MAX_LEN 63

typedef struct custom_data {
  tl_custom_fn fn;             /* fn.name points at 'name' */
  char name[NAME_MAX_LEN + 1];
} custom_data;

/* The data after the input list of the CUSTOM node 'n'. */
static custom_data *data_of(const tl_node *n) {
  return (custom_data *)(void *)(n->many + n->nin);
}

const char *tl__custom_name(const tl_node *n) {
  return (n->flags & TL_F_MANY) ? data_of(n)->name : "custom";
}

void tl__custom_free(tl_node *n) {
  custom_data *c = data_of(n);
  if (c->fn.destroy != NULL) c->fn.destroy(c->fn.ud);
  c->fn.destroy = NULL;
}

/* fn's forward in no-grad mode (with numerics checks off: the result is
** checked where it is recorded, and a replay at perturbed inputs may
** legitimately overflow). */
static tl_node *run_forward(tl_ctx *ctx, const tl_custom_fn *fn, size_t nin,
                            tl_node *const *in) {
  int grad = tl_set_grad_enabled(ctx, 0);
  int numerics = tl_set_check_numerics(ctx, 0);
  ctx->error[0] = '\0';
  tl_node *v = fn->forward(ctx, fn->ud, nin, in);
  tl_set_grad_enabled(ctx, grad);
  tl_set_check_numerics(ctx, numerics);
  if (v == NULL && ctx->error[0] == '\0')
    tl_ctx_fail(ctx, TL_EARG, "%s: forward returned no node", fn->name);
  return v;
}

tl_node *tl_custom(tl_ctx *ctx, const tl_custom_fn *fn, size_t nin,
                   tl_node *const *in) {
  if (fn == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "custom: op expected, got NULL");
    return NULL;
  }
  tl_custom_fn f = *fn;
  tl_node *n = NULL;
  size_t bytes;
  if (f.name == NULL || f.name[0] == '\0' || f.forward == NULL ||
      f.backward == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "custom: a name, a forward and a backward "
                "expected");
    goto fail;
  }
  if (nin == 0 || in == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "%s: at least one input expected", f.name);
    goto fail;
  }
  for (size_t i = 0; i < nin; i++)
    if (in[i] == NULL) {
      tl_ctx_fail(ctx, TL_EARG, "%s: input %zu is NULL", f.name, i + 1);
      goto fail;
    }
  /* callbacks exchange float64 buffers: float32 inputs are not taken yet */
  for (size_t i = 0; i < nin; i++)
    if (!tl__need_f64(ctx, f.name, in[i])) goto fail;
  tl_node *v = run_forward(ctx, &f, nin, in);
  if (v == NULL) goto fail;
  if (!tl__need_f64(ctx, f.name, v)) {
    tl_release(ctx, v);
    goto fail;
  }
  n = tl_detach(ctx, v);            /* the value, as a node of our own */
  tl_release(ctx, v);
  if (n == NULL) goto fail;
  tl_node **block = NULL;
  if (tl__size_mul(nin, sizeof *block, &bytes) &&
      tl__size_add(bytes, sizeof(custom_data), &bytes))
    block = tl__small_alloc(ctx, bytes);
  if (block == NULL) {
    tl_ctx_fail(ctx, TL_ENOMEM, "%s: out of memory for %zu inputs", f.name, nin);
    tl_release(ctx, n);
    goto fail;
  }
  memcpy(block, in, nin * sizeof *block);
  custom_data *c = (custom_data *)(void *)(block + nin);
  c->fn = f;
  snprintf(c->name, sizeof c->name, "%s", f.name);
  c->fn.name = c->name;
  n = tl__record_block(ctx, n, TL_OP_CUSTOM, 0, nin, block);
  if (n != NULL && n->op == TL_OP_CUSTOM) return n;   /* owns f.ud now */
  if (n == NULL && strncmp(ctx->error, "custom ", 7) == 0) {
    char rest[sizeof ctx->error];     /* "custom produced nan": its name */
    snprintf(rest, sizeof rest, "%s", ctx->error + 6);
    tl_ctx_fail(ctx, TL_ENUMERIC, "%s%s", f.name, rest);
  }
fail:
  if (f.destroy != NULL) f.destroy(f.ud);
  return n;
}

static int same_shape(const tl_node *a, const tl_node *b);

/* The forward rule of TL_OP_CUSTOM, for replays (compile.c): the callback
** runs again (its result is a new node: a custom op allocates in every
** replay) and its values are copied into n's; a failure, or a result of
** another shape or dtype, sets ctx->sweep_failed as backward does.  The
** constructor above runs the callback itself: the shape of its result is
** what the node is made with. */
void tl__custom_fwd(tl_ctx *ctx, tl_node *n) {
  custom_data *c = data_of(n);
  tl_node *v = run_forward(ctx, &c->fn, n->nin, n->many);
  if (v == NULL) { ctx->sweep_failed = TL_EARG; return; }
  if (!same_shape(v, n) || tl__dtype(v) != tl__dtype(n)) {
    char a[64], b[64];
    ctx->sweep_failed = tl_ctx_fail(ctx, TL_EARG, "%s: forward gave shape %s, "
                                    "then %s", c->name, tl__shape_str(n, a, sizeof a),
                                    tl__shape_str(v, b, sizeof b));
  } else
    memcpy(tl__vals(n), tl__vals(v), tl__size(n) * sizeof(double));
  tl_release(ctx, v);
}

/* The backward rule of TL_OP_CUSTOM: the callback fills scratch buffers,
** which are then added into the inputs; a failure adds nothing and stops
** the sweep (ctx->sweep_failed). */
void tl__custom_b(tl_ctx *ctx, tl_node *n) {
  custom_data *c = data_of(n);
  tl_node *const *in = n->many;
  size_t nin = n->nin, total = 0;
  if (!(n->flags & TL_F_HAS_GRAD)) return;      /* nothing arrived */
  for (size_t i = 0; i < nin; i++)
    if (tl__wants_grad(in[i]) && !tl__size_add(total, tl__size(in[i]), &total))
      total = SIZE_MAX;
  double **gin = calloc(nin, sizeof *gin);
  double *buf = total < SIZE_MAX / sizeof(double)
                ? calloc(total ? total : 1, sizeof *buf) : NULL;
  if (gin == NULL || buf == NULL) {
    ctx->sweep_failed = tl_ctx_fail(ctx, TL_ENOMEM, "%s backward: out of "
                                    "memory", c->name);
    free(gin); free(buf);
    return;
  }
  for (size_t i = 0, at = 0; i < nin; i++)
    if (tl__wants_grad(in[i])) { gin[i] = buf + at; at += tl__size(in[i]); }
  const double *gout = tl__is_array(n) ? n->val.arr->grad : &n->grad;
  ctx->in_callback++;
  ctx->error[0] = '\0';
  tl_status st = c->fn.backward(ctx, c->fn.ud, n, gout, nin, in, gin);
  ctx->in_callback--;
  if (st != TL_OK) {
    if (ctx->error[0] == '\0')
      tl_ctx_fail(ctx, st, "%s backward: failed (status %d)", c->name, (int)st);
    ctx->sweep_failed = st;
  } else {
    for (size_t i = 0; i < nin; i++) {
      if (gin[i] == NULL || !tl__wants_grad(in[i])) continue;
      if (!tl__is_array(in[i])) { tl__grad_add(in[i], gin[i][0]); continue; }
      int assign;
      double *g = tl__grads_once(in[i], &assign);
      for (size_t j = 0, size = tl__size(in[i]); j < size; j++)
        g[j] = assign ? gin[i][j] : g[j] + gin[i][j];
    }
  }
  free(gin);
  free(buf);
}

/* {======================================================================
** Checking an op: replay and local gradients
** ======================================================================= */

static int same_shape(const tl_node *a, const tl_node *b) {
  if (tl__ndim(a) != tl__ndim(b)) return 0;
  for (size_t d = 0; d < tl__ndim(a); d++)
    if (tl__shape(a)[d] != tl__shape(b)[d]) return 0;
  return 1;
}

static tl_node *replay_op(tl_ctx *ctx, tl_node *n) {
  tl_node *const *in = tl__inputs(n);
  size_t nin = tl__nin(n);
  tl_op op = (tl_op)n->op;
  unsigned flags = tl_op_flags(op);
  if (flags & TL_OPF_EW) {
    if (nin == 2) return tl_binary(ctx, op, in[0], in[1]);
    if (flags & TL_OPF_K) return tl_with_const(ctx, op, in[0], n->k);
    return tl_unary(ctx, op, in[0]);
  }
  switch (op) {
    case TL_OP_REDUCE_SUM: case TL_OP_REDUCE_MEAN: case TL_OP_REDUCE_MAX:
    case TL_OP_REDUCE_MIN: case TL_OP_LOGSUMEXP:
      return tl_reduce(ctx, op, in[0], (int)n->k);
    case TL_OP_MATMUL: return tl_matmul(ctx, in[0], in[1]);
    case TL_OP_TRANSPOSE: return tl_transpose(ctx, in[0]);
    case TL_OP_RESHAPE: return tl_reshape(ctx, in[0], tl__ndim(n), tl__shape(n));
    case TL_OP_INDEX: return tl_index(ctx, in[0], (size_t)n->k);
    case TL_OP_STACK: return tl_stack(ctx, nin, in, tl__ndim(n), tl__shape(n));
    case TL_OP_NEURON_ROW:
      return tl_neuron_row(ctx, in[0], in[1], (size_t)n->k, in + 2);
    case TL_OP_LINEAR: return tl_linear(ctx, in[0], in[1], in[2]);
    case TL_OP_CROSS_ENTROPY:   /* the classes follow the input (nn_ops.c) */
      return tl_loss_cross_entropy(ctx, in[0],
                                   (const size_t *)(const void *)(in + 1));
    case TL_OP_TO_DTYPE: return tl_to_dtype(ctx, in[0], (tl_dtype)n->k);
    case TL_OP_SOFTMAX: return tl_softmax(ctx, in[0], (int)n->k);
    case TL_OP_LOG_SOFTMAX: return tl_log_softmax(ctx, in[0], (int)n->k);
    case TL_OP_CAT: return tl_cat(ctx, nin, in, (int)n->k);
    case TL_OP_NARROW: {      /* k: start * TL_MAX_DIMS + axis */
      int axis = (int)fmod(n->k, TL_MAX_DIMS);
      return tl_narrow(ctx, in[0], axis, (size_t)(n->k / TL_MAX_DIMS),
                       tl__shape(n)[axis]);
    }
    case TL_OP_CUSTOM: {
      custom_data *c = data_of(n);
      return run_forward(ctx, &c->fn, nin, in);
    }
    default:
      tl_ctx_fail(ctx, TL_EARG, "replay: op %s cannot be replayed",
                  tl_op_name(op));
      return NULL;
  }
}

tl_node *tl_replay(tl_ctx *ctx, tl_node *n) {
  if (n == NULL || tl__nin(n) == 0) {
    tl_ctx_fail(ctx, TL_EARG, "replay: the result of an op expected");
    return NULL;
  }
  tl__tape_reach(ctx, n);
  int grad = tl_set_grad_enabled(ctx, 0);
  int numerics = tl_set_check_numerics(ctx, 0);
  tl_node *v = replay_op(ctx, n);
  tl_set_grad_enabled(ctx, grad);
  tl_set_check_numerics(ctx, numerics);
  if (v == NULL) return NULL;
  if (!same_shape(v, n)) {
    char a[64], b[64];
    tl_ctx_fail(ctx, TL_EARG, "%s: forward gave shape %s, then %s",
                tl_node_op_name(n), tl__shape_str(n, a, sizeof a),
                tl__shape_str(v, b, sizeof b));
    tl_release(ctx, v);
    return NULL;
  }
  if (v->op == TL_OP_LEAF && v->refs == 1) return v;
  tl_node *d = tl_detach(ctx, v);          /* a forward may keep a graph */
  tl_release(ctx, v);
  return d;
}

/* A node's gradient as it was (as trace.c keeps them). */
typedef struct kept { tl_node *n; uint8_t has; double grad; double *arr; } kept;

static int keep(kept *k, tl_node *n) {
  k->n = n;
  k->has = n->flags & TL_F_HAS_GRAD;
  k->grad = n->grad;
  k->arr = NULL;
  if (k->has && tl__is_array(n)) {
    size_t bytes = tl__size(n) * tl__esize(tl__dtype(n));
    k->arr = malloc(bytes);
    if (k->arr == NULL) return 0;
    memcpy(k->arr, n->val.arr->grad, bytes);
  }
  return 1;
}

static void put_back(kept *k) {
  tl_node *n = k->n;
  n->flags = (uint8_t)((n->flags & ~TL_F_HAS_GRAD) | k->has);
  n->grad = k->grad;
  if (k->arr != NULL)
    memcpy(n->val.arr->grad, k->arr, tl__size(n) * tl__esize(tl__dtype(n)));
  free(k->arr);
}

tl_status tl_local_grads(tl_ctx *ctx, tl_node *n, const double *gout,
                         double *const *gin) {
  if (n == NULL || tl__nin(n) == 0 || gout == NULL || gin == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "local_grads: the result of an op, "
                       "a gradient and buffers expected");
  tl__tape_reach(ctx, n);
  tl_node *const *in = tl__inputs(n);
  size_t nin = tl__nin(n), nk = 0;
  kept *ks = calloc(nin + 1, sizeof *ks);
  if (ks == NULL) return tl_ctx_fail(ctx, TL_ENOMEM, "local_grads: out of memory");
  tl_status st = TL_OK;
  uint32_t epoch = tl__next_epoch(ctx);
  n->mark = epoch;
  if (!keep(&ks[nk++], n)) goto nomem;
  for (size_t i = 0; i < nin; i++) {        /* each distinct input once */
    if (in[i]->mark == epoch) continue;
    in[i]->mark = epoch;
    if (!keep(&ks[nk++], in[i])) goto nomem;
    if (tl__is_array(in[i]) && tl__wants_grad(in[i]) && !tl__alloc_grad(ctx, in[i]))
      goto nomem;
    in[i]->flags &= (uint8_t)~TL_F_HAS_GRAD;
  }
  if (tl__is_array(n) && !tl__alloc_grad(ctx, n)) goto nomem;
  if (tl_set_grads(ctx, n, gout) != TL_OK) goto nomem;   /* n's dtype */
  st = tl__backward_sweep(ctx, &n, 1);
  for (size_t i = 0; st == TL_OK && i < nin; i++) {
    if (gin[i] == NULL) continue;
    tl_read_grads(in[i], gin[i]);        /* zeros when it has none */
  }
  goto done;
nomem:
  st = tl_ctx_fail(ctx, TL_ENOMEM, "local_grads: out of memory");
done:
  for (size_t i = nk; i-- > 0;) put_back(&ks[i]);
  free(ks);
  return st;
}

/* }====================================================================== */
