/*
** module.c -- luaopen_torchlet_core: one context per lua_State, the module
** table, and the functions that act on the context (no_grad, seeding).
*/
#include <string.h>

#include "tlb.h"

/* The state's metatable is registered under its __name; the state itself
** under TLB_STATE_KEY (tlb.h). */
#define TLB_STATE_META "torchlet.state"

/* Lua calls this at lua_close, after every Element's; a script with the
** debug library can call it any time, on anything.  Once it has run, every
** binding raises "the Lua state is closing" (tlb_ctx) before it touches a
** node, model or optimizer, so a call by hand ends Torchlet in this state
** but reads nothing freed. */
static int state_gc(lua_State *L) {
  tlb_state *s = tlb_testudata(L, 1, TLB_STATE_META, sizeof *s);
  if (s == NULL) return 0;
  tl_ctx_free(s->ctx);
  s->ctx = NULL;
  return 0;
}

/* The state of this lua_State, made on first use and kept in the registry,
** so that loading the module twice shares one context (nodes of two
** contexts must never meet in one graph).  Made before any Element, its
** finalizer runs after theirs at lua_close (Lua finalizes in reverse order
** of marking). */
static void push_state(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, TLB_STATE_KEY) != LUA_TNIL) return;
  lua_pop(L, 1);
  tlb_state *s = tlb_newudata(L, sizeof *s);
  s->ctx = NULL;
  s->seen = s->live_after = 0;
  s->pace = 1;
  s->default_dtype = TL_FLOAT64;
  s->L = L;
  s->dead = NULL;
  luaL_newmetatable(L, TLB_STATE_META);          /* sets __name */
  lua_pushcfunction(L, state_gc);
  lua_setfield(L, -2, "__gc");
  tlb_setmetatable(L, sizeof *s);
  s->ctx = tl_ctx_new();
  if (s->ctx == NULL) luaL_error(L, "torchlet: out of memory creating a context");
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, TLB_STATE_KEY);
}

