/*
** ops.c -- every op: its value and its local derivative, side by side.
**
** A scalar op's forward is a function of two doubles: the inputs' values,
** or the first input's value and the op constant for _K ops.  Its backward
** adds (+=) the node's gradient times the local derivative into each input,
** so a node used twice receives both contributions.  N-ary ops compute
** their value in their constructor, further down.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

#define A(n)   ((n)->src.in[0])
#define B(n)   ((n)->src.in[1])
#define AV(n)  (A(n)->val.v)
#define BV(n)  (B(n)->val.v)
#define OUT(n) ((n)->val.v)
#define G(n)   ((n)->grad)

/* {======================================================================
** Binary ops: a . b
** ======================================================================= */

static double add_f(double a, double b) { return a + b; }
static void add_b(tl_node *n) { tl__grad_add(A(n), G(n)); tl__grad_add(B(n), G(n)); }

static double sub_f(double a, double b) { return a - b; }
static void sub_b(tl_node *n) { tl__grad_add(A(n), G(n)); tl__grad_add(B(n), -G(n)); }

static double mul_f(double a, double b) { return a * b; }
static void mul_b(tl_node *n) {
  tl__grad_add(A(n), BV(n) * G(n));
  tl__grad_add(B(n), AV(n) * G(n));
}

static double div_f(double a, double b) { return a / b; }
static void div_b(tl_node *n) {
  tl__grad_add(A(n), G(n) / BV(n));
  tl__grad_add(B(n), -OUT(n) / BV(n) * G(n));   /* d(a/b)/db = -a/b^2 */
}

static double pow_f(double a, double b) { return pow(a, b); }
/* d(a^b)/db = a^b log a; where a^b is 0 (a = 0, b > 0) the limit is 0,
** as in PyTorch, instead of 0 * -inf = nan. */
static void pow_b(tl_node *n) {
  double a = AV(n), b = BV(n);
  tl__grad_add(A(n), b == 0 ? 0 : b * pow(a, b - 1) * G(n));
  tl__grad_add(B(n), OUT(n) == 0 ? 0 : OUT(n) * log(a) * G(n));
}

/* }====================================================================== */

/* {======================================================================
** Ops with a number operand k (the op constant)
** ======================================================================= */

static void pass_b(tl_node *n) { tl__grad_add(A(n), G(n)); }      /* a+k, a-k */
static void negate_b(tl_node *n) { tl__grad_add(A(n), -G(n)); }        /* k-a, -a */

static void mul_k_b(tl_node *n) { tl__grad_add(A(n), n->k * G(n)); }

static void div_k_b(tl_node *n) { tl__grad_add(A(n), G(n) / n->k); }

static double rsub_k_f(double a, double k) { return k - a; }

static double rdiv_k_f(double a, double k) { return k / a; }
static void rdiv_k_b(tl_node *n) { tl__grad_add(A(n), -OUT(n) / AV(n) * G(n)); }

static void pow_k_b(tl_node *n) {
  double k = n->k;
  tl__grad_add(A(n), k == 0 ? 0 : k * pow(AV(n), k - 1) * G(n));
}

static double rpow_k_f(double a, double k) { return pow(k, a); }
static void rpow_k_b(tl_node *n) {
  tl__grad_add(A(n), OUT(n) == 0 ? 0 : OUT(n) * log(n->k) * G(n));
}

/* }====================================================================== */

/* {======================================================================
** Unary ops (the second argument of forward is unused)
** ======================================================================= */

static double neg_f(double a, double u) { (void)u; return -a; }

static double exp_f(double a, double u) { (void)u; return exp(a); }
static void exp_b(tl_node *n) { tl__grad_add(A(n), OUT(n) * G(n)); }

static double log_f(double a, double u) { (void)u; return log(a); }
static void log_b(tl_node *n) { tl__grad_add(A(n), G(n) / AV(n)); }

static double tanh_f(double a, double u) { (void)u; return tanh(a); }
static void tanh_b(tl_node *n) { tl__grad_add(A(n), (1 - OUT(n) * OUT(n)) * G(n)); }

