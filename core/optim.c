/*
** optim.c -- SGD, RMSprop, Adagrad, Adam and AdamW (tl_optim.h).
**
** State lives in arrays parallel to the parameter list.  Each update is
** written in the order of operations of PyTorch's single-tensor code
** (lerp for moving averages, sqrt(v)/sqrt(bc2) + eps for Adam's
** denominator), so results agree with it to the last bits or close.  A
** step updates each parameter in one vectorized pass (see Updates).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "size.h"
#include "tl_optim.h"

/* The options that choose an update's loop, per kind (see Updates). */
enum { SGD_WD = 1, SGD_MOMENTUM = 2, SGD_NESTEROV = 4, SGD_FIRST = 8 };
enum { RMS_WD = 1, RMS_CENTERED = 2, RMS_MOMENTUM = 4 };
enum { ADAGRAD_WD = 1 };
enum { ADAM_WD = 1, ADAM_DECAY = 2, ADAM_AMSGRAD = 4 };
/* With every kind: the parameter and its gradient are float32 arrays. */
enum { UPD_F32 = 64 };

struct tl_optim {
  tl_optim_kind kind;
  tl_optim_config cfg;
  int flags;            /* the kind's option flags, from cfg (lr is not one) */
  size_t n;
  tl_node **params;     /* one reference each */
  uint64_t *steps;      /* per parameter: updates done so far */
  size_t *offset;       /* per parameter: its first value's state slot */
  size_t nslots;        /* values of all parameters (arrays count each) */
  double *s1, *s2, *s3; /* per-kind state, one slot per value, or NULL
                        ** where the kind and its options need none */
};

static const char *const names[TL_OPTIM_COUNT] = {
  "SGD", "RMSprop", "Adagrad", "Adam", "AdamW"
};

const char *tl_optim_name(tl_optim_kind kind) {
  return (unsigned)kind < TL_OPTIM_COUNT ? names[kind] : "?";
}

void tl_optim_defaults(tl_optim_kind kind, tl_optim_config *cfg) {
  *cfg = (tl_optim_config){0};
  switch (kind) {
    case TL_OPTIM_SGD: cfg->lr = 1e-3; break;
    case TL_OPTIM_RMSPROP: cfg->lr = 1e-2; cfg->alpha = 0.99; cfg->eps = 1e-8; break;
    case TL_OPTIM_ADAGRAD: cfg->lr = 1e-2; cfg->eps = 1e-10; break;
    case TL_OPTIM_ADAM: case TL_OPTIM_ADAMW:
      cfg->lr = 1e-3; cfg->beta1 = 0.9; cfg->beta2 = 0.999; cfg->eps = 1e-8;
      cfg->weight_decay = kind == TL_OPTIM_ADAMW ? 1e-2 : 0;
      break;
    default: break;
  }
}

/* {======================================================================
** Construction
** ======================================================================= */

static int cmp_address(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)*(tl_node *const *)a, y = (uintptr_t)*(tl_node *const *)b;
  return (x > y) - (x < y);
}

/* TL_OK if no node appears twice in params[0..n): a repeated parameter
** would be updated twice per step, silently.  Sorts a copy: O(n log n). */
static tl_status all_distinct(tl_ctx *ctx, size_t n, tl_node *const *params) {
  size_t bytes;
  tl_node **copy = tl__size_mul(n, sizeof *copy, &bytes) ? malloc(bytes) : NULL;
  if (copy == NULL)
    return tl_ctx_fail(ctx, TL_ENOMEM, "out of memory creating an optimizer");
  memcpy(copy, params, bytes);
  qsort(copy, n, sizeof *copy, cmp_address);
  int ok = 1;
  for (size_t i = 1; i < n && ok; i++) ok = copy[i] != copy[i - 1];
  free(copy);
  if (!ok)
    return tl_ctx_fail(ctx, TL_EARG, "a parameter appears more than once in the list");
  return TL_OK;
}

/* 1 if 'v' is a number >= 0 (nan fails), else fails with its name. */
static int nonneg(tl_ctx *ctx, const char *what, double v) {
  if (v >= 0) return 1;
  char buf[32];
  tl_ctx_fail(ctx, TL_EARG, "invalid %s %s: must be >= 0", what,
              tl_format_number(buf, sizeof buf, v, 'g', 6));
  return 0;
}

