/*
** trace.c -- backward one step at a time, with each step's chain rule in
** numbers (tl_trace.h): e:explain() and the step-by-step drawings.
**
** The numbers come from the engine itself, not from a second copy of the
** math: a step runs the op's backward rule (tl__backward_sweep over one
** node).  What each input receives is read off directly for scalar
** elementwise ops (tl__ew_input_grad, the call the sweep makes); for every
** other op the rule runs twice, once on inputs whose gradients were set
** aside (what they hold afterwards is what the op gives them), and once
** for real on the gradients put back, so the pass adds in the order and
** with the rounding of tl_backward.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tl_trace.h"

/* A gradient as it was: the HAS_GRAD bit, the scalar, an array's values
** (malloc'd, or NULL when it had none). */
typedef struct saved_grad {
  uint8_t has;
  double grad;
  double *arr;
} saved_grad;

/* A growing string; 'failed' sticks after a short allocation. */
typedef struct sbuf { char *p; size_t len, cap; int failed; } sbuf;

struct tl_trace {
  tl_node *root;
  tl_node **order;         /* tl_topo's order, copied (walks reuse ctx's) */
  size_t count;
  saved_grad *saved;       /* [count]: the gradients before the trace */
  tl_node **keys;          /* open addressing: node -> position */
  size_t *pos, hcap;
  size_t next;             /* order[next - 1] is the next candidate */
  size_t steps;            /* in the whole pass */
  int seeded;
  tl_node *node;           /* of the last step */
  sbuf text;
  const char *who;         /* errors name it: "explain", "steps", "html" */
};

/* {======================================================================
** Strings
** ======================================================================= */

static void sb_printf(sbuf *b, const char *fmt, ...) {
  if (b->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) { b->failed = 1; return; }
    if ((size_t)n < room) { b->len += (size_t)n; return; }
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap <= b->len + (size_t)n) ncap *= 2;
    char *p = realloc(b->p, ncap);
    if (p == NULL) { b->failed = 1; return; }
    b->p = p;
    b->cap = ncap;
  }
}

static const char *num(char *buf, size_t size, double v) {
  return tl_format_number(buf, size, v, 'g', 6);
}

/* }====================================================================== */

/* {======================================================================
** Names: label, or op#position
** ======================================================================= */

static size_t hash_ptr(const void *p, size_t cap) {
  uintptr_t h = (uintptr_t)p;
  h ^= h >> 17;
  h *= (uintptr_t)0x9E3779B97F4A7C15ull;
  h ^= h >> 29;
  return (size_t)h & (cap - 1);
}

static size_t position(const tl_trace *t, const tl_node *n) {
  for (size_t i = hash_ptr(n, t->hcap);; i = (i + 1) & (t->hcap - 1)) {
    if (t->keys[i] == n) return t->pos[i];
    if (t->keys[i] == NULL) return 0;
  }
}

const char *tl_trace_name(const tl_trace *t, const tl_node *n, char *buf,
                          size_t size) {
  const char *label = tl_label(n);
  if (label != NULL && label[0] != '\0') snprintf(buf, size, "%s", label);
  else snprintf(buf, size, "%s#%zu", n->op == TL_OP_LEAF ? "leaf" :
                tl_node_op_name(n), position(t, n));
  return buf;
}

/* }====================================================================== */

/* {======================================================================
** Setting gradients aside and putting them back
** ======================================================================= */

static int save(saved_grad *s, tl_node *n) {
  s->has = n->flags & TL_F_HAS_GRAD;
  s->grad = n->grad;
  s->arr = NULL;
  if (s->has && tl__is_array(n)) {
    size_t bytes = tl__size(n) * tl__esize(tl__dtype(n));
    s->arr = malloc(bytes);
    if (s->arr == NULL) return 0;
    memcpy(s->arr, n->val.arr->grad, bytes);
  }
  return 1;
}

