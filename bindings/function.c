/*
** function.c -- custom ops written in Lua (torchlet.Function, whose Lua
** half is lua/torchlet/autograd.lua) on the core's callback op
** (core/tl_custom.h), and the core steps gradcheck takes at each op.
**
** One record per call of a Function: a Lua table in the registry table
** TLB_FN_KEY, keyed by the light userdata of its C part (a full userdata
** kept in the table, 'fnrec'), holding the Function, the call's ctx table
** and its non-Element arguments.  The core node owns the record through
** its user pointer; its destructor cannot call Lua (it runs inside the
** core's frees), so it puts the record on the state's list of dead ones,
** and the next binding call (tlb_ctx) or Element finalizer drops them
** from the registry (tlb_fn_drain): the ctx table and what it saved are
** then garbage.
**
** The callbacks run Lua under lua_pcall, on the thread of the binding call
** that entered the core (tlb_state.L), so an error never unwinds through
** the core: it stops the backward sweep, which returns a status, and the
** binding raises it (tlb_error) in full, "swish backward: ...".
*/
#include <stdlib.h>
#include <string.h>

#include "../core/tl_custom.h"
#include "tlb.h"

#define TLB_FN_KEY "torchlet.functions"
#define NAME_LEN 64

/* The C part of a record.  'recorded': the node exists, so a forward call
** is a replay (gradcheck), which gets a ctx table of its own. */
struct tlb_fnrec {
  struct tlb_fnrec *next;   /* on the state's dead list */
  tlb_state *S;
  int recorded;
  char name[NAME_LEN];
};

typedef struct tlb_fnrec fnrec;

static tlb_state *state_of(lua_State *L) {
  return lua_touserdata(L, lua_upvalueindex(1));
}

/* Pushes the registry table of records. */
static void push_fn_table(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, TLB_FN_KEY);
}

void tlb_fn_drain(lua_State *L, tlb_state *S) {
  if (S->dead == NULL) return;
  push_fn_table(L);
  while (S->dead != NULL) {
    fnrec *r = S->dead;
    S->dead = r->next;
    lua_pushnil(L);
    lua_rawsetp(L, -2, r);        /* assigning nil never allocates */
  }
  lua_pop(L, 1);
}

static void fn_destroy(void *ud) {
  fnrec *r = ud;
  r->next = r->S->dead;
  r->S->dead = r;
}

/* {======================================================================
** Errors: the full message of a failed callback
** ======================================================================= */

/* error_body(err, r, what): "NAME WHAT: message" from the error object,
** kept in the record table under "error" (the core keeps 255 bytes of it),
** and returned.  Protected: formatting allocates. */
static int error_body(lua_State *L) {
  const fnrec *r = lua_touserdata(L, 2);
  const char *what = lua_touserdata(L, 3);
  const char *msg = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;
  if (msg == NULL)
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  lua_pushfstring(L, "%s %s: %s", r->name, what, msg);
  push_fn_table(L);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "error");
  lua_pop(L, 1);
  return 1;
}

/* Sets the context's error from the error object at the top of the stack
** (popped), through error_body. */
static void keep_error(lua_State *L, tl_ctx *ctx, const fnrec *r,
                       const char *what) {
  int top = lua_gettop(L);
  push_fn_table(L);
  lua_getfield(L, -1, "error_body");
  lua_remove(L, -2);
  lua_pushvalue(L, top);
  lua_pushlightuserdata(L, (void *)r);
  lua_pushlightuserdata(L, (void *)what);
  if (lua_pcall(L, 3, 1, 0) == LUA_OK)
    tl_ctx_fail(ctx, TL_EARG, "%s", lua_tostring(L, -1));
  else
    tl_ctx_fail(ctx, TL_EARG, "%s %s: failed (and reporting it failed too)",
                r->name, what);
  lua_settop(L, top - 1);
}

int tlb_fn_pending_error(lua_State *L, const char *msg) {
  push_fn_table(L);
  if (lua_type(L, -1) != LUA_TTABLE) { lua_pop(L, 1); return 0; }
  lua_getfield(L, -1, "error");
  lua_pushnil(L);
  lua_setfield(L, -3, "error");       /* once */
  size_t len;
  const char *full = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
  size_t n = strlen(msg);
  if (full == NULL || len < n || memcmp(full, msg, n) != 0) {
    lua_pop(L, 2);
    return 0;
  }
  lua_remove(L, -2);
  return 1;
}

