/*
** tl_viz.h -- drawing the computational graph behind a node, and plots.
**
** Two views of the graph reachable from a root:
**
**   tl_viz_graphviz  graphviz's libraries (cgraph builds the graph, gvc lays
**                    it out with dot and renders it): left to right, each
**                    value a record "label | data 2.0000 | grad 4.0000",
**                    each op a small ellipse feeding its result.
**   tl_viz_cairo     a layered layout of our own drawn with cairo: one box
**                    per value (label, op, data, grad), inputs on the left,
**                    the root on the right; after backward, edge colour and
**                    width show the gradient magnitude.  Leaves, parameters
**                    and op results have different colours.
**
** and, to watch backward, the cairo view a page per step
** (tl_viz_cairo_steps) and an interactive HTML page of the graphviz view
** (tl_viz_html).
**
** Worked example (f = a*b + a, see torchlet.h):
**
**     tl_viz_opts o = {0};                        // defaults
**     tl_gv *gv = tl_gv_new(ctx);
**     tl_viz_graphviz(ctx, gv, d, &o, TL_VIZ_PNG, "Digraph.gv.png");
**     tl_gv_free(gv);
**     tl_viz_cairo(ctx, d, &o, TL_VIZ_SVG, "graph.svg");
**
** Files are written to a temporary name next to 'path' and renamed into
** place once complete, so a failure never leaves a half-written file (nor
** clobbers an existing one).  Every function returns TL_OK or a status with
** a message in tl_ctx_error(ctx); an unwritable path gives TL_EIO and a
** message naming the path.  Nothing aborts.
**
** Size limit: laying out a large graph is slow and the picture unreadable
** anyway, so a graph of more than opts->max_nodes values is refused with
** TL_EARG and a message naming the limit and 'max_nodes'.  The graphviz
** view also bounds dot's work (viz_graphviz.c: iteration limits past a
** size, copies of values used far apart, and a refusal of graphs still too
** tangled), so any graph it accepts at the default limit takes at most a
** few seconds (bench/viz_layout.lua); the cairo view takes 0.2 s (SVG) to
** 2 s (PNG) for 2,000 values and 0.7 s to 3.6 s for 5,000.
*/
#ifndef TL_VIZ_H
#define TL_VIZ_H

#include <stddef.h>

#include "torchlet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tl_viz_format {
  TL_VIZ_PNG = 0,
  TL_VIZ_SVG,
  TL_VIZ_PDF,
  TL_VIZ_DOT,        /* graphviz only: DOT text, no layout */
  TL_VIZ_FORMAT_COUNT
} tl_viz_format;

/* Defaults of opts->max_nodes (values, that is tl_topo's count): a graph
** at the limit renders in a few seconds at most. */
#define TL_VIZ_GRAPHVIZ_MAX_NODES 1000
#define TL_VIZ_CAIRO_MAX_NODES    2000

typedef struct tl_viz_opts {
  /* Largest graph drawn, in values; 0 means the method's default above.
  ** Only graph drawing obeys it (DOT text needs no layout). */
  size_t max_nodes;
  /* Leaves listed here are drawn as parameters (borrowed; may be NULL). */
  tl_node *const *params;
  size_t nparams;
  /* Both views (viz_model.c; not the step-by-step view, which refuses
  ** them).  collapse TL_VIZ_COLLAPSE_LAYER:
  ** one box per layer of a model, "L1: Linear 2->16, ReLU | W (16 x 2),
  ** b (16)", instead of its neurons: a neuron-row or linear node whose W
  ** is labelled "Lk.W" and the activation applied directly to it belong
  ** to layer k, whose parameters Lk.W and Lk.b are drawn inside the box;
  ** edges between boxes follow the data.  expand nonzero: each fused
  ** neuron row drawn as micrograd's w*x products and + chain, with the
  ** values from the node's inputs. */
  int collapse;
  int expand;
  /* With collapse: the layers (numbers k of "Lk.W", borrowed; may be NULL)
  ** drawn as their nodes all the same, between the other boxes. */
  const size_t *expand_layers;
  size_t nexpand_layers;
} tl_viz_opts;

enum { TL_VIZ_COLLAPSE_NONE = 0, TL_VIZ_COLLAPSE_LAYER = 1 };