static void restore(saved_grad *s, tl_node *n) {
  n->flags = (uint8_t)((n->flags & ~TL_F_HAS_GRAD) | s->has);
  n->grad = s->grad;
  if (s->arr != NULL)
    memcpy(n->val.arr->grad, s->arr, tl__size(n) * tl__esize(tl__dtype(n)));
  free(s->arr);
  s->arr = NULL;
}

/* }====================================================================== */

/* Whether backward has a step at 'n': an op that needs a gradient (a
** captured graph, compile.c, also holds ops over data alone, which
** backward skips as it skips leaves). */
static int has_step(const tl_node *n) {
  return n->op != TL_OP_LEAF && tl__wants_grad(n);
}

/* Errors name 'who', what the caller asked for ("explain", "steps",
** "html"), not the trace underneath. */
static tl_trace *trace_new(tl_ctx *ctx, tl_node *root, const char *who,
                           tl_status *status) {
  *status = TL_EARG;
  if (root == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "%s: node expected, got NULL", who);
    return NULL;
  }
  if (tl__is_array(root)) {
    char s[64];
    tl_ctx_fail(ctx, TL_EARG, "%s: the root is an array of shape %s; "
                "backward starts from a scalar (sum it first)", who,
                tl__shape_str(root, s, sizeof s));
    return NULL;
  }
  if (!tl__wants_grad(root)) {
    tl_ctx_fail(ctx, TL_EARG, "%s: the root needs no gradient "
                "(requires_grad is false, on it or on every leaf it comes "
                "from)", who);
    return NULL;
  }
  size_t count;
  tl_node *const *order = tl_topo(ctx, root, &count);
  *status = ctx->in_callback ? TL_EARG : TL_ENOMEM;  /* walks refused there */
  if (order == NULL) return NULL;
  *status = TL_ENOMEM;
  tl_trace *t = calloc(1, sizeof *t);
  size_t hcap = 16;
  while (hcap < 2 * count) hcap *= 2;
  if (t == NULL) goto nomem;
  t->order = malloc(count * sizeof *t->order);
  t->saved = calloc(count, sizeof *t->saved);
  t->keys = calloc(hcap, sizeof *t->keys);
  t->pos = malloc(hcap * sizeof *t->pos);
  if (!t->order || !t->saved || !t->keys || !t->pos) goto nomem;
  memcpy(t->order, order, count * sizeof *t->order);
  t->count = count;
  t->hcap = hcap;
  t->root = root;
  t->who = who;
  t->next = count;
  t->steps = 1;
  for (size_t i = 0; i < count; i++) {
    tl_node *n = t->order[i];
    size_t h = hash_ptr(n, hcap);
    while (t->keys[h] != NULL) h = (h + 1) & (hcap - 1);
    t->keys[h] = n;
    t->pos[h] = i + 1;
    t->steps += has_step(n);
  }
  /* Set every gradient aside, then start as backward does, from none;
  ** leaves too, so that they show this pass alone. */
  for (size_t i = 0; i < count; i++) {
    tl_node *n = t->order[i];
    if (!save(&t->saved[i], n)) { t->count = i; goto nomem_restore; }
  }
  for (size_t i = 0; i < count; i++) {
    tl_node *n = t->order[i];
    n->flags &= (uint8_t)~TL_F_HAS_GRAD;
    if (tl__is_array(n) && tl__wants_grad(n) && !tl__alloc_grad(ctx, n))
      goto nomem_restore;
  }
  *status = TL_OK;
  return t;
nomem_restore:
  tl_trace_free(ctx, t);
  tl_ctx_fail(ctx, TL_ENOMEM, "%s: out of memory", who);
  return NULL;
nomem:
  if (t != NULL) {
    free(t->order); free(t->saved); free(t->keys); free(t->pos); free(t);
  }
  tl_ctx_fail(ctx, TL_ENOMEM, "%s: out of memory", who);
  return NULL;
}

tl_status tl_trace_new_for(tl_ctx *ctx, tl_node *root, const char *who,
                           tl_trace **t) {
  tl_status status;
  *t = trace_new(ctx, root, who ? who : "explain", &status);
  return status;
}

