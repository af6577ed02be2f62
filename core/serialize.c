/*
** serialize.c -- saving and loading models (tl_mlp_save, tl_mlp_load, and
** tl_mlp_dump, tl_mlp_load_bytes for a buffer), and the envelope helpers
** the optimizer state (optim.c) and checkpoints (checkpoint.c) share.
**
** File format, version 2.  Every integer is unsigned little-endian; every
** parameter is the IEEE 754 binary64 bit pattern of its value, little-
** endian, so a round trip is bit-exact (nan payloads and -0 included).
**
**   offset        size  field
**   0             8     magic "TLNN\r\n\x1a\n" (the \r\n and \x1a catch
**                       text-mode and line-ending mangling, as PNG's does)
**   8             4     format version: 2
**   12            2     model kind: 0 Neuron, 1 Layer, 2 MLP
**   14            2     dtype of the parameters: 0 float64, 1 float32
**                       (version 3; 0 in versions 1 and 2)
**   16            8     total file length in bytes, checksum included
**   24            4     nin, the number of inputs
**   28            4     nlayers
**   32            8*L   per layer: u32 size (neurons), u32 activation
**                       (0 linear, 1 relu, 2 tanh, 3 sigmoid)
**   32+8L         8*P   per layer: W (size x fan_in) row-major, as
**                       torch.nn.Linear.weight, then b (size)
**   end-8         8     checksum: 64-bit FNV-1a of every byte before it
**
** Version 1 is the same but for the parameters' order: micrograd's, layer
** by layer, neuron by neuron, the neuron's weights then its bias.  Version
** 1 files still load (converted on the way in).  Version 3 is version 2
** with a dtype: a float32 model's parameters are still stored as binary64
** (widening is exact, and one layout serves both), and it loads back as
** float32.  A float64 model is saved as version 2, which older builds
** read; a float32 one as version 3.
**
** P follows from the architecture: the sum over layers of size*(fan_in+1).
** Reading checks, in this order: magic, version (a later version may lay
** out everything after it differently), length (truncated or trailing
** bytes), checksum (any single changed byte changes FNV-1a: each step is a
** bijection of the state), then the architecture itself.
**
** Saving goes through tl__out (atomic_file.c): a fresh temporary file
** beside the target, renamed over it once complete and on disk, so a
** reader sees the old model or the new one, never a part.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tl_nn.h"

#define MAGIC_LEN 8
#define VERSION 3u
#define HEADER_LEN 32

/* The largest file a valid model can need (tl_nn.h limits), read no more. */
static const tl__format model_format = {
  "TLNN\r\n\x1a\n", 1, VERSION, "model", "format version", HEADER_LEN,
  HEADER_LEN + 8 * (size_t)TL_MLP_MAX_LAYERS + 8 * (size_t)TL_MLP_MAX_PARAMS + 8
};

/* {======================================================================
** Bytes
** ======================================================================= */

uint64_t tl__fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

void tl__put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

void tl__put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

uint32_t tl__get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

uint64_t tl__get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

void tl__put_f64(unsigned char *p, double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  tl__put_u64(p, u);
}

