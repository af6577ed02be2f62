/*
** embed.c -- a C program that runs its own Lua VM with Torchlet in it:
** it links the C part of the module in, hands it to the state with
** luaL_requiref, lets require find the pure-Lua part through package.path,
** runs a Lua training script and reads the results back in C.
**
**     build/examples/embed [script [lua-dir]]
**
** The defaults, examples/embed/train.lua and lua, suit a run from the root
** of the repository.  Exits 0 when the network has learnt XOR.
*/
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "../../bindings/torchlet_lua.h"

/* Adds a traceback to error messages of protected calls. */
static int traceback(lua_State *L) {
  luaL_traceback(L, L, luaL_tolstring(L, 1, NULL), 1);
  return 1;
}

/* Calls the function below 'narg' arguments, like lua_pcall with a
** traceback; on error prints it and returns 0. */
static int call(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  int status = lua_pcall(L, narg, nres, base);
  lua_remove(L, base);
  if (status != LUA_OK) {
    fprintf(stderr, "embed: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return status == LUA_OK;
}

/* Puts 'dir'/?.lua and 'dir'/?/init.lua in front of package.path, so that
** require "torchlet" finds the pure-Lua part wherever the host keeps it. */
static void add_lua_dir(lua_State *L, const char *dir) {
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
}

/* Runs the script and its train(steps, lr, seed); the loss and the four
** predictions come back as Lua values read from C.  Returns 1 when every
** prediction has the sign of XOR's answer. */
static int run(lua_State *L, const char *script) {
  if (luaL_loadfile(L, script) != LUA_OK) {
    fprintf(stderr, "embed: %s\n", lua_tostring(L, -1));
    return 0;
  }
  if (!call(L, 0, 1)) return 0;                 /* the script's table */
  if (lua_getfield(L, -1, "train") != LUA_TFUNCTION) {
    fprintf(stderr, "embed: %s returns no train function\n", script);
    return 0;
  }
  lua_pushinteger(L, 300);                      /* steps */
  lua_pushnumber(L, 0.1);                       /* learning rate */
  lua_pushinteger(L, 42);                       /* seed */
  if (!call(L, 3, 2)) return 0;                 /* loss, predictions */
  int isnum;
  double loss = lua_tonumberx(L, -2, &isnum);
  if (!isnum || !lua_istable(L, -1)) {
    fprintf(stderr, "embed: train must return a number and a table\n");
    return 0;
  }
  static const double expected[4] = { -1, 1, 1, -1 };
  int learnt = loss < 0.05;
  printf("embed: loss %.6f after 300 steps\n", loss);
  for (int i = 1; i <= 4; i++) {
    lua_geti(L, -1, i);
    double y = lua_tonumber(L, -1);
    lua_pop(L, 1);
    printf("embed: xor(%d, %d) -> %+.4f\n", (i - 1) >> 1, (i - 1) & 1, y);
    learnt = learnt && y * expected[i - 1] > 0;
  }
  return learnt;
}

/* open_torchlet(lua_dir): the C part becomes package.loaded["torchlet.core"]
** (require finds it there instead of looking for torchlet/core.so on
** package.cpath) and the pure-Lua part is looked for in 'lua_dir'.  Run in
** protected mode (through call), since both may raise when memory is short. */
static int open_torchlet(lua_State *L) {
  const char *lua_dir = luaL_checkstring(L, 1);
  luaL_requiref(L, "torchlet.core", luaopen_torchlet_core, 0);
  add_lua_dir(L, lua_dir);
  return 0;
}

int main(int argc, char **argv) {
  const char *script = argc > 1 ? argv[1] : "examples/embed/train.lua";
  const char *lua_dir = argc > 2 ? argv[2] : "lua";
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "embed: not enough memory for a Lua state\n");
    return EXIT_FAILURE;
  }
  luaL_openlibs(L);
  lua_pushcfunction(L, open_torchlet);
  lua_pushstring(L, lua_dir);
  int ok = call(L, 1, 0) && run(L, script);
  lua_close(L);                  /* also frees Torchlet's context */
  if (!ok) fprintf(stderr, "embed: the network did not learn XOR\n");
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
