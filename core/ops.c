/*
** ops.c -- every elementwise op: its value and its local derivatives, side
** by side; the op table generated from TL_OP_LIST (tl_ops.h); tl__record,
** the step every constructor ends with; the n-ary scalar ops.
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
#include <string.h>

#include "internal.h"
#include "size.h"

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

/* GELU, PyTorch's exact form x * 0.5 * (1 + erf(x / sqrt 2)) (libm's erf),
** with its backward g * (cdf + x * pdf), pdf = e^(-x^2 / 2) / sqrt(2 pi),
** written in the order of PyTorch 1.13's CPU kernel (GeluKernel.cpp).
** (M_SQRT1_2 and M_2_SQRTPI are POSIX, not C11: spelled out here.) */
#define TL_SQRT1_2 0.70710678118654752440
#define TL_2_SQRTPI 1.12837916709551257390
static double gelu_f(double a, double u) { UNUSED u; return a * 0.5 * (1 + erf(a * TL_SQRT1_2)); }
static double gelu_ga(double a, double u, double out, double g) {
  UNUSED u; UNUSED out;
  double cdf = 0.5 * (1 + erf(a * TL_SQRT1_2));
  double pdf = (TL_2_SQRTPI * TL_SQRT1_2 * 0.5) * exp(a * a * -0.5);
  return g * (cdf + a * pdf);
}

/* Leaky ReLU with slope 'k' below 0, as PyTorch's leaky_relu: a > 0 ? a :
** a * k (nan and 0 take the second branch), and the gradient g or g * k. */
static double leaky_f(double a, double k) { return a > 0 ? a : a * k; }
static double leaky_ga(double a, double k, double out, double g) { UNUSED out; return a > 0 ? g : g * k; }

/* clamp(a, lo, hi) is clamp_min(a, lo) then clamp_max(., hi) (Lua's
** x:clamp): max(a, k) and min(a, k) with nan staying nan, the gradient
** passing where a >= k (a <= k), bounds included, as PyTorch's clamp_min,
** clamp_max and clamp (where(lo <= x <= hi, g, 0)); nan passes none. */
static double clamp_min_f(double a, double k) { return a < k ? k : a; }
static double clamp_min_ga(double a, double k, double out, double g) { UNUSED out; return a >= k ? g : 0; }
static double clamp_max_f(double a, double k) { return a > k ? k : a; }
static double clamp_max_ga(double a, double k, double out, double g) { UNUSED out; return a <= k ? g : 0; }

/* }====================================================================== */

/* {======================================================================
** The op table, one row per TL_OP_LIST row
** ======================================================================= */

typedef struct op_info {
  const char *name;     /* for errors and Lua's e.op */
  const char *symbol;   /* for drawing */
  int arity;            /* inputs that are nodes; TL_NARY for n-ary ops */
  unsigned flags;       /* TL_OPF_* */
  /* elementwise ops: the value, and what each input receives from g */
  double (*f)(double a, double b);
  double (*da)(double a, double b, double out, double g);
  double (*db)(double a, double b, double out, double g);
  /* other ops: the value into n's buffer, and the backward rule */
  void (*forward)(tl_ctx *ctx, tl_node *n);
  void (*backward)(tl_ctx *ctx, tl_node *n);
  const char *grad;     /* the rule as text (tl_ops.h) */
} op_info;

