/*
** internal.h -- the layout of nodes and contexts, shared by core/ files only.
** Private symbols shared between core files use the tl__ prefix.
*/
#ifndef TORCHLET_INTERNAL_H
#define TORCHLET_INTERNAL_H

#include <stdio.h>

#include "torchlet.h"

/* Before a function: compile it twice, for AVX2 and for the baseline, and
** let the loader pick one (gcc's target_clones on x86-64).  AVX2 alone, not
** FMA: products and sums stay separately rounded, so results do not depend
** on the machine.  Not under gcc's ThreadSanitizer: it instruments the
** clones' ifunc resolver, which the loader runs before the TSan runtime is
** up (a crash before main). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_THREAD__)
#define TL_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TL_CLONES
#endif

/* Node flags. */
/* A function kept out of line where inlining would cost its caller
** registers (nn_ops.c's float32 kernels, ops.c's scalar backward run). */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#define TL_F_HAS_GRAD 0x01u  /* grad holds a value; otherwise it reads as 0 */
#define TL_F_MANY     0x02u  /* inputs are out of line (many) */
#define TL_F_ARRAY    0x04u  /* the value is an array (val.arr) */
#define TL_F_NO_GRAD  0x08u  /* needs no gradient (requires_grad false): a
                             ** leaf the user marked, or the result of ops
                             ** whose inputs all need none (recorded as a
                             ** leaf); backward rules skip it */
#define TL_F_IN_CAPTURE 0x10u  /* made while a capture was recorded
                               ** (compile.c): a leaf made so is a constant
                               ** of the graph, never a parameter */
#define TL_F_LABEL    0x20u  /* has a label, in its slab's table (ctx.c) */
#define TL_F_TAPED    0x40u  /* an op node of a compiled graph's tape whose
                             ** value and gradient may be pending in the
                             ** tape (tape.c): walks bring them up to date */

/* The value of an array node: row-major values of its dtype with its
** shape.  The gradient buffer, of the same dtype, is allocated by the
** first walk that needs it.  'data' and 'grad' are declared double (the
** default dtype, and the alignment both need); a float32 array's values
** are floats in the same bytes, read through tl__f32 and tl__g32. */
typedef struct tl__array {
  size_t size;                    /* product of shape */
  size_t ndim;
  size_t shape[TL_MAX_DIMS];
  double *grad;                   /* NULL until first needed */
  uint32_t dtype;                 /* tl_dtype */
  double data[];                  /* 'size' values */
} tl__array;

/*
** One node: 48 bytes on LP64.  A scalar keeps its value inline; an array
** node (TL_F_ARRAY) points at its buffer through the same union and keeps
** its gradient there too.
**
** A replay streams through every node once forward and once backward, so
** its speed is the node's size (issue 15: a million-node chain).  Hence
** what a sweep does not read lives elsewhere: the label, rarely set, in
** its slab's table (TL_F_LABEL, ctx.c); and the op constant k shares the
** second input's slot, as no op has both: binary ops (two inputs inline,
** nin 2) take no constant, and the ops that take one have one inline
** input or their inputs out of line (TL_F_MANY: 'many' in the first slot).
** So in[1] is an input only when tl__in_b says so, and k means something
** only where tl__k reads it (0 for a binary op).
*/
struct tl_node {
  union {
    double v;                 /* the value of a live scalar node */
    tl__array *arr;           /* the value of a live array node */
    tl_node *next;            /* free list / release worklist link */
  } val;
  double grad;                /* meaningful only with TL_F_HAS_GRAD */
  union {
    tl_node *in[2];           /* inline inputs: in[0], and in[1] when nin 2 */
    struct {
      tl_node **many;         /* TL_F_MANY: the 'nin' inputs out of line */
      double k;               /* op constant of _K ops, axis, index, ... */
    };
  };
  uint32_t nin;               /* inputs, inline or in 'many' (0: a leaf) */
  uint32_t refs;              /* references; 0 means the node is free */
  uint32_t mark;              /* epoch of the last walk that visited it */
  uint8_t op;                 /* tl_op */
  uint8_t flags;
};
_Static_assert(sizeof(void *) != 8 || sizeof(tl_node) == 48,
               "a node is 48 bytes on LP64: replays stream through nodes, "
               "every byte added slows them (see the comment above)");

