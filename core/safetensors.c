/*
** safetensors.c -- a model to and from a safetensors file (tl_interop.h
** describes the layout and the names; safetensors_header.c parses the
** JSON).
**
** Writing: F64 (F32 for a float32 model), the bits of every parameter as
** they are, so a round
** trip is bit-exact; tensors in layer order, W then b, the data starting
** at a multiple of 8 as the reference implementation pads it.
**
** Reading, in this order: the length prefix (truncated, or a header length
** past the end), the header (safetensors_header.c: JSON, dtypes, offsets),
** the architecture (Torchlet's metadata, or the caller's tl_arch for the
** activations), then every expected tensor by name: present, F64 or F32,
** of the shape the architecture needs, and no tensor besides them.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "size.h"
#include "st_header.h"
#include "tl_interop.h"

/* {======================================================================
** A growing text buffer (the writer's JSON)
** ======================================================================= */

typedef struct sbuf { char *p; size_t n, cap; int failed; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) {
  if (b->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0,
                      fmt, ap);
    va_end(ap);
    if (k < 0) { b->failed = 1; return; }
    if (b->p != NULL && (size_t)k < b->cap - b->n) { b->n += (size_t)k; return; }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->n <= (size_t)k)
      if (!tl__size_mul(cap, 2, &cap)) { b->failed = 1; return; }
    char *q = realloc(b->p, cap);
    if (q == NULL) { b->failed = 1; return; }
    b->p = q;
    b->cap = cap;
  }
}

/* }====================================================================== */

/* {======================================================================
** Names: layer l's Linear is module idx[l] of the Sequential
** ======================================================================= */

/* The module index of each layer's Linear: one more after a linear layer,
** two after one followed by an activation module. */
static void module_indices(size_t nl, const tl_act *acts, size_t *idx) {
  size_t at = 0;
  for (size_t l = 0; l < nl; l++) {
    idx[l] = at;
    at += acts[l] == TL_ACT_LINEAR ? 1 : 2;
  }
}

static const char *const kind_names[TL_KIND_COUNT] = {"Neuron", "Layer", "MLP"};

/* }====================================================================== */

/* {======================================================================
** Writing
** ======================================================================= */

static void write_metadata(sbuf *b, const tl_mlp *m) {
  size_t nl = tl_mlp_nlayers(m), fan_in = tl_mlp_nin(m);
  sb_printf(b, "{\"__metadata__\":{\"format\":\"pt\",\"torchlet.kind\":\"%s\","
            "\"torchlet.nin\":\"%zu\",\"torchlet.sizes\":\"", 
            kind_names[tl_mlp_kind_of(m)], fan_in);
  for (size_t l = 0; l < nl; l++)
    sb_printf(b, "%s%zu", l ? "," : "", tl_mlp_layer_size(m, l));
  sb_printf(b, "\",\"torchlet.activations\":\"");
  for (size_t l = 0; l < nl; l++)
    sb_printf(b, "%s%s", l ? "," : "", tl_act_name(tl_mlp_layer_act(m, l)));
  sb_printf(b, "\",\"torchlet.sequential\":\"Sequential(");
  for (size_t l = 0; l < nl; l++) {
    tl_act a = tl_mlp_layer_act(m, l);
    sb_printf(b, "%sLinear(%zu, %zu)", l ? ", " : "", fan_in,
              tl_mlp_layer_size(m, l));
    if (a != TL_ACT_LINEAR) sb_printf(b, ", %s()", tl_act_title(a));
    fan_in = tl_mlp_layer_size(m, l);
  }
  sb_printf(b, ")\"");
  if (tl_mlp_dtype(m) != TL_FLOAT64)      /* loads back in its own dtype */
    sb_printf(b, ",\"torchlet.dtype\":\"%s\"", tl_dtype_name(tl_mlp_dtype(m)));
  sb_printf(b, "}");
}

