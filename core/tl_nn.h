/*
** tl_nn.h -- multilayer perceptrons whose layers own weight matrices.
**
** A tl_mlp is micrograd's Neuron, Layer and MLP in one type: a stack of
** fully connected layers, each with its own activation.  A Neuron is a
** model with one layer of one neuron, a Layer a model with one layer; the
** 'kind' only decides how the model prints and what a caller expects.
**
** Each layer owns two array leaves of the context: its weights W, of shape
** (nout x nin) (the layout of torch.nn.Linear.weight: row j holds neuron
** j's weights), and its bias b, of shape (nout).  tl_mlp_params lists them
** in PyTorch's order, W1, b1, W2, b2, ...  The model holds one reference
** on each.  Micrograd's per-scalar order (layer by layer, neuron by
** neuron, the neuron's weights then its bias) remains as an index over the
** same values: tl_mlp_scalar.
**
** Initialisation (documented because runs must be reproducible): layer by
** layer, for each row j, W[j][0], ..., W[j][nin-1] and then b[j] are drawn
** from the context's generator, each uniform(-1/sqrt(nin), 1/sqrt(nin)):
** micrograd's neuron order, so a seed gives the models it gave when every
** parameter was a node of its own.  That is PyTorch's default for
** nn.Linear (Kaiming-uniform with a = sqrt(5) for weights, the same bound
** for biases); it keeps pre-activations of order one whatever the width,
** where micrograd's uniform(-1, 1) grows with it.  TL_INIT_UNIFORM gives
** micrograd's uniform(-1, 1) for comparison.
**
** Forward: tl_mlp_forward (scalar inputs) builds, per neuron, one fused
** neuron-row node (W[j].x + b[j], tl_neuron_row) and one activation node
** (none for a linear layer), so graphs draw neuron by neuron as in
** micrograd.  tl_mlp_forward_batch (an array of inputs) builds per layer
** one linear node (X W^T + b, tl_linear) and one activation node.
**
** Positions in this API and its messages are 0-based (layers, rows).
*/
#ifndef TORCHLET_NN_H
#define TORCHLET_NN_H

#include "torchlet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tl_act {
  TL_ACT_LINEAR = 0,
  TL_ACT_RELU,
  TL_ACT_TANH,
  TL_ACT_SIGMOID,
  TL_ACT_COUNT
} tl_act;

typedef enum tl_mlp_kind {
  TL_KIND_NEURON = 0,   /* one layer of one neuron: prints "ReLUNeuron(2)" */
  TL_KIND_LAYER,        /* one layer: "Layer of [...]" */
  TL_KIND_MLP,          /* "MLP of [Layer of [...], ...]" */
  TL_KIND_COUNT
} tl_mlp_kind;

typedef enum tl_init {
  TL_INIT_DEFAULT = 0,  /* uniform(-1/sqrt(nin), 1/sqrt(nin)), as PyTorch */
  TL_INIT_UNIFORM       /* uniform(-1, 1), as micrograd */
} tl_init;

typedef struct tl_mlp tl_mlp;

/* Largest layer width and input count accepted (keeps sizes, products and
** the file format's 32-bit fields far from overflow), and the most
** parameters per model (2^22 values, 32 MiB and as much again for their
** gradients), so a typo in a layer size fails with a message instead of
** exhausting memory. */
#define TL_MLP_MAX_WIDTH 1000000u
#define TL_MLP_MAX_LAYERS 4096u
#define TL_MLP_MAX_PARAMS (1u << 22)

/* A new model with 'nin' inputs and 'nlayers' layers; layer i has sizes[i]
** neurons and activation acts[i].  Parameters are drawn from the context's
** generator as described above.  NULL (message in the context) on a bad
** argument or when memory is short.  A TL_KIND_NEURON model must be one
** layer of one neuron, a TL_KIND_LAYER model one layer. */
tl_mlp *tl_mlp_new(tl_ctx *ctx, tl_mlp_kind kind, size_t nin, size_t nlayers,
                   const size_t *sizes, const tl_act *acts, tl_init init);
/* A model as tl_mlp_new makes, whose parameters hold 'values' (the
** model's tl_mlp_nscalars of them, layer by layer W row-major then b: the
** order of model files) instead of draws: the generator is not used. */
tl_mlp *tl_mlp_new_from(tl_ctx *ctx, tl_mlp_kind kind, size_t nin,
                        size_t nlayers, const size_t *sizes,
                        const tl_act *acts, const double *values);
/* Releases the model's parameters and frees it.  NULL is ignored. */
void tl_mlp_free(tl_ctx *ctx, tl_mlp *m);

tl_mlp_kind tl_mlp_kind_of(const tl_mlp *m);
/* The dtype of the model's parameters (TL_FLOAT64 as made), and a change
** of it in place: every parameter is replaced by a new leaf of dtype 't'
** holding its values converted (float32: rounded), without a gradient,
** as PyTorch's model.float() (make optimizers after).  TL_ENOMEM leaves
** the model as it was. */
tl_dtype tl_mlp_dtype(const tl_mlp *m);
tl_status tl_mlp_to_dtype(tl_ctx *ctx, tl_mlp *m, tl_dtype t);
size_t tl_mlp_nin(const tl_mlp *m);
size_t tl_mlp_nout(const tl_mlp *m);
size_t tl_mlp_nlayers(const tl_mlp *m);
size_t tl_mlp_layer_size(const tl_mlp *m, size_t layer);
tl_act tl_mlp_layer_act(const tl_mlp *m, size_t layer);

