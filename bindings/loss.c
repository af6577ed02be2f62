/*
** loss.c -- torchlet.loss: mse, hinge, bce (on logits), cross_entropy.
**
**   loss.mse(scores, targets)          mean((s - y)^2)
**   loss.hinge(scores, targets)        mean(relu(1 - y*s)), y in {-1, 1}
**   loss.bce(logits, targets)          binary cross-entropy on logits,
**                                      y in [0, 1]
**   loss.cross_entropy(logits, class)  softmax cross-entropy: logits a row
**                                      of k scores and class in 1..k, or a
**                                      table of rows and a table of classes
**
** Scores are Elements or numbers, either a Lua array or a single value
** (then the target is a single number).  Each returns one Element: the mean
** over the samples, built in C (core/loss.c).
*/
#include "../core/tl_loss.h"
#include "tlb_args.h"

/* {======================================================================
** Reading scores and targets
** ======================================================================= */

/* Scratch for n samples, owned by Lua (freed by the collector even if an
** error follows): nodes then numbers. */
typedef struct samples {
  size_t n;
  tl_node **s;
  double *y;
} samples;

/* Checks that the value on top is a score (an Element or a number). */
static void checkscore(lua_State *L, const char *fname, int arg, size_t i) {
  if (lua_type(L, -1) != LUA_TNUMBER && tlb_toelement(L, -1) == NULL)
    tlb_argerror(L, arg, fname, "score %d must be an Element or a number, "
                 "got %s", (int)i, luaL_typename(L, -1));
}

/* The node for the score on top, one reference: an Element's node, or a
** new leaf for a number (NULL when the pool is exhausted). */
static tl_node *scorenode(lua_State *L, tl_ctx *ctx) {
  tl_node *n = tlb_toelement(L, -1);
  if (n == NULL) return tl_leaf(ctx, lua_tonumber(L, -1));
  tl_retain(n);
  return n;
}

static void release_scores(tl_ctx *ctx, size_t n, tl_node **s) {
  for (size_t i = 0; i < n; i++) tl_release(ctx, s[i]);
}

/* Reads scores (argument 1) and numeric targets (argument 2); every score
** node holds one reference (release_scores). */
static samples readsamples(lua_State *L, const char *fname) {
  samples sm;
  int table = lua_type(L, 1) == LUA_TTABLE;
  if (!table && lua_type(L, 1) != LUA_TNUMBER && tlb_toelement(L, 1) == NULL)
    tlb_typeerror(L, 1, fname, "table of scores, Element or number");
  sm.n = table ? tlb_rawlen(L, 1, 1, fname) : 1;
  if (sm.n == 0) tlb_argerror(L, 1, fname, "no scores given");
  if (table) {
    if (lua_type(L, 2) != LUA_TTABLE) tlb_typeerror(L, 2, fname, "table of targets");
    size_t ny = tlb_rawlen(L, 2, 2, fname);
    if (ny != sm.n)
      tlb_argerror(L, 2, fname, "%d targets for %d scores (lengths must match)",
                   (int)ny, (int)sm.n);
  } else if (lua_type(L, 2) != LUA_TNUMBER)
    tlb_typeerror(L, 2, fname, "number");
  sm.s = lua_newuserdatauv(L, sm.n * (sizeof(tl_node *) + sizeof(double)), 0);
  sm.y = (double *)(sm.s + sm.n);
  for (size_t i = 0; i < sm.n; i++) {   /* check everything first */
    if (table) lua_rawgeti(L, 1, (lua_Integer)i + 1); else lua_pushvalue(L, 1);
    checkscore(L, fname, 1, i + 1);
    if (table) lua_rawgeti(L, 2, (lua_Integer)i + 1); else lua_pushvalue(L, 2);
    if (lua_type(L, -1) != LUA_TNUMBER)
      tlb_argerror(L, 2, fname, "target %d must be a number, got %s",
                   (int)i + 1, luaL_typename(L, -1));
    sm.y[i] = lua_tonumber(L, -1);
    lua_pop(L, 2);
  }
  tl_ctx *ctx = tlb_ctx(L);
  for (size_t i = 0; i < sm.n; i++) {
    if (table) lua_rawgeti(L, 1, (lua_Integer)i + 1); else lua_pushvalue(L, 1);
    sm.s[i] = scorenode(L, ctx);
    lua_pop(L, 1);
    if (sm.s[i] == NULL) {
      release_scores(ctx, i, sm.s);
      tlb_error(L);
    }
  }
  return sm;
}

