/*
** ops_extra.c -- min and logsumexp (reductions, reached through
** tl_reduce), softmax and log_softmax, concatenation and slicing, and
** argmax/argmin (tl_ops_extra.h).  Each op: a forward function computing
** the node's value from its inputs' current values into its allocated
** buffer (tl__<op>_fwd), the constructor (allocate, forward, tl__record)
** and the backward rule, side by side.
**
** Float32 arrays are read and written through tl__at and tl__buf_put(): every
** value is computed in double and rounded once.  The op constant k holds
** the axis (0-based, -1 for all values); narrow's holds its start too.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tl_ops_extra.h"

#define A(n) ((n)->in[0])

/* {======================================================================
** Shared steps
** ======================================================================= */

/* The values' buffer of any node (a scalar's is its inline value). */
static void *vals(tl_node *n) {
  return tl__is_array(n) ? (void *)n->val.arr->data : (void *)&n->val.v;
}

/* Checks that 'a' is a node and 'axis' one of its axes (or -1 when
** 'all_ok'); TL_EARG naming 'fn' otherwise. */
static int check_axis(tl_ctx *ctx, const char *fn, const tl_node *a, int axis,
                      int all_ok) {
  if (a == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "%s: node expected, got NULL", fn);
    return 0;
  }
  int nd = (int)tl__ndim(a);
  if (axis >= nd || axis < (all_ok ? -1 : 0)) {
    tl_ctx_fail(ctx, TL_EARG, "%s: axis %d out of range for %d dimensions",
                fn, axis, nd);
    return 0;
  }
  return 1;
}

/* }====================================================================== */

/* {======================================================================
** min and logsumexp: reductions as sum and max (the axis dropped; over
** all values a scalar), made by tl_reduce
** ======================================================================= */

/* Whether x is where min's value 'out' came from (nan the smallest). */
static int is_min_at(double x, double out) {
  return x == out || (isnan(out) && isnan(x));
}

void tl__reduce_min_fwd(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *a = A(n);
  tl__span s = tl__span_of(a, (int)n->k);
  void *out = vals(n);
  for (size_t o = 0; o < s.outer; o++)
    for (size_t i = 0; i < s.inner; i++) {
      size_t base = o * s.len * s.inner + i;
      double acc = tl__at(a, base);
      for (size_t j = 1; j < s.len && !isnan(acc); j++) {
        double v = tl__at(a, base + j * s.inner);
        if (v < acc || isnan(v)) acc = v;
      }
      tl__buf_put(n, out, o * s.inner + i, acc, 1);
    }
}

/* logsumexp as torch.logsumexp: m + log(sum(exp(x - m))), m the largest
** value, taken as 0 when it is infinite (all -inf gives -inf, an inf
** gives inf). */
void tl__logsumexp_fwd(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *a = A(n);
  tl__span s = tl__span_of(a, (int)n->k);
  void *out = vals(n);
  for (size_t o = 0; o < s.outer; o++)
    for (size_t i = 0; i < s.inner; i++) {
      size_t base = o * s.len * s.inner + i;
      double m = -INFINITY, sum = 0;
      for (size_t j = 0; j < s.len; j++) {
        double v = tl__at(a, base + j * s.inner);
        if (v > m || isnan(v)) m = v;
      }
      if (isinf(m)) m = 0;
      for (size_t j = 0; j < s.len; j++) sum += exp(tl__at(a, base + j * s.inner) - m);
      tl__buf_put(n, out, o * s.inner + i, m + log(sum), 1);
    }
}

tl_node *tl__reduce_extra(tl_ctx *ctx, tl_op op, tl_node *a, int axis) {
  const char *fn = tl_op_name(op);
  if (!check_axis(ctx, fn, a, axis, 1)) return NULL;
  size_t shape[TL_MAX_DIMS], ndim = 0, nd = tl__ndim(a);
  for (size_t d = 0; axis >= 0 && d < nd; d++)
    if ((int)d != axis) shape[ndim++] = a->val.arr->shape[d];
  tl_node *n = ndim == 0 ? tl__node_alloc(ctx)
             : tl__array_node_t(ctx, tl__dtype(a), ndim, shape);
  if (n == NULL) return NULL;
  return tl__compute(ctx, n, op, axis, 1, &a);
}

