/*
** checkpoint.c -- checkpoints from Lua (core/tl_checkpoint.h).
**
**   torchlet.save_checkpoint(path, {model = m [, optimizer = opt] [, step = n]})
**   torchlet.dump_checkpoint{model = m [, optimizer = opt] [, step = n]}  -> string
**   torchlet.load_checkpoint(path)          -> {model =, optimizer =, step =}
**   torchlet.load_checkpoint_string(s)      -> the same
**
** 'optimizer' must optimize exactly model:parameters() (in that order); the
** loaded one is rebuilt over the loaded model's parameters, with the kind,
** options, step counts and state it had.  'step' is any integer >= 0 the
** caller counts (0 when absent); it comes back as saved.
*/
#include <stdlib.h>

#include "../core/tl_checkpoint.h"
#include "tlb.h"

/* Reads the checkpoint table at 'arg' into its parts. */
static void readparts(lua_State *L, int arg, const char *fname, tl_mlp **m,
                      tl_optim **o, uint64_t *step) {
  static const char *const allowed[] = {"model", "optimizer", "step", NULL};
  if (lua_type(L, arg) != LUA_TTABLE)
    tlb_argerror(L, arg, fname, "table {model = ..., optimizer = ..., step = "
                 "...} expected, got %s", luaL_typename(L, arg));
  tlb_checkopts(L, arg, fname, allowed);
  lua_getfield(L, arg, "model");
  if (lua_isnil(L, -1))
    tlb_argerror(L, arg, fname, "field 'model' is missing");
  *m = tlb_checkmodel(L, lua_gettop(L), arg, fname, "field 'model'");
  lua_getfield(L, arg, "optimizer");
  *o = lua_isnil(L, -1) ? NULL
       : tlb_checkoptim(L, lua_gettop(L), arg, fname, "field 'optimizer'");
  lua_getfield(L, arg, "step");
  *step = 0;
  if (!lua_isnil(L, -1)) {
    int ok = 0;
    lua_Integer n = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &ok) : 0;
    if (!ok || n < 0)
      tlb_argerror(L, arg, fname, "field 'step' must be an integer >= 0, got "
                   "%s", tlb_pushvalue_text(L, -1));
    *step = (uint64_t)n;
  }
  lua_pop(L, 3);     /* the handles stay referenced by the caller's table */
}

/* Raises the context's message after "fname: ", as a bad argument 'arg'
** when the caller's values are at fault (TL_EARG). */
static int fail(lua_State *L, tl_status st, int arg, const char *fname) {
  tl_ctx *ctx = tlb_ctx(L);
  if (st == TL_EARG) return tlb_argerror(L, arg, fname, "%s", tl_ctx_error(ctx));
  return luaL_error(L, "%s: %s", fname, tl_ctx_error(ctx));
}

static int save_checkpoint(lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING) tlb_typeerror(L, 1, "save_checkpoint", "string");
  const char *path = tlb_tofilename(L, 1, 1, "save_checkpoint", "path");
  tl_mlp *m;
  tl_optim *o;
  uint64_t step;
  readparts(L, 2, "save_checkpoint", &m, &o, &step);
  tl_status st = tl_checkpoint_save(tlb_ctx(L), m, o, step, path);
  if (st == TL_OK) return 0;
  if (st == TL_EIO) return tlb_error(L);    /* names the path itself */
  return fail(L, st, 2, "save_checkpoint");
}

static int dump_checkpoint(lua_State *L) {
  tl_mlp *m;
  tl_optim *o;
  uint64_t step;
  readparts(L, 1, "dump_checkpoint", &m, &o, &step);
  void **box = tlb_newbox(L);          /* frees the bytes if pushing raises */
  unsigned char *buf;
  size_t len;
  tl_status st = tl_checkpoint_dump(tlb_ctx(L), m, o, step, &buf, &len);
  if (st != TL_OK) return fail(L, st, 1, "dump_checkpoint");
  *box = buf;
  lua_pushlstring(L, (const char *)buf, len);
  free(buf);
  *box = NULL;
  return 1;
}

/* Pushes a table and two empty handles for a checkpoint's parts: made
** before the core loads anything, so no allocation that may raise comes
** between loading and the handles owning the parts. */
static void pushslots(lua_State *L) {
  lua_createtable(L, 0, 3);
  tlb_pushmodel(L);
  tlb_pushoptim(L);
}

/* Hands the parts of 'ck' to the slots pushslots made and leaves the
** table {model =, optimizer = (nil if none was saved), step =} on top. */
static int fillslots(lua_State *L, tl_checkpoint *ck) {
  tlb_filloptim(L, -1, ck->optim);
  tlb_fillmodel(L, -2, ck->model);
  if (ck->optim != NULL) lua_setfield(L, -3, "optimizer");
  else lua_pop(L, 1);                 /* an empty handle: harmless garbage */
  lua_setfield(L, -2, "model");
  lua_pushinteger(L, (lua_Integer)ck->step);
  lua_setfield(L, -2, "step");
  return 1;
}

static int load_checkpoint(lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING) tlb_typeerror(L, 1, "load_checkpoint", "string");
  const char *path = tlb_tofilename(L, 1, 1, "load_checkpoint", "path");
  pushslots(L);
  tl_checkpoint ck;
  if (tl_checkpoint_load(tlb_ctx(L), path, &ck) != TL_OK) return tlb_error(L);
  return fillslots(L, &ck);
}

static int load_checkpoint_string(lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING)
    tlb_typeerror(L, 1, "load_checkpoint_string", "string");
  size_t len;
  const char *s = lua_tolstring(L, 1, &len);
  pushslots(L);
  tl_checkpoint ck;
  tl_status st = tl_checkpoint_load_bytes(tlb_ctx(L), s, len, &ck);
  if (st != TL_OK) return fail(L, st == TL_ENOMEM ? st : TL_EARG, 1,
                               "load_checkpoint_string");
  return fillslots(L, &ck);
}

void tlb_open_checkpoint(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"save_checkpoint", save_checkpoint},
    {"dump_checkpoint", dump_checkpoint},
    {"load_checkpoint", load_checkpoint},
    {"load_checkpoint_string", load_checkpoint_string},
    {NULL, NULL}
  };
  tlb_setfuncs(L, funcs);
}
