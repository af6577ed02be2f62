/*
** array.c -- array Elements in Lua: nested tables in and out, shapes,
** constructors (zeros, ones, full, rand, randn, arange), 1-based indexing,
** and the shape-changing methods (matmul, sum, mean, max, transpose,
** reshape).
**
** Arrays come in as nested Lua tables, row-major: {{1, 2}, {3, 4}} is 2x2.
** They go out as nested tables too (x.data, x.grad, x:totable()), whose
** metatable prints them readably.
*/
#include <math.h>
#include <string.h>

#include "tlb.h"

/* {======================================================================
** Nested tables
** ======================================================================= */

/* Reads the shape of the nested table at 'idx' by following first
** elements; 0 dimensions if it is a number. */
static size_t probe_shape(lua_State *L, int idx, const char *fname, int arg,
                          size_t *shape) {
  size_t ndim = 0;
  lua_pushvalue(L, idx);
  while (lua_type(L, -1) == LUA_TTABLE) {
    if (ndim == TL_MAX_DIMS) {
      lua_pop(L, 1);
      tlb_argerror(L, arg, fname, "more than %d nested levels", TL_MAX_DIMS);
    }
    lua_Unsigned len = lua_rawlen(L, -1);
    if (len == 0) {
      lua_pop(L, 1);
      tlb_argerror(L, arg, fname, "empty table at level %s: dimensions must "
                   "be positive",
                 tlb_pushsize(L, ndim + 1));
    }
    shape[ndim++] = (size_t)len;
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
  return ndim;
}

/* Copies the nested table at the top into 'out' (row-major), checking that
** every level has the probed length and every leaf is a number; with 'out'
** NULL it only checks.  'path' collects the 1-based position for
** messages. */
static void fill_values(lua_State *L, const char *fname, int arg,
                        const size_t *shape, size_t ndim, double *out) {
  size_t path[TL_MAX_DIMS] = {0};
  size_t level = 0, written = 0;
  /* explicit stack of tables: the Lua stack itself, one per level */
  for (;;) {
    if (lua_type(L, -1) != LUA_TTABLE || lua_rawlen(L, -1) != shape[level]) {
      char where[64] = "";
      size_t used = 0;
      for (size_t d = 0; d < level; d++)
        used += (size_t)snprintf(where + used, sizeof where - used, "[%zu]", path[d]);
      if (lua_type(L, -1) != LUA_TTABLE) {
        const char *type = luaL_typename(L, -1);   /* before pushing */
        tlb_argerror(L, arg, fname, "value%s is a %s, a table of %s expected",
                     where, type,
                   tlb_pushsize(L, shape[level]));
      }
      size_t len = (size_t)lua_rawlen(L, -1);
      tlb_argerror(L, arg, fname, "ragged nested table: value%s has %s "
                   "entries, %s expected", where,
                 tlb_pushsize(L, len), tlb_pushsize(L, shape[level]));
    }
    if (level + 1 == ndim) {            /* a row of numbers */
      for (size_t i = 1; i <= shape[level]; i++) {
        if (lua_rawgeti(L, -1, (lua_Integer)i) != LUA_TNUMBER) {
          char where[64] = "";
          size_t used = 0;
          for (size_t d = 0; d < level; d++)
            used += (size_t)snprintf(where + used, sizeof where - used, "[%zu]", path[d]);
          const char *type = luaL_typename(L, -1);
          tlb_argerror(L, arg, fname, "value%s[%s] is a %s, number expected",
                       where,
                     tlb_pushsize(L, i), type);
        }
        if (out != NULL) out[written] = lua_tonumber(L, -1);
        written++;
        lua_pop(L, 1);
      }
      /* climb to the next sibling */
      for (;;) {
        if (level == 0) return;
        lua_pop(L, 1);
        level--;
        if (path[level] < shape[level]) break;
      }
    }
    path[level]++;
    lua_rawgeti(L, -1, (lua_Integer)path[level]);
    level++;
    path[level] = 0;
  }
}

tl_node *tlb_push_table_array(lua_State *L, int idx, const char *fname, int arg,
                              tl_dtype t) {
  size_t shape[TL_MAX_DIMS];
  idx = lua_absindex(L, idx);
  size_t ndim = probe_shape(L, idx, fname, arg, shape);
  if (ndim == 0)
    tlb_argerror(L, arg, fname, "table of numbers expected");
  /* check the whole table before allocating: a sparse table can claim a
  ** huge length with a handful of entries */
  lua_pushvalue(L, idx);
  fill_values(L, fname, arg, shape, ndim, NULL);
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_array_of(tlb_ctx(L), t, ndim, shape, NULL));
  double *out = tl_values(h->node);     /* float32: read into doubles first */
  if (out == NULL) out = lua_newuserdatauv(L, tl_size(h->node) * sizeof(double), 0);
  lua_pushvalue(L, idx);
  fill_values(L, fname, arg, shape, ndim, out);
  lua_pop(L, 1);
  if (t != TL_FLOAT64) {
    tl_write_values(h->node, out);
    lua_pop(L, 1);
  }
  lua_remove(L, -2);                    /* the table pushed for checking */
  return h->node;
}

