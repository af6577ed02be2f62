/*
** array.c -- array nodes: storage, shape, gradient buffers, accessors.
**
** An array node's value is one malloc'd block, a header with the shape
** followed by the values, so creating one costs one allocation.  Its
** gradient buffer is allocated by the first backward pass that reaches it.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Bytes of an array's value block and of its gradient buffer. */
static size_t value_bytes(size_t size) { return sizeof(tl__array) + size * sizeof(double); }
static size_t grad_bytes(size_t size) { return size * sizeof(double); }

void tl__free_value(tl_ctx *ctx, tl_node *n) {
  if (n->flags & TL_F_ARRAY) {
    size_t size = n->val.arr->size;
    ctx->array_bytes -= value_bytes(size);
    if (n->val.arr->grad != NULL) ctx->array_bytes -= grad_bytes(size);
    free(n->val.arr->grad);
    free(n->val.arr);
    n->flags &= (uint8_t)~TL_F_ARRAY;
  }
}

void tl__free_extras(tl_ctx *ctx, tl_node *n) {
  tl__free_value(ctx, n);
  if (n->label != NULL) free(n->label);   /* most nodes have none: no call */
  if (n->flags & TL_F_MANY) free(n->src.many.v);
}

tl_node *tl__array_node(tl_ctx *ctx, size_t ndim, const size_t *shape) {
  if (ndim == 0 || ndim > TL_MAX_DIMS) {
    tl_ctx_fail(ctx, TL_EARG, "array: 1 to %d dimensions expected, got %zu",
                TL_MAX_DIMS, ndim);
    return NULL;
  }
  size_t size = 1;
  for (size_t d = 0; d < ndim; d++) {
    if (shape[d] == 0) {
      tl_ctx_fail(ctx, TL_EARG, "array: shape[%zu] is 0; dimensions must "
                  "be positive", d);
      return NULL;
    }
    if (size > TL_MAX_ARRAY_SIZE / shape[d]) {
      tl_ctx_fail(ctx, TL_EARG, "array: more than %zu values (TL_MAX_ARRAY_SIZE)",
                  (size_t)TL_MAX_ARRAY_SIZE);
      return NULL;
    }
    size *= shape[d];
  }
  tl__array *arr = malloc(value_bytes(size));
  if (arr == NULL) {
    tl_ctx_fail(ctx, TL_ENOMEM, "out of memory for an array of %zu values", size);
    return NULL;
  }
  arr->size = size;
  arr->ndim = ndim;
  for (size_t d = 0; d < TL_MAX_DIMS; d++) arr->shape[d] = d < ndim ? shape[d] : 1;
  arr->grad = NULL;
  tl_node *n = tl__node_alloc(ctx);
  if (n == NULL) { free(arr); return NULL; }
  n->flags |= TL_F_ARRAY;
  n->val.arr = arr;
  ctx->array_bytes += value_bytes(size);
  ctx->allocated += value_bytes(size);
  return n;
}

tl_node *tl_array(tl_ctx *ctx, size_t ndim, const size_t *shape,
                  const double *data) {
  if (shape == NULL && ndim > 0) {
    tl_ctx_fail(ctx, TL_EARG, "array: shape expected, got NULL");
    return NULL;
  }
  tl_node *n = tl__array_node(ctx, ndim, shape);
  if (n == NULL) return NULL;
  tl__array *arr = n->val.arr;
  if (data != NULL) memcpy(arr->data, data, arr->size * sizeof(double));
  else memset(arr->data, 0, arr->size * sizeof(double));
  return n;
}

int tl__alloc_grad(tl_ctx *ctx, tl_node *n) {
  if (!tl__is_array(n) || n->val.arr->grad != NULL) return 1;
  n->val.arr->grad = malloc(n->val.arr->size * sizeof(double));
  if (n->val.arr->grad == NULL) {
    tl_ctx_fail(ctx, TL_ENOMEM, "out of memory for a gradient of %zu values",
                n->val.arr->size);
    return 0;
  }
  n->flags &= (uint8_t)~TL_F_HAS_GRAD;   /* the new buffer holds garbage */
  ctx->array_bytes += grad_bytes(n->val.arr->size);
  ctx->allocated += grad_bytes(n->val.arr->size);
  return 1;
}

