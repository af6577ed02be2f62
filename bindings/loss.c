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
**   loss.l1(scores, targets)           mean(|s - y|)
**   loss.huber(scores, targets [, {delta = 1}])
**                                      0.5 d^2 below delta, else
**                                      delta (d - 0.5 delta), d = |s - y|
**   loss.nll(log_probs, classes)       -mean(logp[i][class i]): an (n x k)
**                                      array Element and a table of n
**                                      classes, or a vector and a class
**
** Scores are Elements or numbers, either a Lua array or a single value
** (then the target is a single number), or an array Element (batched).
** Each returns one Element: the mean over the samples, built in C
** (core/loss.c).  A Lua array of scores enters the core's one array form
** of each loss through one stacking node.
*/
#include <math.h>

#include "../core/size.h"
#include "../core/tl_loss.h"
#include "tlb.h"

/* {======================================================================
** Reading scores and targets
**
** Node references are taken last, after every check and every Lua
** allocation, into scratch that a handle already on the stack is waiting
** for: a Lua error (a memory error included) never finds a reference
** that nothing owns.
** ======================================================================= */

/* Scratch for n samples, owned by Lua (freed by the collector even if an
** error follows): score nodes, targets, and the scores given as numbers. */
typedef struct samples {
  size_t n;
  tl_node **s;
  double *y, *num;
} samples;

/* The Element's node for the score on top (borrowed), or NULL for a
** number, which goes to *num; anything else raises about score i. */
static tl_node *checkscore(lua_State *L, const char *fname, size_t i,
                           double *num) {
  if (lua_type(L, -1) == LUA_TNUMBER) {
    *num = lua_tonumber(L, -1);
    return NULL;
  }
  tl_node *n = tlb_toelement(L, -1);
  if (n == NULL) {
    const char *got = luaL_typename(L, -1);
    tlb_argerror(L, 1, fname, "score %s must be an Element or a number, "
                 "got %s", tlb_pushsize(L, i), got);
  }
  return n;
}

/* Turns the n recorded scores s[i] (borrowed nodes, or NULL for the number
** num[i]) into references: a retained node or a new leaf.  Makes no Lua
** call, so nothing can raise or collect between the recording and this.
** 0 when the pool is exhausted, with the references taken so far
** released. */
static int retain_scores(tl_ctx *ctx, size_t n, tl_node **s, const double *num) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] != NULL) tl_retain(s[i]);
    else if ((s[i] = tl_leaf(ctx, num[i])) == NULL) {
      while (i > 0) tl_release(ctx, s[--i]);
      return 0;
    }
  }
  return 1;
}

static void release_scores(tl_ctx *ctx, size_t n, tl_node **s) {
  for (size_t i = 0; i < n; i++) tl_release(ctx, s[i]);
}

/* Raises "ny targets for ns scores" about argument 2. */
static int lengths_differ(lua_State *L, const char *fname, size_t ny,
                          const char *what, size_t ns, const char *of) {
  return tlb_argerror(L, 2, fname, "%s %s for %s %s (lengths must match)",
                      tlb_pushsize(L, ny), what, tlb_pushsize(L, ns), of);
}

/* Checks the n targets y against what loss 'fname' takes (1-based). */
static void checktargets(lua_State *L, const char *fname, tl_targets kind,
                         size_t n, const double *y) {
  const char *want;
  size_t i = tl_loss_bad_target(kind, n, y, &want);
  if (i < n) {
    char got[32];
    tl_format_number(got, sizeof got, y[i], 'g', 17);
    tlb_argerror(L, 2, fname, "target %s must be %s, got %s",
                 tlb_pushsize(L, i + 1), want, got);
  }
}

