/*
** nn_ops.c -- the three fused ops of models and losses, each constructor
** (value) beside its backward rule:
**
**   neuron row      W[j].x + b[j] for scalar inputs x: one node per neuron,
**                   so a scalar forward pass draws neuron by neuron
**   linear          X W^T + b for an (N x nin) array X: a whole layer
**   cross-entropy   mean_i(logsumexp(row i) - row i [c_i]), backward
**                   softmax - onehot, the classes kept with the node
**
** W is (nout x nin), the layout of torch.nn.Linear.weight; b is (nout).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "size.h"
#include "tl_loss.h"
#include "tl_nn.h"

/* {======================================================================
** Shared steps
** ======================================================================= */

/* A block of 'count' input pointers followed by 'extra' bytes, from
** tl__small_alloc (given to tl__record_block, or freed with
** tl__small_free). */
static tl_node **alloc_inputs(tl_ctx *ctx, const char *fn, size_t count,
                              size_t extra) {
  size_t bytes;
  tl_node **in = NULL;
  if (tl__size_mul(count, sizeof *in, &bytes) &&
      tl__size_add(bytes, extra, &bytes))
    in = tl__small_alloc(ctx, bytes);
  if (in == NULL) tl_ctx_fail(ctx, TL_ENOMEM, "%s: out of memory", fn);
  return in;
}

/* 1 when w is an (nout x nin) matrix and b an (nout) vector. */
static int check_wb(tl_ctx *ctx, const char *fn, const tl_node *w,
                    const tl_node *b) {
  char sw[64], sb[64];
  if (w == NULL || b == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "%s: weight and bias expected, got NULL", fn);
    return 0;
  }
  if (tl__ndim(w) != 2 || tl__ndim(b) != 1 ||
      b->val.arr->shape[0] != w->val.arr->shape[0]) {
    tl_ctx_fail(ctx, TL_EARG, "%s: weight of shape %s and bias of shape %s; "
                "(nout, nin) and (nout) expected", fn,
                tl__shape_str(w, sw, sizeof sw), tl__shape_str(b, sb, sizeof sb));
    return 0;
  }
  return 1;
}

/* }====================================================================== */

/* {======================================================================
** Neuron row: inputs W, b, x[0..nin); k = the row j (0-based)
** ======================================================================= */

tl_node *tl_neuron_row(tl_ctx *ctx, tl_node *w, tl_node *b, size_t row,
                       tl_node *const *x) {
  if (!check_wb(ctx, "neuron", w, b)) return NULL;
  if (tl__dtype(w) != tl__dtype(b) &&            /* the call only to fail */
      !tl__same_dtype(ctx, "neuron", 2, (tl_node *[]){w, b}))
    return NULL;
  size_t nout = w->val.arr->shape[0], nin = w->val.arr->shape[1];
  if (row >= nout) {
    tl_ctx_fail(ctx, TL_EARG, "neuron: row %zu out of range for %zu rows",
                row, nout);
    return NULL;
  }
  if (x == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "neuron: inputs expected, got NULL");
    return NULL;
  }
  for (size_t i = 0; i < nin; i++)
    if (x[i] == NULL || tl__is_array(x[i])) {
      tl_ctx_fail(ctx, TL_EARG, "neuron: input %zu is not a scalar node", i);
      return NULL;
    }
  return tl__neuron_row_checked(ctx, w, b, row, x);
}

tl_node *tl__neuron_row_checked(tl_ctx *ctx, tl_node *w, tl_node *b,
                                size_t row, tl_node *const *x) {
  size_t nin = w->val.arr->shape[1];
  tl_node **in = alloc_inputs(ctx, "neuron", nin + 2, 0);
  if (in == NULL) return NULL;
  in[0] = w;
  in[1] = b;
  for (size_t i = 0; i < nin; i++) in[2 + i] = x[i];
  tl_node *n = tl__node_alloc(ctx);
  if (n == NULL) { tl__small_free(ctx, in); return NULL; }
  return tl__compute_block(ctx, n, TL_OP_NEURON_ROW, (double)row, nin + 2, in);
}

/* The float32 paths are out of line (NOINLINE), so that the float64
** kernels, the ones a scalar training step runs thousands of times, keep
** fewer registers. */

/* The row j kept in k: a whole number below TL_MAX_ARRAY_SIZE, converted
** through a signed type (one instruction; to size_t takes a branch). */
static inline size_t neuron_row(const tl_node *n) {
  return (size_t)(long long)n->k;
}