/* no_grad(fn, ...): calls fn(...) with graph recording off and returns
** its results; recording is restored even if fn raises. */
static int module_no_grad(lua_State *L) {
  /* named here, not by luaL_checktype: LuaJIT knows no name for a function
  ** called in tail position (return torchlet.no_grad(f)) and says '?' */
  if (lua_type(L, 1) != LUA_TFUNCTION) return tlb_typeerror(L, 1, "no_grad", "function");
  tl_ctx *ctx = tlb_ctx(L);
  int nargs = lua_gettop(L) - 1;      /* results replace fn and its args */
  int old = tl_set_grad_enabled(ctx, 0);
  int status = lua_pcall(L, nargs, LUA_MULTRET, 0);
  tl_set_grad_enabled(ctx, old);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

static int module_is_grad_enabled(lua_State *L) {
  lua_pushboolean(L, tl_is_grad_enabled(tlb_ctx(L)));
  return 1;
}

/* set_grad_enabled(flag) -> previous flag */
static int module_set_grad_enabled(lua_State *L) {
  if (lua_type(L, 1) != LUA_TBOOLEAN) return tlb_typeerror(L, 1, "set_grad_enabled", "boolean");
  lua_pushboolean(L, tl_set_grad_enabled(tlb_ctx(L), lua_toboolean(L, 1)));
  return 1;
}

/* check_numerics(flag) -> previous flag */
static int module_check_numerics(lua_State *L) {
  if (lua_type(L, 1) != LUA_TBOOLEAN) return tlb_typeerror(L, 1, "check_numerics", "boolean");
  lua_pushboolean(L, tl_set_check_numerics(tlb_ctx(L), lua_toboolean(L, 1)));
  return 1;
}

/* manual_seed(n): n an integer (floats with an integral value accepted;
** strings are not, as everywhere in Torchlet). */
static int module_manual_seed(lua_State *L) {
  int isint = 0;
  lua_Integer seed = lua_type(L, 1) == LUA_TNUMBER ? lua_tointegerx(L, 1, &isint) : 0;
  if (!isint) return tlb_typeerror(L, 1, "manual_seed", "integer");
  tl_rng_seed(tlb_ctx(L), (uint64_t)seed);
  return 0;
}

/* {======================================================================
** Generator(seed): a random generator of its own, the context's (xoshiro256**
** seeded through splitmix64, Box-Muller normals) in a private context, so
** torchlet.data draws the same numbers on every VM and never moves the
** stream manual_seed set for models.  Generator(s) draws what the module's
** generator draws after manual_seed(s).
** ======================================================================= */

#define TLB_GENERATOR "torchlet.Generator"

typedef struct tlb_generator {
  tl_ctx *ctx;          /* NULL until made, and after __gc */
} tlb_generator;

static tl_ctx *togenerator(lua_State *L, const char *fname) {
  tlb_generator *g = tlb_testudata(L, 1, TLB_GENERATOR, sizeof *g);
  if (g == NULL) tlb_typeerror(L, 1, fname, "Generator");
  else if (g->ctx == NULL) luaL_error(L, "%s: Generator used after it was collected", fname);
  return g->ctx;
}

static int generator_new(lua_State *L) {
  int isint = 0;
  lua_Integer seed = lua_type(L, 1) == LUA_TNUMBER ? lua_tointegerx(L, 1, &isint) : 0;
  if (!isint) return tlb_typeerror(L, 1, "Generator", "integer");
  tlb_generator *g = tlb_newudata(L, sizeof *g);
  g->ctx = NULL;
  tlb_setclass(L, TLB_GENERATOR, sizeof *g);
  g->ctx = tl_ctx_new();
  if (g->ctx == NULL) return luaL_error(L, "Generator: out of memory");
  tl_rng_seed(g->ctx, (uint64_t)seed);
  return 1;
}

/* g:uniform() -> a number in [0, 1) with 53 random bits */
static int generator_uniform(lua_State *L) {
  lua_pushnumber(L, tl_rng_uniform(togenerator(L, "uniform")));
  return 1;
}

/* g:normal() -> a standard normal number */
static int generator_normal(lua_State *L) {
  lua_pushnumber(L, tl_rng_normal(togenerator(L, "normal")));
  return 1;
}

/* g:integer(n) -> an integer in 1..n, n from 1 to 2^53 (the top 53 bits of
** a draw, modulo n: Fisher-Yates shuffles of data sets). */
static int generator_integer(lua_State *L) {
  tl_ctx *ctx = togenerator(L, "integer");
  int isint = 0;
  lua_Integer n = lua_type(L, 2) == LUA_TNUMBER ? lua_tointegerx(L, 2, &isint) : 0;
  if (!isint)    /* tlb_argerror counts as Lua does in a method call */
    return tlb_argerror(L, 2, "integer", "integer expected, got %s",
                        lua_type(L, 2) == LUA_TNUMBER ? "number" : luaL_typename(L, 2));
  if (n < 1 || n > ((lua_Integer)1 << 53))
    return tlb_argerror(L, 2, "integer", "n must be in 1..2^53, got %s", tlb_pushint(L, n));
  lua_pushinteger(L, (lua_Integer)((tl_rng_u64(ctx) >> 11) % (uint64_t)n) + 1);
  return 1;
}

static int generator_tostring(lua_State *L) {
  togenerator(L, "__tostring");
  lua_pushfstring(L, "Generator: %p", lua_topointer(L, 1));
  return 1;
}

static int generator_gc(lua_State *L) {
  tlb_generator *g = tlb_testudata(L, 1, TLB_GENERATOR, sizeof *g);
  if (g == NULL) return 0;
  tl_ctx_free(g->ctx);
  g->ctx = NULL;
  return 0;
}

static void open_generator(lua_State *L) {
  static const luaL_Reg meta[] = {
    {"__tostring", generator_tostring}, {"__gc", generator_gc}, {NULL, NULL}
  };
  static const luaL_Reg methods[] = {
    {"uniform", generator_uniform}, {"normal", generator_normal},
    {"integer", generator_integer}, {NULL, NULL}
  };
  tlb_newclass(L, TLB_GENERATOR, meta, methods, NULL);
  lua_pop(L, 1);                               /* metatable */
  static const luaL_Reg ctor[] = {{"Generator", generator_new}, {NULL, NULL}};
  tlb_setfuncs(L, ctor);
}

/* }====================================================================== */

/* pace_collector(flag) -> previous flag: whether core allocations are
** told to Lua's collector (tlb_pace); on by default.  Off is for hosts
** that run the collector on their own schedule (a game between frames),
** and for benchmarks that compare. */
static int module_pace_collector(lua_State *L) {
  if (lua_type(L, 1) != LUA_TBOOLEAN) return tlb_typeerror(L, 1, "pace_collector", "boolean");
  tlb_state *s = lua_touserdata(L, lua_upvalueindex(1));
  tlb_ctx(L);
  lua_pushboolean(L, s->pace);
  s->pace = lua_toboolean(L, 1);
  return 1;
}

/* set_default_dtype(name) -> previous name: the dtype of arrays made
** without a dtype option (PyTorch's torch.set_default_dtype); "float64"
** until changed.  Per lua_State, as everything else. */
static int module_set_default_dtype(lua_State *L) {
  tl_dtype t = tlb_checkdtype(L, 1, 1, "set_default_dtype");
  tlb_state *s = lua_touserdata(L, lua_upvalueindex(1));
  tlb_ctx(L);
  lua_pushstring(L, tl_dtype_name((tl_dtype)s->default_dtype));
  s->default_dtype = (int)t;
  return 1;
}

static int module_get_default_dtype(lua_State *L) {
  tlb_ctx(L);
  lua_pushstring(L, tl_dtype_name(tlb_default_dtype(L)));
  return 1;
}

/* Counters of the node pool and the array cache, for tests and
** benchmarks. */
static int module_memory(lua_State *L) {
  tl_ctx *ctx = tlb_ctx(L);
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)tl_ctx_live_nodes(ctx));
  lua_setfield(L, -2, "live_nodes");
  lua_pushinteger(L, (lua_Integer)tl_ctx_pool_bytes(ctx));
  lua_setfield(L, -2, "pool_bytes");
  lua_pushinteger(L, (lua_Integer)tl_node_size());
  lua_setfield(L, -2, "node_size");
  lua_pushinteger(L, (lua_Integer)tl_ctx_array_bytes(ctx));
  lua_setfield(L, -2, "array_bytes");
  lua_pushinteger(L, (lua_Integer)tl_ctx_allocated_bytes(ctx));
  lua_setfield(L, -2, "allocated_bytes");
  lua_pushinteger(L, (lua_Integer)tl_ctx_cached_bytes(ctx));
  lua_setfield(L, -2, "cached_bytes");
  return 1;
}

