/*
** plot.c -- line, scatter and decision-boundary plots with cairo.
**
** Every plot goes through plot_run: it opens the output, lays out the
** frame (margins from the measured tick labels), lets the plot draw its
** data clipped to the plot area, then draws axes, ticks, labels, title and
** legend on top, so data never hides them.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../tl_plot.h"
#include "viz_internal.h"

#define DEFAULT_W 640.0
#define DEFAULT_H 420.0
#define PNG_SCALE 2.0
#define MAX_LEGEND 12       /* legend entries; further classes share the last colour */
#define PI 3.14159265358979323846   /* M_PI is POSIX, not C11 */

typedef struct rgb { double r, g, b; } rgb;

/* matplotlib's tab10: distinct, readable on white, familiar */
static const rgb palette[10] = {
  {0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173},
  {0.839, 0.153, 0.157}, {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294},
  {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498}, {0.737, 0.741, 0.133},
  {0.090, 0.745, 0.812}
};

/* The axes: data ranges, tick steps and where the plot area lies. */
typedef struct frame {
  double xlo, xhi, ylo, yhi, xstep, ystep;   /* in axis units: log10 on a log axis */
  int integer_x;          /* x counts steps: no ticks between integers */
  int xlog, ylog;         /* log10 axes: ticks at whole powers of ten */
  double W, H, L, T, pw, ph;
} frame;

typedef struct legend {
  size_t n;
  const char *names[MAX_LEGEND + 1];
  rgb colors[MAX_LEGEND + 1];
  int dots;               /* marker: dots (scatter) or lines */
} legend;

/* Device coordinates of axis units (ticks, grid lines) ... */
static double ax(const frame *f, double u) {
  return f->L + (u - f->xlo) / (f->xhi - f->xlo) * f->pw;
}
static double ay(const frame *f, double v) {
  return f->T + f->ph - (v - f->ylo) / (f->yhi - f->ylo) * f->ph;
}
/* ... and of data values, which a log axis takes the log10 of. */
static double px(const frame *f, double x) { return ax(f, f->xlog ? log10(x) : x); }
static double py(const frame *f, double y) { return ay(f, f->ylog ? log10(y) : y); }

/* A "nice" tick step (1, 2 or 5 times a power of ten) for about 6 ticks
** over [lo, hi]; with 'expand' the range grows to whole steps. */
static void nice_range(double *lo, double *hi, double *step, int expand) {
  if (!(*hi > *lo)) {            /* one value: give it room */
    double pad = fabs(*lo) > 0 ? fabs(*lo) * 0.1 : 1.0;
    *lo -= pad;
    *hi += pad;
  }
  double raw = (*hi - *lo) / 6;
  double mag = pow(10, floor(log10(raw))), frac = raw / mag;
  *step = mag * (frac < 1.5 ? 1 : frac < 3.5 ? 2 : frac < 7.5 ? 5 : 10);
  if (expand) {
    *lo = floor(*lo / *step + 1e-9) * *step;
    *hi = ceil(*hi / *step - 1e-9) * *step;
  }
}

/* The ticks of [lo, hi]: multiples of 'step', counted with an integer so
** that rounding can never stall the loop (at most MAX_TICKS). */
#define MAX_TICKS 100
typedef struct ticks { double first, step; int n; } ticks;

static ticks ticks_of(double lo, double hi, double step) {
  double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
  ticks t = {k0 * step, step, 0};
  if (k1 >= k0) t.n = k1 - k0 + 1 > MAX_TICKS ? MAX_TICKS : (int)(k1 - k0) + 1;
  return t;
}

static double tick_at(const ticks *t, int i) { return t->first + i * t->step; }

static void tick_text(char *buf, size_t size, double v, double step, int log) {
  if (fabs(v) < step * 1e-9) v = 0;          /* no "-0" or 1e-17 */
  if (log) v = pow(10, round(v));            /* ticks are whole powers */
  tl_format_number(buf, size, v, 'g', 6);
}

