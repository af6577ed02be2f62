/*
** viz_graphviz.c -- the graphviz view: cgraph builds the graph, gvc lays
** it out with dot and renders it in memory, and viz_output.c writes it.  The gvc
** context lives in a tl_gv session (see tl_viz.h for why it outlives a
** picture).
** No `dot` process is started.  (Parameters avoid the name "path": gvc.h
** declares a type of that name.)
**
** The picture follows micrograd's draw_dot: left to right, one record per
** value "{ label | data 2.0000 | grad 4.0000 }", and one ellipse per op
** between its inputs and its result.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gvc.h>

#include "viz_internal.h"
#include "../tl_trace.h"

/* Record labels give '{', '}', '|' and '<', '>' a meaning and labels in
** general read '\' escapes ("\n", "\N"): all get a backslash, so a node's
** label is drawn exactly as written.  '"' needs none here: the value is
** set in memory, and graphviz's own writer escapes it in DOT text. */
static void record_escape(char *dst, size_t size, const char *src) {
  size_t j = 0;
  for (; *src && j + 2 < size; src++) {
    if (strchr("{}|<>\\", *src)) dst[j++] = '\\';
    dst[j++] = *src;
  }
  dst[j] = '\0';
}

/* Label sizes: a label is cut at LABEL_MAX bytes in the picture, and made
** valid, printable UTF-8 first (tl__vtext_label). */
#define LABEL_MAX 256
#define NAME_MAX_LEN 32

/* A growing text buffer that agwrite fills through the io discipline. */
typedef struct textbuf { char *p; size_t len, cap; int failed; } textbuf;

static int textbuf_putstr(void *chan, const char *str) {
  textbuf *b = chan;
  size_t n = strlen(str);
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) { b->failed = 1; return EOF; }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, str, n + 1);
  b->len += n;
  return 1;
}

static int textbuf_flush(void *chan) { (void)chan; return 0; }

/* {======================================================================
** Bounding dot's work
**
** dot's cost grows with its routed graph: an edge spanning k ranks becomes
** a chain of k - 1 virtual nodes, and mincross, the network simplex that
** places nodes and the spline router all walk them.  A value shared by
** ops far apart (`r = r + a` repeated, the weights of an unrolled
** recurrence) makes that graph quadratic: 81 values gave dot 13,000 nodes
** and its unbounded network simplex 80 s.  So:
**   1. We rank the graph ourselves, each value just left of its leftmost
**      user.  That ranking is feasible, so dot's own (optimal for the
**      same objective, which it reaches: nslimit1 is left unbounded) spans
**      no more.  When the virtual nodes add up to more than
**      VIRTUAL_BUDGET, edges to far users are drawn from dashed copies of
**      their input placed beside them ("relays"): the longest span allowed
**      is halved until the budget holds.  Small graphs are not cut.
**   2. The size of the routed graph (nodes, copies, virtual nodes, edges)
**      sets dot's iteration limits: past SMALL_SIZE, nslimit bounds the
**      placing network simplex to about NS_WORK node visits, mclimit
**      shortens mincross, and newrank (measured 2x faster to rank the
**      same graphs) is on.  Below it dot keeps its defaults, so small
**      pictures are as before.
**   3. A routed graph of more than SIZE_PER_NODE x max_nodes is refused,
**      as the cairo view refuses too many dummies: values sharing inputs
**      with many n-ary ops (a Neuron applied hundreds of times) reach it
**      below max_nodes values.
** Measured with bench/viz_layout.lua.
** ======================================================================= */

#define VIRTUAL_BUDGET 5000
#define SMALL_SIZE 3000.0
#define NS_WORK 2e6
#define MC_WORK 2e3
#define SIZE_PER_NODE 20

typedef struct plan {
  size_t ncopies;        /* relay copies */
  size_t *copy_of;       /* [ncopies] the value each copy repeats */
  size_t *src;           /* [ne] edge e starts at: SIZE_MAX the value, or a copy */
  size_t virtuals;       /* bound on dot's virtual nodes */
  size_t nodes;          /* values, ops and copies */
  size_t size;           /* nodes + 2 virtuals + edges: the routed graph */
} plan;

typedef struct use_key { size_t from, rank, e; } use_key;

/* By input, then nearest user first (ranks count from the right). */
static int cmp_use_key(const void *a, const void *b) {
  const use_key *x = a, *y = b;
  if (x->from != y->from) return (x->from > y->from) - (x->from < y->from);
  if (x->rank != y->rank) return (x->rank < y->rank) - (x->rank > y->rank);
  return (x->e > y->e) - (x->e < y->e);
}

