/*
** runtime.c -- what every binding file uses (tlb.h): the context of the
** running lua_State, Element handles and the collector's pace, class
** registration, and argument and option reading (raw access, unknown keys
** rejected, sizes checked for overflow).
*/
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../core/size.h"
#include "tlb.h"

/* {======================================================================
** Handles
** ======================================================================= */

tl_ctx *tlb_ctx_or_null(lua_State *L) {
  return ((tlb_state *)lua_touserdata(L, lua_upvalueindex(1)))->ctx;
}

/* At lua_close the context goes after every object made after it, but a
** finalizer of an object made before `require "torchlet"` may still call
** in: it gets an error, not a freed context. */
tl_ctx *tlb_ctx(lua_State *L) {
  tlb_state *S = lua_touserdata(L, lua_upvalueindex(1));
  if (S->ctx == NULL) luaL_error(L, "torchlet: the Lua state is closing");
  S->L = L;                     /* where custom ops' callbacks run Lua */
  if (S->dead != NULL) tlb_fn_drain(L, S);
  return S->ctx;
}

size_t tlb_rawlen(lua_State *L, int idx, int arg, const char *fname) {
  lua_Unsigned len = lua_rawlen(L, idx);
  if (len > TLB_MAX_LEN)
    luaL_error(L, "bad argument #%d to '%s' (a table of %s entries; at most "
               "%s are taken)", arg, fname, tlb_pushsize(L, (size_t)len),
               tlb_pushsize(L, (size_t)TLB_MAX_LEN));
  return (size_t)len;
}

/* Where an object's metatable address is kept: after its bytes, aligned. */
static size_t tag_offset(size_t size) {
  return (size + sizeof(void *) - 1) / sizeof(void *) * sizeof(void *);
}

void *tlb_newudata(lua_State *L, size_t size) {
  char *p = lua_newuserdatauv(L, tag_offset(size) + sizeof(const void *), 0);
  const void *none = NULL;
  memcpy(p + tag_offset(size), &none, sizeof none);
  return p;
}

void tlb_setmetatable(lua_State *L, size_t size) {
  const void *mt = lua_topointer(L, -1);
  char *p = lua_touserdata(L, -2);
  memcpy(p + tag_offset(size), &mt, sizeof mt);
  lua_setmetatable(L, -2);
}

void tlb_setclass(lua_State *L, const char *tname, size_t size) {
  luaL_getmetatable(L, tname);
  tlb_setmetatable(L, size);
}

/* Whether the object 'p' at 'i', whose metatable is at the top of the
** stack, is one of ours of 'size' bytes given that metatable. */
static int tagged(lua_State *L, int i, const char *p, size_t size) {
  const void *tag;
  if (lua_rawlen(L, i) != tag_offset(size) + sizeof tag) return 0;
  memcpy(&tag, p + tag_offset(size), sizeof tag);
  return tag == lua_topointer(L, -1);
}

void *tlb_testudata(lua_State *L, int i, const char *tname, size_t size) {
  i = lua_absindex(L, i);
  void *p = lua_touserdata(L, i);
  if (p == NULL || !lua_getmetatable(L, i)) return NULL;
  luaL_getmetatable(L, tname);
  int ok = lua_rawequal(L, -1, -2) && tagged(L, i, p, size);
  lua_pop(L, 2);
  return ok ? p : NULL;
}

void tlb_protect_metatable(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    if (strcmp(k, "__gc") != 0 && strcmp(k, "__metatable") != 0) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, -4);
    } else
      lua_pop(L, 1);
  }
  lua_setfield(L, idx, "__metatable");
}

void tlb_newclass(lua_State *L, const char *tname, const luaL_Reg *meta,
                  const luaL_Reg *methods, lua_CFunction index) {
  luaL_newmetatable(L, tname);                 /* sets __name */
  tlb_setfuncs(L, meta);
  if (methods != NULL) {
    lua_newtable(L);
    tlb_setfuncs(L, methods);
    if (index != NULL) {                       /* methods as its upvalue 3 */
      lua_pushvalue(L, lua_upvalueindex(1));
      lua_pushvalue(L, lua_upvalueindex(2));
      lua_pushvalue(L, -3);
      lua_pushcclosure(L, index, 3);
      lua_remove(L, -2);
    }
    lua_setfield(L, -2, "__index");
  }
  tlb_protect_metatable(L, -1);
}

