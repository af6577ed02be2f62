/*
** elementwise.c -- elementwise ops over arrays, with NumPy's broadcasting:
** shapes are aligned on the right, and a dimension of 1 (or a missing one)
** stretches to match the other.  A scalar node is an array of no dimension.
*/
#include <stdio.h>

#include "internal.h"

/* The output shape and, per output dimension, the step in each input
** (0 where that input is broadcast). */
typedef struct bcast {
  size_t ndim, size;
  size_t shape[TL_MAX_DIMS];
  size_t sa[TL_MAX_DIMS], sb[TL_MAX_DIMS];
  int plain;   /* both inputs walk in step with the output (no stretching) */
} bcast;

/* Row-major strides of 'n' laid out on 'ndim' right-aligned dimensions;
** missing and size-1 dimensions get stride 0 where 'out' is larger. */
static void strides_for(const tl_node *n, size_t ndim, size_t *st) {
  size_t nd = tl__ndim(n), step = 1;
  for (size_t d = ndim; d-- > 0;) {
    size_t own = d + nd >= ndim ? d + nd - ndim : SIZE_MAX;   /* n's dim */
    size_t len = own == SIZE_MAX ? 1 : n->val.arr->shape[own];
    st[d] = len == 1 ? 0 : step;
    step *= len;
  }
}

/* The dtype of f(a, b): float32 when an array input is; arrays of both
** dtypes do not mix (an error naming both, rather than PyTorch's silent
** promotion to float64, which would hide a model and data left in
** different precisions).  A scalar node, like PyTorch's 0-dimensional
** tensors, takes the array's dtype. */
static int result_dtype(tl_ctx *ctx, const char *name, const tl_node *a,
                        const tl_node *b, tl_dtype *t) {
  tl_dtype ta = tl__dtype(a), tb = b ? tl__dtype(b) : ta;
  if (tl__is_array(a) && b != NULL && tl__is_array(b) && ta != tb) {
    tl_ctx_fail(ctx, TL_EARG, "%s: dtypes %s and %s do not mix; convert one "
                "with x:float() or x:double()", name, tl_dtype_name(ta),
                tl_dtype_name(tb));
    return 0;
  }
  *t = ta == TL_FLOAT32 || tb == TL_FLOAT32 ? TL_FLOAT32 : TL_FLOAT64;
  return 1;
}

static int broadcast(tl_ctx *ctx, const char *name, const tl_node *a,
                     const tl_node *b, bcast *v) {
  size_t na = tl__ndim(a), nb = b ? tl__ndim(b) : 0;
  v->ndim = na > nb ? na : nb;
  v->size = 1;
  for (size_t d = 0; d < v->ndim; d++) {
    size_t da = d + na >= v->ndim ? a->val.arr->shape[d + na - v->ndim] : 1;
    size_t db = b && d + nb >= v->ndim ? b->val.arr->shape[d + nb - v->ndim] : 1;
    if (da != db && da != 1 && db != 1) {
      char sa[64], sb[64];
      tl_ctx_fail(ctx, TL_EARG, "%s: shapes %s and %s do not broadcast", name,
                  tl__shape_str(a, sa, sizeof sa), tl__shape_str(b, sb, sizeof sb));
      return 0;
    }
    v->shape[d] = da > db ? da : db;
    v->size *= v->shape[d];
  }
  strides_for(a, v->ndim, v->sa);
  if (b) strides_for(b, v->ndim, v->sb);
  else for (size_t d = 0; d < v->ndim; d++) v->sb[d] = 0;
  v->plain = tl__size(a) == v->size && (b == NULL || tl__size(b) == v->size ||
                                        tl__size(b) == 1);
  return 1;
}

/* Moves the output index one step, and the input offsets with it. */
static void advance(const bcast *v, size_t *idx, size_t *ia, size_t *ib) {
  for (size_t d = v->ndim; d-- > 0;) {
    *ia += v->sa[d];
    *ib += v->sb[d];
    if (++idx[d] < v->shape[d]) return;
    *ia -= v->sa[d] * v->shape[d];
    *ib -= v->sb[d] * v->shape[d];
    idx[d] = 0;
  }
}

/* {== float32 ============================================================
** The same functions of doubles serve float32: each value is widened, the
** function applied, and the result rounded to float once.  For + - * / and
** sqrt that is exactly float arithmetic (double has more than twice
** float's precision, so rounding twice cannot differ from rounding once);
** for exp, tanh and the rest it is the correctly rounded float of a
** double result, within an ulp of PyTorch's float kernels.  An input
** that is a scalar node stays a double. */

