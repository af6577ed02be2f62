/*
** nn_ops.h -- the fused ops of models and losses (nn_ops.c), private to
** core: their backward rules, referenced by the op table in ops.c.
** Constructors are public: tl_neuron_row and tl_linear in tl_nn.h,
** tl_loss_cross_entropy in tl_loss.h.
*/
#ifndef TORCHLET_NN_OPS_H
#define TORCHLET_NN_OPS_H

#include "internal.h"

void tl__neuron_row_b(tl_node *n);
void tl__linear_b(tl_node *n);
void tl__cross_entropy_b(tl_node *n);

#endif
