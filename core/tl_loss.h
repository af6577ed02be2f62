/*
** tl_loss.h -- loss functions that build their graph in C and return one
** node (one reference for the caller), the mean over the samples.
**
** Scores are borrowed nodes; targets are plain numbers (labels are data,
** never differentiated).  Each returns NULL with a message on a bad
** argument (n == 0, NULL node, a target the loss does not take, class
** index out of range) or when memory is short.  Intermediate nodes are
** owned by the result only.
*/
#ifndef TORCHLET_LOSS_H
#define TORCHLET_LOSS_H

#include "torchlet.h"

/* The targets each loss takes: refusing the others catches the usual
** label mix-ups (0/1 labels given to hinge, -1/1 labels to bce). */
typedef enum tl_targets {
  TL_TARGETS_ANY,   /* any number (mse) */
  TL_TARGETS_SIGN,  /* -1 or 1 (hinge) */
  TL_TARGETS_UNIT   /* in [0, 1], nan refused (bce) */
} tl_targets;

/* TL_OK when every y[0..n) is a target of 'kind', else TL_EARG with a
** message naming the first bad one ("target 3 must be -1 or 1, got 0"),
** prefixed by "FN: " unless 'fn' is NULL (bindings add their own). */
tl_status tl_loss_check_targets(tl_ctx *ctx, const char *fn, tl_targets kind,
                                size_t n, const double *y);

/* mean((s_i - y_i)^2): one sub node per sample and one sumsq. */
tl_node *tl_loss_mse(tl_ctx *ctx, size_t n, tl_node *const *s,
                     const double *y);
/* mean(relu(1 - y_i*s_i)), labels y_i in {-1, 1}. */
tl_node *tl_loss_hinge(tl_ctx *ctx, size_t n, tl_node *const *s,
                       const double *y);
/* Binary cross-entropy on logits, mean(log(1 + exp(s_i)) - y_i*s_i), with
** y_i in [0, 1].  log(1 + exp(s)) is logsumexp(0, s), which never
** overflows, as PyTorch's BCEWithLogitsLoss. */
tl_node *tl_loss_bce_logits(tl_ctx *ctx, size_t n, tl_node *const *s,
                            const double *y);
/* Softmax cross-entropy: 'logits' holds n rows of k nodes (row-major);
** sample i of class cls[i] (0-based, < k) costs
** logsumexp(row i) - logits[i][cls[i]]; the result is the mean. */
tl_node *tl_loss_cross_entropy(tl_ctx *ctx, size_t n, size_t k,
                               tl_node *const *logits, const size_t *cls);

/* The same losses over array scores, for batched training: 's' is a vector
** of n scores or an (n x 1) column (what a one-output model returns for a
** batch), 'logits' an (n x k) array.  Same values and gradients as the
** per-sample forms, with a handful of nodes in all. */
tl_node *tl_loss_mse_array(tl_ctx *ctx, tl_node *s, size_t n, const double *y);
tl_node *tl_loss_hinge_array(tl_ctx *ctx, tl_node *s, size_t n, const double *y);
tl_node *tl_loss_bce_logits_array(tl_ctx *ctx, tl_node *s, size_t n,
                                  const double *y);
tl_node *tl_loss_cross_entropy_array(tl_ctx *ctx, tl_node *logits,
                                     const size_t *cls);

#endif