tl_status tl_trace_new(tl_ctx *ctx, tl_node *root, tl_trace **t) {
  return tl_trace_new_for(ctx, root, "explain", t);
}

void tl_trace_free(tl_ctx *ctx, tl_trace *t) {
  (void)ctx;
  if (t == NULL) return;
  for (size_t i = 0; i < t->count; i++) restore(&t->saved[i], t->order[i]);
  free(t->order); free(t->saved); free(t->keys); free(t->pos);
  free(t->text.p);
  free(t);
}

size_t tl_trace_count(const tl_trace *t) { return t->steps; }
tl_node *tl_trace_node(const tl_trace *t) { return t->node; }
const char *tl_trace_text(const tl_trace *t) { return t->text.p ? t->text.p : ""; }

/* {======================================================================
** One line: the rule with names, with numbers, its result
** ======================================================================= */

/* What the rule's placeholders stand for at one input slot. */
typedef struct slot_env {
  const tl_trace *t;
  tl_node *n;              /* the op's result */
  size_t slot, first_rep;  /* the slot; the first slot of the last part */
} slot_env;

/* Writes a number into an expression: in parentheses when negative,
** unless it is the whole expression ('alone'). */
static void put_number(sbuf *b, double v, int alone) {
  char s[64];
  if (v < 0 && !alone) sb_printf(b, "(%s)", num(s, sizeof s, v));
  else sb_printf(b, "%s", num(s, sizeof s, v));
}

/* A value in an expression: a scalar's number, an array's shape. */
static void put_value(sbuf *b, tl_node *n, double v, int alone) {
  char s[64];
  if (tl__is_array(n)) sb_printf(b, "%s", tl__shape_str(n, s, sizeof s));
  else put_number(b, v, alone);
}

static int is_name_char(char c) { return c >= 'a' && c <= 'z'; }

/* Expands the part of the rule text [p, end) into 'b', with names
** (numeric 0) or numbers (numeric 1).  'alone': the part is one
** placeholder, whose negative number then needs no parentheses. */
static void expand(sbuf *b, const slot_env *e, const char *p, const char *end,
                   int numeric) {
  tl_node *n = e->n;
  tl_node *const *in = tl__inputs(n);
  size_t nin = tl__nin(n);
  char nm[96];
  int alone = 0;
  {
    const char *q = p + 1;
    while (q < end && is_name_char(*q)) q++;
    alone = *p == '$' && q == end;
  }
  while (p < end) {
    if (*p != '$') { sb_printf(b, "%c", *p++); continue; }
    const char *q = ++p;
    while (q < end && is_name_char(*q)) q++;
    size_t len = (size_t)(q - p);
    p = q;
#define IS(w) (len == sizeof(w) - 1 && memcmp(q - len, w, len) == 0)
    if (IS("g")) {
      /* $g[$i]: one entry of an array's gradient (stack) */
      size_t i = e->slot - e->first_rep;
      if (tl__is_array(n) && end - p >= 4 && memcmp(p, "[$i]", 4) == 0) {
        p += 4;
        if (numeric) put_number(b, tl_grad_at(n, i), alone);
        else sb_printf(b, "%s.grad[%zu]",
                       tl_trace_name(e->t, n, nm, sizeof nm), i + 1);
      } else if (numeric) {
        put_value(b, n, n->grad, alone);
      } else {
        sb_printf(b, "%s.grad", tl_trace_name(e->t, n, nm, sizeof nm));
      }
    } else if (IS("out") || IS("a") || IS("b")) {
      size_t j = IS("a") ? 0 : 1;
      tl_node *x = IS("out") || j >= nin ? n : in[j];  /* rows name inputs they have */
      if (numeric) put_value(b, x, tl__at(x, 0), alone);
      else sb_printf(b, "%s.data", tl_trace_name(e->t, x, nm, sizeof nm));
    } else if (IS("op")) {        /* a custom op's own name */
      sb_printf(b, "%s", tl_node_op_name(n));
    } else if (IS("k")) {
      put_number(b, tl__k(n), alone);
    } else if (IS("row")) {
      sb_printf(b, "%.0f", n->k + 1);
    } else if (IS("i")) {
      sb_printf(b, "%zu", e->slot - e->first_rep + 1);
    } else if (IS("n")) {
      size_t count = n->op == TL_OP_CROSS_ENTROPY ? tl_dim(in[0], 0)
                   : tl__size(in[0]) / tl__size(n);
      sb_printf(b, "%zu", count);
    } else if (IS("xs")) {        /* a neuron's inputs, the first few */
      size_t nx = nin - e->first_rep;
      for (size_t i = 0; i < nx && i < 4; i++) {
        tl_node *x = in[e->first_rep + i];
        if (i) sb_printf(b, ", ");
        if (numeric) put_number(b, x->val.v, 1);
        else sb_printf(b, "%s", tl_trace_name(e->t, x, nm, sizeof nm));
      }
      if (nx > 4) sb_printf(b, ", ... %zu in all", nx);
    } else if (IS("w")) {         /* a neuron's weight of this input */
      size_t i = e->slot - e->first_rep, nw = tl_dim(in[0], 1);
      size_t row = (size_t)n->k;
      if (numeric) put_number(b, in[0]->val.arr->data[row * nw + i], alone);
      else sb_printf(b, "%s.data[%zu, %zu]",
                     tl_trace_name(e->t, in[0], nm, sizeof nm), row + 1, i + 1);
    } else {
      sb_printf(b, "$%.*s", (int)len, q - len);   /* a typo shows as such */
    }
#undef IS
  }
}

