/*
** viz.c -- Lua side of the graph views: e:visualize(method, opts) and
** e:to_dot([opts]) (opts.collapse, opts.expand as below).  Both are
** Element methods and module functions.
**
**   e:visualize([method [, opts]]) -> path
**     method   "cairo" (the default, also for nil) or "graphviz"
**     opts.file       where to write; the format comes from its extension
**     opts.format     "png", "svg", "pdf" ("dot" too for graphviz); wins
**                     over the extension
**     opts.max_nodes  largest graph drawn (default 1000 for graphviz, 2000
**                     for cairo); bigger graphs raise an error
**     opts.params     a list of Elements drawn as parameters (cairo)
**     opts.steps      true: the step-by-step backward view (cairo), a PDF
**                     page per step, to opts.file ("backward.pdf")
**     opts.frames     a directory: the same, one file per step,
**                     step-001.png ... (opts.format: png, svg or pdf)
**     opts.collapse  "layer": one box per layer of a model;
**                    opts.expand_layers = {2}: layer 2 drawn unboxed
**     opts.expand    true: neuron rows drawn as w*x products and sums
**                    (both views, not steps; both in tl_viz.h)
**   With steps or frames it returns the path and the number of steps.
**
**   e:visualize("html" [, opts]) -> path, steps
**     the interactive page (tl_viz_html): one self-contained HTML file,
**     opts.file (default "graph.html"); opts.max_nodes and opts.params as
**     above (graphviz's limit); no other option.
**   Without opts.file the picture goes to "Digraph.gv.<format>" (graphviz)
**   or "graph.<format>" (cairo) in the current directory; the format
**   defaults to png.
**
** Argument errors number arguments as Lua does for a method call: in
** e:visualize(m, o), m is #1 and o is #2.
*/
#include <stdlib.h>
#include <string.h>

#include "tlb.h"
#include "../core/tl_plot.h"
#include "../core/tl_viz.h"

/* Options each function takes (tlb_checkopts: any other key is an error,
** so that a misspelt option is not silently ignored). */
static const char *const visualize_opts[] = {"file", "format", "max_nodes",
                                             "params", "steps", "frames",
                                             "collapse", "expand",
                                             "expand_layers", NULL};
static const char *const html_opts[] = {"file", "max_nodes", "params", NULL};
static const char *const to_dot_opts[] = {"collapse", "expand",
                                           "expand_layers", NULL};
static const char *const plot_opts[] = {"title", "xlabel", "ylabel", "width",
                                        "height", "file", "format", NULL};
/* plot.line's: the common ones and its log-scale axes */
static const char *const line_opts[] = {"title", "xlabel", "ylabel", "width",
                                        "height", "file", "format", "xlog",
                                        "ylog", NULL};

/* Checks the options at 'i': nil, none, or a table with only 'allowed'
** keys.  Options are read raw (tlb_opt*), each string anchored in the
** table, an argument of the running function. */
static void check_opts(lua_State *L, int i, const char *fname,
                       const char *const *allowed) {
  int t = lua_type(L, i);
  if (t != LUA_TNIL && t != LUA_TNONE && t != LUA_TTABLE)
    luaL_typeerror(L, i, "table or nil");
  tlb_checkopts(L, i, fname, allowed);
}

/* opts.params: fills o->params with a Lua-owned array (a userdata left on
** the stack, so an error on the way frees it). */
static void opt_params(lua_State *L, int i, tl_viz_opts *o) {
  const char *fname = "visualize";
  int t = tlb_getopt(L, i, "params");
  if (t == LUA_TNIL) { lua_pop(L, 1); return; }
  if (t != LUA_TTABLE)
    tlb_argerror(L, i, fname, "option 'params' must be a table of Elements, "
                 "got %s", luaL_typename(L, -1));
  int list = lua_gettop(L);
  size_t n = tlb_rawlen(L, list, i, fname);
  tl_node **params = tlb_newscratch(L, n, sizeof *params, i, fname);
  for (size_t k = 0; k < n; k++) {
    lua_rawgeti(L, list, (lua_Integer)k + 1);
    params[k] = tlb_toelement(L, -1);
    if (params[k] == NULL)
      tlb_argerror(L, i, fname, "option 'params': Element expected at index "
                   "%s", tlb_pushsize(L, k + 1));
    lua_pop(L, 1);
  }
  o->params = params;
  o->nparams = n;
}

