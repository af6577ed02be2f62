/*
** graph.c -- walks of the graph: topological order, backward, zero_grad.
** Every walk is an explicit-stack depth-first search over scratch arrays
** kept in the context, so depth is bounded by memory, not by the C stack.
*/
#include <stdlib.h>

#include "internal.h"

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

/* Depth-first post-order from 'root' into ctx->order.  When 'reset' is
** set, the gradient of every interior node is marked unset on the way, so
** backward needs no extra pass over the graph. */
static tl_node *const *walk(tl_ctx *ctx, tl_node *root, size_t *count,
                            int reset) {
  *count = 0;
  if (root == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "graph walk: node expected, got NULL");
    return NULL;
  }
  uint32_t epoch = tl__next_epoch(ctx);
  size_t norder = 0, depth = 0;
  root->mark = epoch;
  /* stack_cap >= 1 from tl_ctx_new */
  ctx->stack[depth++] = (tl__frame){root, 0, (uint32_t)tl__nin(root)};
  while (depth > 0) {
    tl__frame *f = &ctx->stack[depth - 1];
    tl_node *n = f->node;
    if (f->next < f->nin) {
      tl_node *x = tl__inputs(n)[f->next++];
      if (x->mark == epoch) continue;
      x->mark = epoch;
      if (depth == ctx->stack_cap &&
          !reserve((void **)&ctx->stack, &ctx->stack_cap, depth + 1,
                   sizeof(tl__frame)))
        goto nomem;
      ctx->stack[depth++] = (tl__frame){x, 0, (uint32_t)tl__nin(x)};
    } else {  /* all inputs placed: n follows them */
      if (norder == ctx->order_cap &&
          !reserve((void **)&ctx->order, &ctx->order_cap, norder + 1,
                   sizeof(tl_node *)))
        goto nomem;
      if (reset && n->op != TL_OP_LEAF) n->flags &= (uint8_t)~TL_F_HAS_GRAD;
      ctx->order[norder++] = n;
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
** accumulate across passes. */
tl_status tl_backward(tl_ctx *ctx, tl_node *root) {
  size_t count;
  tl_node *const *order = walk(ctx, root, &count, 1);
  if (order == NULL) return root ? TL_ENOMEM : TL_EARG;
  tl__grad_add(root, 1.0);
  for (size_t i = count; i-- > 0;) tl__op_backward(order[i]);
  return TL_OK;
}

tl_status tl_zero_grad(tl_ctx *ctx, tl_node *root) {
  size_t count;
  tl_node *const *order = tl_topo(ctx, root, &count);
  if (order == NULL) return root ? TL_ENOMEM : TL_EARG;
  for (size_t i = 0; i < count; i++) tl_set_grad(order[i], 0.0);
  return TL_OK;
}
