/*
** loss.c -- mse, hinge, binary and softmax cross-entropy (tl_loss.h), made
** of existing ops so that each is checked by the ops' own gradient tests.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "size.h"
#include "tl_loss.h"

/* {======================================================================
** Shared steps
** ======================================================================= */

static int check_args(tl_ctx *ctx, const char *fn, size_t n,
                      tl_node *const *s, const void *y) {
  if (n == 0 || s == NULL || y == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "%s: at least one sample expected", fn);
    return 0;
  }
  for (size_t i = 0; i < n; i++)
    if (s[i] == NULL) {
      tl_ctx_fail(ctx, TL_EARG, "%s: score %zu is NULL", fn, i + 1);
      return 0;
    }
  return 1;
}

tl_status tl_loss_check_targets(tl_ctx *ctx, const char *fn, tl_targets kind,
                                size_t n, const double *y) {
  for (size_t i = 0; i < n; i++) {
    double v = y[i];
    const char *want = NULL;
    if (kind == TL_TARGETS_SIGN && v != -1 && v != 1) want = "-1 or 1";
    else if (kind == TL_TARGETS_UNIT && !(v >= 0 && v <= 1)) want = "in [0, 1]";
    if (want != NULL) {
      char got[32];   /* printf may spell nan "-nan" */
      if (isnan(v)) snprintf(got, sizeof got, "nan");
      else snprintf(got, sizeof got, "%.17g", v);
      return tl_ctx_fail(ctx, TL_EARG, "%s%starget %zu must be %s, got %s",
                         fn ? fn : "", fn ? ": " : "", i + 1, want, got);
    }
  }
  return TL_OK;
}

static tl_node **alloc_terms(tl_ctx *ctx, const char *fn, size_t n) {
  size_t bytes;
  tl_node **t = tl__size_mul(n, sizeof *t, &bytes) ? malloc(bytes) : NULL;
  if (t == NULL) tl_ctx_fail(ctx, TL_ENOMEM, "%s: out of memory", fn);
  return t;
}

static void release_terms(tl_ctx *ctx, size_t n, tl_node **t) {
  for (size_t i = 0; i < n; i++) tl_release(ctx, t[i]);
  free(t);
}

/* Replaces a node by op(node, k), dropping the reference on the old one;
** NULL stays NULL (the failing op has left its message). */
static tl_node *then_k(tl_ctx *ctx, tl_node *a, tl_op op, double k) {
  if (a == NULL) return NULL;
  tl_node *r = tl_with_const(ctx, op, a, k);
  tl_release(ctx, a);
  return r;
}

/* The mean of the n terms (sum or sum of squares, divided by n as PyTorch
** does); the terms are released. */
static tl_node *mean_of(tl_ctx *ctx, size_t n, tl_node **t, int squares) {
  tl_node *s = squares ? tl_sumsq(ctx, n, t) : tl_sum(ctx, n, t);
  release_terms(ctx, n, t);
  return then_k(ctx, s, TL_OP_DIV_K, (double)n);
}

/* }====================================================================== */

tl_node *tl_loss_mse(tl_ctx *ctx, size_t n, tl_node *const *s,
                     const double *y) {
  if (!check_args(ctx, "mse", n, s, y)) return NULL;
  tl_node **t = alloc_terms(ctx, "mse", n);
  if (t == NULL) return NULL;
  for (size_t i = 0; i < n; i++)
    if ((t[i] = tl_with_const(ctx, TL_OP_SUB_K, s[i], y[i])) == NULL) {
      release_terms(ctx, i, t);
      return NULL;
    }
  return mean_of(ctx, n, t, 1);
}

tl_node *tl_loss_hinge(tl_ctx *ctx, size_t n, tl_node *const *s,
                       const double *y) {
  if (!check_args(ctx, "hinge", n, s, y) ||
      tl_loss_check_targets(ctx, "hinge", TL_TARGETS_SIGN, n, y) != TL_OK)
    return NULL;
  tl_node **t = alloc_terms(ctx, "hinge", n);
  if (t == NULL) return NULL;
  for (size_t i = 0; i < n; i++) {
    tl_node *margin = tl_with_const(ctx, TL_OP_MUL_K, s[i], y[i]);
    margin = then_k(ctx, margin, TL_OP_RSUB_K, 1.0);          /* 1 - y*s */
    t[i] = margin ? tl_unary(ctx, TL_OP_RELU, margin) : NULL;
    tl_release(ctx, margin);
    if (t[i] == NULL) {
      release_terms(ctx, i, t);
      return NULL;
    }
  }
  return mean_of(ctx, n, t, 0);
}

tl_node *tl_loss_bce_logits(tl_ctx *ctx, size_t n, tl_node *const *s,
                            const double *y) {
  if (!check_args(ctx, "bce", n, s, y) ||
      tl_loss_check_targets(ctx, "bce", TL_TARGETS_UNIT, n, y) != TL_OK)
    return NULL;
  tl_node **t = alloc_terms(ctx, "bce", n);
  tl_node *zero = t ? tl_leaf(ctx, 0.0) : NULL;   /* the 0 of logsumexp(0, s) */
  if (zero == NULL) { free(t); return NULL; }
  for (size_t i = 0; i < n; i++) {
    tl_node *pair[2] = {zero, s[i]};
    tl_node *softplus = tl_logsumexp(ctx, 2, pair);
    tl_node *ys = tl_with_const(ctx, TL_OP_MUL_K, s[i], y[i]);
    t[i] = softplus && ys ? tl_sub(ctx, softplus, ys) : NULL;
    tl_release(ctx, softplus);
    tl_release(ctx, ys);
    if (t[i] == NULL) {
      release_terms(ctx, i, t);
      tl_release(ctx, zero);
      return NULL;
    }
  }
  tl_release(ctx, zero);                          /* the terms hold it */
  return mean_of(ctx, n, t, 0);
}

tl_node *tl_loss_cross_entropy(tl_ctx *ctx, size_t n, size_t k,
                               tl_node *const *logits, const size_t *cls) {
  if (k == 0) {
    tl_ctx_fail(ctx, TL_EARG, "cross_entropy: at least one class expected");
    return NULL;
  }
  if (!check_args(ctx, "cross_entropy", n, logits, cls)) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (cls[i] >= k) {
      tl_ctx_fail(ctx, TL_EARG, "cross_entropy: class %zu of sample %zu is "
                  "out of range 1..%zu", cls[i] + 1, i + 1, k);
      return NULL;
    }
    for (size_t j = 0; j < k; j++)
      if (logits[i * k + j] == NULL) {
        tl_ctx_fail(ctx, TL_EARG, "cross_entropy: logit %zu of sample %zu is "
                    "NULL", j + 1, i + 1);
        return NULL;
      }
  }
  tl_node **t = alloc_terms(ctx, "cross_entropy", n);
  if (t == NULL) return NULL;
  for (size_t i = 0; i < n; i++) {
    tl_node *const *row = logits + i * k;
    tl_node *lse = tl_logsumexp(ctx, k, row);
    t[i] = lse ? tl_sub(ctx, lse, row[cls[i]]) : NULL;
    tl_release(ctx, lse);
    if (t[i] == NULL) {
      release_terms(ctx, i, t);
      return NULL;
    }
  }
  return mean_of(ctx, n, t, 0);
}