/* Value i of input x: float32 array values or a double (scalar node, k). */
typedef struct src { const void *p; int f32; } src;
static double ld(src s, size_t i) {
  return s.f32 ? (double)((const float *)s.p)[i] : ((const double *)s.p)[i];
}
static src src_of(tl_node *x) {
  src s = {tl__dtype(x) == TL_FLOAT32 ? (void *)tl__f32(x) : (void *)tl__vals(x),
           tl__dtype(x) == TL_FLOAT32};
  return s;
}

static void forward_f32(const bcast *v, double (*f)(double, double), float *out,
                        src x, src y, int y_one) {
  if (v->plain && x.f32 && y.f32 && !y_one) {
    const float *xp = x.p, *yp = y.p;
    for (size_t i = 0; i < v->size; i++) out[i] = (float)f(xp[i], yp[i]);
    return;
  }
  if (v->plain && x.f32 && y_one) {
    const float *xp = x.p;
    double k = ld(y, 0);
    for (size_t i = 0; i < v->size; i++) out[i] = (float)f(xp[i], k);
    return;
  }
  size_t idx[TL_MAX_DIMS] = {0}, ia = 0, ib = 0;
  for (size_t i = 0; i < v->size; i++) {
    out[i] = (float)f(ld(x, ia), ld(y, ib));
    advance(v, idx, &ia, &ib);
  }
}

/* }====================================================================== */

/* {== Typed loops ========================================================
** The plain case (a in step with the output; b too, or a single value) of
** the ops ew_fast.c has loops for goes there: the same bits, vectorized.
** A single b is passed as the double it reads as (a scalar node's value,
** a one-value array's value widened). */

/* Whether input 'x' is an array of the output's dtype 't' and size. */
static int in_step(const tl_node *x, tl_dtype t, const bcast *v) {
  return tl__is_array(x) && tl__dtype(x) == t && tl__size(x) == v->size;
}

/* }====================================================================== */

/* f over a and b (or k) into out, laid out by 'v' (broadcast()); the ops
** ew_fast.c has typed loops for ('op') go there in the plain case. */
static void compute(int op, const bcast *v, double (*f)(double, double),
                    tl_node *a, tl_node *b, double k, tl_node *n) {
  tl_dtype t = tl__dtype(n);
  if (v->plain && tl__ew_fast_has(op, -1, k) && in_step(a, t, v) &&
      (b == NULL || tl__size(b) == 1 || in_step(b, t, v))) {
    int one = b == NULL || tl__size(b) == 1;
    tl__ew_fast_forward(op, t == TL_FLOAT32, v->size, n->val.arr->data,
                        a->val.arr->data, one ? NULL : b->val.arr->data,
                        b == NULL ? k : tl__at(b, 0));
    return;
  }
  if (t == TL_FLOAT32) {
    src y = {&k, 0};
    if (b != NULL) y = src_of(b);
    forward_f32(v, f, tl__f32(n), src_of(a), y, b == NULL || tl__size(b) == 1);
    return;
  }
  double *out = n->val.arr->data, *x = tl__vals(a);
  double *y = b ? tl__vals(b) : &k;
  if (v->plain) {   /* a in step with the output; b too, or a single value */
    if (b == NULL || tl__size(b) == 1)
      for (size_t i = 0; i < v->size; i++) out[i] = f(x[i], *y);
    else
      for (size_t i = 0; i < v->size; i++) out[i] = f(x[i], y[i]);
    return;
  }
  size_t idx[TL_MAX_DIMS] = {0}, ia = 0, ib = 0;
  for (size_t i = 0; i < v->size; i++) {
    out[i] = f(x[ia], y[ib]);
    advance(v, idx, &ia, &ib);
  }
}

tl_node *tl__elementwise(tl_ctx *ctx, int op, double (*f)(double, double),
                         tl_node *a, tl_node *b, double k, const char *name) {
  bcast v;
  tl_dtype t;
  if (!result_dtype(ctx, name, a, b, &t) || !broadcast(ctx, name, a, b, &v))
    return NULL;
  tl_node *n = tl__array_node_t(ctx, t, v.ndim, v.shape);
  if (n == NULL) return NULL;
  compute(op, &v, f, a, b, k, n);
  return n;
}

void tl__elementwise_into(tl_node *n, double (*f)(double, double)) {
  tl_node *a = n->in[0], *b = tl__in_b(n);
  bcast v;
  broadcast(NULL, NULL, a, b, &v);      /* shapes were checked on the way in */
  compute(n->op, &v, f, a, b, tl__k(n), n);
}

