/*
** torchlet.h -- reverse-mode automatic differentiation over scalar Elements.
**
** Overview
** --------
** A tl_ctx owns everything: the node pool, the random generator, the
** no-grad flag, the last error message and the scratch space used by graph
** walks.  There is no global mutable state, so two contexts may be used from
** two threads at once (one context must not be shared between threads).
** Nodes belong to the context that made them: never pass a node to a
** function with another context, nor mix nodes of two contexts in one op.
**
** A tl_node is one value in a computational graph: its data, its gradient
** and the op (with inputs) that produced it.  Nodes are reference counted:
** every constructor returns a node holding ONE reference that belongs to the
** caller, and every node holds one reference on each of its inputs, so a
** graph stays alive exactly as long as something reaches it.  Drop your
** reference with tl_release(); the node and anything only it reached go back
** to the pool (iteratively: a million-node chain is freed without recursion).
**
** Worked example, f(a, b) = a*b + a at a = 2, b = 3:
**
**     tl_ctx *ctx = tl_ctx_new();
**     tl_node *a = tl_leaf(ctx, 2.0), *b = tl_leaf(ctx, 3.0);
**     tl_node *c = tl_mul(ctx, a, b);
**     tl_node *d = tl_add(ctx, c, a);
**     tl_backward(ctx, d);             // tl_grad(a) == 4, tl_grad(b) == 2
**     tl_release(ctx, c);              // d still holds c
**     tl_release(ctx, d);              // frees d and c
**     tl_release(ctx, a); tl_release(ctx, b);
**     tl_ctx_free(ctx);
**
** Errors
** ------
** Constructors return NULL on failure (out of memory, or a bad argument such
** as a NULL input) and leave a message in tl_ctx_error(ctx).  Functions that
** return tl_status do the same with a non-zero status.  Nothing in the
** library aborts or exits the process.  Passing NULL where a context or a
** node is expected is the caller's bug, not a reported error, except where
** a function says otherwise: tl_release and tl_ctx_free ignore NULL, and
** ops and graph walks report a NULL node as TL_EARG.
**
** Math follows IEEE 754: log(0) = -inf, 0/0 = nan, and so on; none of these
** is an error.
*/
#ifndef TORCHLET_H
#define TORCHLET_H

#include <stddef.h>
#include <stdint.h>

#include "tl_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TL_VERSION "0.1.0"

/* Arrays have at most this many dimensions and values (2^31 values are
** 16 GiB: a larger request is a mistake to report, not to attempt). */
#define TL_MAX_DIMS 4
#define TL_MAX_ARRAY_SIZE ((size_t)1 << 31)

typedef struct tl_ctx tl_ctx;
typedef struct tl_node tl_node;

/* The type of an array's values.  Scalar nodes are always float64 (Lua's
** numbers); an array is either. */
typedef enum tl_dtype { TL_FLOAT64 = 0, TL_FLOAT32 = 1, TL_DTYPE_COUNT } tl_dtype;

typedef enum tl_status {
  TL_OK = 0,
  TL_ENOMEM,   /* an allocation failed */
  TL_EARG,     /* a bad argument (NULL node, wrong size ...) */
  TL_EIO,      /* a file could not be read or written */
  TL_EFORMAT,  /* a file is not in the expected format */
  TL_ENUMERIC, /* check_numerics found a nan or inf */
  TL_STATUS_COUNT
} tl_status;

/* Op codes, one per row of TL_OP_LIST (tl_ops.h): TL_OP_LEAF, TL_OP_ADD
** ... TL_OP_COUNT.  Ops whose name ends in _K take a number operand (the op
** constant, tl_const()) instead of a second node: `a + 2` is ADD_K with k=2,
** `2 - a` is RSUB_K with k=2.  Numbers never become nodes of their own. */
#define TL__OP_ENUM(id, name, symbol, arity, flags, method, rule, grad) TL_OP_##id,
typedef enum tl_op { TL_OP_LIST(TL__OP_ENUM) TL_OP_COUNT } tl_op;
#undef TL__OP_ENUM

/* ---- context ----------------------------------------------------------- */

/* A new context, or NULL when memory is short. */
tl_ctx *tl_ctx_new(void);
/* Frees the context and every node still in its pool.  Nodes (and anything
** else made from this context) must not be used afterwards. */
void tl_ctx_free(tl_ctx *ctx);
/* The message of the last failure in this context ("" if none).  The string
** belongs to the context and changes with the next failure. */
const char *tl_ctx_error(const tl_ctx *ctx);
/* Records a formatted error message in the context and returns 'status'.
** For code built on top of the core (nn, rendering, bindings). */
tl_status tl_ctx_fail(tl_ctx *ctx, tl_status status, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 3, 4)))
#endif
  ;
