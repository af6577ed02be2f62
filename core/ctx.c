/*
** ctx.c -- the context: node pool, small blocks, error message, random
** generator.
*/
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "size.h"

/* Nodes live in slabs of 4 KiB, aligned to 4 KiB, so that a node's slab
** is its address rounded down: the slab keeps its nodes' labels, which a
** sweep never reads, out of the nodes (internal.h), and tl_label(n) finds
** them without a context.  Slabs are allocated in blocks that double from
** 1 up to 64 slabs (85 to 5,440 nodes), so a small context stays small; a
** block is never returned to malloc before the context dies, which keeps
** alloc/free a pointer swap. */
#define TL_SLAB_BYTES 4096u
#define TL_SLAB_NODES ((TL_SLAB_BYTES - 2 * sizeof(void *)) / sizeof(tl_node))
#define TL_MAX_BLOCK_SLABS 64u

typedef struct tl__slab tl__slab;
struct tl__slab {
  char **labels;              /* TL_SLAB_NODES labels, NULL until one is set */
  tl__slab *prev;             /* every slab of the context, newest first */
  tl_node nodes[TL_SLAB_NODES];
};
_Static_assert(sizeof(tl__slab) <= TL_SLAB_BYTES, "a slab fits its 4 KiB");

static tl__slab *slab_of(const tl_node *n) {
  return (tl__slab *)((uintptr_t)n & ~(uintptr_t)(TL_SLAB_BYTES - 1));
}

/* The slabs of block i (0 the first allocated). */
static size_t block_slabs(size_t i) {
  return i >= 6 ? TL_MAX_BLOCK_SLABS : (size_t)1 << i;
}

tl_ctx *tl_ctx_new(void) {
  tl_ctx *ctx = calloc(1, sizeof *ctx);
  if (ctx == NULL) return NULL;
  ctx->grad_enabled = 1;
  ctx->epoch = 1;
  /* walks start by pushing the root without a capacity check */
  ctx->stack = malloc(256 * sizeof *ctx->stack);
  if (ctx->stack == NULL) { free(ctx); return NULL; }
  ctx->stack_cap = 256;
  tl_rng_seed(ctx, 0);
  return ctx;
}


void tl_ctx_free(tl_ctx *ctx) {
  if (ctx == NULL) return;
  tl__graphs_release(ctx);
  /* the slabs of each block, newest block first; its lowest is its base */
  tl__slab *s = ctx->slabs;
  for (size_t b = ctx->nblocks; b-- > 0;) {
    tl__slab *base = s;
    for (size_t j = block_slabs(b); j > 0; j--) {
      tl__slab *prev = s->prev;
      for (size_t i = 0; i < TL_SLAB_NODES; i++)
        if (s->nodes[i].refs != 0) tl__free_extras(ctx, &s->nodes[i]);
      free(s->labels);
      if (s < base) base = s;
      s = prev;
    }
    free(base);
  }
  tl_ctx_empty_cache(ctx);
  free(ctx->buckets);
  tl__small_release(ctx);
  free(ctx->order);
  free(ctx->pack);
  free(ctx->stack);
  free(ctx);
}

const char *tl_ctx_error(const tl_ctx *ctx) { return ctx->error; }

tl_status tl_ctx_fail(tl_ctx *ctx, tl_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
  va_end(ap);
  return status;
}

size_t tl_ctx_live_nodes(const tl_ctx *ctx) { return ctx->live; }
size_t tl_ctx_pool_bytes(const tl_ctx *ctx) {
  size_t bytes = 0;
  for (size_t b = 0; b < ctx->nblocks; b++) bytes += block_slabs(b) * TL_SLAB_BYTES;
  return bytes;
}
size_t tl_ctx_array_bytes(const tl_ctx *ctx) { return ctx->array_bytes; }
size_t tl_ctx_allocated_bytes(const tl_ctx *ctx) { return ctx->allocated; }
size_t tl_ctx_live_bytes(const tl_ctx *ctx) {
  return ctx->live * sizeof(tl_node) + ctx->array_bytes;
}
size_t tl_node_size(void) { return sizeof(tl_node); }

