/*
** element.c -- the Element userdata: constructor, fields, operators and
** methods.  A thin translation: check arguments, call core, push results.
**
** Numbers mix with Elements on either side of every operator and become op
** constants (a + 2 is one node, not two).  Strings are never taken for
** numbers, even "1": Element("1") and a + "1" are errors, because silently
** turning text into data hides bugs in data loading.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlb.h"
#include "../core/tl_compile.h"

/* {======================================================================
** Construction and fields
** ======================================================================= */

/* The label at 'i' (a string or nil) of argument 'arg' to 'fname'.  A
** label is a C string: one with a NUL byte inside would be cut there
** without a word, so it is refused. */
static const char *checklabel(lua_State *L, int i, int arg, const char *fname,
                              const char *field) {
  int t = lua_type(L, i);
  if (t != LUA_TNIL && t != LUA_TNONE && t != LUA_TSTRING)
    tlb_argerror(L, arg, fname, "string or nil expected%s, got %s", field,
                 luaL_typename(L, i));
  size_t len;
  const char *label = lua_tolstring(L, i, &len);
  if (label != NULL && strlen(label) != len)
    tlb_argerror(L, arg, fname, "label contains a NUL byte at position %s",
                 tlb_pushsize(L, strlen(label) + 1));
  return label;
}

/* Pushes n's label (or nil).  The label belongs to the node and a
** finalizer may replace it, freeing the old one, whenever Lua allocates;
** Lua 5.1 and LuaJIT collect before lua_pushstring copies, so the text is
** first copied into a block of our own, with the pointer read again after
** that block's allocation (which may run such a finalizer). */
static void push_label(lua_State *L, tl_node *n) {
  for (;;) {
    const char *label = tl_label(n);
    if (label == NULL) { lua_pushnil(L); return; }
    size_t len = strlen(label);
    char *copy = lua_newuserdatauv(L, len + 1, 0);   /* may collect */
    label = tl_label(n);
    if (label != NULL && strlen(label) == len) {
      memcpy(copy, label, len);                  /* no allocation in between */
      lua_pushlstring(L, copy, len);
      lua_remove(L, -2);
      return;
    }
    lua_pop(L, 1);                    /* the label changed: start again */
  }
}

/* Element(data [, label | options]): data a number, or a nested table of
** numbers for an array ({{1, 2}, {3, 4}} is 2x2); options {label = ...,
** requires_grad = ...}. */
static int element_new(lua_State *L) {
  static const char *const allowed[] = {"label", "requires_grad", "dtype", NULL};
  const char *label = NULL;
  int requires_grad = 1;
  tl_dtype dtype = tlb_default_dtype(L);
  if (lua_type(L, 2) == LUA_TTABLE) {
    tlb_checkopts(L, 2, "Element", allowed);
    requires_grad = tlb_optboolean(L, 2, "Element", "requires_grad", 1);
    dtype = tlb_optdtype(L, 2, "Element");
    if (lua_type(L, 1) == LUA_TNUMBER) {
      int has = tlb_getopt(L, 2, "dtype") != LUA_TNIL;
      lua_pop(L, 1);
      if (has)
        return luaL_error(L, "bad argument #2 to 'Element' (option 'dtype' "
                          "is for arrays: a scalar Element is always float64)");
    }
    tlb_getopt(L, 2, "label");
    label = checklabel(L, -1, 2, "Element", " for option 'label'");
    lua_replace(L, 2);     /* keeps the label's string alive on the stack */
  } else
    label = checklabel(L, 2, 2, "Element", "");
  tl_ctx *ctx = tlb_ctx(L);
  tl_node *n;
  if (lua_type(L, 1) == LUA_TTABLE) n = tlb_push_table_array(L, 1, "Element", 1, dtype);
  else {
    if (lua_type(L, 1) != LUA_TNUMBER)
      return tlb_typeerror(L, 1, "Element", "number or table of numbers");
    tlb_element *h = tlb_newhandle(L);
    tlb_sethandle(L, h, tl_leaf(ctx, lua_tonumber(L, 1)));
    n = h->node;
  }
  if (label != NULL && tl_set_label(ctx, n, label) != TL_OK)
    return tlb_error(L);
  if (!requires_grad) tl_set_requires_grad(ctx, n, 0);   /* a leaf: no error */
  return 1;
}