/* min as max (core/array_ops.c): over everything the gradient is split
** evenly among the positions holding the minimum (torch.min(x)); along an
** axis it goes to the first of them (torch.min(x, dim)'s index). */
void tl__reduce_min_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *a = A(n);
  if (!tl__wants_grad(a)) return;
  const void *g = tl__grads_any(n);
  int set;
  void *ga = tl__grads_once_any(a, &set);
  if (n->k < 0) {
    size_t ties = 0, len = tl__size(a);
    double out = tl__at(n, 0);
    for (size_t j = 0; j < len; j++) ties += (size_t)is_min_at(tl__at(a, j), out);
    double share = tl__buf_get(n, g, 0) / (double)ties;
    for (size_t j = 0; j < len; j++)
      if (is_min_at(tl__at(a, j), out)) tl__buf_put(a, ga, j, share, set);
    return;
  }
  tl__span s = tl__span_of(a, (int)n->k);
  for (size_t o = 0; o < s.outer; o++)
    for (size_t i = 0; i < s.inner; i++) {
      size_t base = o * s.len * s.inner + i, at = o * s.inner + i;
      for (size_t j = 0; j < s.len; j++)
        if (is_min_at(tl__at(a, base + j * s.inner), tl__at(n, at))) {
          tl__buf_put(a, ga, base + j * s.inner, tl__buf_get(n, g, at), set);
          break;
        }
    }
}

/* Position j receives g * exp(x_j - out), PyTorch's logsumexp_backward. */
void tl__logsumexp_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *a = A(n);
  if (!tl__wants_grad(a)) return;
  const void *g = tl__grads_any(n);
  int set;
  void *ga = tl__grads_once_any(a, &set);
  tl__span s = tl__span_of(a, (int)n->k);
  for (size_t o = 0; o < s.outer; o++)
    for (size_t i = 0; i < s.inner; i++) {
      size_t base = o * s.len * s.inner + i, at = o * s.inner + i;
      double gi = tl__buf_get(n, g, at), out = tl__at(n, at);
      for (size_t j = 0; j < s.len; j++) {
        size_t p = base + j * s.inner;
        tl__buf_put(a, ga, p, gi * exp(tl__at(a, p) - out), set);
      }
    }
}

/* }====================================================================== */

/* {======================================================================
** softmax and log_softmax along an axis (the shape kept)
** ======================================================================= */

/* Both forwards: per line along the axis, m the largest value, then
** exp(x - m) / sum or (x - m) - log(sum), as PyTorch's CPU kernels. */
static void softmax_fwd(tl_node *n, int log_form) {
  tl_node *a = A(n);
  tl__span s = tl__span_of(a, (int)n->k);
  void *out = vals(n);
  for (size_t o = 0; o < s.outer; o++)
    for (size_t i = 0; i < s.inner; i++) {
      size_t base = o * s.len * s.inner + i;
      double m = -INFINITY, sum = 0;
      for (size_t j = 0; j < s.len; j++) {
        double v = tl__at(a, base + j * s.inner);
        if (v > m || isnan(v)) m = v;
      }
      for (size_t j = 0; j < s.len; j++) sum += exp(tl__at(a, base + j * s.inner) - m);
      double lsum = log(sum);
      for (size_t j = 0; j < s.len; j++) {
        size_t p = base + j * s.inner;
        double d = tl__at(a, p) - m;
        tl__buf_put(n, out, p, log_form ? d - lsum : exp(d) / sum, 1);
      }
    }
}

void tl__softmax_fwd(tl_ctx *ctx, tl_node *n) { (void)ctx; softmax_fwd(n, 0); }
void tl__log_softmax_fwd(tl_ctx *ctx, tl_node *n) { (void)ctx; softmax_fwd(n, 1); }

