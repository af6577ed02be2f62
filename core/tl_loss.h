/*
** tl_loss.h -- loss functions over array scores (loss.c; cross-entropy is
** a fused op, nn_ops.c).  Each returns one scalar node (one reference for
** the caller), the mean over the samples.
**
** Scores are borrowed array nodes: a vector of n scores or an (n x 1)
** column (what a one-output model returns for a batch); logits an (n x k)
** array.  A list of scalar score nodes becomes such a vector through one
** stacking node, tl_loss_stack.  Targets are plain numbers (labels are
** data, never differentiated).  Each returns NULL with a message on a bad
** argument (shapes that do not match, a target the loss does not take, a
** class index out of range) or when memory is short.  Positions in
** messages are 0-based.
*/
#ifndef TORCHLET_LOSS_H
#define TORCHLET_LOSS_H

#include "torchlet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The targets each loss takes: refusing the others catches the usual
** label mix-ups (0/1 labels given to hinge, -1/1 labels to bce). */
typedef enum tl_targets {
  TL_TARGETS_ANY,   /* any number (mse) */
  TL_TARGETS_SIGN,  /* -1 or 1 (hinge) */
  TL_TARGETS_UNIT   /* in [0, 1], nan refused (bce) */
} tl_targets;

/* The position of the first of y[0..n) that is not a target of 'kind'
** (and in *want what it must be, "-1 or 1"), or n when all are. */
size_t tl_loss_bad_target(tl_targets kind, size_t n, const double *y,
                          const char **want);
/* TL_OK when every y[0..n) is a target of 'kind', else TL_EARG with a
** message naming the first bad one, 0-based ("target 2 must be -1 or 1,
** got 0"), prefixed by "FN: " unless 'fn' is NULL. */
tl_status tl_loss_check_targets(tl_ctx *ctx, const char *fn, tl_targets kind,
                                size_t n, const double *y);

/* The n scalar nodes s (borrowed) as one vector node: their gradients
** come back to them (tl_stack). */
tl_node *tl_loss_stack(tl_ctx *ctx, size_t n, tl_node *const *s);

/* mean((s_i - y_i)^2). */
tl_node *tl_loss_mse(tl_ctx *ctx, tl_node *s, size_t n, const double *y);
/* mean(relu(1 - y_i*s_i)), labels y_i in {-1, 1}. */
tl_node *tl_loss_hinge(tl_ctx *ctx, tl_node *s, size_t n, const double *y);
/* Binary cross-entropy on logits, mean(log(1 + exp(s_i)) - y_i*s_i), with
** y_i in [0, 1]: PyTorch's BCEWithLogitsLoss.  log(1 + exp(s)) is computed
** as max(s, 0) + log1p(exp(-|s|)), which never overflows. */
tl_node *tl_loss_bce_logits(tl_ctx *ctx, tl_node *s, size_t n,
                            const double *y);
/* Softmax cross-entropy of (n x k) logits: sample i of class cls[i]
** (0-based, < k) costs logsumexp(row i) - logits[i][cls[i]]; the result is
** the mean.  One node, whose backward gives row i (softmax(row i) -
** onehot(cls[i])) / n; the classes are kept with it. */
tl_node *tl_loss_cross_entropy(tl_ctx *ctx, tl_node *logits,
                               const size_t *cls);
/* mean(|s_i - y_i|): PyTorch's L1Loss. */
tl_node *tl_loss_l1(tl_ctx *ctx, tl_node *s, size_t n, const double *y);
/* PyTorch's HuberLoss: with d = |s_i - y_i|, 0.5 d^2 where d < delta,
** else delta (d - 0.5 delta); the mean.  delta > 0 (TL_EARG otherwise). */
tl_node *tl_loss_huber(tl_ctx *ctx, tl_node *s, size_t n, const double *y,
                       double delta);
/* The negative log-likelihood of (n x k) log-probabilities (or a vector of
** k, one sample): -mean(logp[i][cls[i]]), cls[i] 0-based < k; PyTorch's
** NLLLoss.  Made of existing ops (reshape, index, stack, mean). */
tl_node *tl_loss_nll(tl_ctx *ctx, tl_node *logp, const size_t *cls);

#ifdef __cplusplus
}
#endif

#endif