/* Live nodes and bytes held by the node pool (for benchmarks and tests). */
size_t tl_ctx_live_nodes(const tl_ctx *ctx);
size_t tl_ctx_pool_bytes(const tl_ctx *ctx);
/* Bytes held now by array values and their gradient buffers. */
size_t tl_ctx_array_bytes(const tl_ctx *ctx);
/* Bytes handed out since the context was made (nodes and arrays; never
** decreases), and bytes held now by live nodes and their arrays: what a
** host with a garbage collector watches, so that dead handles do not hold
** core memory its collector cannot see (the Lua binding does: tlb_pace). */
size_t tl_ctx_allocated_bytes(const tl_ctx *ctx);
size_t tl_ctx_live_bytes(const tl_ctx *ctx);
/* Freed array values and gradient buffers are kept for reuse by arrays of
** the same size (no page faults on a fresh block every training step);
** the cache never makes live plus cached blocks exceed the most ever live
** at once.  Bytes in the cache now (not counted as live or array bytes),
** and giving them all back to malloc (tl_ctx_free does too). */
size_t tl_ctx_cached_bytes(const tl_ctx *ctx);
void tl_ctx_empty_cache(tl_ctx *ctx);
/* sizeof(struct tl_node): the core memory of one scalar node. */
size_t tl_node_size(void);

/* No-grad mode: while disabled, ops compute their value and return a leaf,
** recording no graph.  Returns the previous setting. */
int tl_set_grad_enabled(tl_ctx *ctx, int enabled);
int tl_is_grad_enabled(const tl_ctx *ctx);

/* Numerics check: when enabled, an op whose result is nan or inf while
** none of its inputs is fails (returns NULL, status TL_ENUMERIC) with a
** message naming the op.  Off by default.  Returns the previous setting. */
int tl_set_check_numerics(tl_ctx *ctx, int enabled);

/* ---- random numbers (xoshiro256**, seeded by splitmix64) -------------- */
/* Each context has its own generator, seeded with 0 by tl_ctx_new; a seed
** gives the same stream on every machine. */

void tl_rng_seed(tl_ctx *ctx, uint64_t seed);
uint64_t tl_rng_u64(tl_ctx *ctx);
double tl_rng_uniform(tl_ctx *ctx);            /* [0, 1) */
double tl_rng_normal(tl_ctx *ctx);             /* mean 0, sd 1 */

/* ---- nodes -------------------------------------------------------------- */

/* A new leaf holding 'value'; the caller owns one reference. */
tl_node *tl_leaf(tl_ctx *ctx, double value);
/* Takes one more reference on 'n'. */
void tl_retain(tl_node *n);
/* Drops one reference; frees 'n' (and what only it reached) at zero.
** NULL is ignored. */
void tl_release(tl_ctx *ctx, tl_node *n);

/* Data and gradient of a scalar node (for an array node, tl_data and
** tl_grad return nan and the setters do nothing: use tl_values/tl_grads). */
double tl_data(const tl_node *n);
void tl_set_data(tl_node *n, double v);
/* Whether backward computes a gradient for 'n' (PyTorch's requires_grad).
** Leaves need one unless told otherwise; an op's result needs one when
** any of its inputs does, and otherwise is recorded as a leaf with no
** graph.  Only a leaf's setting can change (TL_EARG otherwise): data
** marked this way costs no gradient work, such as the gradient of a
** first layer's input, and can be the root of no backward pass. */
int tl_requires_grad(const tl_node *n);
tl_status tl_set_requires_grad(tl_ctx *ctx, tl_node *n, int flag);

/* The gradient, 0 until a backward pass (or tl_set_grad) touches it. */
double tl_grad(const tl_node *n);
void tl_set_grad(tl_node *n, double g);
/* The label, or NULL.  tl_set_label copies 'label' (NULL clears it); when
** memory is short it keeps the old label and returns TL_ENOMEM. */
const char *tl_label(const tl_node *n);
tl_status tl_set_label(tl_ctx *ctx, tl_node *n, const char *label);

tl_op tl_op_of(const tl_node *n);
/* The op constant of a _K op (the number operand), 0 otherwise. */
double tl_const(const tl_node *n);
/* Number of inputs and the i-th one (0-based; borrowed, not retained). */
size_t tl_ninputs(const tl_node *n);
tl_node *tl_input(const tl_node *n, size_t i);

