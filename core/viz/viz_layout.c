/*
** viz_layout.c -- the layered layout of the cairo view (see viz_layout.h
** for the four steps).  Everything is iterative over flat arrays; the cost
** is about (nodes + dummies) x (SWEEPS + PULLS) plus a sort per layer.
*/
#include <stdlib.h>
#include <string.h>

#include "viz_layout.h"

#define HGAP 56.0     /* between layers, room for the edges */
#define VGAP 18.0     /* between two boxes of a layer */
#define DGAP 6.0      /* next to a dummy (an edge passing by) */
#define DUMMY_H 2.0
#define SWEEPS 12     /* barycentre passes, alternating direction */
#define PULLS 10      /* vertical placement passes */

typedef struct work {
  size_t n, total, nlayers;
  size_t *layer;            /* [total] */
  size_t *pos;              /* [total] index within its layer */
  size_t *lstart;           /* [nlayers + 1] */
  size_t *order;            /* [total] layer by layer */
  size_t *best;             /* [total] the order with fewest crossings */
  size_t *pstart, *pred;    /* left neighbours of i: pred[pstart[i]..] */
  size_t *sstart, *succ;    /* right neighbours */
  size_t maxwidth;
} work;

typedef struct keyed { double key; size_t tie, node; } keyed;

static int cmp_keyed(const void *a, const void *b) {
  const keyed *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return (x->tie > y->tie) - (x->tie < y->tie);
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return (x > y) - (x < y);
}

void tl__layout_free(tl__layout *lay) {
  free(lay->x); free(lay->y); free(lay->w); free(lay->h);
  free(lay->route_start); free(lay->route);
  memset(lay, 0, sizeof *lay);
}

static void work_free(work *wk) {
  free(wk->layer); free(wk->pos); free(wk->lstart); free(wk->order);
  free(wk->best); free(wk->pstart); free(wk->pred); free(wk->sstart);
  free(wk->succ);
}

/* {======================================================================
** Step 1: layers (longest path to a sink, counted from the right)
** ======================================================================= */

/* Fills layer[0..n) and returns the number of layers, or 0 when memory is
** short.  Edges go from lower to higher indices, so walking the nodes from
** the last one down sees every user before the nodes it reads. */
static size_t assign_layers(size_t n, size_t ne, const tl__vedge *edges,
                            size_t *layer) {
  size_t *start = calloc(n + 1, sizeof *start), *users = malloc((ne ? ne : 1) * sizeof *users);
  if (start == NULL || users == NULL) { free(start); free(users); return 0; }
  for (size_t e = 0; e < ne; e++) start[edges[e].from + 1]++;
  for (size_t i = 0; i < n; i++) start[i + 1] += start[i];
  size_t *fill = layer;           /* borrow 'layer' as the fill cursors */
  for (size_t i = 0; i < n; i++) fill[i] = start[i];
  for (size_t e = 0; e < ne; e++) users[fill[edges[e].from]++] = edges[e].to;
  size_t maxd = 0;
  for (size_t i = n; i-- > 0;) {  /* layer[] holds depth from the right */
    size_t d = 0;
    for (size_t k = start[i]; k < start[i + 1]; k++)
      if (layer[users[k]] + 1 > d) d = layer[users[k]] + 1;
    layer[i] = d;
    if (d > maxd) maxd = d;
  }
  for (size_t i = 0; i < n; i++) layer[i] = maxd - layer[i];
  free(start);
  free(users);
  return maxd + 1;
}

/* }====================================================================== */

/* {======================================================================
** Step 2: dummies and the adjacency of the routed graph
** ======================================================================= */

/* Builds CSR lists 'start'/'list' of the 'nseg' segments grouped by
** 'key' side (0: by a, listing b; 1: by b, listing a). */
static int build_csr(size_t total, size_t nseg, const size_t (*seg)[2], int side,
                     size_t **start, size_t **list) {
  *start = calloc(total + 1, sizeof **start);
  *list = malloc((nseg ? nseg : 1) * sizeof **list);
  size_t *fill = malloc((total ? total : 1) * sizeof *fill);
  if (*start == NULL || *list == NULL || fill == NULL) { free(fill); return 0; }
  for (size_t s = 0; s < nseg; s++) (*start)[seg[s][side] + 1]++;
  for (size_t i = 0; i < total; i++) (*start)[i + 1] += (*start)[i];
  memcpy(fill, *start, total * sizeof *fill);
  for (size_t s = 0; s < nseg; s++) (*list)[fill[seg[s][side]]++] = seg[s][!side];
  free(fill);
  return 1;
}

