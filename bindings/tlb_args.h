/*
** tlb_args.h -- argument checking shared by the bindings: errors that
** name the function and the argument, options tables whose keys are
** checked (a misspelt option is an error, not a silently ignored default)
** and read raw (no metamethod runs in the middle of a binding), and
** Lua-owned scratch whose size is checked for overflow.
*/
#ifndef TORCHLET_TLB_ARGS_H
#define TORCHLET_TLB_ARGS_H

#include "tlb.h"

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

/* The positive integer at stack index 'idx' (floats with an integral
** value accepted), else an error about argument 'arg' calling it 'what'. */
lua_Integer tlb_topositive(lua_State *L, int idx, int arg, const char *fname,
                           const char *what);

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

#endif
