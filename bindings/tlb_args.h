/*
** tlb_args.h -- argument checking shared by the nn, optim and loss
** bindings: errors that name the function and the argument, and options
** tables whose keys are checked (a misspelt option is an error, not a
** silently ignored default).
*/
#ifndef TORCHLET_TLB_ARGS_H
#define TORCHLET_TLB_ARGS_H

#include "tlb.h"

/* Raises "bad argument #arg to 'fname' (MESSAGE)"; 'fmt' takes the
** lua_pushfstring conversions (%s %d %f %I). */
int tlb_argerror(lua_State *L, int arg, const char *fname, const char *fmt,
                 ...);

/* Checks that the value at 'arg' is nil/none or a table whose keys are all
** strings among 'allowed' (NULL-terminated).  Returns 0 for nil, 1 for a
** table. */
int tlb_checkopts(lua_State *L, int arg, const char *fname,
                  const char *const *allowed);

/* Field 'key' of the options table at 'arg' (0 when there is none): a
** number, a boolean or a string, or 'def' when absent. */
double tlb_optnumber(lua_State *L, int arg, const char *fname, const char *key,
                     double def);
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

#endif
