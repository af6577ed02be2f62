/*
** compile.c -- compiled steps (tl_compile.h): a graph captured once, its
** order stored, replayed forward and backward over that order.
**
** A replay allocates nothing: values and gradients go into the buffers the
** recording allocated, and the order is not walked again.  Forward is the
** generic elementwise forward or the op's BW forward rule (tl_ops.h), the
** very functions the constructors call; backward does what tl_backward's
** walk and sweep do (interior gradients reset, array gradients present,
** the root seeded with 1, tl__backward_sweep in reverse order), so results
** are the eager ones bit for bit.
*/
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "size.h"
#include "tl_compile.h"

/* A stretch of the order that a replay sweeps in one go: order[lo, hi),
** whose op nodes are ops[olo, ohi).  stride 0: swept node by node; 1 or 2:
** a neuron layer (internal.h), each row alone or followed by its
** activation, computed by the fused kernels. */
typedef struct span { size_t lo, hi, olo, ohi; size_t stride; } span;

struct tl_graph {
  tl_node *root;
  tl_node **inputs;
  size_t ninputs;
  tl_node **order;      /* every node, tl_topo's order */
  size_t count;
  tl_node **ops;        /* the op nodes among them, in the same order */
  size_t nops;
  /* the parameters (leaves that need a gradient, not inputs) that were
  ** held outside the graph when it was recorded, and the references the
  ** graph's own nodes take on each: at no more than that, their owner has
  ** let them go (a model converted to another dtype gets new ones) */
  tl_node **params;
  uint32_t *uses;
  size_t nparams;
  int grad;             /* the root needs a gradient */
  /* ctx->epoch right after the last forward sweep, which marked interior
  ** gradients unset: while no walk or backward ran since, backward needs
  ** no pass to reset them; 0 otherwise */
  uint32_t fresh;
  tl_node **arrays;     /* the array leaves that need a gradient */
  size_t narrays;
  span *spans;          /* the order cut into spans, in order */
  size_t nspans;
  /* the dense tape of a graph of scalar elementwise ops (tape.c), which
  ** replays it in place of the spans; or NULL */
  tl__tape *tape;
  /* the graph holds op nodes of another graph's tape: before each replay
  ** they are brought up to date, as a walk would */
  int shares;
  tl_ctx *ctx;          /* for tl_graph_nodes */
  tl_graph *next;       /* ctx->graphs */
};

void tl_capture_begin(tl_ctx *ctx) { ctx->capturing++; }

void tl_capture_abort(tl_ctx *ctx) {
  if (ctx->capturing > 0) ctx->capturing--;
}

int tl_capturing(const tl_ctx *ctx) { return ctx->capturing > 0; }

static void unlink_graph(tl_ctx *ctx, tl_graph *g) {
  for (tl_graph **p = &ctx->graphs; *p != NULL; p = &(*p)->next)
    if (*p == g) { *p = g->next; return; }
}

void tl_graph_free(tl_ctx *ctx, tl_graph *g) {
  if (g == NULL) return;
  unlink_graph(ctx, g);
  if (g->tape != NULL) {      /* nodes held outside outlive the graph */
    tl__tape_sync(g->tape);
    tl__tape_free(g->tape);
  }
  tl_release(ctx, g->root);
  for (size_t i = 0; i < g->ninputs; i++) tl_release(ctx, g->inputs[i]);
  free(g->inputs);
  free(g->order);
  free(g->ops);
  free(g->params);
  free(g->uses);
  free(g->arrays);
  free(g->spans);
  free(g);
}

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)*(tl_node *const *)a, y = (uintptr_t)*(tl_node *const *)b;
  return (x > y) - (x < y);
}