typedef tl_node *(*loss_fn)(tl_ctx *ctx, size_t n, tl_node *const *s,
                            const double *y);
typedef tl_node *(*array_loss_fn)(tl_ctx *ctx, tl_node *s, size_t n,
                                  const double *y);

/* Batched form: argument 1 an array Element of n scores, argument 2 a
** table of n numbers or an Element holding n values. */
static int array_loss(lua_State *L, const char *fname, tl_node *s,
                      array_loss_fn f) {
  size_t n = tl_dim(s, 0);
  tl_node *yn = tlb_toelement(L, 2);
  const double *y;
  if (yn != NULL) {
    if (tl_size(yn) != n)
      return tlb_argerror(L, 2, fname, "%d targets for %d scores (lengths "
                          "must match)", (int)tl_size(yn), (int)n);
    y = tl_values(yn);
  } else {
    if (lua_type(L, 2) != LUA_TTABLE) return tlb_typeerror(L, 2, fname, "table of targets");
    if (lua_rawlen(L, 2) != n)
      return tlb_argerror(L, 2, fname, "%d targets for %d scores (lengths "
                          "must match)", (int)lua_rawlen(L, 2), (int)n);
    double *buf = lua_newuserdatauv(L, n * sizeof *buf, 0);
    for (size_t i = 0; i < n; i++) {
      if (lua_rawgeti(L, 2, (lua_Integer)i + 1) != LUA_TNUMBER)
        return tlb_argerror(L, 2, fname, "target %d must be a number, got %s",
                            (int)i + 1, luaL_typename(L, -1));
      buf[i] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    y = buf;
  }
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, f(tlb_ctx(L), s, n, y));
  return 1;
}

static int elementwise(lua_State *L, const char *fname, loss_fn f,
                       array_loss_fn fa) {
  tl_node *batch = tlb_toelement(L, 1);
  if (batch != NULL && tl_is_array(batch)) return array_loss(L, fname, batch, fa);
  samples sm = readsamples(L, fname);
  tl_ctx *ctx = tlb_ctx(L);
  tlb_element *h = tlb_newhandle(L);
  tl_node *r = f(ctx, sm.n, sm.s, sm.y);
  release_scores(ctx, sm.n, sm.s);    /* the result holds what it needs */
  tlb_sethandle(L, h, r);
  return 1;
}

/* }====================================================================== */

static int loss_mse(lua_State *L) {
  return elementwise(L, "mse", tl_loss_mse, tl_loss_mse_array);
}
static int loss_hinge(lua_State *L) {
  return elementwise(L, "hinge", tl_loss_hinge, tl_loss_hinge_array);
}
static int loss_bce(lua_State *L) {
  return elementwise(L, "bce", tl_loss_bce_logits, tl_loss_bce_logits_array);
}

/* A class index at the top of the stack, in 1..k, as 0-based. */
static size_t checkclass(lua_State *L, size_t k, size_t sample) {
  int isint = 0;
  lua_Integer c = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
  if (!isint || c < 1 || (lua_Unsigned)c > k)
    tlb_argerror(L, 2, "cross_entropy", "class of sample %d must be an "
                 "integer in 1..%d, got %s", (int)sample, (int)k,
                 luaL_tolstring(L, -1, NULL));
  return (size_t)(c - 1);
}

