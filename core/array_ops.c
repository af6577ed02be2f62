/*
** array_ops.c -- ops that change shape: reductions, matmul, transpose,
** reshape, indexing and stacking; each constructor next to its backward.
** The op constant k holds the axis (-1 for all) or the index, 0-based, and
** so do messages: the bindings check positions first, in their own words.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define A(n) ((n)->src.in[0])
#define B(n) ((n)->src.in[1])

/* A result node with the given shape, or a scalar node when ndim is 0. */
static tl_node *result(tl_ctx *ctx, size_t ndim, const size_t *shape) {
  return ndim == 0 ? tl__node_alloc(ctx) : tl__array_node(ctx, ndim, shape);
}

static int check_node(tl_ctx *ctx, const char *fn, const tl_node *a) {
  if (a != NULL) return 1;
  tl_ctx_fail(ctx, TL_EARG, "%s: node expected, got NULL", fn);
  return 0;
}

/* {======================================================================
** Reductions: sum, mean, max over everything or along one axis
** ======================================================================= */

/* a viewed as [outer, len, inner] around the reduced axis */
typedef struct span { size_t outer, len, inner; } span;

static span span_of(const tl_node *a, int axis) {
  span s = {1, tl__size(a), 1};
  if (axis < 0) return s;
  const size_t *shape = a->val.arr->shape;
  s.len = shape[axis];
  for (int d = 0; d < axis; d++) s.outer *= shape[d];
  for (size_t d = (size_t)axis + 1; d < a->val.arr->ndim; d++) s.inner *= shape[d];
  return s;
}

tl_node *tl_reduce(tl_ctx *ctx, tl_op op, tl_node *a, int axis) {
  if (op != TL_OP_REDUCE_SUM && op != TL_OP_REDUCE_MEAN && op != TL_OP_REDUCE_MAX) {
    tl_ctx_fail(ctx, TL_EARG, "reduce: op %d is not a reduction", (int)op);
    return NULL;
  }
  if (!check_node(ctx, tl_op_name(op), a)) return NULL;
  size_t nd = tl__ndim(a);
  if (axis >= (int)nd || axis < -1) {
    tl_ctx_fail(ctx, TL_EARG, "%s: axis %d out of range for %zu dimensions",
                tl_op_name(op), axis, nd);
    return NULL;
  }
  size_t shape[TL_MAX_DIMS], ndim = 0;
  for (size_t d = 0; axis >= 0 && d < nd; d++)
    if ((int)d != axis) shape[ndim++] = a->val.arr->shape[d];
  tl_node *n = result(ctx, ndim, shape);
  if (n == NULL) return NULL;
  span s = span_of(a, axis);
  const double *x = tl__vals(a);
  double *out = tl__vals(n);
  for (size_t o = 0; o < s.outer; o++)
    for (size_t i = 0; i < s.inner; i++) {
      const double *p = x + o * s.len * s.inner + i;
      double acc = op == TL_OP_REDUCE_MAX ? p[0] : 0;
      for (size_t j = 0; j < s.len; j++) {
        double v = p[j * s.inner];
        if (op == TL_OP_REDUCE_MAX) { if (v > acc || isnan(v)) acc = v; }
        else acc += v;
      }
      out[o * s.inner + i] = op == TL_OP_REDUCE_MEAN ? acc / (double)s.len : acc;
    }
  return tl__record(ctx, n, op, axis, 1, &a);
}

/* Whether x[j] is where max's value 'out' came from: equal to it, or nan
** when the max is nan (nan counts as the largest value). */
static int is_max_at(double x, double out) {
  return x == out || (isnan(out) && isnan(x));
}

/* max follows torch.max: over everything, the gradient is split evenly
** among all positions holding the maximum (torch.max(x)); along an axis it
** goes to the first of them, the index torch.max(x, dim) returns.  Other
** positions receive nothing, so an inf or nan gradient does not reach
** them (PyTorch fills by mask there too). */
void tl__reduce_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *a = A(n);
  if (!tl__wants_grad(a)) return;
  span s = span_of(a, (int)n->k);
  const double *x = tl__vals(a), *out = tl__vals(n), *g = tl__grads(n);
  int set;                              /* each position gets one value */
  double *ga = tl__grads_once(a, &set);
#define GIVE(j, v) (set ? (ga[j] = (v)) : (ga[j] += (v)))
  if (n->op == TL_OP_REDUCE_MAX && n->k < 0) {
    size_t ties = 0, len = tl__size(a);
    for (size_t j = 0; j < len; j++) ties += (size_t)is_max_at(x[j], out[0]);
    double share = g[0] / (double)ties;
    for (size_t j = 0; j < len; j++)
      if (is_max_at(x[j], out[0])) GIVE(j, share);
    return;
  }
  for (size_t o = 0; o < s.outer; o++)
    for (size_t i = 0; i < s.inner; i++) {
      size_t base = o * s.len * s.inner + i, at = o * s.inner + i;
      if (n->op == TL_OP_REDUCE_MAX) {
        for (size_t j = 0; j < s.len; j++)
          if (is_max_at(x[base + j * s.inner], out[at])) {
            GIVE(base + j * s.inner, g[at]);
            break;
          }
      } else {
        double gi = n->op == TL_OP_REDUCE_MEAN ? g[at] / (double)s.len : g[at];
        for (size_t j = 0; j < s.len; j++) GIVE(base + j * s.inner, gi);
      }
    }