static void push_array_meta(lua_State *L);

/* Pushes values[0..] of the given shape as nested tables. */
static void push_nested(lua_State *L, const double *values, size_t ndim,
                        const size_t *shape) {
  size_t inner = 1;
  for (size_t d = 1; d < ndim; d++) inner *= shape[d];
  lua_createtable(L, (int)shape[0], 0);
  for (size_t i = 0; i < shape[0]; i++) {
    if (ndim == 1) lua_pushnumber(L, values[i]);
    else push_nested(L, values + i * inner, ndim - 1, shape + 1);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  push_array_meta(L);
  lua_setmetatable(L, -2);
}

const double *tlb_values_f64(lua_State *L, tl_node *n) {
  if (tl_dtype_of(n) == TL_FLOAT64) return tl_values(n);
  double *copy = lua_newuserdatauv(L, tl_size(n) * sizeof(double), 0);
  tl_read_values(n, copy);
  return copy;
}

void tlb_push_values(lua_State *L, tl_node *n, int grad) {
  if (tl_dtype_of(n) != TL_FLOAT64) {   /* as doubles, in a scratch copy */
    double *copy = lua_newuserdatauv(L, tl_size(n) * sizeof(double), 0);
    if (grad) tl_read_grads(n, copy); else tl_read_values(n, copy);
    size_t shape[TL_MAX_DIMS];
    for (size_t d = 0; d < tl_ndim(n); d++) shape[d] = tl_dim(n, d);
    push_nested(L, copy, tl_ndim(n), shape);
    lua_remove(L, -2);
    return;
  }
  const double *v = grad ? tl_grads(n) : tl_values(n);
  size_t ndim = tl_ndim(n), shape[TL_MAX_DIMS];
  if (ndim == 0) {
    lua_pushnumber(L, v ? v[0] : 0.0);
    return;
  }
  for (size_t d = 0; d < ndim; d++) shape[d] = tl_dim(n, d);
  if (v == NULL) {                      /* no gradient yet: zeros */
    double *zeros = lua_newuserdatauv(L, tl_size(n) * sizeof(double), 0);
    memset(zeros, 0, tl_size(n) * sizeof(double));
    push_nested(L, zeros, ndim, shape);
    lua_remove(L, -2);
    return;
  }
  push_nested(L, v, ndim, shape);
}

/* The metatable of nested value tables; the pure-Lua part gives it a
** __tostring that prints them readably (module field values_meta). */
static void push_array_meta(lua_State *L) {
  luaL_newmetatable(L, "torchlet.values");
}

/* }====================================================================== */

/* {======================================================================
** Constructors
** ======================================================================= */

/* Dimensions from arguments first..top: numbers (zeros(2, 3)) or one
** table (zeros({2, 3})). */
static size_t check_dims(lua_State *L, int first, int last, const char *fname,
                         size_t *shape) {
  size_t ndim = 0;
  if (lua_type(L, first) == LUA_TTABLE) {
    lua_Unsigned len = lua_rawlen(L, first);
    if (len == 0 || len > TL_MAX_DIMS)
      tlb_argerror(L, first, fname, "1 to %d dimensions expected", TL_MAX_DIMS);
    for (lua_Unsigned i = 1; i <= len; i++) {
      lua_rawgeti(L, first, (lua_Integer)i);
      int isint;
      lua_Integer d = lua_tointegerx(L, -1, &isint);
      if (!isint || lua_type(L, -1) != LUA_TNUMBER || d <= 0)
        tlb_argerror(L, first, fname, "dimension %s must be a positive integer",
                     tlb_pushsize(L, (size_t)i));
      lua_pop(L, 1);
      shape[ndim++] = (size_t)d;
    }
    return ndim;
  }
  if (last < first)
    tlb_argerror(L, first, fname, "dimensions expected");
  if (last - first + 1 > TL_MAX_DIMS)
    tlb_argerror(L, first + TL_MAX_DIMS, fname, "at most %d dimensions",
                 TL_MAX_DIMS);
  for (int i = first; i <= last; i++) {
    int isint;
    lua_Integer d = lua_tointegerx(L, i, &isint);
    if (lua_type(L, i) != LUA_TNUMBER || !isint || d <= 0)
      tlb_argerror(L, i, fname, "positive integer dimension expected, got %s",
                 lua_type(L, i) == LUA_TNUMBER ? "a non-positive or fractional number"
                                               : luaL_typename(L, i));
    shape[ndim++] = (size_t)d;
  }
  return ndim;
}

/* The constructors' options, a table after their other arguments (at
** 'arg'; none when nil): {requires_grad = false} makes data that backward
** computes no gradient for; {dtype = "float32"} the values' type (the
** default dtype when absent). */
typedef struct array_opts { int requires_grad; tl_dtype dtype; } array_opts;

static array_opts check_array_opts(lua_State *L, int arg, const char *fname) {
  static const char *const allowed[] = {"requires_grad", "dtype", NULL};
  array_opts o;
  tlb_checkopts(L, arg, fname, allowed);
  o.requires_grad = tlb_optboolean(L, arg, fname, "requires_grad", 1);
  o.dtype = tlb_optdtype(L, arg, fname);
  return o;
}

/* Applies the options to the new array on top of the stack. */
static int apply_array_opts(lua_State *L, const array_opts *o) {
  if (!o->requires_grad) tl_set_requires_grad(tlb_ctx(L), tlb_toelement(L, -1), 0);
  return 1;
}

/* The number of arguments before a trailing options table: zeros(2, 3,
** {...}) and zeros({2, 3}, {...}) have options, zeros({2, 3}) has none. */
static int args_before_opts(lua_State *L) {
  int top = lua_gettop(L);
  return top >= 2 && lua_type(L, top) == LUA_TTABLE ? top - 1 : top;
}

typedef enum fill_kind { FILL_ZEROS, FILL_ONES, FILL_RAND, FILL_RANDN } fill_kind;

static int make_filled(lua_State *L, fill_kind kind, const char *fname) {
  size_t shape[TL_MAX_DIMS];
  int last = args_before_opts(L);
  array_opts o = check_array_opts(L, last + 1, fname);
  size_t ndim = check_dims(L, 1, last, fname, shape);
  tl_ctx *ctx = tlb_ctx(L);
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_array_of(ctx, o.dtype, ndim, shape, NULL));
  for (size_t i = 0, size = tl_size(h->node); kind != FILL_ZEROS && i < size; i++)
    tl_set_value_at(h->node, i, kind == FILL_ONES ? 1
                    : kind == FILL_RAND ? tl_rng_uniform(ctx) : tl_rng_normal(ctx));
  return apply_array_opts(L, &o);
}