/* cross_entropy(logits, classes) with logits an (n x k) array Element */
static int array_cross_entropy(lua_State *L, tl_node *logits) {
  const char *fname = "cross_entropy";
  if (tl_ndim(logits) != 2)
    return tlb_argerror(L, 1, fname, "logits of shape (N, K) expected");
  size_t n = tl_dim(logits, 0), k = tl_dim(logits, 1);
  if (lua_type(L, 2) != LUA_TTABLE) return tlb_typeerror(L, 2, fname, "table of classes");
  if (lua_rawlen(L, 2) != n)
    return tlb_argerror(L, 2, fname, "%d classes for %d rows of logits "
                        "(lengths must match)", (int)lua_rawlen(L, 2), (int)n);
  size_t *cls = lua_newuserdatauv(L, n * sizeof *cls, 0);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, 2, (lua_Integer)i + 1);
    cls[i] = checkclass(L, k, i + 1);
    lua_pop(L, 1);
  }
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_loss_cross_entropy_array(tlb_ctx(L), logits, cls));
  return 1;
}

/* cross_entropy(row, class), cross_entropy(rows, classes), or an (n x k)
** array Element of logits with a table of n classes. */
static int loss_cross_entropy(lua_State *L) {
  const char *fname = "cross_entropy";
  tl_node *arr = tlb_toelement(L, 1);
  if (arr != NULL && tl_is_array(arr)) return array_cross_entropy(L, arr);
  size_t n = tlb_checklist(L, 1, fname, "table of logits");
  if (n == 0) return tlb_argerror(L, 1, fname, "no logits given");
  lua_rawgeti(L, 1, 1);
  int batch = lua_type(L, -1) == LUA_TTABLE;
  size_t k = batch ? tlb_rawlen(L, -1, 1, fname) : n;
  lua_pop(L, 1);
  if (!batch) n = 1;
  if (k == 0) return tlb_argerror(L, 1, fname, "no classes in row 1");
  if (batch) {
    if (lua_type(L, 2) != LUA_TTABLE) return tlb_typeerror(L, 2, fname, "table of classes");
    if (lua_rawlen(L, 2) != n)
      return tlb_argerror(L, 2, fname, "%d classes for %d rows of logits "
                          "(lengths must match)", (int)lua_rawlen(L, 2), (int)n);
  }
  tl_node **s = lua_newuserdatauv(L, n * k * sizeof *s + n * sizeof(size_t), 0);
  size_t *cls = (size_t *)(s + n * k);
  int rows = lua_gettop(L) + 1;           /* where each row is pushed */
  for (size_t i = 0; i < n; i++) {        /* check everything first */
    if (batch) {
      if (lua_rawgeti(L, 1, (lua_Integer)i + 1) != LUA_TTABLE || lua_rawlen(L, -1) != k)
        return tlb_argerror(L, 1, fname, "row %d must be a table of %d logits",
                            (int)i + 1, (int)k);
      lua_rawgeti(L, 2, (lua_Integer)i + 1);
    } else {
      lua_pushvalue(L, 1);
      lua_pushvalue(L, 2);
    }
    cls[i] = checkclass(L, k, i + 1);
    lua_pop(L, 1);
    for (size_t j = 0; j < k; j++) {
      lua_rawgeti(L, rows, (lua_Integer)j + 1);
      checkscore(L, fname, 1, j + 1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  tl_ctx *ctx = tlb_ctx(L);
  for (size_t i = 0; i < n; i++) {
    if (batch) lua_rawgeti(L, 1, (lua_Integer)i + 1); else lua_pushvalue(L, 1);
    for (size_t j = 0; j < k; j++) {
      lua_rawgeti(L, rows, (lua_Integer)j + 1);
      s[i * k + j] = scorenode(L, ctx);
      lua_pop(L, 1);
      if (s[i * k + j] == NULL) {
        release_scores(ctx, i * k + j, s);
        return tlb_error(L);
      }
    }
    lua_pop(L, 1);
  }
  tlb_element *h = tlb_newhandle(L);
  tl_node *r = tl_loss_cross_entropy(ctx, n, k, s, cls);
  release_scores(ctx, n * k, s);
  tlb_sethandle(L, h, r);
  return 1;
}

void tlb_open_loss(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"mse", loss_mse}, {"hinge", loss_hinge}, {"bce", loss_bce},
    {"cross_entropy", loss_cross_entropy}, {NULL, NULL}
  };
  lua_newtable(L);
  tlb_setfuncs(L, funcs);
  lua_setfield(L, -2, "loss");                 /* module.loss */
}