/* plots use one face */
static void set_font(cairo_t *cr, double size, int bold) {
  tl__set_font(cr, TL__FONT_SANS, size, bold);
}

/* 's' with its anchor at (x, y): 'ax' 0 left, 0.5 centre, 1 right; the
** baseline at y + 'ay' times the font's cap height. */
static void text_at(cairo_t *cr, double x, double y, const char *s,
                    double ax, double ay) {
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  cairo_move_to(cr, x - ax * tl__text_width(cr, s), y + ay * fe.ascent * 0.72);
  cairo_show_text(cr, s);
}

/* Margins: the left one fits the widest y tick label and the y label. */
static void layout_frame(cairo_t *cr, frame *f, const tl_plot_opts *o) {
  char buf[64];
  double widest = 0;
  set_font(cr, 10, 0);
  ticks ty = ticks_of(f->ylo, f->yhi, f->ystep);
  for (int i = 0; i < ty.n; i++) {
    double v = tick_at(&ty, i);
    tick_text(buf, sizeof buf, v, f->ystep, f->ylog);
    widest = fmax(widest, tl__text_width(cr, buf));
  }
  f->L = 14 + widest + 10 + (o && o->ylabel ? 20 : 0);
  f->T = o && o->title ? 40 : 18;
  f->pw = f->W - f->L - 22;
  f->ph = f->H - f->T - (o && o->xlabel ? 52 : 34);
}

static void draw_axes(cairo_t *cr, const frame *f, const tl_plot_opts *o) {
  char buf[64];
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, f->L, f->T, f->pw, f->ph);
  cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
  cairo_stroke(cr);
  set_font(cr, 10, 0);
  ticks tx = ticks_of(f->xlo, f->xhi, f->xstep);
  for (int i = 0; i < tx.n; i++) {
    double v = tick_at(&tx, i);
    double x = ax(f, v);
    cairo_move_to(cr, x, f->T + f->ph);
    cairo_line_to(cr, x, f->T + f->ph + 5);
    cairo_stroke(cr);
    tick_text(buf, sizeof buf, v, f->xstep, f->xlog);
    text_at(cr, x, f->T + f->ph + 14, buf, 0.5, 1);
  }
  ticks ty = ticks_of(f->ylo, f->yhi, f->ystep);
  for (int i = 0; i < ty.n; i++) {
    double v = tick_at(&ty, i);
    double y = ay(f, v);
    cairo_move_to(cr, f->L - 5, y);
    cairo_line_to(cr, f->L, y);
    cairo_stroke(cr);
    tick_text(buf, sizeof buf, v, f->ystep, f->ylog);
    text_at(cr, f->L - 8, y, buf, 1, 0.5);
  }
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  if (o && o->xlabel) {
    set_font(cr, 11.5, 0);
    text_at(cr, f->L + f->pw / 2, f->H - 14, o->xlabel, 0.5, 0);
  }
  if (o && o->ylabel) {
    set_font(cr, 11.5, 0);
    cairo_save(cr);
    cairo_translate(cr, 18, f->T + f->ph / 2);
    cairo_rotate(cr, -PI / 2);
    text_at(cr, 0, 0, o->ylabel, 0.5, 0.5);
    cairo_restore(cr);
  }
  if (o && o->title) {
    set_font(cr, 14, 1);
    text_at(cr, f->L + f->pw / 2, 24, o->title, 0.5, 0);
  }
}