static int array_zeros(lua_State *L) { return make_filled(L, FILL_ZEROS, "zeros"); }
static int array_ones(lua_State *L) { return make_filled(L, FILL_ONES, "ones"); }
static int array_rand(lua_State *L) { return make_filled(L, FILL_RAND, "rand"); }
static int array_randn(lua_State *L) { return make_filled(L, FILL_RANDN, "randn"); }

/* full(dims, value [, options]): dims a number or a table of numbers */
static int array_full(lua_State *L) {
  size_t shape[TL_MAX_DIMS];
  double value = (lua_type(L, 2) == LUA_TNUMBER) ? lua_tonumber(L, 2)
               : (tlb_typeerror(L, 2, "full", "number"), 0);
  array_opts o = check_array_opts(L, 3, "full");
  size_t ndim = check_dims(L, 1, 1, "full", shape);
  lua_settop(L, 3);
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_array_of(tlb_ctx(L), o.dtype, ndim, shape, NULL));
  for (size_t i = 0, size = tl_size(h->node); i < size; i++)
    tl_set_value_at(h->node, i, value);
  return apply_array_opts(L, &o);
}

/* arange(stop) or arange(start, stop [, step]): start, start+step, ...
** below stop (above it for a negative step), as in PyTorch. */
static int array_arange(lua_State *L) {
  double start = 0, stop, step = 1;
  int nargs = args_before_opts(L);
  array_opts o = check_array_opts(L, nargs + 1, "arange");
  for (int i = 1; i <= nargs && i <= 3; i++)
    if (lua_type(L, i) != LUA_TNUMBER) tlb_typeerror(L, i, "arange", "number");
  if (nargs == 0) return tlb_typeerror(L, 1, "arange", "number");
  if (nargs == 1) stop = lua_tonumber(L, 1);
  else {
    start = lua_tonumber(L, 1);
    stop = lua_tonumber(L, 2);
    if (nargs >= 3) step = lua_tonumber(L, 3);
  }
  if (step == 0 || !isfinite(step) || !isfinite(start) || !isfinite(stop))
    return luaL_error(L, "bad argument to 'arange' (finite bounds and a "
                      "non-zero step expected)");
  double count = ceil((stop - start) / step);
  if (count < 1)
    return luaL_error(L, "bad argument to 'arange' (empty range: dimensions "
                      "must be positive)");
  if (count > 1e9) {                    /* lua_pushfstring has no %.0f */
    char text[32];
    return luaL_error(L, "bad argument to 'arange' (range of %s values is "
                      "too large)", tl_format_number(text, sizeof text, count,
                                                     'g', 15));
  }
  size_t n = (size_t)count;
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_array_of(tlb_ctx(L), o.dtype, 1, &n, NULL));
  for (size_t i = 0; i < n; i++) tl_set_value_at(h->node, i, start + (double)i * step);
  return apply_array_opts(L, &o);
}

