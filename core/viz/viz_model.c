/*
** viz_model.c -- readable model graphs: what a snapshot becomes when a
** model's layers are collapsed into boxes (opts->collapse) or its fused
** neuron rows expanded into micrograd's w*x + b (opts->expand).  One job:
** which items are drawn and which edges join them (tl__mgraph in
** viz_internal.h); the graphviz view (viz_graphviz.c) and the cairo view
** (viz_cairo.c) each draw the same tl__mgraph in their own way.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viz_internal.h"

/* The layer k (from 1) of a parameter labelled "Lk.W" or "Lk.b" (as
** setmodel labels them), 0 for any other label; 'W' or 'b' in *which. */
static unsigned long layer_of_label(const tl_node *x, char *which) {
  const char *l = tl_label(x);
  unsigned long k = 0;
  if (l == NULL || l[0] != 'L' || l[1] < '1' || l[1] > '9') return 0;
  const char *s = l + 1;
  for (; *s >= '0' && *s <= '9'; s++) {
    if (k > 100000000UL) return 0;    /* no model has that many layers */
    k = k * 10 + (unsigned long)(*s - '0');
  }
  if (s[0] != '.' || (s[1] != 'W' && s[1] != 'b') || s[2] != '\0') return 0;
  *which = s[1];
  return k;
}

static int is_fused(tl_op op) {
  return op == TL_OP_NEURON_ROW || op == TL_OP_LINEAR;
}

/* The ops a model applies after a fused node (tl_nn.h's TL_ACT_*): only
** these join the layer's box; "y - 1" after the last layer stays apart. */
static int is_activation(tl_op op) {
  return op == TL_OP_RELU || op == TL_OP_TANH || op == TL_OP_SIGMOID;
}

/* The weight input of a fused node (neuron row: W, b, x...; linear: X, W,
** b), or NULL. */
static tl_node *fused_weight(tl_node *x) {
  tl_op op = tl_op_of(x);
  if (op == TL_OP_NEURON_ROW && tl_ninputs(x) >= 2) return tl_input(x, 0);
  if (op == TL_OP_LINEAR && tl_ninputs(x) == 3) return tl_input(x, 1);
  return NULL;
}

/* estart[i]: the index in g->edges of value i's first input edge (edges
** are grouped by 'to' in topological order). */
static size_t *edge_starts(const tl__vgraph *g) {
  size_t *estart = malloc((g->n ? g->n : 1) * sizeof *estart);
  if (estart == NULL) return NULL;
  for (size_t i = 0, e = 0; i < g->n; i++) {
    estart[i] = e;
    e += tl_ninputs(g->nodes[i]);
  }
  return estart;
}

static int cmp_layer(const void *a, const void *b) {
  unsigned long x = ((const tl__mlayer *)a)->k, y = ((const tl__mlayer *)b)->k;
  return (x > y) - (x < y);
}

static tl__mlayer *find_layer(tl__mlayer *ls, size_t nl, unsigned long k) {
  tl__mlayer key;
  memset(&key, 0, sizeof key);
  key.k = k;
  return bsearch(&key, ls, nl, sizeof *ls, cmp_layer);
}

static int listed(const size_t *list, size_t n, unsigned long k) {
  for (size_t j = 0; j < n; j++)
    if (list[j] == k) return 1;
  return 0;
}

/* "(16 x 2)", "scalar" */
static void dims_text(const tl_node *n, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  if (!tl_is_array(n)) { snprintf(buf, size, "scalar"); return; }
  for (size_t d = 0; d < tl_ndim(n) && used < size; d++) {
    int m = snprintf(buf + used, size - used, "%s%zu", d ? " x " : "(",
                     tl_dim(n, d));
    if (m < 0) return;
    used += (size_t)m;
  }
  if (used < size) snprintf(buf + used, size - used, ")");
}