/* format_number(x [, digits]): "%.<digits>g" (14 by default), with nan,
** inf and -inf spelled the same on every platform. */
static int element_format_number(lua_State *L) {
  if (lua_type(L, 1) != LUA_TNUMBER)
    return tlb_typeerror(L, 1, "format_number", "number");
  lua_Integer digits = 14;
  if (!lua_isnoneornil(L, 2)) {
    int isint;
    digits = lua_tointegerx(L, 2, &isint);
    if (lua_type(L, 2) != LUA_TNUMBER || !isint || digits < 1 || digits > 17)
      return luaL_error(L, "bad argument #2 to 'format_number' (an integer "
                        "from 1 to 17 expected)");
  }
  char buf[64];
  lua_pushstring(L, tl_format_number(buf, sizeof buf, lua_tonumber(L, 1), 'g',
                                     (int)digits));
  return 1;
}

static int element_is(lua_State *L) {
  lua_pushboolean(L, tlb_tohandle(L, 1) != NULL);
  return 1;
}

static int element_index(lua_State *L) {
  tl_node *n = tlb_toelement(L, 1);
  if (n == NULL) return tlb_typeerror(L, 1, "__index", "Element");
  if (lua_type(L, 2) == LUA_TNUMBER && tlb_index_array(L, n, 2)) return 1;
  const char *key = lua_tostring(L, 2);
  if (lua_type(L, 2) == LUA_TSTRING) {
    if (strcmp(key, "data") == 0) { tlb_push_values(L, n, 0); return 1; }
    if (strcmp(key, "grad") == 0) { tlb_push_values(L, n, 1); return 1; }
    if (strcmp(key, "shape") == 0) { tlb_push_shape(L, n); return 1; }
    if (strcmp(key, "dtype") == 0) {
      lua_pushstring(L, tl_dtype_name(tl_dtype_of(n)));
      return 1;
    }
    if (strcmp(key, "label") == 0) { push_label(L, n); return 1; }
    if (strcmp(key, "requires_grad") == 0) {
      lua_pushboolean(L, tl_requires_grad(n));
      return 1;
    }
    if (strcmp(key, "op") == 0) {
      lua_pushstring(L, tl_node_op_name(n));
      return 1;
    }
  }
  /* otherwise a method: upvalue 3 is the methods table */
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(3));
  return 1;
}

/* Assigning a field: the value is argument #3 of '__newindex'. */
static double checkfield_number(lua_State *L, const char *key) {
  if (lua_type(L, 3) != LUA_TNUMBER)
    luaL_error(L, "bad argument #3 to '__newindex' (number expected for "
               "field '%s', got %s)", key, luaL_typename(L, 3));
  return lua_tonumber(L, 3);
}

static int element_newindex(lua_State *L) {
  tl_node *n = tlb_toelement(L, 1);
  if (n == NULL) return tlb_typeerror(L, 1, "__newindex", "Element");
  const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
  int is_data = strcmp(key, "data") == 0;
  if ((is_data || strcmp(key, "grad") == 0) && tl_is_array(n))
    tlb_assign_values(L, n, 3, !is_data, key);
  else if (is_data) tl_set_data(n, checkfield_number(L, key));
  else if (strcmp(key, "grad") == 0) tl_set_grad(n, checkfield_number(L, key));
  else if (strcmp(key, "label") == 0) {
    if (lua_isnone(L, 3)) lua_pushnil(L);
    if (tl_set_label(tlb_ctx(L), n, checklabel(L, 3, 3, "__newindex", " for field 'label'")) != TL_OK)
      return tlb_error(L);
  } else if (strcmp(key, "requires_grad") == 0) {
    if (lua_type(L, 3) != LUA_TBOOLEAN)
      return luaL_error(L, "bad argument #3 to '__newindex' (boolean expected "
                        "for field 'requires_grad', got %s)", luaL_typename(L, 3));
    if (tl_set_requires_grad(tlb_ctx(L), n, lua_toboolean(L, 3)) != TL_OK)
      return tlb_error(L);
  } else
    return luaL_error(L, "bad argument #2 to '__newindex' (Element has no "
                      "settable field '%s'; data, grad, label and "
                      "requires_grad are)",
                      tlb_pushvalue_text(L, 2));
  return 0;
}

