/*
** tape.c -- the dense tape of a compiled scalar graph (compile.c).
**
** A replay that walks nodes reads and writes a 48-byte node per op, in
** each direction: a million-node chain streams 100 MB per step, more than
** the machine's cache holds, and its time is the memory's.  When every op
** of a captured graph is a scalar elementwise op (the million chain, a
** micrograd-style expression), the capture also writes a tape: each op as
** a 12-byte step (its op and its inputs' slots), and the values and
** gradients in two dense arrays of doubles.  A replay then streams a fifth
** of the bytes.  The steps run the op table's own rules in the sweeps'
** order, so the numbers are the node sweeps' numbers, bit for bit.
**
** Slots: the graph's leaves first (their values gathered from their nodes
** by each pass: parameters change between steps), then the op constants
** (each unary op reads its k from a slot, as a binary op reads its second
** input), then one slot per op node, in the stored order.
**
** The nodes are brought up to date lazily.  Each pass writes only the
** nodes someone outside the graph can read: the output, and every op node
** held by a reference the graph does not account for (a Lua variable, a C
** pointer kept from recording).  Every other op node can only be reached
** through the graph, by a walk (drawing, explain, backward from another
** root) or tl_input, and the walk's first touch of such a node (flag
** TL_F_TAPED) writes every tape's pending values and gradients into its
** nodes first (tl__tape_escape).  That same event, or the release of a
** reference on a taped node, may change who holds what, so the next
** forward counts the holders again (ctx->tape_escapes).
**
** Gradients: an op slot's first contribution in the backward order is
** known when the tape is written, so its step stores it (flag SET_A,
** SET_B) where the sweep tests TL_F_HAS_GRAD; a leaf's slot starts from
** the leaf's gradient, or -0 when it has none: -0 + x is x for every x, so
** its first contribution is stored as it is.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "size.h"

enum {
  SET_A = 1,    /* the first contribution to input a: stored, not added */
  SET_B = 2,
  K_B = 4,      /* b is the op constant's slot: it receives no gradient */
  NO_GRAD = 8   /* the op needs no gradient: backward skips it */
};

typedef struct tstep { uint32_t a, b; uint8_t op, flags; } tstep;

/* What tl__tape_sync has to write into the op nodes. */
enum { STALE_VALUES = 1, STALE_GRADS = 2, GRADS_UNSET = 4 };

typedef double (*rule_f)(double a, double b);
typedef double (*rule_d)(double a, double b, double out, double g);

struct tl__tape {
  tl_node *const *ops;     /* the graph's op nodes: slot base + j is ops[j] */
  size_t nops;
  tl_node **leaves;        /* slots [0, nleaves) */
  uint8_t *leaf_fed;       /* 1 when a slot's leaf receives gradient */
  size_t nleaves;
  size_t base;             /* the first op slot */
  tstep *step;             /* one per op */
  double *v, *g;           /* one per slot; g is NULL in a forward-only tape */
  uint32_t *uses;          /* per op: the references the graph holds on it */
  uint32_t *shown;         /* ops whose nodes every pass writes (held) */
  size_t nshown, shown_cap;
  size_t holders_at;       /* ctx->tape_escapes when 'shown' was counted */
  size_t values_at;        /* ctx->tape_escapes when v was last trusted */
  int stale;               /* STALE_* bits */
  rule_f f[TL_OP_COUNT];
  rule_d da[TL_OP_COUNT], db[TL_OP_COUNT];
};

/* 1 when op node 'n' can be a step: a scalar elementwise op. */
static int steppable(const tl_node *n) {
  rule_f f;
  rule_d da, db;
  return !(n->flags & (TL_F_ARRAY | TL_F_MANY | TL_F_TAPED)) &&
         tl__scalar_rules((tl_op)n->op, &f, &da, &db) &&
         (n->nin == 1 || db != NULL);
}

void tl__tape_free(tl__tape *t) {
  if (t == NULL) return;
  for (size_t j = 0; j < t->nops; j++)
    t->ops[j]->flags &= (uint8_t)~TL_F_TAPED;
  free(t->leaves);
  free(t->leaf_fed);
  free(t->step);
  free(t->v);
  free(t->g);
  free(t->uses);
  free(t->shown);
  free(t);
}

