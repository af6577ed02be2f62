/*
** floor.c -- the floor of the comparison: a Lua module `bench.floor` whose
** values are userdata holding one double, with __add and __mul that only
** allocate a new such userdata and set its metatable.  No type checks
** beyond a NULL test, no graph, no finalizer: nothing callable from Lua as
** an operator can do less, so "Torchlet op / floor op" is the price of
** everything Torchlet adds on top of allocating a result.
**
**   local floor = require "bench.floor"
**   local a, b = floor.new(2), floor.new(3)
**   local c = a + b          -- floor.value(c) == 5
**
** floor.new_gc(x) makes the same values with an empty __gc in their
** metatable (results of their operators too): the floor of any design
** that frees something when a handle dies, since Lua runs each finalizer
** through a protected call and frees the object a cycle later.
*/
#include <lauxlib.h>
#include <lua.h>

#include "../bindings/tlb_compat.h"   /* built for every VM the specs run on */

int luaopen_bench_floor(lua_State *L);

/* Pushes a new value holding 'v'; upvalue 1 is the shared metatable. */
static void push_value(lua_State *L, double v) {
  double *r = lua_newuserdatauv(L, sizeof *r, 0);
  *r = v;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, -2);
}

/* Both operands are floor values in the benchmark; anything else is a
** misuse of this module, reported rather than read as garbage. */
static double *operand(lua_State *L, int i) {
  double *p = lua_touserdata(L, i);
  if (p == NULL) luaL_error(L, "bench.floor: operand %d is not a floor value", i);
  return p;
}

static int floor_add(lua_State *L) {
  double a = *operand(L, 1), b = *operand(L, 2);
  push_value(L, a + b);
  return 1;
}

static int floor_mul(lua_State *L) {
  double a = *operand(L, 1), b = *operand(L, 2);
  push_value(L, a * b);
  return 1;
}

static int floor_gc(lua_State *L) {
  (void)L;
  return 0;
}

/* floor.new and floor.new_gc: upvalue 1 is the metatable of the kind. */
static int floor_new(lua_State *L) {
  push_value(L, luaL_checknumber(L, 1));
  return 1;
}

static int floor_value(lua_State *L) {
  lua_pushnumber(L, *operand(L, 1));
  return 1;
}

/* Pushes a metatable whose metamethods see it as upvalue 1 (results of
** an operator are of the same kind as its operands). */
static void new_meta(lua_State *L, int with_gc) {
  static const luaL_Reg meta[] = {
    {"__add", floor_add}, {"__mul", floor_mul}, {NULL, NULL}
  };
  lua_newtable(L);
  lua_pushvalue(L, -1);
  luaL_setfuncs(L, meta, 1);
  if (with_gc) {
    lua_pushcfunction(L, floor_gc);
    lua_setfield(L, -2, "__gc");
  }
}

int luaopen_bench_floor(lua_State *L) {
  lua_newtable(L);                    /* the module */
  new_meta(L, 0);
  lua_pushcclosure(L, floor_new, 1);
  lua_setfield(L, -2, "new");
  new_meta(L, 1);
  lua_pushcclosure(L, floor_new, 1);
  lua_setfield(L, -2, "new_gc");
  lua_pushcfunction(L, floor_value);
  lua_setfield(L, -2, "value");
  return 1;
}
