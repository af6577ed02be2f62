/*
** optim.c -- the Optimizer userdata and torchlet.optim.
**
**   optim.SGD(params [, opts])      lr momentum dampening weight_decay nesterov
**   optim.RMSprop(params [, opts])  lr alpha eps weight_decay momentum centered
**   optim.Adagrad(params [, opts])  lr lr_decay weight_decay
**                                   initial_accumulator_value eps
**   optim.Adam(params [, opts])     lr betas={b1, b2} eps weight_decay amsgrad
**   optim.AdamW(params [, opts])    as Adam (weight_decay defaults to 1e-2)
**   opt:step()  opt:zero_grad()  opt.lr (read and write)  tostring(opt)
**   opt:dump()  opt:load_string(s)     the state as a string, and back
**
** 'params' is any Lua array of Elements; defaults and formulas are
** PyTorch's (core/tl_optim.h).
*/
#include <stdlib.h>
#include <string.h>

#include "../core/tl_optim.h"
#include "tlb.h"

#define TLB_OPTIMIZER "torchlet.Optimizer"

typedef struct tlb_optim {
  tl_optim *o;          /* NULL until made, and after __gc */
} tlb_optim;

static tl_optim *tooptim(lua_State *L, const char *fname) {
  tlb_optim *h = tlb_testudata(L, 1, TLB_OPTIMIZER, sizeof *h);
  if (h == NULL) tlb_typeerror(L, 1, fname, "Optimizer");
  else if (h->o == NULL) luaL_error(L, "%s: Optimizer used after it was collected", fname);
  tlb_ctx(L);                          /* its parameters live in the context */
  return h->o;
}

/* Options each kind accepts, in the order of tl_optim_kind. */
static const char *const allowed[TL_OPTIM_COUNT][7] = {
  {"lr", "momentum", "dampening", "weight_decay", "nesterov", NULL},
  {"lr", "alpha", "eps", "weight_decay", "momentum", "centered", NULL},
  {"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", NULL},
  {"lr", "betas", "eps", "weight_decay", "amsgrad", NULL},
  {"lr", "betas", "eps", "weight_decay", "amsgrad", NULL},
};

/* Reads the options at index 2 over the defaults of 'kind'. */
static void readopts(lua_State *L, tl_optim_kind kind, const char *fname,
                     tl_optim_config *c) {
  tl_optim_defaults(kind, c);
  tlb_checkopts(L, 2, fname, allowed[kind]);
  c->lr = tlb_optnumber(L, 2, fname, "lr", c->lr);
  c->momentum = tlb_optnumber(L, 2, fname, "momentum", c->momentum);
  c->dampening = tlb_optnumber(L, 2, fname, "dampening", c->dampening);
  c->weight_decay = tlb_optnumber(L, 2, fname, "weight_decay", c->weight_decay);
  c->alpha = tlb_optnumber(L, 2, fname, "alpha", c->alpha);
  c->eps = tlb_optnumber(L, 2, fname, "eps", c->eps);
  c->lr_decay = tlb_optnumber(L, 2, fname, "lr_decay", c->lr_decay);
  c->initial_accumulator_value = tlb_optnumber(
      L, 2, fname, "initial_accumulator_value", c->initial_accumulator_value);
  c->nesterov = tlb_optboolean(L, 2, fname, "nesterov", c->nesterov);
  c->centered = tlb_optboolean(L, 2, fname, "centered", c->centered);
  c->amsgrad = tlb_optboolean(L, 2, fname, "amsgrad", c->amsgrad);
  if (tlb_getopt(L, 2, "betas") != LUA_TNIL) {
    if (!lua_istable(L, -1) || lua_rawlen(L, -1) != 2 ||
        lua_rawgeti(L, -1, 1) != LUA_TNUMBER || lua_rawgeti(L, -2, 2) != LUA_TNUMBER)
      tlb_argerror(L, 2, fname, "option 'betas' must be a table of two numbers");
    c->beta1 = lua_tonumber(L, -2);
    c->beta2 = lua_tonumber(L, -1);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);                               /* 'betas' or nil */
}