/* }====================================================================== */

/* {======================================================================
** Callbacks from the core, and the protected Lua bodies they run
** ======================================================================= */

typedef struct fwd_args {
  fnrec *r;
  size_t nin;
  tl_node *const *in;
  tl_node *out;             /* the result, one reference, set on success */
} fwd_args;

typedef struct bwd_args {
  fnrec *r;
  tl_node *out;
  const double *gout;
  size_t nin;
  tl_node *const *in;
  double *const *gin;
} bwd_args;

/* Pushes the record table of 'r' (an error if it is gone). */
static void push_record(lua_State *L, fnrec *r) {
  push_fn_table(L);
  lua_rawgetp(L, -1, r);
  lua_remove(L, -2);
  if (lua_type(L, -1) != LUA_TTABLE) luaL_error(L, "its record is gone");
}

/* Pushes the call's arguments: Elements for the inputs in[], the others
** as they were given (record.args); returns their count. */
static int push_args(lua_State *L, int rec, size_t nin, tl_node *const *in) {
  lua_getfield(L, rec, "nargs");
  int nargs = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  luaL_checkstack(L, nargs + 4, "too many arguments");
  lua_getfield(L, rec, "slots");          /* arg position -> input index */
  lua_getfield(L, rec, "args");           /* the other arguments */
  int slots = lua_gettop(L) - 1, args = slots + 1;
  for (int j = 1; j <= nargs; j++) {
    if (lua_rawgeti(L, slots, j) == LUA_TNUMBER) {
      size_t k = (size_t)lua_tointeger(L, -1);
      lua_pop(L, 1);
      if (k < 1 || k > nin) luaL_error(L, "input %d out of range", j);
      tlb_pushnode(L, in[k - 1]);
    } else {
      lua_pop(L, 1);
      lua_rawgeti(L, args, j);
    }
  }
  lua_remove(L, slots);
  lua_remove(L, slots);
  return nargs;
}

/* forward_body(args): calls Function.forward(ctx, ...) and checks that it
** returns an Element or a number. */
static int forward_body(lua_State *L) {
  fwd_args *a = lua_touserdata(L, 1);
  tl_ctx *ctx = tlb_ctx(L);
  push_record(L, a->r);
  int rec = lua_gettop(L);
  lua_getfield(L, rec, "fn");
  lua_getfield(L, -1, "forward");
  lua_remove(L, -2);
  lua_getfield(L, rec, "ctx");
  if (a->r->recorded) {               /* a replay: a ctx of its own */
    lua_newtable(L);
    if (lua_getmetatable(L, -2)) lua_setmetatable(L, -2);
    lua_getfield(L, -2, "needs_input_grad");
    lua_setfield(L, -2, "needs_input_grad");
    lua_remove(L, -2);
  }
  int nargs = push_args(L, rec, a->nin, a->in);
  lua_call(L, nargs + 1, 1);
  tl_node *v = tlb_toelement(L, -1);
  if (v == NULL && lua_type(L, -1) == LUA_TNUMBER) {
    tlb_element *h = tlb_newhandle(L);
    tlb_sethandle(L, h, tl_leaf(ctx, lua_tonumber(L, -2)));
    v = h->node;
  }
  if (v == NULL)
    return luaL_error(L, "an Element or a number expected as its result, "
                      "got %s", luaL_typename(L, -1));
  tl_retain(v);
  a->out = v;
  return 0;
}

/* The thread to run Lua on: the latest binding call's (tlb_ctx sets it),
** put back after the call, as Lua code run by the callback may have run
** torchlet on another coroutine. */
static tl_node *fn_forward(tl_ctx *ctx, void *ud, size_t nin,
                           tl_node *const *in) {
  fnrec *r = ud;
  lua_State *L = r->S->L;
  fwd_args a = {r, nin, in, NULL};
  push_fn_table(L);
  lua_getfield(L, -1, "forward_body");
  lua_remove(L, -2);
  lua_pushlightuserdata(L, &a);
  int st = lua_pcall(L, 1, 0, 0);
  r->S->L = L;
  if (st != LUA_OK) {
    keep_error(L, ctx, r, "forward");
    if (a.out != NULL) tl_release(ctx, a.out);
    return NULL;
  }
  return a.out;
}