/* }====================================================================== */

/* {======================================================================
** Methods
** ======================================================================= */

/* An optional 1-based axis at 'arg', returned 0-based, -1 when absent. */
static int optaxis(lua_State *L, int arg, tl_node *n, const char *fname) {
  if (lua_isnoneornil(L, arg)) return -1;
  int isint;
  lua_Integer axis = lua_tointegerx(L, arg, &isint);
  if (lua_type(L, arg) != LUA_TNUMBER || !isint)
    return tlb_typeerror(L, arg, fname, "integer axis");
  if (axis < 1 || (size_t)axis > tl_ndim(n))
    tlb_argerror(L, arg, fname, "axis %s out of range for %s dimensions",
                 tlb_pushint(L, axis),
               tlb_pushsize(L, tl_ndim(n)));
  return (int)axis - 1;
}

/* The op methods (registered from TL_OP_LIST by element.c) have the op as
** upvalue 3 and their Lua name as upvalue 4. */
#define OP_OF(L) ((tl_op)lua_tointeger((L), lua_upvalueindex(3)))
#define METHOD_NAME(L) lua_tostring((L), lua_upvalueindex(4))

/* x:sum([axis]), x:mean([axis]), x:max([axis]) */
static int array_reduce(lua_State *L) {
  tl_node *a = tlb_checkelement(L, 1);
  int axis = optaxis(L, 2, a, METHOD_NAME(L));
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_reduce(tlb_ctx(L), OP_OF(L), a, axis));
  return 1;
}

static int array_matmul(lua_State *L) {
  tl_node *a = tlb_checkelement(L, 1);
  tl_node *b = tlb_checkelement(L, 2);
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_matmul(tlb_ctx(L), a, b));
  return 1;
}