/* optim.KIND(params [, opts]): upvalue 3 is the kind. */
static int optim_new(lua_State *L) {
  tl_optim_kind kind = (tl_optim_kind)lua_tointeger(L, lua_upvalueindex(3));
  const char *fname = tl_optim_name(kind);
  size_t n = tlb_checklist(L, 1, fname, "table of Elements");
  if (n == 0) return tlb_argerror(L, 1, fname, "empty parameter list");
  tl_optim_config cfg;
  readopts(L, kind, fname, &cfg);
  /* scratch owned by Lua: nothing to free if an error follows */
  tl_node **params = tlb_newscratch(L, n, sizeof *params, 1, fname);
  lua_createtable(L, 0, n < 1024 ? (int)n : 1024);  /* node -> index, to find repeats */
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, 1, (lua_Integer)i + 1);
    if ((params[i] = tlb_toelement(L, -1)) == NULL) {
      const char *got = luaL_typename(L, -1);
      return tlb_argerror(L, 1, fname, "parameter %s must be an Element, got %s",
                          tlb_pushsize(L, i + 1), got);
    }
    /* PyTorch: "can't optimize a non-leaf Tensor"; updating a value an op
    ** made would leave its graph inconsistent */
    if (tl_op_of(params[i]) != TL_OP_LEAF)
      return tlb_argerror(L, 1, fname, "parameter %s is not a leaf (it was "
                          "made by '%s'): optimize the leaves it is computed "
                          "from", tlb_pushsize(L, i + 1),
                          tl_op_name(tl_op_of(params[i])));
    lua_pop(L, 1);
    if (lua_rawgetp(L, -1, params[i]) != LUA_TNIL) {
      size_t first = (size_t)lua_tointeger(L, -1);
      return tlb_argerror(L, 1, fname, "parameter %s is parameter %s again "
                          "(it would be updated twice per step)",
                          tlb_pushsize(L, i + 1), tlb_pushsize(L, first));
    }
    lua_pop(L, 1);
    lua_pushinteger(L, (lua_Integer)i + 1);
    lua_rawsetp(L, -2, params[i]);
  }
  lua_pop(L, 1);
  tlb_optim *h = tlb_newudata(L, sizeof *h);
  h->o = NULL;
  tlb_setclass(L, TLB_OPTIMIZER, sizeof *h);
  tl_ctx *ctx = tlb_ctx(L);
  switch (tl_optim_create(ctx, kind, &cfg, n, params, &h->o)) {
    case TL_OK: return 1;
    case TL_EARG:   /* what the core checks beyond the loop above: options */
      return tlb_argerror(L, 2, fname, "%s", tl_ctx_error(ctx));
    default:        /* out of memory: not the caller's argument */
      return luaL_error(L, "%s: %s", fname, tl_ctx_error(ctx));
  }
}

static int optim_step(lua_State *L) {
  tl_optim_step(tooptim(L, "step"));
  return 0;
}

static int optim_zero_grad(lua_State *L) {
  tl_optim_zero_grad(tooptim(L, "zero_grad"));
  return 0;
}

/* opt.lr and the methods; upvalue 3 is the methods table. */
static int optim_index(lua_State *L) {
  tl_optim *o = tooptim(L, "__index");
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "lr") == 0) {
    lua_pushnumber(L, tl_optim_get_config(o)->lr);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(3));
  return 1;
}

/* opt.lr = x, for learning-rate schedules. */
static int optim_newindex(lua_State *L) {
  tl_optim *o = tooptim(L, "__newindex");
  if (lua_type(L, 2) != LUA_TSTRING || strcmp(lua_tostring(L, 2), "lr") != 0)
    return tlb_argerror(L, 2, "__newindex", "Optimizer has no settable field "
                        "'%s'; lr is", tlb_pushvalue_text(L, 2));
  if (lua_type(L, 3) != LUA_TNUMBER)
    return tlb_typeerror(L, 3, "__newindex", "number");
  if (tl_optim_set_lr(tlb_ctx(L), o, lua_tonumber(L, 3)) != TL_OK)
    return tlb_argerror(L, 3, "__newindex", "%s", tl_ctx_error(tlb_ctx(L)));
  return 0;
}

/* "SGD(337 parameters, lr=0.1)" */
static int optim_tostring(lua_State *L) {
  tl_optim *o = tooptim(L, "__tostring");
  lua_pushfstring(L, "%s(%d parameters, lr=%f)", tl_optim_name(tl_optim_kind_of(o)),
                  (int)tl_optim_nparams(o), tl_optim_get_config(o)->lr);
  return 1;
}