/* The virtual nodes left when no edge spans more than 'k' ranks from its
** input or its last copy; with 'p' non-NULL, records the copies. */
static size_t relay(const use_key *key, size_t ne, const size_t *rank,
                    size_t k, plan *p) {
  size_t v = 0, copies = 0;
  for (size_t a = 0, b; a < ne; a = b) {
    size_t u = key[a].from, anchor = rank[u], cur = SIZE_MAX;
    for (b = a; b < ne && key[b].from == u; b++) {
      size_t r = key[b].rank;          /* the op's rank, below the anchor */
      if (anchor - r > k) {            /* too far: a copy just before it */
        anchor = r + 1;
        cur = copies++;
        if (p != NULL) p->copy_of[cur] = u;
      }
      v += anchor - r - 1;
      if (p != NULL) p->src[key[b].e] = cur;
    }
  }
  if (p != NULL) { p->ncopies = copies; p->virtuals = v; }
  return v;
}

/* Plans the copies for the snapshot 'g' and measures the routed graph;
** 0 when memory is short. */
static int plan_relays(const tl__vgraph *g, plan *p) {
  *p = (plan){0, NULL, NULL, 0, 0, 0};
  size_t ne = g->ne ? g->ne : 1;
  size_t *rank = malloc((g->n ? g->n : 1) * sizeof *rank);
  use_key *key = malloc(ne * sizeof *key);
  p->src = malloc(ne * sizeof *p->src);
  p->copy_of = malloc(ne * sizeof *p->copy_of);
  if (rank == NULL || key == NULL || p->src == NULL || p->copy_of == NULL) {
    free(rank); free(key); free(p->src); free(p->copy_of);
    return 0;
  }
  /* rank of a value: its longest path to the root, an op one rank before
  ** its result.  Users come later in the snapshot and edges are grouped
  ** by user, so one backward pass over the edges finds every rank. */
  memset(rank, 0, g->n * sizeof *rank);
  for (size_t e = g->ne; e-- > 0;) {
    size_t u = g->edges[e].from, r = rank[g->edges[e].to] + 1;
    if (rank[u] < r + 1) rank[u] = r + 1;
  }
  size_t longest = 1, ops = 0;
  for (size_t e = 0; e < g->ne; e++) {
    key[e] = (use_key){g->edges[e].from, rank[g->edges[e].to] + 1, e};
    if (rank[key[e].from] - key[e].rank > longest)
      longest = rank[key[e].from] - key[e].rank;
  }
  qsort(key, g->ne, sizeof *key, cmp_use_key);
  size_t k = longest;
  while (k > 1 && relay(key, g->ne, rank, k, NULL) > VIRTUAL_BUDGET) k /= 2;
  relay(key, g->ne, rank, k, p);
  for (size_t i = 0; i < g->n; i++) ops += tl_ninputs(g->nodes[i]) > 0;
  p->nodes = g->n + ops + p->ncopies;
  p->size = p->nodes + 2 * p->virtuals + g->ne + ops;
  free(rank);
  free(key);
  return 1;
}

static void plan_free(plan *p) { free(p->src); free(p->copy_of); }

static void set_number(Agraph_t *ag, const char *name, double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.3g", v);
  agattr(ag, AGRAPH, (char *)name, buf);
}

/* The graph attributes of step 2. */
static void bound_work(Agraph_t *ag, const plan *p) {
  double size = (double)p->size;
  if (size <= SMALL_SIZE) return;
  set_number(ag, "nslimit", NS_WORK / (size * (double)p->nodes));
  set_number(ag, "mclimit", MC_WORK / size);
  agattr(ag, AGRAPH, "newrank", "true");
}

/* }====================================================================== */

/* The record label "{ label | data .. | grad .. }" of 'x' into 'label'
** (LABEL_BUF bytes).  With a trace 'tr' (the HTML page), a value without
** a label is called as the captions call it ("mul#3"). */
#define LABEL_BUF (2 * LABEL_MAX + 440)
static void value_label(tl_node *x, char *label, const tl_trace *tr) {
  char cut[LABEL_MAX + 8], esc[2 * LABEL_MAX + 16], data[96], grad[96];
  char edata[200], egrad[200];
  tl__vtext_label(x, cut, sizeof cut, LABEL_MAX);
  if (tr != NULL && cut[0] == '\0') {
    char nm[96];
    tl__vtext_clean(tl_trace_name(tr, x, nm, sizeof nm), cut, sizeof cut,
                    LABEL_MAX);
  }
  record_escape(esc, sizeof esc, cut);
  tl__vtext_data(x, data, sizeof data);
  tl__vtext_grad(x, grad, sizeof grad);
  record_escape(edata, sizeof edata, data);   /* arrays: "|g|", "(2, 3)" */
  record_escape(egrad, sizeof egrad, grad);
  snprintf(label, LABEL_BUF, "{ %s | %s | %s }", esc, edata, egrad);
}