static int check_config(tl_ctx *ctx, tl_optim_kind kind,
                        const tl_optim_config *c) {
  if (!nonneg(ctx, "learning rate", c->lr) ||
      !nonneg(ctx, "weight_decay", c->weight_decay) ||
      !nonneg(ctx, "momentum", c->momentum) ||
      !nonneg(ctx, "dampening", c->dampening) ||
      !nonneg(ctx, "eps", c->eps) || !nonneg(ctx, "alpha", c->alpha) ||
      !nonneg(ctx, "lr_decay", c->lr_decay) ||
      !nonneg(ctx, "initial_accumulator_value", c->initial_accumulator_value))
    return 0;
  if ((kind == TL_OPTIM_ADAM || kind == TL_OPTIM_ADAMW) &&
      (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))) {
    char b1[32], b2[32];
    tl_ctx_fail(ctx, TL_EARG, "invalid betas (%s, %s): each must be in [0, 1)",
                tl_format_number(b1, sizeof b1, c->beta1, 'g', 6),
                tl_format_number(b2, sizeof b2, c->beta2, 'g', 6));
    return 0;
  }
  if (kind == TL_OPTIM_SGD && c->nesterov &&
      (c->momentum <= 0 || c->dampening != 0)) {
    tl_ctx_fail(ctx, TL_EARG, "nesterov momentum requires a momentum > 0 "
                "and zero dampening");
    return 0;
  }
  return 1;
}

/* The loop an update takes for 'kind' with the options in 'c': the
** conditions the per-value code tested on every value.  AdamW decays even
** with weight_decay 0 (by 1 - lr*0, which is 1 unless lr is inf), as
** before. */
static int option_flags(tl_optim_kind kind, const tl_optim_config *c) {
  int wd = c->weight_decay != 0;
  switch (kind) {
    case TL_OPTIM_SGD:
      if (c->momentum == 0) return wd ? SGD_WD : 0;
      return (wd ? SGD_WD : 0) | SGD_MOMENTUM | (c->nesterov ? SGD_NESTEROV : 0);
    case TL_OPTIM_RMSPROP:
      return (wd ? RMS_WD : 0) | (c->centered ? RMS_CENTERED : 0) |
             (c->momentum > 0 ? RMS_MOMENTUM : 0);
    case TL_OPTIM_ADAGRAD: return wd ? ADAGRAD_WD : 0;
    case TL_OPTIM_ADAM: case TL_OPTIM_ADAMW:
      return (kind == TL_OPTIM_ADAMW ? ADAM_DECAY : wd ? ADAM_WD : 0) |
             (c->amsgrad ? ADAM_AMSGRAD : 0);
    default: return 0;
  }
}

