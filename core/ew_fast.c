/*
** ew_fast.c -- typed, vectorized loops for the common elementwise ops over
** contiguous arrays (elementwise.c's "plain" case: inputs in step with the
** output, or the second one a single value), forward and backward, in
** both dtypes.
**
** The generic path calls the op's functions of doubles (ops.c) through a
** pointer for every value.  Here each op family has its own loop, written
** with the same IEEE operations in the same order as those functions, so
** results are the same to the bit: float64 computes exactly what ops.c
** does; float32 widens each value to double, applies the same formula and
** rounds once on the store, as elementwise.c's float32 path does, and a
** float32 gradient is added in float (p + (float)v) as there.  Only what
** gets computed at once changes: the loops are compiled for AVX2 and for
** the baseline (TL_CLONES), and gcc turns them into vector code.  Ops that
** call libm (exp, tanh, ...) keep the generic forward (no vector libm gives
** the same bits); their backward rules, plain arithmetic, are here.
*/
#include <math.h>

#include "internal.h"

/* The value rules (f of ops.c) with a loop here. */
enum {
  F_ADD, F_SUB, F_MUL, F_DIV, F_RSUB, F_RDIV, F_LEAKY,   /* read b */
  F_NEG, F_RELU, F_SQRT, F_ABS, F_SQUARE, F_NONE
};

/* The gradient rules (da, db of ops.c) with a loop here. */
enum {
  B_MULB, B_DIVB, B_DIVGB, B_LEAKY,                      /* read b */
  B_PASS, B_NEG, B_MULA, B_RDIV, B_EXP, B_LOG, B_TANH, B_SIGMOID, B_RELU,
  B_SQRT, B_ABS, B_SQUARE, B_NONE
};

/* pow's rules have a loop for k = 2 only (the square in L2 penalties):
** pow_num's x * x, and powk_ga's g * (k * pow_num(x, 1)) = g * (2 * x). */
static int fwd_rule(int op, double k) {
  switch ((tl_op)op) {
    case TL_OP_ADD: case TL_OP_ADD_K: return F_ADD;
    case TL_OP_SUB: case TL_OP_SUB_K: return F_SUB;
    case TL_OP_MUL: case TL_OP_MUL_K: return F_MUL;
    case TL_OP_DIV: case TL_OP_DIV_K: return F_DIV;
    case TL_OP_RSUB_K: return F_RSUB;
    case TL_OP_RDIV_K: return F_RDIV;
    case TL_OP_LEAKY_RELU_K: return F_LEAKY;
    case TL_OP_NEG: return F_NEG;
    case TL_OP_RELU: return F_RELU;
    case TL_OP_SQRT: return F_SQRT;
    case TL_OP_ABS: return F_ABS;
    case TL_OP_POW_K: return k == 2 ? F_SQUARE : F_NONE;
    default: return F_NONE;
  }
}

/* The rule for what input 'slot' of 'op' receives. */
static int bwd_rule(int op, int slot, double k) {
  switch ((tl_op)op) {
    case TL_OP_ADD: case TL_OP_ADD_K: case TL_OP_SUB_K: return B_PASS;
    case TL_OP_SUB: return slot == 0 ? B_PASS : B_NEG;
    case TL_OP_MUL: return slot == 0 ? B_MULB : B_MULA;
    case TL_OP_MUL_K: return B_MULB;
    case TL_OP_DIV: return slot == 0 ? B_DIVB : B_DIVGB;
    case TL_OP_DIV_K: return B_DIVB;
    case TL_OP_RSUB_K: case TL_OP_NEG: return B_NEG;
    case TL_OP_RDIV_K: return B_RDIV;
    case TL_OP_LEAKY_RELU_K: return B_LEAKY;
    case TL_OP_EXP: return B_EXP;
    case TL_OP_LOG: return B_LOG;
    case TL_OP_TANH: return B_TANH;
    case TL_OP_SIGMOID: return B_SIGMOID;
    case TL_OP_RELU: return B_RELU;
    case TL_OP_SQRT: return B_SQRT;
    case TL_OP_ABS: return B_ABS;
    case TL_OP_POW_K: return k == 2 ? B_SQUARE : B_NONE;
    default: return B_NONE;
  }
}

int tl__ew_fast_has(int op, int slot, double k) {
  return slot < 0 ? fwd_rule(op, k) != F_NONE : bwd_rule(op, slot, k) != B_NONE;
}

/* As in optim.c: gcc's "dynamic" cost model vectorizes loops of any
** length (the vector part, then the values left over); the rule, dtype
** and flags are constants in every instance of a loop. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("vect-cost-model=dynamic")
#define TL_LOOP static inline __attribute__((always_inline))
#else
#define TL_LOOP static inline
#endif

/* ops.c's value functions, one per rule, in their order of operations. */
TL_LOOP double fwd_val(int r, double a, double b) {
  switch (r) {
    case F_ADD: return a + b;
    case F_SUB: return a - b;
    case F_MUL: return a * b;
    case F_DIV: return a / b;
    case F_RSUB: return b - a;
    case F_RDIV: return b / a;
    case F_LEAKY: return a > 0 ? a : a * b;
    case F_NEG: return -a;
    case F_RELU: return a < 0 ? 0 : a;
    case F_SQRT: return sqrt(a);
    case F_ABS: return fabs(a);
    default: return a * a;                            /* F_SQUARE */
  }
}