void tlb_add_element_methods(lua_State *L, const luaL_Reg *l) {
  lua_getfield(L, LUA_REGISTRYINDEX, TLB_ELEMENT_METHODS);
  tlb_setfuncs(L, l);
  lua_pop(L, 1);
}

void tlb_setfuncs(lua_State *L, const luaL_Reg *l) {
  for (; l->name != NULL; l++) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_pushcclosure(L, l->func, TLB_NUPVALUES);
    lua_setfield(L, -2, l->name);
  }
}

/* The handle at 'i' if it is an Element (even a freed one), else NULL.
** The size check is for scripts with the debug library, which can give
** another library's userdata (a file handle, say) the Element metatable:
** its memory is then not a handle, and its size tells. */
tlb_element *tlb_tohandle(lua_State *L, int i) {
  i = lua_absindex(L, i);
  tlb_element *h = lua_touserdata(L, i);
  if (h == NULL || !lua_getmetatable(L, i)) return NULL;
  int same = lua_rawequal(L, -1, lua_upvalueindex(2)) && tagged(L, i, (char *)h, sizeof *h);
  lua_pop(L, 1);
  return same ? h : NULL;
}

/* The context is checked before the node is read: once the state's
** finalizer has run (at lua_close, or called by hand through the debug
** library) the nodes went with the context's pool. */
tl_node *tlb_toelement(lua_State *L, int i) {
  tlb_element *h = tlb_tohandle(L, i);
  if (h == NULL) return NULL;
  if (h->node == NULL)
    luaL_argerror(L, i, "Element used after it was collected");
  tlb_ctx(L);
  return h->node;
}

tl_node *tlb_checkelement(lua_State *L, int i) {
  tl_node *n = tlb_toelement(L, i);
  if (n == NULL) luaL_typeerror(L, i, "Element");
  return n;
}

tlb_element *tlb_newhandle(lua_State *L) {
  tlb_element *h = tlb_newudata(L, sizeof *h);
  h->node = NULL;
  lua_pushvalue(L, lua_upvalueindex(2));
  tlb_setmetatable(L, sizeof *h);
  return h;
}

static int argnum(lua_State *L, int arg);

int tlb_typeerror(lua_State *L, int i, const char *fname, const char *expected) {
  const char *got;
  if (luaL_getmetafield(L, i, "__name") == LUA_TSTRING) got = lua_tostring(L, -1);
  else if (lua_type(L, i) == LUA_TLIGHTUSERDATA) got = "light userdata";
  else got = luaL_typename(L, i);
  return luaL_error(L, "bad argument #%d to '%s' (%s expected, got %s)",
                    argnum(L, i), fname, expected, got);
}

int tlb_error(lua_State *L) {
  const char *msg = tl_ctx_error(tlb_ctx(L));
  if (tlb_fn_pending_error(L, msg)) return lua_error(L);  /* uncut */
  return luaL_error(L, "%s", msg);
}

/* Lua's collector sees a handle of a few bytes, not the nodes and arrays
** it keeps alive, so on its own it lets dead graphs pile up (an MNIST-size
** loop reached 613 MB before anything was freed) and frees them in bursts.
** So the binding collects for the core, by the rule Lua uses for its own
** heap: once the core holds more than twice what it held after the last
** collection (the Lua heap counted in, and at least TLB_PACE_MIN more), a
** full collection frees the dead handles and their graphs.  Memory stays
** near twice the working set, and the cost, one collection per working
** set's worth of allocation, is amortized as Lua's own is.
**
** Why a full collection and not collector debt (LUA_GCSTEP): in
** generational mode, which lua5.4 runs in, frequent young collections
** promote a handle still in use to old, and old objects wait for a major
** collection that only Lua's own heap growth triggers; with handles of a
** few bytes each, that never comes.
**
** The look costs a subtraction per handle: the live count is read only
** after TLB_PACE_LOOK bytes of new allocation. */
#define TLB_PACE_LOOK ((size_t)64 << 10)
/* A step of the moons demo leaves ~440 KB of graph: with this floor it is
** freed in the next step, not three steps' worth in every third (README,
** "Memory the collector can see"). */
#define TLB_PACE_MIN ((size_t)512 << 10)