/* Builds the Agraph_t of the snapshot 'g' with the discipline 'disc' (which
** must outlive it) into *agp.  A routed graph bigger than 'max_size' (0: no
** limit) is refused with TL_EARG.  With a trace 'tr' (the HTML page) values
** are named as its captions name them, and every node and edge gets an
** SVG id the page's script finds it by: "v3" the value at index 3 of 'g',
** "v3_op" its op, "v3_copy0" a relay copy, "e5" edge 5 of 'g' (input to
** op), "v3_out" op to value. */
static tl_status build(tl_ctx *ctx, const tl__vgraph *g, Agdisc_t *disc,
                       size_t max_size, const tl_trace *tr, Agraph_t **agp) {
  plan p;
  *agp = NULL;
  if (!plan_relays(g, &p))
    return tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
  if (max_size > 0 && p.size > max_size) {
    tl_status st = tl_ctx_fail(ctx, TL_EARG, "graph too tangled for graphviz: laying it out "
                "takes %zu nodes and edges, more than the limit of %zu (%d "
                "per max_nodes; raise max_nodes, or draw it with the cairo "
                "view)", p.size, max_size, SIZE_PER_NODE);
    plan_free(&p);
    return st;
  }
  Agraph_t *ag = agopen("Digraph", Agdirected, disc);
  Agnode_t **vals = malloc(((g->n ? g->n : 1) * 2 + p.ncopies) * sizeof *vals);
  if (ag == NULL || vals == NULL) {
    if (ag != NULL) agclose(ag);
    free(vals);
    plan_free(&p);
    return tl_ctx_fail(ctx, TL_ENOMEM, "graphviz: cannot make a graph");
  }
  agattr(ag, AGRAPH, "rankdir", "LR");
  agattr(ag, AGNODE, "shape", "record");
  /* gvContext declares this default for every graph made after it, so the
  ** DOT text would change once a picture was drawn: declare it always */
  agattr(ag, AGNODE, "label", "\\N");
  bound_work(ag, &p);
  Agnode_t **ops = vals + g->n;        /* ops[i]: the op ellipse of value i */
  Agnode_t **copies = ops + g->n;      /* relay copies */
  char name[NAME_MAX_LEN], label[LABEL_BUF];
  for (size_t i = 0; i < g->n; i++) {
    tl_node *x = g->nodes[i];
    snprintf(name, sizeof name, "v%zu", i);
    vals[i] = agnode(ag, name, 1);
    value_label(x, label, tr);
    agsafeset(vals[i], "label", label, "");
    if (tr != NULL) agsafeset(vals[i], "id", name, "");
    ops[i] = NULL;
    if (tl_ninputs(x) > 0) {
      char op[64];
      snprintf(name, sizeof name, "v%zu_op", i);
      ops[i] = agnode(ag, name, 1);
      agsafeset(ops[i], "shape", "ellipse", "");
      agsafeset(ops[i], "label", (char *)tl_op_label(x, op, sizeof op), "");
      Agedge_t *out = agedge(ag, ops[i], vals[i], NULL, 1);
      if (tr != NULL) {
        agsafeset(ops[i], "id", name, "");
        snprintf(name, sizeof name, "v%zu_out", i);
        agsafeset(out, "id", name, "");
      }
    }
  }
  for (size_t c = 0; c < p.ncopies; c++) {
    snprintf(name, sizeof name, "v%zu_copy%zu", p.copy_of[c], c);
    copies[c] = agnode(ag, name, 1);
    value_label(g->nodes[p.copy_of[c]], label, tr);
    agsafeset(copies[c], "label", label, "");
    if (tr != NULL) agsafeset(copies[c], "id", name, "");
    agsafeset(copies[c], "style", "dashed", "");
  }
  for (size_t e = 0; e < g->ne; e++) {
    Agnode_t *from = p.src[e] == SIZE_MAX ? vals[g->edges[e].from] : copies[p.src[e]];
    Agedge_t *edge = agedge(ag, from, ops[g->edges[e].to], NULL, 1);
    if (tr != NULL) {
      snprintf(name, sizeof name, "e%zu", e);
      agsafeset(edge, "id", name, "");
    }
  }
  free(vals);
  plan_free(&p);
  *agp = ag;
  return TL_OK;
}

/* {======================================================================
** Readable model graphs: layers collapsed into boxes, neurons expanded
** into micrograd's w*x + b.  Both draw values and ops as build() does and
** differ only where a model's nodes are; they plan no relay copies (a
** collapsed graph is small, an expanded one is counted against the limit).
** ======================================================================= */

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

typedef struct layer_box {
  unsigned long k;
  tl_node *w, *b;           /* the first fused node's W and b, or NULL */
  char act[32];             /* the activation's op label, or "" */
  int linear;               /* a LINEAR node (batch) rather than neuron rows */
  size_t rows;              /* neuron rows seen */
  Agnode_t *node;
} layer_box;