tl_status tl_mlp_dump_safetensors(tl_ctx *ctx, const tl_mlp *m,
                                  unsigned char **out, size_t *len) {
  if (m == NULL || out == NULL || len == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "dump: NULL model or output");
  size_t nl = tl_mlp_nlayers(m), *idx = malloc(nl * sizeof *idx);
  tl_act *acts = malloc(nl * sizeof *acts);
  sbuf b = {NULL, 0, 0, idx == NULL || acts == NULL};
  if (!b.failed) {
    for (size_t l = 0; l < nl; l++) acts[l] = tl_mlp_layer_act(m, l);
    module_indices(nl, acts, idx);
  }
  write_metadata(&b, m);
  tl_node *const *ps = tl_mlp_params(m);
  size_t off = 0;                /* tl_nn.h limits: 8 * nscalars fits */
  /* a float32 model is written as F32, PyTorch's default, bit for bit */
  int f32 = tl_mlp_dtype(m) == TL_FLOAT32;
  size_t es = f32 ? 4 : 8;
  for (size_t i = 0; i < 2 * nl && !b.failed; i++) {
    size_t bytes = es * tl_size(ps[i]);
    sb_printf(&b, ",\"%zu.%s\":{\"dtype\":\"%s\",\"shape\":[", idx[i / 2],
              i % 2 ? "bias" : "weight", f32 ? "F32" : "F64");
    if (i % 2) sb_printf(&b, "%zu", tl_dim(ps[i], 0));
    else sb_printf(&b, "%zu,%zu", tl_dim(ps[i], 0), tl_dim(ps[i], 1));
    sb_printf(&b, "],\"data_offsets\":[%zu,%zu]}", off, off + bytes);
    off += bytes;
  }
  sb_printf(&b, "}");
  while (!b.failed && b.n % 8 != 0) sb_printf(&b, " ");
  free(idx);
  free(acts);
  unsigned char *buf = b.failed ? NULL : malloc(8 + b.n + off);
  if (buf == NULL) {
    free(b.p);
    return tl_ctx_fail(ctx, TL_ENOMEM, "save: out of memory");
  }
  tl__put_u64(buf, (uint64_t)b.n);
  memcpy(buf + 8, b.p, b.n);
  unsigned char *p = buf + 8 + b.n;
  for (size_t i = 0; i < 2 * nl; i++)
    for (size_t k = 0, size = tl_size(ps[i]); k < size; k++, p += es)
      if (f32) {
        float v = (float)tl_value_at(ps[i], k);
        uint32_t bits;
        memcpy(&bits, &v, 4);
        tl__put_u32(p, bits);
      } else
        tl__put_f64(p, tl_value_at(ps[i], k));
  *out = buf;
  *len = 8 + b.n + off;
  free(b.p);
  return TL_OK;
}

tl_status tl_mlp_save_safetensors(tl_ctx *ctx, const tl_mlp *m,
                                  const char *path) {
  if (m == NULL || path == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "save: NULL model or path");
  unsigned char *buf = NULL;   /* set on TL_OK; gcc -flto cannot tell */
  size_t len = 0;
  tl_status st = tl_mlp_dump_safetensors(ctx, m, &buf, &len);
  if (st != TL_OK) return st;
  st = tl__write_file(ctx, path, buf, len);
  free(buf);
  return st;
}

/* }====================================================================== */

/* {======================================================================
** Reading
** ======================================================================= */

/* What the reader gathers; every array has 'nl' entries. */
typedef struct st_arch {
  tl_mlp_kind kind;
  size_t nl, nin;
  size_t *sizes;        /* from the metadata (checked against shapes) */
  tl_act *acts;
  size_t *idx;
  int has_sizes;
} st_arch;

/* Counts the comma-separated items of 's' (at least one). */
static size_t count_items(const char *s) {
  size_t n = 1;
  for (; *s; s++) n += *s == ',';
  return n;
}

/* "784" into *out: decimal digits only, 1..TL_MLP_MAX_WIDTH. */
static int parse_size(const char *s, size_t len, size_t *out) {
  size_t v = 0;
  if (len == 0 || len > 7) return 0;
  for (size_t k = 0; k < len; k++) {
    if (s[k] < '0' || s[k] > '9') return 0;
    v = v * 10 + (size_t)(s[k] - '0');
  }
  if (v == 0 || v > TL_MLP_MAX_WIDTH) return 0;
  *out = v;
  return 1;
}

static tl_status bad_meta(tl_ctx *ctx, const char *where, const char *key,
                          const char *val) {
  return tl__fail_at(ctx, TL_EFORMAT, where, "metadata '%s' is invalid "
                     "('%.80s')", key, val);
}

