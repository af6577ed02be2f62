/*
** viz.c -- Lua side of the graph views: e:visualize(method, opts) and
** e:to_dot().  Both are Element methods and module functions.
**
**   e:visualize([method [, opts]]) -> path
**     method   "cairo" (the default, also for nil) or "graphviz"
**     opts.file       where to write; the format comes from its extension
**     opts.format     "png", "svg", "pdf" ("dot" too for graphviz); wins
**                     over the extension
**     opts.max_nodes  largest graph drawn (default 1000 for graphviz, 2000
**                     for cairo); bigger graphs raise an error
**     opts.params     a list of Elements drawn as parameters (cairo)
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
#include "tlb_args.h"
#include "../core/tl_plot.h"
#include "../core/tl_viz.h"

/* A string field of the opts table at 'i', or NULL if absent.  The string
** is left on the stack (an __index could have made it: only the stack
** keeps it alive). */
static const char *opt_string(lua_State *L, int i, const char *key) {
  luaL_checkstack(L, 4, NULL);
  int t = lua_getfield(L, i, key);
  const char *s = NULL;
  if (t == LUA_TSTRING) s = lua_tostring(L, -1);
  else if (t != LUA_TNIL) {
    lua_pushfstring(L, "field '%s': string expected, got %s", key,
                    luaL_typename(L, -1));
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
  return s;
}

/* max_nodes: a positive integer, or 0 when absent. */
static size_t opt_max_nodes(lua_State *L, int i) {
  int t = lua_getfield(L, i, "max_nodes");
  size_t n = 0;
  if (t != LUA_TNIL) {
    int isint;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    if (t != LUA_TNUMBER || !isint || v < 1)
      luaL_argerror(L, i, "field 'max_nodes': positive integer expected");
    n = (size_t)v;
  }
  lua_pop(L, 1);
  return n;
}

/* opts.params: fills o->params with a Lua-owned array (a userdata left on
** the stack, so an error on the way frees it). */
static void opt_params(lua_State *L, int i, tl_viz_opts *o) {
  int t = lua_getfield(L, i, "params");
  if (t == LUA_TNIL) { lua_pop(L, 1); return; }
  if (t != LUA_TTABLE)
    luaL_argerror(L, i, "field 'params': table of Elements expected");
  int list = lua_gettop(L);
  size_t n = tlb_rawlen(L, list, i, "visualize");
  tl_node **params = lua_newuserdatauv(L, (n ? n : 1) * sizeof *params, 0);
  for (size_t k = 0; k < n; k++) {
    lua_geti(L, list, (lua_Integer)k + 1);
    params[k] = tlb_toelement(L, -1);
    if (params[k] == NULL)
      luaL_argerror(L, i, lua_pushfstring(L, "field 'params': Element "
                    "expected at index %d", (int)k + 1));
    lua_pop(L, 1);
  }
  o->params = params;
  o->nparams = n;
}

/* Reads opts.file and opts.format of the options at 'i' (a table, or nil
** or none) into *fmt and pushes the path: opts.file, or 'base' with the
** format's extension.  The format is opts.format, else the file's
** extension, else png. */
/* allow_dot: 1 yes, -1 no (cairo view), 0 no (plots). */
static void read_output(lua_State *L, int i, tl_viz_format *fmt,
                        const char *base, int allow_dot) {
  tl_ctx *ctx = tlb_ctx(L);
  const char *file = NULL, *format = NULL;
  int t = lua_type(L, i);
  if (t == LUA_TTABLE) {
    file = opt_string(L, i, "file");
    if (file != NULL) tlb_tofilename(L, -1, i, NULL, "field 'file'");
    format = opt_string(L, i, "format");
  } else if (t != LUA_TNIL && t != LUA_TNONE)
    luaL_typeerror(L, i, "table or nil");
  *fmt = TL_VIZ_PNG;
  if (format != NULL) {
    if (tl_viz_format_parse(ctx, format, fmt) != TL_OK)
      luaL_argerror(L, i, lua_pushfstring(L, "field 'format': %s",
                                          tl_ctx_error(ctx)));
  } else if (file != NULL && tl_viz_format_of_path(ctx, file, fmt) != TL_OK)
    luaL_argerror(L, i, lua_pushfstring(L, "field 'file': %s",
                                        tl_ctx_error(ctx)));
  if (allow_dot <= 0 && *fmt == TL_VIZ_DOT)
    luaL_argerror(L, i, allow_dot < 0 ? "format 'dot' is for the graphviz "
                  "method (cairo draws png, svg or pdf)"
                  : "format 'dot' is not a plot format (png, svg or pdf)");
  if (file != NULL) lua_pushstring(L, file);
  else lua_pushfstring(L, "%s.%s", base, tl_viz_format_name(*fmt));
}

/* The options of visualize at 'i' into 'o' and *fmt; pushes the path. */
static void read_opts(lua_State *L, int i, tl_viz_opts *o, tl_viz_format *fmt,
                      const char *base, int graphviz) {
  memset(o, 0, sizeof *o);
  if (lua_type(L, i) == LUA_TTABLE) {
    o->max_nodes = opt_max_nodes(L, i);
    opt_params(L, i, o);
  }
  read_output(L, i, fmt, base, graphviz ? 1 : -1);
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
  tl_gv **box = lua_newuserdatauv(L, sizeof *box, 0);  /* born empty */
  *box = NULL;
  luaL_newmetatable(L, TLB_GV_META);
  lua_pushcfunction(L, gv_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  *box = tl_gv_new(tlb_ctx(L));
  if (*box == NULL) tlb_error(L);
  lua_setfield(L, LUA_REGISTRYINDEX, TLB_GV_KEY);
  return *box;
}

/* }====================================================================== */

static int viz_visualize(lua_State *L) {
  tl_node *root = tlb_checkelement(L, 1);
  int t = lua_type(L, 2);
  const char *method = "cairo";
  if (t == LUA_TSTRING) method = lua_tostring(L, 2);
  else if (t != LUA_TNIL && t != LUA_TNONE) luaL_typeerror(L, 2, "string or nil");
  int graphviz = strcmp(method, "graphviz") == 0;
  if (!graphviz && strcmp(method, "cairo") != 0)
    luaL_argerror(L, 2, lua_pushfstring(L, "unknown method '%s' (\"cairo\" "
                  "or \"graphviz\" expected)", method));
  tl_viz_opts o;
  tl_viz_format fmt;
  read_opts(L, 3, &o, &fmt, graphviz ? "Digraph.gv" : "graph", graphviz);
  const char *path = lua_tostring(L, -1);
  tl_ctx *ctx = tlb_ctx(L);
  tl_status st = graphviz ? tl_viz_graphviz(ctx, gv_session(L), root, &o,
                                            fmt, path)
                          : tl_viz_cairo(ctx, root, &o, fmt, path);
  if (st != TL_OK) return tlb_error(L);
  return 1;
}

static int viz_to_dot(lua_State *L) {
  tl_node *root = tlb_checkelement(L, 1);
  char *text;
  size_t len;
  if (tl_viz_dot(tlb_ctx(L), root, NULL, &text, &len) != TL_OK)
    return tlb_error(L);
  /* (only a memory error raised by lua_pushlstring could leak 'text') */
  lua_pushlstring(L, text, len);
  free(text);
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

/* A Lua-owned array of 'n' doubles (a userdata left on the stack). */
static double *new_doubles(lua_State *L, size_t n) {
  return lua_newuserdatauv(L, (n ? n : 1) * sizeof(double), 0);
}

/* The list at index 'list' as doubles; 'what' names it in errors about
** argument 'arg'.  Leaves the array's userdata on the stack. */
static double *read_numbers(lua_State *L, int list, int arg, const char *what,
                            size_t *n) {
  *n = tlb_rawlen(L, list, arg, "plot");
  double *v = new_doubles(L, *n);
  for (size_t k = 0; k < *n; k++) {
    int ok;
    lua_geti(L, list, (lua_Integer)k + 1);
    v[k] = tonum(L, -1, &ok);
    if (!ok)
      luaL_argerror(L, arg, lua_pushfstring(L, "%s: number expected at index "
                    "%d, got %s", what, (int)k + 1, luaL_typename(L, -1)));
    lua_pop(L, 1);
  }
  return v;
}

static void read_plot_opts(lua_State *L, int i, tl_plot_opts *o) {
  memset(o, 0, sizeof *o);
  if (lua_type(L, i) != LUA_TTABLE) return;   /* read_output checks it */
  o->title = opt_string(L, i, "title");
  o->xlabel = opt_string(L, i, "xlabel");
  o->ylabel = opt_string(L, i, "ylabel");
  const char *keys[2] = {"width", "height"};
  double *dst[2] = {&o->width, &o->height};
  for (int k = 0; k < 2; k++) {
    int t = lua_getfield(L, i, keys[k]);
    if (t == LUA_TNUMBER) *dst[k] = lua_tonumber(L, -1);
    else if (t != LUA_TNIL)
      luaL_argerror(L, i, lua_pushfstring(L, "field '%s': number expected, "
                    "got %s", keys[k], luaL_typename(L, -1)));
    lua_pop(L, 1);
  }
}

/* Reads points {{x, y [, class]}, ...} at 'arg' into 'p' (arrays owned by
** userdata left on the stack). */
static void read_points(lua_State *L, int arg, tl_plot_points *p) {
  luaL_checktype(L, arg, LUA_TTABLE);
  luaL_checkstack(L, 8, NULL);
  size_t n = tlb_rawlen(L, arg, arg, "plot");
  double *x = new_doubles(L, n), *y = new_doubles(L, n), *c = new_doubles(L, n);
  int classes = 0;
  for (size_t k = 0; k < n; k++) {
    int ok[3] = {1, 1, 1};
    if (lua_geti(L, arg, (lua_Integer)k + 1) != LUA_TTABLE)
      luaL_argerror(L, arg, lua_pushfstring(L, "point %d: table {x, y [, class]} "
                    "expected, got %s", (int)k + 1, luaL_typename(L, -1)));
    lua_geti(L, -1, 1);
    lua_geti(L, -2, 2);
    x[k] = tonum(L, -2, &ok[0]);
    y[k] = tonum(L, -1, &ok[1]);
    if (lua_geti(L, -3, 3) != LUA_TNIL) { c[k] = tonum(L, -1, &ok[2]); classes++; }
    else c[k] = 0;
    if (!ok[0] || !ok[1] || !ok[2])
      luaL_argerror(L, arg, lua_pushfstring(L, "point %d: numbers expected",
                    (int)k + 1));
    lua_pop(L, 4);
  }
  if (classes != 0 && (size_t)classes != n)
    luaL_argerror(L, arg, "give a class to every point or to none");
  *p = (tl_plot_points){x, y, classes ? c : NULL, n};
}

/* plot_line(series, opts): 'series' is a list of numbers (one series), or
** a list of series {y = {...} [, x = {...}] [, name = "..."]}. */
static int plot_line(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  tl_plot_opts o;
  read_plot_opts(L, 2, &o);
  tl_viz_format fmt;
  read_output(L, 2, &fmt, "plot", 0);
  int path = lua_gettop(L);
  lua_geti(L, 1, 1);
  int single = lua_type(L, -1) != LUA_TTABLE;   /* numbers (or Elements) */
  lua_pop(L, 1);
  size_t ns = single ? 1 : tlb_rawlen(L, 1, 1, "plot.line");
  if (ns == 0) luaL_argerror(L, 1, "no series to plot");
  tl_plot_series *s = lua_newuserdatauv(L, ns * sizeof *s, 0);
  if (single) {
    s[0] = (tl_plot_series){NULL, NULL, NULL, 0};
    s[0].y = read_numbers(L, 1, 1, "series", &s[0].n);
  } else
    for (size_t k = 0; k < ns; k++) {
      luaL_checkstack(L, 8, "too many series");   /* 5 slots per series */
      if (lua_geti(L, 1, (lua_Integer)k + 1) != LUA_TTABLE)
        luaL_argerror(L, 1, lua_pushfstring(L, "series %d: table expected, "
                      "got %s", (int)k + 1, luaL_typename(L, -1)));
      int t = lua_gettop(L);
      s[k] = (tl_plot_series){NULL, NULL, NULL, 0};
      s[k].name = opt_string(L, t, "name");
      if (lua_getfield(L, t, "y") != LUA_TTABLE)
        luaL_argerror(L, 1, lua_pushfstring(L, "series %d: field 'y' (a list "
                      "of numbers) expected", (int)k + 1));
      s[k].y = read_numbers(L, lua_gettop(L), 1, "y", &s[k].n);
      if (lua_getfield(L, t, "x") == LUA_TTABLE) {
        size_t nx;
        s[k].x = read_numbers(L, lua_gettop(L), 1, "x", &nx);
        if (nx != s[k].n)
          luaL_argerror(L, 1, lua_pushfstring(L, "series %d: %d x values for "
                        "%d y values", (int)k + 1, (int)nx, (int)s[k].n));
      } else if (!lua_isnil(L, -1))
        luaL_argerror(L, 1, lua_pushfstring(L, "series %d: field 'x' must be "
                      "a list of numbers", (int)k + 1));
      /* the arrays stay referenced from the stack until we return */
    }
  if (tl_plot_line(tlb_ctx(L), s, ns, &o, fmt, lua_tostring(L, path)) != TL_OK)
    return tlb_error(L);
  lua_pushvalue(L, path);
  return 1;
}

/* plot_scatter(points, opts): points {{x, y [, class]}, ...} */
static int plot_scatter(lua_State *L) {
  tl_plot_points p;
  read_points(L, 1, &p);
  tl_plot_opts o;
  read_plot_opts(L, 2, &o);
  tl_viz_format fmt;
  read_output(L, 2, &fmt, "scatter", 0);
  if (tl_plot_scatter(tlb_ctx(L), &p, &o, fmt, lua_tostring(L, -1)) != TL_OK)
    return tlb_error(L);
  return 1;
}

/* plot_boundary(grid, points, opts): grid {nx=, ny=, x0=, x1=, y0=, y1=,
** z = {row-major scores, row 1 at y0}} (see tl_plot_grid). */
static int plot_boundary(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  tl_plot_grid g;
  const char *keys[6] = {"nx", "ny", "x0", "x1", "y0", "y1"};
  double v[6];
  for (int k = 0; k < 6; k++) {
    if (lua_getfield(L, 1, keys[k]) != LUA_TNUMBER)
      luaL_argerror(L, 1, lua_pushfstring(L, "field '%s': number expected",
                    keys[k]));
    v[k] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  if (!(v[0] >= 2 && v[0] <= 4096 && v[1] >= 2 && v[1] <= 4096))
    luaL_argerror(L, 1, "grid of 2x2 to 4096x4096 expected");
  g.nx = (size_t)v[0];
  g.ny = (size_t)v[1];
  g.x0 = v[2]; g.x1 = v[3]; g.y0 = v[4]; g.y1 = v[5];
  if (lua_getfield(L, 1, "z") != LUA_TTABLE)
    luaL_argerror(L, 1, "field 'z': list of scores expected");
  size_t nz;
  g.z = read_numbers(L, lua_gettop(L), 1, "z", &nz);
  if (nz != g.nx * g.ny)
    luaL_argerror(L, 1, lua_pushfstring(L, "field 'z': %d scores for a %dx%d "
                  "grid", (int)nz, (int)g.nx, (int)g.ny));
  tl_plot_points p;
  read_points(L, 2, &p);
  tl_plot_opts o;
  read_plot_opts(L, 3, &o);
  tl_viz_format fmt;
  read_output(L, 3, &fmt, "decision_boundary", 0);
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
  if (lua_getfield(L, -1, "Element_methods") == LUA_TTABLE)
    tlb_setfuncs(L, funcs);
  lua_pop(L, 1);
}
