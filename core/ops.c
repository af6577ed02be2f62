/*
** ops.c -- every elementwise op: its value and its local derivatives, side
** by side, and the n-ary scalar ops.
**
** An elementwise op is three functions of doubles: the value f(a, b), and
** what each input receives given a, b, the value and the incoming gradient
** g (g times the derivative, or an exact 0 where PyTorch masks).  'b' is
** the second input's value, or the op constant k for _K ops (a + 2),
** unused for unary ops.  One generic backward adds (+=) that into each
** input, so a node used twice receives both contributions; the same three
** functions serve scalars and arrays (with NumPy broadcasting, see
** elementwise.c).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "nn_ops.h"

/* {======================================================================
** Elementwise math
**
** Each backward function returns what an input receives: the incoming
** gradient 'g' times the local derivative, written as PyTorch 1.13 writes
** it (tools/autograd/derivatives.yaml), because that decides what an inf
** or nan 'g' becomes where the derivative is 0.  Where PyTorch selects
** with `where` or returns zeros (relu below 0, x^0, max's unselected
** positions) the result is 0 whatever 'g' is; everywhere else it
** multiplies, so 0 * inf gives nan (|x| at 0, x^2 at 0, the exponent of
** 0^0, exp at -inf ...).  The order of operations is PyTorch's too (g / b,
** not (1 / b) * g), so results agree to the last bit.
** ======================================================================= */

#define UNUSED (void)

static double pass(double a, double b, double out, double g) { UNUSED a; UNUSED b; UNUSED out; return g; }
static double negated(double a, double b, double out, double g) { UNUSED a; UNUSED b; UNUSED out; return -g; }

static double add_f(double a, double b) { return a + b; }
static double sub_f(double a, double b) { return a - b; }

static double mul_f(double a, double b) { return a * b; }
static double mul_ga(double a, double b, double out, double g) { UNUSED a; UNUSED out; return g * b; }
static double mul_gb(double a, double b, double out, double g) { UNUSED b; UNUSED out; return g * a; }

/* d(a/b)/db = -g * ((a / b) / b), and a / b is the value */
static double div_f(double a, double b) { return a / b; }
static double div_ga(double a, double b, double out, double g) { UNUSED a; UNUSED out; return g / b; }
static double div_gb(double a, double b, double out, double g) { UNUSED a; return -g * (out / b); }

/* x ^ k for a number k, as PyTorch computes `x ** k`: it swaps in exact
** kernels for some exponents, which differ from pow at the edges (sqrt(-0)
** is -0, sqrt(-inf) is nan, where pow gives 0 and inf) and in rounding
** (x*x*x against pow(x, 3)).  A node exponent always goes through pow. */
static double pow_num(double a, double k) {
  if (k == 0) return 1;
  if (k == 1) return a;
  if (k == 2) return a * a;
  if (k == 3) return a * a * a;
  if (k == 0.5) return sqrt(a);
  if (k == -0.5) return 1 / sqrt(a);
  if (k == -1) return 1 / a;
  if (k == -2) return 1 / (a * a);
  return pow(a, k);
}

/* d(a^b)/da = b a^(b-1), exactly 0 when b = 0 (whatever g is);
** d(a^b)/db = a^b log a, and g * 0 when a = 0 and b >= 0 (PyTorch's
** rule: 0^b is flat there, even at 0^0 where log 0 = -inf). */
static double pow_f(double a, double b) { return pow(a, b); }
static double pow_ga(double a, double b, double out, double g) { UNUSED out; return b == 0 ? 0 : g * (b * pow(a, b - 1)); }
static double pow_gb(double a, double b, double out, double g) { return g * (a == 0 && b >= 0 ? 0 : out * log(a)); }
static double powk_f(double a, double k) { return pow_num(a, k); }
static double powk_ga(double a, double k, double out, double g) { UNUSED out; return k == 0 ? 0 : g * (k * pow_num(a, k - 1)); }

/* k - a, k / a, k ^ a: the Element is the exponent or divisor.  k / a is a
** true division (PyTorch multiplies by the reciprocal, see README). */
static double rsub_f(double a, double k) { return k - a; }
static double rdiv_f(double a, double k) { return k / a; }
static double rdiv_ga(double a, double k, double out, double g) { UNUSED k; return -g * (out / a); }
static double rpow_f(double a, double k) { return pow(k, a); }
static double rpow_ga(double a, double k, double out, double g) { return g * (k == 0 && a >= 0 ? 0 : out * log(k)); }