/* The architecture from the metadata, when it has "torchlet.sizes"; *found
** says whether it did. */
static tl_status meta_arch(tl_ctx *ctx, const char *where,
                           const tl__st_header *hd, st_arch *a, int *found) {
  const char *sizes = tl__st_meta(hd, "torchlet.sizes");
  const char *acts = tl__st_meta(hd, "torchlet.activations");
  const char *nin = tl__st_meta(hd, "torchlet.nin");
  const char *kind = tl__st_meta(hd, "torchlet.kind");
  *found = sizes != NULL;
  if (sizes == NULL) return TL_OK;
  if (acts == NULL || nin == NULL)
    return tl__fail_at(ctx, TL_EFORMAT, where, "metadata has 'torchlet.sizes' "
                       "but no '%s'", acts == NULL ? "torchlet.activations"
                                                   : "torchlet.nin");
  if (!parse_size(nin, strlen(nin), &a->nin))
    return bad_meta(ctx, where, "torchlet.nin", nin);
  a->kind = TL_KIND_MLP;
  if (kind != NULL) {
    size_t k = 0;
    while (k < TL_KIND_COUNT && strcmp(kind, kind_names[k]) != 0) k++;
    if (k == TL_KIND_COUNT) return bad_meta(ctx, where, "torchlet.kind", kind);
    a->kind = (tl_mlp_kind)k;
  }
  a->nl = count_items(sizes);
  if (a->nl > TL_MLP_MAX_LAYERS || count_items(acts) != a->nl)
    return tl__fail_at(ctx, TL_EFORMAT, where, "metadata 'torchlet.sizes' and "
                       "'torchlet.activations' disagree on the number of layers"
                       " (or it is above %u)", (unsigned)TL_MLP_MAX_LAYERS);
  a->sizes = malloc(a->nl * sizeof *a->sizes);
  a->acts = malloc(a->nl * sizeof *a->acts);
  if (a->sizes == NULL || a->acts == NULL)
    return tl__fail_at(ctx, TL_ENOMEM, where, "out of memory");
  a->has_sizes = 1;
  const char *s = sizes, *t = acts;
  for (size_t l = 0; l < a->nl; l++) {
    size_t ls = strcspn(s, ","), lt = strcspn(t, ",");
    char name[16];
    if (!parse_size(s, ls, &a->sizes[l]))
      return bad_meta(ctx, where, "torchlet.sizes", sizes);
    snprintf(name, sizeof name, "%.*s", (int)(lt < 15 ? lt : 15), t);
    a->acts[l] = lt < 15 ? tl_act_from_name(name) : TL_ACT_COUNT;
    if (a->acts[l] == TL_ACT_COUNT)
      return bad_meta(ctx, where, "torchlet.activations", acts);
    s += ls + (s[ls] == ',');
    t += lt + (t[lt] == ',');
  }
  return TL_OK;
}

/* Replaces the activations (and, without metadata, the layer count) with
** the caller's. */
static tl_status caller_arch(tl_ctx *ctx, const char *where,
                             const tl__st_header *hd, const tl_arch *given,
                             int found, st_arch *a) {
  size_t nl = given->acts != NULL ? given->nlayers : found ? a->nl : hd->nt / 2;
  if (nl == 0 || nl > TL_MLP_MAX_LAYERS)
    return tl__fail_at(ctx, TL_EFORMAT, where, "%s %zu layers (1 to %u "
                       "expected)", given->acts ? "activations given for"
                       : "the file's tensors make", nl,
                       (unsigned)TL_MLP_MAX_LAYERS);
  if (found && nl != a->nl)
    return tl__fail_at(ctx, TL_EFORMAT, where, "activations given for %zu "
                       "layers, the file's metadata has %zu", nl, a->nl);
  if (!found) {
    a->kind = TL_KIND_MLP;
    a->nl = nl;
    a->acts = malloc(nl * sizeof *a->acts);
    if (a->acts == NULL) return tl__fail_at(ctx, TL_ENOMEM, where, "out of memory");
  }
  for (size_t l = 0; l < nl; l++) {
    tl_act act = given->acts ? given->acts[l] : l + 1 < nl ? given->hidden
                                                           : given->output;
    if ((unsigned)act >= TL_ACT_COUNT)
      return tl_ctx_fail(ctx, TL_EARG, "load: unknown activation code %u",
                         (unsigned)act);
    a->acts[l] = act;
  }
  return TL_OK;
}

