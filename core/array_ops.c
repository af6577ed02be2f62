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

#define A(n) ((n)->in[0])
#define B(n) ((n)->in[1])

/* A result node with the given shape and dtype, or a scalar node (float64)
** when ndim is 0. */
static tl_node *result(tl_ctx *ctx, size_t ndim, const size_t *shape,
                       tl_dtype t) {
  return ndim == 0 ? tl__node_alloc(ctx) : tl__array_node_t(ctx, t, ndim, shape);
}

static int check_node(tl_ctx *ctx, const char *fn, const tl_node *a) {
  if (a != NULL) return 1;
  tl_ctx_fail(ctx, TL_EARG, "%s: node expected, got NULL", fn);
  return 0;
}

/* {======================================================================
** Reductions: sum, mean, max over everything or along one axis
** ======================================================================= */

/* {== Summing loops ======================================================
** A float32 sum along a contiguous run (an axis with nothing after it, or
** everything) accumulates in double in 8 partial sums, value i going to
** sum i mod 8, combined in one fixed order at the end: vector code, and
** the same bits on every machine, though not always the bits of adding
** one value at a time (float64 keeps that order: its sums would change).
** Along an axis with values after it ('inner' > 1) both dtypes sum each
** output position in order but a block of positions at once, which
** vectorizes across positions and changes no bit. */

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("vect-cost-model=dynamic")
#endif

TL_CLONES
static double sum_run_f32(const float *p, size_t n) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) s[l] += (double)p[i + l];
  for (int l = 0; i + (size_t)l < n; l++) s[l] += (double)p[i + (size_t)l];
  return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

/* Positions of a block: the accumulators live on the stack. */
#define TL_RBLOCK 64

/* out[i] for i in [0, 'inner') = the sum (max) of x[j * inner + i] over j
** in [0, len), in order of j; float32 when 'f32' (x and out), 'mean'
** divides by len. */
TL_CLONES
static void reduce_cols(int op, int f32, const void *x, size_t len,
                        size_t inner, void *out) {
  const float *xf = x;
  const double *xd = x;
  for (size_t i0 = 0; i0 < inner; i0 += TL_RBLOCK) {
    size_t w = inner - i0 < TL_RBLOCK ? inner - i0 : TL_RBLOCK;
    double acc[TL_RBLOCK];
    for (size_t i = 0; i < w; i++)
      acc[i] = op != TL_OP_REDUCE_MAX ? 0
               : f32 ? (double)xf[i0 + i] : xd[i0 + i];
    for (size_t j = 0; j < len; j++) {
      size_t at = j * inner + i0;
      if (op == TL_OP_REDUCE_MAX) {
        for (size_t i = 0; i < w; i++) {
          double v = f32 ? (double)xf[at + i] : xd[at + i];
          if (v > acc[i] || isnan(v)) acc[i] = v;
        }
      } else if (f32)
        for (size_t i = 0; i < w; i++) acc[i] += (double)xf[at + i];
      else
        for (size_t i = 0; i < w; i++) acc[i] += xd[at + i];
    }
    for (size_t i = 0; i < w; i++) {
      double v = op == TL_OP_REDUCE_MEAN ? acc[i] / (double)len : acc[i];
      if (f32) ((float *)out)[i0 + i] = (float)v;
      else ((double *)out)[i0 + i] = v;
    }
  }
}
#undef TL_RBLOCK

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* }====================================================================== */

tl_node *tl_reduce(tl_ctx *ctx, tl_op op, tl_node *a, int axis) {
  if (op == TL_OP_REDUCE_MIN || op == TL_OP_LOGSUMEXP)   /* ops_extra.c */
    return tl__reduce_extra(ctx, op, a, axis);
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
  tl_node *n = result(ctx, ndim, shape, tl__dtype(a));
  if (n == NULL) return NULL;
  return tl__compute(ctx, n, op, axis, 1, &a);
}