/* Written so that exp never overflows: exp of a non-positive number. */
static double sigmoid_f(double a, double u) {
  (void)u;
  if (a >= 0) return 1 / (1 + exp(-a));
  double e = exp(a);
  return e / (1 + e);
}
static void sigmoid_b(tl_node *n) { tl__grad_add(A(n), OUT(n) * (1 - OUT(n)) * G(n)); }

static double relu_f(double a, double u) { (void)u; return a > 0 ? a : 0; }
static void relu_b(tl_node *n) { tl__grad_add(A(n), OUT(n) > 0 ? G(n) : 0); }

static double sqrt_f(double a, double u) { (void)u; return sqrt(a); }
static void sqrt_b(tl_node *n) { tl__grad_add(A(n), G(n) / (2 * OUT(n))); }

/* The derivative of |a| at 0 is taken as 0, as in PyTorch. */
static double abs_f(double a, double u) { (void)u; return fabs(a); }
static void abs_b(tl_node *n) {
  double a = AV(n);
  tl__grad_add(A(n), a > 0 ? G(n) : a < 0 ? -G(n) : 0);
}

static double sin_f(double a, double u) { (void)u; return sin(a); }
static void sin_b(tl_node *n) { tl__grad_add(A(n), cos(AV(n)) * G(n)); }

static double cos_f(double a, double u) { (void)u; return cos(a); }
static void cos_b(tl_node *n) { tl__grad_add(A(n), -sin(AV(n)) * G(n)); }

/* }====================================================================== */

/* {======================================================================
** N-ary ops: their values are computed by their constructors below
** ======================================================================= */

static void sum_b(tl_node *n) {
  for (size_t i = 0; i < n->src.many.n; i++) tl__grad_add(n->src.many.v[i], G(n));
}

static void sumsq_b(tl_node *n) {
  for (size_t i = 0; i < n->src.many.n; i++) {
    tl_node *x = n->src.many.v[i];
    tl__grad_add(x, 2 * x->val.v * G(n));
  }
}

/* inputs: w[0..m), x[0..m), b with m = (count - 1) / 2 */
static void neuron_b(tl_node *n) {
  size_t m = n->src.many.n / 2;
  tl_node **w = n->src.many.v, **x = w + m;
  double g = G(n);
  for (size_t i = 0; i < m; i++) {
    tl__grad_add(w[i], x[i]->val.v * g);
    tl__grad_add(x[i], w[i]->val.v * g);
  }
  tl__grad_add(w[2 * m], g);
}

/* d logsumexp / dx_i = softmax_i = exp(x_i - out) */
static void logsumexp_b(tl_node *n) {
  for (size_t i = 0; i < n->src.many.n; i++) {
    tl_node *x = n->src.many.v[i];
    tl__grad_add(x, exp(x->val.v - OUT(n)) * G(n));
  }
}

/* }====================================================================== */

/* {======================================================================
** The op table
** ======================================================================= */

enum { NARY = -1 };

typedef struct op_info {
  const char *name;     /* for errors and Lua's e.op */
  const char *symbol;   /* for drawing */
  int arity;            /* inputs that are nodes; NARY for n-ary ops */
  double (*forward)(double a, double b_or_k);
  void (*backward)(tl_node *n);
} op_info;