tl_status tl_optim_create(tl_ctx *ctx, tl_optim_kind kind,
                          const tl_optim_config *cfg, size_t n,
                          tl_node *const *params, tl_optim **out) {
  *out = NULL;
  if ((unsigned)kind >= TL_OPTIM_COUNT || cfg == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "unknown optimizer %d", (int)kind);
  if (n == 0 || params == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "optimizer got an empty parameter list");
  for (size_t i = 0; i < n; i++) {
    if (params[i] == NULL)
      return tl_ctx_fail(ctx, TL_EARG, "parameter %zu is NULL", i);
    if (params[i]->op != TL_OP_LEAF)
      return tl_ctx_fail(ctx, TL_EARG, "parameter %zu is not a leaf (it was "
                         "made by '%s'): optimize the leaves it is computed "
                         "from", i, tl_op_name((tl_op)params[i]->op));
  }
  if (!check_config(ctx, kind, cfg)) return TL_EARG;
  tl_status st = all_distinct(ctx, n, params);
  if (st != TL_OK) return st;
  /* state slots: one per value, arrays counting each (the sizes of
  ** distinct live arrays, so the sum cannot wrap; checked all the same) */
  size_t nslots = 0;
  for (size_t i = 0; i < n; i++)
    if (!tl__size_add(nslots, tl__size(params[i]), &nslots)) goto nomem;
  tl_optim *o = calloc(1, sizeof *o);
  if (o == NULL) goto nomem;
  o->kind = kind;
  o->cfg = *cfg;
  o->flags = option_flags(kind, cfg);
  o->params = calloc(n, sizeof *o->params);
  o->steps = calloc(n, sizeof *o->steps);
  o->offset = calloc(n, sizeof *o->offset);
  /* only the state this kind and configuration use: 8 bytes a value for
  ** SGD with momentum, not 24 */
  int adam = kind == TL_OPTIM_ADAM || kind == TL_OPTIM_ADAMW;
  int rms = kind == TL_OPTIM_RMSPROP;
  int need1 = kind != TL_OPTIM_SGD || cfg->momentum != 0;
  int need2 = adam || (rms && cfg->momentum > 0);
  int need3 = (adam && cfg->amsgrad) || (rms && cfg->centered);
  /* a float32 parameter is updated in double (its state is double too)
  ** and rounded back once: one state format for both dtypes, and an
  ** update a little more exact than PyTorch's float one (see Updates) */
  if (need1) o->s1 = calloc(nslots, sizeof *o->s1);
  if (need2) o->s2 = calloc(nslots, sizeof *o->s2);
  if (need3) o->s3 = calloc(nslots, sizeof *o->s3);
  if (!o->params || !o->steps || !o->offset || (need1 && !o->s1) ||
      (need2 && !o->s2) || (need3 && !o->s3)) {
    tl_optim_free(ctx, o);
    goto nomem;
  }
  for (size_t i = 0; i < n; i++) {
    o->offset[i] = o->nslots;
    o->nslots += tl__size(params[i]);
  }
  o->n = n;
  for (size_t i = 0; i < n; i++) {
    o->params[i] = params[i];
    tl_retain(params[i]);
  }
  if (kind == TL_OPTIM_ADAGRAD)
    for (size_t j = 0; j < o->nslots; j++) o->s1[j] = cfg->initial_accumulator_value;
  *out = o;
  return TL_OK;
nomem:
  return tl_ctx_fail(ctx, TL_ENOMEM, "out of memory creating an optimizer");
}

tl_optim *tl_optim_new(tl_ctx *ctx, tl_optim_kind kind,
                       const tl_optim_config *cfg, size_t n,
                       tl_node *const *params) {
  tl_optim *o;
  tl_optim_create(ctx, kind, cfg, n, params, &o);
  return o;
}

void tl_optim_free(tl_ctx *ctx, tl_optim *o) {
  if (o == NULL) return;
  for (size_t i = 0; i < o->n; i++) tl_release(ctx, o->params[i]);
  free(o->params);
  free(o->steps);
  free(o->offset);
  free(o->s1);
  free(o->s2);
  free(o->s3);
  free(o);
}

/* }====================================================================== */

/* {======================================================================
** Updates: one function per kind updates a whole parameter in one pass:
** its values p[0..n) with gradients g[0..n), state from slot 'off' on, at
** its step t (already counted).  A scalar parameter is an array of one.
**
** What is constant over a step (bias corrections, step sizes, 1 - beta)
** is computed once per parameter, outside the loop; since each is the
** same double the per-value code computed, results do not change by a bit.
** The loop bodies are always-inline functions taking the options as flags
** 'f' (o->flags): the array functions call them once per combination with
** 'f' a constant, so each compiles to a branch-free loop the vectorizer
** takes, for AVX2 and for the baseline (TL_CLONES).  The lanes of a vector
** do the same IEEE operations, in the same order, as the scalar code.  A
** scalar runs the same body inline, in baseline code, with the flags
** tested: a call into the AVX2 clone for one value made a model of scalar
** parameters 40% slower to step than the per-value code was.
**
** A float32 parameter (flag UPD_F32) runs the same body: each value and
** gradient is widened to double as it is read, the update computed in
** double against the double state, and the new value rounded to float
** once as it is stored: the result a double update followed by one
** rounding gives, with no scratch copy (the loop converts in registers).
** ======================================================================= */

/* gcc -O2 vectorizes only loops with no scalar remainder (its
** "very-cheap" cost model); these take any n, so they ask for the
** "dynamic" model: the vector loop, then the few values left over.
** The sqrt calls vectorize because the core is built with -fno-math-errno
** (premake5.lua; a per-function "no-math-errno" does not reach gcc 12's
** sqrt, which keeps its branch to the library for negative operands).
** That is safe here: the operands are sums of squares, never negative,
** except in RMSprop with centered, or with alpha > 1, whose sqrt is nan
** either way (sqrtpd and the library return the same default nan); only
** errno, which nobody reads, is no longer set. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("vect-cost-model=dynamic")
#define TL_LOOP static inline __attribute__((always_inline))
#else
#define TL_LOOP static inline
#endif

/* In a loop body with flags 'f' (a constant there): the parameter's value
** i as a double, its gradient's, and storing value i, for the parameter
** 'p' and gradient 'g' given as void pointers (UPD_F32: floats). */
#define P_VIEWS(p, g) \
  double *restrict pd = p; float *restrict pf = p; \
  const double *restrict gd = g; const float *restrict gf = g
