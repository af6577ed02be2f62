/*
** clock.c -- the benchmark's clock, a Lua module `bench.clock`.
** os.clock() counts CPU time in microseconds; one Torchlet op takes well
** under one, so samples are timed with the monotonic clock in nanoseconds.
**
**   local clock = require "bench.clock"
**   local t0 = clock.now()   -- integer nanoseconds, arbitrary origin
*/
#define _POSIX_C_SOURCE 199309L
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "../bindings/tlb_compat.h"   /* built for every VM the specs run on */

int luaopen_bench_clock(lua_State *L);

static int clock_now(lua_State *L) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    return luaL_error(L, "bench.clock: clock_gettime failed");
  lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000000000 + ts.tv_nsec);
  return 1;
}

int luaopen_bench_clock(lua_State *L) {
  static const luaL_Reg funcs[] = { {"now", clock_now}, {NULL, NULL} };
  lua_newtable(L);
  luaL_setfuncs(L, funcs, 0);
  return 1;
}
