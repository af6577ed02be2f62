/*
** tl_compile.h -- compiled steps: record a graph once, replay it many
** times on new input values with no allocation (ggml's build once,
** compute many; PyTorch's torch.jit.trace).
**
**   tl_capture_begin(ctx);
**   x = tl_array(ctx, 1, shape, NULL);           // an input leaf
**   loss = ...ops over x and the parameters...;
**   tl_graph *g = tl_capture_end(ctx, loss, 1, &x);
**   tl_release(ctx, loss); tl_release(ctx, x);   // the graph holds both
**   for (;;) {                                   // per frame
**     tl_write_values(tl_graph_input(g, 0), frame_data);
**     tl_graph_forward(ctx, g);                  // values, in place
**     tl_graph_backward(ctx, g);                 // gradients, in place
**     ... read tl_graph_output(g), step an optimizer ...
**   }
**   tl_graph_free(ctx, g);
**
** Between begin and end every op links its inputs, even in no-grad and
** over data alone (which eager recording folds into a constant leaf): each
** op node of the graph is recomputed by a replay.  Leaves are the inputs
** (whose values the host writes before tl_graph_forward), the parameters
** (read by reference: an optimizer's updates are seen by the next replay)
** and constants.  The graph keeps a reference on its output and inputs, so
** nothing it reads can be freed under it; node shapes never change, so a
** parameter cannot be resized under it either.  Code that branched on
** values while recording stays as recorded.  Replays are bit for bit the
** eager computation: the same functions in the same order.
**
** A graph whose ops are all scalar elementwise ops (a chain, a
** micrograd-style expression) is replayed over a dense tape (tape.c), and
** a replay writes into nodes only the output and the op nodes you hold a
** reference on; every other interior node is brought up to date when a
** walk reaches it (tl_topo, tl_backward from another root, drawing) or by
** tl_graphs_sync.  Call it before reading nodes you reached through
** tl_input after a replay.
*/
#ifndef TORCHLET_TL_COMPILE_H
#define TORCHLET_TL_COMPILE_H

#include "torchlet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_graph tl_graph;

/* Starts recording for a capture (nesting counts: a capture begun inside
** another belongs to it). */
void tl_capture_begin(tl_ctx *ctx);
/* Ends the recording begun by tl_capture_begin and captures the graph
** ending at 'root', whose inputs are the leaves inputs[0..ninputs): the
** order of its nodes, walked once, and (when root needs a gradient) every
** gradient buffer.  Recording ends even when this fails (NULL, the error
** set: TL_EARG for a NULL root, an input that is not a leaf, a call
** without tl_capture_begin; TL_ENOMEM).  The graph holds a reference on
** root and on each input. */
tl_graph *tl_capture_end(tl_ctx *ctx, tl_node *root, size_t ninputs,
                         tl_node *const *inputs);
/* Ends the recording begun by tl_capture_begin without capturing (the
** recording failed); what was recorded is freed with its last reference. */
void tl_capture_abort(tl_ctx *ctx);
/* 1 while a capture is being recorded. */
int tl_capturing(const tl_ctx *ctx);

/* Recomputes every op node from the current values of the leaves, in the
** recorded order, into the nodes' buffers.  TL_OK, or a custom op's
** failure (custom ops call their forward callback again, which allocates:
** they are the one exception to "no allocation"). */
tl_status tl_graph_forward(tl_ctx *ctx, tl_graph *g);
/* tl_backward from the output over the stored order (no walk): interior
** gradients reset, leaves accumulate, as tl_backward does.  TL_EARG for a
** forward-only graph (its output needs no gradient).  tl_backward on the
** output of a live graph takes this path by itself. */
tl_status tl_graph_backward(tl_ctx *ctx, tl_graph *g);
/* The output, input i (0-based; NULL past the end), borrowed. */
tl_node *tl_graph_output(const tl_graph *g);
tl_node *tl_graph_input(const tl_graph *g, size_t i);
size_t tl_graph_ninputs(const tl_graph *g);
/* Every node of the graph (leaves included), inputs before the nodes that
** use them, the output last (tl_topo's order), up to date; borrowed, valid
** while g lives. */
tl_node *const *tl_graph_nodes(const tl_graph *g, size_t *count);
/* Writes every graph's pending values and gradients into its nodes (see
** the top of this file). */
void tl_graphs_sync(tl_ctx *ctx);
/* 1 when the output needs a gradient (not a forward-only capture). */
int tl_graph_has_grad(const tl_graph *g);
/* NULL when a and b record the same ops in the same order (op, op
** constant, shapes, dtypes, inputs by position, the same parameters);
** else a message naming the first difference, written into buf. */
const char *tl_graph_diff(const tl_graph *a, const tl_graph *b, char *buf,
                          size_t size);
/* Releases what the graph holds.  NULL is ignored. */
void tl_graph_free(tl_ctx *ctx, tl_graph *g);

#ifdef __cplusplus
}
#endif

#endif
