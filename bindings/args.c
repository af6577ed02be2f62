/*
** args.c -- argument checking shared by the nn, optim and loss bindings
** (tlb_args.h).
*/
#include <stdarg.h>
#include <string.h>

#include "tlb_args.h"

int tlb_argerror(lua_State *L, int arg, const char *fname, const char *fmt,
                 ...) {
  va_list ap;
  va_start(ap, fmt);
  const char *msg = lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, fname, msg);
}

int tlb_checkopts(lua_State *L, int arg, const char *fname,
                  const char *const *allowed) {
  int t = lua_type(L, arg);
  if (t == LUA_TNIL || t == LUA_TNONE) return 0;
  if (t != LUA_TTABLE) return tlb_typeerror(L, arg, fname, "options table");
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    lua_pop(L, 1);                               /* the value */
    if (lua_type(L, -1) != LUA_TSTRING)
      return tlb_argerror(L, arg, fname, "option names must be strings, "
                          "got a %s", luaL_typename(L, -1));
    const char *key = lua_tostring(L, -1);
    const char *const *a = allowed;
    while (*a != NULL && strcmp(*a, key) != 0) a++;
    if (*a == NULL)
      return tlb_argerror(L, arg, fname, "unknown option '%s'", key);
  }
  return 1;
}

/* Pushes field 'key' of the options at 'arg' and returns its type; pushes
** nil when there are no options. */
/* Options are read raw: no metamethod runs in the middle of a binding, and
** a string option stays anchored in the options table while it is used. */
static int getopt(lua_State *L, int arg, const char *key) {
  if (lua_type(L, arg) != LUA_TTABLE) { lua_pushnil(L); return LUA_TNIL; }
  lua_pushstring(L, key);
  return lua_rawget(L, arg);
}

double tlb_optnumber(lua_State *L, int arg, const char *fname, const char *key,
                     double def) {
  int t = getopt(L, arg, key);
  if (t != LUA_TNIL && t != LUA_TNUMBER)
    return tlb_argerror(L, arg, fname, "option '%s' must be a number, got %s",
                        key, luaL_typename(L, -1));
  double v = t == LUA_TNIL ? def : lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}

int tlb_optboolean(lua_State *L, int arg, const char *fname, const char *key,
                   int def) {
  int t = getopt(L, arg, key);
  if (t != LUA_TNIL && t != LUA_TBOOLEAN)
    return tlb_argerror(L, arg, fname, "option '%s' must be a boolean, got %s",
                        key, luaL_typename(L, -1));
  int v = t == LUA_TNIL ? def : lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* The string stays valid: it is a field of the options table, which is an
** argument of the running function. */
const char *tlb_optstring(lua_State *L, int arg, const char *fname,
                          const char *key, const char *def) {
  int t = getopt(L, arg, key);
  if (t != LUA_TNIL && t != LUA_TSTRING)
    return tlb_argerror(L, arg, fname, "option '%s' must be a string, got %s",
                        key, luaL_typename(L, -1)), NULL;
  const char *v = t == LUA_TNIL ? def : lua_tostring(L, -1);
  lua_pop(L, 1);
  return v;
}

lua_Integer tlb_topositive(lua_State *L, int idx, int arg, const char *fname,
                           const char *what) {
  int isint = 0;
  lua_Integer v = lua_type(L, idx) == LUA_TNUMBER ? lua_tointegerx(L, idx, &isint) : 0;
  if (!isint || v <= 0) {
    const char *got = lua_type(L, idx) == LUA_TNUMBER
                    ? luaL_tolstring(L, idx, NULL) : luaL_typename(L, idx);
    return tlb_argerror(L, arg, fname, "%s must be a positive integer, got %s",
                        what, got);
  }
  return v;
}

size_t tlb_checklist(lua_State *L, int arg, const char *fname,
                     const char *what) {
  if (lua_type(L, arg) != LUA_TTABLE)
    return (size_t)tlb_typeerror(L, arg, fname, what);
  return tlb_rawlen(L, arg, arg, fname);
}

const char *tlb_tofilename(lua_State *L, int idx, int arg, const char *fname,
                           const char *what) {
  size_t len;
  const char *s = lua_tolstring(L, idx, &len);
  if (strlen(s) != len) {
    if (fname == NULL)
      luaL_argerror(L, arg, lua_pushfstring(L, "%s contains a NUL byte",
                                            what));
    tlb_argerror(L, arg, fname, "%s contains a NUL byte", what);
  }
  return s;
}
