/*
** node.c -- leaves and the accessors of a node.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

tl_node *tl_leaf(tl_ctx *ctx, double value) {
  tl_node *n = tl__node_alloc(ctx);
  if (n != NULL) n->val.v = value;
  return n;
}

tl_node *tl_detach(tl_ctx *ctx, tl_node *n) {
  if (n == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "detach: node expected, got NULL");
    return NULL;
  }
  if (tl__is_array(n)) {
    tl_node *c = tl__array_node_t(ctx, tl__dtype(n), n->val.arr->ndim,
                                  n->val.arr->shape);
    if (c != NULL)
      memcpy(c->val.arr->data, n->val.arr->data,
             tl__size(n) * tl__esize(tl__dtype(n)));
    return c;
  }
  return tl_leaf(ctx, n->val.v);
}

double tl_data(const tl_node *n) { return tl__is_array(n) ? NAN : n->val.v; }
void tl_set_data(tl_node *n, double v) { if (!tl__is_array(n)) n->val.v = v; }

int tl_requires_grad(const tl_node *n) { return tl__wants_grad(n); }

tl_status tl_set_requires_grad(tl_ctx *ctx, tl_node *n, int flag) {
  if (n == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "requires_grad: node expected, got NULL");
  if (ctx->in_callback)   /* the running sweep allocated gradients by it */
    return tl_ctx_fail(ctx, TL_EARG, "requires_grad: cannot change inside a "
                       "custom op's backward");
  if (tl__nin(n) != 0)
    return tl_ctx_fail(ctx, TL_EARG, "requires_grad: only a leaf's setting "
                       "can change (this is the result of %s)",
                       tl_node_op_name(n));
  if (flag) n->flags &= (uint8_t)~TL_F_NO_GRAD;
  else n->flags = (uint8_t)((n->flags | TL_F_NO_GRAD) & ~TL_F_HAS_GRAD);
  return TL_OK;
}

double tl_grad(const tl_node *n) {
  if (tl__is_array(n)) return NAN;
  return (n->flags & TL_F_HAS_GRAD) ? n->grad : 0.0;
}

void tl_set_grad(tl_node *n, double g) {
  if (tl__is_array(n)) return;
  n->grad = g;
  n->flags |= TL_F_HAS_GRAD;
}

tl_op tl_op_of(const tl_node *n) { return (tl_op)n->op; }
double tl_const(const tl_node *n) { return tl__k(n); }
size_t tl_ninputs(const tl_node *n) { return tl__nin(n); }

tl_node *tl_input(const tl_node *n, size_t i) {
  return i < tl__nin(n) ? tl__inputs(n)[i] : NULL;
}