/* {======================================================================
** State: opt:dump(), opt:load_string(s), and the handles checkpoints
** (bindings/checkpoint.c) push and read
** ======================================================================= */

/* opt:dump(): kind, options, step counts and state (tl_optim_dump). */
static int optim_dump(lua_State *L) {
  tl_optim *o = tooptim(L, "dump");
  if (lua_gettop(L) > 1) return tlb_argerror(L, 2, "dump", "no arguments expected");
  void **box = tlb_newbox(L);          /* frees the bytes if pushing raises */
  unsigned char *buf;
  size_t len;
  if (tl_optim_dump(tlb_ctx(L), o, &buf, &len) != TL_OK)
    return luaL_error(L, "dump: %s", tl_ctx_error(tlb_ctx(L)));
  *box = buf;
  lua_pushlstring(L, (const char *)buf, len);
  free(buf);
  *box = NULL;
  return 1;
}

/* opt:load_string(s): the state opt:dump() gave, into this optimizer over
** the same parameters (or a model's loaded copy of them). */
static int optim_load_string(lua_State *L) {
  tl_optim *o = tooptim(L, "load_string");
  if (lua_type(L, 2) != LUA_TSTRING)
    return tlb_argerror(L, 2, "load_string", "string expected, got %s",
                        luaL_typename(L, 2));
  size_t len;
  const char *s = lua_tolstring(L, 2, &len);
  tl_ctx *ctx = tlb_ctx(L);
  switch (tl_optim_load_bytes(ctx, o, s, len)) {
    case TL_OK: return 0;
    case TL_ENOMEM: return luaL_error(L, "load_string: %s", tl_ctx_error(ctx));
    default: return tlb_argerror(L, 2, "load_string", "%s", tl_ctx_error(ctx));
  }
}

void tlb_pushoptim(lua_State *L) {
  tlb_optim *h = tlb_newudata(L, sizeof *h);
  h->o = NULL;
  tlb_setclass(L, TLB_OPTIMIZER, sizeof *h);
}

void tlb_filloptim(lua_State *L, int idx, tl_optim *o) {
  ((tlb_optim *)lua_touserdata(L, idx))->o = o;
}

tl_optim *tlb_checkoptim(lua_State *L, int idx, int arg, const char *fname,
                         const char *what) {
  tlb_optim *h = tlb_testudata(L, idx, TLB_OPTIMIZER, sizeof *h);
  if (h == NULL)
    tlb_argerror(L, arg, fname, "%s must be an Optimizer, got %s", what,
                 luaL_getmetafield(L, idx, "__name") == LUA_TSTRING
                 ? lua_tostring(L, -1) : luaL_typename(L, idx));
  else if (h->o == NULL)
    luaL_error(L, "%s: Optimizer used after it was collected", fname);
  tlb_ctx(L);
  return h->o;
}

/* }====================================================================== */

static int optim_gc(lua_State *L) {
  tlb_optim *h = tlb_testudata(L, 1, TLB_OPTIMIZER, sizeof *h);
  if (h == NULL) return 0;
  tl_ctx *ctx = tlb_ctx_or_null(L);
  if (ctx != NULL) tl_optim_free(ctx, h->o);   /* see model_gc in nn.c */
  h->o = NULL;
  return 0;
}

void tlb_open_optim(lua_State *L) {
  static const luaL_Reg meta[] = {
    {"__newindex", optim_newindex}, {"__tostring", optim_tostring},
    {"__gc", optim_gc}, {NULL, NULL}
  };
  static const luaL_Reg methods[] = {
    {"step", optim_step}, {"zero_grad", optim_zero_grad},
    {"dump", optim_dump}, {"load_string", optim_load_string}, {NULL, NULL}
  };
  tlb_newclass(L, TLB_OPTIMIZER, meta, methods, optim_index);
  lua_pop(L, 1);                               /* metatable */
  lua_createtable(L, 0, TL_OPTIM_COUNT);
  for (int k = 0; k < TL_OPTIM_COUNT; k++) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_pushinteger(L, k);
    lua_pushcclosure(L, optim_new, 3);
    lua_setfield(L, -2, tl_optim_name((tl_optim_kind)k));
  }
  lua_setfield(L, -2, "optim");                /* module.optim */
}