static int cmp_layer(const void *a, const void *b) {
  unsigned long x = ((const layer_box *)a)->k, y = ((const layer_box *)b)->k;
  return (x > y) - (x < y);
}

static layer_box *find_layer(layer_box *ls, size_t nl, unsigned long k) {
  layer_box key = {0};
  key.k = k;
  return bsearch(&key, ls, nl, sizeof *ls, cmp_layer);
}

typedef struct box_edge { size_t t, h, from; } box_edge;

static int cmp_box_edge(const void *a, const void *b) {
  const box_edge *x = a, *y = b;
  if (x->t != y->t) return (x->t > y->t) - (x->t < y->t);
  if (x->h != y->h) return (x->h > y->h) - (x->h < y->h);
  return (x->from > y->from) - (x->from < y->from);
}

/* "(16 x 2)" */
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

/* The box's record "L1: Linear 2→16, ReLU | W (16 x 2), b (16)". */
static void layer_label(const layer_box *l, char *label, size_t size) {
  char head[160], wd[64] = "", bd[64] = "", io[64] = "";
  if (l->w != NULL) dims_text(l->w, wd, sizeof wd);
  if (l->b != NULL) dims_text(l->b, bd, sizeof bd);
  if (l->w != NULL && tl_is_array(l->w) && tl_ndim(l->w) == 2)
    snprintf(io, sizeof io, " %zu\xe2\x86\x92%zu", tl_dim(l->w, 1),
             tl_dim(l->w, 0));
  snprintf(head, sizeof head, "L%lu: Linear%s%s%s", l->k, io,
           l->act[0] ? ", " : "", l->act);
  char eh[2 * sizeof head];
  record_escape(eh, sizeof eh, head);
  /* no braces: across the left-to-right flow, so the title sits above
  ** the shapes and a box stays narrow */
  snprintf(label, size, "%s | W %s, b %s", eh, wd, bd[0] ? bd : "none");
}

/* A value drawn as build() draws it: its record and, for a result, its op
** ellipse feeding it. */
static void plain_value(Agraph_t *ag, const tl__vgraph *g, size_t i,
                        Agnode_t **vals, Agnode_t **ops) {
  char name[2 * NAME_MAX_LEN], label[LABEL_BUF], op[64];
  tl_node *x = g->nodes[i];
  snprintf(name, sizeof name, "v%zu", i);
  vals[i] = agnode(ag, name, 1);
  value_label(x, label, NULL);
  agsafeset(vals[i], "label", label, "");
  ops[i] = NULL;
  if (tl_ninputs(x) > 0) {
    snprintf(name, sizeof name, "v%zu_op", i);
    ops[i] = agnode(ag, name, 1);
    agsafeset(ops[i], "shape", "ellipse", "");
    agsafeset(ops[i], "label", (char *)tl_op_label(x, op, sizeof op), "");
    agedge(ag, ops[i], vals[i], NULL, 1);
  }
}

static Agraph_t *open_graph(Agdisc_t *disc) {
  Agraph_t *ag = agopen("Digraph", Agdirected, disc);
  if (ag == NULL) return NULL;
  agattr(ag, AGRAPH, "rankdir", "LR");
  agattr(ag, AGNODE, "shape", "record");
  agattr(ag, AGNODE, "label", "\\N");
  return ag;
}

/* The collapsed graph (opts->collapse TL_VIZ_COLLAPSE_LAYER). */
static int listed(const size_t *list, size_t n, unsigned long k) {
  for (size_t j = 0; j < n; j++)
    if (list[j] == k) return 1;
  return 0;
}