/* "(2, 3)", or "scalar", into buf. */
static const char *shape_of(const tl_node *n, char *buf, size_t size) {
  size_t nd = tl_ndim(n);
  if (nd == 0) { snprintf(buf, size, "scalar"); return buf; }
  int at = snprintf(buf, size, "(");
  for (size_t d = 0; d < nd && at > 0 && (size_t)at < size; d++)
    at += snprintf(buf + at, size - (size_t)at, "%s%zu", d ? ", " : "",
                   tl_dim(n, d));
  if (at > 0 && (size_t)at < size) snprintf(buf + at, size - (size_t)at, ")");
  return buf;
}

/* Reads gradient value 'v' (stack index) for input 'x' into 'dst' (NULL:
** checked, not stored); 'j' numbers it in messages.  A number for a scalar
** input, an Element of x's shape, or a nested table of it for an array. */
static void read_grad(lua_State *L, int v, tl_node *x, double *dst, int j) {
  int top = lua_gettop(L);
  char want[64], got[64];
  shape_of(x, want, sizeof want);
  if (lua_type(L, v) == LUA_TNUMBER) {
    if (tl_ndim(x) != 0)
      luaL_error(L, "gradient %d: shape %s expected (its input's), got a "
                 "number", j, want);
    if (dst) dst[0] = lua_tonumber(L, v);
    return;
  }
  tl_node *g = tlb_toelement(L, v);
  if (g == NULL && lua_type(L, v) == LUA_TTABLE && tl_ndim(x) != 0)
    g = tlb_push_table_array(L, v, "backward", j, TL_FLOAT64);
  if (g == NULL)
    luaL_error(L, "gradient %d: a number, an Element or a table of shape %s "
               "expected (its input's), got %s", j, want, luaL_typename(L, v));
  int same = tl_ndim(g) == tl_ndim(x);
  for (size_t d = 0; same && d < tl_ndim(x); d++) same = tl_dim(g, d) == tl_dim(x, d);
  if (!same)
    luaL_error(L, "gradient %d: shape %s expected (its input's), got %s", j,
               want, shape_of(g, got, sizeof got));
  if (dst) tl_read_values(g, dst);
  lua_settop(L, top);
}

/* backward_body(args): calls Function.backward(ctx, grad) and reads one
** gradient per argument of the call into the core's buffers. */
static int backward_body(lua_State *L) {
  bwd_args *a = lua_touserdata(L, 1);
  tl_ctx *ctx = tlb_ctx(L);
  push_record(L, a->r);
  int rec = lua_gettop(L);
  lua_getfield(L, rec, "nargs");
  int nargs = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, rec, "fn");
  lua_getfield(L, -1, "backward");
  lua_remove(L, -2);
  lua_getfield(L, rec, "ctx");
  if (tl_is_array(a->out)) {
    size_t shape[TL_MAX_DIMS];
    for (size_t d = 0; d < tl_ndim(a->out); d++) shape[d] = tl_dim(a->out, d);
    tlb_element *h = tlb_newhandle(L);
    tlb_sethandle(L, h, tl_array(ctx, tl_ndim(a->out), shape, a->gout));
  } else {
    lua_pushnumber(L, a->gout[0]);
  }
  int base = lua_gettop(L) - 3;
  lua_call(L, 2, LUA_MULTRET);
  luaL_checkstack(L, 8, "too many gradients");
  int nres = lua_gettop(L) - base;
  if (nres != nargs)
    return luaL_error(L, "%d gradient%s expected (one per argument of the "
                      "call, nil for none), got %d", nargs,
                      nargs == 1 ? "" : "s", nres);
  lua_getfield(L, rec, "slots");
  int slots = lua_gettop(L);
  for (int j = 1; j <= nargs; j++) {
    int v = base + j;
    int is_input = lua_rawgeti(L, slots, j) == LUA_TNUMBER;
    size_t k = (size_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (lua_isnil(L, v)) continue;
    if (!is_input)
      return luaL_error(L, "gradient %d: nil expected (argument %d is not "
                        "an Element), got %s", j, j, luaL_typename(L, v));
    if (k < 1 || k > a->nin) return luaL_error(L, "input %d out of range", j);
    read_grad(L, v, a->in[k - 1], a->gin[k - 1], j);
  }
  return 0;
}