/* Fills g->params and g->uses (see struct tl_graph); 0 when memory is short. */
static int find_params(tl_graph *g) {
  size_t np = 0;
  g->params = malloc((g->count ? g->count : 1) * sizeof *g->params);
  g->uses = calloc(g->count ? g->count : 1, sizeof *g->uses);
  if (g->params == NULL || g->uses == NULL) return 0;
  for (size_t i = 0; i < g->count; i++) {
    tl_node *n = g->order[i];
    int input = 0;
    for (size_t j = 0; j < g->ninputs; j++) input |= g->inputs[j] == n;
    if (tl__nin(n) == 0 && tl__wants_grad(n) && !input &&
        !(n->flags & TL_F_IN_CAPTURE))
      g->params[np++] = n;
  }
  qsort(g->params, np, sizeof *g->params, cmp_ptr);
  for (size_t i = 0; i < g->nops; i++) {
    tl_node *const *in = tl__inputs(g->ops[i]);
    for (size_t j = 0, nin = tl__nin(g->ops[i]); j < nin; j++) {
      tl_node **p = np ? bsearch(&in[j], g->params, np, sizeof *g->params, cmp_ptr) : NULL;
      if (p != NULL) g->uses[p - g->params]++;
    }
  }
  size_t kept = 0;            /* only those held outside the graph */
  for (size_t i = 0; i < np; i++)
    if (g->params[i]->refs > g->uses[i] + (g->params[i] == g->root)) {
      g->params[kept] = g->params[i];
      g->uses[kept++] = g->uses[i] + (g->params[i] == g->root);
    }
  g->nparams = kept;
  return 1;
}

/* {======================================================================
** Spans: neuron layers found in the order, for the fused kernels
** ======================================================================= */

/* 1 when n can start or join a neuron layer: a float64 row whose inputs
** fit the kernels' buffers. */
static int fusable_row(const tl_node *n) {
  return n->op == TL_OP_NEURON_ROW && n->nin - 2 <= TL_LAYER_MAX_IN &&
         tl__dtype(n->many[0]) == TL_FLOAT64;
}

/* 1 when the rows 'a' and 'b' read the same W, b and inputs. */
static int same_layer(const tl_node *a, const tl_node *b) {
  return a->nin == b->nin &&
         memcmp(a->many, b->many, a->nin * sizeof *a->many) == 0;
}

/* 1 when the row's scalar inputs are distinct (the layer kernel sums each
** input's gradient apart); 'tmp' holds TL_LAYER_MAX_IN pointers. */
static int distinct_inputs(const tl_node *n, tl_node **tmp) {
  size_t nin = n->nin - 2;
  memcpy(tmp, n->many + 2, nin * sizeof *tmp);
  qsort(tmp, nin, sizeof *tmp, cmp_ptr);
  for (size_t i = 1; i < nin; i++)
    if (tmp[i] == tmp[i - 1]) return 0;
  return 1;
}

/* 1 when order[i] is the activation of the row order[i - 1]. */
static int activation_at(tl_node *const *order, size_t count, size_t i) {
  return i < count && tl__is_scalar_unary(order[i]) &&
         order[i]->in[0] == order[i - 1];
}

/* The number of nodes of the neuron layer that starts at order[i] (0
** when none does: a layer has two rows at least), its stride in *stride. */
static size_t layer_at(tl_node *const *order, size_t count, size_t i,
                       size_t *stride, tl_node **tmp) {
  tl_node *first = order[i];
  if (!fusable_row(first)) return 0;
  *stride = activation_at(order, count, i + 1) ? 2 : 1;
  size_t end = i + *stride;
  while (end < count && order[end]->op == TL_OP_NEURON_ROW &&
         same_layer(first, order[end]) &&
         (*stride == 1 || activation_at(order, count, end + 1)))
    end += *stride;
  if (end - i < 2 * *stride || !distinct_inputs(first, tmp)) return 0;
  return end - i;
}

/* Cuts g->order into spans: neuron layers and the stretches between. */
static int find_spans(tl_graph *g) {
  tl_node **tmp = malloc(TL_LAYER_MAX_IN * sizeof *tmp);
  g->spans = malloc((g->count ? g->count : 1) * sizeof *g->spans);
  if (tmp == NULL || g->spans == NULL) { free(tmp); return 0; }
  size_t i = 0, o = 0, lo = 0, olo = 0;
  while (i < g->count) {
    size_t stride, len = layer_at(g->order, g->count, i, &stride, tmp);
    if (len == 0) {
      o += tl__nin(g->order[i]) != 0;
      i++;
      continue;
    }
    if (i > lo) g->spans[g->nspans++] = (span){lo, i, olo, o, 0};
    g->spans[g->nspans++] = (span){i, i + len, o, o + len, stride};
    i = lo = i + len;
    o = olo = o + len;
  }
  if (i > lo) g->spans[g->nspans++] = (span){lo, i, olo, o, 0};
  free(tmp);
  return 1;
}