/* The op's name for errors and Lua ("add", "mul", "tanh" ...; "" for a
** leaf) and a short label for drawing ("+", "*", "tanh", "+ 2" ...).
** tl_op_label writes into 'buf' (at most 'size' bytes, truncated and
** always terminated) and returns it. */
const char *tl_op_name(tl_op op);
const char *tl_op_label(const tl_node *n, char *buf, size_t size);
/* The op name of node 'n': tl_op_name of its op, or a custom op's own
** name (tl_custom.h), which tl_op_label draws too. */
const char *tl_node_op_name(const tl_node *n);
/* The op's row in TL_OP_LIST: its arity (0, 1, 2 or TL_NARY) and its
** TL_OPF_* flags, with TL_OPF_EW for an elementwise op (the family of
** tl_binary, tl_with_const, tl_unary); 0 and 0 for a code that is no op. */
int tl_op_arity(tl_op op);
unsigned tl_op_flags(tl_op op);
/* The op's backward rule as text, the 'grad' column of TL_OP_LIST: what
** each input receives, parts separated by "; ", with $-placeholders
** (tl_ops.h); "" for a leaf or a code that is no op. */
const char *tl_op_grad_text(tl_op op);

/* Writes 'v' into buf (at most 'size' bytes, always terminated) as
** printf's "%.*g" (style 'g') or "%.*f" (style 'f') with 'digits', except
** that nan, inf and -inf are written "nan", "inf" and "-inf" on every
** platform (printf may write "-nan" or "-nan(ind)").  Every number that
** Torchlet prints goes through it.  Returns buf. */
const char *tl_format_number(char *buf, size_t size, double v, char style,
                             int digits);

/* ---- ops ---------------------------------------------------------------- */
/* Each returns a new node (one reference for the caller) or NULL. */

tl_node *tl_binary(tl_ctx *ctx, tl_op op, tl_node *a, tl_node *b);  /* ADD..POW */
tl_node *tl_with_const(tl_ctx *ctx, tl_op op, tl_node *a, double k);/* _K ops */
tl_node *tl_unary(tl_ctx *ctx, tl_op op, tl_node *a);               /* NEG..COS */

tl_node *tl_add(tl_ctx *ctx, tl_node *a, tl_node *b);
tl_node *tl_sub(tl_ctx *ctx, tl_node *a, tl_node *b);
tl_node *tl_mul(tl_ctx *ctx, tl_node *a, tl_node *b);
tl_node *tl_div(tl_ctx *ctx, tl_node *a, tl_node *b);
tl_node *tl_pow(tl_ctx *ctx, tl_node *a, tl_node *b);

/* A new leaf with the same data as 'n' and no history. */
tl_node *tl_detach(tl_ctx *ctx, tl_node *n);

/* ---- arrays ------------------------------------------------------------- */
/* An array node holds 'size' float64 values in row-major order with a shape
** of 1 to TL_MAX_DIMS positive dimensions.  Elementwise ops (tl_binary,
** tl_with_const, tl_unary) accept arrays and scalars mixed, with NumPy's
** broadcasting; shape errors name the op and both shapes.  A scalar node
** counts as an array of no dimension where shapes are compared. */

/* A new float64 array of the given shape holding a copy of 'data' (zeros
** if NULL). */
tl_node *tl_array(tl_ctx *ctx, size_t ndim, const size_t *shape,
                  const double *data);
/* The same in dtype 't': float32 values are 'data' rounded to nearest. */
tl_node *tl_array_of(tl_ctx *ctx, tl_dtype t, size_t ndim,
                     const size_t *shape, const double *data);
