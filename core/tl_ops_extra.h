/*
** tl_ops_extra.h -- softmax, log_softmax, logsumexp, min, clamp,
** concatenation, stacking, slicing and argmax/argmin over arrays
** (core/ops_extra.c).  Axes and positions are 0-based here, as everywhere
** in the core; the Lua API counts from 1.
**
** Each constructor returns a new node (one reference for the caller) or
** NULL with the context's error set (TL_EARG naming the function and the
** argument, TL_ENOMEM).  Float32 arrays give float32 results, computed in
** double and rounded once.  Gradients flow through all of them but
** tl_argext, which gives plain indices.
*/
#ifndef TORCHLET_TL_OPS_EXTRA_H
#define TORCHLET_TL_OPS_EXTRA_H

#include "torchlet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* softmax(a) along 'axis' (-1: over all values), computed as
** exp(a - max) / sum(exp(a - max)); the result has a's shape. */
tl_node *tl_softmax(tl_ctx *ctx, tl_node *a, int axis);
/* log_softmax(a) = (a - max) - log(sum(exp(a - max))) along 'axis'. */
tl_node *tl_log_softmax(tl_ctx *ctx, tl_node *a, int axis);

/* The concatenation of count >= 1 arrays along 'axis': the same number of
** dimensions and dtype, the same sizes but along 'axis'. */
tl_node *tl_cat(tl_ctx *ctx, size_t count, tl_node *const *xs, int axis);
/* count >= 1 arrays of one shape stacked along a new axis 'axis' (0 ..
** their ndim): each is reshaped to hold a dimension of 1 there, then the
** reshaped arrays are concatenated (tl_cat). */
tl_node *tl_stack_arrays(tl_ctx *ctx, size_t count, tl_node *const *xs,
                         int axis);
/* Positions start .. start+length-1 of a along 'axis' (length >= 1): the
** other dimensions whole.  Gradients go back to those positions. */
tl_node *tl_narrow(tl_ctx *ctx, tl_node *a, int axis, size_t start,
                   size_t length);

/* The 0-based position of the largest (want_min: smallest) value along
** 'axis' into out[0 .. size of the reduced shape), the first one on ties,
** nan counting as the extreme (torch.argmax, torch.argmin); axis -1: one
** position in the flattened values.  A scalar node counts as one value. */
tl_status tl_argext(tl_ctx *ctx, tl_node *a, int axis, int want_min,
                    size_t *out);

#ifdef __cplusplus
}
#endif

#endif