void tl__reduce_fwd(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *a = A(n);
  tl_op op = (tl_op)n->op;
  tl__span s = tl__span_of(a, (int)n->k);
  int f32 = tl__dtype(a) == TL_FLOAT32;
  size_t es = tl__esize(tl__dtype(a));
  /* along an axis with values after it: a block of positions at once */
  if (s.inner > 1 && tl__is_array(n)) {
    for (size_t o = 0; o < s.outer; o++)
      reduce_cols(op, f32, (const char *)a->val.arr->data +
                  o * s.len * s.inner * es, s.len, s.inner,
                  (char *)n->val.arr->data + o * s.inner * es);
    return;
  }
  /* float32 sums over contiguous runs: 8 partial sums in a fixed order */
  if (f32 && op != TL_OP_REDUCE_MAX) {
    const float *x = tl__f32(a);
    for (size_t o = 0; o < s.outer; o++) {
      double acc = sum_run_f32(x + o * s.len, s.len);
      double v = op == TL_OP_REDUCE_MEAN ? acc / (double)s.len : acc;
      if (!tl__is_array(n)) n->val.v = v;
      else tl__f32(n)[o] = (float)v;
    }
    return;
  }
  /* float32 sums accumulate in double and round once (PyTorch's float
  ** kernels accumulate in float, less exactly) */
#define REDUCE(T, x, out) \
  for (size_t o = 0; o < s.outer; o++) \
    for (size_t i = 0; i < s.inner; i++) { \
      const T *p = (x) + o * s.len * s.inner + i; \
      double acc = op == TL_OP_REDUCE_MAX ? p[0] : 0; \
      for (size_t j = 0; j < s.len; j++) { \
        double v = p[j * s.inner]; \
        if (op == TL_OP_REDUCE_MAX) { if (v > acc || isnan(v)) acc = v; } \
        else acc += v; \
      } \
      (out)[o * s.inner + i] = op == TL_OP_REDUCE_MEAN ? acc / (double)s.len : acc; \
    }
  if (tl__dtype(a) == TL_FLOAT64) REDUCE(double, tl__vals(a), tl__vals(n))
  else if (!tl__is_array(n)) REDUCE(float, tl__f32(a), tl__vals(n))
  else REDUCE(float, tl__f32(a), tl__f32(n))
#undef REDUCE
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
  tl__span s = tl__span_of(a, (int)n->k);
  const void *g = tl__grads_any(n);
  int set;                              /* each position gets one value */
  void *ga = tl__grads_once_any(a, &set);
#define X(j) tl__at(a, j)
#define OUT(j) tl__at(n, j)
#define G(j) tl__buf_get(n, g, j)
#define GIVE(j, v) tl__buf_put(a, ga, j, v, set)
  if (n->op == TL_OP_REDUCE_MAX && n->k < 0) {
    size_t ties = 0, len = tl__size(a);
    for (size_t j = 0; j < len; j++) ties += (size_t)is_max_at(X(j), OUT(0));
    double share = G(0) / (double)ties;
    for (size_t j = 0; j < len; j++)
      if (is_max_at(X(j), OUT(0))) GIVE(j, share);
    return;
  }
  for (size_t o = 0; o < s.outer; o++)
    for (size_t i = 0; i < s.inner; i++) {
      size_t base = o * s.len * s.inner + i, at = o * s.inner + i;
      if (n->op == TL_OP_REDUCE_MAX) {
        for (size_t j = 0; j < s.len; j++)
          if (is_max_at(X(base + j * s.inner), OUT(at))) {
            GIVE(base + j * s.inner, G(at));
            break;
          }
      } else {
        double gi = n->op == TL_OP_REDUCE_MEAN ? G(at) / (double)s.len : G(at);
        for (size_t j = 0; j < s.len; j++) GIVE(base + j * s.inner, gi);
      }
    }
#undef GIVE
#undef G
#undef OUT
#undef X
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
  tl_dtype t = tl__dtype(a);
  if (t != tl__dtype(b)) {
    tl_ctx_fail(ctx, TL_EARG, "matmul: dtypes %s and %s do not mix; convert "
                "one with x:float() or x:double()", tl_dtype_name(t),
                tl_dtype_name(tl__dtype(b)));
    return NULL;
  }
  /* a float32 dot product is a (float64) scalar node */
  tl_node *n = result(ctx, ndim, shape, t);
  if (n == NULL) return NULL;
  tl_node *in[2] = {a, b};
  return tl__compute(ctx, n, TL_OP_MATMUL, 0, 2, in);
}