/* A frame of the iterative depth-first search. */
typedef struct tl__frame { tl_node *node; uint32_t next, nin; } tl__frame;

typedef struct tl__chunk tl__chunk;
typedef struct tl__cached tl__cached;

/* The array block cache (array.c): one bucket per block size, the blocks
** of that size linked newest first; 'bytes' 0 marks an empty slot. */
typedef struct tl__bucket { size_t bytes; tl__cached *head; } tl__bucket;

/* Size classes of the small-block allocator (ctx.c): 16-byte steps up to
** TL__SMALL_STEPPED bytes, then powers of two up to TL__SMALL_MAX. */
#define TL__SMALL_STEPPED 512
#define TL__SMALL_MAX 8192
#define TL__SMALL_CLASSES (TL__SMALL_STEPPED / 16 + 4)

struct tl_ctx {
  tl_node *free_list;         /* free nodes, linked through val.next */
  struct tl__slab *slabs;     /* every slab of nodes, newest first (ctx.c) */
  size_t live;                /* nodes handed out and not yet freed */
  size_t array_bytes;         /* held now by array values and gradients */
  size_t allocated;           /* bytes handed out so far (nodes, arrays) */
  size_t nblocks;
  /* array block cache (array.c) */
  tl__bucket *buckets;        /* open addressing, 'nbuckets' a power of 2 */
  size_t nbuckets, buckets_used;
  tl__cached *oldest, *newest;  /* every cached block, by age */
  size_t cached_bytes;        /* capacity of the cached blocks */
  size_t held, held_peak;     /* capacity of live array blocks, its peak */
  /* small blocks: n-ary input lists (ctx.c) */
  void *small_free[TL__SMALL_CLASSES];
  tl__chunk *chunks;
  char *chunk_pos, *chunk_end;  /* the unused tail of the newest chunk */
  size_t nchunks;
  uint32_t epoch;             /* visit mark of the current walk */
  int grad_enabled;
  int check_numerics;
  uint64_t rng[4];
  int has_spare_normal;       /* Box-Muller makes normals in pairs */
  double spare_normal;
  /* scratch reused by every walk */
  tl_node **order; size_t order_cap;
  tl__frame *stack; size_t stack_cap;
  double *pack; size_t pack_cap;  /* matmul's packed panels (gemm.c) */
  char error[256];
  /* custom ops (custom.c): a backward rule's failure, which stops the
  ** sweep (only callbacks fail); and whether a custom op's backward
  ** callback is running, during which walks are refused (they would
  ** reuse 'order', which the running sweep reads) */
  tl_status sweep_failed;
  int in_callback;
  /* compiled steps (compile.c): while 'capturing', every op links its
  ** inputs, even in no-grad or over data alone (otherwise recorded as a
  ** leaf, a constant a replay would not recompute); the live graphs, so
  ** that tl_backward from a captured root reuses its stored order */
  int capturing;
  struct tl_graph *graphs;
  /* tapes (tape.c): counts the events after which a tape's nodes may be
  ** held by someone new (a walk reached them, a reference went); whether
  ** some tape has values or gradients its nodes do not have yet */
  size_t tape_escapes;
  int tapes_stale;
};

/* Pool: a fresh node with refs = 1, no flags, no label, or NULL. */
tl_node *tl__node_alloc(tl_ctx *ctx);
/* Starts a walk: returns the epoch to mark visited nodes with. */
uint32_t tl__next_epoch(tl_ctx *ctx);

static inline size_t tl__nin(const tl_node *n) { return n->nin; }

static inline tl_node *const *tl__inputs(const tl_node *n) {
  return (n->flags & TL_F_MANY) ? n->many : n->in;
}