static tl_node *softmax_make(tl_ctx *ctx, tl_op op, tl_node *a, int axis) {
  const char *fn = tl_op_name(op);
  if (!check_axis(ctx, fn, a, axis, 1)) return NULL;
  if (!tl__is_array(a)) {
    tl_ctx_fail(ctx, TL_EARG, "%s: an array expected, got a scalar", fn);
    return NULL;
  }
  tl_node *n = tl__array_node_t(ctx, tl__dtype(a), a->val.arr->ndim, a->val.arr->shape);
  if (n == NULL) return NULL;
  return tl__compute(ctx, n, op, axis, 1, &a);
}

tl_node *tl_softmax(tl_ctx *ctx, tl_node *a, int axis) {
  return softmax_make(ctx, TL_OP_SOFTMAX, a, axis);
}
tl_node *tl_log_softmax(tl_ctx *ctx, tl_node *a, int axis) {
  return softmax_make(ctx, TL_OP_LOG_SOFTMAX, a, axis);
}

/* softmax: x_j receives y_j (g_j - sum_k g_k y_k); log_softmax: g_j -
** exp(y_j) sum_k g_k (PyTorch's _softmax_backward_data and
** _log_softmax_backward_data). */
static void softmax_b(tl_node *n, int log_form) {
  tl_node *a = A(n);
  if (!tl__wants_grad(a)) return;
  const void *g = tl__grads_any(n);
  int set;
  void *ga = tl__grads_once_any(a, &set);
  tl__span s = tl__span_of(a, (int)n->k);
  for (size_t o = 0; o < s.outer; o++)
    for (size_t i = 0; i < s.inner; i++) {
      size_t base = o * s.len * s.inner + i;
      double dot = 0;
      for (size_t j = 0; j < s.len; j++) {
        size_t p = base + j * s.inner;
        dot += log_form ? tl__buf_get(n, g, p) : tl__buf_get(n, g, p) * tl__at(n, p);
      }
      for (size_t j = 0; j < s.len; j++) {
        size_t p = base + j * s.inner;
        double y = tl__at(n, p), gj = tl__buf_get(n, g, p);
        tl__buf_put(a, ga, p, log_form ? gj - exp(y) * dot : (gj - dot) * y, set);
      }
    }
}

void tl__softmax_b(tl_ctx *ctx, tl_node *n) { (void)ctx; softmax_b(n, 0); }
void tl__log_softmax_b(tl_ctx *ctx, tl_node *n) { (void)ctx; softmax_b(n, 1); }

/* }====================================================================== */

/* {======================================================================
** cat, stack of arrays, narrow
** ======================================================================= */

/* The result's values: each input's rows of len_i * inner values laid
** side by side within each outer row. */
void tl__cat_fwd(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *const *in = tl__inputs(n);
  size_t count = tl__nin(n), es = tl__esize(tl__dtype(n));
  tl__span s = tl__span_of(n, (int)n->k);
  size_t row = s.len * s.inner * es, off = 0;
  for (size_t c = 0; c < count; c++) {
    size_t part = in[c]->val.arr->shape[(int)n->k] * s.inner * es;
    const char *src = (const char *)in[c]->val.arr->data;
    char *dst = (char *)n->val.arr->data + off;
    for (size_t o = 0; o < s.outer; o++) memcpy(dst + o * row, src + o * part, part);
    off += part;
  }
}