/* Reads scores (argument 1) and numeric targets (argument 2); every score
** node holds one reference (release_scores).  Call with the result's
** handle already pushed. */
static samples readsamples(lua_State *L, const char *fname, tl_targets kind) {
  samples sm;
  int table = lua_type(L, 1) == LUA_TTABLE;
  if (!table && lua_type(L, 1) != LUA_TNUMBER && tlb_toelement(L, 1) == NULL)
    tlb_typeerror(L, 1, fname, "table of scores, Element or number");
  sm.n = table ? tlb_rawlen(L, 1, 1, fname) : 1;
  if (sm.n == 0) tlb_argerror(L, 1, fname, "no scores given");
  if (table) {
    if (lua_type(L, 2) != LUA_TTABLE) tlb_typeerror(L, 2, fname, "table of targets");
    size_t ny = tlb_rawlen(L, 2, 2, fname);
    if (ny != sm.n) lengths_differ(L, fname, ny, "targets", sm.n, "scores");
  } else if (lua_type(L, 2) != LUA_TNUMBER)
    tlb_typeerror(L, 2, fname, "number");
  /* Two passes: check, then allocate and record (a sparse table claiming
  ** 2^31 entries fails the first without allocating anything).  The
  ** second checks again: the allocation can run finalizers. */
  sm.s = NULL;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      sm.s = tlb_newscratch(L, sm.n, sizeof(tl_node *) + 2 * sizeof(double),
                            1, fname);
      sm.y = (double *)(sm.s + sm.n);
      sm.num = sm.y + sm.n;
    }
    for (size_t i = 0; i < sm.n; i++) {
      double num = 0, y;
      if (table) lua_rawgeti(L, 1, (lua_Integer)i + 1); else lua_pushvalue(L, 1);
      tl_node *n = checkscore(L, fname, i + 1, &num);
      if (table) lua_rawgeti(L, 2, (lua_Integer)i + 1); else lua_pushvalue(L, 2);
      if (lua_type(L, -1) != LUA_TNUMBER) {
        const char *got = luaL_typename(L, -1);
        tlb_argerror(L, 2, fname, "target %s must be a number, got %s",
                     tlb_pushsize(L, i + 1), got);
      }
      y = lua_tonumber(L, -1);
      lua_pop(L, 2);
      if (sm.s != NULL) { sm.s[i] = n; sm.num[i] = num; sm.y[i] = y; }
    }
  }
  checktargets(L, fname, kind, sm.n, sm.y);
  if (!retain_scores(tlb_ctx(L), sm.n, sm.s, sm.num)) tlb_error(L);
  return sm;
}

/* A loss over n scores and targets; 'k' is the loss's parameter (huber's
** delta), unused by the others. */
typedef tl_node *(*loss_fn)(tl_ctx *ctx, tl_node *s, size_t n,
                            const double *y, double k);

/* Batched form: argument 1 an array Element of n scores, argument 2 a
** table of n numbers or an Element holding n values. */
static int array_loss(lua_State *L, const char *fname, tl_node *s,
                      loss_fn f, tl_targets kind, double k) {
  size_t n = tl_dim(s, 0);
  tl_node *yn = tlb_toelement(L, 2);
  const double *y;
  if (yn != NULL) {
    if (tl_size(yn) != n) return lengths_differ(L, fname, tl_size(yn), "targets", n, "scores");
    /* the loss keeps the targets' values: in a compiled step, targets that
    ** a replay would change must not be frozen silently */
    if (tlb_varies_in_capture(L, yn))
      return tlb_argerror(L, 2, fname, "targets that change per call of a "
                          "compiled step (an argument of the step, or "
                          "computed in it) cannot be a loss's targets, which "
                          "keep the values they had when recorded; write the "
                          "loss with ops, e.g. ((s - Y) ^ 2):mean()");
    y = tlb_values_f64(L, yn);
  } else {
    if (lua_type(L, 2) != LUA_TTABLE) return tlb_typeerror(L, 2, fname, "table of targets");
    size_t ny = tlb_rawlen(L, 2, 2, fname);
    if (ny != n) return lengths_differ(L, fname, ny, "targets", n, "scores");
    for (size_t i = 0; i < n; i++) {
      if (lua_rawgeti(L, 2, (lua_Integer)i + 1) != LUA_TNUMBER) {
        const char *got = luaL_typename(L, -1);
        return tlb_argerror(L, 2, fname, "target %s must be a number, got %s",
                            tlb_pushsize(L, i + 1), got);
      }
      lua_pop(L, 1);
    }
    double *buf = tlb_newscratch(L, n, sizeof *buf, 2, fname);
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, 2, (lua_Integer)i + 1);
      buf[i] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    y = buf;
  }
  checktargets(L, fname, kind, n, y);
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, f(tlb_ctx(L), s, n, y, k));
  return 1;
}

/* A loss over a Lua array of scores (or one score): the scores are
** stacked into one vector node, and the loss is taken of it. */
static int elementwise(lua_State *L, const char *fname, loss_fn f,
                       tl_targets kind, double k) {
  lua_settop(L, 2);                     /* the handle goes to index 3 */
  tl_node *batch = tlb_toelement(L, 1);
  if (batch != NULL && tl_is_array(batch)) return array_loss(L, fname, batch, f, kind, k);
  tlb_element *h = tlb_newhandle(L);     /* before any reference is taken */
  samples sm = readsamples(L, fname, kind);
  tl_ctx *ctx = tlb_ctx(L);
  tl_node *s = tl_loss_stack(ctx, sm.n, sm.s);
  release_scores(ctx, sm.n, sm.s);    /* the stack holds what it needs */
  tl_node *r = s ? f(ctx, s, sm.n, sm.y, k) : NULL;
  tl_release(ctx, s);                 /* and the result the stack */
  tlb_sethandle(L, h, r);
  lua_settop(L, 3);
  return 1;
}