#define P_AT(i) ((f & UPD_F32) ? (double)pf[i] : pd[i])
#define G_AT(i) ((f & UPD_F32) ? (double)gf[i] : gd[i])
#define P_SET(i, x) \
  do { if (f & UPD_F32) pf[i] = (float)(x); else pd[i] = (x); } while (0)

/* SGD.  s1: momentum buffer b. */
typedef struct sgd_k { double lr, wd, mu, damp1; } sgd_k;

TL_LOOP void sgd_loop(size_t n, void *p, const void *g,
                      double *restrict b, sgd_k k, int f) {
  P_VIEWS(p, g);
  const double lr = k.lr, wd = k.wd, mu = k.mu, damp1 = k.damp1;
  for (size_t i = 0; i < n; i++) {
    double pi = P_AT(i), d = G_AT(i);
    if (f & SGD_WD) d += wd * pi;
    if (f & SGD_MOMENTUM) {
      double bi = (f & SGD_FIRST) ? d : mu * b[i] + damp1 * d;
      b[i] = bi;
      d = (f & SGD_NESTEROV) ? d + mu * bi : bi;
    }
    P_SET(i, pi - lr * d);
  }
}

TL_CLONES
static void sgd_array(size_t n, void *p, const void *g,
                      double *restrict b, sgd_k k, int f) {
#define CASE(c) case c: sgd_loop(n, p, g, b, k, c); break; \
                case c | UPD_F32: sgd_loop(n, p, g, b, k, c | UPD_F32); break;
  switch (f) {
    CASE(0) CASE(1) CASE(2) CASE(3) CASE(6) CASE(7)
    CASE(10) CASE(11) CASE(14) CASE(15)
    default: break;
  }
#undef CASE
}

static void sgd(const tl_optim *o, size_t off, void *p, const void *g,
                size_t n, uint64_t t, int f32) {
  const tl_optim_config *c = &o->cfg;
  const sgd_k k = {c->lr, c->weight_decay, c->momentum, 1 - c->dampening};
  double *b = o->s1 ? o->s1 + off : NULL;
  int f = o->flags | (t == 1 && b ? SGD_FIRST : 0) | f32;
  if (n == 1 && !f32) sgd_loop(1, p, g, b, k, f);
  else sgd_array(n, p, g, b, k, f);
}

/* RMSprop.  s1: square average v, s2: momentum buffer b, s3: gradient
** average ga. */
typedef struct rms_k { double lr, wd, alpha, oma, eps, mu; } rms_k;

TL_LOOP void rmsprop_loop(size_t n, void *p, const void *g,
                          double *restrict v, double *restrict b,
                          double *restrict ga, rms_k k, int f) {
  P_VIEWS(p, g);
  const double lr = k.lr, wd = k.wd, alpha = k.alpha, oma = k.oma;
  const double eps = k.eps, mu = k.mu;
  for (size_t i = 0; i < n; i++) {
    double pi = P_AT(i), d = G_AT(i);
    if (f & RMS_WD) d += wd * pi;
    double vi = v[i] * alpha + oma * d * d;
    v[i] = vi;
    double avg;
    if (f & RMS_CENTERED) {
      double gi = ga[i] + oma * (d - ga[i]);          /* lerp */
      ga[i] = gi;
      avg = sqrt(vi - gi * gi);
    } else
      avg = sqrt(vi);
    avg += eps;
    if (f & RMS_MOMENTUM) {
      double bi = b[i] * mu + d / avg;
      b[i] = bi;
      P_SET(i, pi - lr * bi);
    } else
      P_SET(i, pi - lr * (d / avg));
  }
}

