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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gvc.h>

#include "viz_internal.h"

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

/* Label sizes: a label is cut at LABEL_MAX bytes in the picture. */
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

/* Builds the Agraph_t of the snapshot 'g' with the discipline 'disc' (which
** must outlive it); NULL with the error set. */
static Agraph_t *build(tl_ctx *ctx, const tl__vgraph *g, Agdisc_t *disc) {
  Agraph_t *ag = agopen("Digraph", Agdirected, disc);
  if (ag == NULL) {
    tl_ctx_fail(ctx, TL_ENOMEM, "graphviz: cannot make a graph");
    return NULL;
  }
  agattr(ag, AGRAPH, "rankdir", "LR");
  agattr(ag, AGNODE, "shape", "record");
  Agnode_t **vals = malloc((g->n ? g->n : 1) * 2 * sizeof *vals);
  if (vals == NULL) {
    agclose(ag);
    tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
    return NULL;
  }
  Agnode_t **ops = vals + g->n;   /* ops[i]: the op ellipse of value i */
  char name[NAME_MAX_LEN], esc[2 * LABEL_MAX + 1], label[2 * LABEL_MAX + 420];
  for (size_t i = 0; i < g->n; i++) {
    tl_node *x = g->nodes[i];
    snprintf(name, sizeof name, "v%zu", i);
    vals[i] = agnode(ag, name, 1);
    const char *l = tl_label(x);
    char cut[LABEL_MAX + 1], data[96], grad[96], edata[200], egrad[200];
    snprintf(cut, sizeof cut, "%s", l ? l : "");
    record_escape(esc, sizeof esc, cut);
    tl__vtext_data(x, data, sizeof data);
    tl__vtext_grad(x, grad, sizeof grad);
    record_escape(edata, sizeof edata, data);   /* arrays: "|g|", "(2, 3)" */
    record_escape(egrad, sizeof egrad, grad);
    snprintf(label, sizeof label, "{ %s | %s | %s }", esc, edata, egrad);
    agsafeset(vals[i], "label", label, "");
    ops[i] = NULL;
    if (tl_ninputs(x) > 0) {
      char op[64];
      snprintf(name, sizeof name, "v%zu_op", i);
      ops[i] = agnode(ag, name, 1);
      agsafeset(ops[i], "shape", "ellipse", "");
      agsafeset(ops[i], "label", (char *)tl_op_label(x, op, sizeof op), "");
      agedge(ag, ops[i], vals[i], NULL, 1);
    }
  }
  for (size_t e = 0; e < g->ne; e++)
    agedge(ag, vals[g->edges[e].from], ops[g->edges[e].to], NULL, 1);
  free(vals);
  return ag;
}

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

static tl_status render(tl_ctx *ctx, GVC_t *gvc, const tl__vgraph *g,
                        tl_viz_format fmt, tl__out *out, textbuf *text) {
  Agiodisc_t io = {AgIoDisc.afread, textbuf_putstr, textbuf_flush};
  Agdisc_t disc = {&AgMemDisc, &AgIdDisc, &io};
  Agraph_t *ag = build(ctx, g, &disc);
  if (ag == NULL) return TL_ENOMEM;
  tl_status st = TL_OK;
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
    if (gvRenderData(gvc, ag, tl_viz_format_name(fmt), &data, &len) != 0)
      st = tl_ctx_fail(ctx, TL_EARG, "graphviz: cannot render format '%s' "
                       "(is its graphviz plugin installed?)",
                       tl_viz_format_name(fmt));
    else st = tl__out_write(ctx, out, data, len);
    if (data != NULL) gvFreeRenderData(data);
    gvFreeLayout(gvc, ag);
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
  st = render(ctx, gv->gvc, &g, fmt, &out, &text);
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
  st = render(ctx, NULL, &g, TL_VIZ_DOT, NULL, &text);
  tl__vgraph_free(&g);
  if (st != TL_OK) { free(text.p); return st; }
  *text_out = text.p;    /* agwrite kept it NUL-terminated */
  *len = text.len;
  return TL_OK;
}
