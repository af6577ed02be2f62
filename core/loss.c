/*
** loss.c -- mse, hinge, binary and softmax cross-entropy (tl_loss.h), each
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