void tl__mlayer_text(const tl__mlayer *l, char *title, size_t tsize,
                     char *shapes, size_t ssize) {
  char wd[64] = "", bd[64] = "", io[64] = "";
  if (l->w != NULL) dims_text(l->w, wd, sizeof wd);
  if (l->b != NULL) dims_text(l->b, bd, sizeof bd);
  if (l->w != NULL && tl_is_array(l->w) && tl_ndim(l->w) == 2)
    snprintf(io, sizeof io, " %zu\xe2\x86\x92%zu", tl_dim(l->w, 1),
             tl_dim(l->w, 0));
  snprintf(title, tsize, "Linear%s%s%s", io, l->act[0] ? ", " : "", l->act);
  snprintf(shapes, ssize, "W %s, b %s", wd, bd[0] ? bd : "none");
}

/* {======================================================================
** Building a tl__mgraph: items and edges are appended, then put in
** topological order (tl__mgraph_build's last step).
** ======================================================================= */

typedef struct builder {
  tl__mgraph *mg;
  size_t icap, ecap;
  size_t *seq;          /* [ecap] the order edges were added in */
} builder;

/* A new item, or NULL when memory is short. */
static tl__mitem *add_item(builder *b, int kind, size_t value) {
  tl__mgraph *mg = b->mg;
  if (mg->n == b->icap) {
    size_t cap = b->icap ? 2 * b->icap : 64;
    tl__mitem *p = realloc(mg->items, cap * sizeof *p);
    if (p == NULL) return NULL;
    mg->items = p;
    b->icap = cap;
  }
  tl__mitem *it = &mg->items[mg->n++];
  memset(it, 0, sizeof *it);
  it->kind = (unsigned char)kind;
  it->value = value;
  return it;
}

/* A drawn-only number of an expanded neuron row (see tl__mitem). */
static tl__mitem *add_number(builder *b, size_t value, const char *name,
                             const char *label, const char *op, double data,
                             double grad) {
  tl__mitem *it = add_item(b, TL__MNUMBER, value);
  if (it == NULL) return NULL;
  snprintf(it->name, sizeof it->name, "%s", name);
  snprintf(it->label, sizeof it->label, "%s", label);
  it->op = op;
  it->data = data;
  it->grad = grad;
  return it;
}

/* An edge between items 'from' and 'to' carrying 'count' values whose
** gradients have the L2 norm 'mag'. */
static int add_edge(builder *b, size_t from, size_t to, size_t count,
                    double mag) {
  tl__mgraph *mg = b->mg;
  if (mg->ne == b->ecap) {
    size_t cap = b->ecap ? 2 * b->ecap : 64;
    tl__vedge *e = realloc(mg->edges, cap * sizeof *e);
    if (e != NULL) mg->edges = e;
    size_t *c = realloc(mg->count, cap * sizeof *c);
    if (c != NULL) mg->count = c;
    double *m = realloc(mg->mag, cap * sizeof *m);
    if (m != NULL) mg->mag = m;
    size_t *s = realloc(b->seq, cap * sizeof *s);
    if (s != NULL) b->seq = s;
    if (e == NULL || c == NULL || m == NULL || s == NULL) return 0;
    b->ecap = cap;
  }
  mg->edges[mg->ne] = (tl__vedge){from, to};
  mg->count[mg->ne] = count;
  mg->mag[mg->ne] = mag;
  b->seq[mg->ne] = mg->ne;
  mg->ne++;
  return 1;
}

typedef struct edge_sort { size_t to, seq, from, count; double mag; } edge_sort;