/* }====================================================================== */

tl_graph *tl_capture_end(tl_ctx *ctx, tl_node *root, size_t ninputs,
                         tl_node *const *inputs) {
  if (ctx->capturing == 0) {
    tl_ctx_fail(ctx, TL_EARG, "capture: no capture was begun");
    return NULL;
  }
  ctx->capturing--;
  if (root == NULL || (ninputs > 0 && inputs == NULL)) {
    tl_ctx_fail(ctx, TL_EARG, "capture: a root and inputs expected, got NULL");
    return NULL;
  }
  for (size_t i = 0; i < ninputs; i++)
    if (inputs[i] == NULL || tl__nin(inputs[i]) != 0) {
      tl_ctx_fail(ctx, TL_EARG, "capture: input %zu is %s", i + 1,
                  inputs[i] ? "the result of an op, not a leaf" : "NULL");
      return NULL;
    }
  size_t count;
  tl_node *const *order = tl_topo(ctx, root, &count);
  if (order == NULL) return NULL;
  tl_graph *g = calloc(1, sizeof *g);
  size_t bytes = 0;
  if (g == NULL || !tl__size_mul(count, sizeof *order, &bytes)) goto nomem;
  g->order = malloc(bytes);
  g->ops = malloc(bytes);
  g->inputs = malloc((ninputs ? ninputs : 1) * sizeof *inputs);
  if (g->order == NULL || g->ops == NULL || g->inputs == NULL) goto nomem;
  memcpy(g->order, order, bytes);
  g->count = count;
  g->arrays = malloc(bytes ? bytes : 1);
  if (g->arrays == NULL) goto nomem;
  for (size_t i = 0; i < count; i++) {
    tl_node *n = g->order[i];
    if (tl__nin(n) != 0) g->ops[g->nops++] = n;
    else if (tl__is_array(n)) g->arrays[g->narrays++] = n;
    /* gradient buffers now, so that no replay allocates them */
    if (tl__wants_grad(root) && tl__is_array(n) && tl__wants_grad(n) &&
        !tl__alloc_grad(ctx, n))
      goto fail;
  }
  g->grad = tl__wants_grad(root);
  g->root = root;
  tl_retain(root);
  g->ninputs = ninputs;
  for (size_t i = 0; i < ninputs; i++) {
    g->inputs[i] = inputs[i];
    tl_retain(inputs[i]);
  }
  int nomem = 0;
  for (size_t i = 0; i < count; i++)
    g->shares |= (g->order[i]->flags & TL_F_TAPED) != 0;
  if (!g->shares)
    g->tape = tl__tape_new(g->order, g->count, g->ops, g->nops, g->grad, &nomem);
  g->ctx = ctx;
  if (nomem || !find_params(g) || !find_spans(g)) {
    tl_graph_free(ctx, g);
    tl_ctx_fail(ctx, TL_ENOMEM, "capture: out of memory for %zu nodes", count);
    return NULL;
  }
  g->next = ctx->graphs;
  ctx->graphs = g;
  return g;
nomem:
  tl_ctx_fail(ctx, TL_ENOMEM, "capture: out of memory for %zu nodes", count);
fail:
  if (g != NULL) { free(g->order); free(g->ops); free(g->inputs); free(g->arrays); }
  free(g);
  return NULL;
}

tl_status tl_graph_forward(tl_ctx *ctx, tl_graph *g) {
  for (size_t i = 0; i < g->nparams; i++)
    if (g->params[i]->refs <= g->uses[i]) {
      const char *label = tl_label(g->params[i]);
      return tl_ctx_fail(ctx, TL_EARG, "compiled step: parameter %zu%s%s%s "
                         "was let go by its owner since recording (freed, or "
                         "replaced by a conversion such as model:float()); "
                         "record the step again", i + 1, label ? " (" : "",
                         label ? label : "", label ? ")" : "");
    }
  g->fresh = 0;
  if (g->shares) tl__tape_escape(ctx);
  if (g->tape != NULL) return tl__tape_forward(ctx, g->tape);
  for (size_t s = 0; s < g->nspans; s++) {
    const span *p = &g->spans[s];
    if (p->stride != 0) {
      tl__neuron_layer_fwd(g->order + p->lo, p->hi - p->lo, p->stride);
      continue;
    }
    tl__forward_sweep(ctx, g->ops + p->olo, p->ohi - p->olo);
    if (ctx->sweep_failed != TL_OK) {        /* a custom op's callback */
      tl_status st = ctx->sweep_failed;
      ctx->sweep_failed = TL_OK;
      return st;
    }
  }
  g->fresh = tl__next_epoch(ctx);
  return TL_OK;
}

