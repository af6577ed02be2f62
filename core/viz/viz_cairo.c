/*
** viz_cairo.c -- the cairo view: the quick "dynamic" picture of a graph,
** one box per value showing its label, op, data and grad, placed by the
** layered layout of viz_layout.c (inputs left, root right, no overlaps).
**
** After a backward pass, edges show the gradient: an edge u -> v is drawn
** by |u.grad| (an array's gradient norm), the gradient that flowed back
** into u, wider and redder for bigger magnitudes (relative to the largest
** in the picture).  Before any
** backward pass every edge is thin and grey.  Inputs, parameters and op
** results have their own colours, explained by a legend under the graph.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "viz_layout.h"
#include "../tl_trace.h"

#define FONT_SANS TL__FONT_SANS
#define FONT_MONO TL__FONT_MONO
#define SIZE_LABEL 12.0
#define SIZE_VALUE 11.0
#define SIZE_SMALL 9.5
#define PAD 7.0            /* inside a box */
#define LINE_GAP 3.0
#define MARGIN 16.0
#define LEGEND_H 34.0
#define PNG_SCALE 2.0      /* pixels per point: crisp on high-density screens */
#define PNG_MAX_PIXELS 25e6
#define LABEL_CUT 48       /* longer labels are cut with "..." */
#define PI 3.14159265358979323846   /* M_PI is POSIX, not C11 */

typedef struct rgb { double r, g, b; } rgb;

/* fill and border of each tl__vkind, then of a collapsed model's layer
** box (KIND_LAYER) */
#define KIND_LAYER 3
static const rgb kind_fill[4] = {{0.86, 0.92, 1.00}, {1.00, 0.94, 0.78},
                                 {0.93, 0.91, 1.00}, {0.84, 0.95, 0.92}};
static const rgb kind_line[4] = {{0.23, 0.51, 0.96}, {0.85, 0.47, 0.02},
                                 {0.49, 0.23, 0.93}, {0.05, 0.55, 0.47}};
static const char *const kind_name[4] = {"input", "parameter", "op result",
                                         "layer"};

/* What the view draws: one box per value of the snapshot 'g', or, for a
** readable model graph (opts->collapse, opts->expand), one per item of
** 'mg' (viz_model.c, the graphviz view's items too).  'edges' are the
** snapshot's or the model graph's, grouped by target. */
typedef struct scene {
  const tl__vgraph *g;
  const tl__mgraph *mg;     /* NULL: the snapshot's values */
  size_t n, ne;
  const tl__vedge *edges;
  int nkinds;               /* kinds in the legend: 4 with layer boxes */
} scene;

static scene scene_of(const tl__vgraph *g, const tl__mgraph *mg) {
  if (mg == NULL) return (scene){g, NULL, g->n, g->ne, g->edges, 3};
  return (scene){g, mg, mg->n, mg->ne, mg->edges, mg->nlayers > 0 ? 4 : 3};
}

/* The kind (colours) of box i. */
static int box_kind(const scene *s, size_t i) {
  if (s->mg == NULL) return s->g->kind[i];
  const tl__mitem *it = &s->mg->items[i];
  if (it->kind == TL__MLAYER) return KIND_LAYER;
  if (it->kind == TL__MNUMBER) return it->op[0] ? TL__RESULT : TL__PARAM;
  return s->g->kind[it->value];
}

/* The gradient an edge is drawn by: |u.grad| of its input u, or the L2
** norm of the gradients of the values an edge between boxes carries. */
static double edge_mag(const scene *s, size_t e) {
  if (s->mg != NULL) return s->mg->mag[e];
  return tl__vgrad_mag(s->g->nodes[s->edges[e].from]);
}

/* The texts of one box. */
typedef struct box_text {
  char label[LABEL_CUT + 8];
  char tag[64];            /* the op ("*", "tanh", "+ 2") or the kind */
  char data[96], grad[96];
} box_text;

/* The texts of value i of 'g'.  With a trace 'tr' (the step-by-step
** view), a node without a label shows the name the captions call it by,
** and a gradient not known yet is blank. */
static void value_texts(const tl__vgraph *g, size_t i, box_text *t,
                        const tl_trace *tr) {
  tl_node *x = g->nodes[i];
  tl__vtext_label(x, t->label, sizeof t->label, LABEL_CUT);
  if (tr != NULL && t->label[0] == '\0')
    tl_trace_name(tr, x, t->label, sizeof t->label);
  if (g->kind[i] == TL__RESULT) tl_op_label(x, t->tag, sizeof t->tag);
  else snprintf(t->tag, sizeof t->tag, "%s", g->kind[i] == TL__PARAM ? "param" : "input");
  tl__vtext_data(x, t->data, sizeof t->data);
  tl__vtext_grad(x, t->grad, sizeof t->grad);
  if (tr != NULL && !tl_has_grads(x)) snprintf(t->grad, sizeof t->grad, "grad");
}

