/*
** array.c -- array nodes: storage, shape, gradient buffers, accessors, and
** the cache their blocks come from.
**
** An array node's value is one block, a header with the shape followed by
** the values, so creating one costs one allocation.  Its gradient buffer
** is allocated by the first backward pass that reaches it.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Bytes of an array's value block and of its gradient buffer. */
static size_t value_bytes(const tl__array *arr) {
  return sizeof(tl__array) + arr->size * tl__esize((tl_dtype)arr->dtype);
}
static size_t grad_bytes(const tl__array *arr) {
  return arr->size * tl__esize((tl_dtype)arr->dtype);
}

/* {======================================================================
** The block cache
**
** A training step allocates the same arrays as the step before, and the
** collector frees the step before's.  Given back to malloc, a big block
** goes back to the system (glibc unmaps or trims it), and the next step
** takes every page fault again (about 11 us each on the test VM: 26,600
** faults against OpenBLAS's 7,700 at a 256 x 256 matmul).  So freed value
** blocks and gradient buffers stay with the context, on a list per block
** size, and the next allocation of that size takes one (PyTorch keeps
** such a cache for its GPU memory, for the same reason).
**
** Sizes: a block of up to TL_CACHE_ROUND bytes is rounded up to 64, so the
** many small arrays share a few lists and any block can hold the links of
** a cached one; a bigger block keeps its exact size, which the same shape
** asks for again next step, since rounding would cost memory in proportion.
**
** Bound: the capacity of live blocks plus the cached ones never exceeds
** the most live blocks ever held at once ('held_peak').  Freeing a block
** moves it from live to cached and taking one moves it back, so a steady
** loop never evicts; a block that must be malloc'd (a size not cached)
** first evicts the oldest cached blocks, as many as it takes: sizes no
** longer asked for age out.  tl_ctx_empty_cache gives everything back.
** ======================================================================= */

#define TL_CACHE_ROUND ((size_t)4096)

struct tl__cached {
  tl__cached *prev, *next;      /* the blocks of its size, newest first */
  tl__cached *older, *newer;    /* every cached block, by age */
  size_t bytes;                 /* its capacity, its bucket's key */
};

/* The capacity of a block asked for 'bytes' bytes. */
static size_t capacity(size_t bytes) {
  if (bytes > TL_CACHE_ROUND) return bytes;
  return (bytes + 63) & ~(size_t)63;
}

static size_t bucket_hash(size_t bytes) {
  uint64_t h = (uint64_t)bytes * 0x9e3779b97f4a7c15ull;
  return (size_t)(h ^ (h >> 32));
}

/* The bucket of 'bytes', or NULL if it has none. */
static tl__bucket *find_bucket(tl_ctx *ctx, size_t bytes) {
  if (ctx->nbuckets == 0) return NULL;
  size_t mask = ctx->nbuckets - 1;
  for (size_t i = bucket_hash(bytes) & mask;; i = (i + 1) & mask) {
    tl__bucket *b = &ctx->buckets[i];
    if (b->bytes == bytes) return b;
    if (b->bytes == 0) return NULL;   /* the table is never full */
  }
}

/* Slot for 'bytes' in a table without it (the first empty slot). */
static tl__bucket *empty_slot(tl__bucket *table, size_t nbuckets, size_t bytes) {
  size_t mask = nbuckets - 1, i = bucket_hash(bytes) & mask;
  while (table[i].bytes != 0) i = (i + 1) & mask;
  return &table[i];
}

/* A new, empty bucket for 'bytes', or NULL when memory is short.  The
** table is kept at most half full; when it would pass that, it is rebuilt
** with the buckets that hold blocks only, so buckets of sizes no longer
** cached do not pile up. */
static tl__bucket *add_bucket(tl_ctx *ctx, size_t bytes) {
  if (2 * (ctx->buckets_used + 1) > ctx->nbuckets) {
    size_t kept = 0, cap = 16;
    for (size_t i = 0; i < ctx->nbuckets; i++) kept += ctx->buckets[i].head != NULL;
    while (cap < 4 * (kept + 1)) cap *= 2;
    tl__bucket *table = calloc(cap, sizeof *table);
    if (table == NULL) return NULL;
    for (size_t i = 0; i < ctx->nbuckets; i++)
      if (ctx->buckets[i].head != NULL)
        *empty_slot(table, cap, ctx->buckets[i].bytes) = ctx->buckets[i];
    free(ctx->buckets);
    ctx->buckets = table;
    ctx->nbuckets = cap;
    ctx->buckets_used = kept;
  }
  tl__bucket *b = empty_slot(ctx->buckets, ctx->nbuckets, bytes);
  b->bytes = bytes;
  b->head = NULL;
  ctx->buckets_used++;
  return b;
}