int tl_set_grad_enabled(tl_ctx *ctx, int enabled) {
  int old = ctx->grad_enabled;
  ctx->grad_enabled = enabled != 0;
  return old;
}
int tl_is_grad_enabled(const tl_ctx *ctx) { return ctx->grad_enabled; }

int tl_set_check_numerics(tl_ctx *ctx, int enabled) {
  int old = ctx->check_numerics;
  ctx->check_numerics = enabled != 0;
  return old;
}

/* {======================================================================
** Pool
** ======================================================================= */

static int grow_pool(tl_ctx *ctx) {
  size_t count = block_slabs(ctx->nblocks);
  tl__slab *b = aligned_alloc(TL_SLAB_BYTES, count * TL_SLAB_BYTES);
  if (b == NULL) return 0;
  ctx->nblocks++;
  for (size_t j = 0; j < count; j++) {
    tl__slab *s = (tl__slab *)(void *)((char *)b + j * TL_SLAB_BYTES);
    s->labels = NULL;
    s->prev = ctx->slabs;
    ctx->slabs = s;
  }
  /* link back to front so nodes come out in address order */
  for (size_t j = count; j-- > 0;) {
    tl__slab *s = (tl__slab *)(void *)((char *)b + j * TL_SLAB_BYTES);
    for (size_t i = TL_SLAB_NODES; i-- > 0;) {
      s->nodes[i].refs = 0;
      s->nodes[i].mark = 0;
      s->nodes[i].flags = 0;
      s->nodes[i].val.next = ctx->free_list;
      ctx->free_list = &s->nodes[i];
    }
  }
  return 1;
}

tl_node *tl__node_alloc(tl_ctx *ctx) {
  if (ctx->free_list == NULL && !grow_pool(ctx)) {
    tl_ctx_fail(ctx, TL_ENOMEM, "out of memory allocating a node");
    return NULL;
  }
  tl_node *n = ctx->free_list;
  ctx->free_list = n->val.next;
  n->refs = 1;
  n->flags = ctx->capturing ? TL_F_IN_CAPTURE : 0;
  n->op = TL_OP_LEAF;
  n->in[0] = n->in[1] = NULL;               /* k = 0 too */
  n->nin = 0;
  ctx->live++;
  ctx->allocated += sizeof *n;
  return n;
}

/* Frees 'n', whose count just reached zero, and every input whose count
** reaches zero with it.  The worklist is threaded through the dead nodes'
** own val.next, so freeing never allocates and never recurses. */
static void free_chain(tl_ctx *ctx, tl_node *n) {
  tl__free_value(ctx, n);
  n->val.next = NULL;
  tl_node *work = n;
  while (work != NULL) {
    tl_node *dead = work;
    work = dead->val.next;
    size_t nin = tl__nin(dead);
    tl_node *const *in = tl__inputs(dead);
    for (size_t i = 0; i < nin; i++) {
      tl_node *x = in[i];
      if (--x->refs == 0) {
        tl__free_value(ctx, x);         /* val is about to become the link */
        x->val.next = work;
        work = x;
      }
    }
    tl__free_extras(ctx, dead);
    dead->flags = 0;
    dead->val.next = ctx->free_list;
    ctx->free_list = dead;
    ctx->live--;
  }
}

void tl_retain(tl_node *n) { n->refs++; }

/* A reference going from a taped node may leave it held by no one but
** its graph, which then need not keep it current (tape.c). */
void tl_release(tl_ctx *ctx, tl_node *n) {
  if (n == NULL) return;
  if (n->flags & TL_F_TAPED) ctx->tape_escapes++;
  if (--n->refs == 0) free_chain(ctx, n);
}