/* The part of the rule text for 'slot' as [*p, *end); sets e->first_rep,
** the slot the last part starts at (parts past it repeat the last). */
static void rule_part(tl_op op, slot_env *e, const char **p, const char **end) {
  const char *r = tl_op_grad_text(op), *start = r;
  size_t nparts = 1;
  for (const char *c = r; *c; c++) nparts += *c == ';';
  e->first_rep = nparts - 1;
  size_t want = e->slot < nparts ? e->slot : nparts - 1, part = 0;
  for (const char *c = r;; c++) {
    if (*c == ';' || *c == '\0') {
      if (part == want) { *p = start; *end = c; return; }
      part++;
      start = c + 1;
      while (*start == ' ') start++;
    }
  }
}

/* Writes what an array of 'x's shape holding 'v' is: its nonzero entries
** when at most 4 are, else a summary. */
static void put_array(sbuf *b, tl_node *x, const double *v) {
  char s[64], m[64];
  size_t size = tl__size(x), nz = 0;
  double sum = 0, lo = v[0], hi = v[0];
  for (size_t i = 0; i < size; i++) {
    nz += v[i] != 0;
    sum += v[i];
    if (v[i] < lo) lo = v[i];
    if (v[i] > hi) hi = v[i];
  }
  sb_printf(b, "%s", tl__shape_str(x, s, sizeof s));
  if (nz == 0) { sb_printf(b, " zeros"); return; }
  if (nz > 4) {
    sb_printf(b, " sum %s,", num(s, sizeof s, sum));
    sb_printf(b, " min %s, max %s", num(s, sizeof s, lo), num(m, sizeof m, hi));
    return;
  }
  size_t nd = tl__ndim(x), done = 0;
  const size_t *shape = tl__shape(x);
  sb_printf(b, " with ");
  for (size_t i = 0; i < size; i++) {
    if (v[i] == 0) continue;
    sb_printf(b, "%s[", done++ ? ", " : "");
    size_t stride = size;
    for (size_t d = 0; d < nd; d++) {
      stride /= shape[d];
      sb_printf(b, "%s%zu", d ? ", " : "", (i / stride) % shape[d] + 1);
    }
    sb_printf(b, "] = %s", num(s, sizeof s, v[i]));
  }
}

