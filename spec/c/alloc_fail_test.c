/*
** alloc_fail_test.c -- Torchlet's functions when an allocation fails.
**
**     build/tests/alloc_fail_test
**
** 1. Lua's allocator: busted cannot make it fail, so this runs each call
**    below in a lua_State whose allocator fails every growing allocation
**    from the Nth on, for N = 1, 2, ... until the call runs without a
**    failure.  After each run (an error, usually "not enough memory") and a
**    full collection, the node pool must hold exactly what it held before
**    the call: a reference taken with no owner when the error struck would
**    keep a node alive for ever.  Blocks of malloc'd memory left behind
**    (to_dot's text) are LeakSanitizer's to find, in the debug build.
** 2. malloc in the core: when an optimizer's state cannot be allocated,
**    optim.Adam must raise a memory error, not a "bad argument".
** Exits 0 when every check passes, 1 otherwise, naming each failure.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "../../bindings/torchlet_lua.h"

/* {======================================================================
** A failing allocator
** ======================================================================= */

typedef struct limit {
  size_t count;     /* growing allocations since the limit was set */
  size_t fail_at;   /* the first one that fails; 0: none fails */
} limit;

/* Lua assumes that shrinking never fails: only growth counts. */
static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  limit *lim = ud;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  int grows = ptr == NULL || nsize > osize;
  if (grows && lim->fail_at != 0 && ++lim->count >= lim->fail_at) return NULL;
  return realloc(ptr, nsize);
}

/* }====================================================================== */

/* Each chunk gets the module as 'core' and returns the call to check. */
static const struct { const char *name, *chunk; } cases[] = {
  {"mse (table form)", "local E = core.Element; local a, b = E(1), E(2)\n"
   "return function() return core.loss.mse({a, 2, b}, {1, 2, 3}) end"},
  {"hinge (table form)", "local E = core.Element; local a, b = E(1), E(2)\n"
   "return function() return core.loss.hinge({a, 0.5, b}, {-1, 1, 1}) end"},
  {"bce (table form)", "local E = core.Element; local a, b = E(1), E(2)\n"
   "return function() return core.loss.bce({a, 3, b}, {0, 1, 0.5}) end"},
  {"bce (one score)", "local a = core.Element(1)\n"
   "return function() return core.loss.bce(a, 1) end"},
  {"cross_entropy (one row)", "local E = core.Element; local a, b = E(1), E(2)\n"
   "return function() return core.loss.cross_entropy({a, 2, b}, 3) end"},
  {"cross_entropy (rows)", "local E = core.Element; local a, b = E(1), E(2)\n"
   "return function() return core.loss.cross_entropy({{a, 1}, {2, b}}, {1, 2}) end"},
  {"mse (array form)", "local s = core.Element({1, 2})\n"
   "return function() return core.loss.mse(s, {1, 3}) end"},
  {"cross_entropy (array form)", "local s = core.Element({{1, 2}, {3, 4}})\n"
   "return function() return core.loss.cross_entropy(s, {1, 2}) end"},
  {"to_dot", "local E = core.Element; local e = (E(1) * E(2) + 1):tanh()\n"
   "return function() return e:to_dot() end"},
  {"Adam", "local E = core.Element; local a, w = E(1), core.zeros(3)\n"
   "return function() return core.optim.Adam({a, w}, {betas = {0.8, 0.9}}) end"},
  /* custom ops (torchlet.Function's C half): Lua runs inside the core's
  ** callbacks, under lua_pcall; a failure there must come back as an error
  ** with every node accounted for */
  {"Function call", "local x = core.Element({0.5, 2})\n"
   "local f = {name = 'sq', forward = function(ctx, a) ctx.a = a return a * a end,\n"
   "  backward = function(ctx, g) return g * ctx.a * 2 end}\n"
   "return function() return core._autograd.apply(f, {}, x, 3) end"},
  {"Function backward", "local x = core.Element({0.5, 2})\n"
   "local f = {name = 'sq', forward = function(ctx, a) ctx.a = a return a * a end,\n"
   "  backward = function(ctx, g) return g * ctx.a * 2, nil end}\n"
   "local y = core._autograd.apply(f, {}, x, 3):sum()\n"
   "return function() y:backward() return x.grad end"},
  {"Function backward error", "local x = core.Element(0.5)\n"
   "local f = {name = 'sq', forward = function(ctx, a) return a * a end,\n"
   "  backward = function(ctx, g) error('no gradient today') end}\n"
   "local y = core._autograd.apply(f, {}, x)\n"
   "return function() return pcall(y.backward, y) end"},
};

static int failures = 0;

static void fail(const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 1, 2)))
#endif
  ;
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "alloc_fail_test: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  failures++;
}

/* Live nodes of the module's pool, after two full collections. */
static lua_Integer live_nodes(lua_State *L) {
  lua_gc(L, LUA_GCCOLLECT, 0);
  lua_gc(L, LUA_GCCOLLECT, 0);
  lua_getglobal(L, "core");
  lua_getfield(L, -1, "memory");
  lua_call(L, 0, 1);
  lua_getfield(L, -1, "live_nodes");
  lua_Integer n = lua_tointeger(L, -1);
  lua_pop(L, 3);
  return n;
}