/* The tensor 'name', checked: present, F64 or F32, of ndim 'nd'. */
static const tl__st_tensor *want(tl_ctx *ctx, const char *where,
                                 const tl__st_header *hd, const char *name,
                                 size_t nd) {
  const tl__st_tensor *t = tl__st_find(hd, name);
  if (t == NULL)
    tl__fail_at(ctx, TL_EFORMAT, where, "missing tensor '%s'", name);
  else if (t->dtype == TL__ST_OTHER)
    tl__fail_at(ctx, TL_EFORMAT, where, "tensor '%s': dtype not supported "
                "(F64 and F32 are read)", name);
  else if (t->ndim != nd)
    tl__fail_at(ctx, TL_EFORMAT, where, "tensor '%s' has %zu dimensions, %zu "
                "expected", name, t->ndim, nd);
  else
    return t;
  return NULL;
}

/* Reads tensor t's values (F64 or F32) into out. */
static double *read_values(const tl__st_tensor *t, const unsigned char *data,
                           double *out) {
  const unsigned char *p = data + t->begin;
  size_t count = (size_t)(t->end - t->begin) / (t->dtype == TL__ST_F64 ? 8 : 4);
  for (size_t k = 0; k < count; k++)
    if (t->dtype == TL__ST_F64) out[k] = tl__get_f64(p + 8 * k);
    else {
      uint32_t u = tl__get_u32(p + 4 * k);
      float f;
      memcpy(&f, &u, sizeof f);
      out[k] = (double)f;          /* every float is a double: exact */
    }
  return out + count;
}

/* Matches the tensors to the architecture, fills sizes and the values. */
static tl_mlp *build(tl_ctx *ctx, const char *where, const tl__st_header *hd,
                     const unsigned char *data, st_arch *a) {
  size_t nl = a->nl, *sizes = malloc(nl * sizeof *sizes), np = 0, fan_in = 0;
  a->idx = malloc(nl * sizeof *a->idx);
  if (sizes == NULL || a->idx == NULL) {
    free(sizes);
    tl__fail_at(ctx, TL_ENOMEM, where, "out of memory");
    return NULL;
  }
  module_indices(nl, a->acts, a->idx);
  const tl__st_tensor **ts = malloc(2 * nl * sizeof *ts);
  tl_mlp *m = NULL;
  double *params = NULL;
  if (ts == NULL) { tl__fail_at(ctx, TL_ENOMEM, where, "out of memory"); goto done; }
  for (size_t l = 0; l < nl; l++) {
    char wn[40], bn[40];
    snprintf(wn, sizeof wn, "%zu.weight", a->idx[l]);
    snprintf(bn, sizeof bn, "%zu.bias", a->idx[l]);
    const tl__st_tensor *w = want(ctx, where, hd, wn, 2), *b;
    if (w == NULL || (b = want(ctx, where, hd, bn, 1)) == NULL) goto done;
    size_t out = w->shape[0], in = w->shape[1];
    if (l == 0) fan_in = in;
    if (in != fan_in || out == 0 || b->shape[0] != out ||
        (a->has_sizes && (out != a->sizes[l] || (l == 0 && in != a->nin)))) {
      tl__fail_at(ctx, TL_EFORMAT, where, "tensors '%s' (%zu, %zu) and '%s' "
                  "(%zu) do not fit layer %zu, which needs (%zu, %zu) and (%zu)",
                  wn, out, in, bn, b->shape[0], l + 1,
                  a->has_sizes ? a->sizes[l] : out,
                  a->has_sizes && l == 0 ? a->nin : fan_in,
                  a->has_sizes ? a->sizes[l] : out);
      goto done;
    }
    sizes[l] = out;
    ts[2 * l] = w;
    ts[2 * l + 1] = b;
    np += out * in + out;      /* each bounded by the file's length */
    fan_in = out;
  }
  if (hd->nt != 2 * nl) {
    /* a tensor no layer claims: the first by name not among ts */
    const char *extra = "?";
    unsigned char *claimed = calloc(hd->nt, 1);
    if (claimed == NULL) { tl__fail_at(ctx, TL_ENOMEM, where, "out of memory"); goto done; }
    for (size_t j = 0; j < 2 * nl; j++) claimed[ts[j] - hd->t] = 1;
    for (size_t k = 0; k < hd->nt && extra[0] == '?'; k++)
      if (!claimed[k]) extra = hd->t[k].name;
    free(claimed);
    tl__fail_at(ctx, TL_EFORMAT, where, "tensor '%.200s' belongs to no layer "
                "of the architecture (%zu layers, %zu tensors expected)",
                extra, nl, 2 * nl);
    goto done;
  }
  params = malloc((np ? np : 1) * sizeof *params);
  if (params == NULL) { tl__fail_at(ctx, TL_ENOMEM, where, "out of memory"); goto done; }
  double *p = params;
  for (size_t k = 0; k < 2 * nl; k++) p = read_values(ts[k], data, p);
  m = tl__mlp_with_params(ctx, a->kind, ts[0]->shape[1], nl, sizes, a->acts,
                          params);
  /* Torchlet's own float32 models say so; any other file loads float64
  ** (F32 values widen exactly) */
  const char *dtype = tl__st_meta(hd, "torchlet.dtype");
  if (m != NULL && dtype != NULL) {
    if (strcmp(dtype, "float32") != 0) {
      tl_mlp_free(ctx, m);
      m = NULL;
      bad_meta(ctx, where, "torchlet.dtype", dtype);
      goto done;
    }
    if (tl_mlp_to_dtype(ctx, m, TL_FLOAT32) != TL_OK) {
      tl_mlp_free(ctx, m);
      m = NULL;
    }
  }
  if (m == NULL) {
    char why[200];
    snprintf(why, sizeof why, "%s", tl_ctx_error(ctx));
    tl__fail_at(ctx, TL_EFORMAT, where, "invalid model (%s)", why);
  }
done:
  free(ts);
  free(sizes);
  free(params);
  return m;
}

