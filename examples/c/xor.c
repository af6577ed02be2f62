/*
** xor.c -- a 2-4-1 tanh network learns XOR, from C against core/ alone
** (no Lua): the model (tl_mlp), the loss (tl_loss_mse) and the optimizer
** (tl_optim, SGD with momentum) of the nn API, on the nodes of the core.
**
**     build/examples/xor
**
** Then the per-frame loop of a host (a game, a tool) that trains once per
** frame: the step is captured once (tl_compile.h) and replayed on each
** frame's data with no allocation, checked against the same step run
** eagerly on a twin model: equal bit for bit, and the context's
** allocation counter flat.
**
** Every node made here is released; tl_ctx_free would reclaim forgotten
** ones, but a long-running program must not rely on that.  Exits 0 when
** the network has learnt XOR.
*/
#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include "../../core/tl_compile.h"
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

/* {======================================================================
** Per frame: a compiled step against the eager one
** ======================================================================= */

#define FRAMES 200

/* The batched step's loss over the (4 x 2) points X: a new reference. */
static tl_node *batch_loss(tl_ctx *ctx, tl_mlp *m, tl_node *X) {
  tl_node *y = tl_mlp_forward_batch(ctx, m, X);       /* (4 x 1) */
  static const size_t four = 4;
  tl_node *s = y ? tl_reshape(ctx, y, 1, &four) : NULL;
  tl_node *loss = s ? tl_loss_mse(ctx, s, 4, targets) : NULL;
  tl_release(ctx, y);
  tl_release(ctx, s);
  return loss;
}

/* Frame f's points: XOR's, moved a little each frame. */
static void frame_points(int f, double *x) {
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 2; j++)
      x[i * 2 + j] = inputs[i][j] + 0.01 * ((f * 7 + i * 3 + j) % 5 - 2);
}

static tl_optim *sgd(tl_ctx *ctx, tl_mlp *m) {
  tl_optim_config cfg;
  tl_optim_defaults(TL_OPTIM_SGD, &cfg);
  cfg.lr = 0.1;
  cfg.momentum = 0.9;
  return tl_optim_new(ctx, TL_OPTIM_SGD, &cfg, tl_mlp_nparams(m), tl_mlp_params(m));
}

/* Equal bit for bit: every parameter of a and b. */
static int same_params(tl_mlp *a, tl_mlp *b) {
  for (size_t i = 0; i < tl_mlp_nparams(a); i++) {
    tl_node *p = tl_mlp_params(a)[i], *q = tl_mlp_params(b)[i];
    if (memcmp(tl_values(p), tl_values(q), tl_size(p) * sizeof(double)) != 0)
      return 0;
  }
  return 1;
}

static int per_frame(tl_ctx *ctx) {
  static const size_t sizes[2] = { 4, 1 };
  static const tl_act acts[2] = { TL_ACT_TANH, TL_ACT_TANH };
  static const size_t shape[2] = { 4, 2 };
  tl_mlp *m[2] = { NULL, NULL };             /* compiled, eager */
  tl_optim *opt[2] = { NULL, NULL };
  tl_graph *g = NULL;
  tl_node *X = NULL, *loss = NULL;
  int ok = 0;
  for (int k = 0; k < 2; k++) {
    tl_rng_seed(ctx, 7);                      /* twins */
    m[k] = tl_mlp_new(ctx, TL_KIND_MLP, 2, 2, sizes, acts, TL_INIT_UNIFORM);
    if (m[k] == NULL || (opt[k] = sgd(ctx, m[k])) == NULL) goto done;
  }
  /* recorded once: X is the input leaf each frame writes */
  if ((X = tl_array(ctx, 2, shape, NULL)) == NULL ||
      tl_set_requires_grad(ctx, X, 0) != TL_OK)
    goto done;
  tl_capture_begin(ctx);
  loss = batch_loss(ctx, m[0], X);
  g = tl_capture_end(ctx, loss, 1, &X);
  tl_release(ctx, loss);                      /* the graph holds both */
  tl_release(ctx, X);
  if (g == NULL) goto done;
  size_t before = 0;
  for (int f = 0; f < FRAMES; f++) {
    double x[8];
    frame_points(f, x);
    /* the frame, compiled: write the input, replay, update */
    tl_write_values(tl_graph_input(g, 0), x);
    tl_optim_zero_grad(opt[0]);
    if (tl_graph_forward(ctx, g) != TL_OK || tl_graph_backward(ctx, g) != TL_OK)
      goto done;
    tl_optim_step(opt[0]);
    /* the same frame, eagerly */
    tl_node *Xe = tl_array(ctx, 2, shape, x);
    if (Xe == NULL || tl_set_requires_grad(ctx, Xe, 0) != TL_OK) goto done;
    tl_node *le = batch_loss(ctx, m[1], Xe);
    tl_release(ctx, Xe);
    if (le == NULL) goto done;
    tl_optim_zero_grad(opt[1]);
    tl_status st = tl_backward(ctx, le);
    double lc = tl_data(tl_graph_output(g)), lv = tl_data(le);
    tl_release(ctx, le);
    if (st != TL_OK) goto done;
    tl_optim_step(opt[1]);
    if (memcmp(&lc, &lv, sizeof lc) != 0 || !same_params(m[0], m[1])) {
      fprintf(stderr, "xor: frame %d: compiled %.17g, eager %.17g\n", f, lc, lv);
      goto done;
    }
    if (f == 1) before = tl_ctx_allocated_bytes(ctx);
    if (f == FRAMES - 1) printf("xor: per frame, compiled: loss %.6f after %d "
                                "frames, equal to eager\n", lc, FRAMES);
  }
  /* the eager twin allocates each frame; replay alone must not */
  before = tl_ctx_allocated_bytes(ctx);
  for (int f = 0; f < FRAMES; f++)
    if (tl_graph_forward(ctx, g) != TL_OK || tl_graph_backward(ctx, g) != TL_OK)
      goto done;
  size_t after = tl_ctx_allocated_bytes(ctx);
  printf("xor: %d replays allocated %zu bytes\n", FRAMES, after - before);
  ok = after == before;
done:
  tl_graph_free(ctx, g);
  for (int k = 0; k < 2; k++) { tl_optim_free(ctx, opt[k]); tl_mlp_free(ctx, m[k]); }
  return ok;
}

/* }====================================================================== */

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
  if (ok && !(ok = per_frame(ctx)))
    fprintf(stderr, "xor: per-frame loop failed: %s\n", tl_ctx_error(ctx));
  if (ok && tl_ctx_live_nodes(ctx) != 0) {
    fprintf(stderr, "xor: %zu nodes left\n", tl_ctx_live_nodes(ctx));
    ok = 0;
  }
  tl_ctx_free(ctx);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