/* Slot numbers of the graph's nodes, kept in their 'mark' (the epoch of
** the capture's walk, restored once the steps are written). */
static void write_steps(tl__tape *t, tl_node *const *order, size_t count) {
  uint32_t epoch = order[count - 1]->mark;
  size_t nl = 0, nk = 0;
  uint64_t last_k = 0;
  for (size_t i = 0; i < count; i++)
    if (tl__nin(order[i]) == 0) {
      t->leaves[nl] = order[i];
      order[i]->mark = (uint32_t)nl++;
    }
  for (size_t j = 0; j < t->nops; j++) {      /* constants: one per run */
    tl_node *n = (tl_node *)t->ops[j];
    if (n->nin != 1) continue;
    uint64_t bits;
    double k = n->k;
    memcpy(&bits, &k, sizeof bits);
    if (nk == 0 || bits != last_k) t->v[nl + nk++] = k;
    last_k = bits;
    t->step[j].b = (uint32_t)(nl + nk - 1);
  }
  t->base = nl + nk;
  for (size_t j = 0; j < t->nops; j++) t->ops[j]->mark = (uint32_t)(t->base + j);
  for (size_t j = 0; j < t->nops; j++) {
    tl_node *n = t->ops[j];
    tstep *s = &t->step[j];
    s->op = n->op;
    s->a = n->in[0]->mark;
    s->flags = n->nin == 1 ? K_B : 0;
    if (n->nin == 2) s->b = n->in[1]->mark;
    if (!tl__wants_grad(n)) s->flags |= NO_GRAD;
    t->v[t->base + j] = n->val.v;
    if (j + 1 < t->nops) n->flags |= TL_F_TAPED;   /* the output is always shown */
  }
  for (size_t i = 0; i < nl; i++) t->v[i] = t->leaves[i]->val.v;
  for (size_t i = 0; i < count; i++) order[i]->mark = epoch;
}

/* The first contribution to each op slot in backward order ('seen' has
** a byte per op), the leaves that receive any, and the references each op
** node gets from the graph: one per mention as an input. */
static void find_firsts(tl__tape *t, uint8_t *seen) {
  for (size_t j = t->nops; j-- > 0;) {
    tstep *s = &t->step[j];
    uint32_t in[2] = {s->a, s->b};
    int nin = (s->flags & K_B) ? 1 : 2;
    for (int k = 0; k < nin; k++) {
      size_t x = in[k];
      if (x >= t->base) t->uses[x - t->base]++;
      if (s->flags & NO_GRAD) continue;
      if (x < t->nleaves) t->leaf_fed[x] = 1;
      else if (x >= t->base && !seen[x - t->base]) {
        seen[x - t->base] = 1;
        s->flags |= k == 0 ? SET_A : SET_B;
      }
    }
  }
  t->uses[t->nops - 1]++;                    /* the graph's own reference */
}

tl__tape *tl__tape_new(tl_node *const *order, size_t count,
                       tl_node *const *ops, size_t nops, int grad, int *nomem) {
  *nomem = 0;
  size_t slots = 0, sbytes = 0, vbytes = 0;   /* constants <= ops */
  if (nops == 0 || !tl__size_add(count, nops, &slots) || slots >= UINT32_MAX)
    return NULL;                             /* slots are 32-bit */
  size_t nleaves = count - nops;
  for (size_t i = 0; i < count; i++) {
    tl_node *n = order[i];
    if (tl__nin(n) == 0 ? (n->flags & TL_F_ARRAY) != 0 : !steppable(n))
      return NULL;
  }
  tl__tape *t = calloc(1, sizeof *t);
  if (t == NULL || !tl__size_mul(nops, sizeof *t->step, &sbytes) ||
      !tl__size_mul(slots, sizeof *t->v, &vbytes))
    goto nomem;
  t->ops = ops;
  t->nops = nops;
  t->nleaves = nleaves;
  t->leaves = malloc((nleaves ? nleaves : 1) * sizeof *t->leaves);
  t->leaf_fed = calloc(nleaves ? nleaves : 1, 1);
  t->step = malloc(sbytes);
  t->v = malloc(vbytes);
  t->g = grad ? calloc(slots, sizeof *t->g) : NULL;
  t->uses = calloc(nops, sizeof *t->uses);
  t->shown_cap = 16;
  t->shown = malloc(t->shown_cap * sizeof *t->shown);
  if (t->leaves == NULL || t->leaf_fed == NULL || t->step == NULL ||
      t->v == NULL || (grad && t->g == NULL) || t->uses == NULL ||
      t->shown == NULL)
    goto nomem;
  for (int op = 0; op < TL_OP_COUNT; op++)
    tl__scalar_rules((tl_op)op, &t->f[op], &t->da[op], &t->db[op]);
  uint8_t *seen = calloc(nops, 1);
  if (seen == NULL) goto nomem;
  write_steps(t, order, count);
  find_firsts(t, seen);
  free(seen);
  t->holders_at = t->values_at = (size_t)-1;    /* counted by the first pass */
  return t;
nomem:
  if (t != NULL) t->nops = 0;               /* no node was flagged yet */
  tl__tape_free(t);
  *nomem = 1;
  return NULL;
}