/* ops.c's gradient functions, one per rule, in their order of operations. */
TL_LOOP double bwd_val(int r, double a, double b, double out, double g) {
  switch (r) {
    case B_MULB: return g * b;
    case B_DIVB: return g / b;
    case B_DIVGB: return -g * (out / b);
    case B_LEAKY: return a > 0 ? g : g * b;
    case B_PASS: return g;
    case B_NEG: return -g;
    case B_MULA: return g * a;
    case B_RDIV: return -g * (out / a);
    case B_EXP: return g * out;
    case B_LOG: return g / a;
    case B_TANH: return g * (1 - out * out);
    case B_SIGMOID: return g * (1 - out) * out;
    case B_RELU: return out <= 0 ? 0 : g;
    case B_SQRT: return g / (2 * out);
    case B_ABS: return g * ((a > 0) - (a < 0));
    default: return g * (2 * a);                       /* B_SQUARE */
  }
}

/* Value i of a float32 (f32) or float64 array as a double. */
#define LD(f32, pf, pd, i) ((f32) ? (double)(pf)[i] : (pd)[i])

/* out[i] = f(x[i], y[i]), or f(x[i], k) with 'one'. */
TL_LOOP void fwd_loop(int r, int f32, int one, size_t n, void *out,
                      const void *x, const void *y, double k) {
  float *restrict of = out;
  double *restrict od = out;
  const float *restrict xf = x, *restrict yf = y;
  const double *restrict xd = x, *restrict yd = y;
  for (size_t i = 0; i < n; i++) {
    double a = LD(f32, xf, xd, i);
    double b = one ? k : LD(f32, yf, yd, i);
    double v = fwd_val(r, a, b);
    if (f32) of[i] = (float)v; else od[i] = v;
  }
}

/* dst[i] (=, with 'set', or +=) what position i of an input receives. */
TL_LOOP void bwd_loop(int r, int f32, int one, int set, size_t n, void *dst,
                      const void *x, const void *y, double k,
                      const void *out, const void *g) {
  float *restrict df = dst;
  double *restrict dd = dst;
  const float *restrict xf = x, *restrict yf = y, *restrict of = out,
              *restrict gf = g;
  const double *restrict xd = x, *restrict yd = y, *restrict od = out,
               *restrict gd = g;
  for (size_t i = 0; i < n; i++) {
    double a = LD(f32, xf, xd, i);
    double b = one ? k : LD(f32, yf, yd, i);
    double c = bwd_val(r, a, b, LD(f32, of, od, i), LD(f32, gf, gd, i));
    if (f32) df[i] = set ? (float)c : df[i] + (float)c;
    else dd[i] = set ? c : dd[i] + c;
  }
}

/* One case per (rule, dtype, one): rules that read b get both 'one'
** variants, the others only one = 1 (y is not read). */
TL_CLONES
static void fwd_run(int r, int f32, int one, size_t n, void *out,
                    const void *x, const void *y, double k) {
#define FC(R, F, O) case (R) * 4 + (F) * 2 + (O): \
  fwd_loop(R, F, O, n, out, x, y, k); break;
#define FB(R) FC(R, 0, 0) FC(R, 0, 1) FC(R, 1, 0) FC(R, 1, 1)
#define FU(R) FC(R, 0, 1) FC(R, 1, 1)
  switch (r * 4 + f32 * 2 + (one || r >= F_NEG)) {
    FB(F_ADD) FB(F_SUB) FB(F_MUL) FB(F_DIV) FB(F_RSUB) FB(F_RDIV) FB(F_LEAKY)
    FU(F_NEG) FU(F_RELU) FU(F_SQRT) FU(F_ABS) FU(F_SQUARE)
    default: break;
  }
#undef FU
#undef FB
#undef FC
}

TL_CLONES
static void bwd_run(int r, int f32, int one, int set, size_t n, void *dst,
                    const void *x, const void *y, double k, const void *out,
                    const void *g) {
#define BC(R, F, O, S) case (R) * 8 + (F) * 4 + (O) * 2 + (S): \
  bwd_loop(R, F, O, S, n, dst, x, y, k, out, g); break;
#define BB(R) BC(R, 0, 0, 0) BC(R, 0, 0, 1) BC(R, 0, 1, 0) BC(R, 0, 1, 1) \
              BC(R, 1, 0, 0) BC(R, 1, 0, 1) BC(R, 1, 1, 0) BC(R, 1, 1, 1)
#define BU(R) BC(R, 0, 1, 0) BC(R, 0, 1, 1) BC(R, 1, 1, 0) BC(R, 1, 1, 1)
  switch (r * 8 + f32 * 4 + (one || r >= B_PASS) * 2 + set) {
    BB(B_MULB) BB(B_DIVB) BB(B_DIVGB) BB(B_LEAKY)
    BU(B_PASS) BU(B_NEG) BU(B_MULA) BU(B_RDIV) BU(B_EXP) BU(B_LOG) BU(B_TANH)
    BU(B_SIGMOID) BU(B_RELU) BU(B_SQRT) BU(B_ABS) BU(B_SQUARE)
    default: break;
  }
#undef BU
#undef BB
#undef BC
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
#undef TL_LOOP
#undef LD

void tl__ew_fast_forward(int op, int f32, size_t n, void *out, const void *x,
                         const void *y, double k) {
  fwd_run(fwd_rule(op, k), f32, y == NULL, n, out, x, y, k);
}

void tl__ew_fast_backward(int op, int slot, int f32, int set, size_t n,
                          void *dst, const void *x, const void *y, double k,
                          const void *out, const void *g) {
  bwd_run(bwd_rule(op, slot, k), f32, y == NULL, set, n, dst, x, y, k, out, g);
}