/* Reads opts.file and opts.format of the options at 'i' (a table, or nil
** or none, already checked) into *fmt and pushes the path: opts.file, or
** 'base' with the format's extension.  The format is opts.format, else the
** file's extension, else png. */
/* allow_dot: 1 yes, -1 no (cairo view), 0 no (plots). */
static void read_output(lua_State *L, int i, const char *fname,
                        tl_viz_format *fmt, const char *base, int allow_dot) {
  tl_ctx *ctx = tlb_ctx(L);
  const char *file = tlb_optstring(L, i, fname, "file", NULL);
  const char *format = tlb_optstring(L, i, fname, "format", NULL);
  *fmt = TL_VIZ_PNG;
  if (format != NULL) {
    if (tl_viz_format_parse(ctx, format, fmt) != TL_OK)
      tlb_argerror(L, i, fname, "option 'format': %s", tl_ctx_error(ctx));
  } else if (file != NULL && tl_viz_format_of_path(ctx, file, fmt) != TL_OK)
    tlb_argerror(L, i, fname, "option 'file': %s", tl_ctx_error(ctx));
  if (allow_dot <= 0 && *fmt == TL_VIZ_DOT)
    tlb_argerror(L, i, fname, "%s", allow_dot < 0 ? "format 'dot' is for the "
                 "graphviz method (cairo draws png, svg or pdf)"
                 : "format 'dot' is not a plot format (png, svg or pdf)");
  if (file != NULL) lua_pushstring(L, file);
  else lua_pushfstring(L, "%s.%s", base, tl_viz_format_name(*fmt));
}

/* opts.collapse ("layer") and opts.expand (a boolean) of the options at
** 'i' (checked) into 'o': the graphviz view's readable model graphs. */
static void opt_model(lua_State *L, int i, const char *fname, tl_viz_opts *o) {
  const char *c = tlb_optstring(L, i, fname, "collapse", NULL);
  o->expand = tlb_optboolean(L, i, fname, "expand", 0);
  if (c != NULL) {
    if (strcmp(c, "layer") != 0)
      tlb_argerror(L, i, fname, "option 'collapse': unknown value '%s' "
                   "(\"layer\" expected)", c);
    o->collapse = TL_VIZ_COLLAPSE_LAYER;
  }
  if (o->collapse && o->expand)
    tlb_argerror(L, i, fname, "options 'collapse' and 'expand' exclude each "
                 "other");
  /* opts.expand_layers: layer numbers, in a Lua-owned array (a userdata
  ** left on the stack with the list, as opt_params leaves its own) */
  int t = tlb_getopt(L, i, "expand_layers");
  if (t == LUA_TNIL) { lua_pop(L, 1); return; }
  if (t != LUA_TTABLE)
    tlb_argerror(L, i, fname, "option 'expand_layers' must be a table of "
                 "layer numbers, got %s", luaL_typename(L, -1));
  if (!o->collapse)
    tlb_argerror(L, i, fname, "option 'expand_layers' needs collapse = "
                 "\"layer\"");
  int list = lua_gettop(L);
  size_t n = tlb_rawlen(L, list, i, fname);
  size_t *layers = tlb_newscratch(L, n, sizeof *layers, i, fname);
  for (size_t k = 0; k < n; k++) {
    int isint = 0;
    lua_rawgeti(L, list, (lua_Integer)k + 1);
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    if (!isint || v < 1)
      tlb_argerror(L, i, fname, "option 'expand_layers': layer number (an "
                   "integer from 1) expected at index %s",
                   tlb_pushsize(L, k + 1));
    layers[k] = (size_t)v;
    lua_pop(L, 1);
  }
  o->expand_layers = layers;
  o->nexpand_layers = n;
}

/* The options of visualize at 'i' into 'o' and *fmt; pushes the path. */
static void read_opts(lua_State *L, int i, tl_viz_opts *o, tl_viz_format *fmt,
                      const char *base, int graphviz) {
  memset(o, 0, sizeof *o);
  check_opts(L, i, "visualize", visualize_opts);
  o->max_nodes = tlb_optcount(L, i, "visualize", "max_nodes", 0);
  opt_params(L, i, o);
  opt_model(L, i, "visualize", o);
  read_output(L, i, "visualize", fmt, base, graphviz ? 1 : -1);
}

/* {======================================================================
** The graphviz session of this lua_State: made on first use, kept in the
** registry, freed by its __gc at lua_close (see tl_gv in tl_viz.h).
** ======================================================================= */