/* s = b0 + wr[0] X(0) + wr[1] X(1) + ..., added in that order (X(i) the
** value of input i): the one sum of every float64 neuron, node by node
** and layer by layer.  Four products ahead of their adds: the sum is one
** chain of adds (its order is fixed, for the bits), so fewer instructions
** per term let the processor overlap this chain with the next neuron's. */
#define ROW_DOT(s, b0, wr, X, nin) do { \
    size_t i_ = 0; \
    (s) = (b0); \
    for (; i_ + 4 <= (nin); i_ += 4) { \
      double p0 = (wr)[i_] * X(i_), p1 = (wr)[i_ + 1] * X(i_ + 1); \
      double p2 = (wr)[i_ + 2] * X(i_ + 2), p3 = (wr)[i_ + 3] * X(i_ + 3); \
      (s) += p0; \
      (s) += p1; \
      (s) += p2; \
      (s) += p3; \
    } \
    for (; i_ < (nin); i_++) (s) += (wr)[i_] * X(i_); \
  } while (0)

/* b first, then each product: the order of micrograd's sum; a float32
** model's weights are widened (the neuron's value is a float64 scalar) */
void tl__neuron_row_fwd(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *const *in = n->many, *w = in[0], *b = in[1];
  tl_node *const *x = in + 2;
  size_t nin = n->nin - 2, row = neuron_row(n);
  double s;
  if (w->val.arr->dtype == TL_FLOAT32) {         /* W: an array (checked) */
    const float *wr = tl__f32(w) + row * nin;
    s = tl__f32(b)[row];
    for (size_t i = 0; i < nin; i++) s += (double)wr[i] * x[i]->val.v;
  } else {
    const double *wr = w->val.arr->data + row * nin;
#define X_NODE(i) (x[i]->val.v)
    ROW_DOT(s, b->val.arr->data[row], wr, X_NODE, nin);
#undef X_NODE
  }
  n->val.v = s;
}

/* A float64 array's gradient buffer: inline when it holds a value (a
** replay's W and b after the first neuron of a step), else tl__grads. */
static inline double *grads_f64(tl_node *n) {
  return (n->flags & TL_F_HAS_GRAD) ? n->val.arr->grad : tl__grads(n);
}

/* Row j of W's gradient receives x g, b's gradient j receives g, each x
** receives W[j][i] g. */
NOINLINE static void neuron_row_b_f32(tl_node *const *in, size_t nin,
                                      size_t j, double g) {
  const float *wr = tl__f32(in[0]) + j * nin;
  if (tl__wants_grad(in[0])) {
    float *gw = (float *)tl__grads_any(in[0]) + j * nin;
    for (size_t i = 0; i < nin; i++) gw[i] += (float)(in[2 + i]->val.v * g);
  }
  if (tl__wants_grad(in[1])) ((float *)tl__grads_any(in[1]))[j] += (float)g;
  for (size_t i = 0; i < nin; i++) tl__grad_add(in[2 + i], (double)wr[i] * g);
}

void tl__neuron_row_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  tl_node *const *in = n->many;
  size_t nin = n->nin - 2, j = neuron_row(n);
  double g = n->grad;
  if (in[0]->val.arr->dtype == TL_FLOAT32) {     /* W: an array (checked) */
    neuron_row_b_f32(in, nin, j, g);
    return;
  }
  /* one pass over the inputs: each sum below gets its terms in the same
  ** order as in two passes (W's row, then the inputs), so the same bits */
  const double *wr = in[0]->val.arr->data + j * nin;
  tl_node *const *x = in + 2;
  if (tl__wants_grad(in[1])) grads_f64(in[1])[j] += g;
  /* one pass over the inputs for both gradients: each input node is
  ** loaded once (this loop is a third of a replayed scalar step); two
  ** inputs a round, each its own sum, so no sum changes order (an input
  ** given twice still gets its two terms in turn) */
  if (tl__wants_grad(in[0])) {
    double *gw = grads_f64(in[0]) + j * nin;
    size_t i = 0;
#if defined(__GNUC__)
    /* the lanes do the scalar code's multiplies and adds, lane by lane */
    typedef double v2d __attribute__((vector_size(16)));
    v2d gg = {g, g};
    for (; i + 2 <= nin; i += 2) {
      tl_node *x0 = x[i], *x1 = x[i + 1];
      v2d xv = {x0->val.v, x1->val.v}, gv, wv;
      memcpy(&gv, gw + i, sizeof gv);
      memcpy(&wv, wr + i, sizeof wv);
      gv += xv * gg;
      wv *= gg;
      memcpy(gw + i, &gv, sizeof gv);
      tl__grad_add(x0, wv[0]);
      tl__grad_add(x1, wv[1]);
    }
#else
    for (; i + 2 <= nin; i += 2) {
      tl_node *x0 = x[i], *x1 = x[i + 1];
      gw[i] += x0->val.v * g;
      gw[i + 1] += x1->val.v * g;
      tl__grad_add(x0, wr[i] * g);
      tl__grad_add(x1, wr[i + 1] * g);
    }
#endif
    if (i < nin) {
      gw[i] += x[i]->val.v * g;
      tl__grad_add(x[i], wr[i] * g);
    }
  } else {
    for (size_t i = 0; i < nin; i++) tl__grad_add(x[i], wr[i] * g);
  }
}