/* Takes cached block 'c' out of bucket 'b' and out of the age list. */
static void unlink_cached(tl_ctx *ctx, tl__bucket *b, tl__cached *c) {
  if (c->prev != NULL) c->prev->next = c->next;
  else b->head = c->next;
  if (c->next != NULL) c->next->prev = c->prev;
  if (c->older != NULL) c->older->newer = c->newer;
  else ctx->oldest = c->newer;
  if (c->newer != NULL) c->newer->older = c->older;
  else ctx->newest = c->older;
  ctx->cached_bytes -= c->bytes;
  UNPOISON(c, c->bytes);
}

static void evict_oldest(tl_ctx *ctx) {
  tl__cached *c = ctx->oldest;
  unlink_cached(ctx, find_bucket(ctx, c->bytes), c);
  free(c);
}

/* Gives a live block of 'bytes' (a capacity) to the cache, or back to
** malloc if the cache cannot take it. */
static void cache_put(tl_ctx *ctx, void *p, size_t bytes) {
  ctx->held -= bytes;
  tl__bucket *b = find_bucket(ctx, bytes);
  if (b == NULL && (b = add_bucket(ctx, bytes)) == NULL) {
    free(p);
    return;
  }
  tl__cached *c = p;
  c->bytes = bytes;
  c->prev = NULL;
  c->next = b->head;
  if (b->head != NULL) b->head->prev = c;
  b->head = c;
  c->newer = NULL;
  c->older = ctx->newest;
  if (ctx->newest != NULL) ctx->newest->newer = c;
  else ctx->oldest = c;
  ctx->newest = c;
  ctx->cached_bytes += bytes;
  POISON((char *)c + sizeof *c, bytes - sizeof *c);  /* ASan: use after free */
}

/* A block of 'bytes' (a capacity): the newest cached one of that size, or
** malloc's (after emptying the cache, should malloc fail), or NULL. */
static void *cache_get(tl_ctx *ctx, size_t bytes) {
  tl__bucket *b = find_bucket(ctx, bytes);
  void *p;
  if (b != NULL && b->head != NULL) {
    p = b->head;
    unlink_cached(ctx, b, b->head);
  } else {
    p = malloc(bytes);
    if (p == NULL && ctx->cached_bytes != 0) {
      tl_ctx_empty_cache(ctx);
      p = malloc(bytes);
    }
    if (p == NULL) return NULL;
  }
  ctx->held += bytes;
  if (ctx->held > ctx->held_peak) ctx->held_peak = ctx->held;
  while (ctx->cached_bytes != 0 && ctx->held + ctx->cached_bytes > ctx->held_peak)
    evict_oldest(ctx);
  return p;
}

size_t tl_ctx_cached_bytes(const tl_ctx *ctx) { return ctx->cached_bytes; }

void tl_ctx_empty_cache(tl_ctx *ctx) {
  while (ctx->oldest != NULL) evict_oldest(ctx);
  free(ctx->buckets);
  ctx->buckets = NULL;
  ctx->nbuckets = ctx->buckets_used = 0;
}

/* }====================================================================== */

void tl__free_value(tl_ctx *ctx, tl_node *n) {
  if (n->flags & TL_F_ARRAY) {
    tl__array *arr = n->val.arr;
    ctx->array_bytes -= value_bytes(arr);
    if (arr->grad != NULL) {
      ctx->array_bytes -= grad_bytes(arr);
      cache_put(ctx, arr->grad, capacity(grad_bytes(arr)));
    }
    cache_put(ctx, arr, capacity(value_bytes(arr)));
    n->flags &= (uint8_t)~TL_F_ARRAY;
  }
}

void tl__free_extras(tl_ctx *ctx, tl_node *n) {
  tl__free_value(ctx, n);
  if (n->flags & TL_F_LABEL) tl__label_free(n);   /* most have none: no call */
  if (n->flags & TL_F_MANY) {
    if (n->op == TL_OP_CUSTOM) tl__custom_free(n);
    tl__small_free(ctx, n->many);
  }
}

