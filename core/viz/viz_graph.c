/*
** viz_graph.c -- a snapshot of the graph under a root, for drawing: values
** in topological order (from tl_topo, the iterative walk), their kind, and
** edges by index.
**
** Inputs are found by index through a table of (address, index) pairs
** sorted by address and searched by bisection, so the snapshot needs no
** field of its own in the nodes and no hash table.  Addresses are compared
** as uintptr_t: '<' between pointers to different objects is undefined.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viz_internal.h"
#include "../tl_trace.h"

typedef struct ptr_index { uintptr_t p; size_t i; } ptr_index;

static int cmp_ptr_index(const void *a, const void *b) {
  uintptr_t x = ((const ptr_index *)a)->p, y = ((const ptr_index *)b)->p;
  return (x > y) - (x < y);
}

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)*(tl_node *const *)a;
  uintptr_t y = (uintptr_t)*(tl_node *const *)b;
  return (x > y) - (x < y);
}

/* The index of 'p' in the sorted table 'tab' of 'n' entries (p is there). */
static size_t index_of(const ptr_index *tab, size_t n, const tl_node *p) {
  size_t lo = 0, hi = n;
  uintptr_t key = (uintptr_t)p;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (tab[mid].p <= key) lo = mid; else hi = mid;
  }
  return tab[lo].i;
}

void tl__vgraph_free(tl__vgraph *g) {
  free(g->nodes);
  free(g->kind);
  free(g->edges);
  g->nodes = NULL;
  g->kind = NULL;
  g->edges = NULL;
  g->n = g->ne = 0;
}

/* Sets the kind of every value: results have inputs; leaves listed in
** opts->params are parameters. */
static tl_status classify(tl_ctx *ctx, tl__vgraph *g, const tl_viz_opts *opts) {
  tl_node **params = NULL;
  size_t np = opts ? opts->nparams : 0;
  if (np > 0 && opts->params != NULL) {
    params = malloc(np * sizeof *params);
    if (params == NULL)
      return tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
    for (size_t i = 0; i < np; i++) params[i] = opts->params[i];
    qsort(params, np, sizeof *params, cmp_ptr);
  } else np = 0;
  for (size_t i = 0; i < g->n; i++) {
    tl_node *x = g->nodes[i];
    if (tl_ninputs(x) > 0) g->kind[i] = TL__RESULT;
    else if (np > 0 && bsearch(&x, params, np, sizeof *params, cmp_ptr))
      g->kind[i] = TL__PARAM;
    else g->kind[i] = TL__LEAF;
  }
  free(params);
  return TL_OK;
}

tl_status tl__vgraph_build(tl_ctx *ctx, tl_node *root, const tl_viz_opts *opts,
                           size_t max_nodes, const char *method,
                           tl__vgraph *g) {
  *g = (tl__vgraph){0};
  if (root == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "%s: node expected, got NULL", method);
  size_t n;
  tl_node *const *order = tl_topo(ctx, root, &n);
  if (order == NULL) return TL_ENOMEM;
  if (max_nodes > 0 && n > max_nodes)
    return tl_ctx_fail(ctx, TL_EARG, "graph has %zu nodes, more than the "
                       "%s limit of %zu (raise max_nodes to draw it anyway)",
                       n, method, max_nodes);
  size_t ne = 0;
  for (size_t i = 0; i < n; i++) ne += tl_ninputs(order[i]);
  ptr_index *tab = malloc(n * sizeof *tab);
  g->nodes = malloc(n * sizeof *g->nodes);
  g->kind = malloc(n);
  g->edges = malloc((ne ? ne : 1) * sizeof *g->edges);
  if (tab == NULL || g->nodes == NULL || g->kind == NULL || g->edges == NULL) {
    free(tab);
    tl__vgraph_free(g);
    return tl_ctx_fail(ctx, TL_ENOMEM, "out of memory drawing the graph");
  }
  /* copy: the walk's array is scratch that the next walk reuses */
  for (size_t i = 0; i < n; i++) {
    g->nodes[i] = order[i];
    tab[i] = (ptr_index){(uintptr_t)order[i], i};
  }
  g->n = n;
  qsort(tab, n, sizeof *tab, cmp_ptr_index);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < tl_ninputs(g->nodes[i]); k++)
      g->edges[g->ne++] =
        (tl__vedge){index_of(tab, n, tl_input(g->nodes[i], k)), i};
  free(tab);
  tl_status st = classify(ctx, g, opts);
  if (st != TL_OK) tl__vgraph_free(g);
  return st;
}

/* {======================================================================
** Texts of a value
** ======================================================================= */