double *tl__grads(tl_node *n) {
  if (!tl__is_array(n)) {
    if (!(n->flags & TL_F_HAS_GRAD)) { n->grad = 0; n->flags |= TL_F_HAS_GRAD; }
    return &n->grad;
  }
  tl__array *arr = n->val.arr;
  if (!(n->flags & TL_F_HAS_GRAD)) {
    memset(arr->grad, 0, arr->size * sizeof(double));
    n->flags |= TL_F_HAS_GRAD;
  }
  return arr->grad;
}

double *tl__grads_once(tl_node *n, int *assign) {
  *assign = !(n->flags & TL_F_HAS_GRAD);
  return tl__grads(n);
}

const char *tl__shape_str(const tl_node *n, char *buf, size_t size) {
  if (!tl__is_array(n)) {
    snprintf(buf, size, "scalar");
    return buf;
  }
  size_t used = 0;
  for (size_t d = 0; d < n->val.arr->ndim && used < size; d++)
    used += (size_t)snprintf(buf + used, size - used, "%s%zu",
                             d ? ", " : "(", n->val.arr->shape[d]);
  if (used < size) snprintf(buf + used, size - used, ")");
  return buf;
}

/* {======================================================================
** Public accessors
** ======================================================================= */

int tl_is_array(const tl_node *n) { return tl__is_array(n); }
size_t tl_ndim(const tl_node *n) { return tl__ndim(n); }
size_t tl_size(const tl_node *n) { return tl__size(n); }

size_t tl_dim(const tl_node *n, size_t i) {
  return i < tl__ndim(n) ? n->val.arr->shape[i] : 0;
}

double *tl_values(tl_node *n) { return tl__vals(n); }

const double *tl_grads(const tl_node *n) {
  if (!(n->flags & TL_F_HAS_GRAD)) return NULL;
  return tl__is_array(n) ? n->val.arr->grad : &n->grad;
}

tl_status tl_set_grads(tl_ctx *ctx, tl_node *n, const double *g) {
  if (!tl__alloc_grad(ctx, n)) return TL_ENOMEM;
  double *dst = tl__is_array(n) ? n->val.arr->grad : &n->grad;
  size_t size = tl__size(n);
  if (g != NULL) memcpy(dst, g, size * sizeof(double));
  else memset(dst, 0, size * sizeof(double));
  n->flags |= TL_F_HAS_GRAD;
  return TL_OK;
}

const char *tl_format_number(char *buf, size_t size, double v, char style,
                             int digits) {
  if (size == 0) return buf;
  if (isnan(v)) snprintf(buf, size, "nan");
  else if (isinf(v)) snprintf(buf, size, v > 0 ? "inf" : "-inf");
  else if (style == 'f') snprintf(buf, size, "%.*f", digits, v);
  else snprintf(buf, size, "%.*g", digits, v);
  return buf;
}

const char *tl_summary(const tl_node *n, char *buf, size_t size) {
  char x[4][32];
  if (!tl__is_array(n)) {
    snprintf(buf, size, "data=%s, grad=%s",
             tl_format_number(x[0], sizeof x[0], n->val.v, 'g', 4),
             tl_format_number(x[1], sizeof x[1], tl_grad(n), 'g', 4));
    return buf;
  }
  const tl__array *arr = n->val.arr;
  double lo = arr->data[0], hi = arr->data[0], sum = 0;
  for (size_t i = 0; i < arr->size; i++) {
    double v = arr->data[i];
    if (v < lo || isnan(v)) lo = v;     /* a nan shows, as in x:max() */
    if (v > hi || isnan(v)) hi = v;
    sum += v;
  }
  char shape[64];
  int used = snprintf(buf, size, "shape=%s, min=%s, mean=%s, max=%s",
                      tl__shape_str(n, shape, sizeof shape),
                      tl_format_number(x[0], sizeof x[0], lo, 'g', 4),
                      tl_format_number(x[1], sizeof x[1], sum / (double)arr->size, 'g', 4),
                      tl_format_number(x[2], sizeof x[2], hi, 'g', 4));
  const double *g = tl_grads(n);
  if (g != NULL && used > 0 && (size_t)used < size) {
    double sq = 0;
    for (size_t i = 0; i < arr->size; i++) sq += g[i] * g[i];
    snprintf(buf + used, size - (size_t)used, ", |grad|=%s",
             tl_format_number(x[3], sizeof x[3], sqrt(sq), 'g', 4));
  }
  return buf;
}

/* }====================================================================== */
