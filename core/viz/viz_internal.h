/*
** viz_internal.h -- what the drawing files of core/ share: cairo surfaces
** for a format, and a snapshot of the graph with its edges.  (Output
** files are tl__out, internal.h.)  Private: tl__ prefix, not installed
** with the public headers.
*/
#ifndef TL_VIZ_INTERNAL_H
#define TL_VIZ_INTERNAL_H

#include <stdio.h>

#include <cairo.h>

#include "../internal.h"   /* tl__out: files written whole or not at all */
#include "../tl_viz.h"

/* {======================================================================
** Cairo surfaces.  A PNG is drawn on an image surface 'scale' times the
** size in points and encoded at tl__surface_finish; SVG and PDF stream into
** 'out' as they are drawn.
** ======================================================================= */

/* A surface of 'w' x 'h' points for 'fmt' (PNG, SVG or PDF), or NULL with
** the context's error set.  The page is painted white. */
/* Text for cairo drawings: the fonts both cairo files use, a face at a
** size (bold or not), and the advance width of a string in it. */
#define TL__FONT_SANS "DejaVu Sans"
#define TL__FONT_MONO "DejaVu Sans Mono"
void tl__set_font(cairo_t *cr, const char *face, double size, int bold);
double tl__text_width(cairo_t *cr, const char *s);

cairo_surface_t *tl__surface_new(tl_ctx *ctx, tl__out *out, tl_viz_format fmt,
                                 double w, double h, double scale);
/* Finishes and destroys 's' (writing the PNG).  On failure aborts 'out';
** on success the caller may add to 'out' and then commits it. */
tl_status tl__surface_finish(tl_ctx *ctx, cairo_surface_t *s, tl__out *out,
                             tl_viz_format fmt);
/* Largest PNG side in pixels: cairo's image surfaces stop at 32767, and a
** bigger picture is scaled down to fit. */
#define TL__PNG_MAX_SIDE 16000.0

/* }====================================================================== */

/* {======================================================================
** A snapshot of the graph under a root for drawing: the values in
** topological order (inputs first, root last) and one edge per input slot
** (a value used twice by one op gives two edges).
** ======================================================================= */

typedef enum tl__vkind { TL__LEAF, TL__PARAM, TL__RESULT } tl__vkind;

typedef struct tl__vedge { size_t from, to; } tl__vedge;  /* input -> user */

typedef struct tl__vgraph {
  size_t n;              /* values */
  tl_node **nodes;       /* [n], borrowed pointers in topological order */
  unsigned char *kind;   /* [n] tl__vkind */
  size_t ne;
  tl__vedge *edges;      /* [ne], grouped by 'to' in input order */
} tl__vgraph;

/* Snapshots the graph under 'root'.  'max_nodes' 0 means no limit; above
** it, fails with TL_EARG naming the limit, 'method' and max_nodes. */
tl_status tl__vgraph_build(tl_ctx *ctx, tl_node *root, const tl_viz_opts *opts,
                           size_t max_nodes, const char *method,
                           tl__vgraph *g);
void tl__vgraph_free(tl__vgraph *g);

/* The two value lines drawn for a node: "data 2.0000" and "grad 4.0000"
** for a scalar (%.4f, as micrograd); for an array "data (2, 3) mean 0.25"
** and "grad |g| 1.5" (the gradient's L2 norm; "grad none" before any
** backward pass), %.4g numbers. */
void tl__vtext_data(tl_node *n, char *buf, size_t size);
void tl__vtext_grad(tl_node *n, char *buf, size_t size);
/* The label of 'n' as text every output can carry, into 'buf' ('size'
** bytes, at least 8): valid UTF-8 with U+FFFD for each byte that does not
** start a valid sequence (truncated, overlong, surrogate, stray) and for
** each control character, DEL and U+FFFE/U+FFFF; cut with "..." once it
** would pass 'cut' bytes (never inside a character).  Labels are user
** data: cairo refuses invalid UTF-8, XML (SVG) refuses controls, and
** graphviz copies both into its SVG and DOT. */
void tl__vtext_label(tl_node *n, char *buf, size_t size, size_t cut);
/* The same for any text 's' (captions quote labels). */
void tl__vtext_clean(const char *s, char *buf, size_t size, size_t cut);
/* The title of step 'k' (1-based) of 'nsteps' of the trace 'tr', just
** run, into 'buf' ("Backward, step 2 of 4: c (mul) passes its gradient to
** its inputs"); names are cleaned and cut at TL__STEP_NAME_CUT bytes.
** The cairo pages and the HTML page show the same titles. */
#define TL__STEP_NAME_CUT 48
typedef struct tl_trace tl_trace;
void tl__vstep_title(char *buf, size_t size, const tl_trace *tr, size_t k,
                     size_t nsteps);