/* One line for 'slot' of the step at 'n': the input x receives 'v' (a
** scalar's number, or an array's values); 'had' whether x held a gradient
** of this pass before, 'now' its scalar gradient after; 'uses' how many
** slots the line stands for. */
static void put_line(tl_trace *t, tl_node *n, size_t slot, const double *v,
                     int had, double now, size_t uses) {
  sbuf *b = &t->text;
  tl_node *x = tl__inputs(n)[slot];
  char nm[96], s[64];
  slot_env e = {t, n, slot, 0};
  const char *p, *end;
  rule_part((tl_op)n->op, &e, &p, &end);
  if (b->len > 0) sb_printf(b, "\n");
  sb_printf(b, "%s.grad += ", tl_trace_name(t, x, nm, sizeof nm));
  expand(b, &e, p, end, 0);
  sbuf numbers = {0};
  expand(&numbers, &e, p, end, 1);
  sbuf result = {0};
  if (tl__is_array(x)) put_array(&result, x, v);
  else sb_printf(&result, "%s", num(s, sizeof s, *v));
  if (numbers.failed || result.failed || !numbers.p || !result.p) b->failed = 1;
  else {
    /* "c.grad += d.grad = 1", not "= 1 = 1" */
    if (strcmp(numbers.p, result.p) != 0) sb_printf(b, " = %s", numbers.p);
    sb_printf(b, " = %s", result.p);
  }
  free(numbers.p);
  free(result.p);
  if (uses > 1) sb_printf(b, " (its %zu uses together)", uses);
  if (had && !tl__is_array(x))
    sb_printf(b, " (%s.grad now %s)", tl_trace_name(t, x, nm, sizeof nm),
              num(s, sizeof s, now));
}

/* }====================================================================== */

/* {======================================================================
** Steps
** ======================================================================= */

/* A scalar elementwise op: each slot's number from the op's own function,
** then the real step. */
static void step_elementwise(tl_ctx *ctx, tl_trace *t, tl_node *n) {
  tl_node *const *in = tl__inputs(n);
  size_t nin = tl__nin(n);
  double run[2];
  int has[2];
  for (size_t s = 0; s < nin; s++) {
    tl_node *x = in[s];
    has[s] = (x->flags & TL_F_HAS_GRAD) != 0;
    run[s] = x->grad;
    if (s == 1 && in[1] == in[0]) { has[1] = 1; run[1] = run[0]; }
    if (!tl__wants_grad(x)) continue;
    double c = tl__ew_input_grad(n, (int)s);
    double now = has[s] ? run[s] + c : c;
    put_line(t, n, s, &c, has[s], now, 1);
    run[s] = now;
    if (s == 0 && nin == 2 && in[1] == in[0]) { has[1] = 1; run[1] = now; }
  }
  tl__backward_sweep(ctx, &n, 1);
}

