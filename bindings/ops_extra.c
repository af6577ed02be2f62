/*
** ops_extra.c -- the Lua side of core/ops_extra.c: x:softmax([axis]),
** x:log_softmax([axis]), x:narrow(axis, start, length), x:slice(axis,
** first [, last]), x:argmax([axis]), x:argmin([axis]), x:clamp(lo, hi),
** torchlet.cat(list [, axis]) and torchlet.stack(list [, axis]).  (x:min
** and x:logsumexp are reductions: array.c serves them with sum and max.)
**
** Axes and positions count from 1 here; every check is made before the
** core is called, so that messages name the argument in Lua's terms (a
** method's receiver is #1, as in array.c: x:softmax(0) names #2).
*/
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "../core/tl_ops_extra.h"
#include "tlb.h"

/* The integer at 'arg' (floats with an integral value accepted), else a
** type error calling it 'what'. */
static lua_Integer checkint(lua_State *L, int arg, const char *fname,
                            const char *what) {
  int isint;
  lua_Integer v = lua_tointegerx(L, arg, &isint);
  if (lua_type(L, arg) != LUA_TNUMBER || !isint) tlb_typeerror(L, arg, fname, what);
  return v;
}

/* The 1-based axis at 'arg' of an array of 'ndim' dimensions, 0-based. */
static int checkaxis(lua_State *L, int arg, size_t ndim, const char *fname) {
  lua_Integer axis = checkint(L, arg, fname, "integer axis");
  if (axis < 1 || (lua_Unsigned)axis > ndim)
    tlb_argerror(L, arg, fname, "axis %s out of range for %s dimensions",
                 tlb_pushint(L, axis), tlb_pushsize(L, ndim));
  return (int)axis - 1;
}

/* An array Element at 1, for the methods that take arrays only. */
static tl_node *checkarray(lua_State *L, const char *fname) {
  tl_node *a = tlb_checkelement(L, 1);
  if (!tl_is_array(a))
    tlb_argerror(L, 1, fname, "array expected, got a scalar Element");
  return a;
}

/* Pushes a shape as "(2, 3)" and returns it, for messages. */
static const char *pushshape(lua_State *L, tl_node *n) {
  char buf[96];
  size_t used = 0;
  for (size_t d = 0; d < tl_ndim(n) && used < sizeof buf; d++)
    used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%lu",
                             d ? ", " : "(", (unsigned long)tl_dim(n, d));
  if (used < sizeof buf) snprintf(buf + used, sizeof buf - used, ")");
  lua_pushstring(L, buf);
  return lua_tostring(L, -1);
}

/* {======================================================================
** softmax, log_softmax, narrow, slice
** ======================================================================= */

#define OP_OF(L) ((tl_op)lua_tointeger((L), lua_upvalueindex(3)))
#define METHOD_NAME(L) lua_tostring((L), lua_upvalueindex(4))

/* x:softmax([axis]), x:log_softmax([axis]): the axis may be left out for
** a vector only (PyTorch's implicit dim guesses; this does not). */
static int array_softmax(lua_State *L) {
  const char *fname = METHOD_NAME(L);
  tl_node *a = checkarray(L, fname);
  int axis;
  if (lua_isnoneornil(L, 2)) {
    if (tl_ndim(a) != 1)
      return tlb_argerror(L, 2, fname, "axis expected for an array of %s "
                          "dimensions (it may be left out for a vector)",
                          tlb_pushsize(L, tl_ndim(a)));
    axis = 0;
  } else
    axis = checkaxis(L, 2, tl_ndim(a), fname);
  tlb_element *h = tlb_newhandle(L);
  tl_ctx *ctx = tlb_ctx(L);
  tlb_sethandle(L, h, OP_OF(L) == TL_OP_SOFTMAX ? tl_softmax(ctx, a, axis)
                                                : tl_log_softmax(ctx, a, axis));
  return 1;
}

/* Positions from..to (0-based, inclusive) of 'a' along 'axis'. */
static int push_narrow(lua_State *L, tl_node *a, int axis, size_t from,
                       size_t count) {
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_narrow(tlb_ctx(L), a, axis, from, count));
  return 1;
}