static tl_mlp *decode(tl_ctx *ctx, const char *where, const unsigned char *b,
                      size_t n, const tl_arch *given) {
  const char *noun = where != NULL ? "file" : "data";
  if (n < 8) {
    tl__fail_at(ctx, TL_EFORMAT, where, "%s is truncated (%zu bytes, shorter "
                "than the 8-byte header length)", noun, n);
    return NULL;
  }
  uint64_t hl = tl__get_u64(b);
  if (hl > n - 8) {
    tl__fail_at(ctx, TL_EFORMAT, where, "header length %llu runs past the end "
                "of the %s (%zu bytes)", (unsigned long long)hl, noun, n);
    return NULL;
  }
  if (hl > TL__ST_MAX_HEADER) {
    tl__fail_at(ctx, TL_EFORMAT, where, "header of %llu bytes (at most %u "
                "read)", (unsigned long long)hl, (unsigned)TL__ST_MAX_HEADER);
    return NULL;
  }
  tl__st_header hd;
  if (tl__st_header_parse(ctx, where, (const char *)b + 8, (size_t)hl,
                          n - 8 - hl, &hd) != TL_OK)
    return NULL;
  st_arch a = {TL_KIND_MLP, 0, 0, NULL, NULL, NULL, 0};
  tl_mlp *m = NULL;
  int found;
  if (meta_arch(ctx, where, &hd, &a, &found) != TL_OK) goto done;
  if (given != NULL) {
    if (caller_arch(ctx, where, &hd, given, found, &a) != TL_OK) goto done;
  } else if (!found) {
    tl__fail_at(ctx, TL_EFORMAT, where, "no Torchlet architecture in the "
                "header's __metadata__: give the activations");
    goto done;
  }
  m = build(ctx, where, &hd, b + 8 + hl, &a);
done:
  free(a.sizes);
  free(a.acts);
  free(a.idx);
  tl__st_header_free(&hd);
  return m;
}

tl_mlp *tl_mlp_load_safetensors(tl_ctx *ctx, const char *path,
                                const tl_arch *arch) {
  if (path == NULL) {
    tl_ctx_fail(ctx, TL_EARG, "load: NULL path");
    return NULL;
  }
  unsigned char *b = NULL;
  size_t n = 0;
  size_t max = 8 + (size_t)TL__ST_MAX_HEADER + 8 * (size_t)TL_MLP_MAX_PARAMS;
  if (tl__read_file(ctx, path, max, &b, &n) != TL_OK) return NULL;
  char where[300];
  snprintf(where, sizeof where, "load '%s'", path);
  tl_mlp *m = NULL;
  if (n > max)
    tl__fail_at(ctx, TL_EFORMAT, where, "file larger than any model (%zu "
                "bytes at most)", max);
  else
    m = decode(ctx, where, b, n, arch);
  free(b);
  return m;
}

tl_mlp *tl_mlp_load_safetensors_bytes(tl_ctx *ctx, const void *buf,
                                      size_t len, const tl_arch *arch) {
  if (buf == NULL && len > 0) {
    tl_ctx_fail(ctx, TL_EARG, "load_bytes: NULL buffer");
    return NULL;
  }
  return decode(ctx, NULL, buf != NULL ? buf : "", len, arch);
}

/* }====================================================================== */