tl_node *tl__array_node(tl_ctx *ctx, size_t ndim, const size_t *shape) {
  return tl__array_node_t(ctx, TL_FLOAT64, ndim, shape);
}

tl_node *tl__array_node_t(tl_ctx *ctx, tl_dtype t, size_t ndim,
                          const size_t *shape) {
  if (ndim == 0 || ndim > TL_MAX_DIMS) {
    tl_ctx_fail(ctx, TL_EARG, "array: 1 to %d dimensions expected, got %zu",
                TL_MAX_DIMS, ndim);
    return NULL;
  }
  size_t size = 1;
  for (size_t d = 0; d < ndim; d++) {
    if (shape[d] == 0) {
      tl_ctx_fail(ctx, TL_EARG, "array: shape[%zu] is 0; dimensions must "
                  "be positive", d);
      return NULL;
    }
    if (size > TL_MAX_ARRAY_SIZE / shape[d]) {
      tl_ctx_fail(ctx, TL_EARG, "array: more than %zu values (TL_MAX_ARRAY_SIZE)",
                  (size_t)TL_MAX_ARRAY_SIZE);
      return NULL;
    }
    size *= shape[d];
  }
  tl__array head = {.size = size, .dtype = (uint32_t)t};
  size_t bytes = value_bytes(&head);
  tl__array *arr = cache_get(ctx, capacity(bytes));
  if (arr == NULL) {
    tl_ctx_fail(ctx, TL_ENOMEM, "out of memory for an array of %zu values", size);
    return NULL;
  }
  arr->size = size;
  arr->dtype = (uint32_t)t;
  arr->ndim = ndim;
  for (size_t d = 0; d < TL_MAX_DIMS; d++) arr->shape[d] = d < ndim ? shape[d] : 1;
  arr->grad = NULL;
  tl_node *n = tl__node_alloc(ctx);
  if (n == NULL) {
    cache_put(ctx, arr, capacity(bytes));
    return NULL;
  }
  n->flags |= TL_F_ARRAY;
  n->val.arr = arr;
  ctx->array_bytes += bytes;
  ctx->allocated += bytes;
  return n;
}

tl_node *tl_array(tl_ctx *ctx, size_t ndim, const size_t *shape,
                  const double *data) {
  return tl_array_of(ctx, TL_FLOAT64, ndim, shape, data);
}

tl_node *tl_array_of(tl_ctx *ctx, tl_dtype t, size_t ndim,
                     const size_t *shape, const double *data) {
  if (shape == NULL && ndim > 0) {
    tl_ctx_fail(ctx, TL_EARG, "array: shape expected, got NULL");
    return NULL;
  }
  if ((unsigned)t >= TL_DTYPE_COUNT) {
    tl_ctx_fail(ctx, TL_EARG, "array: unknown dtype %d", (int)t);
    return NULL;
  }
  tl_node *n = tl__array_node_t(ctx, t, ndim, shape);
  if (n == NULL) return NULL;
  tl__array *arr = n->val.arr;
  if (data != NULL) tl_write_values(n, data);
  else memset(arr->data, 0, grad_bytes(arr));
  return n;
}

static const char *const dtype_names[TL_DTYPE_COUNT] = {"float64", "float32"};

tl_dtype tl_dtype_of(const tl_node *n) { return tl__dtype(n); }

const char *tl_dtype_name(tl_dtype t) {
  return (unsigned)t < TL_DTYPE_COUNT ? dtype_names[t] : "unknown dtype";
}

int tl__need_f64(tl_ctx *ctx, const char *op, const tl_node *n) {
  if (tl__dtype(n) == TL_FLOAT64) return 1;
  tl_ctx_fail(ctx, TL_EARG, "%s: float32 arrays are not supported yet; "
              "convert with x:double() (tl_to_dtype)", op);
  return 0;
}

int tl__same_dtype(tl_ctx *ctx, const char *op, size_t n, tl_node *const *xs) {
  for (size_t i = 1; i < n; i++)
    if (tl__dtype(xs[i]) != tl__dtype(xs[0])) {
      tl_ctx_fail(ctx, TL_EARG, "%s: dtypes %s and %s do not mix; convert one "
                  "with x:float() or x:double()", op,
                  tl_dtype_name(tl__dtype(xs[0])), tl_dtype_name(tl__dtype(xs[i])));
      return 0;
    }
  return 1;
}