static int array_transpose(lua_State *L) {
  tl_node *a = tlb_checkelement(L, 1);
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_transpose(tlb_ctx(L), a));
  return 1;
}

/* reshape(d1, d2, ...) or reshape({d1, d2, ...}); one dimension may be -1
** and is then inferred. */
static int array_reshape(lua_State *L) {
  tl_node *a = tlb_checkelement(L, 1);
  size_t shape[TL_MAX_DIMS], ndim = 0, known = 1;
  int infer = -1, top = lua_gettop(L);
  int from_table = lua_type(L, 2) == LUA_TTABLE;
  lua_Unsigned len = from_table ? lua_rawlen(L, 2) : (lua_Unsigned)(top - 1);
  int count = len <= TL_MAX_DIMS ? (int)len : 0;  /* no cast of a huge length */
  if (count < 1)
    return tlb_argerror(L, 2, "reshape", "1 to %d dimensions expected",
                        TL_MAX_DIMS);
  for (int i = 0; i < count; i++) {
    int arg = from_table ? 2 : i + 2;
    if (from_table) lua_rawgeti(L, 2, i + 1); else lua_pushvalue(L, arg);
    int isint;
    lua_Integer d = lua_tointegerx(L, -1, &isint);
    if (lua_type(L, -1) != LUA_TNUMBER || !isint || d == 0 || d < -1 ||
        (d == -1 && infer >= 0))
      return tlb_argerror(L, arg, "reshape", "positive integer dimensions "
                          "expected, at most one -1");
    lua_pop(L, 1);
    if (d == -1) infer = i;
    else known *= (size_t)d;
    shape[ndim++] = d == -1 ? 0 : (size_t)d;
  }
  if (infer >= 0) shape[infer] = known ? tl_size(a) / known : 0;
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_reshape(tlb_ctx(L), a, ndim, shape));
  return 1;
}

/* The 0-based flat offset of the 1-based indices at first..first+ndim-1. */
static size_t check_position(lua_State *L, tl_node *n, int first,
                             const char *fname) {
  size_t ndim = tl_ndim(n), offset = 0;
  if (ndim == 0)
    luaL_error(L, "bad argument #1 to '%s' (array expected, got a scalar "
               "Element)", fname);
  for (size_t d = 0; d < ndim; d++) {
    int arg = first + (int)d, isint;
    lua_Integer i = lua_tointegerx(L, arg, &isint);
    if (lua_type(L, arg) != LUA_TNUMBER || !isint)
      tlb_typeerror(L, arg, fname, "integer index");
    if (i < 1 || (size_t)i > tl_dim(n, d))
      tlb_argerror(L, arg, fname, "index %s out of range 1..%s",
                   tlb_pushint(L, i), tlb_pushsize(L, tl_dim(n, d)));
    offset = offset * tl_dim(n, d) + (size_t)(i - 1);
  }
  return offset;
}

static int array_get(lua_State *L) {
  tl_node *n = tlb_checkelement(L, 1);
  lua_pushnumber(L, tl_value_at(n, check_position(L, n, 2, "get")));
  return 1;
}

/* set(i, j, ..., v): changes one value in place (no graph is recorded) */
static int array_set(lua_State *L) {
  tl_node *n = tlb_checkelement(L, 1);
  int varg = 2 + (int)tl_ndim(n);
  if (lua_type(L, varg) != LUA_TNUMBER) return tlb_typeerror(L, varg, "set", "number");
  tl_set_value_at(n, check_position(L, n, 2, "set"), lua_tonumber(L, varg));
  return 0;
}

static int array_totable(lua_State *L) {
  tl_node *n = tlb_checkelement(L, 1);
  tlb_push_values(L, n, 0);
  return 1;
}

static int array_numel(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)tl_size(tlb_checkelement(L, 1)));
  return 1;
}

void tlb_push_shape(lua_State *L, tl_node *n) {
  size_t ndim = tl_ndim(n);
  lua_createtable(L, (int)ndim, 0);
  for (size_t d = 0; d < ndim; d++) {
    lua_pushinteger(L, (lua_Integer)tl_dim(n, d));
    lua_rawseti(L, -2, (lua_Integer)d + 1);
  }
}