static double neg_f(double a, double u) { UNUSED u; return -a; }

static double exp_f(double a, double u) { UNUSED u; return exp(a); }
static double exp_ga(double a, double u, double out, double g) { UNUSED a; UNUSED u; return g * out; }

static double log_f(double a, double u) { UNUSED u; return log(a); }
static double log_ga(double a, double u, double out, double g) { UNUSED u; UNUSED out; return g / a; }

static double tanh_f(double a, double u) { UNUSED u; return tanh(a); }
static double tanh_ga(double a, double u, double out, double g) { UNUSED a; UNUSED u; return g * (1 - out * out); }

/* Written so that exp never overflows: exp of a non-positive number. */
static double sigmoid_f(double a, double u) {
  UNUSED u;
  if (a >= 0) return 1 / (1 + exp(-a));
  double e = exp(a);
  return e / (1 + e);
}
static double sigmoid_ga(double a, double u, double out, double g) { UNUSED a; UNUSED u; return g * (1 - out) * out; }

/* max(a, 0) as PyTorch's clamp_min: nan stays nan, -0 stays -0; the
** gradient is exactly 0 where the value is <= 0 (g passes at nan). */
static double relu_f(double a, double u) { UNUSED u; return a < 0 ? 0 : a; }
static double relu_ga(double a, double u, double out, double g) { UNUSED a; UNUSED u; return out <= 0 ? 0 : g; }

static double sqrt_f(double a, double u) { UNUSED u; return sqrt(a); }
static double sqrt_ga(double a, double u, double out, double g) { UNUSED a; UNUSED u; return g / (2 * out); }

/* The derivative of |a| is sign(a): 0 at 0 and at nan, as in PyTorch. */
static double abs_f(double a, double u) { UNUSED u; return fabs(a); }
static double abs_ga(double a, double u, double out, double g) { UNUSED u; UNUSED out; return g * ((a > 0) - (a < 0)); }

static double sin_f(double a, double u) { UNUSED u; return sin(a); }
static double sin_ga(double a, double u, double out, double g) { UNUSED u; UNUSED out; return g * cos(a); }

static double cos_f(double a, double u) { UNUSED u; return cos(a); }
static double cos_ga(double a, double u, double out, double g) { UNUSED u; UNUSED out; return g * -sin(a); }

/* log(1 + e^a) = max(a, 0) + log1p(e^-|a|): exp never overflows, and
** unlike PyTorch there is no switch to a itself above 20 (see README); the
** derivative is the sigmoid. */
static double softplus_f(double a, double u) { UNUSED u; return (a > 0 ? a : 0) + log1p(exp(-fabs(a))); }
static double softplus_ga(double a, double u, double out, double g) { UNUSED out; return g * sigmoid_f(a, u); }

/* }====================================================================== */

/* {======================================================================
** N-ary scalar ops: values in their constructors, backward here
** ======================================================================= */

#define G(n) ((n)->grad)
#define OUT(n) ((n)->val.v)

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
  /* elementwise ops: the value, and what each input receives from g */
  double (*f)(double a, double b);
  double (*da)(double a, double b, double out, double g);
  double (*db)(double a, double b, double out, double g);
  /* other ops */
  void (*backward)(tl_node *n);
} op_info;

#define EW2(name, sym, f, da, db) {name, sym, 2, f, da, db, NULL}
#define EW1(name, sym, f, da) {name, sym, 1, f, da, NULL, NULL}
#define OTHER(name, sym, arity, b) {name, sym, arity, NULL, NULL, NULL, b}

