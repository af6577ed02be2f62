/*
** xor.c -- a 2-4-1 tanh network learns XOR, from C against core/ alone
** (no Lua): the model (tl_mlp), the loss (tl_loss_mse) and the optimizer
** (tl_optim, SGD with momentum) of the nn API, on the nodes of the core.
**
**     build/examples/xor
**
** Every node made here is released; tl_ctx_free would reclaim forgotten
** ones, but a long-running program must not rely on that.  Exits 0 when
** the network has learnt XOR.
*/
#include <stdio.h>
#include <stdlib.h>

#include "../../core/tl_loss.h"
#include "../../core/tl_nn.h"
#include "../../core/tl_optim.h"
#include "../../core/torchlet.h"

#define STEPS 300

static const double inputs[4][2] = { {0, 0}, {0, 1}, {1, 0}, {1, 1} };
static const double targets[4] = { -1, 1, 1, -1 };

/* The model's output for one point: a new reference, or NULL. */
static tl_node *predict(tl_ctx *ctx, tl_mlp *m, const double *point) {
  tl_node *x[2] = { tl_leaf(ctx, point[0]), tl_leaf(ctx, point[1]) };
  tl_node *y = NULL;
  if (x[0] != NULL && x[1] != NULL && tl_mlp_forward(ctx, m, x, &y) != TL_OK)
    y = NULL;
  tl_release(ctx, x[0]);       /* y holds what it needs */
  tl_release(ctx, x[1]);
  return y;
}

/* One step: forward over the four points, mean squared error, backward,
** update.  Returns the loss before the update, or -1 on failure. */
static double step(tl_ctx *ctx, tl_mlp *m, tl_optim *opt) {
  tl_node *y[4] = { NULL };
  double value = -1;
  int ok = 1;
  for (int i = 0; i < 4 && ok; i++) ok = (y[i] = predict(ctx, m, inputs[i])) != NULL;
  tl_node *s = ok ? tl_loss_stack(ctx, 4, y) : NULL;   /* the 4 scores, one vector */
  tl_node *loss = s ? tl_loss_mse(ctx, s, 4, targets) : NULL;
  tl_release(ctx, s);          /* the loss holds it */
  if (loss != NULL) {
    tl_optim_zero_grad(opt);
    if (tl_backward(ctx, loss) == TL_OK) {
      tl_optim_step(opt);
      value = tl_data(loss);
    }
  }
  tl_release(ctx, loss);       /* frees the graph of this step */
  for (int i = 0; i < 4; i++) tl_release(ctx, y[i]);
  return value;
}

static int train(tl_ctx *ctx, tl_mlp **model, tl_optim **optimizer) {
  static const size_t sizes[2] = { 4, 1 };
  static const tl_act acts[2] = { TL_ACT_TANH, TL_ACT_TANH };
  tl_rng_seed(ctx, 42);        /* the same model on every machine */
  tl_mlp *m = *model = tl_mlp_new(ctx, TL_KIND_MLP, 2, 2, sizes, acts,
                                  TL_INIT_UNIFORM);
  if (m == NULL) return 0;
  tl_optim_config cfg;
  tl_optim_defaults(TL_OPTIM_SGD, &cfg);
  cfg.lr = 0.1;
  cfg.momentum = 0.9;
  tl_optim *opt = *optimizer = tl_optim_new(ctx, TL_OPTIM_SGD, &cfg,
                                            tl_mlp_nparams(m), tl_mlp_params(m));
  if (opt == NULL) return 0;

  double loss = 0;
  for (int s = 0; s < STEPS; s++) {
    if ((loss = step(ctx, m, opt)) < 0) return 0;
    if (s % 100 == 0) printf("xor: step %3d loss %.6f\n", s, loss);
  }
  int learnt = 1;
  for (int i = 0; i < 4; i++) {
    tl_node *y = predict(ctx, m, inputs[i]);
    if (y == NULL) return 0;
    printf("xor: xor(%g, %g) -> %+.4f\n", inputs[i][0], inputs[i][1], tl_data(y));
    learnt = learnt && tl_data(y) * targets[i] > 0;
    tl_release(ctx, y);
  }
  printf("xor: final loss %.6f, %zu live nodes (the %zu parameter arrays)\n", loss,
         tl_ctx_live_nodes(ctx), tl_mlp_nparams(m));
  return learnt && tl_ctx_live_nodes(ctx) == tl_mlp_nparams(m);
}

int main(void) {
  tl_ctx *ctx = tl_ctx_new();
  if (ctx == NULL) {
    fprintf(stderr, "xor: not enough memory for a context\n");
    return EXIT_FAILURE;
  }
  tl_mlp *m = NULL;
  tl_optim *opt = NULL;
  int ok = train(ctx, &m, &opt);
  if (!ok) fprintf(stderr, "xor: failed: %s\n", tl_ctx_error(ctx)[0] ?
                   tl_ctx_error(ctx) : "the network did not learn XOR");
  tl_optim_free(ctx, opt);     /* drops its references on the parameters */
  tl_mlp_free(ctx, m);         /* and the model its own */
  tl_ctx_free(ctx);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
