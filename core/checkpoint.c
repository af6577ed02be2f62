/*
** checkpoint.c -- a model, its optimizer's state and a step in one file
** (tl_checkpoint.h).
**
** Checkpoint file, version 1 (the envelope of serialize.c):
**
**   offset   size  field
**   0        8     magic "TLCK\r\n\x1a\n"
**   8        4     version: 1
**   12       4     0 (reserved)
**   16       8     total length in bytes, checksum included
**   24       8     step
**   32       8     M, the model part's length
**   40       8     O, the optimizer part's length (0: no optimizer)
**   48       M     the model: a model file (serialize.c), whole
**   48+M     O     the optimizer state (optim.c), whole
**   end-8    8     checksum: 64-bit FNV-1a of every byte before it
**
** Each part keeps its own envelope, so it is checked by the code that
** reads it alone; the outer checksum catches any damage first and names
** the checkpoint.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "size.h"
#include "tl_checkpoint.h"

#define HEADER_LEN 48
/* The largest checkpoint a valid model and optimizer need (tl_nn.h
** limits: a model file, and a state of up to 3 arrays), read no more. */
#define MAX_LEN (HEADER_LEN + 8 + \
                 (32 + 8 * (size_t)TL_MLP_MAX_LAYERS + \
                  8 * (size_t)TL_MLP_MAX_PARAMS + 8) + \
                 (128 + 16 * 2 * (size_t)TL_MLP_MAX_LAYERS + \
                  24 * (size_t)TL_MLP_MAX_PARAMS + 8))

static const tl__format checkpoint_format = {
  "TLCK\r\n\x1a\n", 1, 1, "checkpoint", "checkpoint version", HEADER_LEN,
  MAX_LEN
};

/* TL_OK if 'o' optimizes exactly the parameters of 'm', in their order. */
static tl_status same_params(tl_ctx *ctx, const char *fname, const tl_mlp *m,
                             const tl_optim *o) {
  size_t n = tl_mlp_nparams(m), k = tl_optim_nparams(o);
  if (k != n)
    return tl_ctx_fail(ctx, TL_EARG, "%s: the optimizer is not the model's "
                       "(it has %zu parameters, the model %zu)", fname, k, n);
  tl_node *const *a = tl_mlp_params(m), *const *b = tl_optim_params(o);
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i])
      return tl_ctx_fail(ctx, TL_EARG, "%s: the optimizer is not the model's "
                         "(its parameter %zu of %zu is not the model's, in "
                         "the order of its parameters())", fname, i + 1, n);
  return TL_OK;
}

tl_status tl_checkpoint_dump(tl_ctx *ctx, const tl_mlp *m, const tl_optim *o,
                             uint64_t step, unsigned char **out, size_t *len) {
  if (m == NULL || out == NULL || len == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "checkpoint: NULL model or output");
  if (o != NULL) {
    tl_status st = same_params(ctx, "checkpoint", m, o);
    if (st != TL_OK) return st;
  }
  unsigned char *mb = NULL, *ob = NULL, *b = NULL;
  size_t mn = 0, on = 0, n = 0;
  tl_status st = tl__mlp_encode(ctx, m, &mb, &mn);
  if (st == TL_OK && o != NULL) st = tl_optim_dump(ctx, o, &ob, &on);
  if (st == TL_OK) {
    if (!tl__size_add(mn, on, &n) || !tl__size_add(n, HEADER_LEN + 8, &n) ||
        (b = malloc(n)) == NULL)
      st = tl_ctx_fail(ctx, TL_ENOMEM, "checkpoint: out of memory");
  }
  if (st == TL_OK) {
    tl__put_u32(b + 12, 0);
    tl__put_u64(b + 24, step);
    tl__put_u64(b + 32, (uint64_t)mn);
    tl__put_u64(b + 40, (uint64_t)on);
    memcpy(b + HEADER_LEN, mb, mn);
    if (on > 0) memcpy(b + HEADER_LEN + mn, ob, on);
    tl__seal(&checkpoint_format, b, n);
    *out = b;
    *len = n;
  }
  free(mb);
  free(ob);
  return st;
}