/* x:narrow(axis, start, length): 'length' positions from 'start' (1-based),
** as torch.narrow with positions counted from 1. */
static int array_narrow(lua_State *L) {
  const char *fname = "narrow";
  tl_node *a = checkarray(L, fname);
  int axis = checkaxis(L, 2, tl_ndim(a), fname);
  size_t dim = tl_dim(a, (size_t)axis);
  lua_Integer start = checkint(L, 3, fname, "integer start");
  lua_Integer length = checkint(L, 4, fname, "integer length");
  if (start < 1 || (lua_Unsigned)start > dim)
    return tlb_argerror(L, 3, fname, "start %s out of range 1..%s",
                        tlb_pushint(L, start), tlb_pushsize(L, dim));
  if (length < 1 || (lua_Unsigned)length > dim - (size_t)(start - 1))
    return tlb_argerror(L, 4, fname, "length %s out of range 1..%s (from %s "
                        "in a dimension of %s)", tlb_pushint(L, length),
                        tlb_pushsize(L, dim - (size_t)(start - 1)),
                        tlb_pushint(L, start), tlb_pushsize(L, dim));
  return push_narrow(L, a, axis, (size_t)(start - 1), (size_t)length);
}

/* A slice bound at 'arg' in 1..dim, or counted from the end when negative
** (-1 the last), as string.sub; 0 and beyond the ends are errors. */
static size_t checkbound(lua_State *L, int arg, size_t dim, const char *what) {
  lua_Integer i = checkint(L, arg, "slice", what);
  lua_Integer d = (lua_Integer)dim;
  if (i == 0 || i > d || i < -d)
    tlb_argerror(L, arg, "slice", "%s %s out of range 1..%s (or -%s..-1 from "
                 "the end)", what, tlb_pushint(L, i), tlb_pushsize(L, dim),
                 tlb_pushsize(L, dim));
  return i > 0 ? (size_t)(i - 1) : (size_t)(d + i);
}

/* x:slice(axis, first [, last]): positions first..last along 'axis', both
** included (last defaults to the end); negative positions count from the
** end, -1 the last, as in string.sub. */
static int array_slice(lua_State *L) {
  const char *fname = "slice";
  tl_node *a = checkarray(L, fname);
  int axis = checkaxis(L, 2, tl_ndim(a), fname);
  size_t dim = tl_dim(a, (size_t)axis);
  size_t first = checkbound(L, 3, dim, "integer first");
  size_t last = lua_isnoneornil(L, 4) ? dim - 1 : checkbound(L, 4, dim, "integer last");
  if (last < first)
    return tlb_argerror(L, 4, fname, "last (position %s) before first "
                        "(position %s): a slice holds at least one position",
                        tlb_pushsize(L, last + 1), tlb_pushsize(L, first + 1));
  return push_narrow(L, a, axis, first, last - first + 1);
}

lua_CFunction tlb_ops_extra_method(tl_op op) {
  switch (op) {
    case TL_OP_SOFTMAX: case TL_OP_LOG_SOFTMAX: return array_softmax;
    case TL_OP_NARROW: return array_narrow;
    default: return NULL;
  }
}

/* }====================================================================== */

/* {======================================================================
** argmax, argmin, clamp
** ======================================================================= */