/* Light grid lines at the ticks, under the data. */
static void draw_grid(cairo_t *cr, const frame *f) {
  cairo_set_source_rgb(cr, 0.91, 0.91, 0.93);
  cairo_set_line_width(cr, 0.8);
  ticks tx = ticks_of(f->xlo, f->xhi, f->xstep);
  for (int i = 0; i < tx.n; i++) {
    double v = tick_at(&tx, i);
    cairo_move_to(cr, ax(f, v), f->T);
    cairo_line_to(cr, ax(f, v), f->T + f->ph);
  }
  ticks ty = ticks_of(f->ylo, f->yhi, f->ystep);
  for (int i = 0; i < ty.n; i++) {
    double v = tick_at(&ty, i);
    cairo_move_to(cr, f->L, ay(f, v));
    cairo_line_to(cr, f->L + f->pw, ay(f, v));
  }
  cairo_stroke(cr);
}

static void dot(cairo_t *cr, double x, double y, double r, rgb c) {
  cairo_new_sub_path(cr);
  cairo_arc(cr, x, y, r, 0, 2 * PI);
  cairo_set_source_rgb(cr, c.r, c.g, c.b);
  cairo_fill_preserve(cr);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_set_line_width(cr, 0.8);
  cairo_stroke(cr);
}

/* How much of the data lies in the device-space box (x0, y0)-(x1, y1):
** each plot kind counts its own points, so the legend can avoid them. */
typedef size_t (*plot_crowd)(const frame *f, const void *data, double x0,
                             double y0, double x1, double y1);

/* The legend on a white box, in the corner of the plot area that hides the
** fewest data points (top right first when they tie). */
static void draw_legend(cairo_t *cr, const frame *f, const legend *lg,
                        plot_crowd crowd, const void *data) {
  if (lg->n == 0) return;
  set_font(cr, 10, 0);
  double w = 0;
  for (size_t i = 0; i < lg->n; i++) w = fmax(w, tl__text_width(cr, lg->names[i]));
  double bw = w + 44, bh = 18.0 * (double)lg->n + 8;
  double left = f->L + 8, right = f->L + f->pw - bw - 8;
  double top = f->T + 8, bottom = f->T + f->ph - bh - 8;
  const double corners[4][2] = {{right, top}, {left, top}, {right, bottom}, {left, bottom}};
  double x = right, y = top;
  size_t best = SIZE_MAX;
  for (int c = 0; c < 4 && crowd != NULL; c++) {
    size_t n = crowd(f, data, corners[c][0], corners[c][1],
                     corners[c][0] + bw, corners[c][1] + bh);
    if (n < best) { best = n; x = corners[c][0]; y = corners[c][1]; }
  }
  cairo_rectangle(cr, x, y, bw, bh);
  cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
  cairo_fill_preserve(cr);
  cairo_set_source_rgb(cr, 0.75, 0.75, 0.78);
  cairo_set_line_width(cr, 0.8);
  cairo_stroke(cr);
  for (size_t i = 0; i < lg->n; i++) {
    double yy = y + 13 + 18.0 * (double)i;
    rgb c = lg->colors[i];
    if (lg->dots) dot(cr, x + 17, yy, 4, c);
    else {
      cairo_move_to(cr, x + 7, yy);
      cairo_line_to(cr, x + 29, yy);
      cairo_set_source_rgb(cr, c.r, c.g, c.b);
      cairo_set_line_width(cr, 2.2);
      cairo_stroke(cr);
    }
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text_at(cr, x + 36, yy, lg->names[i], 0, 0.5);
  }
}

/* Draws the data; returns a failure of its own (not of 'cr'), if any. */
typedef cairo_status_t (*plot_body)(cairo_t *cr, const frame *f, const void *data);

