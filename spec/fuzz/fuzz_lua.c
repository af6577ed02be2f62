/*
** fuzz_lua.c -- libFuzzer harness over the Lua module, the way a hostile
** script reaches it.
**
** The input is read as a program: each statement's first byte picks what
** to do (make Elements and arrays from odd tables, every operator and
** method, labels and paths made of any bytes, option tables with real and
** made-up keys and values of every type, models, optimizers, losses, saves
** and loads, to_dot and the cairo view), later bytes pick slots and
** supply numbers and strings.  The harness writes the program as Lua
** source and runs it in a fresh lua_State with torchlet.core linked in;
** each statement runs in a pcall, so errors are fine.  Also in the mix:
** objects whose finalizers run in the middle of a Torchlet call (they set
** labels, drop handles and collect, with the collector set to run almost
** all the time), and a count hook that raises at arbitrary instructions.
** Any outcome is fine except a crash, a sanitizer report or a leak.
**
** Paths stay inside one temporary directory: a name is made of any bytes
** but '/', so no "../" leaves it.
*/
#define _POSIX_C_SOURCE 200809L   /* mkdtemp */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "../../bindings/torchlet_lua.h"

typedef struct reader { const uint8_t *p; size_t n; } reader;

static unsigned byte(reader *r) {
  if (r->n == 0) return 0;
  r->n--;
  return *r->p++;
}

/* The program's text; grows as needed (allocation failure ends the run). */
typedef struct text { char *p; size_t len, cap; } text;

static void put(text *t, const char *s) {
  size_t n = strlen(s);
  if (t->len + n + 1 > t->cap) {
    size_t cap = (t->len + n + 1) * 2;
    char *p = realloc(t->p, cap);
    if (p == NULL) abort();
    t->p = p;
    t->cap = cap;
  }
  memcpy(t->p + t->len, s, n + 1);
  t->len += n;
}

static void putf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(text *t, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  put(t, buf);
}

#define SLOTS 8
static unsigned slot(reader *r) { return 1 + byte(r) % SLOTS; }

/* A number literal: small and nice most of the time, else an edge. */
static void number(text *t, reader *r) {
  static const char *const edges[] = {
    "0", "-0.0", "1", "-1", "0.5", "2", "1/0", "-1/0", "0/0", "1e308", "-1e308",
    "5e-324", "2^53", "2^31", "-2^31", "2^63", "math.mininteger", "math.maxinteger",
    "3", "1e-8"
  };
  unsigned k = byte(r);
  if (k < 128) putf(t, "%d", (int)(k % 16) - 8);
  else if (k < 192) putf(t, "%g", ((int)byte(r) - 128) / 16.0);
  else put(t, edges[k % (sizeof edges / sizeof edges[0])]);
}

/* A string literal of up to 40 bytes of any value, NUL and invalid UTF-8
** included; 'path' leaves out '/'. */
static void string(text *t, reader *r, int path) {
  unsigned n = byte(r) % 41;
  if (byte(r) % 8 == 0) n = 300;                  /* now and then a long one */
  put(t, "\"");
  for (unsigned i = 0; i < n; i++) {
    unsigned c = i < 40 || r->n == 0 ? byte(r) : 'x';
    if (path && c == '/') c = '_';
    putf(t, "\\%03u", c);
  }
  put(t, "\"");
}

/* Any Lua value: a number, string, boolean, table, function, Element slot. */
static void value(text *t, reader *r, int depth);

static void table(text *t, reader *r, int depth) {
  unsigned n = byte(r) % 5;
  put(t, "{");
  for (unsigned i = 0; i < n; i++) {
    if (byte(r) % 4 == 0) {            /* a keyed entry: sparse or odd keys */
      put(t, "[");
      unsigned k = byte(r) % 4;
      if (k == 0) put(t, "2^31");
      else if (k == 1) put(t, "0");
      else if (k == 2) string(t, r, 0);
      else number(t, r);
      put(t, "]=");
    }
    value(t, r, depth + 1);
    put(t, ",");
  }
  put(t, "}");
}