/* The second inline input of a binary op, or NULL (a unary or _K op, whose
** in[1] holds k, an n-ary op, a leaf). */
static inline tl_node *tl__in_b(const tl_node *n) {
  return n->nin == 2 && !(n->flags & TL_F_MANY) ? n->in[1] : NULL;
}
/* The op constant: 0 for a binary op, whose second input holds its slot. */
static inline double tl__k(const tl_node *n) {
  return tl__in_b(n) != NULL ? 0 : n->k;
}

/* 0 when 'n' needs no gradient (TL_F_NO_GRAD): backward rules skip it. */
static inline int tl__wants_grad(const tl_node *n) {
  return !(n->flags & TL_F_NO_GRAD);
}

/* Adds 'g' into the gradient of scalar 'n', initialising it on first touch
** (nothing for a node that needs no gradient). */
static inline void tl__grad_add(tl_node *n, double g) {
  if (n->flags & TL_F_HAS_GRAD) n->grad += g;
  else if (tl__wants_grad(n)) { n->grad = g; n->flags |= TL_F_HAS_GRAD; }
}

static inline int tl__is_array(const tl_node *n) {
  return (n->flags & TL_F_ARRAY) != 0;
}
/* Values of any node: a scalar is an array of one element. */
static inline double *tl__vals(tl_node *n) {
  return tl__is_array(n) ? n->val.arr->data : &n->val.v;
}
static inline size_t tl__size(const tl_node *n) {
  return tl__is_array(n) ? n->val.arr->size : 1;
}
static inline size_t tl__ndim(const tl_node *n) {
  return tl__is_array(n) ? n->val.arr->ndim : 0;
}
static inline const size_t *tl__shape(const tl_node *n) {
  return tl__is_array(n) ? n->val.arr->shape : NULL;
}

/* The dtype of any node (scalars are float64) and the bytes of one value. */
static inline tl_dtype tl__dtype(const tl_node *n) {
  return tl__is_array(n) ? (tl_dtype)n->val.arr->dtype : TL_FLOAT64;
}
static inline size_t tl__esize(tl_dtype t) {
  return t == TL_FLOAT32 ? sizeof(float) : sizeof(double);
}
/* A float32 array's values and gradient buffer. */
static inline float *tl__f32(tl_node *n) { return (float *)(void *)n->val.arr->data; }
static inline float *tl__g32(tl_node *n) { return (float *)(void *)n->val.arr->grad; }
/* Value i of any node as a double (slow paths: messages, drawings). */
static inline double tl__at(tl_node *n, size_t i) {
  return tl__dtype(n) == TL_FLOAT32 ? (double)tl__f32(n)[i] : tl__vals(n)[i];
}
/* An array viewed as [outer, len, inner] around 'axis' (-1: all its values
** in one run): what reductions and ops along an axis loop over. */
typedef struct tl__span { size_t outer, len, inner; } tl__span;
static inline tl__span tl__span_of(const tl_node *a, int axis) {
  tl__span s = {1, tl__size(a), 1};
  if (axis < 0) return s;
  const size_t *shape = a->val.arr->shape;
  s.len = shape[axis];
  for (int d = 0; d < axis; d++) s.outer *= shape[d];
  for (size_t d = (size_t)axis + 1; d < a->val.arr->ndim; d++) s.inner *= shape[d];
  return s;
}

/* Position i of a buffer 'p' of n's dtype (its values or its gradient) read
** as a double, and written from one: stored when 'set', else added to.
** For the ops that are not hot paths, which serve both dtypes through
** these. */
static inline double tl__buf_get(const tl_node *n, const void *p, size_t i) {
  return tl__dtype(n) == TL_FLOAT32 ? (double)((const float *)p)[i]
                                    : ((const double *)p)[i];
}
static inline void tl__buf_put(const tl_node *n, void *p, size_t i, double v,
                               int set) {
  if (tl__dtype(n) == TL_FLOAT32) {
    float *f = p;
    f[i] = set ? (float)v : f[i] + (float)v;
  } else {
    double *d = p;
    d[i] = set ? v : d[i] + v;
  }
}
/* The ops written for float64 only call this first: TL_EARG naming the op
** and the dtype when 'n' is a float32 array (0), else 1. */
int tl__need_f64(tl_ctx *ctx, const char *op, const tl_node *n);