/* As graph.c's walk with reset, then its backward: interior gradients
** unset, array nodes' buffers present (they are, unless freed since), the
** root seeded with 1. */
tl_status tl_graph_backward(tl_ctx *ctx, tl_graph *g) {
  if (!g->grad)
    return tl_ctx_fail(ctx, TL_EARG, "backward: the root needs no gradient "
                       "(a forward-only compiled graph)");
  if (tl__is_array(g->root)) {
    char s[64];
    return tl_ctx_fail(ctx, TL_EARG, "backward: the root is an array of shape "
                       "%s; pass a gradient of the same shape",
                       tl__shape_str(g->root, s, sizeof s));
  }
  if (ctx->in_callback)
    return tl_ctx_fail(ctx, TL_EARG, "a graph walk (backward, zero_grad, "
                       "drawing, explain) cannot run inside a custom op's "
                       "backward");
  if (g->shares) tl__tape_escape(ctx);
  if (g->tape != NULL) return tl__tape_backward(ctx, g->tape);
  /* interior buffers were made at capture and live as long as their
  ** nodes; a leaf's requires_grad may have been turned on since */
  for (size_t i = 0; i < g->narrays; i++)
    if (g->arrays[i]->val.arr->grad == NULL && tl__wants_grad(g->arrays[i]) &&
        !tl__alloc_grad(ctx, g->arrays[i]))
      return TL_ENOMEM;
  if (g->fresh == 0 || g->fresh != ctx->epoch)   /* a walk ran since */
    for (size_t i = 0, n = g->nops; i < n; i++)
      g->ops[i]->flags &= (uint8_t)~TL_F_HAS_GRAD;
  g->fresh = 0;
  tl__next_epoch(ctx);                  /* other graphs' fresh marks expire */
  tl__grad_add(g->root, 1.0);
  for (size_t s = g->nspans; s-- > 0;) {
    const span *p = &g->spans[s];
    if (p->stride != 0) {
      tl__neuron_layer_b(g->order + p->lo, p->hi - p->lo, p->stride);
      continue;
    }
    tl_status st = tl__backward_sweep(ctx, g->order + p->lo, p->hi - p->lo);
    if (st != TL_OK) return st;
  }
  return TL_OK;
}

tl_graph *tl__graph_of(tl_ctx *ctx, const tl_node *root) {
  for (tl_graph *g = ctx->graphs; g != NULL; g = g->next)
    if (g->root == root && g->grad) return g;
  return NULL;
}

tl_node *tl_graph_output(const tl_graph *g) { return g->root; }

tl_node *tl_graph_input(const tl_graph *g, size_t i) {
  return i < g->ninputs ? g->inputs[i] : NULL;
}

size_t tl_graph_ninputs(const tl_graph *g) { return g->ninputs; }

tl_node *const *tl_graph_nodes(const tl_graph *g, size_t *count) {
  if (g->tape != NULL) tl__tape_escape(g->ctx);  /* the caller reads them */
  *count = g->count;
  return g->order;
}

int tl_graph_has_grad(const tl_graph *g) { return g->grad; }

void tl_graphs_sync(tl_ctx *ctx) { tl__tape_escape(ctx); }

void tl__graphs_release(tl_ctx *ctx) {
  while (ctx->graphs != NULL) {       /* the nodes go with the context */
    tl_graph *g = ctx->graphs;
    ctx->graphs = g->next;
    free(g->inputs);
    free(g->order);
    free(g->ops);
    free(g->params);
    free(g->uses);
    free(g->arrays);
    free(g->spans);
    tl__tape_free(g->tape);
    free(g);
  }
}

void tl__tape_escape(tl_ctx *ctx) {
  ctx->tape_escapes++;
  if (!ctx->tapes_stale) return;
  for (tl_graph *g = ctx->graphs; g != NULL; g = g->next)
    if (g->tape != NULL) tl__tape_sync(g->tape);
  ctx->tapes_stale = 0;
}