/* }====================================================================== */

/* {======================================================================
** Step 3: ordering within layers
** ======================================================================= */

static void set_positions(work *wk) {
  for (size_t l = 0; l < wk->nlayers; l++)
    for (size_t k = wk->lstart[l]; k < wk->lstart[l + 1]; k++)
      wk->pos[wk->order[k]] = k - wk->lstart[l];
}

/* Crossings between layer l and l+1: segments listed by their left end in
** order, each run sorted by right end; a crossing is an inversion of the
** right ends, counted with a Fenwick tree. */
static double crossings(work *wk, size_t *bit, size_t *tmp) {
  double total = 0;
  for (size_t l = 0; l + 1 < wk->nlayers; l++) {
    size_t width = wk->lstart[l + 2] - wk->lstart[l + 1], m = 0;
    memset(bit, 0, (width + 1) * sizeof *bit);
    for (size_t k = wk->lstart[l]; k < wk->lstart[l + 1]; k++) {
      size_t a = wk->order[k], first = m;
      for (size_t s = wk->sstart[a]; s < wk->sstart[a + 1]; s++)
        tmp[m++] = wk->pos[wk->succ[s]];
      qsort(tmp + first, m - first, sizeof *tmp, cmp_size);
    }
    for (size_t i = 0; i < m; i++) {
      size_t seen_le = 0;                       /* inserted ends <= tmp[i] */
      for (size_t j = tmp[i] + 1; j > 0; j -= j & (~j + 1)) seen_le += bit[j];
      total += (double)(i - seen_le);
      for (size_t j = tmp[i] + 1; j <= width; j += j & (~j + 1)) bit[j]++;
    }
  }
  return total;
}

/* Reorders layer l by the mean position of each node's neighbours in the
** list 'start'/'nb' (the layer before or after); nodes without neighbours
** keep their place. */
static void sort_layer(work *wk, size_t l, const size_t *start,
                       const size_t *nb, keyed *tmp) {
  size_t m = 0;
  for (size_t k = wk->lstart[l]; k < wk->lstart[l + 1]; k++, m++) {
    size_t v = wk->order[k];
    double sum = 0;
    size_t cnt = start[v + 1] - start[v];
    for (size_t s = start[v]; s < start[v + 1]; s++) sum += (double)wk->pos[nb[s]];
    tmp[m] = (keyed){cnt ? sum / (double)cnt : (double)wk->pos[v],
                     wk->pos[v], v};
  }
  qsort(tmp, m, sizeof *tmp, cmp_keyed);
  for (size_t k = 0; k < m; k++) {
    wk->order[wk->lstart[l] + k] = tmp[k].node;
    wk->pos[tmp[k].node] = k;
  }
}

static int order_layers(work *wk) {
  size_t nseg = wk->sstart[wk->total];
  size_t *bit = malloc((wk->maxwidth + 1) * sizeof *bit);
  size_t *tmp = malloc((nseg ? nseg : 1) * sizeof *tmp);
  keyed *kt = malloc(wk->maxwidth * sizeof *kt);
  if (bit == NULL || tmp == NULL || kt == NULL) {
    free(bit); free(tmp); free(kt);
    return 0;
  }
  set_positions(wk);
  double best = crossings(wk, bit, tmp);
  memcpy(wk->best, wk->order, wk->total * sizeof *wk->order);
  for (int sweep = 0; sweep < SWEEPS && best > 0; sweep++) {
    if (sweep % 2 == 0)
      for (size_t l = 1; l < wk->nlayers; l++)
        sort_layer(wk, l, wk->pstart, wk->pred, kt);
    else
      for (size_t l = wk->nlayers - 1; l-- > 0;)
        sort_layer(wk, l, wk->sstart, wk->succ, kt);
    double c = crossings(wk, bit, tmp);
    if (c < best) {
      best = c;
      memcpy(wk->best, wk->order, wk->total * sizeof *wk->order);
    }
  }
  memcpy(wk->order, wk->best, wk->total * sizeof *wk->order);
  set_positions(wk);
  free(bit); free(tmp); free(kt);
  return 1;
}

/* }====================================================================== */

/* {======================================================================
** Step 4: coordinates
** ======================================================================= */