static tl_status fn_backward(tl_ctx *ctx, void *ud, tl_node *out,
                             const double *gout, size_t nin,
                             tl_node *const *in, double *const *gin) {
  fnrec *r = ud;
  lua_State *L = r->S->L;
  bwd_args a = {r, out, gout, nin, in, gin};
  push_fn_table(L);
  lua_getfield(L, -1, "backward_body");
  lua_remove(L, -2);
  lua_pushlightuserdata(L, &a);
  int grad = tl_set_grad_enabled(ctx, 0);     /* no double backward */
  int st = lua_pcall(L, 1, 0, 0);
  tl_set_grad_enabled(ctx, grad);
  r->S->L = L;
  if (st != LUA_OK) {
    keep_error(L, ctx, r, "backward");
    return TL_EARG;
  }
  return TL_OK;
}

/* }====================================================================== */

/* {======================================================================
** Lua functions (core._autograd)
** ======================================================================= */

/* apply(fn, ctx, ...): the node of the Function 'fn' (a table from
** torchlet.Function, checked there) over the arguments; 'ctx' is the
** call's ctx table. */
static int fn_apply(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  tl_ctx *ctx = tlb_ctx(L);
  tlb_state *S = state_of(L);
  int nargs = lua_gettop(L) - 2;
  lua_getfield(L, 1, "name");
  const char *name = lua_tostring(L, -1);
  if (name == NULL) return luaL_error(L, "Function: no name");
  size_t nin = 0;
  for (int j = 1; j <= nargs; j++) nin += tlb_toelement(L, 2 + j) != NULL;
  if (nin == 0)
    return luaL_error(L, "%s: at least one Element argument expected", name);
  tl_node **in = tlb_newscratch(L, nin, sizeof *in, 3, name);
  lua_createtable(L, 0, 6);                     /* the record */
  int rec = lua_gettop(L);
  lua_pushvalue(L, 1);
  lua_setfield(L, rec, "fn");
  lua_pushvalue(L, 2);
  lua_setfield(L, rec, "ctx");
  lua_pushinteger(L, nargs);
  lua_setfield(L, rec, "nargs");
  lua_createtable(L, nargs, 0);
  lua_createtable(L, nargs, 0);
  for (int j = 1, k = 0; j <= nargs; j++) {
    tl_node *x = tlb_toelement(L, 2 + j);
    if (x != NULL) {
      in[k++] = x;
      lua_pushinteger(L, k);
      lua_rawseti(L, -3, j);
    } else {
      lua_pushvalue(L, 2 + j);
      lua_rawseti(L, -2, j);
    }
  }
  lua_setfield(L, rec, "args");
  lua_setfield(L, rec, "slots");
  fnrec *r = lua_newuserdatauv(L, sizeof *r, 0);
  r->next = NULL;
  r->S = S;
  r->recorded = 0;
  snprintf(r->name, sizeof r->name, "%s", name);
  lua_setfield(L, rec, "ud");
  push_fn_table(L);
  lua_pushvalue(L, rec);
  lua_rawsetp(L, -2, r);
  lua_pop(L, 1);
  tlb_element *h = tlb_newhandle(L);
  tl_custom_fn fn = {r->name, fn_forward, fn_backward, fn_destroy, r};
  S->L = L;
  tl_node *n = tl_custom(ctx, &fn, nin, in);   /* owns r from here */
  if (n != NULL) r->recorded = 1;
  tlb_sethandle(L, h, n);                      /* raises the error */
  return 1;
}

/* replay(e): e's op again at its inputs' values now (tl_replay). */
static int fn_replay(lua_State *L) {
  tl_node *n = tlb_checkelement(L, 1);
  tl_ctx *ctx = tlb_ctx(L);
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_replay(ctx, n));
  return 1;
}

/* The number at 'arg' (the API functions of tlb_loadable.h only). */
static double check_number(lua_State *L, int arg, const char *fname) {
  int isnum;
  double v = lua_tonumberx(L, arg, &isnum);
  if (!isnum || lua_type(L, arg) != LUA_TNUMBER)
    tlb_typeerror(L, arg, fname, "number");
  return v;
}