TL_CLONES
static void rmsprop_array(size_t n, void *p, const void *g,
                          double *restrict v, double *restrict b,
                          double *restrict ga, rms_k k, int f) {
#define CASE(c) case c: rmsprop_loop(n, p, g, v, b, ga, k, c); break; \
                case c | UPD_F32: rmsprop_loop(n, p, g, v, b, ga, k, c | UPD_F32); break;
  switch (f) {
    CASE(0) CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7)
    default: break;
  }
#undef CASE
}

static void rmsprop(const tl_optim *o, size_t off, void *p, const void *g,
                    size_t n, uint64_t t, int f32) {
  const tl_optim_config *c = &o->cfg;
  (void)t;
  const rms_k k = {c->lr, c->weight_decay, c->alpha, 1 - c->alpha, c->eps,
                   c->momentum};
  double *v = o->s1 + off;
  double *b = o->s2 ? o->s2 + off : NULL;
  double *ga = o->s3 ? o->s3 + off : NULL;
  if (n == 1 && !f32) rmsprop_loop(1, p, g, v, b, ga, k, o->flags);
  else rmsprop_array(n, p, g, v, b, ga, k, o->flags | f32);
}

/* Adagrad.  s1: sum of squared gradients s. */
typedef struct adagrad_k { double clr, wd, eps; } adagrad_k;

TL_LOOP void adagrad_loop(size_t n, void *p, const void *g,
                          double *restrict s, adagrad_k k, int f) {
  P_VIEWS(p, g);
  const double clr = k.clr, wd = k.wd, eps = k.eps;
  for (size_t i = 0; i < n; i++) {
    double pi = P_AT(i), d = G_AT(i);
    if (f & ADAGRAD_WD) d += wd * pi;
    double si = s[i] + d * d;
    s[i] = si;
    P_SET(i, pi - clr * (d / (sqrt(si) + eps)));
  }
}

TL_CLONES
static void adagrad_array(size_t n, void *p, const void *g,
                          double *restrict s, adagrad_k k, int f) {
#define CASE(c) case c: adagrad_loop(n, p, g, s, k, c); break; \
                case c | UPD_F32: adagrad_loop(n, p, g, s, k, c | UPD_F32); break;
  switch (f) {
    CASE(0) CASE(1)
    default: break;
  }
#undef CASE
}

static void adagrad(const tl_optim *o, size_t off, void *p, const void *g,
                    size_t n, uint64_t t, int f32) {
  const tl_optim_config *c = &o->cfg;
  const adagrad_k k = {c->lr / (1 + (double)(t - 1) * c->lr_decay),
                       c->weight_decay, c->eps};
  if (n == 1 && !f32) adagrad_loop(1, p, g, o->s1 + off, k, o->flags);
  else adagrad_array(n, p, g, o->s1 + off, k, o->flags | f32);
}

/* Adam and AdamW.  s1: first moment m, s2: second moment v, s3: running
** max of v (amsgrad).  Adam decays the gradient (ADAM_WD), AdamW the
** parameter (ADAM_DECAY, by a factor 1 - lr*wd). */
typedef struct adam_k {
  double wd, decay, omb1, b2, omb2, step_size, sqrt_bc2, eps;
} adam_k;

TL_LOOP void adam_loop(size_t n, void *p, const void *g,
                       double *restrict m, double *restrict v,
                       double *restrict vmax, adam_k k, int f) {
  P_VIEWS(p, g);
  const double wd = k.wd, decay = k.decay, omb1 = k.omb1, b2 = k.b2;
  const double omb2 = k.omb2, step_size = k.step_size;
  const double sqrt_bc2 = k.sqrt_bc2, eps = k.eps;
  for (size_t i = 0; i < n; i++) {
    double pi = P_AT(i), d = G_AT(i);
    if (f & ADAM_DECAY) pi *= decay;
    if (f & ADAM_WD) d += wd * pi;
    double mi = m[i] + omb1 * (d - m[i]);          /* lerp */
    double vi = v[i] * b2 + omb2 * d * d;
    m[i] = mi;
    v[i] = vi;
    if (f & ADAM_AMSGRAD) {
      double hi = vmax[i] < vi ? vi : vmax[i];
      vmax[i] = hi;
      vi = hi;
    }
    double denom = sqrt(vi) / sqrt_bc2 + eps;
    P_SET(i, pi - step_size * (mi / denom));
  }
}