#define TLB_GV_META "torchlet.gvsession"           /* its metatable */
#define TLB_GV_KEY "torchlet.gvsession.object"     /* the session */

/* Checks its argument: the debug library can call it on anything, or on
** the session while it is kept.  A session is not made again after that:
** graphviz keeps state across sessions in one process, and a second one
** writes a stray default node into its DOT. */
static int gv_gc(lua_State *L) {
  tl_gv **gv = tlb_testudata(L, 1, TLB_GV_META, sizeof *gv);
  if (gv == NULL) return 0;
  tl_gv_free(*gv);
  *gv = NULL;
  return 0;
}

static tl_gv *gv_session(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, TLB_GV_KEY) == LUA_TUSERDATA) {
    tl_gv **box = tlb_testudata(L, -1, TLB_GV_META, sizeof *box);
    if (box == NULL || *box == NULL)
      luaL_error(L, "graphviz: the session of this Lua state was finalized "
                 "(by the debug library)");
    lua_pop(L, 1);
    return *box;
  }
  lua_pop(L, 1);
  tl_gv **box = tlb_newudata(L, sizeof *box);  /* born empty */
  *box = NULL;
  luaL_newmetatable(L, TLB_GV_META);
  lua_pushcfunction(L, gv_gc);
  lua_setfield(L, -2, "__gc");
  tlb_setmetatable(L, sizeof *box);
  *box = tl_gv_new(tlb_ctx(L));
  if (*box == NULL) tlb_error(L);
  lua_setfield(L, LUA_REGISTRYINDEX, TLB_GV_KEY);
  return *box;
}

/* }====================================================================== */

/* e:visualize("html", opts): the interactive page; returns the path and
** the number of steps. */
static int viz_html(lua_State *L, tl_node *root) {
  tl_viz_opts o;
  memset(&o, 0, sizeof o);
  check_opts(L, 3, "visualize", html_opts);
  o.max_nodes = tlb_optcount(L, 3, "visualize", "max_nodes", 0);
  opt_params(L, 3, &o);
  const char *path = tlb_optstring(L, 3, "visualize", "file", "graph.html");
  size_t count;
  if (tl_viz_html(tlb_ctx(L), gv_session(L), root, &o, path, &count) != TL_OK)
    return tlb_error(L);
  lua_pushstring(L, path);
  lua_pushinteger(L, (lua_Integer)count);
  return 2;
}

static int viz_visualize(lua_State *L) {
  tl_node *root = tlb_checkelement(L, 1);
  int t = lua_type(L, 2);
  const char *method = "cairo";
  if (t == LUA_TSTRING) method = lua_tostring(L, 2);
  else if (t != LUA_TNIL && t != LUA_TNONE) luaL_typeerror(L, 2, "string or nil");
  int graphviz = strcmp(method, "graphviz") == 0;
  if (strcmp(method, "html") == 0) return viz_html(L, root);
  if (!graphviz && strcmp(method, "cairo") != 0)
    luaL_argerror(L, 2, lua_pushfstring(L, "unknown method '%s' (\"cairo\", "
                  "\"graphviz\" or \"html\" expected)", method));
  tl_viz_opts o;
  tl_viz_format fmt;
  check_opts(L, 3, "visualize", visualize_opts);
  int steps = tlb_optboolean(L, 3, "visualize", "steps", 0);
  const char *frames = tlb_optstring(L, 3, "visualize", "frames", NULL);
  int has_file = tlb_getopt(L, 3, "file") != LUA_TNIL;
  int has_format = tlb_getopt(L, 3, "format") != LUA_TNIL;
  lua_pop(L, 2);
  if ((steps || frames) && graphviz)
    tlb_argerror(L, 3, "visualize", "options 'steps' and 'frames' are drawn by "
                 "the cairo method");
  if (frames && has_file)
    tlb_argerror(L, 3, "visualize", "option 'frames' names a directory; "
                 "'file' is for one picture (with 'steps', one PDF)");
  read_opts(L, 3, &o, &fmt, graphviz ? "Digraph.gv" : "graph", graphviz);
  if ((steps || frames) && (o.collapse || o.expand))
    tlb_argerror(L, 3, "visualize", "option '%s' is for one picture: a step "
                 "is one node's, so steps draw the graph as it is",
                 o.collapse ? "collapse" : "expand");
  const char *path = lua_tostring(L, -1);
  tl_ctx *ctx = tlb_ctx(L);
  if (steps || frames) {
    size_t count;
    if (frames) path = frames;
    else if (!has_file && !has_format) {   /* a step-through is a PDF */
      fmt = TL_VIZ_PDF;
      path = "backward.pdf";
    }
    if (tl_viz_cairo_steps(ctx, root, &o, fmt, path, frames != NULL, &count) != TL_OK)
      return tlb_error(L);
    lua_pushstring(L, path);
    lua_pushinteger(L, (lua_Integer)count);
    return 2;
  }
  tl_status st = graphviz ? tl_viz_graphviz(ctx, gv_session(L), root, &o,
                                            fmt, path)
                          : tl_viz_cairo(ctx, root, &o, fmt, path);
  if (st != TL_OK) return tlb_error(L);
  return 1;
}

