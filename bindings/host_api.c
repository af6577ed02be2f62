/*
** host_api.c -- the functions torchlet_lua.h gives C hosts besides
** luaopen_torchlet_core: arrays pushed from and read into C buffers.
**
** A host calls them from plain C, with no upvalues and often outside any
** protected call, so each runs its body as a closure with the module's two
** upvalues (rebuilt from the registry) under lua_pcall: an error of any
** kind, memory included, comes back as a status and a message instead of
** a panic.  A light C function (lua_pushcfunction) allocates nothing on
** Lua 5.2 and later, so nothing before the pcall can raise.
*/
#include <string.h>

#include "tlb.h"
#include "torchlet_lua.h"

#if TORCHLET_LUA_MAX_DIMS != TL_MAX_DIMS
#error "TORCHLET_LUA_MAX_DIMS must equal TL_MAX_DIMS"
#endif

typedef struct push_args {
  size_t ndim;
  const size_t *shape;
  const double *data;
} push_args;

typedef struct to_args {
  int idx;                 /* absolute, for messages */
  int none;                /* nothing at idx (past the top) */
  size_t *ndim, *shape;
  double *data;
  size_t len;
} to_args;

/* Pushes "FNAME: ... got TYPE" for the value at 'i' and raises it. */
static int not_element(lua_State *L, int i, const char *fname, int idx) {
  const char *got;
  if (luaL_getmetafield(L, i, "__name") == LUA_TSTRING) got = lua_tostring(L, -1);
  else got = luaL_typename(L, i);
  return luaL_error(L, "%s: Element expected at stack index %d, got %s",
                    fname, idx, got);
}

/* Upvalues as tlb_setfuncs gives them; argument 1 the light userdata of
** the arguments, argument 2 (tlb_to_array) the value read. */
static int push_array_body(lua_State *L) {
  const push_args *a = lua_touserdata(L, 1);
  tl_ctx *ctx = tlb_ctx(L);
  tlb_element *h = tlb_newhandle(L);   /* before the node: see tlb.h */
  tl_node *n = tl_array(ctx, a->ndim, a->shape, a->data);
  if (n == NULL) return luaL_error(L, "tlb_push_array: %s", tl_ctx_error(ctx));
  tlb_sethandle(L, h, n);
  return 1;
}

static int to_array_body(lua_State *L) {
  const to_args *a = lua_touserdata(L, 1);
  tlb_element *h = tlb_tohandle(L, 2);
  if (a->none)
    return luaL_error(L, "tlb_to_array: Element expected at stack index %d, "
                      "got no value", a->idx);
  if (h == NULL) return not_element(L, 2, "tlb_to_array", a->idx);
  if (h->node == NULL)
    return luaL_error(L, "tlb_to_array: the Element at stack index %d was "
                      "collected", a->idx);
  tlb_ctx(L);                          /* a closing state has freed its nodes */
  tl_node *n = h->node;
  size_t ndim = tl_ndim(n), size = tl_size(n);
  if (a->data != NULL && a->len < size)
    return luaL_error(L, "tlb_to_array: the buffer holds %s values, the "
                      "Element has %s", tlb_pushsize(L, a->len),
                      tlb_pushsize(L, size));
  if (a->ndim != NULL) *a->ndim = ndim;
  if (a->shape != NULL)
    for (size_t d = 0; d < ndim; d++) a->shape[d] = tl_dim(n, d);
  if (a->data != NULL) tl_read_values(n, a->data);
  return 0;
}

/* What entry runs: 'body' with the module's two upvalues and 'args'. */
typedef struct host_call {
  lua_CFunction body;
  void *args;
} host_call;

/* Under lua_pcall: argument 1 the host_call, argument 2 (if any) the value
** handed on to the body. */
static int entry(lua_State *L) {
  const host_call *c = lua_touserdata(L, 1);
  int base = lua_gettop(L), nargs = base - 1;
  if (lua_getfield(L, LUA_REGISTRYINDEX, TLB_STATE_KEY) != LUA_TUSERDATA ||
      lua_getfield(L, LUA_REGISTRYINDEX, TLB_ELEMENT) != LUA_TTABLE)
    return luaL_error(L, "torchlet: torchlet.core is not open in this "
                      "lua_State (open it with luaopen_torchlet_core first)");
  lua_pushcclosure(L, c->body, TLB_NUPVALUES);
  lua_pushlightuserdata(L, c->args);
  if (nargs > 0) lua_pushvalue(L, 2);
  lua_call(L, 1 + nargs, LUA_MULTRET);
  return lua_gettop(L) - base;
}

/* Runs 'body' with 'args' and, if 'value' is not 0, the value at that
** (absolute) stack index; returns lua_pcall's status, with 'nres' results
** or the message pushed.  Needs 3 free stack slots, as Lua's own calls
** need theirs (lua_checkstack). */
static int run_protected(lua_State *L, lua_CFunction body, void *args,
                         int value, int nres) {
  host_call c = { body, args };
  lua_pushcfunction(L, entry);
  lua_pushlightuserdata(L, &c);
  if (value != 0) lua_pushvalue(L, value);
  return lua_pcall(L, value != 0 ? 2 : 1, nres, 0);
}

int tlb_push_array(lua_State *L, size_t ndim, const size_t *shape,
                   const double *data) {
  push_args a = { ndim, shape, data };
  return run_protected(L, push_array_body, &a, 0, 1);
}

int tlb_to_array(lua_State *L, int idx, size_t *ndim, size_t *shape,
                 double *data, size_t len) {
  idx = lua_absindex(L, idx);
  to_args a = { idx, lua_type(L, idx) == LUA_TNONE, ndim, shape, data, len };
  return run_protected(L, to_array_body, &a, idx, 0);
}