/* }====================================================================== */

/* The core's losses as loss_fn (only huber takes k). */
static tl_node *mse_k(tl_ctx *c, tl_node *s, size_t n, const double *y, double k) {
  (void)k; return tl_loss_mse(c, s, n, y);
}
static tl_node *hinge_k(tl_ctx *c, tl_node *s, size_t n, const double *y, double k) {
  (void)k; return tl_loss_hinge(c, s, n, y);
}
static tl_node *bce_k(tl_ctx *c, tl_node *s, size_t n, const double *y, double k) {
  (void)k; return tl_loss_bce_logits(c, s, n, y);
}
static tl_node *l1_k(tl_ctx *c, tl_node *s, size_t n, const double *y, double k) {
  (void)k; return tl_loss_l1(c, s, n, y);
}

static int loss_mse(lua_State *L) {
  return elementwise(L, "mse", mse_k, TL_TARGETS_ANY, 0);
}
static int loss_hinge(lua_State *L) {
  return elementwise(L, "hinge", hinge_k, TL_TARGETS_SIGN, 0);
}
static int loss_bce(lua_State *L) {
  return elementwise(L, "bce", bce_k, TL_TARGETS_UNIT, 0);
}
static int loss_l1(lua_State *L) {
  return elementwise(L, "l1", l1_k, TL_TARGETS_ANY, 0);
}

/* huber(scores, targets [, {delta = 1}]): options read first, then the
** scores and targets as every elementwise loss. */
static int loss_huber(lua_State *L) {
  static const char *const allowed[] = {"delta", NULL};
  tlb_checkopts(L, 3, "huber", allowed);
  double delta = tlb_optnumber(L, 3, "huber", "delta", 1.0);
  if (!(delta > 0) || isinf(delta))
    return tlb_argerror(L, 3, "huber", "option 'delta' must be a positive "
                        "finite number");
  return elementwise(L, "huber", tl_loss_huber, TL_TARGETS_ANY, delta);
}

/* A class index at the top of the stack, in 1..k, as 0-based. */
static size_t checkclass(lua_State *L, const char *fname, size_t k,
                         size_t sample) {
  int isint = 0;
  lua_Integer c = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
  if (!isint || c < 1 || (lua_Unsigned)c > k) {
    const char *got = tlb_pushvalue_text(L, -1);
    tlb_argerror(L, 2, fname, "class of sample %s must be an "
                 "integer in 1..%s, got %s", tlb_pushsize(L, sample),
                 tlb_pushsize(L, k), got);
  }
  return (size_t)(c - 1);
}

/* Checks that the table at argument 2 holds n classes. */
static void checkclasses(lua_State *L, const char *fname, size_t n,
                         const char *rows) {
  if (lua_type(L, 2) != LUA_TTABLE)
    tlb_typeerror(L, 2, fname, "table of classes");
  size_t nc = tlb_rawlen(L, 2, 2, fname);
  if (nc != n) lengths_differ(L, fname, nc, "classes", n, rows);
}

/* cross_entropy(logits, classes) with logits an (n x k) array Element */
static int array_cross_entropy(lua_State *L, tl_node *logits) {
  const char *fname = "cross_entropy";
  if (tl_ndim(logits) != 2)
    return tlb_argerror(L, 1, fname, "logits of shape (N, K) expected");
  size_t n = tl_dim(logits, 0), k = tl_dim(logits, 1);
  checkclasses(L, fname, n, "rows of logits");
  size_t *cls = tlb_newscratch(L, n, sizeof *cls, 2, fname);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, 2, (lua_Integer)i + 1);
    cls[i] = checkclass(L, fname, k, i + 1);
    lua_pop(L, 1);
  }
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_loss_cross_entropy(tlb_ctx(L), logits, cls));
  return 1;
}