/* A fresh state with the module as global 'core' and the case's call on
** the stack; NULL (after reporting) if that fails without any limit. */
static lua_State *setup(limit *lim, const char *name, const char *chunk) {
  lua_State *L = lua_newstate(limited_alloc, lim);
  if (L == NULL) {
    fail("%s: cannot create a lua_State", name);
    return NULL;
  }
  luaL_openlibs(L);
  luaL_requiref(L, "torchlet.core", luaopen_torchlet_core, 0);
  lua_setglobal(L, "core");
  if (luaL_loadstring(L, chunk) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
    fail("%s: the case does not load: %s", name, lua_tostring(L, -1));
    lua_close(L);
    return NULL;
  }
  return L;
}

/* Runs one case with the Nth growing allocation failing, N = 1, 2, ... */
static void run_case(const char *name, const char *chunk) {
  for (size_t n = 1; n < 100000; n++) {
    limit lim = {0, 0};
    lua_State *L = setup(&lim, name, chunk);
    if (L == NULL) return;
    lua_Integer before = live_nodes(L);
    lim.count = 0;
    lim.fail_at = n;
    lua_pushvalue(L, -1);
    int status = lua_pcall(L, 0, 1, 0);
    int struck = lim.count >= n;
    lim.fail_at = 0;
    if (status != LUA_OK && lua_type(L, -1) != LUA_TSTRING)
      fail("%s, allocation %zu failing: error without a message", name, n);
    lua_pop(L, 1);                         /* the result or the message */
    lua_Integer after = live_nodes(L);
    if (after != before)
      fail("%s, allocation %zu failing: %lld live nodes before, %lld after",
           name, n, (long long)before, (long long)after);
    lua_close(L);
    if (!struck) {
      if (status != LUA_OK) fail("%s fails with no limit", name);
      printf("%-28s %zu allocations, failing from each one on\n", name, n - 1);
      return;
    }
  }
  fail("%s: more than 100000 allocations", name);
}

/* malloc is made to fail for blocks of more than 16 MB: under
** AddressSanitizer by its own option (a limit on the address space would
** break its shadow memory), otherwise by limiting the address space to
** what is in use plus 16 MB while the call runs. */
#if defined(__SANITIZE_ADDRESS__)
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
  return "allocator_may_return_null=1:max_allocation_size_mb=16";
}
static int limit_malloc(struct rlimit *old) { (void)old; return 1; }
static void unlimit_malloc(const struct rlimit *old) { (void)old; }
#else
/* The address space in use, from /proc/self/status (0 if unknown). */
static rlim_t vm_size(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL) return 0;
  char line[256];
  unsigned long long kb = 0;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "VmSize: %llu kB", &kb) == 1) break;
  fclose(f);
  return (rlim_t)kb * 1024;
}
static int limit_malloc(struct rlimit *old) {
  rlim_t used = vm_size();
  if (used == 0 || getrlimit(RLIMIT_AS, old) != 0) return 0;
  struct rlimit tight = {used + ((rlim_t)16 << 20), old->rlim_max};
  return setrlimit(RLIMIT_AS, &tight) == 0;
}
static void unlimit_malloc(const struct rlimit *old) { setrlimit(RLIMIT_AS, old); }
#endif

/* optim.Adam over three parameters of 8 MB each: its state arrays of
** 24 MB each cannot be allocated. */
static void adam_out_of_memory(void) {
  const char *name = "Adam out of memory";
  limit lim = {0, 0};
  lua_State *L = setup(&lim, name, "local z = core.zeros\n"
                       "return {z(1 << 20), z(1 << 20), z(1 << 20)}");
  if (L == NULL) return;
  struct rlimit old;
  if (!limit_malloc(&old)) {
    fail("%s: cannot limit the address space", name);
    lua_close(L);
    return;
  }
  lua_getglobal(L, "core");
  lua_getfield(L, -1, "optim");
  lua_getfield(L, -1, "Adam");
  lua_pushvalue(L, -4);                     /* the parameters */
  int status = lua_pcall(L, 1, 1, 0);
  unlimit_malloc(&old);
  const char *msg = lua_tostring(L, -1);
  if (status == LUA_OK)
    fail("%s: Adam was made", name);
  else if (msg == NULL || strncmp(msg, "bad argument", 12) == 0 ||
           strstr(msg, "out of memory") == NULL)
    fail("%s: a memory error expected, got: %s", name, msg ? msg : "(no message)");
  else
    printf("%-28s %s\n", name, msg);
  lua_close(L);
}

int main(void) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    run_case(cases[i].name, cases[i].chunk);
  adam_out_of_memory();
  if (failures != 0) {
    fprintf(stderr, "alloc_fail_test: %d failures\n", failures);
    return EXIT_FAILURE;
  }
  printf("alloc_fail_test: all passed\n");
  return EXIT_SUCCESS;
}