#undef GIVE
}

/* }====================================================================== */

/* {======================================================================
** matmul: (n x k) @ (k x m); a vector on the left is a row, on the right a
** column, and that dimension is dropped from the result, as in NumPy.
** ======================================================================= */

typedef struct mm { size_t n, k, m; } mm;

static int mm_dims(tl_ctx *ctx, const tl_node *a, const tl_node *b, mm *d) {
  size_t na = tl__ndim(a), nb = tl__ndim(b);
  char sa[64], sb[64];
  if (na < 1 || na > 2 || nb < 1 || nb > 2) {
    tl_ctx_fail(ctx, TL_EARG, "matmul: shapes %s and %s: vectors or matrices "
                "expected", tl__shape_str(a, sa, sizeof sa),
                tl__shape_str(b, sb, sizeof sb));
    return 0;
  }
  const size_t *x = a->val.arr->shape, *y = b->val.arr->shape;
  d->n = na == 2 ? x[0] : 1;
  d->k = na == 2 ? x[1] : x[0];
  size_t kb = y[0];
  d->m = nb == 2 ? y[1] : 1;
  if (d->k != kb) {
    tl_ctx_fail(ctx, TL_EARG, "matmul: shapes %s and %s do not match "
                "(%zu columns against %zu rows)", tl__shape_str(a, sa, sizeof sa),
                tl__shape_str(b, sb, sizeof sb), d->k, kb);
    return 0;
  }
  return 1;
}

tl_node *tl_matmul(tl_ctx *ctx, tl_node *a, tl_node *b) {
  if (!check_node(ctx, "matmul", a) || !check_node(ctx, "matmul", b)) return NULL;
  mm d = {0, 0, 0};
  if (!mm_dims(ctx, a, b, &d)) return NULL;
  size_t shape[2], ndim = 0;
  if (tl__ndim(a) == 2) shape[ndim++] = d.n;
  if (tl__ndim(b) == 2) shape[ndim++] = d.m;
  tl_node *n = result(ctx, ndim, shape);
  if (n == NULL) return NULL;
  tl__gemm(ctx, d.n, d.k, d.m, tl__vals(a), 0, tl__vals(b), 0, tl__vals(n), 1);
  tl_node *in[2] = {a, b};
  return tl__record(ctx, n, TL_OP_MATMUL, 0, 2, in);
}

/* grads[i][j] (+)= u[i] * v[j]: the outer product PyTorch uses when the
** other operand is a vector (torch.ger), each position one product. */
static void outer_b(tl_node *dst, size_t rows, size_t cols, const double *u,
                    const double *v) {
  if (!tl__wants_grad(dst)) return;
  int set;
  double *c = tl__grads_once(dst, &set);
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < cols; j++)
      c[i * cols + j] = set ? u[i] * v[j] : c[i * cols + j] + u[i] * v[j];
}

/* dA += G B^T and dB += A^T G; where the other operand is a vector these
** are outer products, computed as such (the sign of a zero product then
** survives, as in PyTorch's mv and dot backward). */
void tl__matmul_b(tl_ctx *ctx, tl_node *n) {
  tl_node *a = A(n), *b = B(n);
  mm d = {0, 0, 0};
  mm_dims(NULL, a, b, &d);              /* checked on the way in */
  const double *g = tl__grads(n);
  if (tl__ndim(b) == 1) outer_b(a, d.n, d.k, g, tl__vals(b));
  else if (tl__wants_grad(a)) {
    int set;
    double *ga = tl__grads_to_fill(a, &set);
    tl__gemm(ctx, d.n, d.m, d.k, g, 0, tl__vals(b), 1, ga, set);
  }
  if (tl__ndim(a) == 1) outer_b(b, d.k, d.m, tl__vals(a), g);
  else if (tl__wants_grad(b)) {
    int set;
    double *gb = tl__grads_to_fill(b, &set);
    tl__gemm(ctx, d.k, d.n, d.m, tl__vals(a), 1, g, 0, gb, set);
  }
}

/* }====================================================================== */

/* {======================================================================
** transpose, reshape, index, stack
** ======================================================================= */

