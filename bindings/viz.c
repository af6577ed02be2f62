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
#include "../core/tl_viz.h"

/* A string field of the opts table at 'i', or NULL if absent. */
static const char *opt_string(lua_State *L, int i, const char *key) {
  int t = lua_getfield(L, i, key);
  const char *s = NULL;
  if (t == LUA_TSTRING) s = lua_tostring(L, -1);
  else if (t != LUA_TNIL) {
    lua_pushfstring(L, "field '%s': string expected, got %s", key,
                    luaL_typename(L, -1));
    luaL_argerror(L, i, lua_tostring(L, -1));
  }
  lua_pop(L, 1);    /* the string stays alive: the opts table holds it */
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
  size_t n = (size_t)luaL_len(L, list);
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

/* The options table at 'i' (nil allowed) into 'o', the format into *fmt
** and the file name (default built from 'base') pushed on the stack. */
static void read_opts(lua_State *L, int i, tl_viz_opts *o, tl_viz_format *fmt,
                      const char *base, int graphviz) {
  tl_ctx *ctx = tlb_ctx(L);
  const char *file = NULL, *format = NULL;
  memset(o, 0, sizeof *o);
  int t = lua_type(L, i);
  if (t == LUA_TTABLE) {
    file = opt_string(L, i, "file");
    format = opt_string(L, i, "format");
    o->max_nodes = opt_max_nodes(L, i);
    opt_params(L, i, o);
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
  if (!graphviz && *fmt == TL_VIZ_DOT)
    luaL_argerror(L, i, "format 'dot' is for the graphviz method (cairo "
                  "draws png, svg or pdf)");
  if (file != NULL) lua_pushstring(L, file);
  else lua_pushfstring(L, "%s.%s", base, tl_viz_format_name(*fmt));
}

/* {======================================================================
** The graphviz session of this lua_State: made on first use, kept in the
** registry, freed by its __gc at lua_close (see tl_gv in tl_viz.h).
** ======================================================================= */

#define TLB_GV_KEY "torchlet.gvsession"

static int gv_gc(lua_State *L) {
  tl_gv **gv = lua_touserdata(L, 1);
  tl_gv_free(*gv);
  *gv = NULL;
  return 0;
}

static tl_gv *gv_session(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, TLB_GV_KEY) == LUA_TUSERDATA) {
    tl_gv *gv = *(tl_gv **)lua_touserdata(L, -1);
    lua_pop(L, 1);
    return gv;
  }
  lua_pop(L, 1);
  tl_gv **box = lua_newuserdatauv(L, sizeof *box, 0);  /* born empty */
  *box = NULL;
  luaL_newmetatable(L, TLB_GV_KEY);
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

/* Registers visualize and to_dot in the module table (on top) and in its
** Element_methods table, so both e:visualize() and torchlet.visualize(e)
** work. */
void tlb_open_viz(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"visualize", viz_visualize}, {"to_dot", viz_to_dot}, {NULL, NULL}
  };
  tlb_setfuncs(L, funcs);
  if (lua_getfield(L, -1, "Element_methods") == LUA_TTABLE)
    tlb_setfuncs(L, funcs);
  lua_pop(L, 1);
}
