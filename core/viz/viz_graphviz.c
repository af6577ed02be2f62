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
** into micrograd's w*x + b (the items and edges: viz_model.c).  Values
** are drawn as build() draws them; no relay copies are planned (a
** collapsed graph is small, an expanded one is counted against the
** limit).
** ======================================================================= */

/* A record of a drawn-only value: "{ label | data .. | grad .. }". */
static void number_label(const char *lbl, double data, double grad,
                         char *label, size_t size) {
  char d[40], gr[40], esc[2 * LABEL_MAX + 16];
  record_escape(esc, sizeof esc, lbl);
  snprintf(label, size, "{ %s | data %s | grad %s }", esc,
           tl_format_number(d, sizeof d, data, 'f', 4),
           tl_format_number(gr, sizeof gr, grad, 'f', 4));
}

/* The box's record "L1: Linear 2→16, ReLU | W (16 x 2), b (16)" (no
** braces: across the left-to-right flow, so the title sits above the
** shapes and a box stays narrow). */
static void layer_label(const tl__mlayer *l, char *label, size_t size) {
  char title[160], shapes[160], head[200], eh[2 * sizeof head];
  tl__mlayer_text(l, title, sizeof title, shapes, sizeof shapes);
  snprintf(head, sizeof head, "L%lu: %s", l->k, title);
  record_escape(eh, sizeof eh, head);
  snprintf(label, size, "%s | %s", eh, shapes);
}

/* The Agraph_t of the model graph 'mg' of 'g': values and numbers as
** records with an op ellipse feeding each result, layers as filled
** records; an edge carrying several values says how many. */
static tl_status build_model(tl_ctx *ctx, const tl__vgraph *g,
                             const tl__mgraph *mg, Agdisc_t *disc,
                             Agraph_t **agp) {
  Agnode_t **node = malloc((mg->n ? mg->n : 1) * 2 * sizeof *node);
  Agraph_t *ag = agopen("Digraph", Agdirected, disc);
  *agp = NULL;
  if (node == NULL || ag == NULL) {
    if (ag != NULL) agclose(ag);
    free(node);
    return tl_ctx_fail(ctx, TL_ENOMEM, "graphviz: cannot make a graph");
  }
  agattr(ag, AGRAPH, "rankdir", "LR");
  agattr(ag, AGNODE, "shape", "record");
  agattr(ag, AGNODE, "label", "\\N");
  Agnode_t **op = node + mg->n;     /* op[j]: the ellipse feeding item j */
  char name[64], label[LABEL_BUF], opl[64];
  for (size_t j = 0; j < mg->n; j++) {
    const tl__mitem *it = &mg->items[j];
    const char *o = it->op;
    node[j] = agnode(ag, (char *)it->name, 1);
    op[j] = NULL;
    if (it->kind == TL__MLAYER) {
      layer_label(&mg->layers[it->layer], label, sizeof label);
      agsafeset(node[j], "style", "filled", "");
      agsafeset(node[j], "fillcolor", "lightblue", "");
    } else if (it->kind == TL__MNUMBER) {
      number_label(it->label, it->data, it->grad, label, sizeof label);
    } else {
      tl_node *x = g->nodes[it->value];
      value_label(x, label, NULL);
      if (o == NULL && tl_ninputs(x) > 0) o = tl_op_label(x, opl, sizeof opl);
    }
    agsafeset(node[j], "label", label, "");
    if (o != NULL && o[0] != '\0') {
      snprintf(name, sizeof name, "%s_op", it->name);
      op[j] = agnode(ag, name, 1);
      agsafeset(op[j], "shape", "ellipse", "");
      agsafeset(op[j], "label", (char *)o, "");
      agedge(ag, op[j], node[j], NULL, 1);
    }
  }
  for (size_t e = 0; e < mg->ne; e++) {
    size_t t = mg->edges[e].from, h = mg->edges[e].to;
    Agedge_t *edge = agedge(ag, node[t], op[h] ? op[h] : node[h], NULL, 1);
    if (mg->count[e] > 1) {
      char num[48];
      snprintf(num, sizeof num, "%zu values", mg->count[e]);
      agsafeset(edge, "label", num, "");
    }
  }
  free(node);
  *agp = ag;
  return TL_OK;
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
  if (opts != NULL && (opts->collapse || opts->expand)) {
    tl__mgraph mg;
    st = tl__mgraph_build(ctx, g, opts, max_size / SIZE_PER_NODE, "graphviz",
                          0, &mg);
    if (st == TL_OK) st = build_model(ctx, g, &mg, &disc, &ag);
    tl__mgraph_free(&mg);
  } else st = build(ctx, g, &disc, fmt == TL_VIZ_DOT ? 0 : max_size, NULL, &ag);
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