/* The gradient buffer of 'n' ready for +=: zeroed on first touch in this
** pass.  An array's buffer must exist already (walks allocate it). */
double *tl__grads(tl_node *n);
/* The gradient buffer of 'n' for a backward rule that gives each position
** at most one value.  When 'n' has no gradient yet in this pass, the buffer
** is zeroed and *assign is set: the rule stores its values (=) instead of
** adding them to 0, so that a gradient of -0 stays -0, as PyTorch takes a
** first gradient as it is (0 + -0 would be +0).  Otherwise *assign is 0
** and the rule adds (+=). */
double *tl__grads_once(tl_node *n, int *assign);
/* The same for a rule that writes every position when *assign is set
** (matmul's products): the buffer is then not zeroed first. */
double *tl__grads_to_fill(tl_node *n, int *assign);
/* Makes sure an array node has a gradient buffer; 0 when memory is short. */
int tl__alloc_grad(tl_ctx *ctx, tl_node *n);

/* A new array node of the given shape, data uninitialised, refs = 1, or
** NULL (with the context's error set) when the shape is bad or memory is
** short; tl__array_node_t makes one of dtype 't'. */
tl_node *tl__array_node(tl_ctx *ctx, size_t ndim, const size_t *shape);
tl_node *tl__array_node_t(tl_ctx *ctx, tl_dtype t, size_t ndim,
                          const size_t *shape);
/* The gradient buffer of any dtype, as tl__grads (float32: floats). */
void *tl__grads_any(tl_node *n);
void *tl__grads_once_any(tl_node *n, int *assign);
void *tl__grads_to_fill_any(tl_node *n, int *assign);
/* Frees n's label, if any (ctx.c). */
void tl__label_free(tl_node *n);
/* Frees what a node owns outside the pool (array, label, input list). */
void tl__free_extras(tl_ctx *ctx, tl_node *n);
/* Frees only an array node's buffers, leaving a scalar-looking node, so
** that its 'val' can be reused as a list link while it is being freed. */
void tl__free_value(tl_ctx *ctx, tl_node *n);

/* Blocks for n-ary input lists and the op data after them, carved from
** chunks the context keeps: recording and freeing such a node costs no
** malloc.  tl__small_alloc returns at least 'bytes' bytes (8-aligned),
** or NULL (the caller sets the error); tl__small_free takes back a block
** of tl__small_alloc (NULL is ignored).  Blocks of more than
** TL__SMALL_MAX bytes come from malloc (ctx.c). */
void *tl__small_alloc(tl_ctx *ctx, size_t bytes);
void tl__small_free(tl_ctx *ctx, void *p);
/* Frees every chunk (tl_ctx_free). */
void tl__small_release(tl_ctx *ctx);

/* What input 'slot' (0 or 1) of the scalar elementwise node 'n' receives
** from n's gradient in backward (ops.c; core/trace.c shows it). */
double tl__ew_input_grad(const tl_node *n, int slot);

/* Propagates gradients from order[count-1] down to order[0] (ops.c).
** Stops at the first rule that fails (a custom op's callback) and returns
** its status, the error set; gradients are then partly propagated. */
tl_status tl__backward_sweep(tl_ctx *ctx, tl_node *const *order, size_t count);

/* Custom ops (custom.c): the name of a CUSTOM node; what it owns (its
** callbacks' user data, given to their destructor), freed with the node. */
const char *tl__custom_name(const tl_node *n);
void tl__custom_free(tl_node *n);