tl_node *tl_cat(tl_ctx *ctx, size_t count, tl_node *const *xs, int axis) {
  char s0[64], s1[64];
  if (xs == NULL || count == 0 || count > ((size_t)1 << 30)) {
    tl_ctx_fail(ctx, TL_EARG, "cat: between 1 and 2^30 arrays expected");
    return NULL;
  }
  for (size_t c = 0; c < count; c++)
    if (xs[c] == NULL || !tl__is_array(xs[c])) {
      tl_ctx_fail(ctx, TL_EARG, "cat: input %zu is not an array", c);
      return NULL;
    }
  if (!check_axis(ctx, "cat", xs[0], axis, 0)) return NULL;
  if (!tl__same_dtype(ctx, "cat", count, xs)) return NULL;
  const tl__array *first = xs[0]->val.arr;
  size_t shape[TL_MAX_DIMS], total = 0;
  memcpy(shape, first->shape, sizeof shape);
  for (size_t c = 0; c < count; c++) {
    const tl__array *x = xs[c]->val.arr;
    int same = x->ndim == first->ndim;
    for (size_t d = 0; same && d < x->ndim; d++)
      same = (int)d == axis || x->shape[d] == first->shape[d];
    if (!same) {
      tl_ctx_fail(ctx, TL_EARG, "cat: input %zu has shape %s, input 0 %s: "
                  "only dimension %d may differ", c,
                  tl__shape_str(xs[c], s1, sizeof s1),
                  tl__shape_str(xs[0], s0, sizeof s0), axis);
      return NULL;
    }
    total += x->shape[axis];
    if (total > TL_MAX_ARRAY_SIZE) break;   /* the node's check says so */
  }
  shape[axis] = total;
  tl_node *n = tl__array_node_t(ctx, tl__dtype(xs[0]), first->ndim, shape);
  if (n == NULL) return NULL;
  /* the forward reads the inputs through the node: lend it the list */
  return tl__compute(ctx, n, TL_OP_CAT, axis, count, xs);
}

/* Input c receives its block of g. */
void tl__cat_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *const *in = tl__inputs(n);
  tl__span s = tl__span_of(n, (int)n->k);
  const void *g = tl__grads_any(n);
  size_t off = 0;
  for (size_t c = 0; c < tl__nin(n); c++) {
    tl_node *x = in[c];
    size_t part = x->val.arr->shape[(int)n->k] * s.inner;
    if (tl__wants_grad(x)) {
      int set;
      void *gx = tl__grads_once_any(x, &set);
      for (size_t o = 0; o < s.outer; o++)
        for (size_t j = 0; j < part; j++)
          tl__buf_put(x, gx, o * part + j, tl__buf_get(n, g, o * s.len * s.inner + off + j), set);
    }
    off += part;
  }
}

tl_node *tl_stack_arrays(tl_ctx *ctx, size_t count, tl_node *const *xs,
                         int axis) {
  char s0[64], s1[64];
  if (xs == NULL || count == 0 || count > ((size_t)1 << 30)) {
    tl_ctx_fail(ctx, TL_EARG, "stack: between 1 and 2^30 arrays expected");
    return NULL;
  }
  for (size_t c = 0; c < count; c++)
    if (xs[c] == NULL || !tl__is_array(xs[c])) {
      tl_ctx_fail(ctx, TL_EARG, "stack: input %zu is not an array", c);
      return NULL;
    }
  const tl__array *first = xs[0]->val.arr;
  if (axis < 0 || (size_t)axis > first->ndim || first->ndim >= TL_MAX_DIMS) {
    tl_ctx_fail(ctx, TL_EARG, "stack: axis %d out of range for %zu dimensions "
                "(at most %d in the result)", axis, first->ndim, TL_MAX_DIMS);
    return NULL;
  }
  for (size_t c = 1; c < count; c++) {
    const tl__array *x = xs[c]->val.arr;
    int same = x->ndim == first->ndim;
    for (size_t d = 0; same && d < x->ndim; d++) same = x->shape[d] == first->shape[d];
    if (!same) {
      tl_ctx_fail(ctx, TL_EARG, "stack: input %zu has shape %s, input 0 %s: "
                  "one shape expected", c, tl__shape_str(xs[c], s1, sizeof s1),
                  tl__shape_str(xs[0], s0, sizeof s0));
      return NULL;
    }
  }
  size_t shape[TL_MAX_DIMS], nd = first->ndim + 1;
  for (size_t d = 0, from = 0; d < nd; d++)
    shape[d] = (int)d == axis ? 1 : first->shape[from++];
  tl_node **parts = malloc(count * sizeof *parts);
  if (parts == NULL) {
    tl_ctx_fail(ctx, TL_ENOMEM, "stack: out of memory");
    return NULL;
  }
  size_t made = 0;
  tl_node *r = NULL;
  for (; made < count; made++)
    if ((parts[made] = tl_reshape(ctx, xs[made], nd, shape)) == NULL) break;
  if (made == count) r = tl_cat(ctx, count, parts, axis);
  while (made > 0) tl_release(ctx, parts[--made]);
  free(parts);
  return r;
}