/* empty_cache(): gives the array blocks kept for reuse back to malloc
** (tl_ctx_empty_cache), as torch.cuda.empty_cache does. */
static int module_empty_cache(lua_State *L) {
  tl_ctx_empty_cache(tlb_ctx(L));
  return 0;
}

/* Runs with the module's upvalues, so openers can register closures. */
static int open_module(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"no_grad", module_no_grad},
    {"is_grad_enabled", module_is_grad_enabled},
    {"set_grad_enabled", module_set_grad_enabled},
    {"check_numerics", module_check_numerics},
    {"manual_seed", module_manual_seed},
    {"memory", module_memory},
    {"empty_cache", module_empty_cache},
    {"pace_collector", module_pace_collector},
    {"set_default_dtype", module_set_default_dtype},
    {"get_default_dtype", module_get_default_dtype},
    {NULL, NULL}
  };
  lua_newtable(L);
  tlb_setfuncs(L, funcs);
  lua_pushliteral(L, TL_VERSION);
  lua_setfield(L, -2, "_VERSION");
  open_generator(L);
  tlb_open_element(L);
  tlb_open_viz(L);
  tlb_open_nn(L);
  tlb_open_optim(L);
  tlb_open_loss(L);
  tlb_open_checkpoint(L);
  tlb_open_function(L);
  tlb_open_compile(L);
  return 1;
}

#ifdef TLB_LOADABLE_MODULE
/* The VM this module was built for, and the one running it (from which of
** the markers in tlb_loadable.h the dynamic linker found).  Lua 5.1 and
** LuaJIT share one C ABI (LuaJIT's documented promise, and one
** lib/lua/5.1 directory for both), so either build serves both. */
#if LUA_VERSION_NUM == 501 && defined(LUA_LJDIR)
#define TLB_BUILT_FOR "LuaJIT"
#else
#define TLB_BUILT_FOR LUA_VERSION   /* "Lua 5.4" ... */
#endif

static const char *running_vm(void) {
  if (tlb_vm_luajit != NULL) return "LuaJIT";
  if (tlb_vm_54 != NULL) return "Lua 5.4";
  if (tlb_vm_53 != NULL) return "Lua 5.3";
  if (tlb_vm_51 != NULL) return "Lua 5.1";
  return "another Lua";
}

/* Whether the running VM has this build's C API.  Nothing but luaL_error
** (the same in every VM) may be called before this says yes. */
static int vm_matches(const char *vm) {
  if (LUA_VERSION_NUM == 501)
    return strcmp(vm, "Lua 5.1") == 0 || strcmp(vm, "LuaJIT") == 0;
  return strcmp(vm, LUA_VERSION) == 0;
}
#endif

int luaopen_torchlet_core(lua_State *L);

int luaopen_torchlet_core(lua_State *L) {
#ifdef TLB_LOADABLE_MODULE
  const char *vm = running_vm();
  if (!vm_matches(vm))
    return luaL_error(L, "torchlet.core was built for %s, this is %s",
                      TLB_BUILT_FOR, vm);
#endif
  push_state(L);
  luaL_newmetatable(L, TLB_ELEMENT);   /* sets __name; reused if present */
  lua_pushcclosure(L, open_module, TLB_NUPVALUES);
  lua_call(L, 0, 1);
  return 1;
}
