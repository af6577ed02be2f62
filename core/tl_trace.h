/*
** tl_trace.h -- watching backward: the steps of a backward pass one at a
** time, each with its chain rule in numbers.
**
** A trace runs the engine's own backward (the walk of graph.c, the rules of
** the op table) one node at a time, in the order tl_backward runs them:
** first the seed (the root's gradient set to 1), then every op result in
** reverse topological order (leaves do nothing).  After each step the
** graph holds the gradients known so far (tl_grads is NULL for the rest),
** so a drawing made between steps shows the pass half done.  The trace is
** a view: it starts from empty gradients everywhere (as after
** tl_zero_grad, so leaves show what this pass gives them) and
** tl_trace_free puts back every gradient as it was, so tracing never
** accumulates into leaves.  (An array leaf that had no gradient buffer
** keeps the one the trace allocated, still reading as "no gradient".)
**
** Each step's text has one line per input slot that receives a gradient,
** the rule of the op's 'grad' column (tl_ops.h) written three ways, with
** names, with numbers, and its result:
**
**     a.grad += c.grad * b.data = 1 * 3 = 3
**
** and, when the input already held a gradient in this pass, what it holds
** now: "a.grad += ... = 3 (a.grad now 4)".  Names are labels; a node
** without one is called by its op and its position in topological order
** (1-based): "mul#3", "leaf#1".  Numbers are printed with 6 significant
** digits.  An array appears by its shape, "(2, 3)", and a gradient given to
** an array by its nonzero entries when at most 4 are ("(4, 2) with [3, 1]
** = 0.5, [3, 2] = -1"), else by "sum S, min m, max M".  An input used twice
** by one elementwise op gets a line per use; by any other op, one line
** with its uses together.
**
**     tl_trace *t;
**     if (tl_trace_new(ctx, d, &t) != TL_OK) ...;
**     while (tl_trace_next(ctx, t) == 1) puts(tl_trace_text(t));
**     tl_trace_free(ctx, t);
**
** The nodes must stay alive while the trace lives; it holds no references.
*/
#ifndef TL_TRACE_H
#define TL_TRACE_H

#include "torchlet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_trace tl_trace;

/* A trace of backward from the scalar 'root', before its first step, in
** *t; or NULL there and a status with the error set (TL_EARG for a NULL
** or array root or one that needs no gradient, as tl_backward;
** TL_ENOMEM). */
tl_status tl_trace_new(tl_ctx *ctx, tl_node *root, tl_trace **t);
/* The same, its errors naming 'who' (what the caller was asked for:
** "steps", "html"; NULL: "explain") instead of explain. */
tl_status tl_trace_new_for(tl_ctx *ctx, tl_node *root, const char *who,
                           tl_trace **t);
/* Runs the next step: 1 when one ran, 0 when the pass is over, -1 when
** memory ran short or a custom op's backward failed (the error is set;
** tl_trace_free still restores). */
int tl_trace_next(tl_ctx *ctx, tl_trace *t);
/* The steps of the whole pass, the seed included. */
size_t tl_trace_count(const tl_trace *t);
/* The node of the last step (the root for the seed), NULL before it. */
tl_node *tl_trace_node(const tl_trace *t);
/* The lines of the last step, separated by '\n', no final newline ("" before
** the first step).  Owned by the trace; changes with the next step. */
const char *tl_trace_text(const tl_trace *t);
/* The name the trace calls 'n' by (its label, or op#position) into 'buf'
** ('size' bytes, always terminated); returns buf. */
const char *tl_trace_name(const tl_trace *t, const tl_node *n, char *buf,
                          size_t size);
/* Puts every gradient back as it was before tl_trace_new and frees the
** trace (NULL is a no-op). */
void tl_trace_free(tl_ctx *ctx, tl_trace *t);

/* The whole trace as text, one line per input slot, steps in order: a
** malloc'd NUL-terminated string in *text (free() it), its length in
** *len.  Gradients are left as they were. */
tl_status tl_explain(tl_ctx *ctx, tl_node *root, char **text, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