static tl_status build_collapsed(tl_ctx *ctx, const tl__vgraph *g,
                                 const tl_viz_opts *opts, Agdisc_t *disc,
                                 Agraph_t **agp) {
  size_t n = g->n;
  unsigned long *grp = calloc(n ? n : 1, sizeof *grp);   /* 0: no layer */
  size_t *estart = edge_starts(g);
  layer_box *ls = malloc((n ? n : 1) * sizeof *ls);
  Agnode_t **vals = malloc((n ? n : 1) * 2 * sizeof *vals);
  Agraph_t *ag = open_graph(disc);
  box_edge *be = NULL;
  tl_status st = TL_OK;
  *agp = NULL;
  if (grp == NULL || estart == NULL || ls == NULL || vals == NULL || ag == NULL) {
    st = tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
    goto done;
  }
  /* fused nodes by their W's label; then the layers, sorted and unique */
  size_t nl = 0;
  for (size_t i = 0; i < n; i++) {
    tl_node *w = fused_weight(g->nodes[i]);
    char which;
    if (w != NULL && (grp[i] = layer_of_label(w, &which)) != 0 &&
        (which != 'W' || (opts->expand_layers != NULL &&
                          listed(opts->expand_layers, opts->nexpand_layers, grp[i]))))
      grp[i] = 0;                           /* no layer, or drawn expanded */
    if (grp[i] != 0) ls[nl++] = (layer_box){grp[i], NULL, NULL, "", 0, 0, NULL};
  }
  qsort(ls, nl, sizeof *ls, cmp_layer);
  size_t u = 0;
  for (size_t j = 0; j < nl; j++)
    if (u == 0 || ls[u - 1].k != ls[j].k) ls[u++] = ls[j];
  nl = u;
  for (size_t i = 0; i < n; i++) {
    tl_node *x = g->nodes[i];
    if (grp[i] != 0) {                      /* a fused node: its shapes */
      layer_box *l = find_layer(ls, nl, grp[i]);
      tl_op op = tl_op_of(x);
      if (l->w == NULL) {
        l->w = fused_weight(x);
        l->b = tl_input(x, op == TL_OP_NEURON_ROW ? 1 : 2);
        l->linear = op == TL_OP_LINEAR;
      }
      l->rows++;
    } else if (tl_ninputs(x) == 1 && is_activation(tl_op_of(x))) {
      size_t from = g->edges[estart[i]].from;   /* the activation of one */
      if (grp[from] != 0 && is_fused(tl_op_of(g->nodes[from]))) {
        layer_box *l = find_layer(ls, nl, grp[from]);
        grp[i] = grp[from];
        if (l->act[0] == '\0') tl_op_label(x, l->act, sizeof l->act);
      }
    } else if (tl_ninputs(x) == 0) {         /* Lk.W, Lk.b go in the box */
      char which;
      unsigned long k = layer_of_label(x, &which);
      if (k != 0 && find_layer(ls, nl, k) != NULL) grp[i] = k;
    }
  }
  char name[2 * NAME_MAX_LEN], label[LABEL_BUF];
  for (size_t j = 0; j < nl; j++) {
    snprintf(name, sizeof name, "L%lu", ls[j].k);
    ls[j].node = agnode(ag, name, 1);
    layer_label(&ls[j], label, sizeof label);
    agsafeset(ls[j].node, "label", label, "");
    agsafeset(ls[j].node, "style", "filled", "");
    agsafeset(ls[j].node, "fillcolor", "lightblue", "");
  }
  Agnode_t **ops = vals + n;
  for (size_t i = 0; i < n; i++) {
    vals[i] = ops[i] = NULL;
    if (grp[i] == 0) plain_value(ag, g, i, vals, ops);
  }
  /* data between boxes, and into and out of them: one edge for all the
  ** values one box passes to another (or to one op), labelled with their
  ** number when more than one; (tail, head, value) triples sorted and
  ** counted.  Tails and heads: a value's index, or n + a box's. */
  be = malloc((g->ne ? g->ne : 1) * sizeof *be);
  if (be == NULL) {
    st = tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
    goto done;
  }
  size_t nbe = 0;
  for (size_t e = 0; e < g->ne; e++) {
    size_t from = g->edges[e].from, to = g->edges[e].to;
    unsigned long a = grp[from], b = grp[to];
    if (a != 0 && a == b) continue;
    if (a == 0 && b == 0) agedge(ag, vals[from], ops[to], NULL, 1);
    else be[nbe++] = (box_edge){a ? n + (size_t)(find_layer(ls, nl, a) - ls) : from,
                                b ? n + (size_t)(find_layer(ls, nl, b) - ls) : to,
                                from};
  }
  qsort(be, nbe, sizeof *be, cmp_box_edge);
  for (size_t j = 0; j < nbe;) {
    size_t count = 0, k = j;
    for (; k < nbe && be[k].t == be[j].t && be[k].h == be[j].h; k++)
      if (k == j || be[k].from != be[k - 1].from) count++;
    Agnode_t *t = be[j].t >= n ? ls[be[j].t - n].node : vals[be[j].t];
    Agnode_t *h = be[j].h >= n ? ls[be[j].h - n].node : ops[be[j].h];
    Agedge_t *edge = agedge(ag, t, h, NULL, 1);
    if (count > 1) {
      char num[48];
      snprintf(num, sizeof num, "%zu values", count);
      agsafeset(edge, "label", num, "");
    }
    j = k;
  }
  *agp = ag;
  ag = NULL;
done:
  if (ag != NULL) agclose(ag);
  free(grp);
  free(estart);
  free(be);
  free(ls);
  free(vals);
  return st;
}

/* A record of a drawn-only value: "{ label | data .. | grad .. }". */
static Agnode_t *number_node(Agraph_t *ag, const char *name, const char *lbl,
                             double data, double grad) {
  char d[40], gr[40], esc[2 * LABEL_MAX + 16], label[LABEL_BUF];
  record_escape(esc, sizeof esc, lbl);
  snprintf(label, sizeof label, "{ %s | data %s | grad %s }", esc,
           tl_format_number(d, sizeof d, data, 'f', 4),
           tl_format_number(gr, sizeof gr, grad, 'f', 4));
  Agnode_t *v = agnode(ag, (char *)name, 1);
  agsafeset(v, "label", label, "");
  return v;
}