/* The texts of item i of a model graph: a layer box "L1", "Linear 2→8,
** ReLU", its shapes and its parameters' gradient norms; a number of an
** expanded neuron row as a scalar value is drawn. */
static void item_texts(const scene *s, size_t i, box_text *t) {
  const tl__mitem *it = &s->mg->items[i];
  if (it->kind == TL__MVALUE) {
    value_texts(s->g, it->value, t, NULL);
    if (it->op != NULL) snprintf(t->tag, sizeof t->tag, "%s", it->op);
  } else if (it->kind == TL__MLAYER) {
    const tl__mlayer *l = &s->mg->layers[it->layer];
    tl__mlayer_text(l, t->tag, sizeof t->tag, t->data, sizeof t->data);
    snprintf(t->label, sizeof t->label, "L%lu", l->k);
    if (l->w != NULL && tl_has_grads(l->w))
      snprintf(t->grad, sizeof t->grad, "grad |W| %.4g, |b| %.4g",
               tl__vgrad_mag(l->w), l->b ? tl__vgrad_mag(l->b) : 0.0);
    else snprintf(t->grad, sizeof t->grad, "grad none");
  } else {
    char d[40], gr[40];
    tl__vtext_clean(it->label, t->label, sizeof t->label, LABEL_CUT);
    snprintf(t->tag, sizeof t->tag, "%s", it->op[0] ? it->op : "param");
    snprintf(t->data, sizeof t->data, "data %s",
             tl_format_number(d, sizeof d, it->data, 'f', 4));
    snprintf(t->grad, sizeof t->grad, "grad %s",
             tl_format_number(gr, sizeof gr, it->grad, 'f', 4));
  }
}

static void box_texts(const scene *s, size_t i, box_text *t,
                      const tl_trace *tr) {
  if (s->mg != NULL) item_texts(s, i, t);
  else value_texts(s->g, i, t, tr);
}


/* Line heights of the three fonts, measured once. */
typedef struct metrics { double label, value, small; } metrics;

static double line_height(cairo_t *cr, const char *face, double size, int bold) {
  cairo_font_extents_t fe;
  tl__set_font(cr, face, size, bold);
  cairo_font_extents(cr, &fe);
  return fe.ascent + fe.descent;
}

/* The size of box i: the widest of its lines plus padding. */
static void box_size(cairo_t *cr, const metrics *m, const box_text *t,
                     double *w, double *h) {
  tl__set_font(cr, FONT_SANS, SIZE_LABEL, 1);
  double top = tl__text_width(cr, t->label);
  tl__set_font(cr, FONT_SANS, SIZE_SMALL, 0);
  top += tl__text_width(cr, t->tag) + 14 + (t->label[0] ? 8 : 0);
  tl__set_font(cr, FONT_MONO, SIZE_VALUE, 0);
  double vals = fmax(tl__text_width(cr, t->data), tl__text_width(cr, t->grad));
  *w = fmax(top, vals) + 2 * PAD;
  *h = m->label + 2 * m->value + 2 * LINE_GAP + 2 * PAD + 2;
}

static void rounded_rect(cairo_t *cr, double x, double y, double w, double h,
                         double r) {
  cairo_new_sub_path(cr);
  cairo_arc(cr, x + w - r, y + r, r, -PI / 2, 0);
  cairo_arc(cr, x + w - r, y + h - r, r, 0, PI / 2);
  cairo_arc(cr, x + r, y + h - r, r, PI / 2, PI);
  cairo_arc(cr, x + r, y + r, r, PI, 3 * PI / 2);
  cairo_close_path(cr);
}

/* Baseline text at (x, y). */
static void text_at(cairo_t *cr, double x, double y, const char *s) {
  cairo_move_to(cr, x, y);
  cairo_show_text(cr, s);
}

/* The colour of the step being drawn: its box and the edges the gradient
** leaves it by. */
static const rgb hot_line = {0.93, 0.42, 0.0};

static void draw_box(cairo_t *cr, const metrics *m, const tl__layout *lay,
                     size_t i, const box_text *t, int kind, int is_root,
                     int is_hot) {
  double w = lay->w[i], h = lay->h[i];
  double x = lay->x[i] - w / 2, y = lay->y[i] - h / 2;
  rgb f = kind_fill[kind], l = kind_line[kind];
  if (is_hot) {                  /* a halo around the step's node */
    rounded_rect(cr, x - 5, y - 5, w + 10, h + 10, 9);
    cairo_set_source_rgba(cr, hot_line.r, hot_line.g, hot_line.b, 0.25);
    cairo_fill(cr);
  }
  rounded_rect(cr, x, y, w, h, 5);
  cairo_set_source_rgb(cr, f.r, f.g, f.b);
  cairo_fill_preserve(cr);
  if (is_hot) cairo_set_source_rgb(cr, hot_line.r, hot_line.g, hot_line.b);
  else cairo_set_source_rgb(cr, l.r, l.g, l.b);
  cairo_set_line_width(cr, is_hot ? 3.0 : is_root ? 2.4 : 1.1);
  cairo_stroke(cr);
  double base = y + PAD + m->label * 0.8;
  tl__set_font(cr, FONT_SANS, SIZE_LABEL, 1);
  cairo_set_source_rgb(cr, 0.08, 0.08, 0.12);
  text_at(cr, x + PAD, base, t->label);
  /* the tag, in a pill at the top right */
  tl__set_font(cr, FONT_SANS, SIZE_SMALL, 0);
  double tw = tl__text_width(cr, t->tag);
  double ph = m->small + 3, pw = fmax(tw + 8, ph);
  double px = x + w - PAD - pw;
  rounded_rect(cr, px, base - m->small * 0.85, pw, ph, ph / 2);
  cairo_set_source_rgb(cr, l.r, l.g, l.b);
  cairo_fill(cr);
  cairo_set_source_rgb(cr, 1, 1, 1);
  text_at(cr, px + (pw - tw) / 2, base, t->tag);
  /* a rule, then the numbers */
  double ry = y + PAD + m->label + LINE_GAP;
  cairo_move_to(cr, x + 1, ry);
  cairo_line_to(cr, x + w - 1, ry);
  cairo_set_source_rgba(cr, l.r, l.g, l.b, 0.45);
  cairo_set_line_width(cr, 0.8);
  cairo_stroke(cr);
  tl__set_font(cr, FONT_MONO, SIZE_VALUE, 0);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  double vy = ry + LINE_GAP + m->value * 0.8;
  text_at(cr, x + PAD, vy, t->data);
  text_at(cr, x + PAD, vy + m->value + LINE_GAP, t->grad);
}

