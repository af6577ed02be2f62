/*
** tlb.h -- the bindings' runtime (runtime.c), what every binding file
** uses: the per-state context, Element handles, how functions and classes
** are registered, and argument checking: errors that name the function
** and the argument, and options tables whose keys are checked (a misspelt
** option is an error, not a silently ignored default).
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
#include "tlb_loadable.h" /* a module loaded into the wrong VM says so */

#include "../core/torchlet.h"
#include "../core/tl_trace.h"

#define TLB_ELEMENT "torchlet.Element"
#define TLB_NUPVALUES 2
/* Where the registry keeps the state userdata (module.c makes it); the
** host functions (host_api.c) rebuild the two upvalues from these keys. */
#define TLB_STATE_KEY "torchlet.state.object"

typedef struct tlb_state {
  tl_ctx *ctx;
  size_t seen;          /* tl_ctx_allocated_bytes at the last look */
  size_t live_after;    /* tl_ctx_live_bytes after the last collection */
  int pace;             /* collect for the core at all (pace_collector) */
  int default_dtype;    /* tl_dtype of new arrays (set_default_dtype) */
  /* custom ops (function.c): the thread of the latest binding call, where
  ** their callbacks run Lua; records whose nodes were freed */
  lua_State *L;
  struct tlb_fnrec *dead;
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

/* Object userdata (Elements, modules, optimizers, boxes...) hold 'size'
** bytes, then the address of the metatable they were given.  A script
** with the debug library can give any userdata any metatable; the
** metatable and the size alone took a Lua 5.1 FILE* (8 bytes) for an
** Element, and an Element (8 bytes) for the graphviz session, whose
** finalizer then freed a node as a session.  tlb_newudata pushes one with
** no metatable yet; tlb_setmetatable pops the table at the top and makes
** it the metatable of the object below, recording it; tlb_setclass does
** that with registry[tname]. */
void *tlb_newudata(lua_State *L, size_t size);
void tlb_setmetatable(lua_State *L, size_t size);
void tlb_setclass(lua_State *L, const char *tname, size_t size);

/* The object at 'i' if it was made by tlb_newudata with 'size' bytes and
** given registry[tname] as its metatable, which it still has; else NULL. */
void *tlb_testudata(lua_State *L, int i, const char *tname, size_t size);

/* Sets the metatable at 'idx' a __metatable field: a copy of it without
** __gc, so that getmetatable(x) still shows the metamethods but no script
** can call __gc by hand and free what a running C function is using. */
void tlb_protect_metatable(lua_State *L, int idx);

/* Registers a class: pushes a new metatable registry[tname] (with __name)
** holding the functions of 'meta'; its __index is the table of 'methods'
** (if not NULL), or, with 'index' too, the closure 'index' with that table
** as its upvalue 3 (for fields besides methods); then protects it (no
** __gc for scripts).  All functions get the module's two upvalues. */
void tlb_newclass(lua_State *L, const char *tname, const luaL_Reg *meta,
                  const luaL_Reg *methods, lua_CFunction index);

/* Adds the functions of 'l' to the Element methods (e:visualize()), kept
** in the registry under TLB_ELEMENT_METHODS by element.c: binding files
** reach each other through the runtime, not through module fields. */
#define TLB_ELEMENT_METHODS "torchlet.Element.methods"
void tlb_add_element_methods(lua_State *L, const luaL_Reg *l);

/* Sets the functions of 'l' into the table at the top of the stack, each
** with the module's two upvalues. */
void tlb_setfuncs(lua_State *L, const luaL_Reg *l);

/* The handle at 'i' if it is an Element (even one whose node was
** collected), else NULL. */
tlb_element *tlb_tohandle(lua_State *L, int i);
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
tl_node *tlb_push_table_array(lua_State *L, int idx, const char *fname, int arg,
                              tl_dtype t);
/* Pushes n's values (or gradient, zeros if none) as a number for a scalar,
** nested tables for an array. */
void tlb_push_values(lua_State *L, tl_node *n, int grad);
/* n's values as doubles: tl_values for float64, else a copy in a userdata
** pushed onto the stack (valid until the calling C function returns). */
const double *tlb_values_f64(lua_State *L, tl_node *n);
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
/* ops_extra.c: the methods and torchlet.cat, torchlet.stack (called as
** tlb_open_array), and the C functions of its op methods (or NULL). */
void tlb_open_ops_extra(lua_State *L);
lua_CFunction tlb_ops_extra_method(tl_op op);
void tlb_open_nn(lua_State *L);      /* module.nn, the Module userdata */
void tlb_open_optim(lua_State *L);   /* module.optim, the Optimizer userdata */
void tlb_open_loss(lua_State *L);    /* module.loss */
void tlb_open_checkpoint(lua_State *L);  /* module.save_checkpoint ... */
void tlb_open_function(lua_State *L);    /* module._autograd (function.c) */
void tlb_open_compile(lua_State *L);     /* module._compile (compile.c) */
/* Custom ops (function.c): drops the records of freed custom nodes from
** the registry (tlb_ctx and Element finalizers call it); and pushes the
** full message of a failed callback when 'msg' (the context's error, cut
** at 255 bytes) begins it, returning 1 (0 and nothing pushed otherwise). */
void tlb_fn_drain(lua_State *L, tlb_state *S);
int tlb_fn_pending_error(lua_State *L, const char *msg);

/* {== Models and optimizers for checkpoints (nn.c, optim.c) ============= */

struct tl_mlp;
struct tl_optim;

/* Push a Module / Optimizer handle born empty; the fill functions then
** hand the handle at 'idx' its model / optimizer, which it owns from then
** on even if filling raises (a model's forward scratch is allocated). */
void tlb_pushmodel(lua_State *L);
void tlb_fillmodel(lua_State *L, int idx, struct tl_mlp *m);
void tlb_pushoptim(lua_State *L);
void tlb_filloptim(lua_State *L, int idx, struct tl_optim *o);
/* The model / optimizer at stack index 'idx', else an error about
** argument 'arg' of 'fname' calling it 'what' ("field 'model'"). */
struct tl_mlp *tlb_checkmodel(lua_State *L, int idx, int arg,
                              const char *fname, const char *what);
struct tl_optim *tlb_checkoptim(lua_State *L, int idx, int arg,
                                const char *fname, const char *what);

/* {== Arguments and options ============================================ */

/* Raises "bad argument #arg to 'fname' (MESSAGE)"; 'fmt' takes the
** lua_pushfstring conversions (%s %d %f; %I from Lua 5.3 on).  'arg' is
** the stack index; in a method call (e:f(x)) the message counts as Lua
** does, without the receiver (x is #1), as luaL_argerror. */
int tlb_argerror(lua_State *L, int arg, const char *fname, const char *fmt,
                 ...);

/* Pushes 'n' in decimal and returns the string, for messages about sizes
** and positions (a cast to int would turn 2^31 negative; %I is not in
** Lua 5.1). */
const char *tlb_pushsize(lua_State *L, size_t n);
/* The same for a Lua integer, such as a position a script gave (x[2^31]
** or x[-1] must be named as given, not wrapped by a cast). */
const char *tlb_pushint(lua_State *L, lua_Integer n);

/* Pushes the value at 'i' as text for a message, as luaL_tolstring, but a
** number as the running VM's tostring prints it (0 on Lua 5.1, not 0.0). */
const char *tlb_pushvalue_text(lua_State *L, int i);

/* Checks that the value at 'arg' is nil/none or a table whose keys are all
** strings among 'allowed' (NULL-terminated; the message of an unknown key
** lists them).  Returns 0 for nil, 1 for a table. */
int tlb_checkopts(lua_State *L, int arg, const char *fname,
                  const char *const *allowed);

/* Pushes field 'key' of the options table at 'arg', read raw (nil when
** there are no options), and returns its type: for options with values of
** their own shape (a list, a pair). */
int tlb_getopt(lua_State *L, int arg, const char *key);

/* Field 'key' of the options table at 'arg' (0 when there is none): a
** number, a positive integer, a boolean or a string (without NUL bytes),
** or 'def' when absent; anything else is an error naming the option. */
double tlb_optnumber(lua_State *L, int arg, const char *fname, const char *key,
                     double def);
size_t tlb_optcount(lua_State *L, int arg, const char *fname, const char *key,
                    size_t def);
int tlb_optboolean(lua_State *L, int arg, const char *fname, const char *key,
                   int def);
const char *tlb_optstring(lua_State *L, int arg, const char *fname,
                          const char *key, const char *def);

/* The dtype named by the string at 'idx' ("float32", "float64"), else
** an error about argument 'arg'; tlb_optdtype reads option 'dtype' of the
** options table at 'arg', the state's default dtype when absent. */
tl_dtype tlb_checkdtype(lua_State *L, int idx, int arg, const char *fname);
tl_dtype tlb_optdtype(lua_State *L, int arg, const char *fname);
/* The default dtype of new arrays in this state (set_default_dtype). */
tl_dtype tlb_default_dtype(lua_State *L);

/* The positive integer at stack index 'idx' (floats with an integral
** value accepted), else an error about argument 'arg' calling it 'what'. */
lua_Integer tlb_topositive(lua_State *L, int idx, int arg, const char *fname,
                           const char *what);

/* 1 while a compiled step is recorded (bindings/compile.c) when n's
** values change from one replay to the next: n is one of the step's
** inputs or an op's result; 0 otherwise. */
int tlb_varies_in_capture(lua_State *L, tl_node *n);

/* Length of the table at 'arg' (raw), or an error saying a table was
** expected for 'what'. */
size_t tlb_checklist(lua_State *L, int arg, const char *fname,
                     const char *what);

/* The file name at stack index 'idx' (a string: the caller checked), or
** an error when it holds a NUL byte: C's file functions would stop there
** and write another file ("m.tl\0.bak" would replace "m.tl").  The error
** names argument 'arg' of 'fname' and calls the value 'what' ("path",
** "field 'file'"); with 'fname' NULL the function's name and the argument
** numbering come from the call, as luaL_argerror gives them. */
const char *tlb_tofilename(lua_State *L, int idx, int arg, const char *fname,
                           const char *what);

/* Pushes a userdata of 'count' items of 'size' bytes (at least one byte)
** and returns it: scratch the collector frees whatever error follows.  A
** byte count that does not fit in size_t is an error about argument 'arg';
** an allocation that fails is Lua's memory error. */
void *tlb_newscratch(lua_State *L, size_t count, size_t size, int arg,
                     const char *fname);

/* Pushes a box for one malloc'd block, born empty, and returns its slot:
** the block is freed by the box's __gc unless the caller takes it out
** (frees it and sets the slot NULL) first.  Holds C memory across Lua
** allocations, which can raise. */
void **tlb_newbox(lua_State *L);

/* }====================================================================== */

#endif
