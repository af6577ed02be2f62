/*
** loss.c -- mse, hinge, binary and softmax cross-entropy, l1, huber and
** nll (tl_loss.h), each
** written once, over array scores.  A list of scalar scores comes in
** through one stacking node (tl_stack).  mse, hinge and bce are made of
** existing array ops, so each is checked by those ops' gradient tests;
** cross-entropy is one fused op (nn_ops.c).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "tl_loss.h"

size_t tl_loss_bad_target(tl_targets kind, size_t n, const double *y,
                          const char **want) {
  for (size_t i = 0; i < n; i++) {
    double v = y[i];
    *want = NULL;
    if (kind == TL_TARGETS_SIGN && v != -1 && v != 1) *want = "-1 or 1";
    else if (kind == TL_TARGETS_UNIT && !(v >= 0 && v <= 1)) *want = "in [0, 1]";
    if (*want != NULL) return i;
  }
  return n;
}

tl_status tl_loss_check_targets(tl_ctx *ctx, const char *fn, tl_targets kind,
                                size_t n, const double *y) {
  const char *want;
  size_t i = tl_loss_bad_target(kind, n, y, &want);
  if (i == n) return TL_OK;
  char got[32];
  tl_format_number(got, sizeof got, y[i], 'g', 17);
  return tl_ctx_fail(ctx, TL_EARG, "%s%starget %zu must be %s, got %s",
                     fn ? fn : "", fn ? ": " : "", i, want, got);
}

/* {======================================================================
** Shared steps
** ======================================================================= */

/* Replaces *h by r (made from it), dropping the old reference; 0 when r is
** NULL (the op that failed left its message). */
static int then(tl_ctx *ctx, tl_node **h, tl_node *r) {
  tl_release(ctx, *h);
  *h = r;
  return r != NULL;
}

/* The targets as a constant array of the scores' shape, after checking
** that the scores are a vector of n values or an (n x 1) column, and that
** the targets are of 'kind'. */
static tl_node *targets_like(tl_ctx *ctx, const char *fn, tl_node *s,
                             size_t n, const double *y, tl_targets kind) {
  char shape[64];
  if (s == NULL || y == NULL || n == 0) {
    tl_ctx_fail(ctx, TL_EARG, "%s: scores and at least one target expected", fn);
    return NULL;
  }
  size_t nd = tl_ndim(s);
  if (!((nd == 1 || (nd == 2 && tl_dim(s, 1) == 1)) && tl_dim(s, 0) == n)) {
    tl_ctx_fail(ctx, TL_EARG, "%s: scores of shape %s for %zu targets; (%zu) "
                "or (%zu, 1) expected", fn, tl__shape_str(s, shape, sizeof shape),
                n, n, n);
    return NULL;
  }
  if (tl_loss_check_targets(ctx, fn, kind, n, y) != TL_OK) return NULL;
  size_t dims[2] = {n, 1};
  return tl_array_of(ctx, tl_dtype_of(s), nd, dims, y);   /* s's dtype */
}

/* The mean over everything of *h, which is released: sum, then / n. */
static tl_node *mean(tl_ctx *ctx, tl_node *h) {
  tl_node *r = h ? tl_reduce(ctx, TL_OP_REDUCE_MEAN, h, -1) : NULL;
  tl_release(ctx, h);
  return r;
}

/* }====================================================================== */

tl_node *tl_loss_stack(tl_ctx *ctx, size_t n, tl_node *const *s) {
  return tl_stack(ctx, n, s, 1, &n);
}

/* mean((s - y)^2) */
tl_node *tl_loss_mse(tl_ctx *ctx, tl_node *s, size_t n, const double *y) {
  tl_node *t = targets_like(ctx, "mse", s, n, y, TL_TARGETS_ANY);
  if (t == NULL) return NULL;
  tl_node *d = tl_sub(ctx, s, t);
  tl_release(ctx, t);
  if (d == NULL || !then(ctx, &d, tl_with_const(ctx, TL_OP_POW_K, d, 2))) return NULL;
  return mean(ctx, d);
}

/* mean(relu(1 - y*s)) */
tl_node *tl_loss_hinge(tl_ctx *ctx, tl_node *s, size_t n, const double *y) {
  tl_node *t = targets_like(ctx, "hinge", s, n, y, TL_TARGETS_SIGN);
  if (t == NULL) return NULL;
  tl_node *h = tl_mul(ctx, s, t);
  tl_release(ctx, t);
  if (h == NULL || !then(ctx, &h, tl_with_const(ctx, TL_OP_RSUB_K, h, 1.0)) ||
      !then(ctx, &h, tl_unary(ctx, TL_OP_RELU, h)))
    return NULL;
  return mean(ctx, h);
}