void tlb_pace(lua_State *L) {
  tlb_state *s = lua_touserdata(L, lua_upvalueindex(1));
  if (s->ctx == NULL) return;
  size_t allocated = tl_ctx_allocated_bytes(s->ctx);
  if (allocated - s->seen < TLB_PACE_LOOK) return;
  s->seen = allocated;
  if (!s->pace) return;
  size_t heap = (size_t)lua_gc(L, LUA_GCCOUNT, 0) << 10;
  size_t allowed = s->live_after + heap;
  if (allowed < TLB_PACE_MIN) allowed = TLB_PACE_MIN;
  size_t live = tl_ctx_live_bytes(s->ctx);
  if (live < s->live_after) s->live_after = live;   /* freed by Lua's own pace */
  if (live - s->live_after <= allowed) return;
  lua_gc(L, LUA_GCCOLLECT, 0);
  s->live_after = tl_ctx_live_bytes(s->ctx);
}

void tlb_sethandle(lua_State *L, tlb_element *h, tl_node *n) {
  if (n == NULL) tlb_error(L);
  h->node = n;
  tlb_pace(L);
}

void tlb_pushnode(lua_State *L, tl_node *n) {
  tlb_element *h = tlb_newhandle(L);
  tl_retain(n);
  h->node = n;
  tlb_pace(L);
}

/* }====================================================================== */

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

/* Numbers as the running VM's tostring shows them, so a message quotes a
** 0 as the script's own print would: luaL_tolstring's shim prints 5.1's
** numbers as 5.4 prints floats ("0.0"), for Element's print. */
const char *tlb_pushvalue_text(lua_State *L, int i) {
  if (lua_type(L, i) != LUA_TNUMBER) return luaL_tolstring(L, i, NULL);
  lua_pushvalue(L, i);
  return lua_tolstring(L, -1, NULL);     /* converts the copy */
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

tl_dtype tlb_checkdtype(lua_State *L, int idx, int arg, const char *fname) {
  const char *name = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
  for (int t = 0; name != NULL && t < TL_DTYPE_COUNT; t++)
    if (strcmp(name, tl_dtype_name((tl_dtype)t)) == 0) return (tl_dtype)t;
  if (name == NULL)
    return tlb_argerror(L, arg, fname, "dtype name expected (\"float32\" or "
                        "\"float64\"), got %s", typename_of(L, idx)), TL_FLOAT64;
  return tlb_argerror(L, arg, fname, "unknown dtype '%s'; \"float32\" or "
                      "\"float64\" expected", name), TL_FLOAT64;
}

tl_dtype tlb_default_dtype(lua_State *L) {
  tlb_state *s = lua_touserdata(L, lua_upvalueindex(1));
  return (tl_dtype)s->default_dtype;
}

tl_dtype tlb_optdtype(lua_State *L, int arg, const char *fname) {
  if (tlb_getopt(L, arg, "dtype") == LUA_TNIL) {
    lua_pop(L, 1);
    return tlb_default_dtype(L);
  }
  tl_dtype t = tlb_checkdtype(L, -1, arg, fname);
  lua_pop(L, 1);
  return t;
}

lua_Integer tlb_topositive(lua_State *L, int idx, int arg, const char *fname,
                           const char *what) {
  int isint = 0;
  lua_Integer v = lua_type(L, idx) == LUA_TNUMBER ? lua_tointegerx(L, idx, &isint) : 0;
  if (!isint || v <= 0) {
    const char *got = lua_type(L, idx) == LUA_TNUMBER
                    ? tlb_pushvalue_text(L, idx) : luaL_typename(L, idx);
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
  void **box = tlb_newudata(L, sizeof *box);
  *box = NULL;                                  /* born empty */
  if (luaL_newmetatable(L, TLB_BOX)) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    tlb_protect_metatable(L, -1);
  }
  tlb_setmetatable(L, sizeof *box);
  return box;
}

/* }====================================================================== */