/* narrow's k: start * TL_MAX_DIMS + axis (both exact in a double). */
static int narrow_axis(const tl_node *n) { return (int)fmod(n->k, TL_MAX_DIMS); }
static size_t narrow_start(const tl_node *n) { return (size_t)(n->k / TL_MAX_DIMS); }

void tl__narrow_fwd(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *a = A(n);
  int axis = narrow_axis(n);
  tl__span s = tl__span_of(a, axis);
  size_t es = tl__esize(tl__dtype(a)), len = n->val.arr->shape[axis];
  size_t part = len * s.inner * es, row = s.len * s.inner * es;
  const char *src = (const char *)a->val.arr->data + narrow_start(n) * s.inner * es;
  char *dst = (char *)n->val.arr->data;
  for (size_t o = 0; o < s.outer; o++) memcpy(dst + o * part, src + o * row, part);
}

tl_node *tl_narrow(tl_ctx *ctx, tl_node *a, int axis, size_t start,
                   size_t length) {
  if (!check_axis(ctx, "narrow", a, axis, 0)) return NULL;
  size_t dim = a->val.arr->shape[axis];
  if (length == 0 || start >= dim || length > dim - start) {
    tl_ctx_fail(ctx, TL_EARG, "narrow: start %zu and length %zu out of range "
                "for dimension %d of size %zu", start, length, axis, dim);
    return NULL;
  }
  size_t shape[TL_MAX_DIMS];
  memcpy(shape, a->val.arr->shape, sizeof shape);
  shape[axis] = length;
  tl_node *n = tl__array_node_t(ctx, tl__dtype(a), a->val.arr->ndim, shape);
  if (n == NULL) return NULL;
  double k = (double)start * TL_MAX_DIMS + axis;
  return tl__compute(ctx, n, TL_OP_NARROW, k, 1, &a);
}

/* The slice's positions receive g; the others nothing. */
void tl__narrow_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *a = A(n);
  if (!tl__wants_grad(a)) return;
  int axis = narrow_axis(n);
  tl__span s = tl__span_of(a, axis);
  size_t part = n->val.arr->shape[axis] * s.inner, row = s.len * s.inner;
  size_t at = narrow_start(n) * s.inner;
  const void *g = tl__grads_any(n);
  int set;
  void *ga = tl__grads_once_any(a, &set);
  for (size_t o = 0; o < s.outer; o++)
    for (size_t j = 0; j < part; j++)
      tl__buf_put(a, ga, o * row + at + j, tl__buf_get(n, g, o * part + j), set);
}

/* }====================================================================== */

/* {======================================================================
** argmax, argmin
** ======================================================================= */

tl_status tl_argext(tl_ctx *ctx, tl_node *a, int axis, int want_min,
                    size_t *out) {
  const char *fn = want_min ? "argmin" : "argmax";
  if (!check_axis(ctx, fn, a, axis, 1)) return TL_EARG;
  if (out == NULL) return tl_ctx_fail(ctx, TL_EARG, "%s: no room for the result", fn);
  tl__span s = tl__span_of(a, axis);
  for (size_t o = 0; o < s.outer; o++)
    for (size_t i = 0; i < s.inner; i++) {
      size_t base = o * s.len * s.inner + i, best = 0;
      double v0 = tl__at(a, base);
      for (size_t j = 1; j < s.len && !isnan(v0); j++) {
        double v = tl__at(a, base + j * s.inner);
        if (isnan(v) || (want_min ? v < v0 : v > v0)) { v0 = v; best = j; }
      }
      out[o * s.inner + i] = best;
    }
  return TL_OK;
}

/* }====================================================================== */