/* The parameter arrays in PyTorch's order, W1, b1, W2, b2, ... (2 per
** layer), borrowed (the model keeps its references); tl_mlp_nparams of
** them.  tl_mlp_nscalars counts their values. */
size_t tl_mlp_nparams(const tl_mlp *m);
tl_node *const *tl_mlp_params(const tl_mlp *m);
size_t tl_mlp_nscalars(const tl_mlp *m);
/* Where scalar parameter i (0-based, < tl_mlp_nscalars) of micrograd's
** order lives: its array (borrowed) and the position of its value in it.
** 0 when i is out of range. */
int tl_mlp_scalar(const tl_mlp *m, size_t i, tl_node **array, size_t *pos);
/* Sets the gradient of value 'pos' of the array 'arr' to g (for the
** per-scalar view); an absent gradient becomes zeros first.  TL_ENOMEM
** when the buffer cannot be made. */
tl_status tl_mlp_set_grad_at(tl_ctx *ctx, tl_node *arr, size_t pos, double g);
/* Bytes the model holds outside the node pool: its own struct and lists,
** the parameter arrays and, once a backward pass made them, their
** gradient buffers (for memory accounting). */
size_t tl_mlp_bytes(const tl_mlp *m);

/* One forward pass: 'x' holds nin scalar nodes (borrowed); out[0..nout)
** receives the outputs, one new reference each for the caller.  On failure
** nothing is stored in 'out' and every node built so far is released. */
tl_status tl_mlp_forward(tl_ctx *ctx, tl_mlp *m, tl_node *const *x,
                         tl_node **out);

/* The batched forward pass: 'x' is an (N x nin) array (or a vector of nin
** values) and the result an (N x nout) array (or a vector), one new
** reference for the caller.  Each layer is act(x W^T + b): one linear node
** reading the layer's own W and b, and one activation node.  NULL with a
** message on a wrong shape or when memory is short. */
tl_node *tl_mlp_forward_batch(tl_ctx *ctx, tl_mlp *m, tl_node *x);

/* Marks the gradient of every parameter absent: it reads as 0 and an
** optimizer skips the parameter until a backward pass reaches it again,
** as PyTorch's zero_grad(set_to_none=True).  tl_zero_grad and
** tl_optim_zero_grad do the same. */
void tl_mlp_zero_grad(tl_mlp *m);

/* The sum of squares of every parameter, one node. */
tl_node *tl_mlp_l2(tl_ctx *ctx, tl_mlp *m);

/* The fused ops (nn_ops.c).  tl_neuron_row: W[row] . x + b[row] for the
** nin scalar nodes x (borrowed), W of shape (nout x nin), b (nout), the
** sum taken as micrograd does (b, then each product in order); gradients
** reach row 'row' of W, b[row] and each x.  tl_linear: x W^T + b for x of
** shape (N x nin) (result N x nout) or (nin) (result nout); gradients
** reach x, W and b.  NULL with a message on bad shapes or short memory. */
tl_node *tl_neuron_row(tl_ctx *ctx, tl_node *w, tl_node *b, size_t row,
                       tl_node *const *x);
tl_node *tl_linear(tl_ctx *ctx, tl_node *x, tl_node *w, tl_node *b);

/* Names: "linear", "relu", "tanh", "sigmoid"; and for printing neurons
** "Linear", "ReLU", "Tanh", "Sigmoid".  tl_act_from_name returns
** TL_ACT_COUNT for an unknown name. */
const char *tl_act_name(tl_act act);
const char *tl_act_title(tl_act act);
tl_act tl_act_from_name(const char *name);

/* ---- serialize.c ----------------------------------------------------- */

/* Writes the model to 'path' in the format described in serialize.c,
** through a temporary file renamed over 'path', so an existing file is
** either replaced whole or left as it was. */
tl_status tl_mlp_save(tl_ctx *ctx, const tl_mlp *m, const char *path);
/* Reads a model saved by tl_mlp_save, or NULL with a message saying what
** is wrong: TL_EIO (cannot open or read), TL_EFORMAT (bad magic, unknown
** version, truncated, corrupted). */
tl_mlp *tl_mlp_load(tl_ctx *ctx, const char *path);
/* The bytes tl_mlp_save writes, in a new buffer (*out, *len) the caller
** frees with free(); for hosts that keep their own save files.  TL_ENOMEM
** when memory is short. */
tl_status tl_mlp_dump(tl_ctx *ctx, const tl_mlp *m, unsigned char **out,
                      size_t *len);
/* A model from buf[0..len) (what tl_mlp_dump gave), checked as tl_mlp_load
** checks a file; messages say "data" where tl_mlp_load's say "file". */
tl_mlp *tl_mlp_load_bytes(tl_ctx *ctx, const void *buf, size_t len);

/* Private to core: a model with the given architecture whose parameters
** hold 'params' (tl_mlp_nscalars of them), layer by layer W row-major
** then b (the order of model files, version 2), not drawn. */
tl_mlp *tl__mlp_with_params(tl_ctx *ctx, tl_mlp_kind kind, size_t nin,
                            size_t nlayers, const size_t *sizes,
                            const tl_act *acts, const double *params);

#ifdef __cplusplus
}
#endif

#endif