tl_status tl_checkpoint_save(tl_ctx *ctx, const tl_mlp *m, const tl_optim *o,
                             uint64_t step, const char *path) {
  if (path == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "checkpoint: NULL path");
  unsigned char *b;
  size_t n;
  tl_status st = tl_checkpoint_dump(ctx, m, o, step, &b, &n);
  if (st != TL_OK) return st;
  st = tl__write_file(ctx, path, b, n);
  free(b);
  return st;
}

static tl_status decode(tl_ctx *ctx, const char *where, int path_like,
                        const unsigned char *b, size_t n, tl_checkpoint *out) {
  const char *noun = path_like ? "file" : "data";
  if (n >= 8 && memcmp(b, "TLNN\r\n\x1a\n", 8) == 0)
    return tl__fail_at(ctx, TL_EFORMAT, where, "this is a model, not a "
                       "checkpoint (load it with nn.load or tl_mlp_load)");
  tl_status st = tl__check_envelope(ctx, &checkpoint_format, where, path_like,
                                    b, n);
  if (st != TL_OK) return st;
  uint64_t mn = tl__get_u64(b + 32), on = tl__get_u64(b + 40);
  size_t room = n - HEADER_LEN - 8;   /* n >= HEADER_LEN + 8: checked */
  if (tl__get_u32(b + 12) != 0 || mn > room || on != room - mn)
    return tl__fail_at(ctx, TL_EFORMAT, where, "invalid checkpoint (its parts' "
                       "lengths do not add up to the %s's)", noun);
  /* the parts' own messages, after "model part:" or "optimizer part:" */
  char part[320];
  snprintf(part, sizeof part, "%s%smodel part", where ? where : "",
           where ? ": " : "");
  tl_mlp *m = tl__mlp_decode(ctx, part, 0, b + HEADER_LEN, (size_t)mn);
  if (m == NULL) return TL_EFORMAT;
  tl_optim *o = NULL;
  if (on > 0) {
    snprintf(part, sizeof part, "%s%soptimizer part", where ? where : "",
             where ? ": " : "");
    st = tl__optim_decode(ctx, part, 0, b + HEADER_LEN + mn, (size_t)on, -1,
                          tl_mlp_nparams(m), tl_mlp_params(m), &o);
    if (st != TL_OK) {
      tl_mlp_free(ctx, m);
      /* the parts disagree: a damaged file, not the caller's argument */
      return st == TL_EARG ? TL_EFORMAT : st;
    }
  }
  out->model = m;
  out->optim = o;
  out->step = tl__get_u64(b + 24);
  return TL_OK;
}

tl_status tl_checkpoint_load(tl_ctx *ctx, const char *path, tl_checkpoint *out) {
  if (out == NULL || path == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "load_checkpoint: NULL path or output");
  *out = (tl_checkpoint){NULL, NULL, 0};
  unsigned char *b = NULL;
  size_t n = 0;
  tl_status st = tl__read_file(ctx, path, MAX_LEN, &b, &n);
  if (st != TL_OK) return st;
  char where[300];
  snprintf(where, sizeof where, "load_checkpoint '%s'", path);
  st = decode(ctx, where, 1, b, n, out);
  free(b);
  return st;
}

tl_status tl_checkpoint_load_bytes(tl_ctx *ctx, const void *buf, size_t len,
                                   tl_checkpoint *out) {
  if (out == NULL || (buf == NULL && len > 0))
    return tl_ctx_fail(ctx, TL_EARG, "load_checkpoint: NULL buffer or output");
  *out = (tl_checkpoint){NULL, NULL, 0};
  return decode(ctx, NULL, 0, buf != NULL ? buf : "", len, out);
}
