/*
** tlb_compat.h -- lets the bindings, written against Lua 5.4, build for Lua
** 5.3, Lua 5.1 and LuaJIT 2.1 too.  Included by tlb.h after lua.h and
** lauxlib.h; with Lua 5.4 it defines nothing.
**
** Each shim gives the 5.4 name the 5.4 behaviour where the older VM can
** have it: return types (lua_getfield returns the type), integer checks
** (luaL_checkinteger rejects 2.5 as 5.3+ does), messages (luaL_typeerror
** names __name), number formatting (luaL_tolstring prints 8.0, not 8).
** What no shim can give, because the VM decides before any C code runs:
**   - Lua 5.1 and LuaJIT compare a userdata with a number (e < 2) by
**     raising "attempt to compare", never calling __lt;
**   - Lua 5.1 and LuaJIT have no integer subtype: 2 and 2.0 are one value;
**   - lua_pushfstring knows %I only from 5.3 on: format integers with %d
**     after a cast to int, or push them with lua_pushinteger.
** Adding a shim: write it with the 5.4 semantics, in the section of the
** oldest VM that lacks it, under a tlbc_ name, and #define the 5.4 name.
*/
#ifndef TORCHLET_TLB_COMPAT_H
#define TORCHLET_TLB_COMPAT_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#if LUA_VERSION_NUM < 504 /* {================================== 5.3 and older */

/* One user value is all 5.3 and older have, and the bindings use none. */
#define lua_newuserdatauv(L, size, nuv) ((void)(nuv), lua_newuserdata((L), (size)))

#define luaL_typeerror tlbc_typeerror
static inline int tlbc_typeerror(lua_State *L, int arg, const char *tname) {
  const char *got;
  if (luaL_getmetafield(L, arg, "__name") && lua_type(L, -1) == LUA_TSTRING)
    got = lua_tostring(L, -1);
  else if (lua_type(L, arg) == LUA_TLIGHTUSERDATA)
    got = "light userdata";
  else
    got = luaL_typename(L, arg);
  return luaL_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s", tname, got));
}

#endif /* }===================================================================== */

#if LUA_VERSION_NUM < 503 /* {================================ 5.1 and LuaJIT */

#ifndef LUA_OK
#define LUA_OK 0
#endif

typedef size_t lua_Unsigned;  /* what lua_objlen (lua_rawlen) returns */

static inline int tlbc_absindex(lua_State *L, int i) {
  return (i > 0 || i <= LUA_REGISTRYINDEX) ? i : lua_gettop(L) + i + 1;
}
#define lua_absindex tlbc_absindex

/* Getters return the type of the value they push, as from 5.3 on.  (A macro
** is not expanded again inside its own body, so these call the real ones.) */
#define lua_getfield(L, i, k) (lua_getfield((L), (i), (k)), lua_type((L), -1))
#define lua_rawget(L, i) (lua_rawget((L), (i)), lua_type((L), -1))
#define lua_rawgeti(L, i, n) (lua_rawgeti((L), (i), (int)(n)), lua_type((L), -1))
#define lua_rawseti(L, i, n) lua_rawseti((L), (i), (int)(n))
#define luaL_getmetafield(L, i, e) \
  (luaL_getmetafield((L), (i), (e)) ? lua_type((L), -1) : LUA_TNIL)

/* Light userdata keys (5.2). */
static inline int tlbc_rawgetp(lua_State *L, int t, const void *p) {
  t = lua_absindex(L, t);
  lua_pushlightuserdata(L, (void *)p);
  return lua_rawget(L, t);
}
#define lua_rawgetp tlbc_rawgetp

static inline void tlbc_rawsetp(lua_State *L, int t, const void *p) {
  t = lua_absindex(L, t);
  lua_pushlightuserdata(L, (void *)p);
  lua_insert(L, -2);
  lua_rawset(L, t);
}
#define lua_rawsetp tlbc_rawsetp

#define lua_rawlen(L, i) lua_objlen((L), (i))
/* #t for tables and strings; 5.1 tables have no __len to honour. */
#define luaL_len(L, i) ((lua_Integer)lua_objlen((L), (i)))

static inline int tlbc_geti(lua_State *L, int t, lua_Integer n) {
  t = lua_absindex(L, t);
  lua_pushinteger(L, n);
  lua_gettable(L, t);
  return lua_type(L, -1);
}
#define lua_geti tlbc_geti

static inline void tlbc_seti(lua_State *L, int t, lua_Integer n) {
  t = lua_absindex(L, t);
  lua_pushinteger(L, n);
  lua_insert(L, -2);
  lua_settable(L, t);
}
#define lua_seti tlbc_seti

/* 5.1 numbers are all floats: "an integer" is a float with an integral
** value that fits lua_Integer. */
static inline int tlbc_tointeger_exact(lua_Number x, lua_Integer *out) {
  if (!(x == floor(x)) || !(x >= -0x1p63) || !(x < 0x1p63)) return 0;
  *out = (lua_Integer)x;
  return 1;
}