/* Elementwise ops over arrays with NumPy broadcasting (elementwise.c):
** the value node of f(a, b) (b NULL: f(a, k)), not yet linked, or NULL
** with the context's error naming 'name' and both shapes; and the backward
** rule given what each input receives from the gradient g (ops.c). */
tl_node *tl__elementwise(tl_ctx *ctx, int op, double (*f)(double, double),
                         tl_node *a, tl_node *b, double k, const char *name);
void tl__elementwise_b(tl_node *n,
                       double (*da)(double, double, double, double),
                       double (*db)(double, double, double, double));
/* Typed loops for the common elementwise ops over contiguous arrays
** (ew_fast.c), giving the same bits as f, da, db: whether 'op' (with its
** constant k) has one for its value (slot -1) or for input 'slot' (0, 1);
** its value over
** x[0..n) and y[0..n) (y NULL: the single value k) into out; what input
** 'slot' receives into dst (= with 'set', else +=), given the inputs x,
** y (or k), the op's value 'out' and its gradient 'g'.  Arrays are
** float32 with 'f32' (k stays a double), else float64. */
int tl__ew_fast_has(int op, int slot, double k);
void tl__ew_fast_forward(int op, int f32, size_t n, void *out, const void *x,
                         const void *y, double k);
void tl__ew_fast_backward(int op, int slot, int f32, int set, size_t n,
                          void *dst, const void *x, const void *y, double k,
                          const void *out, const void *g);
/* Writes "(2, 3)" (or "scalar") into buf. */
const char *tl__shape_str(const tl_node *n, char *buf, size_t size);

/* c (n x m) += op(a) (n x k) op(b) (k x m), where op transposes a stored
** k x n (trans_a) or b stored m x k (trans_b); with 'assign', c's old
** values are not read (=, not +=).  Packs into the context's
** scratch (ctx->pack), kept between calls; never fails (gemm.c). */
void tl__gemm(tl_ctx *ctx, size_t n, size_t k, size_t m, const double *a,
              int trans_a, const double *b, int trans_b, double *c,
              int assign);
/* The same in float32: products fused in float (fmaf), in the same order. */
void tl__gemm_f32(tl_ctx *ctx, size_t n, size_t k, size_t m, const float *a,
                  int trans_a, const float *b, int trans_b, float *c,
                  int assign);
/* tl__gemm or tl__gemm_f32 by dtype 't', for code that serves both. */
void tl__gemm_t(tl_ctx *ctx, tl_dtype t, size_t n, size_t k, size_t m,
                const void *a, int trans_a, const void *b, int trans_b,
                void *c, int assign);
/* 1 when every node of xs[0..n) has the dtype of xs[0]; else 0, with
** TL_EARG naming 'op' and the two dtypes that differ. */
int tl__same_dtype(tl_ctx *ctx, const char *op, size_t n, tl_node *const *xs);

/* The forward and backward rules named by BW(fwd, bwd) rows of
** TL_OP_LIST (tl_ops.h). */
#define EW(f, da, db)
#define BW(fwd, bwd) void fwd(tl_ctx *ctx, tl_node *n); \
                     void bwd(tl_ctx *ctx, tl_node *n);
#define TL__OP_PROTO(id, name, symbol, arity, flags, method, rule, grad) rule
TL_OP_LIST(TL__OP_PROTO)
#undef TL__OP_PROTO
#undef BW
#undef EW

/* The forward functions of the ops of core/ops_extra.c: n's value from
** its inputs' current values, into n's allocated buffer; and min and
** logsumexp, the reductions tl_reduce hands over. */
void tl__reduce_min_fwd(tl_ctx *ctx, tl_node *n);
void tl__logsumexp_fwd(tl_ctx *ctx, tl_node *n);
void tl__softmax_fwd(tl_ctx *ctx, tl_node *n);
void tl__log_softmax_fwd(tl_ctx *ctx, tl_node *n);
void tl__cat_fwd(tl_ctx *ctx, tl_node *n);
void tl__narrow_fwd(tl_ctx *ctx, tl_node *n);
tl_node *tl__reduce_extra(tl_ctx *ctx, tl_op op, tl_node *a, int axis);

