/*
** tl_plot.h -- plots for training, drawn with cairo: line plots (loss
** curves, several series and a legend), scatter plots of classified points,
** and the decision boundary of a 2-D classifier over a grid of scores that
** the caller computed.  Every plot has axes with ticks, axis labels and an
** optional title.
**
**     double loss[] = {0.9, 0.5, 0.3, 0.2};
**     tl_plot_series s = {"train", NULL, loss, 4};    // x = 1, 2, 3, 4
**     tl_plot_opts o = {"Loss", "step", "loss", 0, 0};
**     tl_plot_line(ctx, &s, 1, &o, TL_VIZ_PNG, "loss.png");
**
** Files are written as by tl_viz.h (temporary name, then rename; TL_EIO
** naming the path).  Non-finite values are skipped (a line breaks there);
** a plot with no finite point fails with TL_EARG.
*/
#ifndef TL_PLOT_H
#define TL_PLOT_H

#include "tl_viz.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_plot_opts {
  const char *title, *xlabel, *ylabel;   /* each may be NULL */
  double width, height;                  /* points; 0 means 640 x 420 */
  int xlog, ylog;     /* line plots: a log10 axis (values <= 0 skipped) */
} tl_plot_opts;

typedef struct tl_plot_series {
  const char *name;       /* legend entry, or NULL for none */
  const double *x;        /* NULL means 1, 2, ..., n */
  const double *y;
  size_t n;
} tl_plot_series;

/* Points, each with an optional class (any number: -1/1, 0/1/2 ...) that
** picks its colour and legend entry. */
typedef struct tl_plot_points {
  const double *x, *y;
  const double *cls;      /* NULL: one colour, no legend */
  size_t n;
} tl_plot_points;

/* Scores on a regular grid: z[j * nx + i] is the score at column i, row j,
** the centre of its cell in [x0, x1] x [y0, y1] (row 0 at y0).  Two
** classes (nclass 0): cells scoring > 0 are drawn in the colour of the
** larger class of the points, the others in the colour of the smaller,
** deeper where the score is far from 0.  k classes (nclass k, 2 to 10):
** z holds k planes of nx * ny scores, plane c (from 0) scoring class c + 1;
** a cell takes the colour of its highest score, deeper where it leads the
** second by more, and the classes are 1..k (points' classes pick colours
** and legend entries among them). */
typedef struct tl_plot_grid {
  size_t nx, ny;
  double x0, x1, y0, y1;
  const double *z;
  size_t nclass;
} tl_plot_grid;

/* 'o' may be NULL in all three. */
tl_status tl_plot_line(tl_ctx *ctx, const tl_plot_series *s, size_t ns,
                       const tl_plot_opts *o, tl_viz_format fmt,
                       const char *path);
tl_status tl_plot_scatter(tl_ctx *ctx, const tl_plot_points *p,
                          const tl_plot_opts *o, tl_viz_format fmt,
                          const char *path);
/* The grid as a background with the points 'p' (may be NULL) on top. */
tl_status tl_plot_boundary(tl_ctx *ctx, const tl_plot_grid *grid,
                           const tl_plot_points *p, const tl_plot_opts *o,
                           tl_viz_format fmt, const char *path);

#ifdef __cplusplus
}
#endif

#endif