/* }====================================================================== */

/* {======================================================================
** Neuron layers of a replay (internal.h): the rows of one layer, with
** their activations, fused so that the layer's inputs are read once
** ======================================================================= */

/* Values: each row's sum as tl__neuron_row_fwd makes it, then its
** activation; both gradients marked unset, as the forward sweep does. */
/* Stores row node n's sum s, and its activation's value when the layer
** has activations ('stride' 2). */
static inline void put_row(tl_node *const *at, size_t stride, double s) {
  at[0]->val.v = s;
  at[0]->flags &= (uint8_t)~TL_F_HAS_GRAD;
  if (stride == 2) {
    at[1]->val.v = tl__scalar_unary_value(at[1], s);
    at[1]->flags &= (uint8_t)~TL_F_HAS_GRAD;
  }
}

/* Four rows at a time, their sums interleaved: each is still added term
** by term in ROW_DOT's order, but four independent chains of adds keep
** the processor busy where one chain would wait on each add. */
void tl__neuron_layer_fwd(tl_node *const *nodes, size_t count, size_t stride) {
  tl_node *const *in = nodes[0]->many;
  size_t nin = nodes[0]->nin - 2;
  const double *w = in[0]->val.arr->data, *bias = in[1]->val.arr->data;
  double xv[TL_LAYER_MAX_IN];
  for (size_t i = 0; i < nin; i++) xv[i] = in[2 + i]->val.v;
  size_t j = 0;
  for (; j + 4 * stride <= count; j += 4 * stride) {
    size_t r0 = neuron_row(nodes[j]), r1 = neuron_row(nodes[j + stride]);
    size_t r2 = neuron_row(nodes[j + 2 * stride]), r3 = neuron_row(nodes[j + 3 * stride]);
    const double *w0 = w + r0 * nin, *w1 = w + r1 * nin, *w2 = w + r2 * nin,
                 *w3 = w + r3 * nin;
    double s0 = bias[r0], s1 = bias[r1], s2 = bias[r2], s3 = bias[r3];
    for (size_t i = 0; i < nin; i++) {
      double x = xv[i];
      s0 += w0[i] * x;
      s1 += w1[i] * x;
      s2 += w2[i] * x;
      s3 += w3[i] * x;
    }
    put_row(nodes + j, stride, s0);
    put_row(nodes + j + stride, stride, s1);
    put_row(nodes + j + 2 * stride, stride, s2);
    put_row(nodes + j + 3 * stride, stride, s3);
  }
  for (; j < count; j += stride) {
    size_t row = neuron_row(nodes[j]);
    double s;
#define X_DENSE(i) (xv[i])
    ROW_DOT(s, bias[row], w + row * nin, X_DENSE, nin);
#undef X_DENSE
    put_row(nodes + j, stride, s);
  }
}

/* y[i] += x[i] * g for i < n, each element on its own (a multiply, then
** an add), four lanes at a time where the compiler has vectors (two
** halves on the baseline, one AVX2 vector in tl__neuron_layer_b's AVX2
** clone): GCC's -O2 does not vectorize this loop by itself (it would need
** a check that y and x do not overlap, which its cheapest cost model
** refuses). */
static inline void axpy_lanes(double *restrict y, const double *restrict x,
                              double g, size_t n) {
  size_t i = 0;
#if defined(__GNUC__)
  typedef double v4d __attribute__((vector_size(32)));
  v4d gg = {g, g, g, g};
  for (; i + 4 <= n; i += 4) {
    v4d yv, xv;
    memcpy(&yv, y + i, sizeof yv);
    memcpy(&xv, x + i, sizeof xv);
    yv += xv * gg;
    memcpy(y + i, &yv, sizeof yv);
  }
#endif
  for (; i < n; i++) y[i] += x[i] * g;
}