double tl__get_f64(const unsigned char *p) {
  uint64_t u = tl__get_u64(p);
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

tl_status tl__fail_at(tl_ctx *ctx, tl_status st, const char *where,
                      const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return where != NULL ? tl_ctx_fail(ctx, st, "%s: %s", where, msg)
                       : tl_ctx_fail(ctx, st, "%s", msg);
}

void tl__seal(const tl__format *fmt, unsigned char *b, size_t len) {
  memcpy(b, fmt->magic, MAGIC_LEN);
  tl__put_u32(b + 8, fmt->newest);
  tl__put_u64(b + 16, (uint64_t)len);
  tl__put_u64(b + len - 8, tl__fnv1a(b, len - 8));
}

tl_status tl__write_file(tl_ctx *ctx, const char *path,
                         const unsigned char *b, size_t n) {
  tl__out out;
  tl_status st = tl__out_open(ctx, &out, path);
  if (st != TL_OK) return st;
  st = tl__out_write(ctx, &out, b, n);
  if (st == TL_OK) st = tl__out_commit(ctx, &out);
  else tl__out_abort(&out);
  return st;
}

tl_status tl__read_file(tl_ctx *ctx, const char *path, size_t max_len,
                        unsigned char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return tl_ctx_fail(ctx, TL_EIO, "cannot open '%s': %s", path,
                       strerror(errno));
  size_t cap = 4096, n = 0;
  unsigned char *buf = malloc(cap);
  while (buf != NULL) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap || n > max_len) break;   /* end of file, or too long */
    unsigned char *bigger = realloc(buf, cap * 2);
    if (bigger == NULL) { free(buf); buf = NULL; break; }
    buf = bigger;
    cap *= 2;
  }
  int failed = buf != NULL && ferror(f);
  fclose(f);
  if (buf == NULL)
    return tl_ctx_fail(ctx, TL_ENOMEM, "load '%s': out of memory", path);
  if (failed) {
    free(buf);
    return tl_ctx_fail(ctx, TL_EIO, "cannot read '%s'", path);
  }
  *out = buf;
  *len = n;
  return TL_OK;
}

tl_status tl__check_envelope(tl_ctx *ctx, const tl__format *fmt,
                             const char *where, int path_like,
                             const unsigned char *b, size_t n) {
  const char *noun = path_like ? "file" : "data";
  size_t m = n < MAGIC_LEN ? n : MAGIC_LEN;
  if (memcmp(b, fmt->magic, m) != 0)
    return tl__fail_at(ctx, TL_EFORMAT, where, "not a Torchlet %s%s (wrong "
                       "magic number)", fmt->what, path_like ? " file" : "");
  if (n < 12)
    return tl__fail_at(ctx, TL_EFORMAT, where, "%s is truncated (%zu bytes, "
                       "shorter than the header)", noun, n);
  uint32_t version = tl__get_u32(b + 8);
  if (version < fmt->oldest || version > fmt->newest)
    return tl__fail_at(ctx, TL_EFORMAT, where, "unsupported %s %lu (this "
                       "build reads versions %lu to %lu)", fmt->version_word,
                       (unsigned long)version, (unsigned long)fmt->oldest,
                       (unsigned long)fmt->newest);
  if (n < fmt->header_len + 8)
    return tl__fail_at(ctx, TL_EFORMAT, where, "%s is truncated (%zu bytes, "
                       "shorter than the header)", noun, n);
  uint64_t want = tl__get_u64(b + 16);
  if (n < want)
    return tl__fail_at(ctx, TL_EFORMAT, where, "%s is truncated (%zu of %llu "
                       "bytes)", noun, n, (unsigned long long)want);
  if (n > want)
    return tl__fail_at(ctx, TL_EFORMAT, where, "%s is corrupted (%zu bytes "
                       "where its header says %llu)", noun, n,
                       (unsigned long long)want);
  if (tl__fnv1a(b, n - 8) != tl__get_u64(b + n - 8))
    return tl__fail_at(ctx, TL_EFORMAT, where, "%s is corrupted (checksum "
                       "mismatch)", noun);
  return TL_OK;
}

/* }====================================================================== */

/* {======================================================================
** Saving
** ======================================================================= */