/* Draws a plot whose data ranges are in 'f' (ticks are computed here). */
static tl_status plot_run(tl_ctx *ctx, frame *f, int expand_x, int expand_y,
                          const tl_plot_opts *o, const legend *lg,
                          tl_viz_format fmt, const char *path,
                          plot_body body, plot_crowd crowd, const void *data) {
  if (fmt != TL_VIZ_PNG && fmt != TL_VIZ_SVG && fmt != TL_VIZ_PDF)
    return tl_ctx_fail(ctx, TL_EARG, "plot: format '%s' is not drawn with "
                       "cairo (png, svg or pdf expected)", tl_viz_format_name(fmt));
  if (path == NULL) return tl_ctx_fail(ctx, TL_EARG, "plot: path expected, got NULL");
  f->W = o && o->width > 0 ? o->width : DEFAULT_W;
  f->H = o && o->height > 0 ? o->height : DEFAULT_H;
  if (f->W < 160 || f->H < 120 || f->W > 10000 || f->H > 10000)
    return tl_ctx_fail(ctx, TL_EARG, "plot: size %gx%g out of range (160x120 "
                       "to 10000x10000 points)", f->W, f->H);
  nice_range(&f->xlo, &f->xhi, &f->xstep, expand_x);
  if ((f->integer_x || f->xlog) && f->xstep < 1) f->xstep = 1;
  nice_range(&f->ylo, &f->yhi, &f->ystep, expand_y);
  if (f->ylog && f->ystep < 1) {       /* ticks at whole decades */
    f->ystep = 1;
    if (expand_y) { f->ylo = floor(f->ylo + 1e-9); f->yhi = ceil(f->yhi - 1e-9); }
  }
  if (!(f->xstep > 0) || !(f->ystep > 0) || !isfinite(f->xhi - f->xlo) ||
      !isfinite(f->yhi - f->ylo) || !isfinite(f->xstep) || !isfinite(f->ystep))
    return tl_ctx_fail(ctx, TL_EARG, "plot: the values span too wide or too "
                       "narrow a range to draw");
  tl__out out;
  tl_status st = tl__out_open(ctx, &out, path);
  if (st != TL_OK) return st;
  double scale = fmin(PNG_SCALE, TL__PNG_MAX_SIDE / fmax(f->W, f->H));
  cairo_surface_t *s = tl__surface_new(ctx, &out, fmt, f->W, f->H, scale);
  if (s == NULL) { tl__out_abort(&out); return TL_ENOMEM; }
  cairo_t *cr = cairo_create(s);
  layout_frame(cr, f, o);
  draw_grid(cr, f);
  cairo_save(cr);
  cairo_rectangle(cr, f->L, f->T, f->pw, f->ph);
  cairo_clip(cr);
  cairo_status_t bst = body(cr, f, data);
  cairo_restore(cr);
  draw_axes(cr, f, o);
  if (lg) draw_legend(cr, f, lg, crowd, data);
  cairo_status_t cst = cairo_status(cr);
  if (cst == CAIRO_STATUS_SUCCESS) cst = bst;
  cairo_destroy(cr);
  if (cst != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(s);
    tl__out_abort(&out);
    if (cst == CAIRO_STATUS_INVALID_STRING)   /* texts come from the caller */
      return tl_ctx_fail(ctx, TL_EARG, "plot: the title, axis labels and "
                         "series names must be valid UTF-8");
    return tl_ctx_fail(ctx, TL_ENOMEM, "plot: %s", cairo_status_to_string(cst));
  }
  st = tl__surface_finish(ctx, s, &out, fmt);
  return st == TL_OK ? tl__out_commit(ctx, &out) : st;
}

/* Widens [*lo, *hi] to hold v (the first call sets both). */
static void widen(double *lo, double *hi, int *any, double v) {
  if (!isfinite(v)) return;
  if (!*any || v < *lo) *lo = v;
  if (!*any || v > *hi) *hi = v;
  *any = 1;
}

/* {======================================================================
** Line plots
** ======================================================================= */

/* A point a line plot can draw: finite, and positive on a log axis. */
static int drawable(const frame *f, double x, double y) {
  return isfinite(x) && isfinite(y) && (!f->xlog || x > 0) && (!f->ylog || y > 0);
}
static double axis_x(const frame *f, double x) { return f->xlog ? log10(x) : x; }
static double axis_y(const frame *f, double y) { return f->ylog ? log10(y) : y; }