/* local_grads(e, g): what e's op gives each input when 'g' (a number for a
** scalar e, else an Element of e's shape) arrives: a list, a number per
** scalar input, an Element per array input. */
static int fn_local_grads(lua_State *L) {
  tl_node *n = tlb_checkelement(L, 1);
  tl_ctx *ctx = tlb_ctx(L);
  size_t nin = tl_ninputs(n), total = 0;
  if (nin == 0) return luaL_error(L, "local_grads: the result of an op expected");
  double one;
  const double *gout = &one;
  if (tl_is_array(n)) {
    tl_node *g = tlb_checkelement(L, 2);
    if (tl_size(g) != tl_size(n))
      return luaL_error(L, "local_grads: a gradient of %s values expected",
                        tlb_pushsize(L, tl_size(n)));
    gout = tlb_values_f64(L, g);
  } else {
    one = check_number(L, 2, "local_grads");
  }
  for (size_t i = 0; i < nin; i++) total += tl_size(tl_input(n, i));
  double **gin = tlb_newscratch(L, nin, sizeof *gin, 1, "local_grads");
  double *buf = tlb_newscratch(L, total, sizeof *buf, 1, "local_grads");
  for (size_t i = 0, at = 0; i < nin; i++) {
    gin[i] = buf + at;
    at += tl_size(tl_input(n, i));
  }
  tlb_state *S = state_of(L);
  S->L = L;
  if (tl_local_grads(ctx, n, gout, gin) != TL_OK) return tlb_error(L);
  lua_createtable(L, (int)nin, 0);
  for (size_t i = 0; i < nin; i++) {
    tl_node *x = tl_input(n, i);
    if (!tl_is_array(x)) lua_pushnumber(L, gin[i][0]);
    else {
      size_t shape[TL_MAX_DIMS];
      for (size_t d = 0; d < tl_ndim(x); d++) shape[d] = tl_dim(x, d);
      tlb_element *h = tlb_newhandle(L);
      tlb_sethandle(L, h, tl_array(ctx, tl_ndim(x), shape, gin[i]));
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* ops(e): the op results of e's graph in the order backward runs them,
** each {element, position} with its 1-based position in topological
** order (the number e:explain() calls nodes by). */
static int fn_ops(lua_State *L) {
  tl_node *n = tlb_checkelement(L, 1);
  tl_ctx *ctx = tlb_ctx(L);
  size_t count;
  tl_node *const *order = tl_topo(ctx, n, &count);
  if (order == NULL) return tlb_error(L);
  tl_node **copy = tlb_newscratch(L, count, sizeof *copy, 1, "ops");
  memcpy(copy, order, count * sizeof *copy);   /* pushing may collect */
  lua_createtable(L, 0, 0);
  lua_Integer k = 0;
  for (size_t i = count; i-- > 0;) {
    if (tl_ninputs(copy[i]) == 0) continue;
    lua_createtable(L, 2, 0);
    tlb_pushnode(L, copy[i]);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, (lua_Integer)i + 1);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

/* get(e, i) and set(e, i, v): value i (1-based, row-major) of e's data,
** in place, for any node: a checker perturbs an op's inputs with it. */
static size_t check_pos(lua_State *L, tl_node *n, const char *fname) {
  int isint;
  lua_Integer i = lua_tointegerx(L, 2, &isint);
  if (!isint || lua_type(L, 2) != LUA_TNUMBER)
    tlb_typeerror(L, 2, fname, "integer");
  if (i < 1 || (lua_Unsigned)i > (lua_Unsigned)tl_size(n))
    tlb_argerror(L, 2, fname, "position out of range");
  return (size_t)i - 1;
}

static int fn_get(lua_State *L) {
  tl_node *n = tlb_checkelement(L, 1);
  lua_pushnumber(L, tl_value_at(n, check_pos(L, n, "get")));
  return 1;
}

static int fn_set(lua_State *L) {
  tl_node *n = tlb_checkelement(L, 1);
  size_t i = check_pos(L, n, "set");
  tl_set_value_at(n, i, check_number(L, 3, "set"));
  return 0;
}

static const luaL_Reg fn_funcs[] = {
  {"apply", fn_apply}, {"replay", fn_replay}, {"local_grads", fn_local_grads},
  {"ops", fn_ops}, {"get", fn_get}, {"set", fn_set},
  {NULL, NULL}
};

static const luaL_Reg fn_bodies[] = {
  {"forward_body", forward_body}, {"backward_body", backward_body},
  {"error_body", error_body},
  {NULL, NULL}
};

/* The table of records is made once per state: loading the module again
** (it shares the state's context) must keep the records of live nodes. */
void tlb_open_function(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, TLB_FN_KEY) != LUA_TTABLE) {
    lua_newtable(L);
    tlb_setfuncs(L, fn_bodies);
    lua_setfield(L, LUA_REGISTRYINDEX, TLB_FN_KEY);
  }
  lua_pop(L, 1);
  lua_newtable(L);
  tlb_setfuncs(L, fn_funcs);
  lua_setfield(L, -2, "_autograd");
}

/* }====================================================================== */
