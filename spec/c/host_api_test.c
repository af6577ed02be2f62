/*
** host_api_test.c -- the array functions of torchlet_lua.h: C buffers
** into array Elements and back, through Lua ops in between, and every
** kind of bad input answered with a status and a message naming the
** function, the stack left as documented.
**
**     build/tests/host_api_test
**
** Prints one line per failed check; exits 0 when none failed.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "../../bindings/torchlet_lua.h"

static int failures = 0;

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "host_api_test:%d: %s\n", __LINE__, #cond);          \
      failures++;                                                          \
    }                                                                      \
  } while (0)

/* The status is an error, one message is pushed, and it holds 'part';
** pops the message. */
static void check_error(lua_State *L, int status, int top, const char *part,
                        int line) {
  const char *msg = lua_tostring(L, -1);
  if (status != LUA_ERRRUN || lua_gettop(L) != top + 1 || msg == NULL ||
      strstr(msg, part) == NULL) {
    fprintf(stderr, "host_api_test:%d: expected an error with \"%s\", got "
            "status %d, %d values pushed, message \"%s\"\n", line, part,
            status, lua_gettop(L) - top, msg ? msg : "(none)");
    failures++;
  }
  lua_settop(L, top);
}
#define CHECK_ERROR(status, part) check_error(L, (status), top, (part), __LINE__)
/* The same for a call reading the value on top, which is then popped. */
#define CHECK_ERROR_ON_VALUE(status, part)                                 \
  do {                                                                     \
    check_error(L, (status), top + 1, (part), __LINE__);                   \
    lua_pop(L, 1);                                                         \
  } while (0)