static Agnode_t *op_node(Agraph_t *ag, const char *name, const char *op,
                         Agnode_t *result) {
  Agnode_t *o = agnode(ag, (char *)name, 1);
  agsafeset(o, "shape", "ellipse", "");
  agsafeset(o, "label", (char *)op, "");
  agedge(ag, o, result, NULL, 1);
  return o;
}

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
  char cut[LABEL_MAX + 8], which;
  unsigned long k = layer_of_label(a, &which);
  if (k != 0 && two && which == 'W')
    snprintf(buf, size, "L%lu.N%zu.w%zu", k, r + 1, c + 1);
  else if (k != 0 && !two && which == 'b')
    snprintf(buf, size, "L%lu.N%zu.b", k, r + 1);
  else {
    tl__vtext_label(a, cut, sizeof cut, LABEL_MAX);
    if (two) snprintf(buf, size, "%s[%zu,%zu]", cut[0] ? cut : fallback, r + 1, c + 1);
    else snprintf(buf, size, "%s[%zu]", cut[0] ? cut : fallback, r + 1);
  }
}

/* The expanded graph (opts->expand): each neuron row n = W[r].x + b[r]
** drawn as micrograd's Neuron computes it, b[r] + w1*x1 + w2*x2 + ...,
** one '*' per input and a chain of '+', the last being n itself.  The
** weights are the elements of W and b (their gradients those of the
** elements, after backward); the products and partial sums get n's
** gradient, as a sum passes it on unchanged. */
static tl_status build_expanded(tl_ctx *ctx, const tl__vgraph *g,
                                size_t max_nodes, Agdisc_t *disc,
                                Agraph_t **agp) {
  size_t n = g->n;
  size_t *estart = edge_starts(g);
  unsigned char *exp = calloc(n ? n : 1, 1), *keep = calloc(n ? n : 1, 1);
  Agnode_t **vals = malloc((n ? n : 1) * 2 * sizeof *vals);
  Agraph_t *ag = NULL;
  tl_status st = TL_OK;
  *agp = NULL;
  if (estart == NULL || exp == NULL || keep == NULL || vals == NULL) {
    st = tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
    goto done;
  }
  /* W and b leaves stay drawn only if some unexpanded node uses them */
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
                     "the graphviz limit of %zu (raise max_nodes to draw it "
                     "anyway)", count, max_nodes);
    goto done;
  }
  if ((ag = open_graph(disc)) == NULL) {
    st = tl_ctx_fail(ctx, TL_ENOMEM, "graphviz: cannot make a graph");
    goto done;
  }
  Agnode_t **ops = vals + n;
  for (size_t i = 0; i < n; i++) {
    vals[i] = ops[i] = NULL;
    if (keep[i]) plain_value(ag, g, i, vals, ops);
  }
  char name[2 * NAME_MAX_LEN], lbl[LABEL_MAX + 40];
  for (size_t i = 0; i < n; i++) {
    if (!exp[i]) {
      for (size_t k = 0; k < tl_ninputs(g->nodes[i]); k++)
        agedge(ag, vals[g->edges[estart[i] + k].from], ops[i], NULL, 1);
      continue;
    }
    tl_node *x = g->nodes[i], *w = tl_input(x, 0), *b = tl_input(x, 1);
    size_t nin = tl_ninputs(x) - 2, r = (size_t)tl_const(x);
    double gx = tl_grad(x), sum = tl_value_at(b, r);
    int wg = tl_has_grads(w), bg = tl_has_grads(b);
    agsafeset(ops[i], "label", "+", "");
    element_name(b, "b", r, 0, 0, lbl, sizeof lbl);
    snprintf(name, sizeof name, "v%zu_b", i);
    Agnode_t *prev = number_node(ag, name, lbl, sum, bg ? tl_grad_at(b, r) : 0);
    for (size_t j = 0; j < nin; j++) {
      size_t at = r * nin + j;
      double wv = tl_value_at(w, at), xv = tl_data(tl_input(x, j + 2));
      element_name(w, "W", r, j, 1, lbl, sizeof lbl);
      snprintf(name, sizeof name, "v%zu_w%zu", i, j);
      Agnode_t *wn = number_node(ag, name, lbl, wv, wg ? tl_grad_at(w, at) : 0);
      snprintf(name, sizeof name, "v%zu_p%zu", i, j);
      Agnode_t *pn = number_node(ag, name, "", wv * xv, gx);
      snprintf(name, sizeof name, "v%zu_p%zu_op", i, j);
      Agnode_t *po = op_node(ag, name, "*", pn);
      agedge(ag, wn, po, NULL, 1);
      agedge(ag, vals[g->edges[estart[i] + 2 + j].from], po, NULL, 1);
      sum += wv * xv;
      Agnode_t *sn, *so;
      if (j + 1 == nin) { sn = vals[i]; so = ops[i]; }
      else {
        snprintf(name, sizeof name, "v%zu_s%zu", i, j);
        sn = number_node(ag, name, "", sum, gx);
        snprintf(name, sizeof name, "v%zu_s%zu_op", i, j);
        so = op_node(ag, name, "+", sn);
      }
      agedge(ag, prev, so, NULL, 1);
      agedge(ag, pn, so, NULL, 1);
      prev = sn;
    }
  }
  *agp = ag;