static int cmp_edge_sort(const void *a, const void *b) {
  const edge_sort *x = a, *y = b;
  if (x->to != y->to) return (x->to > y->to) - (x->to < y->to);
  return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Puts the items in topological order (Kahn's algorithm, ties in the order
** they were added) and the edges grouped by 'to' in that order, as the
** snapshot's are.  A collapsed graph can have a cycle (a layer feeding an
** op that feeds the same layer): TL_EARG then if 'need_order' (the cairo
** layout needs one), else the items are left as they were (dot draws
** cycles). */
static tl_status sort_items(tl_ctx *ctx, builder *b, int need_order) {
  tl__mgraph *mg = b->mg;
  size_t n = mg->n, ne = mg->ne;
  size_t *indeg = calloc(n ? n : 1, sizeof *indeg);
  size_t *ostart = calloc(n + 1, sizeof *ostart);
  size_t *out = malloc((ne ? ne : 1) * sizeof *out);
  size_t *order = malloc((n ? n : 1) * sizeof *order);   /* queue */
  size_t *pos = malloc((n ? n : 1) * sizeof *pos);
  tl__mitem *items = malloc((n ? n : 1) * sizeof *items);
  edge_sort *es = malloc((ne ? ne : 1) * sizeof *es);
  tl_status st = TL_OK;
  if (!indeg || !ostart || !out || !order || !pos || !items || !es) {
    st = tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
    goto done;
  }
  for (size_t e = 0; e < ne; e++) {
    indeg[mg->edges[e].to]++;
    ostart[mg->edges[e].from + 1]++;
  }
  for (size_t i = 0; i < n; i++) ostart[i + 1] += ostart[i];
  for (size_t i = 0; i < n; i++) pos[i] = ostart[i];
  for (size_t e = 0; e < ne; e++) out[pos[mg->edges[e].from]++] = e;
  size_t head = 0, tail = 0;
  for (size_t i = 0; i < n; i++)
    if (indeg[i] == 0) order[tail++] = i;
  while (head < tail) {
    size_t u = order[head++];
    for (size_t k = ostart[u]; k < ostart[u + 1]; k++) {
      size_t v = mg->edges[out[k]].to;
      if (--indeg[v] == 0) order[tail++] = v;
    }
  }
  if (tail < n && !need_order) goto done;
  if (tail < n) {
    st = tl_ctx_fail(ctx, TL_EARG, "collapse: the layer boxes would form a "
                     "cycle (a layer's values reach it again through other "
                     "nodes); draw those layers with expand_layers, or "
                     "with the graphviz method");
    goto done;
  }
  for (size_t r = 0; r < n; r++) {
    pos[order[r]] = r;
    items[r] = mg->items[order[r]];
  }
  memcpy(mg->items, items, n * sizeof *items);
  for (size_t e = 0; e < ne; e++)
    es[e] = (edge_sort){pos[mg->edges[e].to], b->seq[e],
                        pos[mg->edges[e].from], mg->count[e], mg->mag[e]};
  qsort(es, ne, sizeof *es, cmp_edge_sort);
  for (size_t e = 0; e < ne; e++) {
    mg->edges[e] = (tl__vedge){es[e].from, es[e].to};
    mg->count[e] = es[e].count;
    mg->mag[e] = es[e].mag;
  }
done:
  free(indeg); free(ostart); free(out); free(order); free(pos); free(items);
  free(es);
  return st;
}

/* }====================================================================== */

/* {======================================================================
** Collapsed: a box per layer
** ======================================================================= */

typedef struct box_edge { size_t t, h, from; } box_edge;

static int cmp_box_edge(const void *a, const void *b) {
  const box_edge *x = a, *y = b;
  if (x->t != y->t) return (x->t > y->t) - (x->t < y->t);
  if (x->h != y->h) return (x->h > y->h) - (x->h < y->h);
  return (x->from > y->from) - (x->from < y->from);
}