/* {======================================================================
** Holders: the op nodes every pass keeps current
** ======================================================================= */

/* Counts the holders again (a node pass): the output, and every op node
** with more references than the graph's own.  0 when memory is short. */
static int find_shown(tl_ctx *ctx, tl__tape *t) {
  t->nshown = 0;
  for (size_t j = 0; j < t->nops; j++) {
    if (t->ops[j]->refs <= t->uses[j] && j != t->nops - 1) continue;
    if (t->nshown == t->shown_cap) {
      size_t cap = t->shown_cap * 2;
      uint32_t *p = realloc(t->shown, cap * sizeof *p);
      if (p == NULL) return 0;
      t->shown = p;
      t->shown_cap = cap;
    }
    t->shown[t->nshown++] = (uint32_t)j;
  }
  t->holders_at = ctx->tape_escapes;
  return 1;
}

/* }====================================================================== */

/* {======================================================================
** Forward and backward over the steps
** ======================================================================= */

/* The value just computed stays in a register for its consumer, the next
** step in a chain (as in tl__forward_sweep). */
static void run_forward(const tl__tape *t) {
  const tstep *step = t->step;
  double *v = t->v;
  uint32_t last = UINT32_MAX;
  double lastv = 0;
  for (size_t j = 0, at = t->base; j < t->nops; j++, at++) {
    tstep s = step[j];
    double x = s.a == last ? lastv : v[s.a];
    double y = s.b == last ? lastv : v[s.b];
    double r;
    switch ((tl_op)s.op) {
      case TL_OP_ADD: case TL_OP_ADD_K: r = x + y; break;
      case TL_OP_MUL: case TL_OP_MUL_K: r = x * y; break;
      default: r = t->f[s.op](x, y); break;
    }
    v[at] = lastv = r;
    last = (uint32_t)at;
  }
}

/* Downward, each step's contributions in the sweep's order; the two
** gradients written last are kept in registers (backward_scalar_run in
** ops.c says why), written through to g. */
static void run_backward(const tl__tape *t) {
  const tstep *step = t->step;
  const double *v = t->v;
  double *g = t->g;
  uint32_t n0 = (uint32_t)(t->base + t->nops - 1), n1 = UINT32_MAX;
  double g0 = g[n0], g1 = 0;
#define GRAD_OF(i) ((i) == n0 ? g0 : (i) == n1 ? g1 : g[i])
#define GRAD_PUT(slot, x, gv, set) do { \
    uint32_t x_ = (x); double v_ = (gv); \
    if (x_ == n0) { g0 = (set) ? v_ : g0 + v_; g[x_] = g0; break; } \
    if (x_ == n1) { g1 = (set) ? v_ : g1 + v_; g[x_] = g1; break; } \
    if (!(set)) v_ = g[x_] + v_; \
    g[x_] = v_; \
    if ((slot) == 0) { n0 = x_; g0 = v_; } else { n1 = x_; g1 = v_; } \
  } while (0)
  for (size_t j = t->nops, at = t->base + t->nops; j-- > 0;) {
    tstep s = step[j];
    at--;
    if (s.flags & NO_GRAD) continue;
    double gi = GRAD_OF(at);
    int set_a = s.flags & SET_A, set_b = s.flags & SET_B;
    switch ((tl_op)s.op) {
      case TL_OP_ADD:
        GRAD_PUT(0, s.a, gi, set_a);
        GRAD_PUT(1, s.b, gi, set_b);
        continue;
      case TL_OP_MUL: {
        double x = v[s.a], y = v[s.b];
        GRAD_PUT(0, s.a, y * gi, set_a);
        GRAD_PUT(1, s.b, x * gi, set_b);
        continue;
      }
      case TL_OP_ADD_K: GRAD_PUT(0, s.a, gi, set_a); continue;
      case TL_OP_MUL_K: GRAD_PUT(0, s.a, v[s.b] * gi, set_a); continue;
      default: break;
    }
    double x = v[s.a], y = v[s.b], out = v[at];
    GRAD_PUT(0, s.a, t->da[s.op](x, y, out, gi), set_a);
    if (!(s.flags & K_B)) GRAD_PUT(1, s.b, t->db[s.op](x, y, out, gi), set_b);
  }