/* Gradients: the nodes in the backward sweep's order (last row first, its
** activation before it), each row's terms as tl__neuron_row_b adds them.
** The inputs' gradients are summed in a dense array, each starting from
** the input's gradient or, when it has none yet, from -0.0: -0.0 + v is v
** for every v (+0.0 included), so the first term is stored as the sweep
** stores it.  The rows' inputs are distinct, so each input's terms arrive
** in the sweep's order. */
TL_CLONES
void tl__neuron_layer_b(tl_node *const *nodes, size_t count, size_t stride) {
  tl_node *const *in = nodes[0]->many, *const *x = in + 2;
  size_t nin = nodes[0]->nin - 2;
  const double *w = in[0]->val.arr->data;
  double xv[TL_LAYER_MAX_IN], xg[TL_LAYER_MAX_IN];
  double *gw = NULL, *gb = NULL;       /* got at the first row, as there */
  int wgrad = tl__wants_grad(in[0]), bgrad = tl__wants_grad(in[1]), any = 0;
  for (size_t i = 0; i < nin; i++) {
    xv[i] = x[i]->val.v;
    xg[i] = (x[i]->flags & TL_F_HAS_GRAD) ? x[i]->grad : -0.0;
  }
  for (size_t j = count; j > 0; j -= stride) {
    tl_node *n = nodes[j - stride];
    if (!tl__wants_grad(n)) continue;   /* nor then its activation's rule */
    double g = n->grad;
    if (stride == 2 && tl__wants_grad(nodes[j - 1])) {
      /* the activation's rule, as tl__grad_add(n, c) adds it, but the sum
      ** kept in a register for what follows */
      double c = tl__scalar_unary_da(nodes[j - 1]);
      g = (n->flags & TL_F_HAS_GRAD) ? g + c : c;
      n->grad = g;
      n->flags |= TL_F_HAS_GRAD;
    }
    size_t row = neuron_row(n);
    const double *wr = w + row * nin;
    any = 1;
    if (bgrad) {
      if (gb == NULL) gb = grads_f64(in[1]);
      gb[row] += g;
    }
    if (wgrad) {
      if (gw == NULL) gw = grads_f64(in[0]);
      axpy_lanes(gw + row * nin, xv, g, nin);
    }
    axpy_lanes(xg, wr, g, nin);
  }
  if (!any) return;
  for (size_t i = 0; i < nin; i++)
    if (tl__wants_grad(x[i])) {
      x[i]->grad = xg[i];
      x[i]->flags |= TL_F_HAS_GRAD;
    }
}

/* }====================================================================== */

/* {======================================================================
** Linear: inputs X, W, b; X (N x nin) gives (N x nout), X (nin) (nout)
** ======================================================================= */

tl_node *tl_linear(tl_ctx *ctx, tl_node *x, tl_node *w, tl_node *b) {
  if (!check_wb(ctx, "linear", w, b)) return NULL;
  size_t nout = w->val.arr->shape[0], nin = w->val.arr->shape[1];
  size_t nd = x ? tl__ndim(x) : 0;
  if (x == NULL || (nd != 1 && nd != 2) || x->val.arr->shape[nd - 1] != nin) {
    char s[64] = "NULL";
    if (x != NULL) tl__shape_str(x, s, sizeof s);
    tl_ctx_fail(ctx, TL_EARG, "linear: input of shape %s, (N, %zu) or (%zu) "
                "expected", s, nin, nin);
    return NULL;
  }
  tl_node *xwb[3] = {x, w, b};
  if (!tl__same_dtype(ctx, "linear", 3, xwb)) return NULL;
  tl_dtype t = tl__dtype(x);
  size_t rows = nd == 2 ? x->val.arr->shape[0] : 1;
  size_t shape[2] = {rows, nout};
  tl_node **in = alloc_inputs(ctx, "linear", 3, 0);
  if (in == NULL) return NULL;
  tl_node *n = nd == 2 ? tl__array_node_t(ctx, t, 2, shape)
                       : tl__array_node_t(ctx, t, 1, &nout);
  if (n == NULL) { tl__small_free(ctx, in); return NULL; }
  in[0] = x;
  in[1] = w;
  in[2] = b;
  return tl__compute_block(ctx, n, TL_OP_LINEAR, 0, 3, in);
}

