/*
** compile.c -- the C half of torchlet.compile (lua/torchlet/compile.lua):
** module._compile.begin/abort/finish record a step around the Lua
** function, and the Graph userdata replays it (core/tl_compile.h).
**
**   begin(...)            starts a capture; returns a fresh leaf copy of
**                         each Element argument (the recorded inputs, which
**                         later calls overwrite: never the caller's own)
**   abort()               ends a failed recording
**   finish(out, ...)      ends it, capturing out's graph over the inputs
**   g:replay(...)         copies new inputs into the recorded ones, checked
**                         (count, Element, shape, dtype), replays forward
**   g:diff(other)         nil, or the first difference of two recordings
**   g:free()              releases the graph now (a check's recording)
**   g:nodes()             nodes in the graph
*/
#include <stdio.h>
#include <string.h>

#include "tlb.h"
#include "../core/tl_compile.h"

#define TLB_GRAPH "torchlet.Graph"
#define FNAME "compiled step"

typedef struct tlb_graph {
  tl_graph *g;          /* NULL once freed */
} tlb_graph;

static tlb_graph *tograph(lua_State *L, const char *fname) {
  tlb_graph *h = tlb_testudata(L, 1, TLB_GRAPH, sizeof *h);
  if (h == NULL) tlb_typeerror(L, 1, fname, "Graph");
  else if (h->g == NULL) luaL_error(L, "%s: graph used after it was freed", fname);
  return h;
}

static const char *shape_text(lua_State *L, tl_node *n) {
  size_t nd = tl_ndim(n);
  if (nd == 0) { lua_pushliteral(L, "scalar"); return lua_tostring(L, -1); }
  char buf[16 * 8 + 4];
  size_t at = 0;
  buf[at++] = '(';
  for (size_t d = 0; d < nd && at < sizeof buf - 24; d++)
    at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%zu", d ? ", " : "",
                           tl_dim(n, d));
  snprintf(buf + at, sizeof buf - at, ")");
  lua_pushstring(L, buf);
  return lua_tostring(L, -1);
}

static void refuse_nested(lua_State *L, tl_ctx *ctx) {
  if (tl_capturing(ctx))
    luaL_error(L, "%s: called while another compiled step is being recorded "
               "(compiled steps do not nest)", FNAME);
}

/* The registry's set of the recording's input copies (their nodes as
** light userdata), while a step is recorded: losses ask about it. */
#define TLB_CAPTURE_INPUTS "torchlet.capture_inputs"

static void set_inputs(lua_State *L, int first, int n) {
  if (n < 0) lua_pushnil(L);
  else {
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
      lua_pushlightuserdata(L, tlb_toelement(L, first + i));
      lua_pushboolean(L, 1);
      lua_rawset(L, -3);
    }
  }
  lua_setfield(L, LUA_REGISTRYINDEX, TLB_CAPTURE_INPUTS);
}