void tl_read_values(tl_node *n, double *out) {
  size_t size = tl__size(n);
  if (tl__dtype(n) == TL_FLOAT32) {
    const float *v = tl__f32(n);
    for (size_t i = 0; i < size; i++) out[i] = v[i];
  } else memcpy(out, tl__vals(n), size * sizeof(double));
}

void tl_write_values(tl_node *n, const double *in) {
  size_t size = tl__size(n);
  if (tl__dtype(n) == TL_FLOAT32) {
    float *v = tl__f32(n);
    for (size_t i = 0; i < size; i++) v[i] = (float)in[i];
  } else memcpy(tl__vals(n), in, size * sizeof(double));
}

double tl_value_at(const tl_node *n, size_t i) {
  return tl__at((tl_node *)n, i);       /* reads only */
}

void tl_set_value_at(tl_node *n, size_t i, double v) {
  if (tl__dtype(n) == TL_FLOAT32) tl__f32(n)[i] = (float)v;
  else tl__vals(n)[i] = v;
}

int tl_has_grads(const tl_node *n) { return (n->flags & TL_F_HAS_GRAD) != 0; }

double tl_grad_at(const tl_node *n, size_t i) {
  if (!(n->flags & TL_F_HAS_GRAD)) return 0;
  if (!tl__is_array(n)) return n->grad;
  if (n->val.arr->dtype == TL_FLOAT32)
    return ((const float *)(const void *)n->val.arr->grad)[i];
  return n->val.arr->grad[i];
}

void tl_read_grads(const tl_node *n, double *out) {
  size_t size = tl__size(n);
  if (!(n->flags & TL_F_HAS_GRAD)) memset(out, 0, size * sizeof(double));
  else if (!tl__is_array(n)) out[0] = n->grad;
  else if (n->val.arr->dtype == TL_FLOAT32) {
    const float *g = (const float *)(const void *)n->val.arr->grad;
    for (size_t i = 0; i < size; i++) out[i] = g[i];
  } else memcpy(out, n->val.arr->grad, size * sizeof(double));
}

int tl__alloc_grad(tl_ctx *ctx, tl_node *n) {
  if (!tl__is_array(n) || n->val.arr->grad != NULL) return 1;
  n->val.arr->grad = cache_get(ctx, capacity(grad_bytes(n->val.arr)));
  if (n->val.arr->grad == NULL) {
    tl_ctx_fail(ctx, TL_ENOMEM, "out of memory for a gradient of %zu values",
                n->val.arr->size);
    return 0;
  }
  n->flags &= (uint8_t)~TL_F_HAS_GRAD;   /* the new buffer holds garbage */
  ctx->array_bytes += grad_bytes(n->val.arr);
  ctx->allocated += grad_bytes(n->val.arr);
  return 1;
}

void *tl__grads_any(tl_node *n) {
  if (!tl__is_array(n)) {
    if (!(n->flags & TL_F_HAS_GRAD)) { n->grad = 0; n->flags |= TL_F_HAS_GRAD; }
    return &n->grad;
  }
  tl__array *arr = n->val.arr;
  if (!(n->flags & TL_F_HAS_GRAD)) {
    memset(arr->grad, 0, grad_bytes(arr));
    n->flags |= TL_F_HAS_GRAD;
  }
  return arr->grad;
}

void *tl__grads_once_any(tl_node *n, int *assign) {
  *assign = !(n->flags & TL_F_HAS_GRAD);
  return tl__grads_any(n);
}

void *tl__grads_to_fill_any(tl_node *n, int *assign) {
  *assign = !(n->flags & TL_F_HAS_GRAD);
  if (*assign && tl__is_array(n)) {
    n->flags |= TL_F_HAS_GRAD;
    return n->val.arr->grad;
  }
  return tl__grads_any(n);
}

double *tl__grads(tl_node *n) { return tl__grads_any(n); }

double *tl__grads_once(tl_node *n, int *assign) {
  return tl__grads_once_any(n, assign);
}

double *tl__grads_to_fill(tl_node *n, int *assign) {
  return tl__grads_to_fill_any(n, assign);
}

