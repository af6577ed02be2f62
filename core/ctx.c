/*
** ctx.c -- the context: node pool, error message, random generator.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Nodes are allocated in blocks that double from 64 up to 4096 nodes, so
** a small context stays small; a block is never returned to malloc before
** the context dies, which keeps alloc/free a pointer swap. */
#define TL_FIRST_BLOCK 64
#define TL_MAX_BLOCK 4096

struct tl__block {
  tl__block *prev;
  size_t count;
  tl_node nodes[];
};

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
  tl__block *b = ctx->blocks;
  while (b != NULL) {
    tl__block *prev = b->prev;
    for (size_t i = 0; i < b->count; i++)
      if (b->nodes[i].refs != 0) tl__free_extras(ctx, &b->nodes[i]);
    free(b);
    b = prev;
  }
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
  for (const tl__block *b = ctx->blocks; b != NULL; b = b->prev)
    bytes += sizeof *b + b->count * sizeof(tl_node);
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
  size_t count = ctx->nblocks >= 6 ? TL_MAX_BLOCK : (size_t)TL_FIRST_BLOCK << ctx->nblocks;
  tl__block *b = malloc(sizeof *b + count * sizeof(tl_node));
  if (b == NULL) return 0;
  b->prev = ctx->blocks;
  b->count = count;
  ctx->blocks = b;
  ctx->nblocks++;
  /* link back to front so nodes come out in address order */
  for (size_t i = count; i-- > 0;) {
    b->nodes[i].refs = 0;
    b->nodes[i].mark = 0;
    b->nodes[i].val.next = ctx->free_list;
    ctx->free_list = &b->nodes[i];
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
  n->flags = 0;
  n->op = TL_OP_LEAF;
  n->label = NULL;
  n->src.in[0] = n->src.in[1] = NULL;
  n->k = 0;
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

void tl_release(tl_ctx *ctx, tl_node *n) {
  if (n != NULL && --n->refs == 0) free_chain(ctx, n);
}

uint32_t tl__next_epoch(tl_ctx *ctx) {
  if (++ctx->epoch == 0) {  /* wrapped: clear every mark once */
    for (tl__block *b = ctx->blocks; b != NULL; b = b->prev)
      for (size_t i = 0; i < b->count; i++) b->nodes[i].mark = 0;
    ctx->epoch = 1;
  }
  return ctx->epoch;
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