tl_status tl__mlp_encode(tl_ctx *ctx, const tl_mlp *m, unsigned char **out,
                         size_t *len) {
  size_t nl = tl_mlp_nlayers(m), np = tl_mlp_nscalars(m);
  size_t n = HEADER_LEN + 8 * nl + 8 * np + 8;   /* tl_nn.h limits: no wrap */
  unsigned char *buf = malloc(n);
  if (buf == NULL) return tl_ctx_fail(ctx, TL_ENOMEM, "save: out of memory");
  tl__put_u32(buf + 12, (uint32_t)tl_mlp_kind_of(m) |
                        (uint32_t)tl_mlp_dtype(m) << 16);
  tl__put_u32(buf + 24, (uint32_t)tl_mlp_nin(m));
  tl__put_u32(buf + 28, (uint32_t)nl);
  unsigned char *p = buf + HEADER_LEN;
  for (size_t l = 0; l < nl; l++, p += 8) {
    tl__put_u32(p, (uint32_t)tl_mlp_layer_size(m, l));
    tl__put_u32(p + 4, (uint32_t)tl_mlp_layer_act(m, l));
  }
  tl_node *const *params = tl_mlp_params(m);
  for (size_t a = 0; a < tl_mlp_nparams(m); a++) {
    for (size_t i = 0, size = tl_size(params[a]); i < size; i++, p += 8)
      tl__put_f64(p, tl_value_at(params[a], i));
  }
  tl__seal(&model_format, buf, n);
  if (tl_mlp_dtype(m) == TL_FLOAT64) {   /* readable by version-2 builds */
    tl__put_u32(buf + 8, 2);
    tl__put_u64(buf + n - 8, tl__fnv1a(buf, n - 8));
  }
  *out = buf;
  *len = n;
  return TL_OK;
}

tl_status tl_mlp_dump(tl_ctx *ctx, const tl_mlp *m, unsigned char **out,
                      size_t *len) {
  if (m == NULL || out == NULL || len == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "dump: NULL model or output");
  return tl__mlp_encode(ctx, m, out, len);
}

tl_status tl_mlp_save(tl_ctx *ctx, const tl_mlp *m, const char *path) {
  if (m == NULL || path == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "save: NULL model or path");
  unsigned char *buf = NULL;
  size_t len = 0;
  tl_status st = tl__mlp_encode(ctx, m, &buf, &len);
  if (st != TL_OK) return st;
  st = tl__write_file(ctx, path, buf, len);
  free(buf);
  return st;
}

/* }====================================================================== */

/* {======================================================================
** Loading
** ======================================================================= */

/* Reads version 1's parameters at 'p' (per neuron: weights, then bias)
** into version 2's order in 'out' (per layer: W row-major, then b). */
static void v1_to_v2(const unsigned char *p, size_t nin, size_t nl,
                     const size_t *sizes, double *out) {
  size_t fan_in = nin;
  for (size_t l = 0; l < nl; l++) {
    double *w = out, *bias = out + sizes[l] * fan_in;
    for (size_t j = 0; j < sizes[l]; j++)
      for (size_t i = 0; i <= fan_in; i++, p += 8)
        *(i < fan_in ? &w[j * fan_in + i] : &bias[j]) = tl__get_f64(p);
    out += sizes[l] * (fan_in + 1);
    fan_in = sizes[l];
  }
}