/* {======================================================================
** Edges
** ======================================================================= */

/* The largest finite |grad| of an edge's input; 0 if none (no backward). */
static double max_edge_grad(const scene *g) {
  double gmax = 0;
  for (size_t e = 0; e < g->ne; e++) {
    double v = edge_mag(g, e);
    if (isfinite(v) && v > gmax) gmax = v;
  }
  return gmax;
}

/* The y of the point an edge comes from just before its target: its last
** dummy, or its source. */
static double last_y(const tl__layout *lay, const scene *g, size_t e) {
  size_t a = lay->route_start[e], b = lay->route_start[e + 1];
  return b > a ? lay->y[lay->route[b - 1]] : lay->y[g->edges[e].from];
}

typedef struct edge_key { double y; size_t e; } edge_key;

static int cmp_edge_key(const void *a, const void *b) {
  const edge_key *x = a, *y = b;
  if (x->y != y->y) return x->y < y->y ? -1 : 1;
  return (x->e > y->e) - (x->e < y->e);
}

/* Where each edge enters its target: spread along the left side in the
** order the edges arrive from, so they do not cross at the box.  Edges of
** one target are contiguous in the snapshot. */
static int entry_points(const tl__layout *lay, const scene *g, double *entry) {
  edge_key *k = malloc((g->ne ? g->ne : 1) * sizeof *k);
  if (k == NULL) return 0;
  for (size_t a = 0; a < g->ne;) {
    size_t to = g->edges[a].to, b = a;
    while (b < g->ne && g->edges[b].to == to) { k[b - a] = (edge_key){last_y(lay, g, b), b}; b++; }
    size_t cnt = b - a;
    qsort(k, cnt, sizeof *k, cmp_edge_key);
    double span = lay->h[to] * 0.5;
    for (size_t r = 0; r < cnt; r++)
      entry[k[r].e] = lay->y[to] + (cnt > 1 ? span * ((double)r / (double)(cnt - 1) - 0.5) : 0);
    a = b;
  }
  free(k);
  return 1;
}

/* A smooth curve from (x0, y0) to (x1, y1) leaving and arriving level. */
static void curve_to(cairo_t *cr, double x0, double y0, double x1, double y1) {
  double dx = (x1 - x0) / 2;
  cairo_curve_to(cr, x0 + dx, y0, x1 - dx, y1, x1, y1);
}

/* 'hot': the node of the step drawn (SIZE_MAX for none): the edges into
** it, along which its gradient goes back this step, are drawn in
** hot_line.  'done' (the step-by-step view; NULL otherwise) marks the
** nodes whose step is over: only edges into them have carried a gradient
** yet, and only they are drawn by it (a.grad known from a -> d must not
** light a -> c before c's step). */
static void draw_edges(cairo_t *cr, const tl__layout *lay, const scene *g,
                       const double *entry, size_t hot,
                       const unsigned char *done) {
  double gmax = max_edge_grad(g);
  for (size_t e = 0; e < g->ne; e++) {
    size_t u = g->edges[e].from, v = g->edges[e].to;
    double t = 0, width = 1.1;
    rgb c = {0.55, 0.58, 0.64};
    if (v == hot) {
      c = hot_line;
      width = 3.0;
    } else if (gmax > 0 && (done == NULL || done[v])) {
      double mag = edge_mag(g, e);
      t = isfinite(mag) ? sqrt(mag / gmax) : 1;
      c = (rgb){0.70 + 0.15 * t, 0.74 - 0.62 * t, 0.80 - 0.70 * t};
      width = 0.8 + 3.6 * t;
    }
    double x = lay->x[u] + lay->w[u] / 2, y = lay->y[u];
    cairo_move_to(cr, x, y);
    for (size_t r = lay->route_start[e]; r < lay->route_start[e + 1]; r++) {
      size_t d = lay->route[r];
      curve_to(cr, x, y, lay->x[d], lay->y[d]);
      x = lay->x[d];
      y = lay->y[d];
    }
    double xe = lay->x[v] - lay->w[v] / 2 - 1, ye = entry[e];
    double ah = 5 + width;                    /* arrowhead length */
    curve_to(cr, x, y, xe - ah, ye);
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_set_line_width(cr, width);
    cairo_stroke(cr);
    cairo_move_to(cr, xe, ye);
    cairo_line_to(cr, xe - ah, ye - ah * 0.45);
    cairo_line_to(cr, xe - ah, ye + ah * 0.45);
    cairo_close_path(cr);
    cairo_fill(cr);
  }
}

