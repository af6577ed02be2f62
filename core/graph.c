/*
** graph.c -- walks of the graph: topological order, backward, zero_grad.
** Every walk is an explicit-stack depth-first search over scratch arrays
** kept in the context, so depth is bounded by memory, not by the C stack.
*/
#include <stdlib.h>

#include "internal.h"
#include "tl_compile.h"

/* Makes room for 'need' entries in a scratch array; 0 when memory is short. */
static int reserve(void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 1;
  size_t ncap = *cap ? *cap : 256;
  while (ncap < need) ncap *= 2;
  void *p = realloc(*arr, ncap * elem);
  if (p == NULL) return 0;
  *arr = p;
  *cap = ncap;
  return 1;
}

/* Marks 'n' visited in this walk and, for backward, prepares its gradient:
** interior gradients are marked unset (they describe one pass), array
** nodes get a buffer.  Done when a node is first reached, while it is in
** cache, so the walk touches each node once.  A node of a compiled graph's
** tape first gets what the tape holds for it (tape.c). */
static int discover(tl_ctx *ctx, tl_node *n, uint32_t epoch, int reset) {
  n->mark = epoch;
  if (n->flags & TL_F_TAPED) tl__tape_escape(ctx);   /* before reading it */
  if (!reset) return 1;
  if (n->op != TL_OP_LEAF) n->flags &= (uint8_t)~TL_F_HAS_GRAD;
  return !tl__is_array(n) || !tl__wants_grad(n) || tl__alloc_grad(ctx, n);
}

/* Appends 'n' to the walk's order; 0 when memory is short. */
static int append(tl_ctx *ctx, size_t *norder, tl_node *n) {
  if (*norder == ctx->order_cap &&
      !reserve((void **)&ctx->order, &ctx->order_cap, *norder + 1,
               sizeof(tl_node *)))
    return 0;
  ctx->order[(*norder)++] = n;
  return 1;
}

/* Depth-first post-order from 'root' into ctx->order: every node after its
** inputs.  A frame keeps its node's input count so that returning to a
** frame does not touch the node again. */
static tl_node *const *walk(tl_ctx *ctx, tl_node *root, size_t *count,
                            int reset) {
  *count = 0;
  if (root == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "graph walk: node expected, got NULL");
    return NULL;
  }
  if (ctx->in_callback) {     /* the running sweep reads ctx->order */
    tl_ctx_fail(ctx, TL_EARG, "a graph walk (backward, zero_grad, drawing, "
                "explain) cannot run inside a custom op's backward");
    return NULL;
  }
  uint32_t epoch = tl__next_epoch(ctx);
  size_t norder = 0, depth = 0;
  if (!discover(ctx, root, epoch, reset)) return NULL;
  /* stack_cap >= 1 from tl_ctx_new */
  ctx->stack[depth++] = (tl__frame){root, 0, (uint32_t)tl__nin(root)};
  while (depth > 0) {
    tl__frame *f = &ctx->stack[depth - 1];
    /* skip inputs already placed in a tight loop: most edges of a model's
    ** graph lead to nodes reached before (the weights, a layer's inputs
    ** read by every neuron), and going round the outer loop for each
    ** was a sixth of a scalar training step */
    tl_node *const *in = tl__inputs(f->node);
    uint32_t next = f->next, nin = f->nin;
    while (next < nin && in[next]->mark == epoch) next++;
    if (next < nin) {
      tl_node *x = in[next];
      f->next = next + 1;
      if (!discover(ctx, x, epoch, reset)) return NULL;
      size_t xnin = tl__nin(x);
      if (xnin == 0) {  /* a leaf (weights, inputs): placed at once, no frame */
        if (!append(ctx, &norder, x)) goto nomem;
        continue;
      }
      if (depth == ctx->stack_cap &&
          !reserve((void **)&ctx->stack, &ctx->stack_cap, depth + 1,
                   sizeof(tl__frame)))
        goto nomem;
      ctx->stack[depth++] = (tl__frame){x, 0, (uint32_t)xnin};
    } else {  /* all inputs placed: the node follows them */
      if (!append(ctx, &norder, f->node)) goto nomem;
      depth--;
    }
  }
  *count = norder;
  return ctx->order;
nomem:
  tl_ctx_fail(ctx, TL_ENOMEM, "out of memory walking the graph");
  return NULL;
}

tl_node *const *tl_topo(tl_ctx *ctx, tl_node *root, size_t *count) {
  return walk(ctx, root, count, 0);
}

/* Interior gradients describe one pass, so walk() resets them; only leaves
** accumulate across passes.  'seed' is the root's gradient, or NULL for 1
** (scalar roots only). */
static tl_status backward(tl_ctx *ctx, tl_node *root, const double *seed) {
  if (root == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "backward: node expected, got NULL");
  if (seed == NULL && tl__is_array(root)) {
    char s[64];
    return tl_ctx_fail(ctx, TL_EARG, "backward: the root is an array of shape "
                       "%s; pass a gradient of the same shape",
                       tl__shape_str(root, s, sizeof s));
  }
  if (!tl__wants_grad(root))
    return tl_ctx_fail(ctx, TL_EARG, "backward: the root needs no gradient "
                       "(requires_grad is false, on it or on every leaf it "
                       "comes from)");
  if (seed == NULL && ctx->graphs != NULL) {   /* a compiled step's output */
    struct tl_graph *g = tl__graph_of(ctx, root);
    if (g != NULL) return tl_graph_backward(ctx, g);
  }
  size_t count;
  tl_node *const *order = walk(ctx, root, &count, 1);
  if (order == NULL) return ctx->in_callback ? TL_EARG : TL_ENOMEM;
  if (seed == NULL) tl__grad_add(root, 1.0);
  else {
    int assign;
    void *g = tl__grads_once_any(root, &assign);
    for (size_t i = 0, size = tl__size(root); i < size; i++)
      if (tl__dtype(root) == TL_FLOAT32) {
        float *gf = g;
        gf[i] = assign ? (float)seed[i] : gf[i] + (float)seed[i];
      } else {
        double *gd = g;
        gd[i] = assign ? seed[i] : gd[i] + seed[i];
      }
  }
  return tl__backward_sweep(ctx, order, count);
}

tl_status tl_backward(tl_ctx *ctx, tl_node *root) {
  return backward(ctx, root, NULL);
}

tl_status tl_backward_with(tl_ctx *ctx, tl_node *root, const double *grad) {
  if (grad == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "backward: gradient expected, got NULL");
  return backward(ctx, root, grad);
}

/* Marks every gradient absent (PyTorch's set_to_none), as tl_mlp_zero_grad
** and tl_optim_zero_grad do: it reads as 0, and an optimizer skips the
** parameter until a backward pass reaches it again. */
tl_status tl_zero_grad(tl_ctx *ctx, tl_node *root) {
  size_t count;
  tl_node *const *order = tl_topo(ctx, root, &count);
  if (order == NULL) return root && !ctx->in_callback ? TL_ENOMEM : TL_EARG;
  for (size_t i = 0; i < count; i++)
    order[i]->flags &= (uint8_t)~TL_F_HAS_GRAD;
  return TL_OK;
}