done:
  free(estart);
  free(exp);
  free(keep);
  free(vals);
  return st;
}

/* }====================================================================== */

/* Writes the snapshot in 'fmt' to 'out'.  DOT is the graph as built,
** written by cgraph into memory (no layout, so no positions); the other
** formats are laid out by dot and rendered into memory by gvc. */
struct tl_gv { GVC_t *gvc; };

tl_gv *tl_gv_new(tl_ctx *ctx) {
  tl_gv *gv = malloc(sizeof *gv);
  if (gv != NULL && (gv->gvc = gvContext()) != NULL) return gv;
  free(gv);
  tl_ctx_fail(ctx, TL_ENOMEM, "graphviz: cannot make a context");
  return NULL;
}

void tl_gv_free(tl_gv *gv) {
  if (gv == NULL) return;
  gvFreeContext(gv->gvc);
  free(gv);
}

/* cairo's coordinates are 24.8 fixed point: graphviz's PDF of a picture
** wider than 2^23 points aborts inside cairo (measured: 8.19 million points
** render, 9.2 million abort), and its render errors ("cairo: out of
** memory") reach only agerr, so render() checks agerrors() too. */
#define PDF_MAX_SIDE 8e6

/* graphviz draws PNGs at 96 dpi and only shrinks them to 32767 pixels a
** side: a tall and wide graph became a bitmap of a billion pixels, a
** minute to draw (or "cairo: out of memory").  Like the cairo view's, its
** PNGs stay under TL__PNG_MAX_SIDE a side and PNG_MAX_PIXELS in all,
** by lowering the dpi of the laid-out graph (read when rendering). */
#define PNG_DPI 96.0
#define PNG_MAX_PIXELS 25e6

static void png_fit(Agraph_t *ag, boxf bb) {
  double w = (bb.UR.x - bb.LL.x + 16) / 72, h = (bb.UR.y - bb.LL.y + 16) / 72;
  double dpi = PNG_DPI;            /* inches above: points plus the margins */
  if (w <= 0 || h <= 0) return;
  if (dpi * w > TL__PNG_MAX_SIDE) dpi = TL__PNG_MAX_SIDE / w;
  if (dpi * h > TL__PNG_MAX_SIDE) dpi = TL__PNG_MAX_SIDE / h;
  if (dpi * dpi * w * h > PNG_MAX_PIXELS) dpi = sqrt(PNG_MAX_PIXELS / (w * h));
  if (dpi < PNG_DPI) GD_drawing(ag)->dpi = dpi;
}

static tl_status render(tl_ctx *ctx, GVC_t *gvc, const tl__vgraph *g,
                        const tl_viz_opts *opts, tl_viz_format fmt,
                        size_t max_size, tl__out *out, textbuf *text) {
  Agiodisc_t io = {AgIoDisc.afread, textbuf_putstr, textbuf_flush};
  Agdisc_t disc = {&AgMemDisc, &AgIdDisc, &io};
  Agraph_t *ag;
  tl_status st;
  if (opts != NULL && opts->collapse == TL_VIZ_COLLAPSE_LAYER)
    st = build_collapsed(ctx, g, opts, &disc, &ag);
  else if (opts != NULL && opts->expand)
    st = build_expanded(ctx, g, max_size / SIZE_PER_NODE, &disc, &ag);
  else st = build(ctx, g, &disc, fmt == TL_VIZ_DOT ? 0 : max_size, NULL, &ag);
  if (st != TL_OK) return st;
  if (fmt == TL_VIZ_DOT) {
    if (agwrite(ag, text) == EOF || text->failed)
      st = tl_ctx_fail(ctx, TL_ENOMEM, "out of memory making DOT text");
    else if (out != NULL)
      st = tl__out_write(ctx, out, text->p, text->len);
    agclose(ag);
    return st;
  }
  char *data = NULL;
  unsigned int len = 0;
  if (gvLayout(gvc, ag, "dot") != 0)
    st = tl_ctx_fail(ctx, TL_EARG, "graphviz: dot layout failed");
  else {
    boxf bb = GD_bb(ag);
    double side = bb.UR.x - bb.LL.x > bb.UR.y - bb.LL.y ? bb.UR.x - bb.LL.x
                                                        : bb.UR.y - bb.LL.y;
    agreseterrors();
    if (fmt == TL_VIZ_PNG) png_fit(ag, bb);
    if (fmt == TL_VIZ_PDF && side > PDF_MAX_SIDE)
      st = tl_ctx_fail(ctx, TL_EARG, "graphviz: the picture is %.0f points "
                       "wide, too big for a PDF (at most %.0f; use SVG)",
                       side, PDF_MAX_SIDE);
    else if (gvRenderData(gvc, ag, tl_viz_format_name(fmt), &data, &len) != 0)
      st = tl_ctx_fail(ctx, TL_EARG, "graphviz: cannot render format '%s' "
                       "(is its graphviz plugin installed?)",
                       tl_viz_format_name(fmt));
    else if (agerrors() >= AGERR)   /* gvRenderData says 0 all the same */
      st = tl_ctx_fail(ctx, TL_EIO, "graphviz: rendering %s failed (see "
                       "graphviz's message)", tl_viz_format_name(fmt));
    else st = tl__out_write(ctx, out, data, len);
    if (data != NULL) gvFreeRenderData(data);
    gvFreeLayout(gvc, ag);
  }
  agclose(ag);
  return st;
}