/* e:to_dot([opts]): the text is held in a box while Lua copies it, so a
** memory error raised by the copy frees it too. */
static int viz_to_dot(lua_State *L) {
  tl_node *root = tlb_checkelement(L, 1);
  check_opts(L, 2, "to_dot", to_dot_opts);
  tl_viz_opts o;
  memset(&o, 0, sizeof o);
  opt_model(L, 2, "to_dot", &o);
  void **box = tlb_newbox(L);
  char *text;
  size_t len;
  if (tl_viz_dot(tlb_ctx(L), root, &o, &text, &len) != TL_OK)
    return tlb_error(L);
  *box = text;
  lua_pushlstring(L, text, len);
  free(text);
  *box = NULL;
  return 1;
}

/* {======================================================================
** Plots: plot_line(series, opts), plot_scatter(points, opts) and
** plot_boundary(grid, points, opts), re-exported by lua/torchlet/plot.lua
** as torchlet.plot.line, .scatter and (under decision_boundary) boundary.
** Common opts: title, xlabel, ylabel, width, height (points), file, format.
** Numbers may be given as Elements (their data is plotted).
** ======================================================================= */

/* A number, or an Element's data, at 'i'; else NaN with *ok = 0. */
static double tonum(lua_State *L, int i, int *ok) {
  *ok = 1;
  if (lua_type(L, i) == LUA_TNUMBER) return lua_tonumber(L, i);
  tl_node *n = tlb_toelement(L, i);
  if (n != NULL) return tl_data(n);
  *ok = 0;
  return 0;
}

/* The list at index 'list' as doubles (a Lua-owned array left on the
** stack); 'what' names it in errors about argument 'arg' of 'fname'. */
static double *read_numbers(lua_State *L, int list, int arg, const char *fname,
                            const char *what, size_t *n) {
  *n = tlb_rawlen(L, list, arg, fname);
  double *v = tlb_newscratch(L, *n, sizeof *v, arg, fname);
  for (size_t k = 0; k < *n; k++) {
    int ok;
    lua_rawgeti(L, list, (lua_Integer)k + 1);
    v[k] = tonum(L, -1, &ok);
    if (!ok) {
      const char *got = luaL_typename(L, -1);
      tlb_argerror(L, arg, fname, "%s: number expected at index %s, got %s",
                   what, tlb_pushsize(L, k + 1), got);
    }
    lua_pop(L, 1);
  }
  return v;
}

/* The common plot options at 'i' (checked first against 'allowed':
** title, xlabel, ylabel, width, height, file, format, and any others the
** caller reads). */
static void read_plot_opts(lua_State *L, int i, const char *fname,
                           const char *const *allowed, tl_plot_opts *o) {
  memset(o, 0, sizeof *o);
  check_opts(L, i, fname, allowed);
  o->title = tlb_optstring(L, i, fname, "title", NULL);
  o->xlabel = tlb_optstring(L, i, fname, "xlabel", NULL);
  o->ylabel = tlb_optstring(L, i, fname, "ylabel", NULL);
  o->width = tlb_optnumber(L, i, fname, "width", 0);
  o->height = tlb_optnumber(L, i, fname, "height", 0);
}