void tl__tape_reach(tl_ctx *ctx, const tl_node *n) {
  int taped = (n->flags & TL_F_TAPED) != 0;
  for (size_t i = 0; i < tl__nin(n); i++)
    taped |= (tl__inputs(n)[i]->flags & TL_F_TAPED) != 0;
  if (taped) tl__tape_escape(ctx);
}

static int same_shape(const tl_node *a, const tl_node *b) {
  if (tl__ndim(a) != tl__ndim(b) || tl__dtype(a) != tl__dtype(b)) return 0;
  for (size_t d = 0; d < tl__ndim(a); d++)
    if (tl__shape(a)[d] != tl__shape(b)[d]) return 0;
  return 1;
}

/* Positions of a graph's nodes, sorted by address for bsearch. */
typedef struct posn { const tl_node *n; size_t at; } posn;

static int cmp_posn(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)((const posn *)a)->n, y = (uintptr_t)((const posn *)b)->n;
  return (x > y) - (x < y);
}

static posn *positions(const tl_graph *g) {
  posn *p = malloc((g->count ? g->count : 1) * sizeof *p);
  if (p == NULL) return NULL;
  for (size_t i = 0; i < g->count; i++) p[i] = (posn){g->order[i], i};
  qsort(p, g->count, sizeof *p, cmp_posn);
  return p;
}

static size_t position(const tl_graph *g, const posn *p, const tl_node *n) {
  posn key = {n, 0};
  const posn *f = bsearch(&key, p, g->count, sizeof *p, cmp_posn);
  return f ? f->at : SIZE_MAX;
}

static int is_input(const tl_graph *g, const tl_node *n) {
  for (size_t i = 0; i < g->ninputs; i++)
    if (g->inputs[i] == n) return 1;
  return 0;
}

const char *tl_graph_diff(const tl_graph *a, const tl_graph *b, char *buf,
                          size_t size) {
  if (a->count != b->count) {
    snprintf(buf, size, "%zu nodes recorded first, %zu now", a->count, b->count);
    return buf;
  }
  posn *pa = positions(a), *pb = positions(b);
  const char *result = NULL;
  if (pa == NULL || pb == NULL) {
    snprintf(buf, size, "out of memory comparing recordings");
    result = buf;
  }
  for (size_t i = 0; result == NULL && i < a->count; i++) {
    tl_node *x = a->order[i], *y = b->order[i];
    char sx[64], sy[64];
    const char *what = NULL;
    if (x->op != y->op || tl__nin(x) != tl__nin(y)) what = "op";
    else if (!same_shape(x, y)) what = "shape or dtype";
    else if (tl__k(x) != tl__k(y) && !(tl__k(x) != tl__k(x) && tl__k(y) != tl__k(y)))
      what = "op constant";
    else if (tl__nin(x) == 0 && tl__wants_grad(x) != tl__wants_grad(y)) what = "requires_grad";
    else if (tl__nin(x) == 0 && tl__wants_grad(x) && !is_input(a, x) && x != y)
      what = "parameter";
    else if (x->op == TL_OP_CROSS_ENTROPY) {       /* the classes it keeps */
      size_t rows = tl__shape(tl__inputs(x)[0])[0];
      const size_t *cx = (const size_t *)(const void *)(tl__inputs(x) + 1);
      const size_t *cy = (const size_t *)(const void *)(tl__inputs(y) + 1);
      if (memcmp(cx, cy, rows * sizeof *cx) != 0) what = "classes";
    }
    for (size_t j = 0; what == NULL && j < tl__nin(x); j++)
      if (position(a, pa, tl__inputs(x)[j]) != position(b, pb, tl__inputs(y)[j]))
        what = "inputs";
    if (what != NULL) {
      snprintf(buf, size, "node %zu of %zu differs (%s): %s %s recorded first, "
               "%s %s now", i + 1, a->count, what, x->op ? tl_node_op_name(x) : "leaf",
               tl__shape_str(x, sx, sizeof sx), y->op ? tl_node_op_name(y) : "leaf",
               tl__shape_str(y, sy, sizeof sy));
      result = buf;
    }
  }
  free(pa);
  free(pb);
  return result;
}