/* A fused node whose W is labelled "Lk.W" belongs to layer k (unless k is
** in opts->expand_layers), and so do the activation applied to it alone
** and the leaves Lk.W and Lk.b.  grp[i]: value i's layer, 0 for none. */
static tl_status collapse(tl_ctx *ctx, const tl__vgraph *g,
                          const tl_viz_opts *opts, builder *b) {
  tl__mgraph *mg = b->mg;
  size_t n = g->n;
  unsigned long *grp = calloc(n ? n : 1, sizeof *grp);
  size_t *estart = edge_starts(g);
  size_t *item = malloc((n ? n : 1) * sizeof *item);      /* value's item */
  tl__mlayer *ls = malloc((n ? n : 1) * sizeof *ls);
  box_edge *be = malloc((g->ne ? g->ne : 1) * sizeof *be);
  tl_status st = TL_OK;
  if (!grp || !estart || !item || !ls || !be) goto nomem;
  /* fused nodes by their W's label; then the layers, sorted and unique */
  size_t nl = 0;
  for (size_t i = 0; i < n; i++) {
    tl_node *w = fused_weight(g->nodes[i]);
    char which;
    if (w != NULL && (grp[i] = layer_of_label(w, &which)) != 0 &&
        (which != 'W' || (opts->expand_layers != NULL &&
                          listed(opts->expand_layers, opts->nexpand_layers, grp[i]))))
      grp[i] = 0;                           /* no layer, or drawn expanded */
    if (grp[i] != 0) {
      memset(&ls[nl], 0, sizeof ls[nl]);
      ls[nl++].k = grp[i];
    }
  }
  qsort(ls, nl, sizeof *ls, cmp_layer);
  size_t u = 0;
  for (size_t j = 0; j < nl; j++)
    if (u == 0 || ls[u - 1].k != ls[j].k) ls[u++] = ls[j];
  nl = u;
  for (size_t i = 0; i < n; i++) {
    tl_node *x = g->nodes[i];
    if (grp[i] != 0) {                      /* a fused node: its shapes */
      tl__mlayer *l = find_layer(ls, nl, grp[i]);
      tl_op op = tl_op_of(x);
      if (l->w == NULL) {
        l->w = fused_weight(x);
        l->b = tl_input(x, op == TL_OP_NEURON_ROW ? 1 : 2);
        l->linear = op == TL_OP_LINEAR;
      }
    } else if (tl_ninputs(x) == 1 && is_activation(tl_op_of(x))) {
      size_t from = g->edges[estart[i]].from;   /* the activation of one */
      if (grp[from] != 0 && is_fused(tl_op_of(g->nodes[from]))) {
        tl__mlayer *l = find_layer(ls, nl, grp[from]);
        grp[i] = grp[from];
        if (l->act[0] == '\0') tl_op_label(x, l->act, sizeof l->act);
      }
    } else if (tl_ninputs(x) == 0) {         /* Lk.W, Lk.b go in the box */
      char which;
      unsigned long k = layer_of_label(x, &which);
      if (k != 0 && find_layer(ls, nl, k) != NULL) grp[i] = k;
    }
  }
  mg->layers = ls;
  mg->nlayers = nl;
  ls = NULL;
  for (size_t j = 0; j < nl; j++) {
    tl__mitem *it = add_item(b, TL__MLAYER, SIZE_MAX);
    if (it == NULL) goto nomem;
    it->layer = j;
    snprintf(it->name, sizeof it->name, "L%lu", mg->layers[j].k);
  }
  for (size_t i = 0; i < n; i++) {
    item[i] = SIZE_MAX;
    if (grp[i] != 0) continue;
    tl__mitem *it = add_item(b, TL__MVALUE, i);
    if (it == NULL) goto nomem;
    snprintf(it->name, sizeof it->name, "v%zu", i);
    item[i] = mg->n - 1;
  }
  /* data between boxes, and into and out of them: one edge for all the
  ** values one box passes to another (or to one op), with their number;
  ** (tail, head, value) triples sorted and counted.  Tails and heads: an
  ** item (layer j is item j).  Edges between values stay one per input
  ** slot. */
  size_t nbe = 0;
  for (size_t e = 0; e < g->ne; e++) {
    size_t from = g->edges[e].from, to = g->edges[e].to;
    unsigned long a = grp[from], c = grp[to];
    if (a != 0 && a == c) continue;
    if (a == 0 && c == 0) {
      if (!add_edge(b, item[from], item[to], 1, tl__vgrad_mag(g->nodes[from])))
        goto nomem;
    } else
      be[nbe++] = (box_edge){a ? (size_t)(find_layer(mg->layers, nl, a) - mg->layers) : item[from],
                             c ? (size_t)(find_layer(mg->layers, nl, c) - mg->layers) : item[to],
                             from};
  }
  qsort(be, nbe, sizeof *be, cmp_box_edge);
  for (size_t j = 0; j < nbe;) {
    size_t count = 0, k = j;
    double sq = 0;
    for (; k < nbe && be[k].t == be[j].t && be[k].h == be[j].h; k++)
      if (k == j || be[k].from != be[k - 1].from) {
        double m = tl__vgrad_mag(g->nodes[be[k].from]);
        count++;
        sq += m * m;
      }
    if (!add_edge(b, be[j].t, be[j].h, count, sqrt(sq))) goto nomem;
    j = k;
  }
  goto done;
nomem:
  st = tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
done:
  free(grp);
  free(estart);
  free(item);
  free(ls);
  free(be);
  return st;
}

