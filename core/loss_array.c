/*
** loss_array.c -- the losses of tl_loss.h over array scores: one node per
** step of the formula instead of several per sample, for batched training.
** Made of existing array ops, so each is checked by their gradient tests.
*/
#include <stdlib.h>

#include "internal.h"
#include "tl_loss.h"

/* Replaces *h by r (made from it), dropping the old reference; 0 when r is
** NULL (the op that failed left its message). */
static int then(tl_ctx *ctx, tl_node **h, tl_node *r) {
  tl_release(ctx, *h);
  *h = r;
  return r != NULL;
}

/* The targets as a constant array of the scores' shape, after checking
** that the scores are a vector of n values or an (n x 1) column. */
static tl_node *targets_like(tl_ctx *ctx, const char *fn, tl_node *s,
                             size_t n, const double *y) {
  char shape[64];
  if (s == NULL || y == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "%s: scores and targets expected", fn);
    return NULL;
  }
  size_t nd = tl_ndim(s);
  if (!((nd == 1 || (nd == 2 && tl_dim(s, 1) == 1)) && tl_dim(s, 0) == n)) {
    tl_ctx_fail(ctx, TL_EARG, "%s: scores of shape %s for %zu targets; (%zu) "
                "or (%zu, 1) expected", fn, tl__shape_str(s, shape, sizeof shape),
                n, n, n);
    return NULL;
  }
  size_t dims[2] = {tl_dim(s, 0), nd == 2 ? 1 : 0};
  return tl_array(ctx, nd, dims, y);
}

/* mean over everything of the node in *h, which is released */
static tl_node *mean(tl_ctx *ctx, tl_node *h) {
  tl_node *r = h ? tl_reduce(ctx, TL_OP_REDUCE_MEAN, h, -1) : NULL;
  tl_release(ctx, h);
  return r;
}

tl_node *tl_loss_mse_array(tl_ctx *ctx, tl_node *s, size_t n, const double *y) {
  tl_node *t = targets_like(ctx, "mse", s, n, y);
  if (t == NULL) return NULL;
  tl_node *d = tl_sub(ctx, s, t);
  tl_release(ctx, t);
  if (d == NULL || !then(ctx, &d, tl_with_const(ctx, TL_OP_POW_K, d, 2))) return NULL;
  return mean(ctx, d);
}

tl_node *tl_loss_hinge_array(tl_ctx *ctx, tl_node *s, size_t n, const double *y) {
  if (y != NULL && tl_loss_check_targets(ctx, "hinge", TL_TARGETS_SIGN, n, y) != TL_OK)
    return NULL;
  tl_node *t = targets_like(ctx, "hinge", s, n, y);
  if (t == NULL) return NULL;
  tl_node *h = tl_mul(ctx, s, t);
  tl_release(ctx, t);
  if (h == NULL || !then(ctx, &h, tl_with_const(ctx, TL_OP_RSUB_K, h, 1.0)) ||
      !then(ctx, &h, tl_unary(ctx, TL_OP_RELU, h)))
    return NULL;
  return mean(ctx, h);
}

tl_node *tl_loss_bce_logits_array(tl_ctx *ctx, tl_node *s, size_t n,
                                  const double *y) {
  if (y != NULL && tl_loss_check_targets(ctx, "bce", TL_TARGETS_UNIT, n, y) != TL_OK)
    return NULL;
  tl_node *t = targets_like(ctx, "bce", s, n, y);
  if (t == NULL) return NULL;
  tl_node *ys = tl_mul(ctx, s, t);
  tl_release(ctx, t);
  tl_node *sp = ys ? tl_unary(ctx, TL_OP_SOFTPLUS, s) : NULL;
  tl_node *h = sp ? tl_sub(ctx, sp, ys) : NULL;
  tl_release(ctx, ys);
  tl_release(ctx, sp);
  return mean(ctx, h);
}

/* The (n) logits of the target classes, logits[i][cls[i]], picked by
** indexing (a one-hot product would turn a -inf logit of another class
** into -inf * 0 = nan). */
static tl_node *picked_logits(tl_ctx *ctx, tl_node *logits, size_t n, size_t k,
                              const size_t *cls) {
  for (size_t i = 0; i < n; i++)
    if (cls[i] >= k) {
      tl_ctx_fail(ctx, TL_EARG, "cross_entropy: class %zu of sample %zu is "
                  "out of range 1..%zu", cls[i] + 1, i + 1, k);
      return NULL;
    }
  tl_node **pick = calloc(n, sizeof *pick);
  if (pick == NULL) {
    tl_ctx_fail(ctx, TL_ENOMEM, "cross_entropy: out of memory");
    return NULL;
  }
  tl_node *r = NULL;
  size_t i = 0;
  for (; i < n; i++) {
    tl_node *row = tl_index(ctx, logits, i);
    pick[i] = row ? tl_index(ctx, row, cls[i]) : NULL;
    tl_release(ctx, row);
    if (pick[i] == NULL) break;
  }
  if (i == n) r = tl_stack(ctx, n, pick, 1, &n);
  for (size_t j = 0; j < n; j++) tl_release(ctx, pick[j]);
  free(pick);
  return r;
}

/* mean_i(logsumexp(row i) - row i [cls_i]); the row maximum is subtracted
** as a constant (detached) so exp never overflows; it does not change the
** gradient, which is softmax - onehot either way. */
tl_node *tl_loss_cross_entropy_array(tl_ctx *ctx, tl_node *logits,
                                     const size_t *cls) {
  char shape[64];
  if (logits == NULL || cls == NULL || tl_ndim(logits) != 2) {
    tl_ctx_fail(ctx, TL_EARG, "cross_entropy: logits of shape (N, K) expected%s%s",
                logits ? ", got " : "", logits ? tl__shape_str(logits, shape, sizeof shape) : "");
    return NULL;
  }
  size_t n = tl_dim(logits, 0), k = tl_dim(logits, 1);
  tl_node *picked = picked_logits(ctx, logits, n, k, cls);
  if (picked == NULL) return NULL;
  tl_node *m = tl_reduce(ctx, TL_OP_REDUCE_MAX, logits, 1);
  tl_node *mc = m ? tl_detach(ctx, m) : NULL;           /* a constant */
  tl_release(ctx, m);
  tl_node *col = mc ? tl_reshape(ctx, mc, 2, (size_t[]){n, 1}) : NULL;
  tl_node *lse = col ? tl_sub(ctx, logits, col) : NULL;
  tl_release(ctx, col);
  int ok = lse && then(ctx, &lse, tl_unary(ctx, TL_OP_EXP, lse)) &&
           then(ctx, &lse, tl_reduce(ctx, TL_OP_REDUCE_SUM, lse, 1)) &&
           then(ctx, &lse, tl_unary(ctx, TL_OP_LOG, lse)) &&
           then(ctx, &lse, tl_add(ctx, lse, mc)) &&
           then(ctx, &lse, tl_sub(ctx, lse, picked));
  tl_release(ctx, mc);
  tl_release(ctx, picked);
  return ok ? mean(ctx, lse) : NULL;
}
