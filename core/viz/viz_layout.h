/*
** viz_layout.h -- a layered (Sugiyama-style) layout of a DAG for the cairo
** view: inputs on the left, sinks on the right, no two boxes overlapping.
** Private to core/.
**
**   1. Layers by longest path to the sinks, so each value sits just left of
**      its leftmost user (leaves stay next to the op that reads them).
**   2. Edges spanning several layers go through dummy nodes, one per
**      crossed layer, so they are routed between boxes, never through one.
**   3. Barycentre sweeps order each layer to reduce crossings; the order
**      with the fewest crossings seen is kept.
**   4. Vertical positions: each node is pulled toward the mean of its
**      neighbours, under the constraint that neighbours in a layer keep
**      their order and a minimum gap (solved exactly by pool-adjacent-
**      violators), so boxes never overlap.
*/
#ifndef TL_VIZ_LAYOUT_H
#define TL_VIZ_LAYOUT_H

#include "viz_internal.h"

typedef struct tl__layout {
  size_t n;               /* real nodes (the first n entries) */
  size_t total;           /* real + dummy nodes */
  double *x, *y;          /* [total] centres, in points from the top left */
  double *w, *h;          /* [total] sizes (dummies are 0 wide) */
  size_t ne;
  size_t *route_start;    /* [ne + 1]: edge e crosses dummies          */
  size_t *route;          /* route[route_start[e] .. route_start[e+1]) */
  double width, height;   /* of the whole drawing, margins included */
} tl__layout;

/* Lays out 'n' boxes of sizes 'w', 'h' joined by 'edges' (each from a
** lower to a higher index: a topological order).  'margin' surrounds the
** drawing.  Fails with TL_ENOMEM, or TL_EARG when the routed graph would
** exceed TL__LAYOUT_MAX_DUMMIES. */
tl_status tl__layout_run(tl_ctx *ctx, size_t n, const double *w,
                         const double *h, size_t ne, const tl__vedge *edges,
                         double margin, tl__layout *lay);
void tl__layout_free(tl__layout *lay);

#define TL__LAYOUT_MAX_DUMMIES 500000

#endif