/* A constructor's inputs placed in 'n' for its BW op's forward rule, which
** reads them from the node as a replay does: in[0..nin) inline (nin <= 2,
** 'many' 0) or as the out-of-line list 'in' (many), and the op constant k.
** No references are taken: tl__unbind_inputs clears them again before
** tl__record links the inputs for good (or, in no-grad, does not). */
static inline void tl__bind_inputs(tl_node *n, double k, size_t nin,
                                   tl_node *const *in, int many) {
  n->nin = (uint32_t)nin;
  if (many) {
    n->flags |= TL_F_MANY;
    n->many = (tl_node **)(uintptr_t)in;
    n->k = k;
  } else {
    n->in[0] = nin > 0 ? in[0] : NULL;
    if (nin > 1) n->in[1] = in[1];        /* a binary op: no constant */
    else n->k = k;
  }
}
static inline void tl__unbind_inputs(tl_node *n) {
  n->flags &= (uint8_t)~TL_F_MANY;
  n->in[0] = n->in[1] = NULL;             /* k = 0 too */
  n->nin = 0;
}

/* Recomputes the value of the op node 'n' from its inputs' current values
** into its existing buffer (a leaf: nothing): the generic elementwise
** forward, or the op's BW forward rule (ops.c).  Only a custom op's
** callback can fail: ctx->sweep_failed is then set, as in backward. */
void tl__forward_node(tl_ctx *ctx, tl_node *n);
/* tl__forward_node over order[0..count) (op nodes only), each node's
** gradient marked unset (ops.c). */
void tl__forward_sweep(tl_ctx *ctx, tl_node *const *order, size_t count);
/* f(a, b) (b NULL: f(a, k)) over the inputs of the elementwise array node
** 'n' into its buffer, with broadcasting (elementwise.c). */
void tl__elementwise_into(tl_node *n, double (*f)(double, double));

/* Scalar unary elementwise nodes (relu, tanh, x + k, ...) for the fused
** neuron layers of a replay: whether 'n' is one; its value from its
** input's value x; what its gradient gives its input (ops.c, the sweeps'
** own rules). */
int tl__is_scalar_unary(const tl_node *n);
double tl__scalar_unary_value(const tl_node *n, double x);
double tl__scalar_unary_da(const tl_node *n);
/* A replay's neuron layer (nn_ops.c): nodes[0..count) are neuron rows over
** the same W, b and distinct scalar inputs (at most TL_LAYER_MAX_IN), W a
** float64 array; with stride 2 each row is followed by a scalar unary node
** over it (its activation).  Forward computes their values as
** tl__forward_sweep would; backward does tl__backward_sweep's work over
** them, in its order, with the inputs' values and gradients gathered once
** for the whole layer: the same operations, so the same bits. */
enum { TL_LAYER_MAX_IN = 512 };
void tl__neuron_layer_fwd(tl_node *const *nodes, size_t count, size_t stride);
void tl__neuron_layer_b(tl_node *const *nodes, size_t count, size_t stride);

/* The rules of a scalar elementwise op, the op table's own (ops.c): 1
** when 'op' is one (its value f and the gradient da it gives input a; db,
** for input b, is NULL for unary ops), else 0 and NULLs. */
int tl__scalar_rules(tl_op op, double (**f)(double, double),
                     double (**da)(double, double, double, double),
                     double (**db)(double, double, double, double));

/* The dense tape of a compiled graph whose ops are all scalar elementwise
** ops (tape.c).  tl__tape_new writes it over the graph's order and its op
** nodes ('ops', which the tape reads until freed), or returns NULL: when
** the graph has another kind of op, a node of another tape, or (*nomem
** set) when memory is short.  Forward and backward replay the graph over
** it as tl__forward_sweep and tl__backward_sweep would, writing only the
** output and the op nodes held outside the graph; tl__tape_sync writes
** what is pending into every op node. */
typedef struct tl__tape tl__tape;
tl__tape *tl__tape_new(tl_node *const *order, size_t count,
                       tl_node *const *ops, size_t nops, int grad, int *nomem);