/* Any other op: the rule runs on the inputs' gradients set aside, which
** then hold what the op gives; they are put back and the rule runs again
** for real.  0 when memory is short or the rule failed (a custom op's
** backward; *failed is set, the error too); the gradients are put back,
** the real step not run. */
static int step_measured(tl_ctx *ctx, tl_trace *t, tl_node *n, int *failed) {
  tl_node *const *in = tl__inputs(n);
  size_t nin = tl__nin(n), cap = nin ? nin : 1;
  saved_grad *sv = calloc(cap, sizeof *sv);
  size_t *first = malloc(cap * sizeof *first);  /* the slot of the first use */
  double **got = calloc(cap, sizeof *got);      /* what each input received */
  unsigned char *set_aside = calloc(cap, 1);
  size_t *uses = calloc(cap, sizeof *uses);     /* slots of each first use */
  int ok = sv && first && got && set_aside && uses;
  /* an input seen before in this list is marked (a stack of thousands of
  ** scalars stays linear); only a repeated one searches for its first use */
  uint32_t epoch = tl__next_epoch(ctx);
  for (size_t s = 0; ok && s < nin; s++) {
    first[s] = s;
    if (in[s]->mark == epoch) {
      for (size_t j = 0; j < s; j++)
        if (in[j] == in[s]) { first[s] = j; break; }
    }
    in[s]->mark = epoch;
    uses[first[s]]++;
  }
  for (size_t s = 0; ok && s < nin; s++)
    if (first[s] == s && tl__wants_grad(in[s])) {
      if (!save(&sv[s], in[s])) { ok = 0; break; }
      set_aside[s] = 1;
      in[s]->flags &= (uint8_t)~TL_F_HAS_GRAD;
    }
  if (ok && tl__backward_sweep(ctx, &n, 1) != TL_OK) ok = 0, *failed = 1;
  for (size_t s = 0; ok && s < nin; s++) {
    if (!set_aside[s] || !(in[s]->flags & TL_F_HAS_GRAD)) continue;
    size_t size = tl__size(in[s]);
    got[s] = malloc(size * sizeof(double));
    if (got[s] == NULL) { ok = 0; break; }
    tl_read_grads(in[s], got[s]);
  }
  for (size_t s = 0; set_aside && s < nin; s++)
    if (set_aside[s]) restore(&sv[s], in[s]);
  if (ok) {
    for (size_t s = 0; s < nin; s++) {
      if (got[s] == NULL) continue;
      int had = (in[s]->flags & TL_F_HAS_GRAD) != 0;
      double now = had ? in[s]->grad + got[s][0] : got[s][0];
      put_line(t, n, s, got[s], had, now, uses[s]);
    }
    if (tl__backward_sweep(ctx, &n, 1) != TL_OK) ok = 0, *failed = 1;
  }
  for (size_t s = 0; got && s < nin; s++) free(got[s]);
  free(sv); free(first); free(got); free(set_aside); free(uses);
  return ok;
}

int tl_trace_next(tl_ctx *ctx, tl_trace *t) {
  t->text.len = 0;
  if (t->text.p) t->text.p[0] = '\0';
  t->text.failed = 0;
  if (!t->seeded) {
    char nm[96];
    t->seeded = 1;
    t->node = t->root;
    tl__grad_add(t->root, 1.0);
    sb_printf(&t->text, "%s.grad = 1 (the seed)",
              tl_trace_name(t, t->root, nm, sizeof nm));
  } else {
    while (t->next > 0 && !has_step(t->order[t->next - 1])) t->next--;
    if (t->next == 0) return 0;
    tl_node *n = t->order[--t->next];
    t->node = n;
    int failed = 0;
    if (!tl__is_array(n) && (tl_op_flags((tl_op)n->op) & TL_OPF_EW))
      step_elementwise(ctx, t, n);
    else if (!step_measured(ctx, t, n, &failed)) {
      if (failed) return -1;              /* the error is the rule's */
      t->text.failed = 1;
    }
  }
  if (t->text.failed) {
    tl_ctx_fail(ctx, TL_ENOMEM, "%s: out of memory", t->who);
    return -1;
  }
  return 1;
}

tl_status tl_explain(tl_ctx *ctx, tl_node *root, char **text, size_t *len) {
  *text = NULL;
  *len = 0;
  tl_status status;
  tl_trace *t = trace_new(ctx, root, "explain", &status);
  if (t == NULL) return status;
  sbuf all = {0};
  int r;
  while ((r = tl_trace_next(ctx, t)) == 1)
    sb_printf(&all, "%s%s", all.len ? "\n" : "", tl_trace_text(t));
  tl_trace_free(ctx, t);
  if (r < 0 || all.failed) {
    free(all.p);
    if (r >= 0) tl_ctx_fail(ctx, TL_ENOMEM, "explain: out of memory");
    return TL_ENOMEM;
  }
  if (all.p == NULL) sb_printf(&all, "%s", "");
  *text = all.p;
  *len = all.len;
  return TL_OK;
}

/* }====================================================================== */