/* The start of the last curve of edge e (its last dummy, or its input). */
static void last_point(const tl__layout *lay, const scene *g, size_t e,
                       double *x, double *y) {
  size_t a = lay->route_start[e], b = lay->route_start[e + 1];
  size_t d = b > a ? lay->route[b - 1] : g->edges[e].from;
  *x = lay->x[d] + lay->w[d] / 2;
  *y = lay->y[d];
}

/* "8 values" on an edge of a model graph that carries more than one,
** just above the middle of its last curve, on a white ground (as the
** graphviz view labels it; drawn across the line it hid a short edge
** between two boxes). */
static void draw_edge_counts(cairo_t *cr, const tl__layout *lay,
                             const scene *g, const double *entry) {
  if (g->mg == NULL) return;
  tl__set_font(cr, FONT_SANS, SIZE_SMALL, 0);
  for (size_t e = 0; e < g->ne; e++) {
    if (g->mg->count[e] < 2) continue;
    char num[48];
    double x0, y0, xe = lay->x[g->edges[e].to] - lay->w[g->edges[e].to] / 2;
    snprintf(num, sizeof num, "%zu values", g->mg->count[e]);
    last_point(lay, g, e, &x0, &y0);
    double tw = tl__text_width(cr, num), x = (x0 + xe) / 2, y = (y0 + entry[e]) / 2;
    rounded_rect(cr, x - tw / 2 - 3, y - 16, tw + 6, 12, 3);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.3);
    text_at(cr, x - tw / 2, y - 6.5, num);
  }
}

/* }====================================================================== */

/* What the legend says edges show: LEGEND_STEPS for the step-by-step
** view, LEGEND_MODEL for a model graph (an edge may carry many values). */
enum { LEGEND_PLAIN, LEGEND_STEPS, LEGEND_MODEL };

static int legend_mode(const scene *g, const tl_trace *tr) {
  return tr != NULL ? LEGEND_STEPS : g->mg != NULL ? LEGEND_MODEL : LEGEND_PLAIN;
}

/* The legend's words about edges, for the largest gradient 'gmax'. */
static void legend_note(char *note, size_t size, double gmax, int steps) {
  if (steps == LEGEND_STEPS)  /* the same on every page: the layout does not move */
    snprintf(note, size, "orange: this step; edge u \xe2\x86\x92 v: width "
             "and red = |u.grad| known so far");
  else if (gmax > 0 && steps == LEGEND_MODEL)
    snprintf(note, size, "edge: width and red = |grad| of the values it "
             "carries (max %.4g)", gmax);
  else if (gmax > 0)
    snprintf(note, size, "edge u \xe2\x86\x92 v: width and red = |u.grad| "
             "(max %.4g)", gmax);
  else
    snprintf(note, size, "edges: no gradients yet (call backward)");
}

/* The legend under the graph: the three kinds and what edges mean. */
static void draw_legend(cairo_t *cr, double y, double gmax, int steps,
                        int nkinds) {
  double x = MARGIN;
  tl__set_font(cr, FONT_SANS, SIZE_SMALL + 0.5, 0);
  for (int k = 0; k < nkinds; k++) {
    rounded_rect(cr, x, y - 9, 16, 11, 3);
    cairo_set_source_rgb(cr, kind_fill[k].r, kind_fill[k].g, kind_fill[k].b);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, kind_line[k].r, kind_line[k].g, kind_line[k].b);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    text_at(cr, x + 21, y, kind_name[k]);
    x += 21 + tl__text_width(cr, kind_name[k]) + 16;
  }
  char note[128];
  legend_note(note, sizeof note, gmax, steps);
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  text_at(cr, x, y, note);
}

static double legend_width(cairo_t *cr, double gmax, int steps, int nkinds) {
  char note[128];
  legend_note(note, sizeof note, gmax, steps);
  tl__set_font(cr, FONT_SANS, SIZE_SMALL + 0.5, 0);
  double w = 2 * MARGIN + nkinds * 37;
  for (int k = 0; k < nkinds; k++) w += tl__text_width(cr, kind_name[k]);
  return w + tl__text_width(cr, note) + 12;   /* slack: glyph overhang */
}

/* Measures every box into 'w', 'h' (arrays of g->n) with a scratch
** context. */
static tl_status measure(tl_ctx *ctx, const scene *g, metrics *m,
                         double *w, double *h, double *legend_w,
                         const tl_trace *tr) {
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1);
  cairo_t *cr = cairo_create(s);
  tl_status st = TL_OK;
  if (cairo_status(cr) != CAIRO_STATUS_SUCCESS)
    st = tl_ctx_fail(ctx, TL_ENOMEM, "cairo: %s",
                     cairo_status_to_string(cairo_status(cr)));
  else {
    m->label = line_height(cr, FONT_SANS, SIZE_LABEL, 1);
    m->value = line_height(cr, FONT_MONO, SIZE_VALUE, 0);
    m->small = line_height(cr, FONT_SANS, SIZE_SMALL, 0);
    for (size_t i = 0; i < g->n; i++) {
      box_text t;
      box_texts(g, i, &t, tr);
      box_size(cr, m, &t, &w[i], &h[i]);
    }
    *legend_w = legend_width(cr, max_edge_grad(g), legend_mode(g, tr), g->nkinds);
  }
  cairo_destroy(cr);
  cairo_surface_destroy(s);
  return st;
}