/* The metatable's __metatable hides __gc from plain scripts
** (tlb_protect_metatable), but the debug library reaches it, so the
** argument is checked like any other.  With the context gone (lua_close)
** its pool went with it: nothing to release. */
static int element_gc(lua_State *L) {
  tlb_element *h = tlb_tohandle(L, 1);
  tl_ctx *ctx = tlb_ctx_or_null(L);
  if (h != NULL && h->node != NULL && ctx != NULL) tl_release(ctx, h->node);
  if (h != NULL) h->node = NULL;
  if (ctx != NULL)    /* records of custom nodes it freed (function.c) */
    tlb_fn_drain(L, lua_touserdata(L, lua_upvalueindex(1)));
  return 0;
}

/* 'v' as Lua 5.3+ prints a float ("%.14g", with ".0" when that looks like
** an integer), but nan, inf and -inf the same on every platform. */
static void format_float(char *buf, size_t size, double v) {
  tl_format_number(buf, size, v, 'g', 14);
  size_t len = strlen(buf);
  if (buf[strspn(buf, "-0123456789")] == '\0' && len + 2 < size)
    memcpy(buf + len, ".0", 3);
}

/* Element(data=8.0, grad=1.0[, label="d"]).  No luaL_Buffer: the numbers
** are formatted in C and the label is copied by push_label, so no pointer
** into the node is held while Lua allocates (and may run finalizers). */
static int element_tostring(lua_State *L) {
  tl_node *n = tlb_toelement(L, 1);
  if (n == NULL) return tlb_typeerror(L, 1, "__tostring", "Element");
  char text[200];
  if (tl_is_array(n)) tl_summary(n, text, sizeof text);
  else {
    char data[48], grad[48];
    format_float(data, sizeof data, tl_data(n));
    format_float(grad, sizeof grad, tl_grad(n));
    snprintf(text, sizeof text, "data=%s, grad=%s", data, grad);
  }
  lua_pushfstring(L, "Element(%s", text);
  push_label(L, n);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushliteral(L, ")");
    lua_concat(L, 2);
    return 1;
  }
  lua_pushliteral(L, ", label=\"");
  lua_insert(L, -2);
  lua_pushliteral(L, "\")");
  lua_concat(L, 4);
  return 1;
}

/* }====================================================================== */

/* {======================================================================
** Operators
** ======================================================================= */

/* An operand of the metamethod 'fname': its node, or NULL with *k set for
** a number. */
static tl_node *tooperand(lua_State *L, int i, const char *fname, double *k) {
  tl_node *n = tlb_toelement(L, i);
  if (n != NULL) return n;
  if (lua_type(L, i) == LUA_TNUMBER) { *k = lua_tonumber(L, i); return NULL; }
  tlb_typeerror(L, i, fname, "Element or number");
  return NULL;
}

/* For each operator: the op on two nodes, with a number on the right
** (a . k) and with a number on the left (k . a). */
typedef struct arith_ops {
  const char *name;
  tl_op nodes, right_k, left_k;
} arith_ops;

static int arith(lua_State *L, arith_ops o) {
  double x = 0, y = 0;
  tl_node *a = tooperand(L, 1, o.name, &x);
  tl_node *b = tooperand(L, 2, o.name, &y);
  tl_ctx *ctx = tlb_ctx(L);
  if (a == NULL && b == NULL)  /* only when a metamethod is called directly */
    return tlb_typeerror(L, 1, o.name, "Element");
  tlb_element *h = tlb_newhandle(L);
  tl_node *r = a == NULL ? tl_with_const(ctx, o.left_k, b, x)
             : b == NULL ? tl_with_const(ctx, o.right_k, a, y)
             : tl_binary(ctx, o.nodes, a, b);
  tlb_sethandle(L, h, r);
  return 1;
}