/* Reads points {{x, y [, class]}, ...} at 'arg' into 'p' (arrays owned by
** userdata left on the stack). */
static void read_points(lua_State *L, int arg, const char *fname,
                        tl_plot_points *p) {
  size_t n = tlb_checklist(L, arg, fname, "table of points");
  luaL_checkstack(L, 8, NULL);
  double *x = tlb_newscratch(L, n, sizeof(double), arg, fname);
  double *y = tlb_newscratch(L, n, sizeof(double), arg, fname);
  double *c = tlb_newscratch(L, n, sizeof(double), arg, fname);
  int classes = 0;
  for (size_t k = 0; k < n; k++) {
    int ok[3] = {1, 1, 1};
    if (lua_rawgeti(L, arg, (lua_Integer)k + 1) != LUA_TTABLE) {
      const char *got = luaL_typename(L, -1);
      tlb_argerror(L, arg, fname, "point %s: table {x, y [, class]} expected, "
                   "got %s", tlb_pushsize(L, k + 1), got);
    }
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    x[k] = tonum(L, -2, &ok[0]);
    y[k] = tonum(L, -1, &ok[1]);
    if (lua_rawgeti(L, -3, 3) != LUA_TNIL) { c[k] = tonum(L, -1, &ok[2]); classes++; }
    else c[k] = 0;
    if (!ok[0] || !ok[1] || !ok[2])
      tlb_argerror(L, arg, fname, "point %s: numbers expected",
                   tlb_pushsize(L, k + 1));
    lua_pop(L, 4);
  }
  if (classes != 0 && (size_t)classes != n)
    tlb_argerror(L, arg, fname, "give a class to every point or to none");
  *p = (tl_plot_points){x, y, classes ? c : NULL, n};
}

/* plot_line(series, opts): 'series' is a list of numbers (one series), or
** a list of series {y = {...} [, x = {...}] [, name = "..."]}, read raw. */
static int plot_line(lua_State *L) {
  const char *fname = "line";
  tlb_checklist(L, 1, fname, "table of numbers or of series");
  tl_plot_opts o;
  read_plot_opts(L, 2, fname, line_opts, &o);
  o.xlog = tlb_optboolean(L, 2, fname, "xlog", 0);
  o.ylog = tlb_optboolean(L, 2, fname, "ylog", 0);
  tl_viz_format fmt;
  read_output(L, 2, fname, &fmt, "plot", 0);
  int path = lua_gettop(L);
  lua_rawgeti(L, 1, 1);
  int single = lua_type(L, -1) != LUA_TTABLE;   /* numbers (or Elements) */
  lua_pop(L, 1);
  size_t ns = single ? 1 : tlb_rawlen(L, 1, 1, fname);
  if (ns == 0) tlb_argerror(L, 1, fname, "no series to plot");
  tl_plot_series *s = tlb_newscratch(L, ns, sizeof *s, 1, fname);
  if (single) {
    s[0] = (tl_plot_series){NULL, NULL, NULL, 0};
    s[0].y = read_numbers(L, 1, 1, fname, "series", &s[0].n);
  } else
    for (size_t k = 0; k < ns; k++) {
      luaL_checkstack(L, 8, "too many series");   /* 5 slots per series */
      if (lua_rawgeti(L, 1, (lua_Integer)k + 1) != LUA_TTABLE) {
        const char *got = luaL_typename(L, -1);
        tlb_argerror(L, 1, fname, "series %s: table expected, got %s",
                     tlb_pushsize(L, k + 1), got);
      }
      int t = lua_gettop(L);
      s[k] = (tl_plot_series){NULL, NULL, NULL, 0};
      int nt = tlb_getopt(L, t, "name");          /* stays on the stack */
      if (nt == LUA_TSTRING) s[k].name = lua_tostring(L, -1);
      else if (nt != LUA_TNIL)
        tlb_argerror(L, 1, fname, "series %s: field 'name' must be a string",
                     tlb_pushsize(L, k + 1));
      if (tlb_getopt(L, t, "y") != LUA_TTABLE)
        tlb_argerror(L, 1, fname, "series %s: field 'y' (a list of numbers) "
                     "expected", tlb_pushsize(L, k + 1));
      s[k].y = read_numbers(L, lua_gettop(L), 1, fname, "y", &s[k].n);
      if (tlb_getopt(L, t, "x") == LUA_TTABLE) {
        size_t nx;
        s[k].x = read_numbers(L, lua_gettop(L), 1, fname, "x", &nx);
        if (nx != s[k].n)
          tlb_argerror(L, 1, fname, "series %s: %s x values for %s y values",
                       tlb_pushsize(L, k + 1), tlb_pushsize(L, nx),
                       tlb_pushsize(L, s[k].n));
      } else if (!lua_isnil(L, -1))
        tlb_argerror(L, 1, fname, "series %s: field 'x' must be a list of "
                     "numbers", tlb_pushsize(L, k + 1));
      /* the arrays stay referenced from the stack until we return */
    }
  if (tl_plot_line(tlb_ctx(L), s, ns, &o, fmt, lua_tostring(L, path)) != TL_OK)
    return tlb_error(L);
  lua_pushvalue(L, path);
  return 1;
}