/* The least-squares placement of one layer's 'm' nodes near 'want' with
** y[k+1] - y[k] >= sep[k]: with c[k] the sum of the first k gaps and
** z = y - c, the constraints say z is non-decreasing, which is isotonic
** regression of want - c, solved by pooling adjacent violators. */
static void place_layer(size_t m, const double *want, const double *sep,
                        double *y, double *bsum, size_t *bcnt) {
  size_t nb = 0;
  double c = 0;
  for (size_t k = 0; k < m; k++) {
    if (k > 0) c += sep[k - 1];
    bsum[nb] = want[k] - c;
    bcnt[nb++] = 1;
    while (nb > 1 && bsum[nb - 2] / (double)bcnt[nb - 2] >
                     bsum[nb - 1] / (double)bcnt[nb - 1]) {
      bsum[nb - 2] += bsum[nb - 1];
      bcnt[nb - 2] += bcnt[nb - 1];
      nb--;
    }
  }
  c = 0;
  size_t k = 0;
  for (size_t b = 0; b < nb; b++)
    for (size_t j = 0; j < bcnt[b]; j++, k++) {
      if (k > 0) c += sep[k - 1];
      y[k] = bsum[b] / (double)bcnt[b] + c;
    }
}

static int place(work *wk, tl__layout *lay, double margin) {
  size_t mw = wk->maxwidth ? wk->maxwidth : 1;
  double *want = malloc(mw * sizeof *want), *sep = malloc(mw * sizeof *sep);
  double *ys = malloc(mw * sizeof *ys), *bsum = malloc(mw * sizeof *bsum);
  size_t *bcnt = malloc(mw * sizeof *bcnt);
  if (!want || !sep || !ys || !bsum || !bcnt) {
    free(want); free(sep); free(ys); free(bsum); free(bcnt);
    return 0;
  }
  double xl = margin;
  for (size_t l = 0; l < wk->nlayers; l++) {
    double colw = 0;
    size_t a = wk->lstart[l], b = wk->lstart[l + 1];
    for (size_t k = a; k < b; k++)
      if (lay->w[wk->order[k]] > colw) colw = lay->w[wk->order[k]];
    for (size_t k = a; k < b; k++) lay->x[wk->order[k]] = xl + colw / 2;
    xl += colw + HGAP;
    /* gaps, and a first stacking from 0 */
    for (size_t k = a; k + 1 < b; k++) {
      size_t u = wk->order[k], v = wk->order[k + 1];
      int dummy = u >= wk->n || v >= wk->n;
      sep[k - a] = (lay->h[u] + lay->h[v]) / 2 + (dummy ? DGAP : VGAP);
    }
    double y = 0;
    for (size_t k = a; k < b; k++) {
      lay->y[wk->order[k]] = y;
      if (k + 1 < b) y += sep[k - a];
    }
  }
  lay->width = xl - HGAP + margin;
  for (int pass = 0; pass < PULLS; pass++) {
    for (size_t step = 0; step < wk->nlayers; step++) {
      size_t l = pass % 2 == 0 ? step : wk->nlayers - 1 - step;
      size_t a = wk->lstart[l], b = wk->lstart[l + 1];
      for (size_t k = a; k < b; k++) {
        size_t v = wk->order[k], cnt = 0;
        double sum = 0;
        for (size_t s = wk->pstart[v]; s < wk->pstart[v + 1]; s++, cnt++)
          sum += lay->y[wk->pred[s]];
        for (size_t s = wk->sstart[v]; s < wk->sstart[v + 1]; s++, cnt++)
          sum += lay->y[wk->succ[s]];
        want[k - a] = cnt ? sum / (double)cnt : lay->y[v];
        if (k + 1 < b) {
          size_t u = v, w2 = wk->order[k + 1];
          int dummy = u >= wk->n || w2 >= wk->n;
          sep[k - a] = (lay->h[u] + lay->h[w2]) / 2 + (dummy ? DGAP : VGAP);
        }
      }
      place_layer(b - a, want, sep, ys, bsum, bcnt);
      for (size_t k = a; k < b; k++) lay->y[wk->order[k]] = ys[k - a];
    }
  }
  double top = 0, bottom = 0;
  for (size_t i = 0; i < wk->total; i++) {
    double t = lay->y[i] - lay->h[i] / 2, bt = lay->y[i] + lay->h[i] / 2;
    if (i == 0 || t < top) top = t;
    if (i == 0 || bt > bottom) bottom = bt;
  }
  for (size_t i = 0; i < wk->total; i++) lay->y[i] += margin - top;
  lay->height = bottom - top + 2 * margin;
  free(want); free(sep); free(ys); free(bsum); free(bcnt);
  return 1;
}

/* }====================================================================== */

