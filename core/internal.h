/*
** internal.h -- the layout of nodes and contexts, shared by core/ files only.
** Private symbols shared between core files use the tl__ prefix.
*/
#ifndef TORCHLET_INTERNAL_H
#define TORCHLET_INTERNAL_H

#include "torchlet.h"

/* Node flags. */
#define TL_F_HAS_GRAD 0x01u  /* grad holds a value; otherwise it reads as 0 */
#define TL_F_MANY     0x02u  /* inputs are out of line (src.many) */

/*
** One scalar node: 64 bytes on LP64.  A later array Element adds a flag and
** a pointer to a buffer with its shape in the 'val' union, not a new layout.
*/
struct tl_node {
  union {
    double v;                 /* the value of a live node */
    tl_node *next;            /* free list / release worklist link */
  } val;
  double grad;                /* meaningful only with TL_F_HAS_GRAD */
  union {
    tl_node *in[2];           /* up to two inputs inline */
    struct { tl_node **v; size_t n; } many;  /* n-ary inputs (TL_F_MANY) */
  } src;
  double k;                   /* op constant of _K ops */
  char *label;                /* owned copy or NULL */
  uint32_t refs;              /* references; 0 means the node is free */
  uint32_t mark;              /* epoch of the last walk that visited it */
  uint8_t op;                 /* tl_op */
  uint8_t flags;
};

/* A frame of the iterative depth-first search. */
typedef struct tl__frame { tl_node *node; uint32_t next, nin; } tl__frame;

typedef struct tl__block tl__block;

struct tl_ctx {
  tl_node *free_list;         /* free nodes, linked through val.next */
  tl__block *blocks;          /* every block of nodes ever allocated */
  size_t live;                /* nodes handed out and not yet freed */
  size_t nblocks;
  uint32_t epoch;             /* visit mark of the current walk */
  int grad_enabled;
  int check_numerics;
  uint64_t rng[4];
  int has_spare_normal;       /* Box-Muller makes normals in pairs */
  double spare_normal;
  /* scratch reused by every walk */
  tl_node **order; size_t order_cap;
  tl__frame *stack; size_t stack_cap;
  char error[256];
};

/* Pool: a fresh node with refs = 1, no flags, no label, or NULL. */
tl_node *tl__node_alloc(tl_ctx *ctx);
/* Starts a walk: returns the epoch to mark visited nodes with. */
uint32_t tl__next_epoch(tl_ctx *ctx);

static inline size_t tl__nin(const tl_node *n) {
  if (n->flags & TL_F_MANY) return n->src.many.n;
  return (size_t)(n->src.in[0] != NULL) + (size_t)(n->src.in[1] != NULL);
}

static inline tl_node *const *tl__inputs(const tl_node *n) {
  return (n->flags & TL_F_MANY) ? n->src.many.v : n->src.in;
}

/* Adds 'g' into the gradient of 'n', initialising it on first touch. */
static inline void tl__grad_add(tl_node *n, double g) {
  if (n->flags & TL_F_HAS_GRAD) n->grad += g;
  else { n->grad = g; n->flags |= TL_F_HAS_GRAD; }
}

/* Propagates the gradient of 'n' into its inputs (ops.c). */
void tl__op_backward(tl_node *n);

#endif