static const op_info ops[] = {
  [TL_OP_LEAF]      = {"", "", 0, NULL, NULL},
  [TL_OP_ADD]       = {"add", "+", 2, add_f, add_b},
  [TL_OP_SUB]       = {"sub", "-", 2, sub_f, sub_b},
  [TL_OP_MUL]       = {"mul", "*", 2, mul_f, mul_b},
  [TL_OP_DIV]       = {"div", "/", 2, div_f, div_b},
  [TL_OP_POW]       = {"pow", "^", 2, pow_f, pow_b},
  [TL_OP_ADD_K]     = {"add", "+", 1, add_f, pass_b},
  [TL_OP_SUB_K]     = {"sub", "-", 1, sub_f, pass_b},
  [TL_OP_MUL_K]     = {"mul", "*", 1, mul_f, mul_k_b},
  [TL_OP_DIV_K]     = {"div", "/", 1, div_f, div_k_b},
  [TL_OP_RSUB_K]    = {"sub", "-", 1, rsub_k_f, negate_b},
  [TL_OP_RDIV_K]    = {"div", "/", 1, rdiv_k_f, rdiv_k_b},
  [TL_OP_POW_K]     = {"pow", "^", 1, pow_f, pow_k_b},
  [TL_OP_RPOW_K]    = {"pow", "^", 1, rpow_k_f, rpow_k_b},
  [TL_OP_NEG]       = {"neg", "neg", 1, neg_f, negate_b},
  [TL_OP_EXP]       = {"exp", "exp", 1, exp_f, exp_b},
  [TL_OP_LOG]       = {"log", "log", 1, log_f, log_b},
  [TL_OP_TANH]      = {"tanh", "tanh", 1, tanh_f, tanh_b},
  [TL_OP_SIGMOID]   = {"sigmoid", "sigmoid", 1, sigmoid_f, sigmoid_b},
  [TL_OP_RELU]      = {"relu", "ReLU", 1, relu_f, relu_b},
  [TL_OP_SQRT]      = {"sqrt", "sqrt", 1, sqrt_f, sqrt_b},
  [TL_OP_ABS]       = {"abs", "abs", 1, abs_f, abs_b},
  [TL_OP_SIN]       = {"sin", "sin", 1, sin_f, sin_b},
  [TL_OP_COS]       = {"cos", "cos", 1, cos_f, cos_b},
  [TL_OP_SUM]       = {"sum", "sum", NARY, NULL, sum_b},
  [TL_OP_SUMSQ]     = {"sumsq", "sum sq", NARY, NULL, sumsq_b},
  [TL_OP_NEURON]    = {"neuron", "w.x+b", NARY, NULL, neuron_b},
  [TL_OP_LOGSUMEXP] = {"logsumexp", "logsumexp", NARY, NULL, logsumexp_b},
};
_Static_assert(sizeof ops / sizeof ops[0] == TL_OP_COUNT, "one row per op");

const char *tl_op_name(tl_op op) {
  return (unsigned)op < TL_OP_COUNT ? ops[op].name : "?";
}

const char *tl_op_label(const tl_node *n, char *buf, size_t size) {
  const char *sym = ops[n->op].symbol;
  switch ((tl_op)n->op) {
    case TL_OP_ADD_K: case TL_OP_SUB_K: case TL_OP_MUL_K: case TL_OP_DIV_K: case TL_OP_POW_K:
      snprintf(buf, size, "%s %.4g", sym, n->k);       /* "+ 2": a + 2 */
      break;
    case TL_OP_RSUB_K: case TL_OP_RDIV_K: case TL_OP_RPOW_K:
      snprintf(buf, size, "%.4g %s", n->k, sym);       /* "2 -": 2 - a */
      break;
    default:
      snprintf(buf, size, "%s", sym);
  }
  return buf;
}

void tl__op_backward(tl_node *n) {
  if (n->op != TL_OP_LEAF) ops[n->op].backward(n);
}

/* }====================================================================== */

/* {======================================================================
** Constructors
** ======================================================================= */

/* Fails when numerics checking is on and 'v' is the first non-finite value
** on its path (every input finite). */
static int all_finite(size_t n, tl_node *const *xs) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(xs[i]->val.v)) return 0;
  return 1;
}

static int numerics_ok(tl_ctx *ctx, tl_op op, double v, size_t nin,
                       tl_node *const *in) {
  if (!ctx->check_numerics || isfinite(v) || !all_finite(nin, in))
    return 1;  /* a non-finite input means the value was inherited */
  tl_ctx_fail(ctx, TL_ENUMERIC, "%s produced %s", ops[op].name,
              isnan(v) ? "nan" : "inf");
  return 0;
}