/* An array's dtype (TL_FLOAT64 for a scalar) and its name ("float32"). */
tl_dtype tl_dtype_of(const tl_node *n);
const char *tl_dtype_name(tl_dtype t);
/* The values of 'a' in dtype 't', as an op: gradients flow back, converted
** to a's dtype (PyTorch's x.to(dtype)).  A new node even when a already has
** dtype 't'.  Arrays only. */
tl_node *tl_to_dtype(tl_ctx *ctx, tl_node *a, tl_dtype t);
/* Copies the values (or the gradient: zeros before any backward pass) of
** any node into out[0..tl_size(n)) as doubles, whatever its dtype. */
void tl_read_values(tl_node *n, double *out);
void tl_read_grads(const tl_node *n, double *out);
/* Sets the values from in[0..tl_size(n)), rounded to n's dtype. */
void tl_write_values(tl_node *n, const double *in);
/* Value i and gradient i of any node as doubles (i < tl_size(n)); the
** gradient reads 0 when absent, which tl_has_grads tells. */
double tl_value_at(const tl_node *n, size_t i);
double tl_grad_at(const tl_node *n, size_t i);
int tl_has_grads(const tl_node *n);
/* Sets value i, rounded to n's dtype. */
void tl_set_value_at(tl_node *n, size_t i, double v);
int tl_is_array(const tl_node *n);
size_t tl_ndim(const tl_node *n);              /* 0 for a scalar */
size_t tl_dim(const tl_node *n, size_t i);     /* dimension i (0-based), 0 past the end */
size_t tl_size(const tl_node *n);              /* number of values, 1 for a scalar */
/* The values (a scalar's one value too), writable in place; the pointer is
** valid as long as the node lives.  NULL for a float32 array, whose values
** tl_values_f32 gives (and NULL for any other node). */
double *tl_values(tl_node *n);
float *tl_values_f32(tl_node *n);
/* The gradient values, or NULL before any backward pass touched them (and
** for a float32 array, whose gradient tl_read_grads copies out). */
const double *tl_grads(const tl_node *n);
/* Writes a one-line summary of n's value into buf: for a scalar its data
** and gradient, for an array "shape=(2, 3), min=.., mean=.., max=.." and
** "|grad|=.." once it has a gradient (%.4g numbers).  Returns buf. */
const char *tl_summary(const tl_node *n, char *buf, size_t size);
/* Sets the gradient to a copy of 'g' (size values, rounded to n's dtype;
** zeros if NULL). */
tl_status tl_set_grads(tl_ctx *ctx, tl_node *n, const double *g);

/* Sum, mean, max or min (op TL_OP_REDUCE_*), or logsumexp
** (TL_OP_LOGSUMEXP, core/ops_extra.c) over all values (axis -1: the
** result is a scalar) or along 'axis' (0-based; that dimension is
** dropped).  max follows torch.max: over everything the gradient is
** split evenly among the positions holding the maximum, along an axis it
** goes to the first of them; nan counts as the maximum (min likewise). */
tl_node *tl_reduce(tl_ctx *ctx, tl_op op, tl_node *a, int axis);
/* Matrix product (n x k)(k x m); a vector on the left is a row and on the
** right a column, and that dimension is dropped, as in NumPy. */
tl_node *tl_matmul(tl_ctx *ctx, tl_node *a, tl_node *b);
tl_node *tl_transpose(tl_ctx *ctx, tl_node *a);            /* matrices */
/* The same values in a new shape with the same number of values. */
tl_node *tl_reshape(tl_ctx *ctx, tl_node *a, size_t ndim, const size_t *shape);
/* a[i] along the first axis (0-based): a row of a matrix, a scalar of a
** vector; gradients flow back into a. */
tl_node *tl_index(tl_ctx *ctx, tl_node *a, size_t i);
/* An array of the given shape gathering 'count' scalar nodes, in order;
** their gradients come back to them.  Lets scalar parameters take part in
** batched (matrix) computations. */
tl_node *tl_stack(tl_ctx *ctx, size_t count, tl_node *const *xs, size_t ndim,
                  const size_t *shape);

/* ---- graph walks -------------------------------------------------------- */

/* Reverse-mode sweep from 'root': the gradients of interior nodes are reset
** for this pass, the root's is set to 1, and every node's local derivative
** is added (+=) into its inputs.  Leaves accumulate across passes. */
tl_status tl_backward(tl_ctx *ctx, tl_node *root);
/* The same from a root of any shape, seeded with 'grad' (tl_size(root)
** values) instead of 1.  tl_backward on an array root fails (TL_EARG). */
tl_status tl_backward_with(tl_ctx *ctx, tl_node *root, const double *grad);
/* Marks absent the gradient of 'root' and of every node it reaches (it
** reads as 0; optimizers skip a parameter without one), as PyTorch's
** zero_grad(set_to_none=True). */
tl_status tl_zero_grad(tl_ctx *ctx, tl_node *root);
/* The nodes reachable from 'root', inputs before the nodes that use them
** (root last).  The array lives in the context's scratch space and is valid
** until the next walk in this context.  Returns NULL (and *count = 0) when
** memory is short (TL_ENOMEM) or 'root' is NULL (TL_EARG). */
tl_node *const *tl_topo(tl_ctx *ctx, tl_node *root, size_t *count);

#ifdef __cplusplus
}
#endif

#endif