static inline lua_Number tlbc_tonumberx(lua_State *L, int i, int *isnum) {
  if (isnum) *isnum = lua_isnumber(L, i);
  return lua_tonumber(L, i);
}
#define lua_tonumberx tlbc_tonumberx

static inline lua_Integer tlbc_tointegerx(lua_State *L, int i, int *isnum) {
  lua_Integer n = 0;
  int ok = lua_isnumber(L, i) && tlbc_tointeger_exact(lua_tonumber(L, i), &n);
  if (isnum) *isnum = ok;
  return n;
}
#define lua_tointegerx tlbc_tointegerx

static inline int tlbc_isinteger(lua_State *L, int i) {
  lua_Integer n;
  return lua_type(L, i) == LUA_TNUMBER && tlbc_tointeger_exact(lua_tonumber(L, i), &n);
}
#define lua_isinteger tlbc_isinteger

static inline lua_Integer tlbc_checkinteger(lua_State *L, int i) {
  int ok;
  lua_Integer n = tlbc_tointegerx(L, i, &ok);
  if (!ok) {
    if (lua_isnumber(L, i)) luaL_argerror(L, i, "number has no integer representation");
    else luaL_typeerror(L, i, "number");
  }
  return n;
}
#define luaL_checkinteger tlbc_checkinteger

static inline lua_Integer tlbc_optinteger(lua_State *L, int i, lua_Integer def) {
  return lua_isnoneornil(L, i) ? def : tlbc_checkinteger(L, i);
}
#define luaL_optinteger tlbc_optinteger

/* 5.1's luaL_newmetatable does not record __name, which messages use. */
static inline int tlbc_newmetatable(lua_State *L, const char *tname) {
  if (!luaL_newmetatable(L, tname)) return 0;
  lua_pushstring(L, tname);
  lua_setfield(L, -2, "__name");
  return 1;
}
#define luaL_newmetatable tlbc_newmetatable

static inline void tlbc_setmetatable(lua_State *L, const char *tname) {
  luaL_getmetatable(L, tname);
  lua_setmetatable(L, -2);
}
#define luaL_setmetatable tlbc_setmetatable

static inline void *tlbc_testudata(lua_State *L, int i, const char *tname) {
  void *p = lua_touserdata(L, i);
  if (p == NULL || !lua_getmetatable(L, i)) return NULL;
  luaL_getmetatable(L, tname);
  int same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same ? p : NULL;
}
#define luaL_testudata tlbc_testudata

static inline void tlbc_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup, "too many upvalues");
  for (; l->name != NULL; l++) {
    for (int i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}
#define luaL_setfuncs tlbc_setfuncs

/* Numbers as 5.3+ print floats: "%.14g", plus ".0" when that looks like an
** integer, so Element(data=8.0) reads the same on every VM. */
static inline void tlbc_pushnumber_string(lua_State *L, lua_Number x) {
  char buf[64];
  snprintf(buf, sizeof buf - 2, "%.14g", (double)x);
  if (buf[strspn(buf, "-0123456789")] == '\0') strcat(buf, ".0");
  lua_pushstring(L, buf);
}

static inline const char *tlbc_tolstring(lua_State *L, int i, size_t *len) {
  i = lua_absindex(L, i);
  if (luaL_callmeta(L, i, "__tostring")) {
    if (!lua_isstring(L, -1)) luaL_error(L, "'__tostring' must return a string");
  } else {
    switch (lua_type(L, i)) {
      case LUA_TNUMBER: tlbc_pushnumber_string(L, lua_tonumber(L, i)); break;
      case LUA_TSTRING: lua_pushvalue(L, i); break;
      case LUA_TBOOLEAN: lua_pushstring(L, lua_toboolean(L, i) ? "true" : "false"); break;
      case LUA_TNIL: lua_pushliteral(L, "nil"); break;
      default: {
        int named = luaL_getmetafield(L, i, "__name") == LUA_TSTRING;
        const char *kind = named ? lua_tostring(L, -1) : luaL_typename(L, i);
        lua_pushfstring(L, "%s: %p", kind, lua_topointer(L, i));
        if (named) lua_remove(L, -2);
      }
    }
  }
  return lua_tolstring(L, -1, len);
}
#define luaL_tolstring tlbc_tolstring

static inline void tlbc_requiref(lua_State *L, const char *name,
                                 lua_CFunction open, int global) {
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  if (lua_getfield(L, -1, name) == LUA_TNIL || !lua_toboolean(L, -1)) {
    lua_pop(L, 1);
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);       /* _LOADED[name] = module */
  }
  lua_remove(L, -2);                 /* _LOADED */
  if (global) {
    lua_pushvalue(L, -1);
    lua_setglobal(L, name);
  }
}
#define luaL_requiref tlbc_requiref

#endif /* }===================================================================== */

#endif