static const op_info ops[] = {
  [TL_OP_LEAF]        = {"", "", 0, NULL, NULL, NULL, NULL},
  [TL_OP_ADD]         = EW2("add", "+", add_f, pass, pass),
  [TL_OP_SUB]         = EW2("sub", "-", sub_f, pass, negated),
  [TL_OP_MUL]         = EW2("mul", "*", mul_f, mul_ga, mul_gb),
  [TL_OP_DIV]         = EW2("div", "/", div_f, div_ga, div_gb),
  [TL_OP_POW]         = EW2("pow", "^", pow_f, pow_ga, pow_gb),
  [TL_OP_ADD_K]       = EW1("add", "+", add_f, pass),
  [TL_OP_SUB_K]       = EW1("sub", "-", sub_f, pass),
  [TL_OP_MUL_K]       = EW1("mul", "*", mul_f, mul_ga),
  [TL_OP_DIV_K]       = EW1("div", "/", div_f, div_ga),
  [TL_OP_RSUB_K]      = EW1("sub", "-", rsub_f, negated),
  [TL_OP_RDIV_K]      = EW1("div", "/", rdiv_f, rdiv_ga),
  [TL_OP_POW_K]       = EW1("pow", "^", powk_f, powk_ga),
  [TL_OP_RPOW_K]      = EW1("pow", "^", rpow_f, rpow_ga),
  [TL_OP_NEG]         = EW1("neg", "neg", neg_f, negated),
  [TL_OP_EXP]         = EW1("exp", "exp", exp_f, exp_ga),
  [TL_OP_LOG]         = EW1("log", "log", log_f, log_ga),
  [TL_OP_TANH]        = EW1("tanh", "tanh", tanh_f, tanh_ga),
  [TL_OP_SIGMOID]     = EW1("sigmoid", "sigmoid", sigmoid_f, sigmoid_ga),
  [TL_OP_RELU]        = EW1("relu", "ReLU", relu_f, relu_ga),
  [TL_OP_SQRT]        = EW1("sqrt", "sqrt", sqrt_f, sqrt_ga),
  [TL_OP_ABS]         = EW1("abs", "abs", abs_f, abs_ga),
  [TL_OP_SIN]         = EW1("sin", "sin", sin_f, sin_ga),
  [TL_OP_COS]         = EW1("cos", "cos", cos_f, cos_ga),
  [TL_OP_SOFTPLUS]    = EW1("softplus", "softplus", softplus_f, softplus_ga),
  [TL_OP_SUM]         = OTHER("sum", "sum", NARY, sum_b),
  [TL_OP_SUMSQ]       = OTHER("sumsq", "sum sq", NARY, sumsq_b),
  [TL_OP_NEURON]      = OTHER("neuron", "w.x+b", NARY, neuron_b),
  [TL_OP_LOGSUMEXP]   = OTHER("logsumexp", "logsumexp", NARY, logsumexp_b),
  [TL_OP_REDUCE_SUM]  = OTHER("sum", "sum", 1, tl__reduce_b),
  [TL_OP_REDUCE_MEAN] = OTHER("mean", "mean", 1, tl__reduce_b),
  [TL_OP_REDUCE_MAX]  = OTHER("max", "max", 1, tl__reduce_b),
  [TL_OP_MATMUL]      = OTHER("matmul", "@", 2, tl__matmul_b),
  [TL_OP_TRANSPOSE]   = OTHER("transpose", "T", 1, tl__transpose_b),
  [TL_OP_RESHAPE]     = OTHER("reshape", "reshape", 1, tl__reshape_b),
  [TL_OP_INDEX]       = OTHER("index", "[]", 1, tl__index_b),
  [TL_OP_STACK]       = OTHER("stack", "stack", NARY, tl__stack_b),
  [TL_OP_NEURON_ROW]  = OTHER("neuron", "w.x+b", NARY, tl__neuron_row_b),
  [TL_OP_LINEAR]      = OTHER("linear", "xW'+b", NARY, tl__linear_b),
  [TL_OP_CROSS_ENTROPY] = OTHER("cross_entropy", "cross-entropy", NARY, tl__cross_entropy_b),
};
_Static_assert(sizeof ops / sizeof ops[0] == TL_OP_COUNT, "one row per op");

const char *tl_op_name(tl_op op) {
  return (unsigned)op < TL_OP_COUNT ? ops[op].name : "?";
}

static int is_const_op(tl_op op) { return op >= TL_OP_ADD_K && op <= TL_OP_RPOW_K; }
static int is_right_const(tl_op op) { return op >= TL_OP_RSUB_K && op <= TL_OP_RDIV_K; }

const char *tl_op_label(const tl_node *n, char *buf, size_t size) {
  tl_op op = (tl_op)n->op;
  const char *sym = ops[op].symbol;
  char k[32];
  tl_format_number(k, sizeof k, n->k, 'g', 4);
  if (op == TL_OP_RPOW_K || is_right_const(op))
    snprintf(buf, size, "%s %s", k, sym);            /* "2 -": 2 - a */
  else if (is_const_op(op))
    snprintf(buf, size, "%s %s", sym, k);            /* "+ 2": a + 2 */
  else if (op == TL_OP_INDEX)
    snprintf(buf, size, "[%.0f]", n->k + 1);         /* 1-based, as in Lua */
  else if ((op >= TL_OP_REDUCE_SUM && op <= TL_OP_REDUCE_MAX) && n->k >= 0)
    snprintf(buf, size, "%s(axis %.0f)", sym, n->k + 1);
  else
    snprintf(buf, size, "%s", sym);
  return buf;
}