#define EW(f, da, db) f, da, db, NULL, NULL
#define BW(fwd, bwd) NULL, NULL, NULL, fwd, bwd
#define ROW(id, name, symbol, arity, flags, method, rule, grad) \
  [TL_OP_##id] = {name, symbol, arity, flags, rule, grad},
static const op_info ops[] = { TL_OP_LIST(ROW) };
#undef ROW
#undef BW
#undef EW
_Static_assert(sizeof ops / sizeof ops[0] == TL_OP_COUNT, "one row per op");

const char *tl_op_name(tl_op op) {
  return (unsigned)op < TL_OP_COUNT ? ops[op].name : "?";
}

const char *tl_node_op_name(const tl_node *n) {
  return n->op == TL_OP_CUSTOM ? tl__custom_name(n) : tl_op_name((tl_op)n->op);
}

int tl_op_arity(tl_op op) {
  return (unsigned)op < TL_OP_COUNT ? ops[op].arity : 0;
}

unsigned tl_op_flags(tl_op op) {
  if ((unsigned)op >= TL_OP_COUNT) return 0;
  return ops[op].flags | (ops[op].f != NULL ? (unsigned)TL_OPF_EW : 0u);
}

const char *tl_op_grad_text(tl_op op) {
  return (unsigned)op < TL_OP_COUNT ? ops[op].grad : "";
}

/* What input 'slot' (0 or 1) of the scalar elementwise node 'n' receives
** from its gradient: the same call scalar_backward makes (the inline cases
** there multiply the same two numbers), so a trace shows the very number
** backward adds, even when one node fills both slots (a * a). */
double tl__ew_input_grad(const tl_node *n, int slot) {
  const op_info *o = &ops[n->op];
  tl_node *a = n->in[0], *b = tl__in_b(n);
  double bv = b ? b->val.v : n->k;
  return (slot == 0 ? o->da : o->db)(a->val.v, bv, n->val.v, n->grad);
}

/* Positions in labels count from 1: a drawing is read beside the Lua
** program that made it, where x[1] is the first row. */
const char *tl_op_label(const tl_node *n, char *buf, size_t size) {
  const op_info *o = &ops[n->op];
  char k[32];
  if (n->op == TL_OP_CUSTOM) {
    snprintf(buf, size, "%s", tl__custom_name(n));
    return buf;
  }
  tl_format_number(k, sizeof k, tl__k(n), 'g', 4);
  if (o->flags & TL_OPF_KLEFT)
    snprintf(buf, size, "%s %s", k, o->symbol);      /* "2 -": 2 - a */
  else if (o->flags & TL_OPF_K)
    snprintf(buf, size, "%s %s", o->symbol, k);      /* "+ 2": a + 2 */
  else if (n->op == TL_OP_TO_DTYPE)            /* "to float32" */
    snprintf(buf, size, "%s %s", o->symbol, tl_dtype_name((tl_dtype)n->k));
  else if (o->flags & TL_OPF_INDEX)
    snprintf(buf, size, "[%.0f]", n->k + 1);
  else if ((o->flags & TL_OPF_AXIS) && n->k >= 0)
    snprintf(buf, size, "%s(axis %.0f)", o->symbol, n->k + 1);
  else
    snprintf(buf, size, "%s", o->symbol);
  return buf;
}

/* Scalar elementwise backward: the common case, kept free of loops.  The
** four ops that dominate scalar graphs (every neuron-free expression, the
** million chain), and relu, have their trivial derivatives inline, which
** saves the indirect calls; every other op goes through its table row. */
static void scalar_backward(const op_info *o, tl_node *n) {
  tl_node *a = n->in[0], *b = tl__in_b(n);
  double g = n->grad;
  switch ((tl_op)n->op) {
    /* each hidden scalar neuron's activation (relu_ga reads out and g) */
    case TL_OP_RELU: tl__grad_add(a, relu_ga(0, 0, n->val.v, g)); return;
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

int tl__scalar_rules(tl_op op, double (**f)(double, double),
                     double (**da)(double, double, double, double),
                     double (**db)(double, double, double, double)) {
  const op_info *o = (unsigned)op < TL_OP_COUNT ? &ops[op] : &ops[TL_OP_LEAF];
  int ok = o->forward == NULL &&
           o->backward == NULL && o->f != NULL && o->da != NULL;
  *f = ok ? o->f : NULL;
  *da = ok ? o->da : NULL;
  *db = ok ? o->db : NULL;
  return ok;
}

/* Scalar unary elementwise nodes (relu, tanh, x + k, ...) seen from the
** fused neuron layers of a replay (nn_ops.c): whether 'n' is one, its value
** from its input's value, its backward rule: the sweeps' own rules. */
int tl__is_scalar_unary(const tl_node *n) {
  const op_info *o = &ops[n->op];
  return !(n->flags & (TL_F_ARRAY | TL_F_MANY)) && n->nin == 1 &&
         o->forward == NULL && o->backward == NULL && o->f != NULL &&
         o->da != NULL;
}

double tl__scalar_unary_value(const tl_node *n, double x) {
  if (n->op == TL_OP_RELU) return relu_f(x, 0);   /* the sweep's inline case */
  return ops[n->op].f(x, n->k);
}

double tl__scalar_unary_da(const tl_node *n) {
  if (n->op == TL_OP_RELU) return relu_ga(0, 0, n->val.v, n->grad);
  return ops[n->op].da(n->in[0]->val.v, n->k, n->val.v, n->grad);
}

/* The two gradients a backward sweep wrote last, also kept in registers:
** in a chain each node's gradient was written by the node swept just
** before it, and one parameter's gradient is added to at every step;
** reading them back from memory would put a store-to-load delay on the
** critical path.  Write-through: memory holds the same numbers. */
typedef struct grad_cache { tl_node *n0, *n1; double g0, g1; } grad_cache;

static inline double cached_grad(const grad_cache *c, const tl_node *n) {
  if (n == c->n0) return c->g0;
  if (n == c->n1) return c->g1;
  return n->grad;
}

/* tl__grad_add through the cache; a miss replaces entry 'slot' (0, 1). */
static inline void cached_grad_add(grad_cache *c, int slot, tl_node *x,
                                   double g) {
  if (x == c->n0) { c->g0 = c->g0 + g; x->grad = c->g0; return; }
  if (x == c->n1) { c->g1 = c->g1 + g; x->grad = c->g1; return; }
  if (x->flags & TL_F_HAS_GRAD) g = x->grad + g;
  else if (!tl__wants_grad(x)) return;
  else x->flags |= TL_F_HAS_GRAD;
  x->grad = g;
  if (slot == 0) { c->n0 = x; c->g0 = g; }
  else { c->n1 = x; c->g1 = g; }
}

/* Sweeps the run of scalar add, mul, add_k and mul_k nodes (and leaves)
** that ends at order[end - 1], downward, and returns the index + 1 of the
** first node it left for tl__backward_sweep (0 when none is left).  Kept
** out of line, with the cache in four scalar locals: a loop that makes no
** call keeps the two cached gradients in registers, where the sweep's own
** loop, which calls op rules, kept them on the stack (no vector register
** is callee-saved): a store and a load on the chain's critical path.  (A
** local grad_cache struct was no better: the compiler packed its two
** doubles into one vector register and shuffled them every step.) */
NOINLINE static size_t backward_scalar_run(tl_node *const *order, size_t end,
                                           grad_cache *cache) {
  tl_node *n0 = cache->n0, *n1 = cache->n1;
  double g0 = cache->g0, g1 = cache->g1;
  size_t i = end;
  /* cached_grad and cached_grad_add over the locals */
#define GRAD_OF(n) ((n) == n0 ? g0 : (n) == n1 ? g1 : (n)->grad)
#define GRAD_ADD(slot, x, gv) do { \
    tl_node *x_ = (x); double v_ = (gv); \
    if (x_ == n0) { g0 = g0 + v_; x_->grad = g0; break; } \
    if (x_ == n1) { g1 = g1 + v_; x_->grad = g1; break; } \
    if (x_->flags & TL_F_HAS_GRAD) v_ = x_->grad + v_; \
    else if (!tl__wants_grad(x_)) break; \
    else x_->flags |= TL_F_HAS_GRAD; \
    x_->grad = v_; \
    if ((slot) == 0) { n0 = x_; g0 = v_; } else { n1 = x_; g1 = v_; } \
  } while (0)
  for (; i > 0; i--) {
    tl_node *n = order[i - 1];
    if (n->flags & (TL_F_ARRAY | TL_F_MANY | TL_F_NO_GRAD)) break;
    tl_node *a = n->in[0], *b = n->in[1];          /* b: binary ops only */
    double g;
    switch ((tl_op)n->op) {
      case TL_OP_LEAF: continue;
      case TL_OP_ADD:
        g = GRAD_OF(n);
        GRAD_ADD(0, a, g);
        GRAD_ADD(1, b, g);
        continue;
      case TL_OP_MUL:
        g = GRAD_OF(n);
        GRAD_ADD(0, a, b->val.v * g);
        GRAD_ADD(1, b, a->val.v * g);
        continue;
      case TL_OP_ADD_K: g = GRAD_OF(n); GRAD_ADD(0, a, g); continue;
      case TL_OP_MUL_K: g = GRAD_OF(n); GRAD_ADD(0, a, n->k * g); continue;
      default: break;
    }
    break;
  }
#undef GRAD_OF
#undef GRAD_ADD
  cache->n0 = n0; cache->n1 = n1;
  cache->g0 = g0; cache->g1 = g1;
  return i;
}

/* Only a captured graph (compile.c) holds op nodes that need no gradient
** (made from data alone, or in a forward-only capture): skipped, as they
** receive none.  Eagerly such results are leaves. */
tl_status tl__backward_sweep(tl_ctx *ctx, tl_node *const *order, size_t count) {
  grad_cache c = {NULL, NULL, 0, 0};
  for (size_t i = count; i-- > 0;) {
    tl_node *n = order[i];
    if (!(n->flags & (TL_F_ARRAY | TL_F_MANY | TL_F_NO_GRAD))) {
      switch ((tl_op)n->op) {   /* the call pays off for runs, not leaves */
        case TL_OP_LEAF: continue;
        case TL_OP_ADD: case TL_OP_MUL: case TL_OP_ADD_K: case TL_OP_MUL_K:
          i = backward_scalar_run(order, i + 1, &c);
          if (i-- == 0) return TL_OK;
          n = order[i];
          break;
        default: break;
      }
    }
    if (!tl__wants_grad(n)) continue;
    c.n0 = c.n1 = NULL;               /* other rules write gradients too */
    const op_info *o = &ops[n->op];
    if (o->backward != NULL) {
      o->backward(ctx, n);
      if (ctx->sweep_failed != TL_OK) {       /* a custom op's callback */
        tl_status st = ctx->sweep_failed;
        ctx->sweep_failed = TL_OK;
        return st;
      }
    }
    else if (o->da == NULL) continue;                /* a leaf */
    else if (!tl__is_array(n)) scalar_backward(o, n);
    else tl__elementwise_b(n, o->da, o->db);
  }
  return TL_OK;
}

static inline void forward_node(tl_ctx *ctx, tl_node *n) {
  const op_info *o = &ops[n->op];
  if (o->forward != NULL) o->forward(ctx, n);
  else if (o->f == NULL) return;                   /* a leaf */
  else if (!tl__is_array(n)) {
    tl_node *a = n->in[0], *b = tl__in_b(n);
    n->val.v = o->f(a->val.v, b ? b->val.v : n->k);
  } else tl__elementwise_into(n, o->f);
}

void tl__forward_node(tl_ctx *ctx, tl_node *n) { forward_node(ctx, n); }

/* The forward sweep of a replay (compile.c): each op node recomputed in
** order, its gradient marked unset for the next backward pass (which then
** needs no pass of its own to reset them).  The scalar ops of chains and
** micrograd-style graphs are inline, as in scalar_backward; the value just
** computed stays in a register for the next node, which in a chain is its
** consumer (reading it back from memory put a store-to-load delay on the
** chain's critical path: 4.4 -> 3.6 ns per node for the million chain).
** Stops at a custom op's failure (ctx->sweep_failed). */
void tl__forward_sweep(tl_ctx *ctx, tl_node *const *order, size_t count) {
  tl_node *last = NULL;       /* the scalar node just computed, its value */
  double lastv = 0;
  for (size_t i = 0; i < count; i++) {
    tl_node *n = order[i];
    n->flags &= (uint8_t)~TL_F_HAS_GRAD;
    if (!(n->flags & (TL_F_ARRAY | TL_F_MANY))) {
      tl_node *a = n->in[0], *b = n->in[1];    /* b: binary ops only */
      double x, y, v;
      if (a == last) x = lastv; else x = a->val.v;
      switch ((tl_op)n->op) {
        case TL_OP_ADD:
          if (b == last) y = lastv; else y = b->val.v;
          v = x + y; break;
        case TL_OP_MUL:
          if (b == last) y = lastv; else y = b->val.v;
          v = x * y; break;
        case TL_OP_ADD_K: v = x + n->k; break;
        case TL_OP_MUL_K: v = x * n->k; break;
        case TL_OP_RELU: v = relu_f(x, 0); break;
        default: goto generic;
      }
      n->val.v = lastv = v;
      last = n;
      continue;
    }
  generic:
    forward_node(ctx, n);
    last = NULL;
    if (ctx->sweep_failed != TL_OK) return;
  }
}


/* }====================================================================== */

/* {======================================================================
** Recording a node: numerics check, no-grad, linking inputs
** ======================================================================= */

static int all_finite(size_t n, tl_node *const *xs) {
  for (size_t i = 0; i < n; i++) {
    size_t m = tl__size(xs[i]);
    if (tl__dtype(xs[i]) == TL_FLOAT32) {
      const float *v = tl__f32(xs[i]);
      for (size_t j = 0; j < m; j++)
        if (!isfinite(v[j])) return 0;
    } else {
      const double *v = tl__vals(xs[i]);
      for (size_t j = 0; j < m; j++)
        if (!isfinite(v[j])) return 0;
    }
  }
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

/* The numerics verdict on 'n', the result of 'op' over in[0..nin): a nan
** or inf is reported where it first appears, made by the op from finite
** inputs or taken from data (a nan in the training set would otherwise
** pass through a whole model unreported); one inherited from an op's
** result was reported at that op. */
static int numerics_ok(tl_ctx *ctx, tl_op op, tl_node *n, size_t nin,
                       tl_node *const *in) {
  if (all_finite(1, &n)) return 1;
  int src = nonfinite_source(nin, in);
  if (src == 2) return 1;
  int has_nan = 0;
  for (size_t j = 0; j < tl__size(n); j++) has_nan |= isnan(tl__at(n, j));
  tl_ctx_fail(ctx, TL_ENUMERIC, "%s produced %s%s", ops[op].name,
              has_nan ? "nan" : "inf", src ? " from a non-finite input" : "");
  return 0;
}

/* The out-of-line input list of an n-ary node: 'block' when given (the
** caller's list from tl__small_alloc, perhaps followed by the op's own
** data; taken whatever happens), else a copy of 'in'. */
static tl_node *record_many(tl_ctx *ctx, tl_node *n, tl_op op, size_t nin,
                            tl_node *const *in, tl_node **block) {
  if (ops[op].arity != TL_NARY) {           /* a row that should say TL_NARY */
    tl_ctx_fail(ctx, TL_EARG, "%s: %zu inputs for an op of at most 2",
                ops[op].name, nin);
    tl__small_free(ctx, block);
    tl_release(ctx, n);
    return NULL;
  }
  if (nin > UINT32_MAX) {                   /* the node counts in 32 bits */
    tl_ctx_fail(ctx, TL_EARG, "%s: %zu inputs, more than %lu",
                ops[op].name, nin, (unsigned long)UINT32_MAX);
    tl__small_free(ctx, block);
    tl_release(ctx, n);
    return NULL;
  }
  tl_node **many = block;
  size_t bytes;
  if (many == NULL && tl__size_mul(nin, sizeof *many, &bytes))
    many = tl__small_alloc(ctx, bytes);
  if (many == NULL) {
    tl_ctx_fail(ctx, TL_ENOMEM, "%s: out of memory for %zu inputs",
                ops[op].name, nin);
    tl_release(ctx, n);
    return NULL;
  }
  if (many != in)                           /* a copy; a block is the list */
    for (size_t i = 0; i < nin; i++) many[i] = in[i];
  for (size_t i = 0; i < nin; i++) many[i]->refs++;
  n->flags |= TL_F_MANY;
  n->many = many;
  n->nin = (uint32_t)nin;
  return n;
}

/* 1 when some input of xs[0..n) needs a gradient.  When none does, the
** result needs none either and is recorded as a leaf (PyTorch: an op of
** tensors that do not require grad makes one that does not), so backward
** never walks into data. */
static int any_wants_grad(size_t n, tl_node *const *xs) {
  for (size_t i = 0; i < n; i++)
    if (tl__wants_grad(xs[i])) return 1;
  return 0;
}

/* tl__record, inlined into the elementwise ops (most nodes of a scalar
** graph): gcc -O2 leaves it a call, which cost 10-15% of a scalar add. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline tl_node *record(tl_ctx *ctx, tl_node *n, tl_op op, double k,
                              size_t nin, tl_node *const *in) {
  if (ctx->check_numerics && !numerics_ok(ctx, op, n, nin, in)) {
    tl_release(ctx, n);
    return NULL;
  }
  if (!ctx->grad_enabled) {
    if (!ctx->capturing) return n;
    n->flags |= TL_F_NO_GRAD;         /* a forward-only capture */
  } else if (!any_wants_grad(nin, in)) {
    n->flags |= TL_F_NO_GRAD;
    if (!ctx->capturing) return n;
  }
  if (nin > 2 || ops[op].arity == TL_NARY) {
    if (record_many(ctx, n, op, nin, in, NULL) == NULL) return NULL;
    n->k = k;
  } else {
    n->in[0] = in[0]; in[0]->refs++;
    if (nin == 2) { n->in[1] = in[1]; in[1]->refs++; }  /* no k (internal.h) */
    else n->k = k;
    n->nin = (uint32_t)nin;
  }
  n->op = (uint8_t)op;
  return n;
}

tl_node *tl__record(tl_ctx *ctx, tl_node *n, tl_op op, double k, size_t nin,
                    tl_node *const *in) {
  return record(ctx, n, op, k, nin, in);
}

tl_node *tl__record_block(tl_ctx *ctx, tl_node *n, tl_op op, double k,
                          size_t nin, tl_node **block) {
  if (ctx->check_numerics && !numerics_ok(ctx, op, n, nin, block)) {
    tl__small_free(ctx, block);
    tl_release(ctx, n);
    return NULL;
  }
  if (!ctx->grad_enabled || !any_wants_grad(nin, block)) {
    if (ctx->grad_enabled || ctx->capturing) n->flags |= TL_F_NO_GRAD;
    if (!ctx->capturing) {
      tl__small_free(ctx, block);
      return n;
    }
  }
  if (record_many(ctx, n, op, nin, block, block) == NULL) return NULL;
  n->op = (uint8_t)op;
  n->k = k;
  return n;
}

/* The value by the op's forward rule (its BW row), which reads the inputs
** and k from the node as a replay finds them: lent for the call, taken
** back before recording. */
static void compute(tl_ctx *ctx, tl_node *n, tl_op op, double k, size_t nin,
                    tl_node *const *in) {
  tl__bind_inputs(n, k, nin, in, nin > 2 || ops[op].arity == TL_NARY);
  n->op = (uint8_t)op;                  /* some rules serve several ops */
  ops[op].forward(ctx, n);
  tl__unbind_inputs(n);
  n->op = TL_OP_LEAF;                   /* until recorded */
}

tl_node *tl__compute(tl_ctx *ctx, tl_node *n, tl_op op, double k, size_t nin,
                     tl_node *const *in) {
  compute(ctx, n, op, k, nin, in);
  return tl__record(ctx, n, op, k, nin, in);
}

tl_node *tl__compute_block(tl_ctx *ctx, tl_node *n, tl_op op, double k,
                           size_t nin, tl_node **block) {
  compute(ctx, n, op, k, nin, block);
  return tl__record_block(ctx, n, op, k, nin, block);
}

/* }====================================================================== */

/* {======================================================================
** Elementwise constructors
** ======================================================================= */

/* Makes the node of op with inputs a (and b): scalar inline, arrays with
** broadcasting. */
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
    n = tl__elementwise(ctx, (int)op, o->f, a, b, k, o->name);
    if (n == NULL) return NULL;
  }
  tl_node *in[2] = {a, b};
  return record(ctx, n, op, k, b ? 2 : 1, in);
}

/* Checks that 'op' belongs to the family of the constructor 'fn' (its
** arity, and whether it takes an op constant) and that inputs are there. */
static int check_op(tl_ctx *ctx, const char *fn, tl_op op, int arity,
                    int with_const, tl_node *a, tl_node *b) {
  if ((unsigned)op >= TL_OP_COUNT || ops[op].arity != arity ||
      ops[op].f == NULL || !(ops[op].flags & TL_OPF_K) != !with_const) {
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

/* }====================================================================== */