static void value(text *t, reader *r, int depth) {
  switch (depth > 3 ? 0 : byte(r) % 9) {
    case 0: case 1: number(t, r); break;
    case 2: string(t, r, 0); break;
    case 3: put(t, byte(r) & 1 ? "true" : "false"); break;
    case 4: case 5: table(t, r, depth); break;
    case 6: put(t, "print"); break;
    case 7: putf(t, "v[%u]", slot(r)); break;
    default: put(t, "nil"); break;
  }
}

/* An options table: real option names of every function, and others. */
static void options(text *t, reader *r) {
  static const char *const keys[] = {
    "file", "format", "max_nodes", "params", "title", "xlabel", "ylabel",
    "width", "height", "lr", "momentum", "betas", "eps", "weight_decay",
    "amsgrad", "nesterov", "alpha", "centered", "lr_decay", "activation",
    "activations", "output", "nonlin", "init", "reduction", "steps", "fiel"
  };
  if (byte(r) % 4 == 0) { value(t, r, 2); return; }  /* not even a table */
  unsigned n = byte(r) % 4;
  put(t, "{");
  for (unsigned i = 0; i < n; i++) {
    unsigned k = byte(r);
    const char *key = keys[k % (sizeof keys / sizeof keys[0])];
    if (k % 8 == 0) { put(t, "["); string(t, r, 0); put(t, "]"); }
    else put(t, key);
    put(t, "=");
    if (strcmp(key, "file") == 0) { put(t, "dir.."); string(t, r, 1); }
    else value(t, r, 2);
    put(t, ",");
  }
  put(t, "}");
}

/* A statement that a finalizer may run in the middle of a call. */
static void finalizer_body(text *t, reader *r) {
  switch (byte(r) % 4) {
    case 0: putf(t, "v[%u].label = ", slot(r)); string(t, r, 0); break;
    case 1: putf(t, "v[%u] = nil", slot(r)); break;
    case 2: put(t, "collectgarbage()"); break;
    default: putf(t, "v[%u] = v[%u] * 2", slot(r), slot(r)); break;
  }
}