static int element_add(lua_State *L) {
  return arith(L, (arith_ops){"__add", TL_OP_ADD, TL_OP_ADD_K, TL_OP_ADD_K});
}
static int element_sub(lua_State *L) {
  return arith(L, (arith_ops){"__sub", TL_OP_SUB, TL_OP_SUB_K, TL_OP_RSUB_K});
}
static int element_mul(lua_State *L) {
  return arith(L, (arith_ops){"__mul", TL_OP_MUL, TL_OP_MUL_K, TL_OP_MUL_K});
}
static int element_div(lua_State *L) {
  return arith(L, (arith_ops){"__div", TL_OP_DIV, TL_OP_DIV_K, TL_OP_RDIV_K});
}
static int element_pow(lua_State *L) {
  return arith(L, (arith_ops){"__pow", TL_OP_POW, TL_OP_POW_K, TL_OP_RPOW_K});
}

/* Lua calls __unm with the operand twice; a direct call may pass anything
** second, so only the first argument is read. */
static int element_unm(lua_State *L) {
  tl_node *a = tlb_toelement(L, 1);
  if (a == NULL) return tlb_typeerror(L, 1, "__unm", "Element");
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_unary(tlb_ctx(L), TL_OP_NEG, a));
  return 1;
}

static double comparable(lua_State *L, int i, const char *fname) {
  double k = 0;
  tl_node *n = tooperand(L, i, fname, &k);
  if (n != NULL && tl_is_array(n))
    tlb_argerror(L, i, fname, "array Elements have no order; compare values "
                 "from x.data or x:get()");
  return n ? tl_data(n) : k;
}

/* #x: the length of the first dimension of an array */
static int element_len(lua_State *L) {
  tl_node *n = tlb_toelement(L, 1);
  if (n == NULL) return tlb_typeerror(L, 1, "__len", "Element");
  if (!tl_is_array(n))
    return luaL_error(L, "bad argument #1 to '__len' (a scalar Element has no "
                      "length)");
  lua_pushinteger(L, (lua_Integer)tl_dim(n, 0));
  return 1;
}

static int element_lt(lua_State *L) {
  double x = comparable(L, 1, "__lt"), y = comparable(L, 2, "__lt");
  lua_pushboolean(L, x < y);
  return 1;
}

static int element_le(lua_State *L) {
  double x = comparable(L, 1, "__le"), y = comparable(L, 2, "__le");
  lua_pushboolean(L, x <= y);
  return 1;
}

/* }====================================================================== */

/* {======================================================================
** Methods
** ======================================================================= */

/* Unary op methods: upvalue 3 holds the tl_op (see open_op_methods). */
static int element_unary(lua_State *L) {
  tl_node *a = tlb_checkelement(L, 1);
  tl_op op = (tl_op)lua_tointeger(L, lua_upvalueindex(3));
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_unary(tlb_ctx(L), op, a));
  return 1;
}

/* Methods of unary ops with an op constant, x:leaky_relu([k]): upvalue 3
** holds the op; 'k' is a number, 0.01 when absent (PyTorch's
** negative_slope default, the op's only such method so far). */
static int element_unary_k(lua_State *L) {
  tl_node *a = tlb_checkelement(L, 1);
  tl_op op = (tl_op)lua_tointeger(L, lua_upvalueindex(3));
  double k = 0.01;
  if (!lua_isnoneornil(L, 2)) {
    if (lua_type(L, 2) != LUA_TNUMBER)
      return tlb_typeerror(L, 2, tl_op_name(op), "number");
    k = lua_tonumber(L, 2);
  }
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_with_const(tlb_ctx(L), op, a, k));
  return 1;
}

/* backward([grad]): grad (an Element or nested table of the root's shape)
** is required for an array root, optional for a scalar one (default 1). */
static int element_backward(lua_State *L) {
  tl_node *n = tlb_checkelement(L, 1);
  tl_ctx *ctx = tlb_ctx(L);
  if (lua_isnoneornil(L, 2)) {
    if (tl_backward(ctx, n) != TL_OK) return tlb_error(L);
    return 0;
  }
  tl_node *g = tlb_toelement(L, 2);
  if (g == NULL && lua_type(L, 2) == LUA_TTABLE)
    g = tlb_push_table_array(L, 2, "backward", 2, TL_FLOAT64);
  else if (g == NULL && lua_type(L, 2) == LUA_TNUMBER && !tl_is_array(n)) {
    double seed = lua_tonumber(L, 2);
    if (tl_backward_with(ctx, n, &seed) != TL_OK) return tlb_error(L);
    return 0;
  }
  if (g == NULL) return tlb_typeerror(L, 2, "backward", "Element or table of the root's shape");
  int same = tl_size(g) == tl_size(n) && tl_ndim(g) == tl_ndim(n);
  for (size_t d = 0; same && d < tl_ndim(n); d++) same = tl_dim(g, d) == tl_dim(n, d);
  if (!same)
    return luaL_error(L, "bad argument #2 to 'backward' (gradient of the "
                      "root's shape expected)");
  if (tl_backward_with(ctx, n, tlb_values_f64(L, g)) != TL_OK) return tlb_error(L);
  return 0;
}