/* The bias of a linear op, forward (each row of out gets b added) and
** backward (gb[j] += g[r][j], r ascending: each column's sum in row
** order).  Loops of their own so that gcc vectorizes them (at -O2 its cost
** model leaves loops of unknown length scalar: ew_fast.c says more), and
** the column sums kept in registers, four columns at a time: summed in
** place, each add waited for the store of the row before. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("vect-cost-model=dynamic")
#endif
#define BIAS_LOOPS(T) \
  static void add_bias_##T(T *restrict out, const T *restrict b, size_t rows, \
                           size_t nout) { \
    if (nout == 1) { \
      for (size_t r = 0; r < rows; r++) out[r] += b[0]; \
      return; \
    } \
    for (size_t r = 0; r < rows; r++, out += nout) \
      for (size_t j = 0; j < nout; j++) out[j] += b[j]; \
  } \
  static void sum_rows_##T(T *restrict gb, const T *restrict g, size_t rows, \
                           size_t nout) { \
    size_t j = 0; \
    for (; j + 4 <= nout; j += 4) { \
      T s0 = gb[j], s1 = gb[j + 1], s2 = gb[j + 2], s3 = gb[j + 3]; \
      const T *p = g + j; \
      for (size_t r = 0; r < rows; r++, p += nout) { \
        s0 += p[0]; s1 += p[1]; s2 += p[2]; s3 += p[3]; \
      } \
      gb[j] = s0; gb[j + 1] = s1; gb[j + 2] = s2; gb[j + 3] = s3; \
    } \
    for (; j < nout; j++) { \
      T s = gb[j]; \
      for (size_t r = 0; r < rows; r++) s += g[r * nout + j]; \
      gb[j] = s; \
    } \
  }
BIAS_LOOPS(float)
BIAS_LOOPS(double)
#undef BIAS_LOOPS
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* products first, then the bias: (X W^T) + b, as written by hand */
void tl__linear_fwd(tl_ctx *ctx, tl_node *n) {
  tl_node *const *in = n->many, *x = in[0], *w = in[1], *b = in[2];
  size_t nout = w->val.arr->shape[0], nin = w->val.arr->shape[1];
  size_t rows = tl__size(x) / nin;
  tl_dtype t = tl__dtype(n);
  tl__gemm_t(ctx, t, rows, nin, nout, x->val.arr->data, 0, w->val.arr->data,
             1, n->val.arr->data, 1);
  if (t == TL_FLOAT32) add_bias_float(tl__f32(n), tl__f32(b), rows, nout);
  else add_bias_double(tl__vals(n), tl__vals(b), rows, nout);
}

/* dW += G^T X, db += the column sums of G, dX += G W, each only where a
** gradient is wanted: data X made with requires_grad = false costs no dX,
** the largest matmul of a first layer's backward. */
void tl__linear_b(tl_ctx *ctx, tl_node *n) {
  tl_node *const *in = n->many;
  tl_node *x = in[0], *w = in[1], *b = in[2];
  size_t nout = w->val.arr->shape[0], nin = w->val.arr->shape[1];
  size_t rows = tl__size(x) / nin;
  tl_dtype t = tl__dtype(n);
  const void *g = tl__grads_any(n);
  int set;
  if (tl__wants_grad(w)) {
    void *gw = tl__grads_to_fill_any(w, &set);
    tl__gemm_t(ctx, t, nout, rows, nin, g, 1, x->val.arr->data, 0, gw, set);
  }
  if (tl__wants_grad(b)) {
    if (t == TL_FLOAT32)
      sum_rows_float((float *)tl__grads_any(b), (const float *)g, rows, nout);
    else sum_rows_double(tl__grads(b), (const double *)g, rows, nout);
  }
  if (tl__wants_grad(x)) {
    void *gx = tl__grads_to_fill_any(x, &set);
    tl__gemm_t(ctx, t, rows, nout, nin, g, 0, w->val.arr->data, 0, gx, set);
  }
}

/* }====================================================================== */

/* {======================================================================
** Cross-entropy: input logits (n x k); the input block holds the logits'
** pointer, then the n classes (size_t), then the n row logsumexps
** (double), all freed with the node
** ======================================================================= */

typedef struct ce_block {
  tl_node *in[1];
  size_t cls[];          /* n classes, then n doubles (row logsumexp) */
} ce_block;

static double *ce_lse(ce_block *blk, size_t rows) {
  return (double *)(blk->cls + rows);
}