typedef struct line_data { const tl_plot_series *s; size_t ns; } line_data;

static double series_x(const tl_plot_series *s, size_t i) {
  return s->x ? s->x[i] : (double)(i + 1);
}

static cairo_status_t line_body(cairo_t *cr, const frame *f, const void *data) {
  const line_data *d = data;
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  for (size_t k = 0; k < d->ns; k++) {
    const tl_plot_series *s = &d->s[k];
    rgb c = palette[k % 10];
    int pen = 0, drawn = 0;
    for (size_t i = 0; i < s->n; i++) {
      double x = series_x(s, i), y = s->y[i];
      if (!drawable(f, x, y)) { pen = 0; continue; }
      if (pen) cairo_line_to(cr, px(f, x), py(f, y));
      else cairo_move_to(cr, px(f, x), py(f, y));
      pen = 1;
      drawn++;
    }
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_set_line_width(cr, 2);
    cairo_stroke(cr);
    if (drawn == 1 || s->n <= 30)      /* few points: mark them */
      for (size_t i = 0; i < s->n; i++) {
        double x = series_x(s, i), y = s->y[i];
        if (drawable(f, x, y)) dot(cr, px(f, x), py(f, y), 3, c);
      }
  }
  return CAIRO_STATUS_SUCCESS;
}

static int inside(double x, double y, double x0, double y0, double x1, double y1) {
  return x >= x0 && x <= x1 && y >= y0 && y <= y1;
}

/* Points along every segment, a few per segment, so that a line crossing
** the box counts even between its vertices. */
static size_t line_crowd(const frame *f, const void *data, double x0,
                         double y0, double x1, double y1) {
  const line_data *d = data;
  size_t count = 0;
  for (size_t k = 0; k < d->ns; k++) {
    const tl_plot_series *s = &d->s[k];
    for (size_t i = 0; i < s->n; i++) {
      double ax = px(f, series_x(s, i)), ay = py(f, s->y[i]);
      double bx = i + 1 < s->n ? px(f, series_x(s, i + 1)) : ax;
      double by = i + 1 < s->n ? py(f, s->y[i + 1]) : ay;
      for (int t = 0; t < 8; t++)
        count += (size_t)inside(ax + (bx - ax) * t / 8, ay + (by - ay) * t / 8,
                                x0, y0, x1, y1);
    }
  }
  return count;
}

tl_status tl_plot_line(tl_ctx *ctx, const tl_plot_series *s, size_t ns,
                       const tl_plot_opts *o, tl_viz_format fmt,
                       const char *path) {
  frame f = {0};
  int anyx = 0, anyy = 0;
  legend lg = {0};
  f.xlog = o && o->xlog;
  f.ylog = o && o->ylog;
  for (size_t k = 0; k < ns; k++) {
    if (s[k].y == NULL && s[k].n > 0)
      return tl_ctx_fail(ctx, TL_EARG, "plot: series %zu has no y values", k + 1);
    for (size_t i = 0; i < s[k].n; i++)
      if (drawable(&f, series_x(&s[k], i), s[k].y[i])) {
        widen(&f.xlo, &f.xhi, &anyx, axis_x(&f, series_x(&s[k], i)));
        widen(&f.ylo, &f.yhi, &anyy, axis_y(&f, s[k].y[i]));
      }
    if (s[k].name && lg.n < MAX_LEGEND) {
      lg.names[lg.n] = s[k].name;
      lg.colors[lg.n++] = palette[k % 10];
    }
  }
  if (!anyy)
    return tl_ctx_fail(ctx, TL_EARG, (f.xlog || f.ylog)
                       ? "plot: no finite point with positive values on the log axes to draw"
                       : "plot: no finite point to draw");
  f.integer_x = 1;
  for (size_t k = 0; k < ns; k++) if (s[k].x != NULL) f.integer_x = 0;
  /* a little room, so markers and lines at the edges are not cut */
  double padx = (f.xhi - f.xlo) * 0.02, pady = (f.yhi - f.ylo) * 0.02;
  f.xlo -= padx; f.xhi += padx; f.ylo -= pady; f.yhi += pady;
  line_data d = {s, ns};
  return plot_run(ctx, &f, 0, 1, o, &lg, fmt, path, line_body, line_crowd, &d);
}