/* }====================================================================== */

/* {======================================================================
** Expanded: neuron rows as micrograd's w*x + b
** ======================================================================= */

/* Whether the neuron row 'x' can be drawn expanded: scalar inputs, W a
** matrix whose row tl_const(x) has one weight per input, b a vector. */
static int expandable(tl_node *x) {
  if (tl_op_of(x) != TL_OP_NEURON_ROW || tl_ninputs(x) < 3) return 0;
  tl_node *w = tl_input(x, 0), *b = tl_input(x, 1);
  size_t nin = tl_ninputs(x) - 2;
  double r = tl_const(x);
  if (!tl_is_array(w) || tl_ndim(w) != 2 || tl_dim(w, 1) != nin) return 0;
  if (!tl_is_array(b) || tl_ndim(b) != 1 || tl_dim(b, 0) != tl_dim(w, 0)) return 0;
  if (!(r >= 0 && r < (double)tl_dim(w, 0))) return 0;
  for (size_t j = 0; j < nin; j++)
    if (tl_is_array(tl_input(x, j + 2))) return 0;
  return 1;
}

/* The name of element (r, c) of W or r of b as a model's Parameter names
** it (bindings/nn.c): "L1.N3.w2" for a weight, "L1.N3.b" for a bias; other
** arrays "label[3,2]", "W[3,2]" without a label (1-based, as Lua counts). */
static void element_name(tl_node *a, const char *fallback, size_t r, size_t c,
                         int two, char *buf, size_t size) {
  char cut[TL__MLABEL_CUT + 8], which;
  unsigned long k = layer_of_label(a, &which);
  if (k != 0 && two && which == 'W')
    snprintf(buf, size, "L%lu.N%zu.w%zu", k, r + 1, c + 1);
  else if (k != 0 && !two && which == 'b')
    snprintf(buf, size, "L%lu.N%zu.b", k, r + 1);
  else {
    tl__vtext_label(a, cut, sizeof cut, TL__MLABEL_CUT);
    if (two) snprintf(buf, size, "%s[%zu,%zu]", cut[0] ? cut : fallback, r + 1, c + 1);
    else snprintf(buf, size, "%s[%zu]", cut[0] ? cut : fallback, r + 1);
  }
}

