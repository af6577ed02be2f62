/*
** args.c -- argument checking shared by the bindings (tlb_args.h): error
** messages, options tables, Lua-owned scratch.
*/
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../core/size.h"
#include "tlb_args.h"

/* The number Lua gives argument 'arg' of the running C function: one less
** in a method call (in e:f(x), x is #1), the rule of luaL_argerror. */
static int argnum(lua_State *L, int arg) {
  lua_Debug ar;
  if (arg > 1 && lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) &&
      ar.namewhat != NULL && strcmp(ar.namewhat, "method") == 0)
    arg--;
  return arg;
}

int tlb_argerror(lua_State *L, int arg, const char *fname, const char *fmt,
                 ...) {
  va_list ap;
  va_start(ap, fmt);
  const char *msg = lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  return luaL_error(L, "bad argument #%d to '%s' (%s)", argnum(L, arg), fname,
                    msg);
}

const char *tlb_pushsize(lua_State *L, size_t n) {
  char buf[24];
  snprintf(buf, sizeof buf, "%zu", n);
  lua_pushstring(L, buf);
  return lua_tostring(L, -1);
}

const char *tlb_pushint(lua_State *L, lua_Integer n) {
  char buf[24];
  snprintf(buf, sizeof buf, "%lld", (long long)n);
  lua_pushstring(L, buf);
  return lua_tostring(L, -1);
}

/* Type name of the value at 'i' for messages: its __name if it has one. */
static const char *typename_of(lua_State *L, int i) {
  if (luaL_getmetafield(L, i, "__name") == LUA_TSTRING) return lua_tostring(L, -1);
  return luaL_typename(L, i);
}

int tlb_checkopts(lua_State *L, int arg, const char *fname,
                  const char *const *allowed) {
  int t = lua_type(L, arg);
  if (t == LUA_TNIL || t == LUA_TNONE) return 0;
  if (t != LUA_TTABLE)
    return tlb_argerror(L, arg, fname, "options table expected, got %s",
                        typename_of(L, arg));
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    lua_pop(L, 1);                               /* the value */
    if (lua_type(L, -1) != LUA_TSTRING)
      return tlb_argerror(L, arg, fname, "option names must be strings, "
                          "got a %s", luaL_typename(L, -1));
    const char *key = lua_tostring(L, -1);
    const char *const *a = allowed;
    while (*a != NULL && strcmp(*a, key) != 0) a++;
    if (*a != NULL) continue;
    /* say which names are known: a misspelling is the usual cause */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (*allowed == NULL) luaL_addstring(&b, "it takes none");
    for (a = allowed; *a != NULL; a++) {
      luaL_addstring(&b, a == allowed ? "known: " : ", ");
      luaL_addstring(&b, *a);
    }
    luaL_pushresult(&b);
    return tlb_argerror(L, arg, fname, "unknown option '%s'; %s", key,
                        lua_tostring(L, -1));
  }
  return 1;
}

int tlb_getopt(lua_State *L, int arg, const char *key) {
  if (lua_type(L, arg) != LUA_TTABLE) { lua_pushnil(L); return LUA_TNIL; }
  lua_pushstring(L, key);
  return lua_rawget(L, arg);
}

double tlb_optnumber(lua_State *L, int arg, const char *fname, const char *key,
                     double def) {
  int t = tlb_getopt(L, arg, key);
  if (t != LUA_TNIL && t != LUA_TNUMBER)
    return tlb_argerror(L, arg, fname, "option '%s' must be a number, got %s",
                        key, typename_of(L, -1));
  double v = t == LUA_TNIL ? def : lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}

size_t tlb_optcount(lua_State *L, int arg, const char *fname, const char *key,
                    size_t def) {
  if (tlb_getopt(L, arg, key) == LUA_TNIL) { lua_pop(L, 1); return def; }
  char what[64];
  snprintf(what, sizeof what, "option '%s'", key);
  lua_Integer v = tlb_topositive(L, -1, arg, fname, what);
  lua_pop(L, 1);
  return (size_t)v;
}

int tlb_optboolean(lua_State *L, int arg, const char *fname, const char *key,
                   int def) {
  int t = tlb_getopt(L, arg, key);
  if (t != LUA_TNIL && t != LUA_TBOOLEAN)
    return tlb_argerror(L, arg, fname, "option '%s' must be a boolean, got %s",
                        key, typename_of(L, -1));
  int v = t == LUA_TNIL ? def : lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* The string stays valid: it is a field of the options table, which is an
** argument of the running function.  A NUL byte inside is refused: C would
** silently use the text before it (a path, a title). */
const char *tlb_optstring(lua_State *L, int arg, const char *fname,
                          const char *key, const char *def) {
  int t = tlb_getopt(L, arg, key);
  if (t != LUA_TNIL && t != LUA_TSTRING)
    return tlb_argerror(L, arg, fname, "option '%s' must be a string, got %s",
                        key, typename_of(L, -1)), NULL;
  size_t len = 0;
  const char *v = t == LUA_TNIL ? def : lua_tolstring(L, -1, &len);
  if (t != LUA_TNIL && strlen(v) != len)
    return tlb_argerror(L, arg, fname, "option '%s' contains a NUL byte",
                        key), NULL;
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

/* {======================================================================
** Scratch owned by Lua
** ======================================================================= */

void *tlb_newscratch(lua_State *L, size_t count, size_t size, int arg,
                     const char *fname) {
  size_t bytes;
  if (!tl__size_mul(count, size, &bytes))
    return tlb_argerror(L, arg, fname, "%s values of %d bytes do not fit in "
                        "memory", tlb_pushsize(L, count), (int)size), NULL;
  return lua_newuserdatauv(L, bytes ? bytes : 1, 0);
}

#define TLB_BOX "torchlet.Box"

/* Frees what the box holds; a type check first, so that a script reaching
** this function through the debug library cannot free anything else. */
static int box_gc(lua_State *L) {
  void **box = tlb_testudata(L, 1, TLB_BOX, sizeof *box);
  if (box != NULL) {
    free(*box);
    *box = NULL;
  }
  return 0;
}

void **tlb_newbox(lua_State *L) {
  void **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;                                  /* born empty */
  if (luaL_newmetatable(L, TLB_BOX)) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    tlb_protect_metatable(L, -1);
  }
  lua_setmetatable(L, -2);
  return box;
}

/* }====================================================================== */