/* |grad| of a scalar, the L2 norm of an array's gradient (0 if none). */
double tl__vgrad_mag(tl_node *n);

/* }====================================================================== */

/* {======================================================================
** Readable model graphs (viz_model.c): the items a snapshot is drawn as
** with opts->collapse (a box per layer of a model) or opts->expand (fused
** neuron rows as micrograd's w*x products and + chain).  Both views draw
** the same tl__mgraph.
** ======================================================================= */

/* A layer box: the fused nodes (neuron rows or a linear node) whose W is
** labelled "Lk.W", the activation applied to each alone, and the leaves
** Lk.W and Lk.b. */
typedef struct tl__mlayer {
  unsigned long k;
  tl_node *w, *b;           /* the first fused node's W and b, or NULL */
  char act[32];             /* the activation's op label, or "" */
  int linear;               /* a LINEAR node (batch) rather than neuron rows */
} tl__mlayer;

/* "Linear 2→16, ReLU" into 'title', "W (16 x 2), b (16)" into 'shapes'. */
void tl__mlayer_text(const tl__mlayer *l, char *title, size_t tsize,
                     char *shapes, size_t ssize);

typedef enum tl__mkind { TL__MVALUE, TL__MLAYER, TL__MNUMBER } tl__mkind;

#define TL__MLABEL_CUT 256      /* labels of numbers: cut as the views cut */

typedef struct tl__mitem {
  unsigned char kind;       /* tl__mkind */
  size_t value;             /* VALUE: its index in the snapshot; NUMBER: the
                            ** neuron row's it belongs to */
  size_t layer;             /* LAYER: its index in mg->layers */
  char name[48];            /* a unique name: "v3", "L1", "v3_w0" (DOT) */
  /* The op drawn: for a VALUE, NULL for its own op (tl_op_label) or "+"
  ** (an expanded row: the last sum of its chain); for a NUMBER, "" (a
  ** weight, a leaf), "*" or "+". */
  const char *op;
  /* NUMBER: a value drawn only, not a node (an element of W or b, a
  ** product w*x, a partial sum) */
  char label[TL__MLABEL_CUT + 40];
  double data, grad;
} tl__mitem;

typedef struct tl__mgraph {
  size_t n;
  tl__mitem *items;         /* [n] in topological order (see build) */
  size_t ne;
  tl__vedge *edges;         /* [ne] between items, grouped by 'to' */
  size_t *count;            /* [ne] values an edge carries (between boxes) */
  double *mag;              /* [ne] L2 norm of their gradients (0: none) */
  size_t nlayers;
  tl__mlayer *layers;       /* [nlayers] by k */
} tl__mgraph;

/* The model graph of the snapshot 'g' for opts->collapse or opts->expand
** (one of them set).  Expanded, more than 'max_nodes' items (0: no limit)
** fail with TL_EARG naming 'method' and max_nodes.  With 'need_order'
** the items are in topological order or the call fails (TL_EARG: layer
** boxes in a cycle); without it they may not be. */
tl_status tl__mgraph_build(tl_ctx *ctx, const tl__vgraph *g,
                           const tl_viz_opts *opts, size_t max_nodes,
                           const char *method, int need_order,
                           tl__mgraph *mg);
void tl__mgraph_free(tl__mgraph *mg);

/* }====================================================================== */

/* The graphviz view of 'g' as SVG, laid out by dot, in *svg (malloc'd,
** NUL-terminated, *len bytes): with the ids and names that the trace 'tr'
** gives for the HTML page (viz_graphviz.c, build).  'max_nodes' bounds
** the routed graph as the graphviz view does. */
tl_status tl__gv_svg(tl_ctx *ctx, tl_gv *gv, const tl__vgraph *g,
                     const tl_trace *tr, size_t max_nodes, char **svg,
                     size_t *len);

#endif