/* Pushes pos[0..] + 1 of the given shape as nested tables of integers
** (at most TL_MAX_DIMS levels deep). */
static void push_positions(lua_State *L, const size_t *pos, size_t nd,
                           const size_t *shape) {
  size_t inner = 1;
  for (size_t d = 1; d < nd; d++) inner *= shape[d];
  lua_createtable(L, (int)shape[0], 0);
  for (size_t i = 0; i < shape[0]; i++) {
    if (nd == 1) lua_pushinteger(L, (lua_Integer)pos[i] + 1);
    else push_positions(L, pos + i * inner, nd - 1, shape + 1);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* x:argmax([axis]), x:argmin([axis]): positions counted from 1, as plain
** Lua integers (indices are data: no gradient, as PyTorch's int64
** results).  Without an axis one integer, the position in the flattened
** values; along an axis one integer per line, as a nested table of the
** reduced shape (an integer when that shape is empty: a vector). */
static int argext(lua_State *L, int want_min) {
  const char *fname = want_min ? "argmin" : "argmax";
  tl_node *a = tlb_checkelement(L, 1);
  int axis = lua_isnoneornil(L, 2) ? -1 : checkaxis(L, 2, tl_ndim(a), fname);
  size_t count = axis < 0 ? 1 : tl_size(a) / tl_dim(a, (size_t)axis);
  size_t *out = tlb_newscratch(L, count, sizeof *out, 1, fname);
  if (tl_argext(tlb_ctx(L), a, axis, want_min, out) != TL_OK) return tlb_error(L);
  if (axis < 0 || tl_ndim(a) == 1) {
    lua_pushinteger(L, (lua_Integer)out[0] + 1);
    return 1;
  }
  size_t shape[TL_MAX_DIMS], nd = 0;
  for (size_t d = 0; d < tl_ndim(a); d++)
    if ((int)d != axis) shape[nd++] = tl_dim(a, d);
  push_positions(L, out, nd, shape);
  return 1;
}

static int array_argmax(lua_State *L) { return argext(L, 0); }
static int array_argmin(lua_State *L) { return argext(L, 1); }

/* A bound of clamp at 'arg': nil (none) or a number that is not nan. */
static int checkclampbound(lua_State *L, int arg, double *v) {
  if (lua_isnoneornil(L, arg)) return 0;
  if (lua_type(L, arg) != LUA_TNUMBER) tlb_typeerror(L, arg, "clamp", "number or nil");
  *v = lua_tonumber(L, arg);
  if (isnan(*v)) tlb_argerror(L, arg, "clamp", "bound is nan");
  return 1;
}

/* x:clamp(lo, hi): max(x, lo), then min(., hi); either bound may be nil,
** not both; lo <= hi.  Scalars and arrays alike; gradients pass where
** lo <= x <= hi, bounds included (PyTorch's clamp). */
static int element_clamp(lua_State *L) {
  tl_node *a = tlb_checkelement(L, 1);
  double lo = 0, hi = 0;
  int has_lo = checkclampbound(L, 2, &lo), has_hi = checkclampbound(L, 3, &hi);
  if (!has_lo && !has_hi)
    return tlb_argerror(L, 2, "clamp", "at least one bound expected, got two nils");
  if (has_lo && has_hi && lo > hi) {
    char l[32], h[32];
    tl_format_number(l, sizeof l, lo, 'g', 17);
    tl_format_number(h, sizeof h, hi, 'g', 17);
    return tlb_argerror(L, 3, "clamp", "upper bound %s below lower bound %s", h, l);
  }
  lua_settop(L, 3);
  tl_ctx *ctx = tlb_ctx(L);
  if (has_lo) {
    tlb_element *h = tlb_newhandle(L);
    tlb_sethandle(L, h, tl_with_const(ctx, TL_OP_CLAMP_MIN_K, a, lo));
    a = h->node;                        /* held by the handle at 4 */
  }
  if (has_hi) {
    tlb_element *h = tlb_newhandle(L);
    tlb_sethandle(L, h, tl_with_const(ctx, TL_OP_CLAMP_MAX_K, a, hi));
  }
  return 1;
}

/* }====================================================================== */

/* {======================================================================
** cat, stack
** ======================================================================= */

/* The Elements of the list at 1, checked: arrays of one dtype and ndim,
** with the same sizes but along 'axis' (-1: all the same), or (with
** 'scalars_ok') all scalars, when *scalars is set.  Returns the count;
** the nodes go to the scratch pushed on top, borrowed from the list. */
static size_t checklist(lua_State *L, const char *fname, int *scalars) {
  size_t n = tlb_checklist(L, 1, fname, "table of Elements");
  if (n == 0) tlb_argerror(L, 1, fname, "no Elements given");
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, (lua_Integer)i);
    tl_node *x = tlb_toelement(L, -1);
    if (x == NULL) {
      const char *got = luaL_typename(L, -1);
      tlb_argerror(L, 1, fname, "entry %s is a %s, Element expected",
                   tlb_pushsize(L, i), got);
    }
    if (i == 1) *scalars = !tl_is_array(x);
    else if (*scalars != !tl_is_array(x))
      tlb_argerror(L, 1, fname, "entry %s is %s, entry 1 %s: scalars and "
                   "arrays do not mix", tlb_pushsize(L, i),
                   tl_is_array(x) ? "an array" : "a scalar",
                   *scalars ? "a scalar" : "an array");
    lua_pop(L, 1);
  }
  return n;
}