/* Where an input's gradient goes: a float32 array's buffer, or doubles
** (a float64 array, a scalar node); stored on its first gradient ('set')
** or added. */
typedef struct dst { void *p; int f32, set; } dst;
static void give(dst d, size_t i, double v) {
  if (d.f32) {
    float *p = d.p;
    p[i] = d.set ? (float)v : p[i] + (float)v;
  } else {
    double *p = d.p;
    p[i] = d.set ? v : p[i] + v;
  }
}

/* An input's destination, or p NULL when it needs no gradient; 'set' when
** it has none yet and gets one value per position (see below): then every
** position is stored, so its buffer is not zeroed first. */
static dst dst_of(tl_node *x, const bcast *v) {
  dst d = {NULL, tl__dtype(x) == TL_FLOAT32, 0};
  if (!tl__wants_grad(x)) return d;
  if (tl__ndim(x) == v->ndim && tl__size(x) == v->size)
    d.p = tl__grads_to_fill_any(x, &d.set);
  else
    d.p = tl__grads_any(x);
  return d;
}

/* The generic float32 backward into ga and gb (p NULL: not wanted or
** done already). */
static void backward_f32(tl_node *n, const bcast *v,
                         double (*da)(double, double, double, double),
                         double (*db)(double, double, double, double),
                         dst ga, dst gb) {
  tl_node *a = n->in[0], *b = tl__in_b(n);
  const float *out = tl__f32(n), *g = tl__grads_any(n);
  src x = src_of(a), y = b ? src_of(b) : (src){&n->k, 0};
  if (ga.p == NULL && gb.p == NULL) return;
  size_t idx[TL_MAX_DIMS] = {0}, ia = 0, ib = 0;
  for (size_t i = 0; i < v->size; i++) {
    double xa = ld(x, ia), yb = ld(y, ib);
    if (ga.p) give(ga, ia, da(xa, yb, out[i], g[i]));
    if (gb.p) give(gb, ib, db(xa, yb, out[i], g[i]));
    advance(v, idx, &ia, &ib);
  }
}

void tl__elementwise_b(tl_node *n,
                       double (*da)(double, double, double, double),
                       double (*db)(double, double, double, double)) {
  tl_node *a = n->in[0], *b = tl__in_b(n);
  bcast v;
  broadcast(NULL, NULL, a, b, &v);      /* shapes were checked on the way in */
  tl_dtype t = tl__dtype(n);
  /* an input of the output's own shape gets one value per position, which
  ** is stored on its first gradient of the pass (see tl__grads_once); a
  ** broadcast one sums its values, from +0 as PyTorch's sum does */
  dst d[2] = {dst_of(a, &v), {NULL, 0, 0}};
  if (b != NULL) d[1] = dst_of(b, &v);  /* b == a: a is marked, so b adds */
  /* the typed loops take each input in step with the output (a single b
  ** is read as a value, but its gradient is a sum: left to the loop below,
  ** which adds in the same order as before) */
  if (v.plain && in_step(a, t, &v)) {
    int one = b == NULL || tl__size(b) == 1;
    const void *y = one ? NULL : b->val.arr->data;
    double k = b == NULL ? n->k : tl__at(b, 0);
    tl_node *in[2] = {a, b};
    for (int s = 0; s < 2; s++)
      if (d[s].p != NULL && tl__ew_fast_has(n->op, s, k) && in_step(in[s], t, &v)) {
        tl__ew_fast_backward(n->op, s, t == TL_FLOAT32, d[s].set, v.size,
                             d[s].p, a->val.arr->data, y, k, n->val.arr->data,
                             tl__grads_any(n));
        d[s].p = NULL;
      }
  }
  if (t == TL_FLOAT32) {
    backward_f32(n, &v, da, db, d[0], d[1]);
    return;
  }
  double *ga = d[0].p, *gb = d[1].p;
  int set_a = d[0].set, set_b = d[1].set;
  if (ga == NULL && gb == NULL) return;
  const double *out = n->val.arr->data, *g = tl__grads(n);
  const double *x = tl__vals(a), *y = b ? tl__vals(b) : &n->k;
  size_t idx[TL_MAX_DIMS] = {0}, ia = 0, ib = 0;
  for (size_t i = 0; i < v.size; i++) {
    if (ga) {
      double ca = da(x[ia], y[ib], out[i], g[i]);
      if (set_a) ga[ia] = ca; else ga[ia] += ca;
    }
    if (gb) {
      double cb = db(x[ia], y[ib], out[i], g[i]);
      if (set_b) gb[ib] = cb; else gb[ib] += cb;
    }
    advance(&v, idx, &ia, &ib);
  }
}