tl_status tl__tape_forward(tl_ctx *ctx, tl__tape *t);
tl_status tl__tape_backward(tl_ctx *ctx, tl__tape *t);
void tl__tape_sync(tl__tape *t);
void tl__tape_free(tl__tape *t);
/* A walk reached a taped node (graph.c), or a reference on one went
** (ctx.c): every tape's pending values and gradients go into their nodes,
** and the next forward of each tape counts its holders again (compile.c). */
void tl__tape_escape(tl_ctx *ctx);
/* Before reading the values of op node 'n' and its inputs directly, not
** by a walk (tl_replay, tl_local_grads): escapes when one is taped. */
void tl__tape_reach(tl_ctx *ctx, const tl_node *n);

/* The live captured graph whose output is 'root' and needs a gradient,
** or NULL (compile.c): tl_backward replays its stored order.  And the
** graphs a context still holds at tl_ctx_free, freed with it. */
struct tl_graph *tl__graph_of(tl_ctx *ctx, const tl_node *root);
void tl__graphs_release(tl_ctx *ctx);

/* The last step of every op's constructor, once the node 'n' holds the
** value of 'op' over the inputs in[0..nin) (and op constant 'k'): with
** numerics checking on, refuses a nan or inf that the op made or took from
** data (a leaf), not one inherited from another op's result; unless in
** no-grad, links the inputs, taking a reference on each (an n-ary op gets
** its own copy of 'in').  Returns
** 'n', or NULL after releasing it (TL_ENUMERIC, TL_ENOMEM) (ops.c). */
tl_node *tl__record(tl_ctx *ctx, tl_node *n, tl_op op, double k, size_t nin,
                    tl_node *const *in);
/* tl__record for an n-ary op whose input list is 'block' from
** tl__small_alloc (in[0..nin), perhaps followed by the op's own data,
** freed with the node), which it takes in every case. */
tl_node *tl__record_block(tl_ctx *ctx, tl_node *n, tl_op op, double k,
                          size_t nin, tl_node **block);
/* How a BW op's constructor ends, once its arguments are checked and 'n'
** allocated with the result's shape: n's value computed by the op's
** forward rule from in[0..nin) and k, then tl__record (or, for a block
** from tl__small_alloc, tl__record_block) (ops.c). */
tl_node *tl__compute(tl_ctx *ctx, tl_node *n, tl_op op, double k, size_t nin,
                     tl_node *const *in);
tl_node *tl__compute_block(tl_ctx *ctx, tl_node *n, tl_op op, double k,
                           size_t nin, tl_node **block);
/* tl_neuron_row for callers that have checked its arguments (the model's
** forward pass: its own weights, inputs checked once per call, not once
** per neuron) (nn_ops.c). */
tl_node *tl__neuron_row_checked(tl_ctx *ctx, tl_node *w, tl_node *b,
                                size_t row, tl_node *const *x);

/* {======================================================================
** Files written whole or not at all (atomic_file.c): under a fresh
** temporary name beside the target (O_EXCL, 0600), flushed to disk and
** renamed over it; symbolic links at the target are followed and the file
** they point to is replaced.  Every error names the caller's 'path'.
** ======================================================================= */

typedef struct tl__out {
  FILE *f;               /* the temporary file (fwrite to it) */
  const char *path;      /* the caller's path, named in errors (borrowed) */
  char *target;          /* the file replaced: 'path', links followed */
  char *tmp;             /* the temporary file's name */
  unsigned mode;         /* the permission bits the file gets */
  int failed;            /* a write failed (stream callbacks set it) */
} tl__out;