uint32_t tl__next_epoch(tl_ctx *ctx) {
  if (++ctx->epoch == 0) {  /* wrapped: clear every mark once */
    for (tl__slab *s = ctx->slabs; s != NULL; s = s->prev)
      for (size_t i = 0; i < TL_SLAB_NODES; i++) s->nodes[i].mark = 0;
    ctx->epoch = 1;
  }
  return ctx->epoch;
}

/* Labels: in the slab's table, at the node's position; TL_F_LABEL says
** that a node has one, so that nodes without (nearly all) cost no look-up
** when freed. */
const char *tl_label(const tl_node *n) {
  if (!(n->flags & TL_F_LABEL)) return NULL;
  tl__slab *s = slab_of(n);
  return s->labels[n - s->nodes];
}

void tl__label_free(tl_node *n) {
  if (!(n->flags & TL_F_LABEL)) return;
  tl__slab *s = slab_of(n);
  free(s->labels[n - s->nodes]);
  s->labels[n - s->nodes] = NULL;
  n->flags &= (uint8_t)~TL_F_LABEL;
}

tl_status tl_set_label(tl_ctx *ctx, tl_node *n, const char *label) {
  char *copy = NULL;
  tl__slab *s = slab_of(n);
  if (label != NULL) {
    size_t len = strlen(label) + 1;
    if (s->labels == NULL) s->labels = calloc(TL_SLAB_NODES, sizeof *s->labels);
    copy = s->labels != NULL ? malloc(len) : NULL;
    if (copy == NULL)
      return tl_ctx_fail(ctx, TL_ENOMEM, "out of memory copying a label");
    memcpy(copy, label, len);
  }
  tl__label_free(n);
  if (copy != NULL) {
    s->labels[n - s->nodes] = copy;
    n->flags |= TL_F_LABEL;
  }
  return TL_OK;
}

/* }====================================================================== */

/* {======================================================================
** Small blocks: n-ary input lists
**
** A scalar step of the moons demo records ~3,300 neuron rows, each with a
** list of 4 or 18 inputs; a malloc and a free for each list were ~15% of
** the step.  Each block starts with one header word, its class, so that
** tl__small_free needs no size (the node that frees cross-entropy's block
** does not know how much op data follows the inputs).  Classes, header
** included: 16-byte steps up to 512 bytes (lists of up to 62 inputs lose
** under 16 bytes), then 1, 2, 4 and 8 KiB (cross-entropy over a batch of
** 64 takes 1,040 bytes); anything larger is malloc'd, with the header
** saying so.  A freed block goes on its class's list and stays with the
** context, as nodes do: the memory is bounded by the most blocks in use at
** once.  Chunks double from 4 to 64 KiB, so a context that records no
** n-ary op allocates none; the tail of a chunk too short for a request is
** left unused (less than the request, at most 8 KiB).
** ======================================================================= */

#define TL_SMALL_BIG ((size_t)-1)     /* the header of a malloc'd block */
#define TL_FIRST_CHUNK ((size_t)4 << 10)
#define TL_MAX_CHUNK ((size_t)64 << 10)

struct tl__chunk { tl__chunk *prev; };   /* then its blocks */

/* The class of a block of 'total' bytes, header included (16..8192). */
static size_t small_class(size_t total) {
  if (total <= TL__SMALL_STEPPED) return (total + 15) / 16 - 1;
  size_t c = TL__SMALL_STEPPED / 16, bytes = 2 * TL__SMALL_STEPPED;
  while (bytes < total) { bytes *= 2; c++; }
  return c;
}

static size_t class_bytes(size_t c) {
  if (c < TL__SMALL_STEPPED / 16) return (c + 1) * 16;
  return (size_t)2 * TL__SMALL_STEPPED << (c - TL__SMALL_STEPPED / 16);
}