TL_CLONES
static void adam_array(size_t n, void *p, const void *g,
                       double *restrict m, double *restrict v,
                       double *restrict vmax, adam_k k, int f) {
#define CASE(c) case c: adam_loop(n, p, g, m, v, vmax, k, c); break; \
                case c | UPD_F32: adam_loop(n, p, g, m, v, vmax, k, c | UPD_F32); break;
  switch (f) {
    CASE(0) CASE(1) CASE(2) CASE(4) CASE(5) CASE(6)
    default: break;
  }
#undef CASE
}

static void adam(const tl_optim *o, size_t off, void *p, const void *g,
                 size_t n, uint64_t t, int f32) {
  const tl_optim_config *c = &o->cfg;
  double bc1 = 1 - pow(c->beta1, (double)t);
  double bc2 = 1 - pow(c->beta2, (double)t);
  const adam_k k = {c->weight_decay, 1 - c->lr * c->weight_decay,
                    1 - c->beta1, c->beta2, 1 - c->beta2, c->lr / bc1,
                    sqrt(bc2), c->eps};
  double *m = o->s1 + off, *v = o->s2 + off;
  double *vmax = o->s3 ? o->s3 + off : NULL;
  if (n == 1 && !f32) adam_loop(1, p, g, m, v, vmax, k, o->flags);
  else adam_array(n, p, g, m, v, vmax, k, o->flags | f32);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
#undef TL_LOOP
#undef P_VIEWS
#undef P_AT
#undef G_AT
#undef P_SET

typedef void (*update_fn)(const tl_optim *o, size_t off, void *p,
                          const void *g, size_t n, uint64_t t, int f32);

static const update_fn updates[TL_OPTIM_COUNT] = {
  sgd, rmsprop, adagrad, adam, adam
};

void tl_optim_step(tl_optim *o) {
  update_fn update = updates[o->kind];
  for (size_t i = 0; i < o->n; i++) {
    tl_node *p = o->params[i];
    if (!(p->flags & TL_F_HAS_GRAD)) continue;   /* PyTorch: grad is None */
    uint64_t t = ++o->steps[i];
    if (tl__is_array(p))
      update(o, o->offset[i], p->val.arr->data, p->val.arr->grad,
             p->val.arr->size, t,
             tl__dtype(p) == TL_FLOAT32 ? (int)UPD_F32 : 0);
    else
      update(o, o->offset[i], &p->val.v, &p->grad, 1, t, 0);
  }
}

void tl_optim_zero_grad(tl_optim *o) {
  for (size_t i = 0; i < o->n; i++)
    o->params[i]->flags &= (uint8_t)~TL_F_HAS_GRAD;
}

/* }====================================================================== */

tl_optim_kind tl_optim_kind_of(const tl_optim *o) { return o->kind; }
const tl_optim_config *tl_optim_get_config(const tl_optim *o) { return &o->cfg; }
size_t tl_optim_nparams(const tl_optim *o) { return o->n; }

tl_status tl_optim_set_lr(tl_ctx *ctx, tl_optim *o, double lr) {
  if (!nonneg(ctx, "learning rate", lr)) return TL_EARG;
  o->cfg.lr = lr;
  return TL_OK;
}

/* {======================================================================
** State: the optimizer in bytes and back (tl_optim_dump,
** tl_optim_load_bytes; checkpoint.c puts it in checkpoints).
**
** Optimizer state, version 1 (the envelope of serialize.c):
**
**   offset   size  field
**   0        8     magic "TLOS\r\n\x1a\n"
**   8        4     version: 1
**   12       4     kind: 0 SGD, 1 RMSprop, 2 Adagrad, 3 Adam, 4 AdamW
**   16       8     total length in bytes, checksum included
**   24       4     n, the number of parameters
**   28       4     state arrays held: bit 0 s1, bit 1 s2, bit 2 s3
**   32       80    config, binary64: lr momentum dampening weight_decay
**                  alpha eps beta1 beta2 lr_decay initial_accumulator_value
**   112      16    u32 nesterov, centered, amsgrad (0 or 1), then 0
**   128      16*n  per parameter: u64 its number of values, u64 its steps
**   128+16n  8*S   per array held, in order s1 s2 s3: S values (S = the sum
**                  of the parameters' sizes), binary64
**   end-8    8     checksum: 64-bit FNV-1a of every byte before it
**
** Which arrays a kind holds follows from its options (tl_optim_create);
** a file whose bits disagree with its options is refused, as is one whose
** options tl_optim_create would refuse.
** ======================================================================= */

#define STATE_HEADER 128

static const tl__format state_format = {
  "TLOS\r\n\x1a\n", 1, 1, "optimizer state", "optimizer state version",
  STATE_HEADER, SIZE_MAX
};

static unsigned held_arrays(const tl_optim *o) {
  return (o->s1 ? 1u : 0u) | (o->s2 ? 2u : 0u) | (o->s3 ? 4u : 0u);
}

/* Bytes of a state over n parameters of S values in all, with 'arrays'
** held; 0 when that does not fit in a size_t. */
static size_t state_len(size_t n, size_t S, unsigned arrays) {
  size_t k = (arrays & 1) + ((arrays >> 1) & 1) + ((arrays >> 2) & 1);
  size_t per, vals, len;
  if (!tl__size_mul(n, 16, &per) || !tl__size_mul(S, 8 * k, &vals) ||
      !tl__size_add(per, vals, &len) || !tl__size_add(len, STATE_HEADER + 8, &len))
    return 0;
  return len;
}

tl_status tl_optim_dump(tl_ctx *ctx, const tl_optim *o, unsigned char **out,
                        size_t *len) {
  if (o == NULL || out == NULL || len == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "dump: NULL optimizer or output");
  if (o->n > UINT32_MAX)
    return tl_ctx_fail(ctx, TL_EARG, "dump: more than 2^32-1 parameters");
  unsigned arrays = held_arrays(o);
  size_t n = state_len(o->n, o->nslots, arrays);
  unsigned char *b = n != 0 ? malloc(n) : NULL;
  if (b == NULL) return tl_ctx_fail(ctx, TL_ENOMEM, "dump: out of memory");
  const tl_optim_config *c = &o->cfg;
  const double cfg[10] = {c->lr, c->momentum, c->dampening, c->weight_decay,
                          c->alpha, c->eps, c->beta1, c->beta2, c->lr_decay,
                          c->initial_accumulator_value};
  tl__put_u32(b + 12, (uint32_t)o->kind);
  tl__put_u32(b + 24, (uint32_t)o->n);
  tl__put_u32(b + 28, arrays);
  for (int i = 0; i < 10; i++) tl__put_f64(b + 32 + 8 * i, cfg[i]);
  tl__put_u32(b + 112, c->nesterov != 0);
  tl__put_u32(b + 116, c->centered != 0);
  tl__put_u32(b + 120, c->amsgrad != 0);
  tl__put_u32(b + 124, 0);
  unsigned char *p = b + STATE_HEADER;
  for (size_t i = 0; i < o->n; i++, p += 16) {
    tl__put_u64(p, (uint64_t)tl__size(o->params[i]));
    tl__put_u64(p + 8, o->steps[i]);
  }
  const double *s[3] = {o->s1, o->s2, o->s3};
  for (int a = 0; a < 3; a++)
    if (s[a] != NULL)
      for (size_t j = 0; j < o->nslots; j++, p += 8) tl__put_f64(p, s[a][j]);
  tl__seal(&state_format, b, n);
  *out = b;
  *len = n;
  return TL_OK;
}

/* A new optimizer (*out) over params[0..np) holding the state in
** b[0..n), or a status with a message starting "'where': ": TL_EARG when
** the state is for other parameters or (kind >= 0) another kind,
** TL_EFORMAT when it is damaged, TL_ENOMEM. */
tl_status tl__optim_decode(tl_ctx *ctx, const char *where, int path_like,
                           const unsigned char *b, size_t n, int kind,
                           size_t np, tl_node *const *params, tl_optim **out) {
  *out = NULL;
  tl_status st = tl__check_envelope(ctx, &state_format, where, path_like, b, n);
  if (st != TL_OK) return st;
  uint32_t k = tl__get_u32(b + 12), count = tl__get_u32(b + 24);
  uint32_t arrays = tl__get_u32(b + 28);
  if (k >= TL_OPTIM_COUNT) {
    return tl__fail_at(ctx, TL_EFORMAT, where, "invalid optimizer state (unknown "
                       "kind %lu)", (unsigned long)k);
  }
  if (kind >= 0 && k != (uint32_t)kind) {
    return tl__fail_at(ctx, TL_EARG, where, "optimizer state is for %s, this "
                       "optimizer is %s", names[k], names[kind]);
  }
  if (count != np) {
    return tl__fail_at(ctx, TL_EARG, where, "optimizer state is for %lu parameters, "
                       "this optimizer has %zu", (unsigned long)count, np);
  }
  /* the header holds 16 bytes per parameter: check that they are there
  ** before reading them */
  size_t room = n - STATE_HEADER - 8, S = 0;
  if (room / 16 < np) {
    return tl__fail_at(ctx, TL_EFORMAT, where, "invalid optimizer state (%lu "
                       "parameters do not fit in its length)", (unsigned long)count);
  }
  for (size_t i = 0; i < np; i++) {
    uint64_t size = tl__get_u64(b + STATE_HEADER + 16 * i);
    size_t here = tl__size(params[i]);
    if (size != here) {
      return tl__fail_at(ctx, TL_EARG, where, "optimizer state holds %llu values for "
                         "parameter %zu of %zu, where this one has %zu (a model of "
                         "another shape?)", (unsigned long long)size, i + 1, np, here);
    }
    S += here;     /* sizes of distinct live arrays: cannot wrap */
  }
  tl_optim_config c;
  double cfg[10];
  for (int i = 0; i < 10; i++) cfg[i] = tl__get_f64(b + 32 + 8 * i);
  c.lr = cfg[0]; c.momentum = cfg[1]; c.dampening = cfg[2];
  c.weight_decay = cfg[3]; c.alpha = cfg[4]; c.eps = cfg[5];
  c.beta1 = cfg[6]; c.beta2 = cfg[7]; c.lr_decay = cfg[8];
  c.initial_accumulator_value = cfg[9];
  uint32_t flags[4] = {tl__get_u32(b + 112), tl__get_u32(b + 116),
                       tl__get_u32(b + 120), tl__get_u32(b + 124)};
  if (flags[0] > 1 || flags[1] > 1 || flags[2] > 1 || flags[3] != 0) {
    return tl__fail_at(ctx, TL_EFORMAT, where, "invalid optimizer state (option "
                       "flags are not 0 or 1)");
  }
  c.nesterov = (int)flags[0];
  c.centered = (int)flags[1];
  c.amsgrad = (int)flags[2];
  tl_optim *o = NULL;
  st = tl_optim_create(ctx, (tl_optim_kind)k, &c, np, params, &o);
  if (st != TL_OK) {
    char why[200];
    snprintf(why, sizeof why, "%s", tl_ctx_error(ctx));
    return tl__fail_at(ctx, st == TL_EARG ? TL_EFORMAT : st, where, "%s%s%s",
                       st == TL_EARG ? "invalid optimizer state (" : "", why,
                       st == TL_EARG ? ")" : "");
  }
  if (arrays != held_arrays(o) || state_len(np, S, arrays) != n) {
    tl_optim_free(ctx, o);
    return tl__fail_at(ctx, TL_EFORMAT, where, "invalid optimizer state (its "
                       "arrays do not match its options and length)");
  }
  const unsigned char *p = b + STATE_HEADER;
  for (size_t i = 0; i < np; i++, p += 16) o->steps[i] = tl__get_u64(p + 8);
  double *s[3] = {o->s1, o->s2, o->s3};
  for (int a = 0; a < 3; a++)
    if (s[a] != NULL)
      for (size_t j = 0; j < S; j++, p += 8) s[a][j] = tl__get_f64(p);
  *out = o;
  return TL_OK;
}

tl_status tl_optim_load_bytes(tl_ctx *ctx, tl_optim *o, const void *buf,
                              size_t len) {
  if (o == NULL || (buf == NULL && len > 0))
    return tl_ctx_fail(ctx, TL_EARG, "load_bytes: NULL optimizer or buffer");
  tl_optim *fresh;
  tl_status st = tl__optim_decode(ctx, NULL, 0, buf != NULL ? buf : "", len,
                                  (int)o->kind, o->n, o->params, &fresh);
  if (st != TL_OK) return st;
  /* swap: 'o' takes the new state, and the old one is freed with 'fresh' */
  tl_optim old = *o;
  *o = *fresh;
  *fresh = old;
  tl_optim_free(ctx, fresh);
  return TL_OK;
}

tl_node *const *tl_optim_params(const tl_optim *o) { return o->params; }

/* }====================================================================== */