/* }====================================================================== */

/* {======================================================================
** Scatter plots and decision boundaries
** ======================================================================= */

/* The distinct classes of 'p', sorted, at most MAX_LEGEND (the rest share
** the last colour).  Returns their number. */
static size_t classes_of(const tl_plot_points *p, double *cls) {
  size_t n = 0;
  if (p == NULL || p->cls == NULL) return 0;
  for (size_t i = 0; i < p->n; i++) {
    double c = p->cls[i];
    size_t k = 0;
    while (k < n && cls[k] != c) k++;
    if (k == n && n < MAX_LEGEND) cls[n++] = c;
  }
  for (size_t i = 1; i < n; i++)        /* insertion sort: n is tiny */
    for (size_t j = i; j > 0 && cls[j - 1] > cls[j]; j--) {
      double t = cls[j]; cls[j] = cls[j - 1]; cls[j - 1] = t;
    }
  return n;
}

static size_t class_index(const double *cls, size_t n, double c) {
  for (size_t k = 0; k < n; k++) if (cls[k] == c) return k;
  return n ? n - 1 : 0;
}

typedef struct point_data {
  const tl_plot_points *p;
  const tl_plot_grid *grid;
  double cls[MAX_LEGEND];
  size_t ncls;
} point_data;

static void points_body(cairo_t *cr, const frame *f, const point_data *d) {
  const tl_plot_points *p = d->p;
  if (p == NULL) return;
  double r = p->n > 2000 ? 2.2 : 4;
  for (size_t i = 0; i < p->n; i++) {
    if (!isfinite(p->x[i]) || !isfinite(p->y[i])) continue;
    size_t k = p->cls ? class_index(d->cls, d->ncls, p->cls[i]) : 0;
    dot(cr, px(f, p->x[i]), py(f, p->y[i]), r, palette[k % 10]);
  }
}

static size_t points_crowd(const frame *f, const void *data, double x0,
                           double y0, double x1, double y1) {
  const tl_plot_points *p = ((const point_data *)data)->p;
  size_t count = 0;
  for (size_t i = 0; p != NULL && i < p->n; i++)
    count += (size_t)inside(px(f, p->x[i]), py(f, p->y[i]), x0, y0, x1, y1);
  return count;
}

static cairo_status_t scatter_body(cairo_t *cr, const frame *f, const void *data) {
  points_body(cr, f, data);
  return CAIRO_STATUS_SUCCESS;
}

/* The legend of the classes ("class -1", "class 1"); 'buf' holds names. */
static void class_legend(legend *lg, const point_data *d, char (*buf)[32]) {
  for (size_t k = 0; k < d->ncls; k++) {
    char num[24];
    snprintf(buf[k], 32, "class %s", tl_format_number(num, sizeof num, d->cls[k], 'g', 6));
    lg->names[lg->n] = buf[k];
    lg->colors[lg->n++] = palette[k % 10];
  }
  lg->dots = 1;
}

static tl_status check_points(tl_ctx *ctx, const tl_plot_points *p) {
  if (p != NULL && p->n > 0 && (p->x == NULL || p->y == NULL))
    return tl_ctx_fail(ctx, TL_EARG, "plot: points without coordinates");
  return TL_OK;
}

tl_status tl_plot_scatter(tl_ctx *ctx, const tl_plot_points *p,
                          const tl_plot_opts *o, tl_viz_format fmt,
                          const char *path) {
  if (p == NULL) return tl_ctx_fail(ctx, TL_EARG, "plot: points expected, got NULL");
  tl_status st = check_points(ctx, p);
  if (st != TL_OK) return st;
  frame f = {0};
  int anyx = 0, anyy = 0;
  for (size_t i = 0; i < p->n; i++)
    if (isfinite(p->x[i]) && isfinite(p->y[i])) {
      widen(&f.xlo, &f.xhi, &anyx, p->x[i]);
      widen(&f.ylo, &f.yhi, &anyy, p->y[i]);
    }
  if (!anyx) return tl_ctx_fail(ctx, TL_EARG, "plot: no finite point to draw");
  /* room around the data, so no point is cut by the frame */
  double padx = (f.xhi - f.xlo) * 0.04, pady = (f.yhi - f.ylo) * 0.04;
  f.xlo -= padx; f.xhi += padx; f.ylo -= pady; f.yhi += pady;
  point_data d = {p, NULL, {0}, 0};
  d.ncls = classes_of(p, d.cls);
  legend lg = {0};
  char names[MAX_LEGEND][32];
  class_legend(&lg, &d, names);
  return plot_run(ctx, &f, 1, 1, o, &lg, fmt, path, scatter_body, points_crowd, &d);
}

/* The score at (u, v) in cell units (cell centres at integers), bilinear
** between the four nearest cells, or the nearest cell's score where one of
** them is not finite. */
static double score_at(const tl_plot_grid *g, const double *z, double u, double v) {
  u = fmin(fmax(u, 0), (double)(g->nx - 1));
  v = fmin(fmax(v, 0), (double)(g->ny - 1));
  size_t i = (size_t)u, j = (size_t)v;
  if (i + 1 >= g->nx) i = g->nx - 2;
  if (j + 1 >= g->ny) j = g->ny - 2;
  double fu = u - (double)i, fv = v - (double)j;
  double a = z[j * g->nx + i], b = z[j * g->nx + i + 1];
  double c = z[(j + 1) * g->nx + i], d = z[(j + 1) * g->nx + i + 1];
  if (!isfinite(a) || !isfinite(b) || !isfinite(c) || !isfinite(d))
    return z[(size_t)(v + 0.5) * g->nx + (size_t)(u + 0.5)];
  return (a * (1 - fu) + b * fu) * (1 - fv) + (c * (1 - fu) + d * fu) * fv;
}

#define MAX_CLASSES 10      /* one palette colour each */

/* The colour and depth of the pixel at (u, v) in cell units: for two
** classes by the sign of the score, for k by the highest of the k planes,
** depth growing with its lead over the second. */
static rgb pixel_class(const point_data *d, double u, double v, double *depth) {
  const tl_plot_grid *g = d->grid;
  if (g->nclass < 2) {
    double z = score_at(g, g->z, u, v);
    *depth = isfinite(z) ? tanh(fabs(z)) : -1;
    return z > 0 ? palette[d->ncls > 1 ? 1 : 3] : palette[0];
  }
  size_t plane = g->nx * g->ny, best = 0;
  double top = -INFINITY, second = -INFINITY;
  int finite = 1;
  for (size_t c = 0; c < g->nclass; c++) {
    double z = score_at(g, g->z + c * plane, u, v);
    if (!isfinite(z)) finite = 0;
    if (z > top) { second = top; top = z; best = c; }
    else if (z > second) second = z;
  }
  *depth = finite ? tanh(top - second) : -1;
  return palette[best];
}

/* Upsampling of the grid: each cell becomes UPSAMPLE^2 pixels, coloured by
** the interpolated score, so the boundary (score 0) is a smooth curve
** instead of cell steps. */
#define UPSAMPLE 8
#define RASTER_MAX 2048