/* logsumexp of x[0..k), stably; nan if any value is (as torch.logsumexp,
** even beside inf), the max itself when it is infinite. */
/* A float32 row is widened value by value: logsumexp in double, as
** PyTorch's float kernel accumulates in float (less exactly). */
#define ROW_LOGSUMEXP(name, T) \
static double name(const T *x, size_t k) { \
  double m = -INFINITY, s = 0; \
  int has_nan = 0; \
  for (size_t j = 0; j < k; j++) { \
    if ((double)x[j] > m) m = x[j]; \
    has_nan |= isnan((double)x[j]); \
  } \
  if (has_nan) return NAN; \
  if (!isfinite(m)) return m; \
  for (size_t j = 0; j < k; j++) s += exp((double)x[j] - m); \
  return m + log(s); \
}
ROW_LOGSUMEXP(row_logsumexp, double)
ROW_LOGSUMEXP(row_logsumexp_f32, float)
#undef ROW_LOGSUMEXP

tl_node *tl_loss_cross_entropy(tl_ctx *ctx, tl_node *logits,
                               const size_t *cls) {
  char shape[64];
  if (logits == NULL || cls == NULL || tl__ndim(logits) != 2) {
    tl_ctx_fail(ctx, TL_EARG, "cross_entropy: logits of shape (N, K) expected%s%s",
                logits ? ", got " : "",
                logits ? tl__shape_str(logits, shape, sizeof shape) : "");
    return NULL;
  }
  size_t rows = logits->val.arr->shape[0], k = logits->val.arr->shape[1];
  for (size_t i = 0; i < rows; i++)
    if (cls[i] >= k) {
      tl_ctx_fail(ctx, TL_EARG, "cross_entropy: class %zu of sample %zu is "
                  "out of range 0..%zu", cls[i], i, k - 1);
      return NULL;
    }
  size_t extra;   /* rows <= TL_MAX_ARRAY_SIZE: cannot wrap, checked anyway */
  if (!tl__size_mul(rows, sizeof(size_t) + sizeof(double), &extra)) extra = SIZE_MAX;
  ce_block *blk = (ce_block *)alloc_inputs(ctx, "cross_entropy", 1, extra);
  if (blk == NULL) return NULL;
  tl_node *n = tl__node_alloc(ctx);
  if (n == NULL) { tl__small_free(ctx, blk); return NULL; }
  blk->in[0] = logits;
  memcpy(blk->cls, cls, rows * sizeof *cls);
  return tl__compute_block(ctx, n, TL_OP_CROSS_ENTROPY, 0, 1, blk->in);
}

/* The mean over rows of logsumexp(row) - row[class], each row's logsumexp
** kept in the block for backward. */
void tl__cross_entropy_fwd(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  ce_block *blk = (ce_block *)n->many;
  tl_node *logits = blk->in[0];
  size_t rows = logits->val.arr->shape[0], k = logits->val.arr->shape[1];
  double *lse = ce_lse(blk, rows), total = 0;
  for (size_t i = 0; i < rows; i++) {
    size_t c = blk->cls[i];
    if (tl__dtype(logits) == TL_FLOAT32) {
      const float *x = tl__f32(logits) + i * k;
      lse[i] = row_logsumexp_f32(x, k);
      total += lse[i] - (double)x[c];
    } else {
      const double *x = logits->val.arr->data + i * k;
      lse[i] = row_logsumexp(x, k);
      total += lse[i] - x[c];
    }
  }
  n->val.v = total / (double)rows;
}

/* Row i receives (softmax(row i) - onehot(c_i)) g / n. */
void tl__cross_entropy_b(tl_ctx *ctx, tl_node *n) {
  (void)ctx;
  ce_block *blk = (ce_block *)n->many;
  tl_node *a = blk->in[0];
  size_t rows = a->val.arr->shape[0], k = a->val.arr->shape[1];
  if (!tl__wants_grad(a)) return;
  const double *lse = ce_lse(blk, rows);
  double g = n->grad / (double)rows;
  void *ga = tl__grads_any(a);
  int f32 = tl__dtype(a) == TL_FLOAT32;
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < k; j++) {
      double gi = exp(tl__at(a, i * k + j) - lse[i]) * g;
      if (j == blk->cls[i]) gi -= g;
      if (f32) ((float *)ga)[i * k + j] += (float)gi;
      else ((double *)ga)[i * k + j] += gi;
    }
}

/* }====================================================================== */