static const char *const binops[] = {"+", "-", "*", "/", "^", "<", "<=", "==", ".."};
static const char *const methods[] = {
  "exp", "log", "tanh", "sigmoid", "relu", "softplus", "sqrt", "abs", "sin",
  "cos", "neg", "sum", "mean", "max", "transpose", "detach", "zero_grad",
  "children", "numel", "totable", "backward", "reshape", "matmul", "get", "set"
};
static const char *const optims[] = {"SGD", "RMSprop", "Adagrad", "Adam", "AdamW"};
static const char *const losses[] = {"mse", "hinge", "bce", "cross_entropy"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void statement(text *t, reader *r) {
  unsigned a = slot(r), b = slot(r);
  switch (byte(r) % 20) {
    case 0: putf(t, "v[%u] = T.Element(", a); number(t, r); put(t, ", ");
            string(t, r, 0); put(t, ")"); break;
    case 1: putf(t, "v[%u] = T.Element(", a); table(t, r, 0); put(t, ")"); break;
    case 2: putf(t, "v[%u] = v[%u] %s v[%u]", a, b, binops[byte(r) % COUNT(binops)],
                 slot(r)); break;
    case 3: putf(t, "v[%u] = v[%u] %s ", a, b, binops[byte(r) % COUNT(binops)]);
            number(t, r); break;
    case 4: putf(t, "v[%u] = v[%u]:%s(", a, b, methods[byte(r) % COUNT(methods)]);
            value(t, r, 1); put(t, ")"); break;
    case 5: putf(t, "v[%u].label = ", a); string(t, r, 0); break;
    case 6: putf(t, "v[%u].%s = ", a, byte(r) & 1 ? "data" : "grad"); value(t, r, 1); break;
    case 7: putf(t, "local s = tostring(v[%u]) .. tostring(v[%u].data)", a, a); break;
    case 8: putf(t, "local s = v[%u]:to_dot(", a); options(t, r); put(t, ")"); break;
    case 9: put(t, "m = T.nn.MLP("); value(t, r, 1); put(t, ", "); value(t, r, 1);
            put(t, ", "); options(t, r); put(t, ")"); break;
    case 10: putf(t, "v[%u] = m(", a); value(t, r, 0); put(t, ")"); break;
    case 11: putf(t, "o = T.optim.%s(m:parameters(), ", optims[byte(r) % COUNT(optims)]);
             options(t, r); put(t, "); o:zero_grad(); o:step()"); break;
    case 12: put(t, "m:save(dir.."); string(t, r, 1); put(t, ")"); break;
    case 13: put(t, "m = T.nn.load(dir.."); string(t, r, 1); put(t, ")"); break;
    case 14: putf(t, "v[%u] = T.loss.%s(", a, losses[byte(r) % COUNT(losses)]);
             value(t, r, 0); put(t, ", "); value(t, r, 0); put(t, ")"); break;
    case 15: put(t, "setmetatable({}, {__gc = function() "); finalizer_body(t, r);
             put(t, " end})"); break;
    case 16: putf(t, "v[%u] = nil; collectgarbage('step', %u)", a, byte(r)); break;
    case 17: putf(t, "v[%u] = T.no_grad(function() return v[%u] * v[%u] end)", a, b,
                  slot(r)); break;
    case 18: putf(t, "T.check_numerics(%s)", byte(r) & 1 ? "true" : "false"); break;
    default:   /* the cairo view on small graphs only: drawing is slow */
      putf(t, "if #v[%u]:children() < 3 then v[%u]:visualize('cairo', ", a, a);
      options(t, r); put(t, ") end"); break;
  }
}

static char dir[64];

/* Empties the directory between runs, so saves do not pile up (names
** have no '/', so it holds files only). */
static void clean_dir(void) {
  DIR *d = opendir(dir);
  if (d == NULL) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      unlinkat(dirfd(d), e->d_name, 0);
  closedir(d);
}

static void remove_dir(void) {
  clean_dir();
  rmdir(dir);
}

/* The temporary directory, made once and made the working directory, so
** that default file names (graph.png) land there too; removed at exit. */
static int setup_dir(void) {
  if (dir[0] != '\0') return 1;
  strcpy(dir, "/tmp/torchlet-fuzz-XXXXXX");
  if (mkdtemp(dir) == NULL || chdir(dir) != 0) return 0;
  atexit(remove_dir);
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!setup_dir()) return 0;
  reader r = {data, size};
  text t = {0};
  unsigned mode = byte(&r);
  putf(&t, "local T = ...\nlocal dir = '%s/'\nlocal v, m, o = {}\n", dir);
  if (mode & 1) put(&t, "collectgarbage('generational')\n");
  else put(&t, "collectgarbage('incremental', 0, 100)\n");   /* pause 0 */
  if (mode & 2)       /* raise at some instruction, in a finalizer or not */
    putf(&t, "debug.sethook(function() error('hook') end, '', %u)\n",
         100 + byte(&r) * 7);
  while (r.n > 0) {
    put(&t, "pcall(function() ");
    statement(&t, &r);
    put(&t, " end)\n");
  }
  put(&t, "debug.sethook()\n");

  lua_State *L = luaL_newstate();
  if (L == NULL) { free(t.p); return 0; }
  luaL_openlibs(L);
  lua_pushcfunction(L, luaopen_torchlet_core);
  if (lua_pcall(L, 0, 1, 0) == LUA_OK &&
      luaL_loadbuffer(L, t.p, t.len, "=fuzz") == LUA_OK) {
    lua_insert(L, -2);                          /* the chunk, then T */
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
      /* the hook raised outside every pcall: fine */
    }
  } else if (getenv("TORCHLET_FUZZ_SHOW") != NULL) {
    fprintf(stderr, "%s\n%s\n", lua_tostring(L, -1), t.p);
  }
  if (getenv("TORCHLET_FUZZ_SHOW") != NULL) fprintf(stderr, "%s\n", t.p);
  lua_close(L);
  free(t.p);
  clean_dir();
  return 0;
}
