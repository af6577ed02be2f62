/*
** viz_format.c -- the picture formats of tl_viz.h by name and by file
** extension.  Needs neither graphviz nor cairo, so a build without them
** still checks its arguments the same way.
*/
#include <ctype.h>
#include <string.h>

#include "../tl_viz.h"

/* {======================================================================
** Formats
** ======================================================================= */

static const char *const format_names[TL_VIZ_FORMAT_COUNT] = {
  "png", "svg", "pdf", "dot"
};

const char *tl_viz_format_name(tl_viz_format fmt) {
  return (unsigned)fmt < TL_VIZ_FORMAT_COUNT ? format_names[fmt] : "?";
}

/* 'a' equals 'b' ignoring ASCII case. */
static int same_word(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
  return *a == *b;
}

static int find_format(const char *name, tl_viz_format *fmt) {
  for (int i = 0; i < TL_VIZ_FORMAT_COUNT; i++)
    if (same_word(name, format_names[i])) { *fmt = (tl_viz_format)i; return 1; }
  if (same_word(name, "gv")) { *fmt = TL_VIZ_DOT; return 1; }
  return 0;
}

tl_status tl_viz_format_parse(tl_ctx *ctx, const char *name, tl_viz_format *fmt) {
  if (name == NULL || !find_format(name, fmt))
    return tl_ctx_fail(ctx, TL_EARG, "unknown format '%s' (png, svg, pdf "
                       "or dot expected)", name ? name : "(null)");
  return TL_OK;
}

tl_status tl_viz_format_of_path(tl_ctx *ctx, const char *path, tl_viz_format *fmt) {
  const char *dot = path ? strrchr(path, '.') : NULL;
  const char *slash = path ? strrchr(path, '/') : NULL;
  if (dot == NULL || (slash != NULL && dot < slash) || !find_format(dot + 1, fmt))
    return tl_ctx_fail(ctx, TL_EARG, "cannot tell the format of '%s' from its "
                       "extension (.png, .svg, .pdf or .dot expected; or give "
                       "a format)", path ? path : "(null)");
  return TL_OK;
}

/* }====================================================================== */