/* The checks of cat (along 'axis', 0-based) or stack (axis -1: one shape)
** between entry 1 and entry i (1-based). */
static void checkmatch(lua_State *L, const char *fname, tl_node *x0,
                       tl_node *x, size_t i, int axis) {
  if (tl_dtype_of(x) != tl_dtype_of(x0))
    tlb_argerror(L, 1, fname, "entry %s is %s, entry 1 %s: convert one with "
                 "x:float() or x:double()", tlb_pushsize(L, i),
                 tl_dtype_name(tl_dtype_of(x)), tl_dtype_name(tl_dtype_of(x0)));
  int same = tl_ndim(x) == tl_ndim(x0);
  for (size_t d = 0; same && d < tl_ndim(x); d++)
    same = (int)d == axis || tl_dim(x, d) == tl_dim(x0, d);
  if (same) return;
  const char *s = pushshape(L, x), *s0 = pushshape(L, x0);
  if (axis < 0)
    tlb_argerror(L, 1, fname, "entry %s has shape %s, entry 1 %s: one shape "
                 "expected", tlb_pushsize(L, i), s, s0);
  tlb_argerror(L, 1, fname, "entry %s has shape %s, entry 1 %s: only "
               "dimension %d may differ", tlb_pushsize(L, i), s, s0, axis + 1);
}

/* The list's nodes into scratch (borrowed: the list holds them), after
** the handle for the result is pushed. */
static tl_node **gather(lua_State *L, size_t n, const char *fname) {
  tl_node **xs = tlb_newscratch(L, n, sizeof *xs, 1, fname);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, 1, (lua_Integer)i + 1);
    xs[i] = tlb_toelement(L, -1);
    lua_pop(L, 1);
  }
  return xs;
}

/* torchlet.cat(list [, axis]): arrays joined along 'axis' (1 by default,
** torch.cat's dim=0): every other dimension the same. */
static int module_cat(lua_State *L) {
  const char *fname = "cat";
  lua_settop(L, 2);
  int scalars = 0;
  size_t n = checklist(L, fname, &scalars);
  if (scalars)
    return tlb_argerror(L, 1, fname, "arrays expected, got scalar Elements "
                        "(torchlet.stack gathers scalars)");
  lua_rawgeti(L, 1, 1);
  tl_node *x0 = tlb_toelement(L, -1);
  int axis = lua_isnil(L, 2) ? 0 : checkaxis(L, 2, tl_ndim(x0), fname);
  for (size_t i = 2; i <= n; i++) {
    lua_rawgeti(L, 1, (lua_Integer)i);
    checkmatch(L, fname, x0, tlb_toelement(L, -1), i, axis);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  tlb_element *h = tlb_newhandle(L);
  tl_node **xs = gather(L, n, fname);
  tlb_sethandle(L, h, tl_cat(tlb_ctx(L), n, xs, axis));
  lua_pop(L, 1);                        /* the scratch */
  return 1;
}

/* torchlet.stack(list [, axis]): arrays of one shape along a new axis
** (1 by default, 1..ndim+1), as torch.stack; or scalar Elements gathered
** into a vector (axis 1 only), the loss functions' stacking op. */
static int module_stack(lua_State *L) {
  const char *fname = "stack";
  lua_settop(L, 2);
  int scalars = 0;
  size_t n = checklist(L, fname, &scalars);
  lua_rawgeti(L, 1, 1);
  tl_node *x0 = tlb_toelement(L, -1);
  size_t nd = tl_ndim(x0);
  if (nd + 1 > TL_MAX_DIMS)
    return tlb_argerror(L, 1, fname, "arrays of %s dimensions: the result "
                        "would have more than %d", tlb_pushsize(L, nd), TL_MAX_DIMS);
  int axis = lua_isnil(L, 2) ? 0 : checkaxis(L, 2, nd + 1, fname);
  for (size_t i = 2; !scalars && i <= n; i++) {
    lua_rawgeti(L, 1, (lua_Integer)i);
    checkmatch(L, fname, x0, tlb_toelement(L, -1), i, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  tlb_element *h = tlb_newhandle(L);
  tl_node **xs = gather(L, n, fname);
  tl_ctx *ctx = tlb_ctx(L);
  tlb_sethandle(L, h, scalars ? tl_stack(ctx, n, xs, 1, &n)
                              : tl_stack_arrays(ctx, n, xs, axis));
  lua_pop(L, 1);
  return 1;
}

/* }====================================================================== */

/* Called with the module table at -2 and the methods table at -1 (as
** tlb_open_array); leaves the stack as it found it. */
void tlb_open_ops_extra(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"slice", array_slice}, {"argmax", array_argmax}, {"argmin", array_argmin},
    {"clamp", element_clamp}, {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {
    {"cat", module_cat}, {"stack", module_stack}, {NULL, NULL}
  };
  tlb_setfuncs(L, methods);
  lua_pushvalue(L, -2);
  tlb_setfuncs(L, funcs);
  lua_pop(L, 1);
}
