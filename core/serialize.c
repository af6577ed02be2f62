/*
** serialize.c -- saving and loading models (tl_mlp_save, tl_mlp_load).
**
** File format, version 2.  Every integer is unsigned little-endian; every
** parameter is the IEEE 754 binary64 bit pattern of its value, little-
** endian, so a round trip is bit-exact (nan payloads and -0 included).
**
**   offset        size  field
**   0             8     magic "TLNN\r\n\x1a\n" (the \r\n and \x1a catch
**                       text-mode and line-ending mangling, as PNG's does)
**   8             4     format version: 2
**   12            4     model kind: 0 Neuron, 1 Layer, 2 MLP
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
** 1 files still load (converted on the way in); saves write version 2.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tl_nn.h"

#define MAGIC "TLNN\r\n\x1a\n"
#define MAGIC_LEN 8
#define VERSION 2u
#define OLDEST_VERSION 1u
#define HEADER_LEN 32
/* The largest file a valid model can need (tl_nn.h limits), read no more. */
#define MAX_FILE_LEN (HEADER_LEN + 8 * (size_t)TL_MLP_MAX_LAYERS + \
                      8 * (size_t)TL_MLP_MAX_PARAMS + 8)

/* {======================================================================
** Bytes
** ======================================================================= */

static uint64_t fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static uint64_t bits_of(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static double double_of(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* }====================================================================== */

/* {======================================================================
** Saving
** ======================================================================= */

tl_status tl_mlp_save(tl_ctx *ctx, const tl_mlp *m, const char *path) {
  if (m == NULL || path == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "save: NULL model or path");
  size_t nl = tl_mlp_nlayers(m), np = tl_mlp_nscalars(m);
  size_t len = HEADER_LEN + 8 * nl + 8 * np + 8;
  unsigned char *buf = malloc(len);
  if (buf == NULL) return tl_ctx_fail(ctx, TL_ENOMEM, "save: out of memory");
  memcpy(buf, MAGIC, MAGIC_LEN);
  put_u32(buf + 8, VERSION);
  put_u32(buf + 12, (uint32_t)tl_mlp_kind_of(m));
  put_u64(buf + 16, (uint64_t)len);
  put_u32(buf + 24, (uint32_t)tl_mlp_nin(m));
  put_u32(buf + 28, (uint32_t)nl);
  unsigned char *p = buf + HEADER_LEN;
  for (size_t l = 0; l < nl; l++, p += 8) {
    put_u32(p, (uint32_t)tl_mlp_layer_size(m, l));
    put_u32(p + 4, (uint32_t)tl_mlp_layer_act(m, l));
  }
  tl_node *const *params = tl_mlp_params(m);
  for (size_t a = 0; a < tl_mlp_nparams(m); a++) {
    const double *v = tl_values(params[a]);
    for (size_t i = 0, size = tl_size(params[a]); i < size; i++, p += 8)
      put_u64(p, bits_of(v[i]));
  }
  put_u64(p, fnv1a(buf, len - 8));
  tl__out out;
  tl_status st = tl__out_open(ctx, &out, path);
  if (st == TL_OK) st = tl__out_write(ctx, &out, buf, len);
  if (st == TL_OK) st = tl__out_commit(ctx, &out);
  else tl__out_abort(&out);
  free(buf);
  return st;
}

/* }====================================================================== */

/* {======================================================================
** Loading
** ======================================================================= */

/* Reads at most MAX_FILE_LEN + 1 bytes of 'path' into *out (malloc'd). */
static tl_status read_file(tl_ctx *ctx, const char *path, unsigned char **out,
                           size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return tl_ctx_fail(ctx, TL_EIO, "cannot open '%s': %s", path,
                       strerror(errno));
  size_t cap = 4096, n = 0;
  unsigned char *buf = malloc(cap);
  while (buf != NULL) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap || n > MAX_FILE_LEN) break;   /* end of file, or too long */
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

/* Checks the file's envelope (magic, version, length, checksum). */
static tl_status check_envelope(tl_ctx *ctx, const char *path,
                                const unsigned char *b, size_t n) {
  size_t m = n < MAGIC_LEN ? n : MAGIC_LEN;
  if (memcmp(b, MAGIC, m) != 0)
    return tl_ctx_fail(ctx, TL_EFORMAT, "load '%s': not a Torchlet model "
                       "file (wrong magic number)", path);
  if (n < 12)
    return tl_ctx_fail(ctx, TL_EFORMAT, "load '%s': file is truncated (%zu "
                       "bytes, shorter than the header)", path, n);
  uint32_t version = get_u32(b + 8);
  if (version < OLDEST_VERSION || version > VERSION)
    return tl_ctx_fail(ctx, TL_EFORMAT, "load '%s': unsupported format "
                       "version %lu (this build reads versions %u to %u)", path,
                       (unsigned long)version, OLDEST_VERSION, VERSION);
  if (n < HEADER_LEN + 8)
    return tl_ctx_fail(ctx, TL_EFORMAT, "load '%s': file is truncated (%zu "
                       "bytes, shorter than the header)", path, n);
  uint64_t want = get_u64(b + 16);
  if (n < want)
    return tl_ctx_fail(ctx, TL_EFORMAT, "load '%s': file is truncated (%zu of "
                       "%llu bytes)", path, n, (unsigned long long)want);
  if (n > want)
    return tl_ctx_fail(ctx, TL_EFORMAT, "load '%s': file is corrupted (%zu "
                       "bytes where its header says %llu)", path, n,
                       (unsigned long long)want);
  if (fnv1a(b, n - 8) != get_u64(b + n - 8))
    return tl_ctx_fail(ctx, TL_EFORMAT, "load '%s': file is corrupted "
                       "(checksum mismatch)", path);
  return TL_OK;
}

/* Reads version 1's parameters at 'p' (per neuron: weights, then bias)
** into version 2's order in 'out' (per layer: W row-major, then b). */
static void v1_to_v2(const unsigned char *p, size_t nin, size_t nl,
                     const size_t *sizes, double *out) {
  size_t fan_in = nin;
  for (size_t l = 0; l < nl; l++) {
    double *w = out, *bias = out + sizes[l] * fan_in;
    for (size_t j = 0; j < sizes[l]; j++)
      for (size_t i = 0; i <= fan_in; i++, p += 8)
        *(i < fan_in ? &w[j * fan_in + i] : &bias[j]) = double_of(get_u64(p));
    out += sizes[l] * (fan_in + 1);
    fan_in = sizes[l];
  }
}

/* Decodes a file that passed check_envelope. */
static tl_mlp *decode(tl_ctx *ctx, const char *path, const unsigned char *b,
                      size_t n) {
  uint32_t kind = get_u32(b + 12), nin = get_u32(b + 24), nl = get_u32(b + 28);
  if (nl == 0 || nl > TL_MLP_MAX_LAYERS || HEADER_LEN + 8 * (size_t)nl + 8 > n) {
    tl_ctx_fail(ctx, TL_EFORMAT, "load '%s': invalid model (%lu layers)", path,
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
    sizes[l] = get_u32(b + HEADER_LEN + 8 * l);
    acts[l] = (tl_act)get_u32(b + HEADER_LEN + 8 * l + 4);
    widths_ok = sizes[l] > 0 && sizes[l] <= TL_MLP_MAX_WIDTH;
    np += sizes[l] * (fan_in + 1);
    fan_in = sizes[l];
  }
  size_t room = n - HEADER_LEN - 8 * (size_t)nl - 8;   /* n >= these: checked */
  if (!widths_ok || kind >= TL_KIND_COUNT || room % 8 != 0 || np != room / 8) {
    tl_ctx_fail(ctx, TL_EFORMAT, "load '%s': invalid model (architecture does "
                "not match the file length)", path);
    goto done;
  }
  /* activation codes are checked here, named by their byte offset in the
  ** file (a place in the file reads the same in C and in Lua, where a
  ** layer number would not) */
  for (size_t l = 0; l < nl; l++)
    if ((unsigned)acts[l] >= TL_ACT_COUNT) {
      tl_ctx_fail(ctx, TL_EFORMAT, "load '%s': invalid model (unknown "
                  "activation %u at byte %zu)", path, (unsigned)acts[l],
                  HEADER_LEN + 8 * l + 4);
      goto done;
    }
  params = malloc((np ? np : 1) * sizeof *params);
  if (params == NULL) goto nomem;
  const unsigned char *p = b + HEADER_LEN + 8 * (size_t)nl;
  if (get_u32(b + 8) == 1) v1_to_v2(p, nin, nl, sizes, params);
  else for (size_t i = 0; i < np; i++) params[i] = double_of(get_u64(p + 8 * i));
  m = tl__mlp_with_params(ctx, (tl_mlp_kind)kind, nin, nl, sizes, acts, params);
  if (m == NULL) {
    char why[200];
    snprintf(why, sizeof why, "%s", tl_ctx_error(ctx));
    tl_ctx_fail(ctx, TL_EFORMAT, "load '%s': invalid model (%s)", path, why);
  }
  goto done;
nomem:
  tl_ctx_fail(ctx, TL_ENOMEM, "load '%s': out of memory", path);
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
  if (read_file(ctx, path, &b, &n) != TL_OK) return NULL;
  tl_mlp *m = NULL;
  if (check_envelope(ctx, path, b, n) == TL_OK) m = decode(ctx, path, b, n);
  free(b);
  return m;
}

/* }====================================================================== */