/* plot_scatter(points, opts): points {{x, y [, class]}, ...} */
static int plot_scatter(lua_State *L) {
  const char *fname = "scatter";
  tl_plot_points p;
  read_points(L, 1, fname, &p);
  tl_plot_opts o;
  read_plot_opts(L, 2, fname, plot_opts, &o);
  tl_viz_format fmt;
  read_output(L, 2, fname, &fmt, "scatter", 0);
  if (tl_plot_scatter(tlb_ctx(L), &p, &o, fmt, lua_tostring(L, -1)) != TL_OK)
    return tlb_error(L);
  return 1;
}

/* plot_boundary(grid, points, opts): grid {nx=, ny=, x0=, x1=, y0=, y1=,
** z = {row-major scores, row 1 at y0}} (see tl_plot_grid), read raw;
** plot.decision_boundary calls it with options it has checked. */
static int plot_boundary(lua_State *L) {
  const char *fname = "plot_boundary";
  tlb_checklist(L, 1, fname, "grid table");
  tl_plot_grid g;
  const char *keys[6] = {"nx", "ny", "x0", "x1", "y0", "y1"};
  double v[6];
  for (int k = 0; k < 6; k++) {
    if (tlb_getopt(L, 1, keys[k]) != LUA_TNUMBER)
      tlb_argerror(L, 1, fname, "field '%s': number expected", keys[k]);
    v[k] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  if (!(v[0] >= 2 && v[0] <= 4096 && v[1] >= 2 && v[1] <= 4096))
    tlb_argerror(L, 1, fname, "grid of 2x2 to 4096x4096 expected");
  g.nx = (size_t)v[0];
  g.ny = (size_t)v[1];
  g.x0 = v[2]; g.x1 = v[3]; g.y0 = v[4]; g.y1 = v[5];
  if (tlb_getopt(L, 1, "z") != LUA_TTABLE)
    tlb_argerror(L, 1, fname, "field 'z': list of scores expected");
  size_t nz;
  g.z = read_numbers(L, lua_gettop(L), 1, fname, "z", &nz);
  /* nclass: 0 (two classes by the sign of one score) or k planes of scores */
  g.nclass = 0;
  if (tlb_getopt(L, 1, "nclass") != LUA_TNIL) {
    int isint;
    lua_Integer k = lua_tointegerx(L, -1, &isint);
    if (lua_type(L, -1) != LUA_TNUMBER || !isint || k < 2 || k > 10)
      tlb_argerror(L, 1, fname, "field 'nclass': integer from 2 to 10 expected");
    g.nclass = (size_t)k;
  }
  lua_pop(L, 1);
  size_t planes = g.nclass ? g.nclass : 1;
  if (nz != g.nx * g.ny * planes)   /* at most 10 * 4096^2: no overflow */
    tlb_argerror(L, 1, fname, "field 'z': %s scores for %d planes of a %dx%d grid",
                 tlb_pushsize(L, nz), (int)planes, (int)g.nx, (int)g.ny);
  tl_plot_points p;
  read_points(L, 2, fname, &p);
  tl_plot_opts o;
  read_plot_opts(L, 3, fname, plot_opts, &o);
  tl_viz_format fmt;
  read_output(L, 3, fname, &fmt, "decision_boundary", 0);
  if (tl_plot_boundary(tlb_ctx(L), &g, &p, &o, fmt, lua_tostring(L, -1)) != TL_OK)
    return tlb_error(L);
  return 1;
}

/* }====================================================================== */

/* Registers visualize and to_dot in the module table (on top) and in its
** Element_methods table, so both e:visualize() and torchlet.visualize(e)
** work; and the plot functions in the module table. */
void tlb_open_viz(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"visualize", viz_visualize}, {"to_dot", viz_to_dot}, {NULL, NULL}
  };
  static const luaL_Reg plots[] = {
    {"plot_line", plot_line}, {"plot_scatter", plot_scatter},
    {"plot_boundary", plot_boundary}, {NULL, NULL}
  };
  tlb_setfuncs(L, funcs);
  tlb_setfuncs(L, plots);
  tlb_add_element_methods(L, funcs);
}