/* Runs 'code' with the value on top as its '...' and leaves one result. */
static int run_with(lua_State *L, const char *code) {
  if (luaL_loadstring(L, code) != LUA_OK) return 0;
  lua_insert(L, -2);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    fprintf(stderr, "host_api_test: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

int main(void) {
  lua_State *L = luaL_newstate();
  if (L == NULL) return 1;
  luaL_openlibs(L);
  int top = lua_gettop(L);
  size_t shape[TORCHLET_LUA_MAX_DIMS], ndim = 99;
  static const size_t s23[2] = { 2, 3 };
  static const double v23[6] = { 1.5, -2, 0.1, 1e300, -0.0, 3 };
  double out[8];

  /* before the module is open: an error, not a crash */
  CHECK_ERROR(tlb_push_array(L, 2, s23, v23), "torchlet.core is not open");
  lua_pushnumber(L, 1);
  CHECK_ERROR_ON_VALUE(tlb_to_array(L, -1, &ndim, shape, out, 8), "not open");

  luaL_requiref(L, "torchlet.core", luaopen_torchlet_core, 0);
  lua_setglobal(L, "core");

  /* C -> Lua: the Element has the shape and the values, bit for bit */
  CHECK(tlb_push_array(L, 2, s23, v23) == LUA_OK);
  CHECK(lua_gettop(L) == top + 1);
  lua_pushvalue(L, -1);
  CHECK(run_with(L, "local x = ...\n"
                    "local s, t = x.shape, x:totable()\n"
                    "return #s == 2 and s[1] == 2 and s[2] == 3 and\n"
                    "  t[1][1] == 1.5 and t[1][2] == -2 and t[1][3] == 0.1 and\n"
                    "  t[2][1] == 1e300 and 1 / t[2][2] < 0 and t[2][3] == 3"));
  CHECK(lua_toboolean(L, -1));
  lua_pop(L, 1);

  /* Lua -> C: the same bits back; NULL data reads the shape alone */
  memset(shape, 0, sizeof shape);
  CHECK(tlb_to_array(L, -1, &ndim, shape, NULL, 0) == LUA_OK);
  CHECK(ndim == 2 && shape[0] == 2 && shape[1] == 3);
  CHECK(lua_gettop(L) == top + 1);              /* pushes nothing */
  for (int i = 0; i < 8; i++) out[i] = 42;
  CHECK(tlb_to_array(L, -1, &ndim, shape, out, 6) == LUA_OK);
  CHECK(memcmp(out, v23, sizeof v23) == 0 && out[6] == 42);

  /* through an op and a gradient: y = 2x, summed; read y and x.grad */
  CHECK(run_with(L, "local x = ...\n"
                    "local y = x * 2\n"
                    "y:sum():backward()\n"
                    "return y"));
  CHECK(tlb_to_array(L, -1, &ndim, shape, out, 8) == LUA_OK);
  int doubled = ndim == 2;
  for (int i = 0; i < 6; i++) doubled = doubled && out[i] == 2 * v23[i];
  CHECK(doubled);
  lua_pop(L, 1);

  /* a 4-d array and a scalar Element (no dimension, one value) */
  static const size_t s4[4] = { 1, 2, 1, 2 };
  static const double v4[4] = { 1, 2, 3, 4 };
  CHECK(tlb_push_array(L, 4, s4, v4) == LUA_OK);
  CHECK(tlb_to_array(L, -1, &ndim, shape, out, 4) == LUA_OK);
  CHECK(ndim == 4 && shape[3] == 2 && memcmp(out, v4, sizeof v4) == 0);
  lua_pop(L, 1);
  CHECK(tlb_push_array(L, 1, s4 + 1, NULL) == LUA_OK);   /* zeros */
  CHECK(tlb_to_array(L, -1, &ndim, shape, out, 2) == LUA_OK);
  CHECK(ndim == 1 && shape[0] == 2 && out[0] == 0 && out[1] == 0);
  lua_pop(L, 1);
  CHECK(luaL_dostring(L, "return core.Element(7.25)") == LUA_OK);
  CHECK(tlb_to_array(L, -1, &ndim, shape, out, 1) == LUA_OK);
  CHECK(ndim == 0 && out[0] == 7.25);
  lua_pop(L, 1);
  CHECK(lua_gettop(L) == top);

  /* bad shapes */
  static const size_t s5[5] = { 1, 1, 1, 1, 1 }, s0[2] = { 2, 0 };
  static const size_t huge[2] = { (size_t)1 << 20, (size_t)1 << 20 };
  CHECK_ERROR(tlb_push_array(L, 0, s23, v23), "tlb_push_array: array: 1 to 4 dimensions");
  CHECK_ERROR(tlb_push_array(L, 5, s5, v23), "1 to 4 dimensions expected, got 5");
  CHECK_ERROR(tlb_push_array(L, 2, s0, v23), "shape[1] is 0");
  CHECK_ERROR(tlb_push_array(L, 2, NULL, v23), "shape expected");
  CHECK_ERROR(tlb_push_array(L, 2, huge, NULL), "more than");

  /* not an array Element: number, nested table, string, another userdata;
  ** a stack index past the top is none */
  lua_pushnumber(L, 3);
  CHECK_ERROR_ON_VALUE(tlb_to_array(L, -1, &ndim, shape, out, 8),
              "tlb_to_array: Element expected at stack index 1, got number");
  CHECK(luaL_dostring(L, "return {{1, 2}, {3, 4}}") == LUA_OK);
  CHECK_ERROR_ON_VALUE(tlb_to_array(L, -1, &ndim, shape, out, 8), "got table");
  lua_pushstring(L, "x");
  CHECK_ERROR_ON_VALUE(tlb_to_array(L, -1, &ndim, shape, out, 8), "got string");
  CHECK(luaL_dostring(L, "return io.stdout") == LUA_OK);
  CHECK_ERROR_ON_VALUE(tlb_to_array(L, -1, &ndim, shape, out, 8), "got FILE*");
  CHECK_ERROR(tlb_to_array(L, 5, &ndim, shape, out, 8),
              "Element expected at stack index 5, got no value");

  /* a buffer too small: nothing written, shape included */
  CHECK(tlb_push_array(L, 2, s23, v23) == LUA_OK);
  top = lua_gettop(L);
  ndim = 99;
  out[0] = 42;
  CHECK_ERROR(tlb_to_array(L, -1, &ndim, shape, out, 5),
              "the buffer holds 5 values, the Element has 6");
  CHECK(ndim == 99 && out[0] == 42);
  /* 'idx' is taken before anything is pushed: -1 is still the array */
  CHECK(tlb_to_array(L, -1, &ndim, shape, out, 6) == LUA_OK && ndim == 2);
  lua_pop(L, 1);

  lua_close(L);
  if (failures == 0) printf("host_api_test: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