/* mean(softplus(s) - y*s): softplus(s) = log(1 + e^s) computed as
** max(s, 0) + log1p(e^-|s|), which never overflows (TL_OP_SOFTPLUS). */
tl_node *tl_loss_bce_logits(tl_ctx *ctx, tl_node *s, size_t n, const double *y) {
  tl_node *t = targets_like(ctx, "bce", s, n, y, TL_TARGETS_UNIT);
  if (t == NULL) return NULL;
  tl_node *ys = tl_mul(ctx, s, t);
  tl_release(ctx, t);
  tl_node *sp = ys ? tl_unary(ctx, TL_OP_SOFTPLUS, s) : NULL;
  tl_node *h = sp ? tl_sub(ctx, sp, ys) : NULL;
  tl_release(ctx, ys);
  tl_release(ctx, sp);
  return mean(ctx, h);
}

/* mean(|s - y|) */
tl_node *tl_loss_l1(tl_ctx *ctx, tl_node *s, size_t n, const double *y) {
  tl_node *t = targets_like(ctx, "l1", s, n, y, TL_TARGETS_ANY);
  if (t == NULL) return NULL;
  tl_node *d = tl_sub(ctx, s, t);
  tl_release(ctx, t);
  if (d == NULL || !then(ctx, &d, tl_unary(ctx, TL_OP_ABS, d))) return NULL;
  return mean(ctx, d);
}

/* With a = |s - y| and q = min(a, delta) (clamp_max): q * (a - 0.5 q) is
** 0.5 a^2 below delta and delta (a - 0.5 delta) above, rounded as
** PyTorch's formulas are; its gradient in a is q + (a - q) [a <= delta]:
** a, then delta, and delta at the bound, as PyTorch's huber_loss_backward. */
tl_node *tl_loss_huber(tl_ctx *ctx, tl_node *s, size_t n, const double *y,
                       double delta) {
  if (!(delta > 0) || isinf(delta)) {
    char got[32];
    tl_ctx_fail(ctx, TL_EARG, "huber: delta must be a positive finite number, "
                "got %s", tl_format_number(got, sizeof got, delta, 'g', 17));
    return NULL;
  }
  tl_node *t = targets_like(ctx, "huber", s, n, y, TL_TARGETS_ANY);
  if (t == NULL) return NULL;
  tl_node *a = tl_sub(ctx, s, t);
  tl_release(ctx, t);
  if (a == NULL || !then(ctx, &a, tl_unary(ctx, TL_OP_ABS, a))) return NULL;
  tl_node *q = tl_with_const(ctx, TL_OP_CLAMP_MAX_K, a, delta);
  tl_node *h = q ? tl_with_const(ctx, TL_OP_MUL_K, q, 0.5) : NULL;
  if (h != NULL && !then(ctx, &h, tl_sub(ctx, a, h))) h = NULL;
  if (h != NULL && !then(ctx, &h, tl_mul(ctx, q, h))) h = NULL;
  tl_release(ctx, q);
  tl_release(ctx, a);
  return h ? mean(ctx, h) : NULL;
}

/* -mean(logp[i][cls[i]]): the picked values through index nodes (of the
** values flattened), gathered by one stack node.  Not a mask product: a
** -inf log-probability elsewhere in a row must not make nan. */
tl_node *tl_loss_nll(tl_ctx *ctx, tl_node *logp, const size_t *cls) {
  char shape[64];
  size_t nd = logp ? tl_ndim(logp) : 0;
  if (logp == NULL || cls == NULL || nd < 1 || nd > 2) {
    tl_ctx_fail(ctx, TL_EARG, "nll: log-probabilities of shape (N, K) or (K) "
                "expected%s%s", logp ? ", got " : "",
                logp ? tl__shape_str(logp, shape, sizeof shape) : "");
    return NULL;
  }
  size_t rows = nd == 2 ? tl_dim(logp, 0) : 1, k = tl_dim(logp, nd - 1);
  for (size_t i = 0; i < rows; i++)
    if (cls[i] >= k) {
      tl_ctx_fail(ctx, TL_EARG, "nll: class %zu of sample %zu is out of range "
                  "0..%zu", cls[i], i, k - 1);
      return NULL;
    }
  size_t total = rows * k;
  tl_node *flat = nd == 1 ? (tl_retain(logp), logp) : tl_reshape(ctx, logp, 1, &total);
  tl_node **picked = flat ? malloc(rows * sizeof *picked) : NULL;
  if (flat != NULL && picked == NULL) tl_ctx_fail(ctx, TL_ENOMEM, "nll: out of memory");
  size_t made = 0;
  tl_node *r = NULL;
  for (; picked != NULL && made < rows; made++)
    if ((picked[made] = tl_index(ctx, flat, made * k + cls[made])) == NULL) break;
  if (picked != NULL && made == rows) {
    r = tl_stack(ctx, rows, picked, 1, &rows);
    r = mean(ctx, r);
    if (r != NULL) then(ctx, &r, tl_unary(ctx, TL_OP_NEG, r));
  }
  while (made > 0) tl_release(ctx, picked[--made]);
  free(picked);
  tl_release(ctx, flat);
  return r;
}
