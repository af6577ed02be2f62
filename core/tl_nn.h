/*
** tl_nn.h -- multilayer perceptrons whose forward pass builds its nodes in C.
**
** A tl_mlp is micrograd's Neuron, Layer and MLP in one type: a stack of
** fully connected layers, each with its own activation.  A Neuron is a
** model with one layer of one neuron, a Layer a model with one layer; the
** 'kind' only decides how the model prints and what a caller expects.
**
** Parameters are ordinary leaf nodes of the context, each holding one
** reference owned by the model, stored in micrograd's order: layer by layer,
** neuron by neuron, the neuron's weights then its bias.  The weights and
** bias of one neuron are contiguous, which is what tl_neuron wants.
**
** Initialisation (documented because runs must be reproducible): every
** parameter of a neuron with 'nin' inputs is drawn from the context's
** generator as uniform(-1/sqrt(nin), 1/sqrt(nin)), in parameter order.
** That is PyTorch's default for nn.Linear (Kaiming-uniform with a = sqrt(5)
** for weights, the same bound for biases); it keeps pre-activations of order
** one whatever the width, where micrograd's uniform(-1, 1) grows with it.
** TL_INIT_UNIFORM gives micrograd's uniform(-1, 1) for comparison.
**
** Forward: tl_mlp_forward builds, per neuron, one fused tl_neuron node
** (w.x + b) and one activation node (none for a linear layer).  Nothing
** else is allocated per call beyond those nodes: the model keeps two
** scratch rows for the activations between layers.
*/
#ifndef TORCHLET_NN_H
#define TORCHLET_NN_H

#include "torchlet.h"

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
** parameters per model: 2^22 nodes are 256 MiB of pool, so a typo in a
** layer size fails with a message instead of exhausting memory. */
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
/* Releases the model's parameters and frees it.  NULL is ignored. */
void tl_mlp_free(tl_ctx *ctx, tl_mlp *m);

tl_mlp_kind tl_mlp_kind_of(const tl_mlp *m);
size_t tl_mlp_nin(const tl_mlp *m);
size_t tl_mlp_nout(const tl_mlp *m);
size_t tl_mlp_nlayers(const tl_mlp *m);
size_t tl_mlp_layer_size(const tl_mlp *m, size_t layer);
tl_act tl_mlp_layer_act(const tl_mlp *m, size_t layer);

/* The parameters in micrograd's order, borrowed (the model keeps its
** references); tl_mlp_nparams of them. */
size_t tl_mlp_nparams(const tl_mlp *m);
tl_node *const *tl_mlp_params(const tl_mlp *m);

/* One forward pass: 'x' holds nin nodes (borrowed); out[0..nout) receives
** the outputs, one new reference each for the caller.  On failure nothing
** is stored in 'out' and every node built so far is released. */
tl_status tl_mlp_forward(tl_ctx *ctx, tl_mlp *m, tl_node *const *x,
                         tl_node **out);

/* The batched forward pass: 'x' is an (N x nin) array (or a vector of nin
** values) and the result an (N x nout) array (or a vector), one new
** reference for the caller.  Each layer is act(x W + b): one matmul, one
** broadcast add and one activation node, with W and b gathered from the
** model's own scalar parameters (tl_stack), so gradients reach the same
** leaves as the scalar path and any optimizer over parameters() works.
** NULL with a message on a wrong shape or when memory is short. */
tl_node *tl_mlp_forward_batch(tl_ctx *ctx, tl_mlp *m, tl_node *x);

/* Clears the gradient of every parameter (it reads as 0 again and an
** optimizer skips it until a backward pass reaches it, like PyTorch's
** zero_grad(set_to_none=True)). */
void tl_mlp_zero_grad(tl_mlp *m);

/* The sum of squares of every parameter, one node (tl_sumsq). */
tl_node *tl_mlp_l2(tl_ctx *ctx, tl_mlp *m);

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

/* Private to core: a model with the given architecture whose parameters
** are leaves holding 'params' (tl_mlp_nparams of them), not drawn. */
tl_mlp *tl__mlp_with_params(tl_ctx *ctx, tl_mlp_kind kind, size_t nin,
                            size_t nlayers, const size_t *sizes,
                            const tl_act *acts, const double *params);

#endif
