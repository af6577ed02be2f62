/*
** xor.c -- a 2-4-1 tanh network learns XOR, from C against core/ alone
** (no Lua): parameters are leaves, each neuron is one fused tl_neuron node
** followed by tl_unary(TANH), the loss is built from the same ops, and
** plain gradient descent updates the leaves' data in place.
**
**     build/examples/xor
**
** Every node made here is released; tl_ctx_free would reclaim forgotten
** ones, but a long-running program must not rely on that.  Exits 0 when
** the network has learnt XOR.
*/
#include <stdio.h>
#include <stdlib.h>

#include "../../core/torchlet.h"

#define NIN 2
#define NHIDDEN 4
#define NPARAMS (NHIDDEN * (NIN + 1) + NHIDDEN + 1)
#define STEPS 300
#define LR 0.2

static const double inputs[4][NIN] = { {0, 0}, {0, 1}, {1, 0}, {1, 1} };
static const double targets[4] = { -1, 1, 1, -1 };

/* The parameters in one array: for each hidden neuron its NIN weights then
** its bias, then the output neuron's NHIDDEN weights and its bias, so that
** each neuron's weights are contiguous, as tl_neuron wants them. */
typedef struct model { tl_node *p[NPARAMS]; } model;

static tl_node **hidden_w(model *m, int j) { return &m->p[j * (NIN + 1)]; }
static tl_node *hidden_b(model *m, int j) { return m->p[j * (NIN + 1) + NIN]; }
static tl_node **out_w(model *m) { return &m->p[NHIDDEN * (NIN + 1)]; }
static tl_node *out_b(model *m) { return m->p[NPARAMS - 1]; }

/* tanh(w . x + b) for one neuron: a new reference, or NULL. */
static tl_node *tanh_neuron(tl_ctx *ctx, size_t n, tl_node *const *w,
                            tl_node *const *x, tl_node *b) {
  tl_node *z = tl_neuron(ctx, n, w, x, b);
  if (z == NULL) return NULL;
  tl_node *y = tl_unary(ctx, TL_OP_TANH, z);
  tl_release(ctx, z);          /* y holds z now */
  return y;
}

/* The network's output for one input point: a new reference, or NULL. */
static tl_node *forward(tl_ctx *ctx, model *m, const double *point) {
  tl_node *x[NIN] = { NULL }, *h[NHIDDEN] = { NULL }, *y = NULL;
  int ok = 1;
  for (int i = 0; i < NIN && ok; i++) ok = (x[i] = tl_leaf(ctx, point[i])) != NULL;
  for (int j = 0; j < NHIDDEN && ok; j++)
    ok = (h[j] = tanh_neuron(ctx, NIN, hidden_w(m, j), x, hidden_b(m, j))) != NULL;
  if (ok) y = tanh_neuron(ctx, NHIDDEN, out_w(m), h, out_b(m));
  for (int i = 0; i < NIN; i++) tl_release(ctx, x[i]);      /* NULL is fine */
  for (int j = 0; j < NHIDDEN; j++) tl_release(ctx, h[j]);
  return y;
}

/* Mean squared error over the four points: a new reference, or NULL.
** Each error e_i = y_i - t_i is a _K op, and sumsq adds their squares. */
static tl_node *loss_of(tl_ctx *ctx, model *m) {
  tl_node *err[4] = { NULL }, *sq = NULL, *loss = NULL;
  int ok = 1;
  for (int i = 0; i < 4 && ok; i++) {
    tl_node *y = forward(ctx, m, inputs[i]);
    ok = y != NULL && (err[i] = tl_with_const(ctx, TL_OP_SUB_K, y, targets[i])) != NULL;
    tl_release(ctx, y);
  }
  if (ok && (sq = tl_sumsq(ctx, 4, err)) != NULL)
    loss = tl_with_const(ctx, TL_OP_DIV_K, sq, 4.0);
  for (int i = 0; i < 4; i++) tl_release(ctx, err[i]);
  tl_release(ctx, sq);
  return loss;
}

/* One step of gradient descent; returns the loss before it, or -1. */
static double step(tl_ctx *ctx, model *m) {
  tl_node *loss = loss_of(ctx, m);
  if (loss == NULL) return -1;
  for (int k = 0; k < NPARAMS; k++) tl_set_grad(m->p[k], 0);  /* leaves accumulate */
  double value = -1;
  if (tl_backward(ctx, loss) == TL_OK) {
    value = tl_data(loss);
    for (int k = 0; k < NPARAMS; k++)
      tl_set_data(m->p[k], tl_data(m->p[k]) - LR * tl_grad(m->p[k]));
  }
  tl_release(ctx, loss);       /* frees the whole graph of this step */
  return value;
}

static int train(tl_ctx *ctx, model *m) {
  tl_rng_seed(ctx, 42);
  for (int k = 0; k < NPARAMS; k++) {
    m->p[k] = tl_leaf(ctx, 2 * tl_rng_uniform(ctx) - 1);
    if (m->p[k] == NULL) return 0;
  }
  double loss = 0;
  for (int s = 0; s < STEPS; s++) {
    if ((loss = step(ctx, m)) < 0) return 0;
    if (s % 100 == 0) printf("xor: step %3d loss %.6f\n", s, loss);
  }
  int learnt = 1;
  for (int i = 0; i < 4; i++) {
    tl_node *y = forward(ctx, m, inputs[i]);
    if (y == NULL) return 0;
    printf("xor: xor(%g, %g) -> %+.4f\n", inputs[i][0], inputs[i][1], tl_data(y));
    learnt = learnt && tl_data(y) * targets[i] > 0;
    tl_release(ctx, y);
  }
  printf("xor: final loss %.6f, %zu live nodes (the %d parameters)\n", loss,
         tl_ctx_live_nodes(ctx), NPARAMS);
  return learnt && tl_ctx_live_nodes(ctx) == NPARAMS;
}

int main(void) {
  tl_ctx *ctx = tl_ctx_new();
  if (ctx == NULL) {
    fprintf(stderr, "xor: not enough memory for a context\n");
    return EXIT_FAILURE;
  }
  model m = { { NULL } };
  int ok = train(ctx, &m);
  if (!ok) fprintf(stderr, "xor: failed: %s\n", tl_ctx_error(ctx)[0] ?
                   tl_ctx_error(ctx) : "the network did not learn XOR");
  for (int k = 0; k < NPARAMS; k++) tl_release(ctx, m.p[k]);
  tl_ctx_free(ctx);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