/* cairo's SVG draws text as glyph outlines, which nothing can search.  An
** XML comment after the root element (allowed by XML) lists each box's
** texts, so the picture can be searched and checked. */
static tl_status svg_text_index(tl_ctx *ctx, const scene *g, tl__out *out,
                                const tl_trace *tr) {
  static const char head[] = "<!-- torchlet graph text (label, op, data, grad):\n";
  tl_status st = tl__out_write(ctx, out, head, sizeof head - 1);
  for (size_t i = 0; i < g->n && st == TL_OK; i++) {
    box_text t;
    char line[sizeof t + 8];
    box_texts(g, i, &t, tr);
    int len = snprintf(line, sizeof line, "%s | %s | %s | %s\n", t.label, t.tag,
                       t.data, t.grad);
    for (char *p = line; (p = strstr(p, "--")) != NULL;) p[1] = '~';  /* no "--" in comments */
    st = tl__out_write(ctx, out, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
  }
  if (st == TL_OK) st = tl__out_write(ctx, out, "-->\n", 4);
  if (st != TL_OK || g->mg == NULL) return st;
  /* a model graph's edges too, by item name ("L1", "v3") and the number
  ** of values each carries */
  static const char ehead[] = "<!-- torchlet graph edges (from, to, values):\n";
  st = tl__out_write(ctx, out, ehead, sizeof ehead - 1);
  for (size_t e = 0; e < g->ne && st == TL_OK; e++) {
    char line[160];
    int len = snprintf(line, sizeof line, "%s -> %s | %zu\n",
                       g->mg->items[g->edges[e].from].name,
                       g->mg->items[g->edges[e].to].name, g->mg->count[e]);
    for (char *p = line; (p = strstr(p, "--")) != NULL;) p[1] = '~';
    st = tl__out_write(ctx, out, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
  }
  if (st == TL_OK) st = tl__out_write(ctx, out, "-->\n", 4);
  return st;
}

/* The graph and its legend on 'cr'; with a trace 'tr', as the step at
** node 'hot' leaves it, the edges into 'hot_edges' drawn as the ones its
** gradient goes back along (SIZE_MAX: none). */
static void paint(cairo_t *cr, const scene *g, const tl__layout *lay,
                  const metrics *m, const double *entry, const tl_trace *tr,
                  size_t hot, size_t hot_edges, const unsigned char *done) {
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  draw_edges(cr, lay, g, entry, hot_edges, done);
  draw_edge_counts(cr, lay, g, entry);
  for (size_t i = 0; i < g->n; i++) {
    box_text t;
    box_texts(g, i, &t, tr);
    draw_box(cr, m, lay, i, &t, box_kind(g, i), i + 1 == g->n, i == hot);
  }
  draw_legend(cr, lay->height + LEGEND_H / 2, max_edge_grad(g), legend_mode(g, tr),
              g->nkinds);
}

static tl_status draw(tl_ctx *ctx, const scene *g, const tl__layout *lay,
                      const metrics *m, double legend_w, tl_viz_format fmt,
                      tl__out *out) {
  double W = fmax(lay->width, legend_w), H = lay->height + LEGEND_H;
  double scale = PNG_SCALE;
  scale = fmin(scale, TL__PNG_MAX_SIDE / W);
  scale = fmin(scale, TL__PNG_MAX_SIDE / H);
  scale = fmin(scale, sqrt(PNG_MAX_PIXELS / (W * H)));
  double *entry = malloc((g->ne ? g->ne : 1) * sizeof *entry);
  if (entry == NULL || !entry_points(lay, g, entry)) {
    free(entry);
    tl__out_abort(out);
    return tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
  }
  cairo_surface_t *s = tl__surface_new(ctx, out, fmt, W, H, scale);
  if (s == NULL) { free(entry); tl__out_abort(out); return TL_ENOMEM; }
  cairo_t *cr = cairo_create(s);
  paint(cr, g, lay, m, entry, NULL, SIZE_MAX, SIZE_MAX, NULL);
  cairo_status_t cst = cairo_status(cr);
  cairo_destroy(cr);
  free(entry);
  if (cst != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(s);
    tl__out_abort(out);
    return tl_ctx_fail(ctx, TL_ENOMEM, "cairo: %s", cairo_status_to_string(cst));
  }
  tl_status st = tl__surface_finish(ctx, s, out, fmt);
  if (st == TL_OK && fmt == TL_VIZ_SVG) st = svg_text_index(ctx, g, out, NULL);
  if (st != TL_OK) { tl__out_abort(out); return st; }
  return tl__out_commit(ctx, out);
}

tl_status tl_viz_cairo(tl_ctx *ctx, tl_node *root, const tl_viz_opts *opts,
                       tl_viz_format fmt, const char *path) {
  if (fmt != TL_VIZ_PNG && fmt != TL_VIZ_SVG && fmt != TL_VIZ_PDF)
    return tl_ctx_fail(ctx, TL_EARG, "cairo view: format '%s' is not drawn "
                       "with cairo (png, svg or pdf expected)",
                       tl_viz_format_name(fmt));
  if (path == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "cairo view: path expected, got NULL");
  size_t limit = opts && opts->max_nodes ? opts->max_nodes : TL_VIZ_CAIRO_MAX_NODES;
  tl__vgraph g;
  tl__mgraph mg = {0};
  int model = opts != NULL && (opts->collapse || opts->expand);
  tl_status st = tl__vgraph_build(ctx, root, opts, limit, "cairo", &g);
  if (st != TL_OK) return st;
  if (model) {          /* a readable model graph, as the graphviz view's */
    st = tl__mgraph_build(ctx, &g, opts, limit, "cairo", 1, &mg);
    if (st != TL_OK) { tl__vgraph_free(&g); return st; }
  }
  scene sc = scene_of(&g, model ? &mg : NULL);
  double *wh = malloc(2 * (sc.n ? sc.n : 1) * sizeof *wh);
  if (wh == NULL) {
    tl__mgraph_free(&mg);
    tl__vgraph_free(&g);
    return tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
  }
  metrics m = {0, 0, 0};
  double legend_w = 0;
  tl__layout lay = {0};
  st = measure(ctx, &sc, &m, wh, wh + sc.n, &legend_w, NULL);
  if (st == TL_OK)
    st = tl__layout_run(ctx, sc.n, wh, wh + sc.n, sc.ne, sc.edges, MARGIN, &lay);
  free(wh);
  tl__out out;
  if (st == TL_OK) st = tl__out_open(ctx, &out, path);
  if (st == TL_OK) st = draw(ctx, &sc, &lay, &m, legend_w, fmt, &out);
  tl__layout_free(&lay);
  tl__mgraph_free(&mg);
  tl__vgraph_free(&g);
  return st;
}

/* {======================================================================
** The step-by-step backward view: one picture per step of a trace
** (tl_trace.h), the step's node highlighted, the gradients known so far
** filled in, a caption with the step's chain rule in numbers.
** ======================================================================= */

#define SIZE_TITLE 12.0
#define SIZE_CAPTION 10.5
#define CAPTION_LINE 15.0
#define CAPTION_PAD 12.0
#define CAPTION_CUT 1000       /* bytes of a caption line drawn */

/* Calls 'fn' on each line of 'text' (no newline), cleaned for cairo. */
static void each_line(const char *text, void (*fn)(void *, const char *),
                      void *ud) {
  char line[CAPTION_CUT + 8], clean[CAPTION_CUT + 8];
  while (*text) {
    size_t len = strcspn(text, "\n"), keep = len < CAPTION_CUT ? len : CAPTION_CUT;
    memcpy(line, text, keep);
    line[keep] = '\0';
    tl__vtext_clean(line, clean, sizeof clean, CAPTION_CUT);
    fn(ud, clean);
    text += len + (text[len] == '\n');
  }
}

/* Measuring captions: the widest line and the most lines of a step. */
typedef struct cap_measure { cairo_t *cr; double w; size_t lines, most; } cap_measure;

static void measure_line(void *ud, const char *s) {
  cap_measure *c = ud;
  c->w = fmax(c->w, tl__text_width(c->cr, s));
  c->lines++;
}

typedef struct cap_draw { cairo_t *cr; double x, y; } cap_draw;

static void draw_line(void *ud, const char *s) {
  cap_draw *c = ud;
  text_at(c->cr, c->x, c->y, s);
  c->y += CAPTION_LINE;
}

/* Captions are measured on a scratch surface and drawn on the page's:
** with metrics hinting, a PNG at twice the size rounds each advance to
** whole pixels, and a long line comes out 5% wider than measured. */
static void unhinted(cairo_t *cr) {
  cairo_font_options_t *fo = cairo_font_options_create();
  cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
  cairo_set_font_options(cr, fo);
  cairo_font_options_destroy(fo);
}

/* The caption from 'top': a rule, the title, the step's lines. */
static void draw_caption(cairo_t *cr, double top, double W, const char *title,
                         const char *text) {
  cairo_move_to(cr, MARGIN, top);
  cairo_line_to(cr, W - MARGIN, top);
  cairo_set_source_rgb(cr, 0.8, 0.8, 0.82);
  cairo_set_line_width(cr, 0.8);
  cairo_stroke(cr);
  cairo_save(cr);
  unhinted(cr);
  tl__set_font(cr, FONT_SANS, SIZE_TITLE, 1);
  cairo_set_source_rgb(cr, hot_line.r * 0.8, hot_line.g * 0.8, hot_line.b);
  text_at(cr, MARGIN, top + CAPTION_PAD + CAPTION_LINE * 0.7, title);
  tl__set_font(cr, FONT_MONO, SIZE_CAPTION, 0);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  cap_draw c = {cr, MARGIN, top + CAPTION_PAD + CAPTION_LINE * 1.7 + 2};
  each_line(text, draw_line, &c);
  cairo_restore(cr);
}

/* Pass 1: runs a whole trace to measure the captions (*cap_w, *cap_lines,
** *nsteps) and, at its end with every gradient known, the boxes; puts the
** gradients back. */
static tl_status steps_measure(tl_ctx *ctx, tl_node *root, const scene *g,
                               metrics *m, double *wh, double *legend_w,
                               double *cap_w, size_t *cap_lines,
                               size_t *nsteps) {
  tl_trace *tr;
  tl_status st = tl_trace_new_for(ctx, root, "steps", &tr);
  if (st != TL_OK) return st;
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1);
  cairo_t *cr = cairo_create(s);
  unhinted(cr);
  cap_measure c = {cr, 0, 0, 0};
  char title[256];
  int r;
  size_t k = 0;
  while ((r = tl_trace_next(ctx, tr)) == 1) {
    tl__vstep_title(title, sizeof title, tr, ++k, tl_trace_count(tr));
    tl__set_font(cr, FONT_SANS, SIZE_TITLE, 1);
    c.w = fmax(c.w, tl__text_width(cr, title));
    tl__set_font(cr, FONT_MONO, SIZE_CAPTION, 0);
    c.lines = 0;
    each_line(tl_trace_text(tr), measure_line, &c);
    if (c.lines > c.most) c.most = c.lines;
  }
  if (cairo_status(cr) != CAIRO_STATUS_SUCCESS && r >= 0) {
    r = -1;
    tl_ctx_fail(ctx, TL_ENOMEM, "cairo: %s", cairo_status_to_string(cairo_status(cr)));
  }
  cairo_destroy(cr);
  cairo_surface_destroy(s);
  if (r == 0) st = measure(ctx, g, m, wh, wh + g->n, legend_w, tr);
  else st = TL_ENOMEM;
  tl_trace_free(ctx, tr);
  *cap_w = c.w;
  *cap_lines = c.most;
  *nsteps = k;
  return st;
}

/* Draws the current step of 'tr' (step 'k') on 'cr'; 'done' marks the
** nodes of the steps before, and gets this one's. */
static void paint_step(cairo_t *cr, const scene *g, const tl__layout *lay,
                       const metrics *m, const double *entry,
                       const tl_trace *tr, size_t k, double W,
                       unsigned char *done) {
  size_t hot = SIZE_MAX;
  for (size_t i = 0; i < g->n; i++)
    if (g->g->nodes[i] == tl_trace_node(tr)) { hot = i; break; }
  /* the seed sends nothing */
  paint(cr, g, lay, m, entry, tr, hot, k > 1 ? hot : SIZE_MAX, done);
  if (k > 1 && hot != SIZE_MAX) done[hot] = 1;
  char title[256];
  tl__vstep_title(title, sizeof title, tr, k, tl_trace_count(tr));
  draw_caption(cr, lay->height + LEGEND_H, W, title, tl_trace_text(tr));
}

/* An SVG frame's texts, searchable (see svg_text_index): the boxes, then
** the caption, one line each, "--" written "-~". */
static tl_status svg_step_index(tl_ctx *ctx, const scene *g, tl__out *out,
                                const tl_trace *tr, size_t k) {
  tl_status st = svg_text_index(ctx, g, out, tr);
  char title[256];
  tl__vstep_title(title, sizeof title, tr, k, tl_trace_count(tr));
  const char *parts[] = {"<!-- torchlet step caption:\n", title, "\n",
                         tl_trace_text(tr), "\n-->\n"};
  for (size_t i = 0; i < 5 && st == TL_OK; i++) {
    const char *p = parts[i];
    if (i == 0 || i == 4) { st = tl__out_write(ctx, out, p, strlen(p)); continue; }
    for (; *p && st == TL_OK; p++) {       /* no "--" inside a comment */
      char c = *p == '-' && p[1] == '-' ? '-' : *p;
      st = tl__out_write(ctx, out, &c, 1);
      if (c == '-' && p[1] == '-') { st = tl__out_write(ctx, out, "~", 1); p++; }
    }
  }
  return st;
}

/* Pass 2: every step drawn, as pages of one PDF or as frames. */
static tl_status steps_draw(tl_ctx *ctx, tl_node *root, const scene *g,
                            const tl__layout *lay, const metrics *m,
                            double W, double H, tl_viz_format fmt,
                            const char *path, int frames) {
  double scale = fmin(PNG_SCALE, fmin(TL__PNG_MAX_SIDE / W, TL__PNG_MAX_SIDE / H));
  scale = fmin(scale, sqrt(PNG_MAX_PIXELS / (W * H)));
  double *entry = malloc((g->ne ? g->ne : 1) * sizeof *entry);
  unsigned char *done = calloc(g->n ? g->n : 1, 1);
  if (entry == NULL || done == NULL || !entry_points(lay, g, entry)) {
    free(entry);
    free(done);
    return tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
  }
  tl_trace *tr;
  tl_status st = tl_trace_new_for(ctx, root, "steps", &tr);
  if (st != TL_OK) { free(entry); free(done); return st; }
  size_t plen = strlen(path);
  char *fpath = malloc(plen + 32);
  tl__out out;
  cairo_surface_t *s = NULL;
  cairo_t *cr = NULL;
  int open = 0, r;
  if (fpath == NULL) st = tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
  if (st == TL_OK && !frames) {
    st = tl__out_open(ctx, &out, path);
    open = st == TL_OK;
    if (open && (s = tl__surface_new(ctx, &out, fmt, W, H, scale)) == NULL) st = TL_ENOMEM;
    if (s) cr = cairo_create(s);
  }
  for (size_t k = 1; st == TL_OK && (r = tl_trace_next(ctx, tr)) != 0; k++) {
    if (r < 0) { st = TL_ENOMEM; break; }
    if (frames) {
      snprintf(fpath, plen + 32, "%s%sstep-%03zu.%s", path,
               plen && path[plen - 1] == '/' ? "" : "/", k,
               tl_viz_format_name(fmt));
      st = tl__out_open(ctx, &out, fpath);
      if (st != TL_OK) break;
      open = 1;
      if ((s = tl__surface_new(ctx, &out, fmt, W, H, scale)) == NULL) { st = TL_ENOMEM; break; }
      cr = cairo_create(s);
    } else if (k > 1) {          /* a new page, white */
      cairo_set_source_rgb(cr, 1, 1, 1);
      cairo_paint(cr);
    }
    paint_step(cr, g, lay, m, entry, tr, k, W, done);
    if (frames || cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
      cairo_status_t cst = cairo_status(cr);
      cairo_destroy(cr);
      cr = NULL;
      if (cst != CAIRO_STATUS_SUCCESS) {
        st = tl_ctx_fail(ctx, TL_ENOMEM, "cairo: %s", cairo_status_to_string(cst));
        break;
      }
      st = tl__surface_finish(ctx, s, &out, fmt);   /* aborts 'out' on failure */
      s = NULL;
      open = st == TL_OK;
      if (st == TL_OK && fmt == TL_VIZ_SVG) st = svg_step_index(ctx, g, &out, tr, k);
      if (st == TL_OK) st = tl__out_commit(ctx, &out);
      open = 0;
    } else {
      cairo_show_page(cr);
    }
  }
  if (!frames && st == TL_OK) {
    cairo_status_t cst = cairo_status(cr);
    cairo_destroy(cr);
    cr = NULL;
    if (cst != CAIRO_STATUS_SUCCESS)
      st = tl_ctx_fail(ctx, TL_ENOMEM, "cairo: %s", cairo_status_to_string(cst));
    else {
      st = tl__surface_finish(ctx, s, &out, fmt);
      s = NULL;
      if (st == TL_OK) st = tl__out_commit(ctx, &out);
      open = 0;
    }
  }
  if (cr) cairo_destroy(cr);
  if (s) cairo_surface_destroy(s);
  if (open) tl__out_abort(&out);
  tl_trace_free(ctx, tr);
  free(fpath);
  free(entry);
  free(done);
  return st;
}

tl_status tl_viz_cairo_steps(tl_ctx *ctx, tl_node *root, const tl_viz_opts *opts,
                             tl_viz_format fmt, const char *path, int frames,
                             size_t *nsteps) {
  *nsteps = 0;
  if (fmt != TL_VIZ_PNG && fmt != TL_VIZ_SVG && fmt != TL_VIZ_PDF)
    return tl_ctx_fail(ctx, TL_EARG, "steps: format '%s' is not drawn with "
                       "cairo (png, svg or pdf expected)", tl_viz_format_name(fmt));
  if (!frames && fmt != TL_VIZ_PDF)
    return tl_ctx_fail(ctx, TL_EARG, "steps: one file holds every step only "
                       "as pdf (a page each); frames write png or svg files");
  if (path == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "steps: path expected, got NULL");
  if (opts != NULL && (opts->collapse || opts->expand))
    return tl_ctx_fail(ctx, TL_EARG, "steps: a step is one node's, so the "
                       "graph is drawn as it is (no collapse or expand)");
  size_t limit = opts && opts->max_nodes ? opts->max_nodes : TL_VIZ_CAIRO_MAX_NODES;
  tl__vgraph g;
  tl_status st = tl__vgraph_build(ctx, root, opts, limit, "cairo", &g);
  if (st != TL_OK) return st;
  double *wh = malloc(2 * g.n * sizeof *wh);
  if (wh == NULL) {
    tl__vgraph_free(&g);
    return tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
  }
  metrics m = {0, 0, 0};
  double legend_w = 0, cap_w = 0;
  size_t cap_lines = 0, count = 0;
  tl__layout lay = {0};
  scene sc = scene_of(&g, NULL);
  st = steps_measure(ctx, root, &sc, &m, wh, &legend_w, &cap_w, &cap_lines, &count);
  if (st == TL_OK)
    st = tl__layout_run(ctx, g.n, wh, wh + g.n, g.ne, g.edges, MARGIN, &lay);
  free(wh);
  if (st == TL_OK) {
    double W = fmax(fmax(lay.width, legend_w), cap_w + 2 * MARGIN + 8);
    double H = lay.height + LEGEND_H + 2 * CAPTION_PAD +
               CAPTION_LINE * (double)(cap_lines + 1) + 6;
    st = steps_draw(ctx, root, &sc, &lay, &m, W, H, fmt, path, frames);
  }
  if (st == TL_OK) *nsteps = count;
  tl__layout_free(&lay);
  tl__vgraph_free(&g);
  return st;
}

/* }====================================================================== */