/* The format named 'name' ("png", "svg", "pdf", "dot"); TL_EARG if none. */
tl_status tl_viz_format_parse(tl_ctx *ctx, const char *name, tl_viz_format *fmt);
/* The format of 'path' from its extension (".png" ...; any case); TL_EARG
** with a message naming the path if it has no known extension. */
tl_status tl_viz_format_of_path(tl_ctx *ctx, const char *path, tl_viz_format *fmt);
/* "png", "svg", "pdf", "dot". */
const char *tl_viz_format_name(tl_viz_format fmt);

/* A graphviz session: the gvc context that lays out and renders.  Keep
** one for as long as you draw.  Graphviz 2.43's pango text plugin caches a
** pointer to the last font name, which its gvc context owns: a picture
** drawn after that context is freed reads freed memory.  One session per
** program (the Lua binding keeps one per lua_State) never frees it while
** drawing.  tl_gv_new returns NULL with the error set; tl_gv_free(NULL) is
** a no-op.  Graphviz's libraries keep global state of their own: draw with
** graphviz from one thread at a time (the cairo view and plots have no such
** limit). */
typedef struct tl_gv tl_gv;
tl_gv *tl_gv_new(tl_ctx *ctx);
void tl_gv_free(tl_gv *gv);

/* Writes the graphviz view of the graph under 'root' to 'path' in 'fmt'
** (any format) using the session 'gv'.  'opts' may be NULL for defaults. */
tl_status tl_viz_graphviz(tl_ctx *ctx, tl_gv *gv, tl_node *root,
                          const tl_viz_opts *opts, tl_viz_format fmt,
                          const char *path);

/* The DOT text of the graphviz view, NUL-terminated, in *text (free() it)
** with its length in *len.  No layout, no size limit. */
tl_status tl_viz_dot(tl_ctx *ctx, tl_node *root, const tl_viz_opts *opts,
                     char **text, size_t *len);

/* Writes the cairo view to 'path' in 'fmt' (PNG, SVG or PDF; TL_EARG for
** DOT). */
tl_status tl_viz_cairo(tl_ctx *ctx, tl_node *root, const tl_viz_opts *opts,
                       tl_viz_format fmt, const char *path);

/* The step-by-step backward view: the cairo view drawn once per step of
** the backward pass from the scalar 'root' (tl_trace.h: the engine's own
** order and numbers; gradients are left as they were), the step's node
** highlighted with the edges its gradient goes back along, the gradients
** known so far filled in and the rest blank, and a caption with the
** step's chain rule in numbers.  With 'frames' 0, 'path' is one PDF
** ('fmt' TL_VIZ_PDF), a page per step; with 'frames' 1, 'path' is an
** existing directory that receives one file per step, step-001.png (or
** .svg, .pdf: 'fmt') and on.  Layout and page size are the same for
** every step.  *nsteps gets the number of steps (pages or files) drawn. */
tl_status tl_viz_cairo_steps(tl_ctx *ctx, tl_node *root, const tl_viz_opts *opts,
                             tl_viz_format fmt, const char *path, int frames,
                             size_t *nsteps);

/* The interactive page: one self-contained HTML file at 'path' (no
** network, no external script, style or font) with the graphviz view of
** the graph under the scalar 'root' laid out by dot (inline SVG, session
** 'gv') and a script that steps through the backward pass with buttons
** and keys (arrows, Home, End): the steps of tl_trace.h (the engine's
** order and numbers; gradients are left as they were), the step's node
** highlighted, the gradients known so far filled in, the rest blank, the
** caption and chain-rule lines of the cairo step-by-step view; hovering
** over or clicking a value shows its op's rule (the 'grad' column of
** tl_ops.h) and its step in numbers.  The URL fragment "#step=K" shows
** step K (0: before the seed).  The graphviz view's limit applies
** (opts->max_nodes, default TL_VIZ_GRAPHVIZ_MAX_NODES).  *nsteps gets the
** number of steps. */
tl_status tl_viz_html(tl_ctx *ctx, tl_gv *gv, tl_node *root,
                      const tl_viz_opts *opts, const char *path,
                      size_t *nsteps);

#ifdef __cplusplus
}
#endif

#endif
