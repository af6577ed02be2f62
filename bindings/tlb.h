/*
** tlb.h -- what the binding files share: the per-state context, Element
** handles, and how functions are registered.
**
** Every C function of the module is a closure with two upvalues:
**   1. the state userdata (tlb_state), which owns the tl_ctx;
**   2. the Element metatable, used to recognise and make Element handles.
** Register functions with tlb_setfuncs so they get both.
*/
#ifndef TORCHLET_TLB_H
#define TORCHLET_TLB_H

#include <lauxlib.h>
#include <lua.h>

#include "tlb_compat.h"   /* Lua 5.3, 5.1 and LuaJIT; nothing for 5.4 */

#include "../core/torchlet.h"

#define TLB_ELEMENT "torchlet.Element"
#define TLB_NUPVALUES 2

typedef struct tlb_state {
  tl_ctx *ctx;
  size_t seen;          /* tl_ctx_allocated_bytes at the last look */
  size_t live_after;    /* tl_ctx_live_bytes after the last collection */
  int pace;             /* collect for the core at all (pace_collector) */
} tlb_state;

/* An Element handle: one reference on 'node', or NULL once collected. */
typedef struct tlb_element {
  tl_node *node;
} tlb_element;

/* The context of this lua_State (from upvalue 1); raises an error once
** the state is closing and the context is gone.  Finalizers use
** tlb_ctx_or_null, which returns NULL then. */
tl_ctx *tlb_ctx(lua_State *L);
tl_ctx *tlb_ctx_or_null(lua_State *L);

/* Table lengths taken from Lua are capped, so that sizes computed from
** them (n * sizeof x) cannot wrap: a sparse table such as {[2^60] = 1}
** has a huge raw length and almost no entries. */
#define TLB_MAX_LEN ((lua_Unsigned)1 << 31)
/* lua_rawlen of the table at 'idx', or an error naming argument 'arg' of
** 'fname' past TLB_MAX_LEN. */
size_t tlb_rawlen(lua_State *L, int idx, int arg, const char *fname);

/* The userdata at 'i' if its metatable is registry[tname] and its size is
** 'size', else NULL.  The size matters only to scripts using the debug
** library, which can give any userdata any metatable. */
void *tlb_testudata(lua_State *L, int i, const char *tname, size_t size);

/* Sets the metatable at 'idx' a __metatable field: a copy of it without
** __gc, so that getmetatable(x) still shows the metamethods but no script
** can call __gc by hand and free what a running C function is using. */
void tlb_protect_metatable(lua_State *L, int idx);

/* Sets the functions of 'l' into the table at the top of the stack, each
** with the module's two upvalues. */
void tlb_setfuncs(lua_State *L, const luaL_Reg *l);

/* The node of the Element at index 'i', or NULL if the value there is not
** an Element.  Raises an error if it is an Element whose node was freed. */
tl_node *tlb_toelement(lua_State *L, int i);
/* Like tlb_toelement, but raises "Element expected, got T" otherwise. */
tl_node *tlb_checkelement(lua_State *L, int i);

/* Pushes an empty handle (node NULL) and returns it.  Make the handle
** before calling core, then store the node: if anything raises in between,
** the empty handle is collected harmlessly. */
tlb_element *tlb_newhandle(lua_State *L);
/* Stores 'n' (whose reference the handle takes over) in the handle 'h';
** if 'n' is NULL, raises the context's error message instead.  Then paces
** the collector (tlb_pace): callers hold no pointer that a finalizer could
** free across it, as across any Lua allocation. */
void tlb_sethandle(lua_State *L, tlb_element *h, tl_node *n);
/* Collects garbage for the core when it holds twice its working set
** (element.c says how); finalizers may run. */
void tlb_pace(lua_State *L);
/* Pushes a new handle holding one new reference to 'n'. */
void tlb_pushnode(lua_State *L, tl_node *n);

/* Raises "bad argument #i to 'fname' (EXPECTED expected, got TYPE)".
** Metamethods name themselves ('__add'): Lua 5.4.4's own messages would
** say 'add', or '?' when the metamethod is called directly. */
int tlb_typeerror(lua_State *L, int i, const char *fname, const char *expected);

/* Raises the context's last error as a Lua error. */
int tlb_error(lua_State *L);

/* Arrays (array.c).  Pushes a new array Element read from the nested table
** at 'idx' and returns its node; bad tables raise errors naming 'fname' and
** argument 'arg'. */
tl_node *tlb_push_table_array(lua_State *L, int idx, const char *fname, int arg);
/* Pushes n's values (or gradient, zeros if none) as a number for a scalar,
** nested tables for an array. */
void tlb_push_values(lua_State *L, tl_node *n, int grad);
/* Pushes the shape as a Lua array ({} for a scalar). */
void tlb_push_shape(lua_State *L, tl_node *n);
/* x[i] for an integer key at 'key': pushes the row and returns 1, or
** returns 0 if the key is not an integer. */
int tlb_index_array(lua_State *L, tl_node *n, int key);
/* Assigns a nested table of n's shape to its data or gradient. */
void tlb_assign_values(lua_State *L, tl_node *n, int idx, int grad,
                       const char *field);

/* Openers of the binding families, called by luaopen_torchlet_core with the
** module table on top of the stack. */
void tlb_open_element(lua_State *L);
void tlb_open_viz(lua_State *L);
/* Called by tlb_open_element with the methods table on top. */
void tlb_open_array(lua_State *L);
/* The method of an array op (TL_OP_LIST's method column), or NULL: a
** closure with the op as upvalue 3 and its Lua name as upvalue 4. */
lua_CFunction tlb_array_method(tl_op op);
void tlb_open_nn(lua_State *L);      /* module.nn, the Module userdata */
void tlb_open_optim(lua_State *L);   /* module.optim, the Optimizer userdata */
void tlb_open_loss(lua_State *L);    /* module.loss */

#endif
