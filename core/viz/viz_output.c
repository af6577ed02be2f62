/*
** viz_output.c -- cairo surfaces and text shared by the graph views and
** the plots.
**
** A picture is written through a tl__out (atomic_file.c): under a
** temporary name, renamed over its target once every byte is out, so an
** error (a full disk, a bad format, a failed layout) never leaves a
** half-written file behind and never clobbers the previous picture.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo-svg.h>

#include "viz_internal.h"

/* {======================================================================
** Cairo surfaces
** ======================================================================= */


/* cairo's stream callback: 'closure' is the tl__out. */
static cairo_status_t write_out(void *closure, const unsigned char *data,
                                unsigned int length) {
  tl__out *out = closure;
  if (length > 0 && fwrite(data, 1, length, out->f) != length) {
    out->failed = 1;
    return CAIRO_STATUS_WRITE_ERROR;
  }
  return CAIRO_STATUS_SUCCESS;
}

cairo_surface_t *tl__surface_new(tl_ctx *ctx, tl__out *out, tl_viz_format fmt,
                                 double w, double h, double scale) {
  cairo_surface_t *s;
  switch (fmt) {
    case TL_VIZ_PNG: {
      int pw = (int)(w * scale + 0.5), ph = (int)(h * scale + 0.5);
      s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, pw < 1 ? 1 : pw,
                                     ph < 1 ? 1 : ph);
      break;
    }
    case TL_VIZ_SVG:
      s = cairo_svg_surface_create_for_stream(write_out, out, w, h);
      break;
    case TL_VIZ_PDF:
      s = cairo_pdf_surface_create_for_stream(write_out, out, w, h);
      break;
    default:
      tl_ctx_fail(ctx, TL_EARG, "format '%s' is not drawn with cairo (png, "
                  "svg or pdf expected)", tl_viz_format_name(fmt));
      return NULL;
  }
  if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
    tl_ctx_fail(ctx, TL_ENOMEM, "cannot make a %.0fx%.0f %s surface: %s", w, h,
                tl_viz_format_name(fmt),
                cairo_status_to_string(cairo_surface_status(s)));
    cairo_surface_destroy(s);
    return NULL;
  }
  /* A white page: RGB24 images start black, and for SVG and PDF a first
  ** operation covering the page keeps cairo fast.  (cairo 1.16 merges the
  ** extents of every vector operation into one region; thousands of small
  ** disjoint boxes make that quadratic, boxes inside one page-sized
  ** rectangle cost nothing.) */
  cairo_t *cr = cairo_create(s);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_destroy(cr);
  if (fmt == TL_VIZ_PNG) cairo_surface_set_device_scale(s, scale, scale);
  return s;
}

tl_status tl__surface_finish(tl_ctx *ctx, cairo_surface_t *s, tl__out *out,
                             tl_viz_format fmt) {
  cairo_status_t st;
  if (fmt == TL_VIZ_PNG) {
    cairo_surface_flush(s);
    st = cairo_surface_status(s);
    if (st == CAIRO_STATUS_SUCCESS)
      st = cairo_surface_write_to_png_stream(s, write_out, out);
  } else {
    cairo_surface_finish(s);    /* SVG and PDF write their tail here */
    st = cairo_surface_status(s);
  }
  cairo_surface_destroy(s);
  if (st != CAIRO_STATUS_SUCCESS) {
    int io = out->failed || st == CAIRO_STATUS_WRITE_ERROR;
    tl__out_abort(out);
    return tl_ctx_fail(ctx, io ? TL_EIO : TL_ENOMEM, "cannot write '%s': %s",
                       out->path, cairo_status_to_string(st));
  }
  return TL_OK;
}

/* }====================================================================== */

void tl__set_font(cairo_t *cr, const char *face, double size, int bold) {
  cairo_select_font_face(cr, face, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

double tl__text_width(cairo_t *cr, const char *s) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s, &e);
  return e.x_advance;
}