tl_status tl__layout_run(tl_ctx *ctx, size_t n, const double *w,
                         const double *h, size_t ne, const tl__vedge *edges,
                         double margin, tl__layout *lay) {
  memset(lay, 0, sizeof *lay);
  work wk = {0};
  size_t (*seg)[2] = NULL;
  wk.n = n;
  wk.layer = malloc((n ? n : 1) * sizeof *wk.layer);
  if (wk.layer == NULL) goto nomem;
  wk.nlayers = assign_layers(n, ne, edges, wk.layer);
  if (n > 0 && wk.nlayers == 0) goto nomem;
  size_t nd = 0;
  for (size_t e = 0; e < ne; e++)
    nd += wk.layer[edges[e].to] - wk.layer[edges[e].from] - 1;
  if (nd > TL__LAYOUT_MAX_DUMMIES) {
    work_free(&wk);
    return tl_ctx_fail(ctx, TL_EARG, "graph too tangled to draw: its edges "
                       "cross %zu layers in all (at most %d)", nd,
                       TL__LAYOUT_MAX_DUMMIES);
  }
  size_t total = n + nd, nseg = ne + nd;
  wk.total = lay->total = total;
  lay->n = n;
  lay->ne = ne;
  size_t *grown = realloc(wk.layer, (total ? total : 1) * sizeof *wk.layer);
  if (grown == NULL) goto nomem;
  wk.layer = grown;
  lay->x = malloc((total ? total : 1) * sizeof *lay->x);
  lay->y = malloc((total ? total : 1) * sizeof *lay->y);
  lay->w = malloc((total ? total : 1) * sizeof *lay->w);
  lay->h = malloc((total ? total : 1) * sizeof *lay->h);
  lay->route_start = malloc((ne + 1) * sizeof *lay->route_start);
  lay->route = malloc((nd ? nd : 1) * sizeof *lay->route);
  seg = malloc((nseg ? nseg : 1) * sizeof *seg);
  wk.pos = malloc((total ? total : 1) * sizeof *wk.pos);
  wk.order = malloc((total ? total : 1) * sizeof *wk.order);
  wk.best = malloc((total ? total : 1) * sizeof *wk.best);
  wk.lstart = calloc(wk.nlayers + 2, sizeof *wk.lstart);
  if (!lay->x || !lay->y || !lay->w || !lay->h || !lay->route_start ||
      !lay->route || !seg || !wk.pos || !wk.order || !wk.best || !wk.lstart)
    goto nomem;
  memcpy(lay->w, w, n * sizeof *w);
  memcpy(lay->h, h, n * sizeof *h);
  /* dummies: one per layer an edge crosses, chained into segments */
  size_t d = n, s = 0;
  for (size_t e = 0; e < ne; e++) {
    size_t prev = edges[e].from;
    lay->route_start[e] = d - n;
    for (size_t l = wk.layer[prev] + 1; l < wk.layer[edges[e].to]; l++) {
      wk.layer[d] = l;
      lay->w[d] = 0;
      lay->h[d] = DUMMY_H;
      lay->route[d - n] = d;
      seg[s][0] = prev; seg[s][1] = d; s++;
      prev = d++;
    }
    seg[s][0] = prev; seg[s][1] = edges[e].to; s++;
  }
  lay->route_start[ne] = nd;
  if (!build_csr(total, nseg, (const size_t (*)[2])seg, 0, &wk.sstart, &wk.succ) ||
      !build_csr(total, nseg, (const size_t (*)[2])seg, 1, &wk.pstart, &wk.pred))
    goto nomem;
  free(seg);
  seg = NULL;
  /* layers in index order: topological order is a good first guess */
  for (size_t i = 0; i < total; i++) wk.lstart[wk.layer[i] + 1]++;
  for (size_t l = 0; l < wk.nlayers; l++) {
    size_t width = wk.lstart[l + 1];
    if (width > wk.maxwidth) wk.maxwidth = width;
    wk.lstart[l + 1] += wk.lstart[l];
  }
  for (size_t i = 0; i < total; i++) wk.pos[i] = wk.lstart[wk.layer[i]]++;
  for (size_t l = wk.nlayers; l > 0; l--) wk.lstart[l] = wk.lstart[l - 1];
  wk.lstart[0] = 0;
  for (size_t i = 0; i < total; i++) wk.order[wk.pos[i]] = i;
  if (!order_layers(&wk) || !place(&wk, lay, margin)) goto nomem;
  work_free(&wk);
  return TL_OK;
nomem:
  free(seg);
  work_free(&wk);
  tl__layout_free(lay);
  return tl_ctx_fail(ctx, TL_ENOMEM, "out of memory laying out the graph");
}