_Static_assert(TL__SMALL_MAX == 2 * TL__SMALL_STEPPED << 3 &&
               TL__SMALL_CLASSES == TL__SMALL_STEPPED / 16 + 4,
               "the classes end at TL__SMALL_MAX");

/* A new chunk with room for at least 'need' bytes of blocks. */
static int grow_chunks(tl_ctx *ctx, size_t need) {
  size_t bytes = ctx->nchunks >= 4 ? TL_MAX_CHUNK : TL_FIRST_CHUNK << ctx->nchunks;
  if (bytes < sizeof(tl__chunk) + need) bytes = sizeof(tl__chunk) + need;
  tl__chunk *c = malloc(bytes);
  if (c == NULL) return 0;
  c->prev = ctx->chunks;
  ctx->chunks = c;
  ctx->nchunks++;
  ctx->chunk_pos = (char *)(c + 1);
  ctx->chunk_end = (char *)c + bytes;
  return 1;
}

void *tl__small_alloc(tl_ctx *ctx, size_t bytes) {
  size_t total, *b;
  if (!tl__size_add(bytes, sizeof(size_t), &total)) return NULL;
  if (total > TL__SMALL_MAX) {
    b = malloc(total);
    if (b == NULL) return NULL;
    b[0] = TL_SMALL_BIG;
    return b + 1;
  }
  size_t c = small_class(total);
  void *p = ctx->small_free[c];
  if (p != NULL) {                     /* a free block's link is its body */
    ctx->small_free[c] = *(void **)p;
    return p;
  }
  size_t size = class_bytes(c);
  if ((ctx->chunk_pos == NULL || (size_t)(ctx->chunk_end - ctx->chunk_pos) < size) &&
      !grow_chunks(ctx, size))
    return NULL;
  b = (size_t *)(void *)ctx->chunk_pos;
  ctx->chunk_pos += size;
  b[0] = c;
  return b + 1;
}

void tl__small_free(tl_ctx *ctx, void *p) {
  if (p == NULL) return;
  size_t *b = (size_t *)p - 1;
  if (b[0] == TL_SMALL_BIG) {
    free(b);
    return;
  }
  *(void **)p = ctx->small_free[b[0]];
  ctx->small_free[b[0]] = p;
}

void tl__small_release(tl_ctx *ctx) {
  while (ctx->chunks != NULL) {
    tl__chunk *prev = ctx->chunks->prev;
    free(ctx->chunks);
    ctx->chunks = prev;
  }
  memset(ctx->small_free, 0, sizeof ctx->small_free);
  ctx->chunk_pos = ctx->chunk_end = NULL;
  ctx->nchunks = 0;
}

/* }====================================================================== */

/* {======================================================================
** Random numbers: xoshiro256** seeded through splitmix64, so a seed gives
** the same stream on every machine (no libc rand, no floating-point
** differences beyond IEEE arithmetic).
** ======================================================================= */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void tl_rng_seed(tl_ctx *ctx, uint64_t seed) {
  for (int i = 0; i < 4; i++) ctx->rng[i] = splitmix64(&seed);
  ctx->has_spare_normal = 0;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tl_rng_u64(tl_ctx *ctx) {
  uint64_t *s = ctx->rng;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double tl_rng_uniform(tl_ctx *ctx) {
  return (double)(tl_rng_u64(ctx) >> 11) * 0x1.0p-53;
}

double tl_rng_normal(tl_ctx *ctx) {
  if (ctx->has_spare_normal) {
    ctx->has_spare_normal = 0;
    return ctx->spare_normal;
  }
  double u1 = 1.0 - tl_rng_uniform(ctx);  /* (0, 1]: log stays finite */
  double u2 = tl_rng_uniform(ctx);
  double r = sqrt(-2.0 * log(u1));
  double theta = 6.283185307179586 * u2;
  ctx->spare_normal = r * sin(theta);
  ctx->has_spare_normal = 1;
  return r * cos(theta);
}

/* }====================================================================== */