/* Element(table) rows: x[i] along the first axis, through which gradients
** flow (a row of a matrix, a scalar Element of a vector). */
int tlb_index_array(lua_State *L, tl_node *n, int key) {
  int isint;
  lua_Integer i = lua_tointegerx(L, key, &isint);
  if (!isint) return 0;
  if (tl_ndim(n) == 0)
    return luaL_error(L, "bad argument #2 to '__index' (a scalar Element has "
                      "no index %s)", tlb_pushint(L, i));
  if (i < 1 || (size_t)i > tl_dim(n, 0))
    return luaL_error(L, "bad argument #2 to '__index' (index %s out of "
                      "range 1..%s)", tlb_pushint(L, i),
                      tlb_pushsize(L, tl_dim(n, 0)));
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_index(tlb_ctx(L), n, (size_t)(i - 1)));
  return 1;
}

/* Copies the nested table at 'idx' into n's values (data) or gradient. */
void tlb_assign_values(lua_State *L, tl_node *n, int idx, int grad,
                       const char *field) {
  size_t shape[TL_MAX_DIMS], ndim = probe_shape(L, idx, "__newindex", 3, shape);
  int same = ndim == tl_ndim(n);
  for (size_t d = 0; same && d < ndim; d++) same = shape[d] == tl_dim(n, d);
  if (!same)
    luaL_error(L, "bad argument #3 to '__newindex' (a nested table of the "
               "Element's shape expected for field '%s')", field);
  /* read into scratch first, so a bad value leaves the Element untouched */
  double *scratch = lua_newuserdatauv(L, tl_size(n) * sizeof(double), 0);
  lua_pushvalue(L, idx);
  fill_values(L, "__newindex", 3, shape, ndim, scratch);
  lua_pop(L, 1);
  if (grad) {
    if (tl_set_grads(tlb_ctx(L), n, scratch) != TL_OK) tlb_error(L);
  } else
    tl_write_values(n, scratch);
  lua_pop(L, 1);
}

/* x:to(dtype), x:float(), x:double(): the values in that dtype, through
** which gradients flow back (PyTorch's x.to, x.float(), x.double()) */
static int convert(lua_State *L, tl_dtype t) {
  tl_node *a = tlb_checkelement(L, 1);
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_to_dtype(tlb_ctx(L), a, t));
  return 1;
}
static int array_to(lua_State *L) { return convert(L, tlb_checkdtype(L, 2, 2, "to")); }
static int array_float(lua_State *L) { return convert(L, TL_FLOAT32); }
static int array_double(lua_State *L) { return convert(L, TL_FLOAT64); }

/* The methods that are not ops. */
static const luaL_Reg array_methods[] = {
  {"to", array_to}, {"float", array_float}, {"double", array_double},
  {"get", array_get}, {"set", array_set},
  {"totable", array_totable}, {"numel", array_numel},
  {NULL, NULL}
};

lua_CFunction tlb_array_method(tl_op op) {
  if (tl_op_flags(op) & TL_OPF_AXIS) return array_reduce;
  switch (op) {
    case TL_OP_MATMUL: return array_matmul;
    case TL_OP_TRANSPOSE: return array_transpose;
    case TL_OP_RESHAPE: return array_reshape;
    default: return tlb_ops_extra_method(op);   /* ops_extra.c */
  }
}

static const luaL_Reg array_funcs[] = {
  {"zeros", array_zeros}, {"ones", array_ones}, {"full", array_full},
  {"rand", array_rand}, {"randn", array_randn}, {"arange", array_arange},
  {"matmul", array_matmul},
  {NULL, NULL}
};

/* Called with the module table at -2 and the methods table at -1. */
void tlb_open_array(lua_State *L) {
  tlb_setfuncs(L, array_methods);
  lua_pushvalue(L, -2);
  tlb_setfuncs(L, array_funcs);
  push_array_meta(L);
  lua_setfield(L, -2, "values_meta");
  lua_pop(L, 1);
}

/* }====================================================================== */