/* Each neuron row n = W[r].x + b[r] drawn as micrograd's Neuron computes
** it, b[r] + w1*x1 + w2*x2 + ..., one '*' per input and a chain of '+',
** the last being n itself.  The weights are the elements of W and b
** (their gradients those of the elements, after backward); the products
** and partial sums get n's gradient, as a sum passes it on unchanged.  W
** and b stay drawn only if some unexpanded node uses them. */
static tl_status expand(tl_ctx *ctx, const tl__vgraph *g, size_t max_nodes,
                        const char *method, builder *b) {
  tl__mgraph *mg = b->mg;
  size_t n = g->n;
  size_t *estart = edge_starts(g);
  unsigned char *exp = calloc(n ? n : 1, 1), *keep = calloc(n ? n : 1, 1);
  size_t *item = malloc((n ? n : 1) * sizeof *item);
  tl_status st = TL_OK;
  if (!estart || !exp || !keep || !item) goto nomem;
  size_t count = 0;
  for (size_t i = 0; i < n; i++) {
    exp[i] = (unsigned char)expandable(g->nodes[i]);
    if (exp[i]) count += 3 * (tl_ninputs(g->nodes[i]) - 2);
  }
  for (size_t i = 0; i < n; i++) {
    keep[i] = tl_ninputs(g->nodes[i]) > 0 || i + 1 == n;
    for (size_t k = 0; k < tl_ninputs(g->nodes[i]); k++)
      if (!exp[i] || k >= 2) keep[g->edges[estart[i] + k].from] = 1;
  }
  for (size_t i = 0; i < n; i++) count += keep[i];
  if (max_nodes > 0 && count > max_nodes) {
    st = tl_ctx_fail(ctx, TL_EARG, "graph has %zu nodes expanded, more than "
                     "the %s limit of %zu (raise max_nodes to draw it "
                     "anyway)", count, method, max_nodes);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    item[i] = SIZE_MAX;
    if (!keep[i]) continue;
    tl__mitem *it = add_item(b, TL__MVALUE, i);
    if (it == NULL) goto nomem;
    snprintf(it->name, sizeof it->name, "v%zu", i);
    if (exp[i]) it->op = "+";              /* the last sum of its chain */
    item[i] = mg->n - 1;
  }
  char name[48], lbl[TL__MLABEL_CUT + 40];
  for (size_t i = 0; i < n; i++) {
    tl_node *x = g->nodes[i];
    if (!exp[i]) {
      for (size_t k = 0; k < tl_ninputs(x); k++) {
        size_t from = g->edges[estart[i] + k].from;
        if (!add_edge(b, item[from], item[i], 1, tl__vgrad_mag(g->nodes[from])))
          goto nomem;
      }
      continue;
    }
    tl_node *w = tl_input(x, 0), *bias = tl_input(x, 1);
    size_t nin = tl_ninputs(x) - 2, r = (size_t)tl_const(x);
    double gx = tl_grad(x), sum = tl_value_at(bias, r);
    int wg = tl_has_grads(w), bg = tl_has_grads(bias);
    element_name(bias, "b", r, 0, 0, lbl, sizeof lbl);
    snprintf(name, sizeof name, "v%zu_b", i);
    double bgrad = bg ? tl_grad_at(bias, r) : 0;
    if (add_number(b, i, name, lbl, "", sum, bgrad) == NULL) goto nomem;
    size_t prev = mg->n - 1;
    double prev_mag = fabs(bgrad);
    for (size_t j = 0; j < nin; j++) {
      size_t at = r * nin + j, xi = g->edges[estart[i] + 2 + j].from;
      double wv = tl_value_at(w, at), xv = tl_data(tl_input(x, j + 2));
      double wgrad = wg ? tl_grad_at(w, at) : 0;
      element_name(w, "W", r, j, 1, lbl, sizeof lbl);
      snprintf(name, sizeof name, "v%zu_w%zu", i, j);
      if (add_number(b, i, name, lbl, "", wv, wgrad) == NULL) goto nomem;
      size_t wn = mg->n - 1;
      snprintf(name, sizeof name, "v%zu_p%zu", i, j);
      if (add_number(b, i, name, "", "*", wv * xv, gx) == NULL) goto nomem;
      size_t pn = mg->n - 1;
      if (!add_edge(b, wn, pn, 1, fabs(wgrad)) ||
          !add_edge(b, item[xi], pn, 1, tl__vgrad_mag(g->nodes[xi])))
        goto nomem;
      sum += wv * xv;
      size_t sn = item[i];
      if (j + 1 < nin) {
        snprintf(name, sizeof name, "v%zu_s%zu", i, j);
        if (add_number(b, i, name, "", "+", sum, gx) == NULL) goto nomem;
        sn = mg->n - 1;
      }
      if (!add_edge(b, prev, sn, 1, prev_mag) || !add_edge(b, pn, sn, 1, fabs(gx)))
        goto nomem;
      prev = sn;
      prev_mag = fabs(gx);
    }
  }
  goto done;
nomem:
  st = tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
done:
  free(estart);
  free(exp);
  free(keep);
  free(item);
  return st;
}

/* }====================================================================== */

tl_status tl__mgraph_build(tl_ctx *ctx, const tl__vgraph *g,
                           const tl_viz_opts *opts, size_t max_nodes,
                           const char *method, int need_order,
                           tl__mgraph *mg) {
  memset(mg, 0, sizeof *mg);
  builder b = {mg, 0, 0, NULL};
  tl_status st = opts->collapse == TL_VIZ_COLLAPSE_LAYER
                     ? collapse(ctx, g, opts, &b)
                     : expand(ctx, g, max_nodes, method, &b);
  if (st == TL_OK) st = sort_items(ctx, &b, need_order);
  free(b.seq);
  if (st != TL_OK) tl__mgraph_free(mg);
  return st;
}

void tl__mgraph_free(tl__mgraph *mg) {
  free(mg->items);
  free(mg->edges);
  free(mg->count);
  free(mg->mag);
  free(mg->layers);
  memset(mg, 0, sizeof *mg);
}