tl_status tl__gv_svg(tl_ctx *ctx, tl_gv *gv, const tl__vgraph *g,
                     const tl_trace *tr, size_t max_nodes, char **svg,
                     size_t *len) {
  Agdisc_t disc = {&AgMemDisc, &AgIdDisc, &AgIoDisc};
  Agraph_t *ag;
  *svg = NULL;
  *len = 0;
  tl_status st = build(ctx, g, &disc, SIZE_PER_NODE * max_nodes, tr, &ag);
  if (st != TL_OK) return st;
  char *data = NULL;
  unsigned int n = 0;
  if (gvLayout(gv->gvc, ag, "dot") != 0)
    st = tl_ctx_fail(ctx, TL_EARG, "graphviz: dot layout failed");
  else {
    agreseterrors();
    if (gvRenderData(gv->gvc, ag, "svg", &data, &n) != 0 || agerrors() >= AGERR)
      st = tl_ctx_fail(ctx, TL_EIO, "graphviz: rendering svg failed");
    else if ((*svg = malloc((size_t)n + 1)) == NULL)
      st = tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
    else {
      memcpy(*svg, data, n);
      (*svg)[n] = '\0';
      *len = n;
    }
    if (data != NULL) gvFreeRenderData(data);
    gvFreeLayout(gv->gvc, ag);
  }
  agclose(ag);
  return st;
}

static size_t limit_of(const tl_viz_opts *opts) {
  return opts && opts->max_nodes ? opts->max_nodes : TL_VIZ_GRAPHVIZ_MAX_NODES;
}

tl_status tl_viz_graphviz(tl_ctx *ctx, tl_gv *gv, tl_node *root,
                          const tl_viz_opts *opts, tl_viz_format fmt,
                          const char *file) {
  if (gv == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "graphviz: session expected, got NULL");
  if ((unsigned)fmt >= TL_VIZ_FORMAT_COUNT)
    return tl_ctx_fail(ctx, TL_EARG, "graphviz: unknown format %d", (int)fmt);
  if (file == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "graphviz: path expected, got NULL");
  tl__vgraph g;
  tl_status st = tl__vgraph_build(ctx, root, opts,
                                  fmt == TL_VIZ_DOT ? 0 : limit_of(opts),
                                  "graphviz", &g);
  if (st != TL_OK) return st;
  /* open first: an unwritable path fails before the costly layout */
  tl__out out;
  st = tl__out_open(ctx, &out, file);
  if (st != TL_OK) { tl__vgraph_free(&g); return st; }
  textbuf text = {0};
  st = render(ctx, gv->gvc, &g, opts, fmt,
              fmt == TL_VIZ_DOT ? 0 : SIZE_PER_NODE * limit_of(opts), &out,
              &text);
  free(text.p);
  tl__vgraph_free(&g);
  if (st == TL_OK) return tl__out_commit(ctx, &out);
  tl__out_abort(&out);
  return st;
}

tl_status tl_viz_dot(tl_ctx *ctx, tl_node *root, const tl_viz_opts *opts,
                     char **text_out, size_t *len) {
  *text_out = NULL;
  *len = 0;
  tl__vgraph g;
  tl_status st = tl__vgraph_build(ctx, root, opts, 0, "graphviz", &g);
  if (st != TL_OK) return st;
  textbuf text = {0};
  st = render(ctx, NULL, &g, opts, TL_VIZ_DOT, 0, NULL, &text);
  tl__vgraph_free(&g);
  if (st != TL_OK) { free(text.p); return st; }
  *text_out = text.p;    /* agwrite kept it NUL-terminated */
  *len = text.len;
  return TL_OK;
}