/* Creates the temporary file; TL_EIO (TL_ENOMEM) naming 'path' if it
** cannot.  On failure nothing is left to abort. */
tl_status tl__out_open(tl_ctx *ctx, tl__out *out, const char *path);
/* fwrite with an error naming the path; the failure sticks. */
tl_status tl__out_write(tl_ctx *ctx, tl__out *out, const void *p, size_t n);
/* Flushes, fsyncs, renames into place; on any failure removes the
** temporary file and returns TL_EIO naming 'path'.  'out' is closed
** either way. */
tl_status tl__out_commit(tl_ctx *ctx, tl__out *out);
/* Closes and removes the temporary file (safe on a closed 'out'). */
void tl__out_abort(tl__out *out);

/* }====================================================================== */

/* {======================================================================
** Binary files (serialize.c): model files, optimizer state (optim.c) and
** checkpoints (checkpoint.c) share one envelope: an 8-byte magic, a u32
** version, then at offset 16 a u64 total length, and a 64-bit FNV-1a
** checksum of every byte before it in the last 8.  Integers are unsigned
** little-endian, doubles their binary64 bit pattern.
** ======================================================================= */

struct tl_mlp;

uint64_t tl__fnv1a(const unsigned char *p, size_t n);
void tl__put_u32(unsigned char *p, uint32_t v);
void tl__put_u64(unsigned char *p, uint64_t v);
uint32_t tl__get_u32(const unsigned char *p);
uint64_t tl__get_u64(const unsigned char *p);
void tl__put_f64(unsigned char *p, double d);
double tl__get_f64(const unsigned char *p);

/* One kind of file: its magic (8 bytes), the versions this build reads,
** its name in messages ("model", "checkpoint", ...), the word naming its
** version ("format version") and the largest length worth reading. */
typedef struct tl__format {
  const char *magic;
  uint32_t oldest, newest;
  const char *what;
  const char *version_word;
  size_t header_len;      /* bytes before the body, checksum not counted */
  size_t max_len;
} tl__format;

/* Checks magic, version, length and checksum of 'b'[0..n), in that order;
** messages start "'where': " when 'where' is not NULL and call the bytes
** "file" when 'path_like' (else "data"). */
tl_status tl__check_envelope(tl_ctx *ctx, const tl__format *fmt,
                             const char *where, int path_like,
                             const unsigned char *b, size_t n);
/* Fails with "'where': MESSAGE" (or MESSAGE alone when 'where' is NULL). */
tl_status tl__fail_at(tl_ctx *ctx, tl_status st, const char *where,
                      const char *fmt, ...);
/* Reads at most max_len + 1 bytes of 'path' into *out (malloc'd). */
tl_status tl__read_file(tl_ctx *ctx, const char *path, size_t max_len,
                        unsigned char **out, size_t *len);
/* Writes b[0..n) to 'path' whole or not at all (tl__out). */
tl_status tl__write_file(tl_ctx *ctx, const char *path,
                         const unsigned char *b, size_t n);
/* Writes the envelope of a buffer of 'len' bytes whose body is filled:
** magic, version, length, checksum. */
void tl__seal(const tl__format *fmt, unsigned char *b, size_t len);

/* The model in a buffer (model file, version 2; malloc'd) and back; the
** decoder's messages start "'where': ". */
tl_status tl__mlp_encode(tl_ctx *ctx, const struct tl_mlp *m,
                         unsigned char **out, size_t *len);
struct tl_mlp *tl__mlp_decode(tl_ctx *ctx, const char *where, int path_like,
                              const unsigned char *b, size_t n);

/* The optimizer state in b[0..n) (optim.c's format) as a new optimizer
** over params[0..np) in *out; 'kind' >= 0 requires that kind.  TL_EARG
** when it is for other parameters or another kind, TL_EFORMAT when it is
** damaged; messages start "'where': ". */
struct tl_optim;
tl_status tl__optim_decode(tl_ctx *ctx, const char *where, int path_like,
                           const unsigned char *b, size_t n, int kind,
                           size_t np, tl_node *const *params,
                           struct tl_optim **out);

/* }====================================================================== */

#endif