#undef GRAD_OF
#undef GRAD_PUT
}

static void gather_leaves(tl__tape *t) {
  for (size_t i = 0; i < t->nleaves; i++) t->v[i] = t->leaves[i]->val.v;
}

/* 0 when memory is short for the list of holders. */
static int check_holders(tl_ctx *ctx, tl__tape *t) {
  return t->holders_at == ctx->tape_escapes || find_shown(ctx, t);
}

tl_status tl__tape_forward(tl_ctx *ctx, tl__tape *t) {
  if (!check_holders(ctx, t))
    return tl_ctx_fail(ctx, TL_ENOMEM, "compiled step: out of memory");
  gather_leaves(t);
  run_forward(t);
  for (size_t i = 0; i < t->nshown; i++) {
    tl_node *n = t->ops[t->shown[i]];
    n->val.v = t->v[t->base + t->shown[i]];
    n->flags &= (uint8_t)~TL_F_HAS_GRAD;
  }
  t->stale = STALE_VALUES | GRADS_UNSET;
  t->values_at = ctx->tape_escapes;
  ctx->tapes_stale = 1;
  return TL_OK;
}

tl_status tl__tape_backward(tl_ctx *ctx, tl__tape *t) {
  if (!check_holders(ctx, t))
    return tl_ctx_fail(ctx, TL_ENOMEM, "compiled step: out of memory");
  if (t->values_at != ctx->tape_escapes) {   /* nodes were reachable since */
    if (t->stale & STALE_VALUES) tl__tape_sync(t);
    for (size_t j = 0; j < t->nops; j++) t->v[t->base + j] = t->ops[j]->val.v;
    t->values_at = ctx->tape_escapes;
  }
  for (size_t i = 0; i < t->nshown; i++)     /* their holders may set them */
    t->v[t->base + t->shown[i]] = t->ops[t->shown[i]]->val.v;
  gather_leaves(t);
  for (size_t i = 0; i < t->nleaves; i++) {
    const tl_node *x = t->leaves[i];
    t->g[i] = (x->flags & TL_F_HAS_GRAD) ? x->grad : -0.0;
  }
  t->g[t->base + t->nops - 1] = 1.0;          /* the output's seed */
  run_backward(t);
  for (size_t i = 0; i < t->nleaves; i++) {
    tl_node *x = t->leaves[i];
    if (t->leaf_fed[i] && tl__wants_grad(x)) {
      x->grad = t->g[i];
      x->flags |= TL_F_HAS_GRAD;
    }
  }
  for (size_t i = 0; i < t->nshown; i++) {
    tl_node *n = t->ops[t->shown[i]];
    if (!tl__wants_grad(n)) continue;
    n->grad = t->g[t->base + t->shown[i]];
    n->flags |= TL_F_HAS_GRAD;
  }
  t->stale = (t->stale & STALE_VALUES) | STALE_GRADS;
  ctx->tapes_stale = 1;
  return TL_OK;
}

/* }====================================================================== */

void tl__tape_sync(tl__tape *t) {
  int stale = t->stale;
  if (stale == 0) return;
  for (size_t i = 0; i < t->nshown; i++) {   /* current already; holders may */
    const tl_node *n = t->ops[t->shown[i]];  /* have set them since */
    t->v[t->base + t->shown[i]] = n->val.v;
    if (t->g != NULL) t->g[t->base + t->shown[i]] = n->grad;
  }
  const double *v = t->v + t->base, *g = t->g ? t->g + t->base : NULL;
  for (size_t j = 0; j < t->nops; j++) {
    tl_node *n = t->ops[j];
    if (stale & STALE_VALUES) n->val.v = v[j];
    if ((stale & STALE_GRADS) && tl__wants_grad(n)) {
      n->grad = g[j];
      n->flags |= TL_F_HAS_GRAD;
    } else if (stale & (STALE_GRADS | GRADS_UNSET))
      n->flags &= (uint8_t)~TL_F_HAS_GRAD;
  }
  t->stale = 0;
}
