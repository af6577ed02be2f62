/*
** viz_none.c -- the drawing functions of tl_viz.h and tl_plot.h for a
** drawing library built without graphviz and cairo (premake --no-viz, or
** when pkg-config cannot find them): each fails with a message saying how
** to get them.  The core does not need this library at all.
*/
#include "../../tl_plot.h"

static tl_status unavailable(tl_ctx *ctx) {
  return tl_ctx_fail(ctx, TL_EARG, "drawing needs graphviz and cairo, and "
                     "torchlet was built without them (install "
                     "libgraphviz-dev and libcairo2-dev, then rebuild "
                     "without --no-viz)");
}

struct tl_gv { int unused; };

tl_gv *tl_gv_new(tl_ctx *ctx) {
  unavailable(ctx);
  return NULL;
}

void tl_gv_free(tl_gv *gv) { (void)gv; }

tl_status tl_viz_graphviz(tl_ctx *ctx, tl_gv *gv, tl_node *root,
                          const tl_viz_opts *opts, tl_viz_format fmt,
                          const char *path) {
  (void)gv; (void)root; (void)opts; (void)fmt; (void)path;
  return unavailable(ctx);
}

tl_status tl_viz_dot(tl_ctx *ctx, tl_node *root, const tl_viz_opts *opts,
                     char **text, size_t *len) {
  (void)root; (void)opts;
  *text = NULL;
  *len = 0;
  return unavailable(ctx);
}

tl_status tl_viz_cairo(tl_ctx *ctx, tl_node *root, const tl_viz_opts *opts,
                       tl_viz_format fmt, const char *path) {
  (void)root; (void)opts; (void)fmt; (void)path;
  return unavailable(ctx);
}

tl_status tl_viz_cairo_steps(tl_ctx *ctx, tl_node *root, const tl_viz_opts *opts,
                             tl_viz_format fmt, const char *path, int frames,
                             size_t *nsteps) {
  (void)root; (void)opts; (void)fmt; (void)path; (void)frames;
  *nsteps = 0;
  return unavailable(ctx);
}

tl_status tl_viz_html(tl_ctx *ctx, tl_gv *gv, tl_node *root,
                      const tl_viz_opts *opts, const char *path,
                      size_t *nsteps) {
  (void)gv; (void)root; (void)opts; (void)path;
  *nsteps = 0;
  return unavailable(ctx);
}

tl_status tl_plot_line(tl_ctx *ctx, const tl_plot_series *s, size_t ns,
                       const tl_plot_opts *o, tl_viz_format fmt,
                       const char *path) {
  (void)s; (void)ns; (void)o; (void)fmt; (void)path;
  return unavailable(ctx);
}

tl_status tl_plot_scatter(tl_ctx *ctx, const tl_plot_points *p,
                          const tl_plot_opts *o, tl_viz_format fmt,
                          const char *path) {
  (void)p; (void)o; (void)fmt; (void)path;
  return unavailable(ctx);
}

tl_status tl_plot_boundary(tl_ctx *ctx, const tl_plot_grid *grid,
                           const tl_plot_points *p, const tl_plot_opts *o,
                           tl_viz_format fmt, const char *path) {
  (void)grid; (void)p; (void)o; (void)fmt; (void)path;
  return unavailable(ctx);
}