int tlb_varies_in_capture(lua_State *L, tl_node *n) {
  if (!tl_capturing(tlb_ctx(L))) return 0;
  if (tl_ninputs(n) > 0) return 1;            /* recomputed by every replay */
  if (lua_getfield(L, LUA_REGISTRYINDEX, TLB_CAPTURE_INPUTS) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushlightuserdata(L, n);
  int input = lua_rawget(L, -2) != LUA_TNIL;
  lua_pop(L, 2);
  return input;
}

/* begin(...) -> copies of the Element arguments */
static int compile_begin(lua_State *L) {
  tl_ctx *ctx = tlb_ctx(L);
  refuse_nested(L, ctx);
  int n = lua_gettop(L);
  for (int i = 1; i <= n; i++)
    if (tlb_toelement(L, i) == NULL) tlb_typeerror(L, i, FNAME, "Element");
  luaL_checkstack(L, n + 2, FNAME);
  for (int i = 1; i <= n; i++) {
    tl_node *x = tlb_toelement(L, i);
    tlb_element *h = tlb_newhandle(L);
    tl_node *c = tl_detach(ctx, x);
    if (c != NULL && tl_set_requires_grad(ctx, c, tl_requires_grad(x)) != TL_OK) {
      tl_release(ctx, c);
      c = NULL;
    }
    if (c != NULL && tl_label(x) != NULL) tl_set_label(ctx, c, tl_label(x));
    tlb_sethandle(L, h, c);
  }
  set_inputs(L, n + 1, n);
  tl_capture_begin(ctx);
  return n;
}

static int compile_abort(lua_State *L) {
  set_inputs(L, 0, -1);
  tl_capture_abort(tlb_ctx(L));
  return 0;
}

/* finish(out, inputs...) -> Graph */
static int compile_finish(lua_State *L) {
  tl_ctx *ctx = tlb_ctx(L);
  set_inputs(L, 0, -1);
  tl_node *out = tlb_toelement(L, 1);
  int n = lua_gettop(L) - 1;
  if (out == NULL) {
    tl_capture_abort(ctx);
    return tlb_typeerror(L, 1, FNAME, "the function to return an Element");
  }
  tl_node **in = tlb_newscratch(L, (size_t)(n ? n : 1), sizeof *in, 1, FNAME);
  for (int i = 0; i < n; i++) in[i] = tlb_toelement(L, i + 2);
  tlb_graph *h = tlb_newudata(L, sizeof *h);
  h->g = NULL;
  tlb_setclass(L, TLB_GRAPH, sizeof *h);
  h->g = tl_capture_end(ctx, out, (size_t)n, in);
  if (h->g == NULL) return tlb_error(L);
  return 1;
}

/* g:replay(...): the arguments into the recorded inputs, then forward */
static int graph_replay(lua_State *L) {
  tlb_graph *h = tograph(L, FNAME);
  tl_ctx *ctx = tlb_ctx(L);
  refuse_nested(L, ctx);
  size_t n = (size_t)lua_gettop(L) - 1, want = tl_graph_ninputs(h->g);
  if (n != want)
    return luaL_error(L, "%s: %s arguments given, %s recorded", FNAME,
                      tlb_pushsize(L, n), tlb_pushsize(L, want));
  for (size_t i = 0; i < n; i++) {          /* check all, then copy */
    int arg = (int)i + 2;
    tl_node *x = tlb_toelement(L, arg), *r = tl_graph_input(h->g, i);
    if (x == NULL)
      return tlb_argerror(L, arg - 1, FNAME, "Element expected, got %s",
                          luaL_typename(L, arg));
    int same = tl_ndim(x) == tl_ndim(r);
    for (size_t d = 0; same && d < tl_ndim(x); d++) same = tl_dim(x, d) == tl_dim(r, d);
    if (!same)
      return tlb_argerror(L, arg - 1, FNAME, "shape %s given, %s recorded",
                          shape_text(L, x), shape_text(L, r));
    if (tl_dtype_of(x) != tl_dtype_of(r))
      return tlb_argerror(L, arg - 1, FNAME, "dtype %s given, %s recorded",
                          tl_dtype_name(tl_dtype_of(x)), tl_dtype_name(tl_dtype_of(r)));
  }
  for (size_t i = 0; i < n; i++) {
    tl_node *x = tlb_toelement(L, (int)i + 2), *r = tl_graph_input(h->g, i);
    if (x == r) continue;
    if (tl_dtype_of(r) == TL_FLOAT32)
      memcpy(tl_values_f32(r), tl_values_f32(x), tl_size(r) * sizeof(float));
    else
      memcpy(tl_values(r), tl_values(x), tl_size(r) * sizeof(double));
  }
  if (tl_graph_forward(ctx, h->g) != TL_OK) return tlb_error(L);
  return 0;
}

static int graph_diff(lua_State *L) {
  tlb_graph *h = tograph(L, "diff");
  tlb_graph *o = tlb_testudata(L, 2, TLB_GRAPH, sizeof *o);
  if (o == NULL || o->g == NULL) return tlb_typeerror(L, 2, "diff", "Graph");
  char buf[256];
  const char *d = tl_graph_diff(h->g, o->g, buf, sizeof buf);
  if (d == NULL) lua_pushnil(L);
  else lua_pushstring(L, d);
  return 1;
}

static int graph_nodes(lua_State *L) {
  size_t count;
  tl_graph_nodes(tograph(L, "nodes")->g, &count);
  lua_pushinteger(L, (lua_Integer)count);
  return 1;
}

static int graph_free(lua_State *L) {
  tlb_graph *h = tograph(L, "free");
  tl_graph *g = h->g;
  h->g = NULL;
  tl_graph_free(tlb_ctx(L), g);
  return 0;
}

/* A context freed first (the state closing) has freed the graph too. */
static int graph_gc(lua_State *L) {
  tlb_graph *h = tlb_testudata(L, 1, TLB_GRAPH, sizeof *h);
  tl_ctx *ctx = tlb_ctx_or_null(L);
  if (h != NULL && h->g != NULL && ctx != NULL) tl_graph_free(ctx, h->g);
  if (h != NULL) h->g = NULL;
  return 0;
}

void tlb_open_compile(lua_State *L) {
  static const luaL_Reg meta[] = {{"__gc", graph_gc}, {NULL, NULL}};
  static const luaL_Reg methods[] = {
    {"replay", graph_replay}, {"diff", graph_diff}, {"nodes", graph_nodes},
    {"free", graph_free}, {NULL, NULL}
  };
  tlb_newclass(L, TLB_GRAPH, meta, methods, NULL);
  lua_pop(L, 1);
  static const luaL_Reg funcs[] = {
    {"begin", compile_begin}, {"abort", compile_abort},
    {"finish", compile_finish}, {NULL, NULL}
  };
  lua_newtable(L);
  tlb_setfuncs(L, funcs);
  lua_setfield(L, -2, "_compile");
}