/* A node for 'op' with value 'v' and inputs a (and b), or a plain leaf in
** no-grad mode. */
static tl_node *make(tl_ctx *ctx, tl_op op, double v, tl_node *a, tl_node *b,
                     double k) {
  tl_node *in[2] = {a, b};
  if (!numerics_ok(ctx, op, v, b ? 2 : 1, in)) return NULL;
  tl_node *n = tl__node_alloc(ctx);
  if (n == NULL) return NULL;
  n->val.v = v;
  if (!ctx->grad_enabled) return n;
  n->op = (uint8_t)op;
  n->k = k;
  n->src.in[0] = a; a->refs++;
  if (b != NULL) { n->src.in[1] = b; b->refs++; }
  return n;
}

static int is_const_op(tl_op op) { return op >= TL_OP_ADD_K && op <= TL_OP_RPOW_K; }

/* Checks that 'op' belongs to the family of the constructor 'fn' (its
** arity, and whether it takes an op constant) and that inputs are there. */
static int check_op(tl_ctx *ctx, const char *fn, tl_op op, int arity,
                    int with_const, tl_node *a, tl_node *b) {
  if ((unsigned)op >= TL_OP_COUNT || ops[op].arity != arity ||
      is_const_op(op) != with_const) {
    tl_ctx_fail(ctx, TL_EARG, "%s: op %d does not take this form", fn, (int)op);
    return 0;
  }
  if (a == NULL || (arity == 2 && b == NULL)) {
    tl_ctx_fail(ctx, TL_EARG, "%s: node expected, got NULL", ops[op].name);
    return 0;
  }
  return 1;
}

tl_node *tl_binary(tl_ctx *ctx, tl_op op, tl_node *a, tl_node *b) {
  if (!check_op(ctx, "binary", op, 2, 0, a, b)) return NULL;
  return make(ctx, op, ops[op].forward(a->val.v, b->val.v), a, b, 0);
}

tl_node *tl_with_const(tl_ctx *ctx, tl_op op, tl_node *a, double k) {
  if (!check_op(ctx, "with_const", op, 1, 1, a, NULL)) return NULL;
  return make(ctx, op, ops[op].forward(a->val.v, k), a, NULL, k);
}

tl_node *tl_unary(tl_ctx *ctx, tl_op op, tl_node *a) {
  if (!check_op(ctx, "unary", op, 1, 0, a, NULL)) return NULL;
  return make(ctx, op, ops[op].forward(a->val.v, 0), a, NULL, 0);
}

tl_node *tl_add(tl_ctx *ctx, tl_node *a, tl_node *b) { return tl_binary(ctx, TL_OP_ADD, a, b); }
tl_node *tl_sub(tl_ctx *ctx, tl_node *a, tl_node *b) { return tl_binary(ctx, TL_OP_SUB, a, b); }
tl_node *tl_mul(tl_ctx *ctx, tl_node *a, tl_node *b) { return tl_binary(ctx, TL_OP_MUL, a, b); }
tl_node *tl_div(tl_ctx *ctx, tl_node *a, tl_node *b) { return tl_binary(ctx, TL_OP_DIV, a, b); }
tl_node *tl_pow(tl_ctx *ctx, tl_node *a, tl_node *b) { return tl_binary(ctx, TL_OP_POW, a, b); }

