/*
** optim.c -- SGD, RMSprop, Adagrad, Adam and AdamW (tl_optim.h).
**
** State lives in arrays parallel to the parameter list.  Each update is
** written in the order of operations of PyTorch's single-tensor code
** (lerp for moving averages, sqrt(v)/sqrt(bc2) + eps for Adam's
** denominator), so results agree with it to the last bits or close.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "size.h"
#include "tl_optim.h"

struct tl_optim {
  tl_optim_kind kind;
  tl_optim_config cfg;
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
** Updates: one function per kind, for the value *p (state slot i) with
** gradient g, at its parameter's step t (already counted).  An array
** parameter is updated value by value, each with its own state.
** ======================================================================= */

/* s1: momentum buffer */
static void sgd(tl_optim *o, size_t i, double *p, double g, uint64_t t) {
  const tl_optim_config *c = &o->cfg;
  if (c->weight_decay != 0) g += c->weight_decay * *p;
  if (c->momentum != 0) {
    double *b = &o->s1[i];
    *b = t == 1 ? g : c->momentum * *b + (1 - c->dampening) * g;
    g = c->nesterov ? g + c->momentum * *b : *b;
  }
  *p -= c->lr * g;
}

/* s1: square average, s2: momentum buffer, s3: gradient average */
static void rmsprop(tl_optim *o, size_t i, double *p, double g, uint64_t t) {
  const tl_optim_config *c = &o->cfg;
  (void)t;
  if (c->weight_decay != 0) g += c->weight_decay * *p;
  double *v = &o->s1[i];
  *v = *v * c->alpha + (1 - c->alpha) * g * g;
  double avg;
  if (c->centered) {
    double *ga = &o->s3[i];
    *ga += (1 - c->alpha) * (g - *ga);             /* lerp */
    avg = sqrt(*v - *ga * *ga);
  } else
    avg = sqrt(*v);
  avg += c->eps;
  if (c->momentum > 0) {
    double *b = &o->s2[i];
    *b = *b * c->momentum + g / avg;
    *p -= c->lr * *b;
  } else
    *p -= c->lr * (g / avg);
}

/* s1: sum of squared gradients */
static void adagrad(tl_optim *o, size_t i, double *p, double g, uint64_t t) {
  const tl_optim_config *c = &o->cfg;
  if (c->weight_decay != 0) g += c->weight_decay * *p;
  double clr = c->lr / (1 + (double)(t - 1) * c->lr_decay);
  o->s1[i] += g * g;
  *p -= clr * (g / (sqrt(o->s1[i]) + c->eps));
}

/* s1: first moment, s2: second moment, s3: running max of s2 (amsgrad);
** AdamW decays the parameter, Adam the gradient */
static void adam(tl_optim *o, size_t i, double *p, double g, uint64_t t) {
  const tl_optim_config *c = &o->cfg;
  if (o->kind == TL_OPTIM_ADAMW) *p *= 1 - c->lr * c->weight_decay;
  else if (c->weight_decay != 0) g += c->weight_decay * *p;
  double *m = &o->s1[i], *v = &o->s2[i];
  *m += (1 - c->beta1) * (g - *m);                 /* lerp */
  *v = *v * c->beta2 + (1 - c->beta2) * g * g;
  double bc1 = 1 - pow(c->beta1, (double)t);
  double bc2 = 1 - pow(c->beta2, (double)t);
  double step_size = c->lr / bc1;
  double vv = *v;
  if (c->amsgrad) {
    if (o->s3[i] < vv) o->s3[i] = vv;
    vv = o->s3[i];
  }
  double denom = sqrt(vv) / sqrt(bc2) + c->eps;
  *p -= step_size * (*m / denom);
}

typedef void (*update_fn)(tl_optim *o, size_t i, double *p, double g,
                          uint64_t t);

static const update_fn updates[TL_OPTIM_COUNT] = {
  sgd, rmsprop, adagrad, adam, adam
};

void tl_optim_step(tl_optim *o) {
  update_fn update = updates[o->kind];
  for (size_t i = 0; i < o->n; i++) {
    tl_node *p = o->params[i];
    if (!(p->flags & TL_F_HAS_GRAD)) continue;   /* PyTorch: grad is None */
    uint64_t t = ++o->steps[i];
    if (!tl__is_array(p)) {
      update(o, o->offset[i], &p->val.v, p->grad, t);
      continue;
    }
    double *v = p->val.arr->data, *g = p->val.arr->grad;
    for (size_t j = 0, size = p->val.arr->size; j < size; j++)
      update(o, o->offset[i] + j, &v[j], g[j], t);
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
