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
** A host that ships no .lua files uses the C part alone: scripts
** `require "torchlet.core"`, which has Element, the array constructors,
** nn, optim, loss and drawing; what lua/torchlet/ adds on top (the data
** sets, plot's Lua helpers, the printing of value tables) is then absent.
**
** Threads: each lua_State gets its own tl_ctx (made on first open and kept
** in the registry), so states in different threads share nothing and need
** no locks.  One lua_State must not be used by two threads at once (a Lua
** rule, not a Torchlet one).  The context is freed by lua_close.
*/
#ifndef TORCHLET_LUA_H
#define TORCHLET_LUA_H

#include <stddef.h>

/* lua.h has no extern "C" of its own (lua.hpp adds it): included here
** inside ours, a C++ host links Lua's functions whatever it includes next. */
#ifdef __cplusplus
extern "C" {
#endif

#include <lua.h>

/* Opens the C part of the module in 'L' and pushes its table (the one that
** `require "torchlet.core"` returns).  Opening it twice in one state shares
** one context.  Raises a Lua error when memory is short, so call it as
** lua_CFunction (luaL_requiref, lua_pcall, package.preload), not directly
** outside a protected call. */
int luaopen_torchlet_core(lua_State *L);

/* Arrays between C and Lua, without nested tables.  Both need the C part
** open in 'L' (luaopen_torchlet_core above), run in protected mode, and
** return a status like lua_pcall: LUA_OK, or LUA_ERRRUN (bad input) or
** LUA_ERRMEM with the error message pushed, which names the function.  So
** a host may call them outside any protected call. */

/* The most dimensions an array has (TL_MAX_DIMS in torchlet.h). */
#define TORCHLET_LUA_MAX_DIMS 4

/* Pushes a new array Element of 'ndim' dimensions (1 to
** TORCHLET_LUA_MAX_DIMS, none 0) holding a copy of the row-major values
** data[0 .. shape[0] * ... * shape[ndim-1] - 1] (zeros if 'data' is NULL).
** On error nothing but the message is pushed. */
int tlb_push_array(lua_State *L, size_t ndim, const size_t *shape,
                   const double *data);

/* Reads the Element at stack index 'idx': its number of dimensions into
** *ndim (0 for a scalar Element), its shape into shape[0 .. *ndim-1]
** ('shape' holds TORCHLET_LUA_MAX_DIMS), and, if 'data' is not NULL, its
** values, row-major, into data[0 .. n-1] (n the product of the shape, 1
** for a scalar), which must hold 'len' >= n values.  Call it with 'data'
** NULL to size the buffer from the shape.  Pushes nothing on success; on
** error (not an Element, one already collected, 'len' too small) pushes
** the message and writes nothing. */
int tlb_to_array(lua_State *L, int idx, size_t *ndim, size_t *shape,
                 double *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif
