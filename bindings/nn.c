/*
** nn.c -- the Module userdata (Neuron, Layer, MLP) and torchlet.nn.
**
**   nn.Neuron(nin [, opts])          opts: activation ("relu"), nonlin, init
**   nn.Layer(nin, nout [, opts])     opts: activation ("relu"), nonlin, init
**   nn.MLP(nin, sizes [, opts])      opts: activation ("relu", hidden layers),
**                                    output ("linear"), activations, init
**   nn.load(path [, opts])  nn.load_string(s [, opts])
**   model(x)  model:parameters([{scalar = true}])  model:zero_grad()
**   model:l2()  model:memory()  model:save(path [, {format = f}])
**   model:dump([opts])  model:export_c(path [, {name = "model"}])
**   tostring(model)
**
** A forward pass reads the inputs, calls core once and pushes only the
** outputs: no Lua object per intermediate node.  parameters() gives the
** weight and bias arrays; parameters{scalar = true} gives micrograd's
** view, one torchlet.Parameter per value, whose .data and .grad read and
** write the arrays' values.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/tl_interop.h"
#include "../core/tl_nn.h"
#include "tlb.h"

#define TLB_MODULE "torchlet.Module"
#define TLB_PARAMETER "torchlet.Parameter"
#define TLB_MODULE_METHODS "torchlet.Module.methods"

/* A model handle: born empty (m == NULL) so that an error while it is
** being made leaves a harmless husk for __gc. */
typedef struct tlb_model {
  tl_mlp *m;
  tl_node **x;          /* forward scratch: the inputs as nodes */
  tl_node **out;        /* forward scratch: the outputs */
} tlb_model;

static const char *const kind_names[TL_KIND_COUNT] = {"Neuron", "Layer", "MLP"};

static tlb_model *tomodel(lua_State *L, int i, const char *fname) {
  tlb_model *mo = tlb_testudata(L, i, TLB_MODULE, sizeof *mo);
  if (mo == NULL) tlb_typeerror(L, i, fname, "Module");
  else if (mo->m == NULL) luaL_error(L, "%s: Module used after it was collected", fname);
  tlb_ctx(L);                          /* its nodes live in the context */
  return mo;
}

/* {======================================================================
** Construction
** ======================================================================= */

static tlb_model *newmodel(lua_State *L) {
  tlb_model *mo = tlb_newudata(L, sizeof *mo);
  mo->m = NULL;
  mo->x = mo->out = NULL;
  tlb_setclass(L, TLB_MODULE, sizeof *mo);
  return mo;
}

/* Fills the model handle 'mo' (on top of the stack) with 'm', or raises
** the context's error when 'm' is NULL, after "fname: " unless NULL. */
static void setmodel(lua_State *L, tlb_model *mo, tl_mlp *m, const char *fname) {
  if (m == NULL && fname == NULL) tlb_error(L);
  if (m == NULL) luaL_error(L, "%s: %s", fname, tl_ctx_error(tlb_ctx(L)));
  mo->m = m;
  /* Labels, so drawings and e:explain() name the parameters: L1.W, L1.b,
  ** L2.W, ... (layers from 1, as Lua counts).  The model owns its arrays,
  ** which nothing has labelled yet. */
  tl_node *const *ps = tl_mlp_params(m);
  for (size_t i = 0, n = tl_mlp_nparams(m); i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, "L%zu.%s", i / 2 + 1, i % 2 ? "b" : "W");
    if (tl_set_label(tlb_ctx(L), ps[i], name) != TL_OK)
      luaL_error(L, "out of memory creating a model");
  }
  mo->x = malloc(tl_mlp_nin(m) * sizeof *mo->x);
  mo->out = malloc(tl_mlp_nout(m) * sizeof *mo->out);
  if (mo->x == NULL || mo->out == NULL)
    luaL_error(L, "out of memory creating a model");
}

/* The core checks widths too, but names layers from 0: this says it the
** Lua way first. */
static void checkwidth(lua_State *L, int arg, const char *fname,
                       const char *what, size_t n) {
  if (n > TL_MLP_MAX_WIDTH)
    luaL_error(L, "%s: %s must be in 1..%d, got %s", fname, what,
               (int)TL_MLP_MAX_WIDTH, tlb_pushsize(L, n));
  (void)arg;
}

static tl_act checkact(lua_State *L, int arg, const char *fname,
                       const char *name, const char *what) {
  tl_act a = tl_act_from_name(name);
  if (a == TL_ACT_COUNT)
    tlb_argerror(L, arg, fname, "unknown %s '%s' (relu, tanh, sigmoid or "
                 "linear expected)", what, name);
  return a;
}

static tl_init checkinit(lua_State *L, int arg, const char *fname) {
  const char *s = tlb_optstring(L, arg, fname, "init", "default");
  if (strcmp(s, "default") == 0) return TL_INIT_DEFAULT;
  if (strcmp(s, "uniform") == 0) return TL_INIT_UNIFORM;
  return tlb_argerror(L, arg, fname, "unknown init '%s' (default or uniform "
                      "expected)", s), TL_INIT_DEFAULT;
}

/* The activation of a Neuron or Layer: 'activation', or micrograd's
** 'nonlin' (false means linear); ReLU by default, as in micrograd. */
static tl_act single_act(lua_State *L, int arg, const char *fname) {
  static const char *const allowed[] = {"activation", "nonlin", "init", "dtype",
                                        NULL};
  tlb_checkopts(L, arg, fname, allowed);
  const char *name = tlb_optstring(L, arg, fname, "activation", NULL);
  int nonlin = tlb_optboolean(L, arg, fname, "nonlin", 1);
  if (name != NULL && !nonlin)
    tlb_argerror(L, arg, fname, "give either 'activation' or 'nonlin', not both");
  if (name == NULL) return nonlin ? TL_ACT_RELU : TL_ACT_LINEAR;
  return checkact(L, arg, fname, name, "activation");
}

/* Option 'dtype' of a model's options at 'arg': a float32 model is made
** as a float64 one (the same draws from the generator) and converted. */
static void apply_dtype(lua_State *L, tlb_model *mo, int arg, const char *fname) {
  tl_dtype t = tlb_optdtype(L, arg, fname);
  if (t != TL_FLOAT64 && tl_mlp_to_dtype(tlb_ctx(L), mo->m, t) != TL_OK)
    tlb_error(L);
}

static int nn_neuron(lua_State *L) {
  size_t nin = (size_t)tlb_topositive(L, 1, 1, "Neuron", "number of inputs");
  tl_act act = single_act(L, 2, "Neuron");
  tl_init init = checkinit(L, 2, "Neuron");
  size_t one = 1;
  tlb_model *mo = newmodel(L);
  setmodel(L, mo, tl_mlp_new(tlb_ctx(L), TL_KIND_NEURON, nin, 1, &one, &act, init),
           "Neuron");
  apply_dtype(L, mo, 2, "Neuron");
  return 1;
}

static int nn_layer(lua_State *L) {
  size_t nin = (size_t)tlb_topositive(L, 1, 1, "Layer", "number of inputs");
  size_t nout = (size_t)tlb_topositive(L, 2, 2, "Layer", "number of outputs");
  checkwidth(L, 2, "Layer", "size of layer 1", nout);
  tl_act act = single_act(L, 3, "Layer");
  tl_init init = checkinit(L, 3, "Layer");
  tlb_model *mo = newmodel(L);
  setmodel(L, mo, tl_mlp_new(tlb_ctx(L), TL_KIND_LAYER, nin, 1, &nout, &act, init),
           "Layer");
  apply_dtype(L, mo, 3, "Layer");
  return 1;
}

/* The option 'weights' of MLP at 'idx': {W1, b1, W2, b2, ...}, arrays of
** the model's shapes (W (size x fan-in), b (size)), whose values it
** copies, layer by layer W then b, into a scratch buffer it pushes and
** returns (the collector frees it). */
static const double *readweights(lua_State *L, int idx, size_t nin, size_t nl,
                                 const size_t *sizes) {
  if (!lua_istable(L, idx) || lua_rawlen(L, idx) != 2 * nl)
    return tlb_argerror(L, 3, "MLP", "option 'weights' must be a table of %d "
                        "arrays (W1, b1, W2, b2, ...)", (int)(2 * nl)), NULL;
  size_t total = 0, fan_in = nin;
  for (size_t i = 0; i < 2 * nl; i++) {     /* check all: shapes bound sizes */
    size_t l = i / 2, rows = sizes[l];
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    tl_node *a = tlb_toelement(L, -1);
    int ok = a != NULL && (i % 2 == 0
      ? tl_ndim(a) == 2 && tl_dim(a, 0) == rows && tl_dim(a, 1) == fan_in
      : tl_ndim(a) == 1 && tl_dim(a, 0) == rows);
    if (!ok && i % 2)
      return tlb_argerror(L, 3, "MLP", "weights[%d] must be an array of shape "
                          "(%d)", (int)i + 1, (int)rows), NULL;
    if (!ok)
      return tlb_argerror(L, 3, "MLP", "weights[%d] must be an array of shape "
                          "(%d x %d)", (int)i + 1, (int)rows, (int)fan_in), NULL;
    total += tl_size(a);
    lua_pop(L, 1);
    if (i % 2) fan_in = rows;
  }
  double *values = tlb_newscratch(L, total, sizeof *values, 3, "MLP");
  size_t at = 0;
  for (size_t i = 0; i < 2 * nl; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    tl_node *a = tlb_toelement(L, -1);
    memcpy(values + at, tl_values(a), tl_size(a) * sizeof *values);
    at += tl_size(a);
    lua_pop(L, 1);
  }
  return values;
}

