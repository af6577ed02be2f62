/*
** torchlet_lua.h -- Torchlet for C programs that run their own Lua VM.
**
** The Lua module has two parts: the C part "torchlet.core", opened by
** luaopen_torchlet_core below (linked in from libtorchlet_lua.a, or loaded
** from torchlet/core.so by require), and the pure-Lua part "torchlet"
** (lua/torchlet/init.lua, installed under share/lua/5.4), which requires
** "torchlet.core".  A host links the C part in and lets require find the
** Lua part on package.path:
**
**     lua_State *L = luaL_newstate();
**     luaL_openlibs(L);
**     luaL_requiref(L, "torchlet.core", luaopen_torchlet_core, 0);
**     lua_pop(L, 1);
**     // package.path must reach torchlet/init.lua; then scripts may
**     // require "torchlet" as usual.
**
** Threads: each lua_State gets its own tl_ctx (made on first open and kept
** in the registry), so states in different threads share nothing and need
** no locks.  One lua_State must not be used by two threads at once (a Lua
** rule, not a Torchlet one).  The context is freed by lua_close.
*/
#ifndef TORCHLET_LUA_H
#define TORCHLET_LUA_H

#include <lua.h>

/* Opens the C part of the module in 'L' and pushes its table (the one that
** `require "torchlet.core"` returns).  Opening it twice in one state shares
** one context.  Raises a Lua error when memory is short, so call it as
** lua_CFunction (luaL_requiref, lua_pcall, package.preload), not directly
** outside a protected call. */
int luaopen_torchlet_core(lua_State *L);

#endif