const char *tl__shape_str(const tl_node *n, char *buf, size_t size) {
  if (!tl__is_array(n)) {
    snprintf(buf, size, "scalar");
    return buf;
  }
  size_t used = 0;
  for (size_t d = 0; d < n->val.arr->ndim && used < size; d++)
    used += (size_t)snprintf(buf + used, size - used, "%s%zu",
                             d ? ", " : "(", n->val.arr->shape[d]);
  if (used < size) snprintf(buf + used, size - used, ")");
  return buf;
}

/* {======================================================================
** Public accessors
** ======================================================================= */

int tl_is_array(const tl_node *n) { return tl__is_array(n); }
size_t tl_ndim(const tl_node *n) { return tl__ndim(n); }
size_t tl_size(const tl_node *n) { return tl__size(n); }

size_t tl_dim(const tl_node *n, size_t i) {
  return i < tl__ndim(n) ? n->val.arr->shape[i] : 0;
}

double *tl_values(tl_node *n) {
  return tl__dtype(n) == TL_FLOAT64 ? tl__vals(n) : NULL;
}

float *tl_values_f32(tl_node *n) {
  return tl__dtype(n) == TL_FLOAT32 ? tl__f32(n) : NULL;
}

const double *tl_grads(const tl_node *n) {
  if (!(n->flags & TL_F_HAS_GRAD) || tl__dtype(n) != TL_FLOAT64) return NULL;
  return tl__is_array(n) ? n->val.arr->grad : &n->grad;
}

tl_status tl_set_grads(tl_ctx *ctx, tl_node *n, const double *g) {
  if (!tl__alloc_grad(ctx, n)) return TL_ENOMEM;
  size_t size = tl__size(n);
  if (tl__dtype(n) == TL_FLOAT32) {
    float *dst = tl__g32(n);
    for (size_t i = 0; i < size; i++) dst[i] = g != NULL ? (float)g[i] : 0.0f;
  } else {
    double *dst = tl__is_array(n) ? n->val.arr->grad : &n->grad;
    if (g != NULL) memcpy(dst, g, size * sizeof(double));
    else memset(dst, 0, size * sizeof(double));
  }
  n->flags |= TL_F_HAS_GRAD;
  return TL_OK;
}

const char *tl_format_number(char *buf, size_t size, double v, char style,
                             int digits) {
  if (size == 0) return buf;
  if (isnan(v)) snprintf(buf, size, "nan");
  else if (isinf(v)) snprintf(buf, size, v > 0 ? "inf" : "-inf");
  else if (style == 'f') snprintf(buf, size, "%.*f", digits, v);
  else snprintf(buf, size, "%.*g", digits, v);
  return buf;
}

const char *tl_summary(const tl_node *n, char *buf, size_t size) {
  char x[4][32];
  if (!tl__is_array(n)) {
    snprintf(buf, size, "data=%s, grad=%s",
             tl_format_number(x[0], sizeof x[0], n->val.v, 'g', 4),
             tl_format_number(x[1], sizeof x[1], tl_grad(n), 'g', 4));
    return buf;
  }
  const tl__array *arr = n->val.arr;
  tl_node *m = (tl_node *)n;            /* tl__at reads only */
  double lo = tl__at(m, 0), hi = lo, sum = 0;
  for (size_t i = 0; i < arr->size; i++) {
    double v = tl__at(m, i);
    if (v < lo || isnan(v)) lo = v;     /* a nan shows, as in x:max() */
    if (v > hi || isnan(v)) hi = v;
    sum += v;
  }
  char shape[64];
  int used = snprintf(buf, size, "shape=%s%s, min=%s, mean=%s, max=%s",
                      tl__shape_str(n, shape, sizeof shape),
                      arr->dtype == TL_FLOAT32 ? ", dtype=float32" : "",
                      tl_format_number(x[0], sizeof x[0], lo, 'g', 4),
                      tl_format_number(x[1], sizeof x[1], sum / (double)arr->size, 'g', 4),
                      tl_format_number(x[2], sizeof x[2], hi, 'g', 4));
  if ((n->flags & TL_F_HAS_GRAD) && used > 0 && (size_t)used < size) {
    double sq = 0;
    for (size_t i = 0; i < arr->size; i++) {
      double g = arr->dtype == TL_FLOAT32 ? (double)tl__g32(m)[i] : arr->grad[i];
      sq += g * g;
    }
    snprintf(buf + used, size - (size_t)used, ", |grad|=%s",
             tl_format_number(x[3], sizeof x[3], sqrt(sq), 'g', 4));
  }
  return buf;
}

/* }====================================================================== */