/* MLP(nin, sizes [, opts]): the per-layer arrays live in a userdata on
** the stack, so an error while reading them leaks nothing. */
static int nn_mlp(lua_State *L) {
  static const char *const allowed[] = {"activation", "output", "activations",
                                        "init", "dtype", "weights", NULL};
  size_t nin = (size_t)tlb_topositive(L, 1, 1, "MLP", "number of inputs");
  size_t nl = tlb_checklist(L, 2, "MLP", "table of layer sizes");
  if (nl == 0) return tlb_argerror(L, 2, "MLP", "at least one layer expected");
  if (nl > TL_MLP_MAX_LAYERS)
    return tlb_argerror(L, 2, "MLP", "at most %d layers", (int)TL_MLP_MAX_LAYERS);
  tlb_checkopts(L, 3, "MLP", allowed);
  size_t *sizes = lua_newuserdatauv(L, nl * (sizeof(size_t) + sizeof(tl_act)), 0);
  tl_act *acts = (tl_act *)(sizes + nl);
  for (size_t l = 0; l < nl; l++) {
    lua_rawgeti(L, 2, (lua_Integer)l + 1);
    char what[48];
    snprintf(what, sizeof what, "layer size %d", (int)l + 1);
    sizes[l] = (size_t)tlb_topositive(L, -1, 2, "MLP", what);
    lua_pop(L, 1);
    checkwidth(L, 2, "MLP", what, sizes[l]);
  }
  tl_act hidden = checkact(L, 3, "MLP", tlb_optstring(L, 3, "MLP", "activation", "relu"),
                           "activation");
  tl_act output = checkact(L, 3, "MLP", tlb_optstring(L, 3, "MLP", "output", "linear"),
                           "activation");
  for (size_t l = 0; l < nl; l++) acts[l] = l + 1 < nl ? hidden : output;
  if (tlb_getopt(L, 3, "activations") != LUA_TNIL) {   /* read raw */
    if (!lua_istable(L, -1) || lua_rawlen(L, -1) != nl)
      return tlb_argerror(L, 3, "MLP", "option 'activations' must be a table "
                          "with one name per layer (%d)", (int)nl);
    for (size_t l = 0; l < nl; l++) {
      if (lua_rawgeti(L, -1, (lua_Integer)l + 1) != LUA_TSTRING)
        return tlb_argerror(L, 3, "MLP", "activations[%d] must be a string",
                            (int)l + 1);
      acts[l] = checkact(L, 3, "MLP", lua_tostring(L, -1), "activation");
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  tl_init init = checkinit(L, 3, "MLP");
  const double *values = NULL;
  int has_init = tlb_getopt(L, 3, "init") != LUA_TNIL;
  if (tlb_getopt(L, 3, "weights") != LUA_TNIL) {
    if (has_init)
      return tlb_argerror(L, 3, "MLP", "give either 'init' or 'weights', not both");
    values = readweights(L, lua_gettop(L), nin, nl, sizes);
  }
  tlb_model *mo = newmodel(L);
  tl_ctx *ctx = tlb_ctx(L);
  setmodel(L, mo, values ? tl_mlp_new_from(ctx, TL_KIND_MLP, nin, nl, sizes, acts, values)
                         : tl_mlp_new(ctx, TL_KIND_MLP, nin, nl, sizes, acts, init),
           "MLP");
  apply_dtype(L, mo, 3, "MLP");
  return 1;
}

/* A path at 'arg': a string, never a number turned into one (a number
** here is a mistake, not a file name), without NUL bytes. */
static const char *checkpath(lua_State *L, int arg, const char *fname) {
  if (lua_type(L, arg) != LUA_TSTRING) tlb_typeerror(L, arg, fname, "string");
  return tlb_tofilename(L, arg, arg, fname, "path");
}

/* The file format for 'path' with options at 'arg': option 'format'
** ("torchlet" or "safetensors"), else the name's extension: 1 for
** safetensors. */
static int is_safetensors(lua_State *L, const char *path, int arg,
                          const char *fname) {
  static const char ext[] = ".safetensors";
  const char *f = tlb_optstring(L, arg, fname, "format", NULL);
  size_t n = strlen(path), e = sizeof ext - 1;
  if (f == NULL) return n >= e && strcmp(path + n - e, ext) == 0;
  if (strcmp(f, "safetensors") == 0) return 1;
  if (strcmp(f, "torchlet") != 0)
    tlb_argerror(L, arg, fname, "unknown format '%s' (torchlet or "
                 "safetensors expected)", f);
  return 0;
}

/* The activations given in the options at 'arg' (as nn.MLP's), which
** stand for a safetensors file's own and are needed where it has none (a
** file written by PyTorch): filled into *arch and returned, or NULL when
** none are given.  The per-layer list lives in a userdata on the stack,
** so an error while reading it leaks nothing. */
static const tl_arch *given_arch(lua_State *L, int arg, const char *fname,
                                 int safetensors, tl_arch *arch) {
  if (lua_isnoneornil(L, arg)) return NULL;
  int given = tlb_getopt(L, arg, "activation") != LUA_TNIL;
  given |= tlb_getopt(L, arg, "output") != LUA_TNIL;
  given |= tlb_getopt(L, arg, "activations") != LUA_TNIL;
  lua_pop(L, 3);
  if (!given) return NULL;
  if (!safetensors)
    tlb_argerror(L, arg, fname, "activations are read from safetensors "
                 "files only; a Torchlet file has its own");
  *arch = (tl_arch){0, NULL, TL_ACT_RELU, TL_ACT_LINEAR};
  arch->hidden = checkact(L, arg, fname, tlb_optstring(L, arg, fname,
                          "activation", "relu"), "activation");
  arch->output = checkact(L, arg, fname, tlb_optstring(L, arg, fname, "output",
                          "linear"), "activation");
  if (tlb_getopt(L, arg, "activations") != LUA_TNIL) {
    size_t nl = lua_istable(L, -1) ? tlb_rawlen(L, -1, arg, fname) : 0;
    if (nl == 0 || nl > TL_MLP_MAX_LAYERS)
      tlb_argerror(L, arg, fname, "option 'activations' must be a table with "
                   "one name per layer");
    tl_act *acts = tlb_newscratch(L, nl, sizeof *acts, arg, fname);
    for (size_t l = 0; l < nl; l++) {
      if (lua_rawgeti(L, -2, (lua_Integer)l + 1) != LUA_TSTRING)
        tlb_argerror(L, arg, fname, "activations[%d] must be a string",
                     (int)l + 1);
      acts[l] = checkact(L, arg, fname, lua_tostring(L, -1), "activation");
      lua_pop(L, 1);
    }
    arch->acts = acts;
    arch->nlayers = nl;
  }
  return arch;
}

static const char *const load_opts[] = {"format", "activation", "output",
                                        "activations", NULL};

/* nn.load(path [, opts]): the format from opts.format or the extension. */
static int nn_load(lua_State *L) {
  const char *path = checkpath(L, 1, "load");
  tlb_checkopts(L, 2, "load", load_opts);
  int st = is_safetensors(L, path, 2, "load");
  tl_arch arch;
  const tl_arch *given = given_arch(L, 2, "load", st, &arch);
  tlb_model *mo = newmodel(L);
  tl_ctx *ctx = tlb_ctx(L);
  setmodel(L, mo, st ? tl_mlp_load_safetensors(ctx, path, given)
                     : tl_mlp_load(ctx, path), NULL);    /* names itself */
  return 1;
}

/* nn.load_string(s [, opts]): a model from what model:dump() gave, in
** either format: opts.format, else safetensors when s looks like it (its
** JSON header opens at byte 9), a Torchlet file otherwise, whose reader
** names what else it is; the options as nn.load's. */
static int nn_load_string(lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING) tlb_typeerror(L, 1, "load_string", "string");
  size_t len;
  const char *s = lua_tolstring(L, 1, &len);
  tlb_checkopts(L, 2, "load_string", load_opts);
  int st = is_safetensors(L, len > 8 && s[8] == '{' ? ".safetensors" : "", 2,
                          "load_string");
  tl_arch arch;
  const tl_arch *given = given_arch(L, 2, "load_string", st, &arch);
  tlb_model *mo = newmodel(L);
  tl_ctx *ctx = tlb_ctx(L);
  tl_mlp *m = st ? tl_mlp_load_safetensors_bytes(ctx, s, len, given)
                 : tl_mlp_load_bytes(ctx, s, len);
  if (m == NULL) return tlb_argerror(L, 1, "load_string", "%s", tl_ctx_error(ctx));
  setmodel(L, mo, m, NULL);
  return 1;
}

void tlb_pushmodel(lua_State *L) { newmodel(L); }

void tlb_fillmodel(lua_State *L, int idx, tl_mlp *m) {
  setmodel(L, lua_touserdata(L, idx), m, NULL);
}

tl_mlp *tlb_checkmodel(lua_State *L, int idx, int arg, const char *fname,
                       const char *what) {
  tlb_model *mo = tlb_testudata(L, idx, TLB_MODULE, sizeof *mo);
  if (mo == NULL)
    tlb_argerror(L, arg, fname, "%s must be a Module (nn.MLP, Layer or Neuron; "
                 "not a Sequential), got %s", what,
                 luaL_getmetafield(L, idx, "__name") == LUA_TSTRING
                 ? lua_tostring(L, -1) : luaL_typename(L, idx));
  else if (mo->m == NULL)
    luaL_error(L, "%s: Module used after it was collected", fname);
  tlb_ctx(L);
  return mo->m;
}

/* }====================================================================== */

/* {======================================================================
** Forward
** ======================================================================= */

/* Checks input i (1-based) at the top of the stack: a number or an Element. */
static void checkinput(lua_State *L, const char *fname, size_t i) {
  if (lua_type(L, -1) != LUA_TNUMBER && tlb_toelement(L, -1) == NULL)
    tlb_argerror(L, 1, fname, "input %d must be a number or an Element, got %s",
                 (int)i, luaL_typename(L, -1));
}

/* Stores into x[i] a reference to the value at the top: the Element's
** node, or a new leaf for a number; NULL when the pool is exhausted. */
static tl_node *inputnode(lua_State *L, tl_ctx *ctx) {
  tl_node *n = tlb_toelement(L, -1);
  if (n == NULL) return tl_leaf(ctx, lua_tonumber(L, -1));
  tl_retain(n);
  return n;
}

/* Reads the value at 'idx' (a table of nin numbers or Elements, or one of
** them when nin == 1), argument #1 of 'fname', into x[0..nin), every entry
** one reference. */
static void readinputs(lua_State *L, int idx, size_t nin, const char *fname,
                       tl_node **x) {
  tl_ctx *ctx = tlb_ctx(L);
  if (lua_type(L, idx) != LUA_TTABLE) {
    if (nin != 1)
      tlb_argerror(L, 1, fname, "table of %d inputs expected, got %s",
                   (int)nin, luaL_typename(L, idx));
    lua_pushvalue(L, idx);
    checkinput(L, fname, 1);
    if ((x[0] = inputnode(L, ctx)) == NULL) tlb_error(L);
    lua_pop(L, 1);
    return;
  }
  size_t len = tlb_rawlen(L, idx, 1, fname);
  if (len != nin)
    tlb_argerror(L, 1, fname, "input of length %d expected, got %d", (int)nin,
                 (int)len);
  for (size_t i = 0; i < nin; i++) {   /* check all before making any */
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    checkinput(L, fname, i + 1);
    lua_pop(L, 1);
  }
  for (size_t i = 0; i < nin; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    if ((x[i] = inputnode(L, ctx)) == NULL) {
      while (i-- > 0) tl_release(ctx, x[i]);
      tlb_error(L);
    }
    lua_pop(L, 1);
  }
}

/* Pushes 'nout' empty handles for results: one, or an array of them. */
static void pushoutputs(lua_State *L, size_t nout) {
  if (nout == 1) {
    tlb_newhandle(L);
    return;
  }
  lua_createtable(L, (int)nout, 0);
  for (size_t j = 0; j < nout; j++) {
    tlb_newhandle(L);
    lua_rawseti(L, -2, (lua_Integer)j + 1);
  }
}

/* Fills the handles pushoutputs made (on top) with out[0..nout). */
static void filloutputs(lua_State *L, size_t nout, tl_node *const *out) {
  if (nout == 1) {
    ((tlb_element *)lua_touserdata(L, -1))->node = out[0];
    return;
  }
  for (size_t j = 0; j < nout; j++) {
    lua_rawgeti(L, -1, (lua_Integer)j + 1);
    ((tlb_element *)lua_touserdata(L, -1))->node = out[j];
    lua_pop(L, 1);
  }
}

/* model(x): an Element for one output, else an array of Elements.  The
** handles are made (empty) before core runs, so no error can come between
** building nodes and handing them over. */
static int model_call(lua_State *L) {
  tlb_model *mo = tomodel(L, 1, "__call");
  tl_node *batch = tlb_toelement(L, 2);
  if (batch != NULL && tl_is_array(batch)) {   /* batched: one array out */
    tlb_element *h = tlb_newhandle(L);
    tlb_sethandle(L, h, tl_mlp_forward_batch(tlb_ctx(L), mo->m, batch));
    return 1;
  }
  size_t nout = tl_mlp_nout(mo->m), nin = tl_mlp_nin(mo->m);
  pushoutputs(L, nout);
  readinputs(L, 2, nin, kind_names[tl_mlp_kind_of(mo->m)], mo->x);
  tl_ctx *ctx = tlb_ctx(L);
  tl_status st = tl_mlp_forward(ctx, mo->m, mo->x, mo->out);
  for (size_t i = 0; i < nin; i++) tl_release(ctx, mo->x[i]);
  if (st != TL_OK) return tlb_error(L);
  filloutputs(L, nout, mo->out);
  return 1;
}

/* nn.linear(x, W, b): x W^T + b, the Linear module's forward (also what
** each layer of an MLP computes), with W of shape (nout x nin) and b
** (nout).  x an array (N x nin, or a vector of nin) gives one linear node;
** x a table of nin numbers or Elements (or one of them when nin is 1)
** gives per row j one neuron node W[j].x + b[j], an Element when nout is
** 1, else an array of them: the two paths of model(x). */
static int nn_linear(lua_State *L) {
  tl_node *w = tlb_toelement(L, 2), *b = tlb_toelement(L, 3);
  if (w == NULL || tl_ndim(w) != 2)
    return tlb_argerror(L, 2, "linear", "weight must be an (nout x nin) array "
                        "Element, got %s", w ? "an Element of another shape"
                        : luaL_typename(L, 2));
  size_t nout = tl_dim(w, 0), nin = tl_dim(w, 1);
  if (b == NULL || tl_ndim(b) != 1 || tl_dim(b, 0) != nout)
    return tlb_argerror(L, 3, "linear", "bias must be an array Element of %s "
                        "values, one per row of the weight", tlb_pushsize(L, nout));
  lua_settop(L, 3);
  tl_ctx *ctx = tlb_ctx(L);
  tl_node *xa = tlb_toelement(L, 1);
  if (xa != NULL && tl_is_array(xa)) {
    tlb_element *h = tlb_newhandle(L);
    tlb_sethandle(L, h, tl_linear(ctx, xa, w, b));
    return 1;
  }
  tl_node **x = tlb_newscratch(L, nin, sizeof *x, 2, "linear");        /* 4 */
  tl_node **out = tlb_newscratch(L, nout, sizeof *out, 2, "linear");   /* 5 */
  pushoutputs(L, nout);                                                 /* 6 */
  readinputs(L, 1, nin, "linear", x);
  size_t j = 0;
  for (; j < nout; j++)
    if ((out[j] = tl_neuron_row(ctx, w, b, j, x)) == NULL) break;
  for (size_t i = 0; i < nin; i++) tl_release(ctx, x[i]);
  if (j < nout) {
    while (j-- > 0) tl_release(ctx, out[j]);
    return tlb_error(L);
  }
  filloutputs(L, nout, out);
  return 1;
}

/* }====================================================================== */

/* {======================================================================
** Methods
** ======================================================================= */

/* {======================================================================
** Parameters: the arrays, or micrograd's per-scalar view of them
** ======================================================================= */

/* One scalar of a parameter array: holds a reference on the array. */
typedef struct tlb_param {
  tl_node *arr;         /* NULL after __gc */
  size_t pos;
} tlb_param;

static tlb_param *toparam(lua_State *L, int i, const char *fname) {
  tlb_param *p = tlb_testudata(L, i, TLB_PARAMETER, sizeof *p);
  if (p == NULL) tlb_typeerror(L, i, fname, "Parameter");
  else if (p->arr == NULL) luaL_error(L, "%s: Parameter used after it was collected", fname);
  tlb_ctx(L);                          /* its array lives in the context */
  return p;
}

static double param_grad(const tlb_param *p) {
  return tl_grad_at(p->arr, p->pos);   /* absent reads as 0 */
}

/* The label of one scalar, from its array's: L1.N3.w2 (layer 1, neuron 3,
** weight 2) for a weight, L1.N3.b for a bias; "label[pos]" when the array
** was relabelled. */
static void push_param_label(lua_State *L, const tlb_param *p) {
  const char *l = tl_label(p->arr);
  size_t layer, len = l ? strlen(l) : 0;
  char kind = len ? l[len - 1] : 0;
  int n = 0;
  char buf[96];
  if (l != NULL && sscanf(l, "L%zu.%n", &layer, &n) == 1 && (size_t)n == len - 1 &&
      (kind == 'W' || kind == 'b')) {
    size_t nin = kind == 'W' ? tl_dim(p->arr, 1) : 1;
    if (kind == 'W')
      snprintf(buf, sizeof buf, "L%zu.N%zu.w%zu", layer, p->pos / nin + 1,
               p->pos % nin + 1);
    else
      snprintf(buf, sizeof buf, "L%zu.N%zu.b", layer, p->pos + 1);
    lua_pushstring(L, buf);
    return;
  }
  lua_pushfstring(L, "%s[%s]", l ? l : "param", tlb_pushsize(L, p->pos + 1));
}

/* p.data, p.grad, p.label */
static int param_index(lua_State *L) {
  tlb_param *p = toparam(L, 1, "__index");
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
  if (strcmp(k, "data") == 0) lua_pushnumber(L, tl_value_at(p->arr, p->pos));
  else if (strcmp(k, "grad") == 0) lua_pushnumber(L, param_grad(p));
  else if (strcmp(k, "label") == 0) push_param_label(L, p);
  else lua_pushnil(L);
  return 1;
}

/* p.data = x, p.grad = x */
static int param_newindex(lua_State *L) {
  tlb_param *p = toparam(L, 1, "__newindex");
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
  int data = strcmp(k, "data") == 0;
  if (!data && strcmp(k, "grad") != 0)
    return tlb_argerror(L, 2, "__newindex", "Parameter has no settable field "
                        "'%s'; data and grad are", tlb_pushvalue_text(L, 2));
  if (lua_type(L, 3) != LUA_TNUMBER) return tlb_typeerror(L, 3, "__newindex", "number");
  double v = lua_tonumber(L, 3);
  if (data) tl_set_value_at(p->arr, p->pos, v);
  else if (tl_mlp_set_grad_at(tlb_ctx(L), p->arr, p->pos, v) != TL_OK)
    return tlb_error(L);
  return 0;
}

static int param_tostring(lua_State *L) {
  tlb_param *p = toparam(L, 1, "__tostring");
  char d[32], g[32];
  lua_pushfstring(L, "Parameter(data=%s, grad=%s)",
                  tl_format_number(d, sizeof d, tl_value_at(p->arr, p->pos), 'g', 4),
                  tl_format_number(g, sizeof g, param_grad(p), 'g', 4));
  return 1;
}

static int param_gc(lua_State *L) {
  tlb_param *p = tlb_testudata(L, 1, TLB_PARAMETER, sizeof *p);
  if (p == NULL) return 0;
  tl_ctx *ctx = tlb_ctx_or_null(L);
  if (ctx != NULL) tl_release(ctx, p->arr);    /* see model_gc */
  p->arr = NULL;
  return 0;
}

/* parameters(): the arrays in PyTorch's order (W1, b1, W2, b2, ...), as
** Elements aliasing the model's own.  parameters{scalar = true}: one
** Parameter per value in micrograd's order (layer by layer, neuron by
** neuron, weights then bias). */
static int model_parameters(lua_State *L) {
  static const char *const allowed[] = {"scalar", NULL};
  tlb_model *mo = tomodel(L, 1, "parameters");
  tlb_checkopts(L, 2, "parameters", allowed);
  int scalar = tlb_optboolean(L, 2, "parameters", "scalar", 0);
  tl_mlp *m = mo->m;
  if (!scalar) {
    size_t n = tl_mlp_nparams(m);
    tl_node *const *p = tl_mlp_params(m);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
      tlb_pushnode(L, p[i]);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
  }
  size_t n = tl_mlp_nscalars(m);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    tlb_param *p = tlb_newudata(L, sizeof *p);
    p->arr = NULL;                     /* born empty, for __gc */
    tlb_setclass(L, TLB_PARAMETER, sizeof *p);
    tl_node *arr = NULL;
    tl_mlp_scalar(m, i, &arr, &p->pos);
    tl_retain(arr);
    p->arr = arr;
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* }====================================================================== */

static int model_zero_grad(lua_State *L) {
  tl_mlp_zero_grad(tomodel(L, 1, "zero_grad")->m);
  return 0;
}

static int model_l2(lua_State *L) {
  tlb_model *mo = tomodel(L, 1, "l2");
  tlb_element *h = tlb_newhandle(L);
  tlb_sethandle(L, h, tl_mlp_l2(tlb_ctx(L), mo->m));
  return 1;
}

/* model:memory(): bytes the model holds in the core outside the node pool
** (parameter arrays, their gradients once made, and its own lists). */
static int model_memory(lua_State *L) {
  tlb_model *mo = tomodel(L, 1, "memory");
  lua_pushinteger(L, (lua_Integer)tl_mlp_bytes(mo->m));
  return 1;
}

/* model:save(path [, {format = "torchlet" | "safetensors"}]): the format
** by default from the name, safetensors for "*.safetensors". */
static int model_save(lua_State *L) {
  static const char *const allowed[] = {"format", NULL};
  tlb_model *mo = tomodel(L, 1, "save");
  const char *path = checkpath(L, 2, "save");
  tlb_checkopts(L, 3, "save", allowed);
  tl_ctx *ctx = tlb_ctx(L);
  tl_status st = is_safetensors(L, path, 3, "save")
                 ? tl_mlp_save_safetensors(ctx, mo->m, path)
                 : tl_mlp_save(ctx, mo->m, path);
  if (st != TL_OK) return tlb_error(L);
  return 0;
}

/* model:export_c(path [, {name = "model"}]): one C99 header computing
** model(x) for one sample (core/export_c.c). */
static int model_export_c(lua_State *L) {
  static const char *const allowed[] = {"name", NULL};
  tlb_model *mo = tomodel(L, 1, "export_c");
  const char *path = checkpath(L, 2, "export_c");
  tlb_checkopts(L, 3, "export_c", allowed);
  const char *name = tlb_optstring(L, 3, "export_c", "name", "model");
  static const char ident[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
                              "0123456789";
  size_t n = strlen(name);
  if (n == 0 || n > 64 || strspn(name, ident) != n || strchr(ident + 53, name[0]))
    return tlb_argerror(L, 3, "export_c", "option 'name' must be a C identifier "
                        "of at most 64 characters, got '%s'", name);
  if (tl_mlp_export_c(tlb_ctx(L), mo->m, path, name) != TL_OK) return tlb_error(L);
  return 0;
}

/* model:dump([{format = "torchlet" | "safetensors"}]): the bytes
** model:save writes in that format (torchlet by default), as a string. */
static int model_dump(lua_State *L) {
  static const char *const allowed[] = {"format", NULL};
  tlb_model *mo = tomodel(L, 1, "dump");
  if (lua_gettop(L) > 2) return tlb_argerror(L, 3, "dump", "no more arguments expected");
  tlb_checkopts(L, 2, "dump", allowed);
  int st = is_safetensors(L, "", 2, "dump");
  void **box = tlb_newbox(L);          /* frees the bytes if pushing raises */
  unsigned char *buf;
  size_t len;
  tl_ctx *ctx = tlb_ctx(L);
  if ((st ? tl_mlp_dump_safetensors(ctx, mo->m, &buf, &len)
          : tl_mlp_dump(ctx, mo->m, &buf, &len)) != TL_OK)
    return luaL_error(L, "dump: %s", tl_ctx_error(ctx));
  *box = buf;
  lua_pushlstring(L, (const char *)buf, len);
  free(buf);
  *box = NULL;
  return 1;
}

/* Neuron: "ReLUNeuron(2)"; Layer: "Layer of [ReLUNeuron(2), ...]"; MLP:
** "MLP of [Layer of [...], ...]", as micrograd's __repr__. */
static void addlayer(luaL_Buffer *b, size_t fan_in, size_t size, tl_act act) {
  char neuron[64];
  snprintf(neuron, sizeof neuron, "%sNeuron(%zu)", tl_act_title(act), fan_in);
  luaL_addstring(b, "Layer of [");
  for (size_t j = 0; j < size; j++) {
    if (j > 0) luaL_addstring(b, ", ");
    luaL_addstring(b, neuron);
  }
  luaL_addchar(b, ']');
}

static int model_tostring(lua_State *L) {
  tlb_model *mo = tomodel(L, 1, "__tostring");
  tl_mlp *m = mo->m;
  /* An MLP prints as the multi-line summary every module prints, written
  ** once, in Lua (lua/torchlet/modules.lua sets methods.summary); with
  ** torchlet.core alone, micrograd's line below. */
  if (tl_mlp_kind_of(m) == TL_KIND_MLP) {
    lua_getfield(L, LUA_REGISTRYINDEX, TLB_MODULE_METHODS);
    if (lua_getfield(L, -1, "summary") == LUA_TFUNCTION) {
      lua_pushvalue(L, 1);
      lua_call(L, 1, 1);
      if (lua_type(L, -1) == LUA_TSTRING) return 1;
    }
    lua_settop(L, 1);
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  tl_mlp_kind kind = tl_mlp_kind_of(m);
  if (kind == TL_KIND_NEURON) {
    lua_pushfstring(L, "%sNeuron(%d)", tl_act_title(tl_mlp_layer_act(m, 0)),
                    (int)tl_mlp_nin(m));
    luaL_addvalue(&b);
  } else if (kind == TL_KIND_LAYER)
    addlayer(&b, tl_mlp_nin(m), tl_mlp_layer_size(m, 0), tl_mlp_layer_act(m, 0));
  else {
    luaL_addstring(&b, "MLP of [");
    size_t fan_in = tl_mlp_nin(m);
    for (size_t l = 0; l < tl_mlp_nlayers(m); l++) {
      if (l > 0) luaL_addstring(&b, ", ");
      addlayer(&b, fan_in, tl_mlp_layer_size(m, l), tl_mlp_layer_act(m, l));
      fan_in = tl_mlp_layer_size(m, l);
    }
    luaL_addchar(&b, ']');
  }
  if (tl_mlp_dtype(m) != TL_FLOAT64) {
    luaL_addstring(&b, ", ");
    luaL_addstring(&b, tl_dtype_name(tl_mlp_dtype(m)));
  }
  luaL_pushresult(&b);
  return 1;
}

/* model:float(), model:double(): the parameters converted in place (new
** leaves, without gradients: make optimizers after), as PyTorch's; returns
** the model */
static int model_convert(lua_State *L, tl_dtype t, const char *fname) {
  tlb_model *mo = tomodel(L, 1, fname);
  if (tl_mlp_dtype(mo->m) != t && tl_mlp_to_dtype(tlb_ctx(L), mo->m, t) != TL_OK)
    return tlb_error(L);
  lua_settop(L, 1);
  return 1;
}
static int model_float(lua_State *L) { return model_convert(L, TL_FLOAT32, "float"); }
static int model_double(lua_State *L) { return model_convert(L, TL_FLOAT64, "double"); }

/* model:architecture(): {kind = "MLP", nin = 2, sizes = {16, 16, 1},
** activations = {"relu", "relu", "linear"}}, what the model was made
** with (kind "Neuron", "Layer" or "MLP"). */
static int model_architecture(lua_State *L) {
  tl_mlp *m = tomodel(L, 1, "architecture")->m;
  size_t nl = tl_mlp_nlayers(m);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, kind_names[tl_mlp_kind_of(m)]);
  lua_setfield(L, -2, "kind");
  lua_pushinteger(L, (lua_Integer)tl_mlp_nin(m));
  lua_setfield(L, -2, "nin");
  lua_createtable(L, (int)nl, 0);
  lua_createtable(L, (int)nl, 0);
  for (size_t l = 0; l < nl; l++) {
    lua_pushinteger(L, (lua_Integer)tl_mlp_layer_size(m, l));
    lua_rawseti(L, -3, (lua_Integer)l + 1);
    lua_pushstring(L, tl_act_name(tl_mlp_layer_act(m, l)));
    lua_rawseti(L, -2, (lua_Integer)l + 1);
  }
  lua_setfield(L, -3, "activations");
  lua_setfield(L, -2, "sizes");
  return 1;
}

/* #model: the modules of the equivalent nn.Sequential, a Linear per layer
** and an activation after each layer that has one (model[i], see
** model_index). */
static int model_len(lua_State *L) {
  tl_mlp *m = tomodel(L, 1, "__len")->m;
  size_t n = 0;
  for (size_t l = 0; l < tl_mlp_nlayers(m); l++)
    n += 1 + (tl_mlp_layer_act(m, l) != TL_ACT_LINEAR);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

/* model.key: a method (upvalue 3 is the methods table); model[i]: module
** i of the equivalent nn.Sequential, made by methods._item, which the Lua
** part (lua/torchlet/modules.lua) defines: a Linear over the model's own
** W and b, or an activation module (nil without the Lua part). */
static int model_index(lua_State *L) {
  tomodel(L, 1, "__index");
  if (lua_type(L, 2) == LUA_TNUMBER) {
    if (lua_getfield(L, lua_upvalueindex(3), "_item") != LUA_TFUNCTION) {
      lua_pushnil(L);
      return 1;
    }
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 2, 1);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(3));
  return 1;
}

/* Frees the model.  At lua_close the context is finalized after every
** handle made later; should it already be gone, its pool took the nodes. */
static int model_gc(lua_State *L) {
  tlb_model *mo = tlb_testudata(L, 1, TLB_MODULE, sizeof *mo);
  if (mo == NULL) return 0;
  tl_ctx *ctx = tlb_ctx_or_null(L);
  if (ctx != NULL) tl_mlp_free(ctx, mo->m);
  free(mo->x);
  free(mo->out);
  mo->m = NULL;
  mo->x = mo->out = NULL;
  return 0;
}

/* }====================================================================== */

void tlb_open_nn(lua_State *L) {
  static const luaL_Reg meta[] = {
    {"__call", model_call}, {"__tostring", model_tostring},
    {"__len", model_len}, {"__gc", model_gc}, {NULL, NULL}
  };
  static const luaL_Reg methods[] = {
    {"parameters", model_parameters}, {"zero_grad", model_zero_grad},
    {"l2", model_l2}, {"memory", model_memory}, {"save", model_save},
    {"dump", model_dump}, {"export_c", model_export_c},
    {"architecture", model_architecture},
    {"float", model_float}, {"double", model_double}, {NULL, NULL}
  };
  static const luaL_Reg param_meta[] = {
    {"__index", param_index}, {"__newindex", param_newindex},
    {"__tostring", param_tostring}, {"__gc", param_gc}, {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {
    {"Neuron", nn_neuron}, {"Layer", nn_layer}, {"MLP", nn_mlp},
    {"load", nn_load}, {"load_string", nn_load_string}, {"linear", nn_linear},
    {NULL, NULL}
  };
  /* as tlb_newclass, keeping the methods table in the registry too */
  luaL_newmetatable(L, TLB_MODULE);
  tlb_setfuncs(L, meta);
  lua_newtable(L);                             /* methods */
  tlb_setfuncs(L, methods);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, TLB_MODULE_METHODS);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, -3);                        /* methods as upvalue 3 */
  lua_pushcclosure(L, model_index, 3);
  lua_setfield(L, -3, "__index");
  lua_pop(L, 1);                               /* methods */
  tlb_protect_metatable(L, -1);
  lua_pop(L, 1);
  tlb_newclass(L, TLB_PARAMETER, param_meta, NULL, NULL);
  lua_pop(L, 1);
  lua_newtable(L);
  tlb_setfuncs(L, funcs);
  /* the methods of Neuron, Layer and MLP, where the Lua part adds its own
  ** (train, eval, summary, _item), as Element_methods */
  lua_getfield(L, LUA_REGISTRYINDEX, TLB_MODULE_METHODS);
  lua_setfield(L, -2, "Module_methods");
  lua_setfield(L, -2, "nn");                   /* module.nn */
}
