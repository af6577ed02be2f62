/*
** tl_optim.h -- optimizers over a list of parameter nodes, with PyTorch's
** defaults and update formulas (torch.optim, single-tensor code path).
**
** For each parameter p with gradient g, at its step t (1, 2, ...):
**
** SGD      lr=1e-3 momentum=0 dampening=0 weight_decay=0 nesterov=false
**            g += wd*p
**            if momentum: b = (t == 1) ? g : momentum*b + (1-dampening)*g
**                         g = nesterov ? g + momentum*b : b
**            p -= lr*g
** RMSprop  lr=1e-2 alpha=0.99 eps=1e-8 weight_decay=0 momentum=0
**          centered=false
**            g += wd*p;  v = alpha*v + (1-alpha)*g^2
**            if centered: ga = alpha*ga + (1-alpha)*g;  avg = sqrt(v - ga^2)
**            else avg = sqrt(v);  avg += eps
**            if momentum: b = momentum*b + g/avg;  p -= lr*b
**            else p -= lr*g/avg
** Adagrad  lr=1e-2 lr_decay=0 weight_decay=0 initial_accumulator_value=0
**          eps=1e-10
**            g += wd*p;  clr = lr / (1 + (t-1)*lr_decay)
**            s += g^2;  p -= clr * g / (sqrt(s) + eps)
** Adam     lr=1e-3 beta1=0.9 beta2=0.999 eps=1e-8 weight_decay=0
**          amsgrad=false
**            g += wd*p;  m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g^2
**            bc1 = 1 - beta1^t;  bc2 = 1 - beta2^t
**            if amsgrad: vmax = max(vmax, v) and vmax replaces v below
**            p -= (lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps)
** AdamW    as Adam with weight_decay=1e-2 applied to the parameter, not the
**          gradient: p *= 1 - lr*wd before the Adam update
**
** A parameter with no gradient (never reached by a backward pass since it
** was made or since zero_grad) is skipped and its step count does not
** advance, as in PyTorch, where its .grad is None.  Gradients are not
** changed by step().
*/
#ifndef TORCHLET_OPTIM_H
#define TORCHLET_OPTIM_H

#include "torchlet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tl_optim_kind {
  TL_OPTIM_SGD = 0,
  TL_OPTIM_RMSPROP,
  TL_OPTIM_ADAGRAD,
  TL_OPTIM_ADAM,
  TL_OPTIM_ADAMW,
  TL_OPTIM_COUNT
} tl_optim_kind;

/* Every hyper-parameter of every optimizer; each reads the ones it uses. */
typedef struct tl_optim_config {
  double lr;
  double momentum;       /* SGD, RMSprop */
  double dampening;      /* SGD */
  double weight_decay;
  double alpha;          /* RMSprop smoothing constant */
  double eps;            /* RMSprop, Adagrad, Adam, AdamW */
  double beta1, beta2;   /* Adam, AdamW */
  double lr_decay;       /* Adagrad */
  double initial_accumulator_value;  /* Adagrad */
  int nesterov;          /* SGD */
  int centered;          /* RMSprop */
  int amsgrad;           /* Adam, AdamW */
} tl_optim_config;

typedef struct tl_optim tl_optim;

/* PyTorch's defaults for 'kind' (the table above). */
void tl_optim_defaults(tl_optim_kind kind, tl_optim_config *cfg);
/* "SGD", "RMSprop", "Adagrad", "Adam", "AdamW". */
const char *tl_optim_name(tl_optim_kind kind);

/* A new optimizer over params[0..n) (each retained: the optimizer holds one
** reference per parameter until tl_optim_free).  NULL with a message on a
** bad argument (no parameters, a negative learning rate, betas outside
** [0, 1), nesterov without momentum, a parameter listed twice, a parameter
** that is not a leaf ...; messages name parameters 0-based) or when
** memory is short.  A node made by an op
** is refused, as PyTorch refuses "a non-leaf Tensor": updating it in place
** would leave its graph holding a value its inputs do not give. */
tl_optim *tl_optim_new(tl_ctx *ctx, tl_optim_kind kind,
                       const tl_optim_config *cfg, size_t n,
                       tl_node *const *params);
/* The same, returning the status (TL_EARG for a bad argument, TL_ENOMEM
** when memory is short) and the optimizer in *out (NULL on failure). */
tl_status tl_optim_create(tl_ctx *ctx, tl_optim_kind kind,
                          const tl_optim_config *cfg, size_t n,
                          tl_node *const *params, tl_optim **out);
void tl_optim_free(tl_ctx *ctx, tl_optim *o);

/* One update of every parameter that has a gradient. */
void tl_optim_step(tl_optim *o);
/* Clears the gradient of every parameter (see tl_mlp_zero_grad). */
void tl_optim_zero_grad(tl_optim *o);

tl_optim_kind tl_optim_kind_of(const tl_optim *o);
const tl_optim_config *tl_optim_get_config(const tl_optim *o);
size_t tl_optim_nparams(const tl_optim *o);
/* Changes the learning rate (for schedules); TL_EARG if negative or nan. */
tl_status tl_optim_set_lr(tl_ctx *ctx, tl_optim *o, double lr);

/* The parameters, in the order given to tl_optim_create (borrowed). */
tl_node *const *tl_optim_params(const tl_optim *o);

/* The optimizer's whole state in a new buffer (*out, *len; the caller
** frees it with free()): kind, every option of tl_optim_config, and per
** parameter its size, its step count and its state values (momentum
** buffers, moving averages), bit for bit; the format is described in
** optim.c.  Gradients are not part of it.  TL_ENOMEM when memory is
** short. */
tl_status tl_optim_dump(tl_ctx *ctx, const tl_optim *o, unsigned char **out,
                        size_t *len);
/* Replaces the kind's options and the state of 'o' with those saved in
** buf[0..len) by tl_optim_dump, so the next step is the one the saved
** optimizer would have taken.  Refused, with 'o' unchanged: TL_EARG when
** the state is for another kind of optimizer or for other parameters
** (another count, or a parameter of another size: the message says which),
** TL_EFORMAT when the bytes are damaged (truncated, corrupted, another
** version), TL_ENOMEM. */
tl_status tl_optim_load_bytes(tl_ctx *ctx, tl_optim *o, const void *buf,
                              size_t len);

#ifdef __cplusplus
}
#endif

#endif