/* An n-ary node over 'count' inputs gathered from up to three arrays
** (xs1[0..n1), xs2[0..n2), then 'last' if not NULL). */
static tl_node *make_many(tl_ctx *ctx, tl_op op, double v, size_t n1,
                          tl_node *const *xs1, size_t n2,
                          tl_node *const *xs2, tl_node *last) {
  size_t count = n1 + n2 + (last != NULL);
  tl_node **in = NULL;
  if (ctx->check_numerics && !isfinite(v) && all_finite(n1, xs1) &&
      all_finite(n2, xs2) && (last == NULL || isfinite(last->val.v))) {
    tl_ctx_fail(ctx, TL_ENUMERIC, "%s produced %s", ops[op].name,
                isnan(v) ? "nan" : "inf");
    return NULL;
  }
  if (ctx->grad_enabled) {
    in = malloc(count * sizeof *in);
    if (in == NULL) {
      tl_ctx_fail(ctx, TL_ENOMEM, "%s: out of memory for %zu inputs",
                  ops[op].name, count);
      return NULL;
    }
  }
  tl_node *n = tl__node_alloc(ctx);
  if (n == NULL) { free(in); return NULL; }
  n->val.v = v;
  if (in == NULL) return n;
  size_t j = 0;
  for (size_t i = 0; i < n1; i++) in[j++] = xs1[i];
  for (size_t i = 0; i < n2; i++) in[j++] = xs2[i];
  if (last != NULL) in[j++] = last;
  for (size_t i = 0; i < count; i++) in[i]->refs++;
  n->op = (uint8_t)op;
  n->flags |= TL_F_MANY;
  n->src.many.v = in;
  n->src.many.n = count;
  return n;
}

/* Walks keep input counts in 32 bits; an n-ary op of 2^31 inputs would
** not fit in memory anyway, so the limit is never the binding one. */
#define TL_MAX_INPUTS ((size_t)1 << 30)

static int check_many(tl_ctx *ctx, const char *fn, size_t n,
                      tl_node *const *xs) {
  if (n == 0 || xs == NULL || n > TL_MAX_INPUTS) {
    tl_ctx_fail(ctx, TL_EARG, "%s: between 1 and %zu inputs expected, got %zu",
                fn, TL_MAX_INPUTS, xs == NULL ? 0 : n);
    return 0;
  }
  for (size_t i = 0; i < n; i++)
    if (xs[i] == NULL) {
      tl_ctx_fail(ctx, TL_EARG, "%s: input %zu is NULL", fn, i + 1);
      return 0;
    }
  return 1;
}

tl_node *tl_sum(tl_ctx *ctx, size_t n, tl_node *const *xs) {
  if (!check_many(ctx, "sum", n, xs)) return NULL;
  double s = 0;
  for (size_t i = 0; i < n; i++) s += xs[i]->val.v;
  return make_many(ctx, TL_OP_SUM, s, n, xs, 0, NULL, NULL);
}

tl_node *tl_sumsq(tl_ctx *ctx, size_t n, tl_node *const *xs) {
  if (!check_many(ctx, "sumsq", n, xs)) return NULL;
  double s = 0;
  for (size_t i = 0; i < n; i++) s += xs[i]->val.v * xs[i]->val.v;
  return make_many(ctx, TL_OP_SUMSQ, s, n, xs, 0, NULL, NULL);
}

tl_node *tl_logsumexp(tl_ctx *ctx, size_t n, tl_node *const *xs) {
  if (!check_many(ctx, "logsumexp", n, xs)) return NULL;
  double m = -INFINITY, s = 0;
  for (size_t i = 0; i < n; i++) if (xs[i]->val.v > m) m = xs[i]->val.v;
  if (isfinite(m)) {
    for (size_t i = 0; i < n; i++) s += exp(xs[i]->val.v - m);
    m += log(s);
  }
  return make_many(ctx, TL_OP_LOGSUMEXP, m, n, xs, 0, NULL, NULL);
}

tl_node *tl_neuron(tl_ctx *ctx, size_t n, tl_node *const *w,
                   tl_node *const *x, tl_node *b) {
  if (!check_many(ctx, "neuron", n, w) || !check_many(ctx, "neuron", n, x) ||
      !check_many(ctx, "neuron", 1, &b))
    return NULL;
  double s = b->val.v;
  for (size_t i = 0; i < n; i++) s += w[i]->val.v * x[i]->val.v;
  return make_many(ctx, TL_OP_NEURON, s, n, w, n, x, b);
}

/* }====================================================================== */