/* Scalar elementwise backward: the common case, kept free of loops.  The
** four ops that dominate scalar graphs (every neuron-free expression, the
** million chain) have their trivial derivatives inline, which saves the
** two indirect calls; every other op goes through its table row. */
static void scalar_backward(const op_info *o, tl_node *n) {
  tl_node *a = n->src.in[0], *b = n->src.in[1];
  double g = n->grad;
  switch ((tl_op)n->op) {
    case TL_OP_ADD: tl__grad_add(a, g); tl__grad_add(b, g); return;
    case TL_OP_MUL:
      tl__grad_add(a, b->val.v * g);
      tl__grad_add(b, a->val.v * g);
      return;
    case TL_OP_ADD_K: tl__grad_add(a, g); return;
    case TL_OP_MUL_K: tl__grad_add(a, n->k * g); return;
    default: break;
  }
  double bv = b ? b->val.v : n->k;
  tl__grad_add(a, o->da(a->val.v, bv, n->val.v, g));
  if (b != NULL) tl__grad_add(b, o->db(a->val.v, bv, n->val.v, g));
}

void tl__backward_sweep(tl_node *const *order, size_t count) {
  for (size_t i = count; i-- > 0;) {
    tl_node *n = order[i];
    const op_info *o = &ops[n->op];
    if (o->backward != NULL) o->backward(n);
    else if (o->da == NULL) continue;                /* a leaf */
    else if (!tl__is_array(n)) scalar_backward(o, n);
    else tl__elementwise_b(n, o->da, o->db);
  }
}

/* }====================================================================== */

/* {======================================================================
** Constructors
** ======================================================================= */

static int all_finite(size_t n, tl_node *const *xs) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0, m = tl__size(xs[i]); j < m; j++)
      if (!isfinite(tl__vals(xs[i])[j])) return 0;
  return 1;
}

/* Where the non-finite values among inputs xs[0..n) come from: 0 none,
** 1 data (leaves only), 2 another op's result. */
static int nonfinite_source(size_t n, tl_node *const *xs) {
  int src = 0;
  for (size_t i = 0; i < n; i++)
    if (!all_finite(1, &xs[i])) {
      if (xs[i]->op != TL_OP_LEAF) return 2;
      src = 1;
    }
  return src;
}

/* The numerics verdict on a non-finite result of 'op' whose inputs' worst
** source is 'src': a nan or inf is reported where it first appears, made
** by the op from finite inputs or taken from data (a nan in the training
** set would otherwise pass through a whole model unreported); one
** inherited from an op's result was reported at that op. */
static int numerics_verdict(tl_ctx *ctx, tl_op op, int has_nan, int src) {
  if (src == 2) return 1;
  tl_ctx_fail(ctx, TL_ENUMERIC, "%s produced %s%s", ops[op].name,
              has_nan ? "nan" : "inf", src ? " from a non-finite input" : "");
  return 0;
}

int tl__numerics_ok(tl_ctx *ctx, tl_op op, tl_node *n, size_t nin,
                    tl_node *const *in) {
  if (!ctx->check_numerics || all_finite(1, &n)) return 1;
  int has_nan = 0;
  for (size_t j = 0; j < tl__size(n); j++) has_nan |= isnan(tl__vals(n)[j]);
  return numerics_verdict(ctx, op, has_nan, nonfinite_source(nin, in));
}

void tl__link(tl_node *n, tl_op op, tl_node *a, tl_node *b, double k) {
  n->op = (uint8_t)op;
  n->k = k;
  n->src.in[0] = a; a->refs++;
  if (b != NULL) { n->src.in[1] = b; b->refs++; }
}

