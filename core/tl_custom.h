/*
** tl_custom.h -- ops defined outside the core (PyTorch's
** torch.autograd.Function), and what checks any op's backward against its
** forward (gradcheck).
**
** A custom op is a forward and a backward given as callbacks with a user
** pointer and its destructor.  tl_custom records ONE node of op
** TL_OP_CUSTOM over its inputs, named by the op's own name (e.op, the
** drawings, e:explain()); backward calls the callback, which may fail: the
** sweep then stops and tl_backward returns its status.  The Lua binding
** (bindings/function.c) runs Lua functions from these callbacks; from C:
**
**     static tl_node *sq_fwd(tl_ctx *ctx, void *ud, size_t nin,
**                            tl_node *const *in) {
**       return tl_mul(ctx, in[0], in[0]);       // no graph: no-grad mode
**     }
**     static tl_status sq_bwd(tl_ctx *ctx, void *ud, tl_node *out,
**                             const double *gout, size_t nin,
**                             tl_node *const *in, double *const *gin) {
**       if (gin[0]) gin[0][0] = gout[0] * 2 * tl_data(in[0]);
**       return TL_OK;
**     }
**     tl_custom_fn sq = {"square", sq_fwd, sq_bwd, NULL, NULL};
**     tl_node *y = tl_custom(ctx, &sq, 1, &x);
*/
#ifndef TORCHLET_TL_CUSTOM_H
#define TORCHLET_TL_CUSTOM_H

#include "torchlet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_custom_fn {
  /* The op's name (copied; at most 63 bytes are kept). */
  const char *name;
  /* The op's value at in[0..nin): a new node of any shape (the core
  ** copies its values and releases it), or NULL after tl_ctx_fail.  Runs
  ** in no-grad mode.  Called by tl_custom, and again by tl_replay. */
  tl_node *(*forward)(tl_ctx *ctx, void *ud, size_t nin, tl_node *const *in);
  /* What each input receives given 'gout', the gradient arriving at the
  ** result 'out' (tl_size(out) values): writes gin[i] (tl_size(in[i])
  ** values, zeroed) for each input with gin[i] not NULL (NULL: the input
  ** needs no gradient).  The core adds them into the inputs.  Returns
  ** TL_OK, or a status after tl_ctx_fail: the backward pass stops there.
  ** While it runs, graph walks (backward, zero_grad, tl_topo, traces,
  ** drawings) and tl_set_requires_grad fail with TL_EARG. */
  tl_status (*backward)(tl_ctx *ctx, void *ud, tl_node *out,
                        const double *gout, size_t nin, tl_node *const *in,
                        double *const *gin);
  /* Called once with 'ud' when the op is done with it: when its node is
  ** freed (tl_release, tl_ctx_free), or before tl_custom returns when it
  ** records no node (an error, no-grad mode, no input needing a
  ** gradient).  It must not call into the context.  NULL: nothing to do. */
  void (*destroy)(void *ud);
  void *ud;
} tl_custom_fn;

/* The node of the custom op 'fn' over in[0..nin) (nin >= 1), its value
** computed by fn->forward; the struct is copied.  Like every op, a leaf in
** no-grad mode or when no input needs a gradient.  NULL on failure (the
** forward's, or TL_EARG, TL_ENOMEM, TL_ENUMERIC); fn->destroy has then
** been called. */
tl_node *tl_custom(tl_ctx *ctx, const tl_custom_fn *fn, size_t nin,
                   tl_node *const *in);

/* {== Checking an op's backward (gradcheck) ============================= */

/* The value of the op of 'n' at its inputs' values as they are now (a
** checker perturbs them in place): a new leaf of n's shape, no graph; a
** custom op runs its forward again.  NULL with the error set (TL_EARG for
** a leaf, TL_ENOMEM, a custom forward's failure). */
tl_node *tl_replay(tl_ctx *ctx, tl_node *n);
/* What the op of 'n' gives each input when 'gout' (tl_size(n) values)
** arrives at n, by the op's own backward rule: gin[i] (tl_size of input
** i; NULL to skip) receives it, zeros for an input that needs no
** gradient.  Every gradient of the graph is left as it was. */
tl_status tl_local_grads(tl_ctx *ctx, tl_node *n, const double *gout,
                         double *const *gin);

/* }====================================================================== */

#ifdef __cplusplus
}
#endif

#endif