tl_node *tl_transpose(tl_ctx *ctx, tl_node *a) {
  if (!check_node(ctx, "transpose", a)) return NULL;
  if (tl__ndim(a) != 2) {
    char s[64];
    tl_ctx_fail(ctx, TL_EARG, "transpose: a matrix expected, got shape %s",
                tl__shape_str(a, s, sizeof s));
    return NULL;
  }
  size_t r = a->val.arr->shape[0], c = a->val.arr->shape[1];
  size_t shape[2] = {c, r};
  tl_node *n = tl__array_node(ctx, 2, shape);
  if (n == NULL) return NULL;
  const double *x = tl__vals(a);
  double *out = tl__vals(n);
  for (size_t i = 0; i < r; i++)
    for (size_t j = 0; j < c; j++) out[j * r + i] = x[i * c + j];
  return tl__record(ctx, n, TL_OP_TRANSPOSE, 0, 1, &a);
}

void tl__transpose_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *a = A(n);
  if (!tl__wants_grad(a)) return;
  size_t r = a->val.arr->shape[0], c = a->val.arr->shape[1];
  const double *g = tl__grads(n);
  int set;
  double *ga = tl__grads_once(a, &set);
  for (size_t i = 0; i < r; i++)
    for (size_t j = 0; j < c; j++)
      ga[i * c + j] = set ? g[j * r + i] : ga[i * c + j] + g[j * r + i];
}

tl_node *tl_reshape(tl_ctx *ctx, tl_node *a, size_t ndim, const size_t *shape) {
  if (!check_node(ctx, "reshape", a)) return NULL;
  size_t size = 1;
  for (size_t d = 0; d < ndim && shape != NULL; d++) size *= shape[d];
  if (shape == NULL || ndim == 0 || size != tl__size(a)) {
    char s[64];
    tl_ctx_fail(ctx, TL_EARG, "reshape: cannot reshape %s (%zu values) into "
                "%zu values", tl__shape_str(a, s, sizeof s), tl__size(a), size);
    return NULL;
  }
  tl_node *n = tl__array_node(ctx, ndim, shape);
  if (n == NULL) return NULL;
  memcpy(tl__vals(n), tl__vals(a), size * sizeof(double));
  return tl__record(ctx, n, TL_OP_RESHAPE, 0, 1, &a);
}

void tl__reshape_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  if (!tl__wants_grad(A(n))) return;
  const double *g = tl__grads(n);
  int set;
  double *ga = tl__grads_once(A(n), &set);
  for (size_t i = 0, size = tl__size(n); i < size; i++)
    ga[i] = set ? g[i] : ga[i] + g[i];
}

tl_node *tl_index(tl_ctx *ctx, tl_node *a, size_t i) {
  if (!check_node(ctx, "index", a)) return NULL;
  if (!tl__is_array(a) || i >= a->val.arr->shape[0]) {
    char s[64];
    tl_ctx_fail(ctx, TL_EARG, "index: %zu out of range for shape %s", i,
                tl__shape_str(a, s, sizeof s));
    return NULL;
  }
  tl__array *arr = a->val.arr;
  size_t inner = arr->size / arr->shape[0];
  tl_node *n = result(ctx, arr->ndim - 1, arr->shape + 1);
  if (n == NULL) return NULL;
  memcpy(tl__vals(n), arr->data + i * inner, inner * sizeof(double));
  return tl__record(ctx, n, TL_OP_INDEX, (double)i, 1, &a);
}

void tl__index_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  if (!tl__wants_grad(A(n))) return;
  size_t inner = tl__size(n);
  const double *g = tl__grads(n);
  int set;
  double *ga = tl__grads_once(A(n), &set) + (size_t)n->k * inner;
  for (size_t j = 0; j < inner; j++) ga[j] = set ? g[j] : ga[j] + g[j];
}

tl_node *tl_stack(tl_ctx *ctx, size_t count, tl_node *const *xs, size_t ndim,
                  const size_t *shape) {
  if (xs == NULL || count == 0 || count > ((size_t)1 << 30)) {
    tl_ctx_fail(ctx, TL_EARG, "stack: between 1 and 2^30 inputs expected");
    return NULL;
  }
  for (size_t i = 0; i < count; i++)
    if (xs[i] == NULL || tl__is_array(xs[i])) {
      tl_ctx_fail(ctx, TL_EARG, "stack: input %zu is not a scalar node", i);
      return NULL;
    }
  tl_node *n = tl__array_node(ctx, ndim, shape);
  if (n == NULL) return NULL;
  if (n->val.arr->size != count) {
    tl_ctx_fail(ctx, TL_EARG, "stack: %zu inputs do not fill a shape of %zu "
                "values", count, n->val.arr->size);
    tl_release(ctx, n);
    return NULL;
  }
  for (size_t i = 0; i < count; i++) n->val.arr->data[i] = xs[i]->val.v;
  return tl__record(ctx, n, TL_OP_STACK, 0, count, xs);
}

void tl__stack_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  const double *g = tl__grads(n);
  for (size_t i = 0; i < n->src.many.n; i++) tl__grad_add(n->src.many.v[i], g[i]);
}

/* }====================================================================== */