/* Makes the node of op with inputs a (and b): scalar inline, arrays with
** broadcasting; checks numerics; records the graph unless in no-grad. */
static tl_node *elementwise(tl_ctx *ctx, tl_op op, tl_node *a, tl_node *b,
                            double k) {
  const op_info *o = &ops[op];
  tl_node *n;
  if (!tl__is_array(a) && (b == NULL || !tl__is_array(b))) {
    double v = o->f(a->val.v, b ? b->val.v : k);
    n = tl__node_alloc(ctx);
    if (n == NULL) return NULL;
    n->val.v = v;
  } else {
    n = tl__elementwise(ctx, o->f, a, b, k, o->name);
    if (n == NULL) return NULL;
  }
  tl_node *in[2] = {a, b};
  if (ctx->check_numerics && !tl__numerics_ok(ctx, op, n, b ? 2 : 1, in)) {
    tl_release(ctx, n);
    return NULL;
  }
  if (ctx->grad_enabled) tl__link(n, op, a, b, k);
  return n;
}

/* Checks that 'op' belongs to the family of the constructor 'fn' (its
** arity, and whether it takes an op constant) and that inputs are there. */
static int check_op(tl_ctx *ctx, const char *fn, tl_op op, int arity,
                    int with_const, tl_node *a, tl_node *b) {
  if ((unsigned)op >= TL_OP_COUNT || ops[op].arity != arity ||
      ops[op].f == NULL || is_const_op(op) != with_const) {
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
  return elementwise(ctx, op, a, b, 0);
}

tl_node *tl_with_const(tl_ctx *ctx, tl_op op, tl_node *a, double k) {
  if (!check_op(ctx, "with_const", op, 1, 1, a, NULL)) return NULL;
  return elementwise(ctx, op, a, NULL, k);
}

tl_node *tl_unary(tl_ctx *ctx, tl_op op, tl_node *a) {
  if (!check_op(ctx, "unary", op, 1, 0, a, NULL)) return NULL;
  return elementwise(ctx, op, a, NULL, 0);
}

tl_node *tl_add(tl_ctx *ctx, tl_node *a, tl_node *b) { return tl_binary(ctx, TL_OP_ADD, a, b); }
tl_node *tl_sub(tl_ctx *ctx, tl_node *a, tl_node *b) { return tl_binary(ctx, TL_OP_SUB, a, b); }
tl_node *tl_mul(tl_ctx *ctx, tl_node *a, tl_node *b) { return tl_binary(ctx, TL_OP_MUL, a, b); }
tl_node *tl_div(tl_ctx *ctx, tl_node *a, tl_node *b) { return tl_binary(ctx, TL_OP_DIV, a, b); }
tl_node *tl_pow(tl_ctx *ctx, tl_node *a, tl_node *b) { return tl_binary(ctx, TL_OP_POW, a, b); }

/* An n-ary node with value 'v' over the inputs xs1[0..n1), xs2[0..n2),
** then 'last' if not NULL. */
static tl_node *make_many(tl_ctx *ctx, tl_op op, double v, size_t n1,
                          tl_node *const *xs1, size_t n2,
                          tl_node *const *xs2, tl_node *last) {
  size_t count = n1 + n2 + (last != NULL);
  if (ctx->check_numerics && !isfinite(v)) {
    int src = nonfinite_source(n1, xs1), s2 = nonfinite_source(n2, xs2);
    int s3 = last != NULL ? nonfinite_source(1, &last) : 0;
    if (s2 > src) src = s2;
    if (s3 > src) src = s3;
    if (!numerics_verdict(ctx, op, isnan(v), src)) return NULL;
  }
  tl_node **in = NULL;
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

/* The scalar n-ary ops take scalar inputs only. */
static int check_many(tl_ctx *ctx, const char *fn, size_t n,
                      tl_node *const *xs) {
  if (n == 0 || xs == NULL || n > TL_MAX_INPUTS) {
    tl_ctx_fail(ctx, TL_EARG, "%s: between 1 and %zu inputs expected, got %zu",
                fn, TL_MAX_INPUTS, xs == NULL ? 0 : n);
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (xs[i] == NULL) {
      tl_ctx_fail(ctx, TL_EARG, "%s: input %zu is NULL", fn, i + 1);
      return 0;
    }
    if (tl__is_array(xs[i])) {
      tl_ctx_fail(ctx, TL_EARG, "%s: input %zu is an array, scalar expected",
                  fn, i + 1);
      return 0;
    }
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
  int has_nan = 0;
  for (size_t i = 0; i < n; i++) {
    if (xs[i]->val.v > m) m = xs[i]->val.v;
    has_nan |= isnan(xs[i]->val.v);
  }
  if (has_nan) m = NAN;                 /* as torch.logsumexp, even beside inf */
  else if (isfinite(m)) {
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