/* Decodes 'b'[0..n) after checking its envelope. */
tl_mlp *tl__mlp_decode(tl_ctx *ctx, const char *where, int path_like,
                       const unsigned char *b, size_t n) {
  if (tl__check_envelope(ctx, &model_format, where, path_like, b, n) != TL_OK)
    return NULL;
  uint32_t kind = tl__get_u32(b + 12) & 0xffffu, dtype = tl__get_u32(b + 12) >> 16;
  uint32_t nin = tl__get_u32(b + 24);
  uint32_t nl = tl__get_u32(b + 28);
  if (nl == 0 || nl > TL_MLP_MAX_LAYERS || HEADER_LEN + 8 * (size_t)nl + 8 > n) {
    tl__fail_at(ctx, TL_EFORMAT, where, "invalid model (%lu layers)",
                (unsigned long)nl);
    return NULL;
  }
  size_t *sizes = malloc(nl * sizeof *sizes);
  tl_act *acts = malloc(nl * sizeof *acts);
  double *params = NULL;
  tl_mlp *m = NULL;
  if (sizes == NULL || acts == NULL) goto nomem;
  /* Widths are checked before any product: with them at most
  ** TL_MLP_MAX_WIDTH, np stays far below 2^64 and 8 * np cannot wrap. */
  size_t np = 0, fan_in = nin;
  int widths_ok = nin > 0 && nin <= TL_MLP_MAX_WIDTH;
  for (size_t l = 0; l < nl && widths_ok; l++) {
    sizes[l] = tl__get_u32(b + HEADER_LEN + 8 * l);
    acts[l] = (tl_act)tl__get_u32(b + HEADER_LEN + 8 * l + 4);
    widths_ok = sizes[l] > 0 && sizes[l] <= TL_MLP_MAX_WIDTH;
    np += sizes[l] * (fan_in + 1);
    fan_in = sizes[l];
  }
  size_t room = n - HEADER_LEN - 8 * (size_t)nl - 8;   /* n >= these: checked */
  if (dtype >= TL_DTYPE_COUNT || (dtype != 0 && tl__get_u32(b + 8) < 3)) {
    tl__fail_at(ctx, TL_EFORMAT, where, "invalid model (unknown dtype %lu)",
                (unsigned long)dtype);
    goto done;
  }
  if (!widths_ok || kind >= TL_KIND_COUNT || room % 8 != 0 || np != room / 8) {
    tl__fail_at(ctx, TL_EFORMAT, where, "invalid model (architecture does "
                "not match the %s length)", path_like ? "file" : "data");
    goto done;
  }
  /* activation codes are checked here, named by their byte offset in the
  ** file (a place in the file reads the same in C and in Lua, where a
  ** layer number would not) */
  for (size_t l = 0; l < nl; l++)
    if ((unsigned)acts[l] >= TL_ACT_COUNT) {
      tl__fail_at(ctx, TL_EFORMAT, where, "invalid model (unknown activation "
                  "%u at byte %zu)", (unsigned)acts[l], HEADER_LEN + 8 * l + 4);
      goto done;
    }
  params = malloc((np ? np : 1) * sizeof *params);
  if (params == NULL) goto nomem;
  const unsigned char *p = b + HEADER_LEN + 8 * (size_t)nl;
  if (tl__get_u32(b + 8) == 1) v1_to_v2(p, nin, nl, sizes, params);
  else for (size_t i = 0; i < np; i++) params[i] = tl__get_f64(p + 8 * i);
  m = tl__mlp_with_params(ctx, (tl_mlp_kind)kind, nin, nl, sizes, acts, params);
  if (m != NULL && dtype != TL_FLOAT64 &&
      tl_mlp_to_dtype(ctx, m, (tl_dtype)dtype) != TL_OK) {
    tl_mlp_free(ctx, m);
    m = NULL;
  }
  if (m == NULL) {
    char why[200];
    snprintf(why, sizeof why, "%s", tl_ctx_error(ctx));
    tl__fail_at(ctx, TL_EFORMAT, where, "invalid model (%s)", why);
  }
  goto done;
nomem:
  tl__fail_at(ctx, TL_ENOMEM, where, "out of memory");
done:
  free(sizes);
  free(acts);
  free(params);
  return m;
}

tl_mlp *tl_mlp_load(tl_ctx *ctx, const char *path) {
  if (path == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "load: NULL path");
    return NULL;
  }
  unsigned char *b = NULL;
  size_t n = 0;
  if (tl__read_file(ctx, path, model_format.max_len, &b, &n) != TL_OK)
    return NULL;
  char where[300];
  snprintf(where, sizeof where, "load '%s'", path);
  tl_mlp *m = tl__mlp_decode(ctx, where, 1, b, n);
  free(b);
  return m;
}

tl_mlp *tl_mlp_load_bytes(tl_ctx *ctx, const void *buf, size_t len) {
  if (buf == NULL && len > 0) {
    tl_ctx_fail(ctx, TL_EARG, "load_bytes: NULL buffer");
    return NULL;
  }
  return tl__mlp_decode(ctx, NULL, 0, buf != NULL ? buf : "", len);
}

/* }====================================================================== */