/* The length of the valid UTF-8 sequence at 's' (RFC 3629: no overlongs,
** no surrogates, nothing past U+10FFFF), or 0; its code point in *cp. */
static size_t utf8_len(const unsigned char *s, unsigned long *cp) {
  unsigned c = s[0];
  if (c < 0x80) { *cp = c; return 1; }
  size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
           : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
  unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
  unsigned long v = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
  for (size_t k = 1; k < n; k++) {
    unsigned b = s[k];     /* a NUL stops here too: it is no continuation */
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
    v = v << 6 | (b & 0x3F);
  }
  *cp = v;
  return n;
}

/* Characters no output may carry: C0 and C1 controls (newlines and tabs
** too: a label is one line), DEL, and U+FFFE, U+FFFF (not XML Chars). */
static int is_unprintable(unsigned long cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xFFFE || cp == 0xFFFF;
}

void tl__vtext_label(tl_node *n, char *buf, size_t size, size_t cut) {
  const char *l = tl_label(n);
  tl__vtext_clean(l ? l : "", buf, size, cut);
}

void tl__vtext_clean(const char *text, char *buf, size_t size, size_t cut) {
  static const char replacement[] = "\xef\xbf\xbd";   /* U+FFFD */
  const unsigned char *s = (const unsigned char *)text;
  size_t j = 0;
  if (cut + 4 > size) cut = size > 4 ? size - 4 : 0;
  while (*s) {
    unsigned long cp = 0;
    size_t len = utf8_len(s, &cp), out = len;
    int bad = len == 0 || is_unprintable(cp);
    if (bad) out = 3;
    if (j + out > cut) {
      memcpy(buf + j, "...", 3);     /* fits: j <= cut <= size - 4 */
      j += 3;
      break;
    }
    memcpy(buf + j, bad ? replacement : (const char *)s, out);
    j += out;
    s += len ? len : 1;
  }
  if (size > 0) buf[j] = '\0';
}

/* "(2, 3)" */
static void shape_text(const tl_node *n, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t d = 0; d < tl_ndim(n) && used < size; d++) {
    int k = snprintf(buf + used, size - used, "%s%zu", d ? ", " : "(", tl_dim(n, d));
    if (k < 0) return;
    used += (size_t)k;
  }
  if (used < size) snprintf(buf + used, size - used, ")");
}

void tl__vtext_data(tl_node *n, char *buf, size_t size) {
  char x[32];
  if (!tl_is_array(n)) {
    snprintf(buf, size, "data %s", tl_format_number(x, sizeof x, tl_data(n), 'f', 4));
    return;
  }
  double sum = 0;
  size_t count = tl_size(n);
  for (size_t i = 0; i < count; i++) sum += tl_value_at(n, i);
  char shape[64];
  shape_text(n, shape, sizeof shape);
  snprintf(buf, size, "data %s mean %s", shape,
           tl_format_number(x, sizeof x, count ? sum / (double)count : 0.0, 'g', 4));
}

double tl__vgrad_mag(tl_node *n) {
  if (!tl_is_array(n)) return fabs(tl_grad(n));
  double sum = 0;
  if (!tl_has_grads(n)) return 0;
  for (size_t i = 0, count = tl_size(n); i < count; i++) {
    double g = tl_grad_at(n, i);
    sum += g * g;
  }
  return sqrt(sum);
}

void tl__vtext_grad(tl_node *n, char *buf, size_t size) {
  char x[32];
  if (!tl_is_array(n))
    snprintf(buf, size, "grad %s", tl_format_number(x, sizeof x, tl_grad(n), 'f', 4));
  else if (!tl_has_grads(n)) snprintf(buf, size, "grad none");
  else snprintf(buf, size, "grad |g| %s", tl_format_number(x, sizeof x, tl__vgrad_mag(n), 'g', 4));
}

/* }====================================================================== */

/* {======================================================================
** Step titles of the step-by-step views (the cairo pages, the HTML page)
** ======================================================================= */

void tl__vstep_title(char *buf, size_t size, const tl_trace *tr, size_t k,
                     size_t nsteps) {
  tl_node *n = tl_trace_node(tr);
  char nm[96], clean[128];
  tl_trace_name(tr, n, nm, sizeof nm);
  tl__vtext_clean(nm, clean, sizeof clean, TL__STEP_NAME_CUT);
  if (k == 1)
    snprintf(buf, size, "Backward, step 1 of %zu: the seed at %s", nsteps, clean);
  else
    snprintf(buf, size, "Backward, step %zu of %zu: %s (%s) passes its "
             "gradient to its inputs", k, nsteps, clean,
             tl_node_op_name(n));
}

/* }====================================================================== */