void tl__matmul_fwd(tl_ctx *ctx, tl_node *n) {
  tl_node *a = A(n), *b = B(n);
  mm d = {0, 0, 0};
  mm_dims(NULL, a, b, &d);              /* checked on the way in */
  if (tl__dtype(a) == TL_FLOAT32 && !tl__is_array(n)) {
    float v;                            /* the dot product, rounded to float */
    tl__gemm_f32(ctx, 1, d.k, 1, tl__f32(a), 0, tl__f32(b), 0, &v, 1);
    n->val.v = v;
  } else if (tl__dtype(a) == TL_FLOAT32)
    tl__gemm_f32(ctx, d.n, d.k, d.m, tl__f32(a), 0, tl__f32(b), 0, tl__f32(n), 1);
  else
    tl__gemm(ctx, d.n, d.k, d.m, tl__vals(a), 0, tl__vals(b), 0, tl__vals(n), 1);
}

/* grads[i][j] (+)= u[i] * v[j]: the outer product PyTorch uses when the
** other operand is a vector (torch.ger), each position one product.  u and
** v are values or gradients of 'nu' and 'nv' (their dtypes). */
static void outer_b(tl_node *dst, size_t rows, size_t cols, tl_node *nu,
                    const void *u, tl_node *nv, const void *v) {
  if (!tl__wants_grad(dst)) return;
  int set;
  void *c = tl__grads_once_any(dst, &set);
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < cols; j++)
      tl__buf_put(dst, c, i * cols + j, tl__buf_get(nu, u, i) * tl__buf_get(nv, v, j), set);
}

/* dA += G B^T and dB += A^T G; where the other operand is a vector these
** are outer products, computed as such (the sign of a zero product then
** survives, as in PyTorch's mv and dot backward).  A float32 dot product's
** result is a (float64) scalar node: its gradient is rounded to float
** first, as it would be in a float32 graph. */
void tl__matmul_b(tl_ctx *ctx, tl_node *n) {
  tl_node *a = A(n), *b = B(n);
  mm d = {0, 0, 0};
  mm_dims(NULL, a, b, &d);              /* checked on the way in */
  int f32 = tl__dtype(a) == TL_FLOAT32;
  float g1;
  const void *g = tl__grads_any(n);
  tl_node *gn = n;                      /* the node whose dtype g has */
  if (f32 && !tl__is_array(n)) { g1 = (float)n->grad; g = &g1; gn = a; }
  if (tl__ndim(b) == 1) outer_b(a, d.n, d.k, gn, g, b, b->val.arr->data);
  else if (tl__wants_grad(a)) {
    int set;
    void *ga = tl__grads_to_fill_any(a, &set);
    if (f32) tl__gemm_f32(ctx, d.n, d.m, d.k, g, 0, tl__f32(b), 1, ga, set);
    else tl__gemm(ctx, d.n, d.m, d.k, g, 0, tl__vals(b), 1, ga, set);
  }
  if (tl__ndim(a) == 1) outer_b(b, d.k, d.m, a, a->val.arr->data, gn, g);
  else if (tl__wants_grad(b)) {
    int set;
    void *gb = tl__grads_to_fill_any(b, &set);
    if (f32) tl__gemm_f32(ctx, d.k, d.n, d.m, tl__f32(a), 1, g, 0, gb, set);
    else tl__gemm(ctx, d.k, d.n, d.m, tl__vals(a), 1, g, 0, gb, set);
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
  tl_node *n = tl__array_node_t(ctx, tl__dtype(a), 2, shape);
  if (n == NULL) return NULL;
  return tl__compute(ctx, n, TL_OP_TRANSPOSE, 0, 1, &a);
}

void tl__transpose_fwd(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *a = A(n);
  size_t r = a->val.arr->shape[0], c = a->val.arr->shape[1];
  if (tl__dtype(a) == TL_FLOAT32) {
    const float *x = tl__f32(a);
    float *out = tl__f32(n);
    for (size_t i = 0; i < r; i++)
      for (size_t j = 0; j < c; j++) out[j * r + i] = x[i * c + j];
  } else {
    const double *x = tl__vals(a);
    double *out = tl__vals(n);
    for (size_t i = 0; i < r; i++)
      for (size_t j = 0; j < c; j++) out[j * r + i] = x[i * c + j];
  }
}

void tl__transpose_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *a = A(n);
  if (!tl__wants_grad(a)) return;
  size_t r = a->val.arr->shape[0], c = a->val.arr->shape[1];
  const void *g = tl__grads_any(n);
  int set;
  void *ga = tl__grads_once_any(a, &set);
  for (size_t i = 0; i < r; i++)
    for (size_t j = 0; j < c; j++) tl__buf_put(a, ga, i * c + j, tl__buf_get(n, g, j * r + i), set);
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
  tl_node *n = tl__array_node_t(ctx, tl__dtype(a), ndim, shape);
  if (n == NULL) return NULL;
  return tl__compute(ctx, n, TL_OP_RESHAPE, 0, 1, &a);
}