/* The background raster of the scores, then the points. */
static cairo_status_t boundary_body(cairo_t *cr, const frame *f, const void *data) {
  const point_data *d = data;
  const tl_plot_grid *g = d->grid;
  size_t up = UPSAMPLE;
  while (up > 1 && (g->nx * up > RASTER_MAX || g->ny * up > RASTER_MAX)) up--;
  size_t w = g->nx * up, h = g->ny * up;
  cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24,
                                                    (int)w, (int)h);
  if (cairo_surface_status(img) == CAIRO_STATUS_SUCCESS) {
    unsigned char *px0 = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    cairo_surface_flush(img);
    for (size_t q = 0; q < h; q++) {
      /* image row 0 is the top: the last grid row */
      uint32_t *row = (uint32_t *)(px0 + (size_t)stride * (h - 1 - q));
      double v = ((double)q + 0.5) / (double)up - 0.5;
      for (size_t p = 0; p < w; p++) {
        double depth;
        rgb c = pixel_class(d, ((double)p + 0.5) / (double)up - 0.5, v, &depth);
        /* pale near the boundary, deeper where the model is sure; white
        ** where a score is not finite */
        double a = depth >= 0 ? 0.12 + 0.43 * depth : 0;
        uint32_t r = (uint32_t)(255 * (1 - a + a * c.r));
        uint32_t gg = (uint32_t)(255 * (1 - a + a * c.g));
        uint32_t b = (uint32_t)(255 * (1 - a + a * c.b));
        row[p] = r << 16 | gg << 8 | b;
      }
    }
    cairo_surface_mark_dirty(img);
    cairo_save(cr);
    cairo_translate(cr, px(f, g->x0), py(f, g->y1));
    cairo_scale(cr, (px(f, g->x1) - px(f, g->x0)) / (double)w,
                (py(f, g->y0) - py(f, g->y1)) / (double)h);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_BILINEAR);
    cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
    cairo_rectangle(cr, 0, 0, (double)w, (double)h);
    cairo_fill(cr);
    cairo_restore(cr);
  }
  cairo_status_t st = cairo_surface_status(img);
  cairo_surface_destroy(img);
  points_body(cr, f, d);
  return st;
}

tl_status tl_plot_boundary(tl_ctx *ctx, const tl_plot_grid *grid,
                           const tl_plot_points *p, const tl_plot_opts *o,
                           tl_viz_format fmt, const char *path) {
  if (grid == NULL || grid->z == NULL || grid->nx < 2 || grid->ny < 2 ||
      grid->nx > 4096 || grid->ny > 4096)
    return tl_ctx_fail(ctx, TL_EARG, "plot: grid of 2x2 to 4096x4096 scores "
                       "expected");
  if (!(grid->x1 > grid->x0) || !(grid->y1 > grid->y0) ||
      !isfinite(grid->x1 - grid->x0) || !isfinite(grid->y1 - grid->y0))
    return tl_ctx_fail(ctx, TL_EARG, "plot: grid bounds must be finite with "
                       "x0 < x1 and y0 < y1");
  if (grid->nclass == 1 || grid->nclass > MAX_CLASSES)
    return tl_ctx_fail(ctx, TL_EARG, "plot: %zu classes (0 for two by the "
                       "sign of one score, or 2 to %d)", grid->nclass, MAX_CLASSES);
  tl_status st = check_points(ctx, p);
  if (st != TL_OK) return st;
  frame f = {0};
  f.xlo = grid->x0; f.xhi = grid->x1; f.ylo = grid->y0; f.yhi = grid->y1;
  point_data d = {p, grid, {0}, 0};
  if (grid->nclass >= 2) {            /* the classes are 1..k */
    for (size_t c = 0; c < grid->nclass; c++) d.cls[c] = (double)(c + 1);
    d.ncls = grid->nclass;
  } else d.ncls = classes_of(p, d.cls);
  legend lg = {0};
  char names[MAX_LEGEND][32];
  class_legend(&lg, &d, names);
  return plot_run(ctx, &f, 0, 0, o, &lg, fmt, path, boundary_body, points_crowd, &d);
}

/* }====================================================================== */