static int element_zero_grad(lua_State *L) {
  tl_node *n = tlb_checkelement(L, 1);
  if (tl_zero_grad(tlb_ctx(L), n) != TL_OK) return tlb_error(L);
  return 0;
}

static int element_detach(lua_State *L) {
  tl_node *n = tlb_checkelement(L, 1);
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_detach(tlb_ctx(L), n));
  return 1;
}

/* The inputs of the op that made the Element, in order (numbers that
** entered as op constants are not Elements and are not listed). */
static int element_children(lua_State *L) {
  tl_node *n = tlb_checkelement(L, 1);
  size_t count = tl_ninputs(n);
  /* a compiled step's replay may have left them for later (tl_compile.h) */
  if (count > 0) tl_graphs_sync(tlb_ctx(L));
  lua_createtable(L, (int)count, 0);
  for (size_t i = 0; i < count; i++) {
    tlb_pushnode(L, tl_input(n, i));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* e:explain(): the backward pass from 'e' as text, one line per input
** slot, in the engine's order (core/tl_trace.h).  A view: gradients stay
** as they were. */
static int element_explain(lua_State *L) {
  tl_node *n = tlb_checkelement(L, 1);
  luaL_argcheck(L, lua_isnoneornil(L, 2), 2, "no argument expected");
  void **box = tlb_newbox(L);   /* frees the text if pushing it raises */
  char *text;
  size_t len;
  if (tl_explain(tlb_ctx(L), n, &text, &len) != TL_OK) return tlb_error(L);
  *box = text;
  lua_pushlstring(L, text, len);
  free(text);
  *box = NULL;
  return 1;
}

static const luaL_Reg element_meta[] = {
  {"__add", element_add}, {"__sub", element_sub}, {"__mul", element_mul},
  {"__div", element_div}, {"__pow", element_pow}, {"__unm", element_unm},
  {"__lt", element_lt}, {"__le", element_le},
  {"__tostring", element_tostring}, {"__gc", element_gc},
  {"__newindex", element_newindex}, {"__len", element_len},
  {NULL, NULL}
};

static const luaL_Reg element_methods[] = {
  {"backward", element_backward}, {"zero_grad", element_zero_grad},
  {"detach", element_detach}, {"children", element_children},
  {"explain", element_explain},
  {NULL, NULL}
};

/* }====================================================================== */

/* {======================================================================
** Ops as methods and torchlet.ops(), from TL_OP_LIST (core/tl_ops.h)
** ======================================================================= */

typedef struct op_row { const char *id, *name, *symbol, *method, *grad; } op_row;

#define ROW(id, name, symbol, arity, flags, method, rule, grad) \
  {#id, name, symbol, method, grad},
static const op_row op_rows[] = { TL_OP_LIST(ROW) };
#undef ROW
_Static_assert(sizeof op_rows / sizeof op_rows[0] == TL_OP_COUNT,
               "one row per op");

/* The C function behind the method of 'op': unary elementwise ops share
** one; the array ops read their own arguments (array.c). */
static lua_CFunction op_method(tl_op op) {
  if (tl_op_arity(op) == 1 && tl_op_flags(op) == TL_OPF_EW) return element_unary;
  if (tl_op_arity(op) == 1 && tl_op_flags(op) == (TL_OPF_EW | TL_OPF_K)) return element_unary_k;
  return tlb_array_method(op);
}

/* Sets into the methods table on top one method per op whose row names
** one, each a closure over the module's upvalues, the op and the method's
** name.  An op declared a method that no C function serves is an error
** here, when the module loads, rather than a method silently missing. */
static void open_op_methods(lua_State *L) {
  for (int op = 0; op < TL_OP_COUNT; op++) {
    const op_row *r = &op_rows[op];
    if (r->method == NULL) continue;
    lua_CFunction f = op_method((tl_op)op);
    if (f == NULL)
      luaL_error(L, "torchlet: op '%s' is declared a method, but no C function "
                 "serves it", r->id);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_pushinteger(L, op);
    lua_pushstring(L, r->method);
    lua_pushcclosure(L, f, 4);
    lua_setfield(L, -2, r->method);
  }
}

/* ops(): every op, in the order of the C enum, as a list of tables
** {id = "add_k", name = "add", symbol = "+", arity = 1 (nil for any
** count), method = "exp" or nil, and the booleans nary, const,
** const_left, axis, index, array, elementwise}: what drawing, errors and
** e.op call it, and what a spec needs to walk them all. */
static int element_ops(lua_State *L) {
  lua_createtable(L, TL_OP_COUNT, 0);
  for (int op = 0; op < TL_OP_COUNT; op++) {
    const op_row *r = &op_rows[op];
    lua_createtable(L, 0, 12);
    char id[32];
    size_t len = strlen(r->id);
    for (size_t i = 0; i <= len && i < sizeof id; i++)
      id[i] = (char)(r->id[i] >= 'A' && r->id[i] <= 'Z' ? r->id[i] - 'A' + 'a'
                                                        : r->id[i]);
    id[sizeof id - 1] = '\0';
    lua_pushstring(L, id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, r->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, r->symbol);
    lua_setfield(L, -2, "symbol");
    int arity = tl_op_arity((tl_op)op);
    if (arity != TL_NARY) {
      lua_pushinteger(L, arity);
      lua_setfield(L, -2, "arity");
    }
    lua_pushboolean(L, arity == TL_NARY);
    lua_setfield(L, -2, "nary");
    static const struct { const char *key; unsigned flag; } flags[] = {
      {"const", TL_OPF_K}, {"const_left", TL_OPF_KLEFT}, {"axis", TL_OPF_AXIS},
      {"index", TL_OPF_INDEX}, {"array", TL_OPF_ARRAY},
      {"elementwise", TL_OPF_EW}
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
      lua_pushboolean(L, (tl_op_flags((tl_op)op) & flags[i].flag) != 0);
      lua_setfield(L, -2, flags[i].key);
    }
    if (r->method != NULL) {
      lua_pushstring(L, r->method);
      lua_setfield(L, -2, "method");
    }
    lua_pushstring(L, r->grad);
    lua_setfield(L, -2, "grad");
    lua_rawseti(L, -2, op + 1);
  }
  return 1;
}

/* Fills the Element metatable (upvalue 2) and sets into the module table
** (on top) 'Element', 'is_element' and 'Element_methods', the table where
** the pure-Lua part adds methods of its own. */
void tlb_open_element(lua_State *L) {
  static const luaL_Reg module_funcs[] = {
    {"Element", element_new}, {"is_element", element_is},
    {"format_number", element_format_number}, {"ops", element_ops},
    {NULL, NULL}
  };
  tlb_setfuncs(L, module_funcs);
  lua_pushvalue(L, lua_upvalueindex(2));       /* the metatable */
  tlb_setfuncs(L, element_meta);
  lua_newtable(L);                             /* methods */
  tlb_setfuncs(L, element_methods);
  open_op_methods(L);
  lua_pushvalue(L, -3);                        /* module, methods */
  lua_pushvalue(L, -2);
  tlb_open_array(L);
  tlb_open_ops_extra(L);
  lua_pop(L, 2);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, TLB_ELEMENT_METHODS);
  lua_pushvalue(L, -1);
  lua_setfield(L, -4, "Element_methods");      /* module.Element_methods */
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, -3);                        /* methods as upvalue 3 */
  lua_pushcclosure(L, element_index, 3);
  lua_setfield(L, -3, "__index");
  lua_pop(L, 1);                               /* methods */
  tlb_protect_metatable(L, -1);
  lua_pop(L, 1);                               /* metatable */
}

/* }====================================================================== */