void tl__reshape_fwd(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  memcpy(n->val.arr->data, tl__vals(A(n)), tl__size(n) * tl__esize(tl__dtype(n)));
}

/* The gradient passes through value by value, into the input's dtype:
** reshape's (same order, other shape) and to_dtype's backward. */
static void pass_through_b(tl_node *n) {
  if (!tl__wants_grad(A(n))) return;
  const void *g = tl__grads_any(n);
  int set;
  void *ga = tl__grads_once_any(A(n), &set);
  for (size_t i = 0, size = tl__size(n); i < size; i++)
    tl__buf_put(A(n), ga, i, tl__buf_get(n, g, i), set);
}

void tl__reshape_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  pass_through_b(n);
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
  tl_node *n = result(ctx, arr->ndim - 1, arr->shape + 1, tl__dtype(a));
  if (n == NULL) return NULL;
  return tl__compute(ctx, n, TL_OP_INDEX, (double)i, 1, &a);
}

void tl__index_fwd(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl__array *arr = A(n)->val.arr;
  size_t i = (size_t)n->k, inner = arr->size / arr->shape[0];
  if (tl__dtype(A(n)) == TL_FLOAT32 && arr->ndim == 1)
    n->val.v = tl__f32(A(n))[i];        /* an element: a float64 scalar */
  else {
    size_t es = tl__esize(tl__dtype(A(n)));
    memcpy(tl__vals(n), (const char *)arr->data + i * inner * es, inner * es);
  }
}

void tl__index_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  if (!tl__wants_grad(A(n))) return;
  size_t inner = tl__size(n), at = (size_t)n->k * inner;
  const void *g = tl__grads_any(n);
  int set;
  void *ga = tl__grads_once_any(A(n), &set);
  for (size_t j = 0; j < inner; j++) tl__buf_put(A(n), ga, at + j, tl__buf_get(n, g, j), set);
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
  return tl__compute(ctx, n, TL_OP_STACK, 0, count, xs);
}

void tl__stack_fwd(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *const *xs = n->many;
  double *out = n->val.arr->data;
  for (size_t i = 0, count = n->nin; i < count; i++) out[i] = xs[i]->val.v;
}

void tl__stack_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  const double *g = tl__grads(n);
  for (size_t i = 0; i < n->nin; i++) tl__grad_add(n->many[i], g[i]);
}

/* }====================================================================== */

/* {======================================================================
** dtype conversion
** ======================================================================= */

tl_node *tl_to_dtype(tl_ctx *ctx, tl_node *a, tl_dtype t) {
  if (!check_node(ctx, "to", a)) return NULL;
  if ((unsigned)t >= TL_DTYPE_COUNT) {
    tl_ctx_fail(ctx, TL_EARG, "to: unknown dtype %d", (int)t);
    return NULL;
  }
  if (!tl__is_array(a)) {
    tl_ctx_fail(ctx, TL_EARG, "to: an array expected, got a scalar (scalars "
                "are always float64)");
    return NULL;
  }
  tl_node *n = tl__array_node_t(ctx, t, a->val.arr->ndim, a->val.arr->shape);
  if (n == NULL) return NULL;
  return tl__compute(ctx, n, TL_OP_TO_DTYPE, (double)t, 1, &a);
}

void tl__to_dtype_fwd(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *a = A(n);
  tl_dtype t = tl__dtype(n);
  size_t size = tl__size(a);
  if (t == tl__dtype(a)) memcpy(n->val.arr->data, a->val.arr->data, size * tl__esize(t));
  else if (t == TL_FLOAT32) {
    const double *x = tl__vals(a);
    float *out = tl__f32(n);
    for (size_t i = 0; i < size; i++) out[i] = (float)x[i];
  } else {
    const float *x = tl__f32(a);
    double *out = tl__vals(n);
    for (size_t i = 0; i < size; i++) out[i] = x[i];
  }
}

void tl__to_dtype_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  pass_through_b(n);
}

/* }====================================================================== */