/* cross_entropy(row, class), cross_entropy(rows, classes), or an (n x k)
** array Element of logits with a table of n classes. */
static int loss_cross_entropy(lua_State *L) {
  const char *fname = "cross_entropy";
  lua_settop(L, 2);
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
  if (batch) checkclasses(L, fname, n, "rows of logits");
  else if (lua_type(L, 2) != LUA_TNUMBER) return tlb_typeerror(L, 2, fname, "number");
  /* Sparse tables can claim 2^31 rows of 2^31 logits: the size is checked
  ** before anything else is (it used to wrap to a tiny block). */
  size_t cells, bytes;
  if (!tl__size_mul(n, k, &cells) || !tl__size_mul(cells, sizeof(tl_node *), &bytes))
    return tlb_argerror(L, 1, fname, "%s rows of %s logits do not fit in memory",
                        tlb_pushsize(L, n), tlb_pushsize(L, k));
  /* Two passes, as readsamples: check, then allocate and record. */
  tlb_element *h = NULL;
  int hidx = 0;
  tl_node **s = NULL;
  double *num = NULL;
  size_t *cls = NULL;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      h = tlb_newhandle(L);             /* before any reference is taken */
      hidx = lua_gettop(L);
      s = tlb_newscratch(L, cells, sizeof *s, 1, fname);
      num = tlb_newscratch(L, cells, sizeof *num, 1, fname);
      cls = tlb_newscratch(L, n, sizeof *cls, 2, fname);
    }
    int rows = lua_gettop(L) + 1;         /* where each row is pushed */
    for (size_t i = 0; i < n; i++) {
      if (batch) {
        if (lua_rawgeti(L, 1, (lua_Integer)i + 1) != LUA_TTABLE || lua_rawlen(L, -1) != k)
          return tlb_argerror(L, 1, fname, "row %s must be a table of %s logits",
                              tlb_pushsize(L, i + 1), tlb_pushsize(L, k));
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
      } else {
        lua_pushvalue(L, 1);
        lua_pushvalue(L, 2);
      }
      size_t c = checkclass(L, fname, k, i + 1);
      lua_pop(L, 1);
      if (cls != NULL) cls[i] = c;
      for (size_t j = 0; j < k; j++) {
        double v = 0;
        lua_rawgeti(L, rows, (lua_Integer)j + 1);
        tl_node *x = checkscore(L, fname, j + 1, &v);
        lua_pop(L, 1);
        if (s != NULL) { s[i * k + j] = x; num[i * k + j] = v; }
      }
      lua_pop(L, 1);
    }
  }
  tl_ctx *ctx = tlb_ctx(L);
  if (!retain_scores(ctx, cells, s, num)) return tlb_error(L);
  size_t shape[2] = {n, k};
  tl_node *logits = tl_stack(ctx, cells, s, 2, shape);   /* one node */
  release_scores(ctx, cells, s);
  tl_node *r = logits ? tl_loss_cross_entropy(ctx, logits, cls) : NULL;
  tl_release(ctx, logits);
  tlb_sethandle(L, h, r);
  lua_settop(L, hidx);
  return 1;
}

/* nll(log_probs, classes): an (n x k) array Element of log-probabilities
** (x:log_softmax(2)) and a table of n classes in 1..k, or a vector of k
** and one class (PyTorch's NLLLoss, mean over the samples). */
static int loss_nll(lua_State *L) {
  const char *fname = "nll";
  lua_settop(L, 2);
  tl_node *lp = tlb_toelement(L, 1);
  if (lp == NULL || !tl_is_array(lp))
    return tlb_typeerror(L, 1, fname, "array Element of log-probabilities");
  size_t nd = tl_ndim(lp);
  if (nd > 2)
    return tlb_argerror(L, 1, fname, "log-probabilities of shape (N, K) or "
                        "(K) expected, got %s dimensions", tlb_pushsize(L, nd));
  size_t n = nd == 2 ? tl_dim(lp, 0) : 1, k = tl_dim(lp, nd - 1);
  if (nd == 2) checkclasses(L, fname, n, "rows of log-probabilities");
  else if (lua_type(L, 2) != LUA_TNUMBER)
    return tlb_typeerror(L, 2, fname, "class number (log-probabilities of one sample)");
  size_t *cls = tlb_newscratch(L, n, sizeof *cls, 2, fname);
  for (size_t i = 0; i < n; i++) {
    if (nd == 2) lua_rawgeti(L, 2, (lua_Integer)i + 1); else lua_pushvalue(L, 2);
    cls[i] = checkclass(L, fname, k, i + 1);
    lua_pop(L, 1);
  }
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_loss_nll(tlb_ctx(L), lp, cls));
  return 1;
}

void tlb_open_loss(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"mse", loss_mse}, {"hinge", loss_hinge}, {"bce", loss_bce},
    {"cross_entropy", loss_cross_entropy}, {"l1", loss_l1},
    {"huber", loss_huber}, {"nll", loss_nll}, {NULL, NULL}
  };
  lua_newtable(L);
  tlb_setfuncs(L, funcs);
  lua_setfield(L, -2, "loss");                 /* module.loss */
}
