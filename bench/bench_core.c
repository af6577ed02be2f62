/*
** bench_core.c -- the benchmark rows measured on the core alone, from C:
** what Torchlet costs with no Lua in the way.  bench/run.lua runs this
** program and reads its output; it can also be run by hand:
**
**   build/bench/bench_core [--quick]
**
** Output, one line per row, tab-separated:
**   row  <id>  <min>  <median>  <mean>  <amortized>  <samples>  <unit>
** plus "meta <key> <value>" lines.  'amortized' is the median of the means
** of 10 blocks of consecutive samples, as in bench/harness.lua.  Units: us (microseconds per op or per
** pass), ns_node (nanoseconds per graph node), bytes.
**
** The MLP rows build the network from core ops (tl_leaf parameters,
** tl_neuron, tl_unary(TL_OP_RELU)) so that this program does not depend on
** the nn C API, which is being written on another branch; the graph is
** the one nn builds (one fused neuron node per neuron, ReLU on hidden
** layers, linear output), so the numbers carry over.
*/
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/torchlet.h"

static int quick = 0;  /* --quick: few samples, for the smoke test */

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Stops the program on a core failure: a benchmark of a failing call
** would measure nothing. */
static tl_node *must(tl_ctx *ctx, tl_node *n) {
  if (n == NULL) {
    fprintf(stderr, "bench_core: %s\n", tl_ctx_error(ctx));
    exit(1);
  }
  return n;
}

/* {======================================================================
** Sampling: a row is a function that runs 'inner' repetitions of its
** operation and returns the nanoseconds spent in the timed part only
** (setup such as building the graph to differentiate is left out).
** ======================================================================= */

typedef double (*timed_fn)(tl_ctx *ctx, void *state, int inner);

#define MAX_SAMPLES 1000

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of the sorted 'v[0..n)'. */
static double median(const double *v, int n) {
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define BLOCKS 10

/* The median of the means of BLOCKS runs of consecutive samples of
** 'v[0..n)' (in the order taken; the last run takes the remainder). */
static double median_of_block_means(const double *v, int n) {
  double means[BLOCKS];
  int size = (n + BLOCKS - 1) / BLOCKS, nb = 0;  /* so that nb <= BLOCKS */
  for (int i = 0; i < n;) {
    int last = n - i < 2 * size ? n : i + size;
    double sum = 0;
    for (int j = i; j < last; j++) sum += v[j];
    means[nb++] = sum / (last - i);
    i = last;
  }
  qsort(means, (size_t)nb, sizeof means[0], cmp_double);
  return median(means, nb);
}

/* Takes up to 'samples' samples (fewer if 'budget_s' seconds run out,
** never fewer than 3) after one warm-up, each the mean over 'inner' runs
** scaled by 'scale' (1e-3 for ns -> us), and prints the row. */
static void measure(const char *id, const char *unit, tl_ctx *ctx,
                    timed_fn fn, void *state, int inner, int samples,
                    double budget_s, double scale) {
  static double v[MAX_SAMPLES];
  if (quick) { samples = 3; budget_s = 0.05; }
  if (samples > MAX_SAMPLES) samples = MAX_SAMPLES;
  fn(ctx, state, inner);  /* warm-up: grows the pool and the scratch */
  double start = now_ns(), sum = 0;
  int n = 0;
  while (n < samples && (n < 3 || now_ns() - start < budget_s * 1e9)) {
    v[n] = fn(ctx, state, inner) / inner * scale;
    sum += v[n++];
  }
  double amortized = median_of_block_means(v, n);
  qsort(v, (size_t)n, sizeof v[0], cmp_double);
  printf("row\t%s\t%.6g\t%.6g\t%.6g\t%.6g\t%d\t%s\n", id, v[0], median(v, n),
         sum / n, amortized, n, unit);
  fflush(stdout);
}

/* A row with one value (a size, or the release of the last chain). */
static void single(const char *id, double value, const char *unit) {
  printf("row\t%s\t%.6g\t%.6g\t%.6g\t%.6g\t1\t%s\n", id, value, value, value,
         value, unit);
}

/* }====================================================================== */

/* {======================================================================
** Scalar rows: a + b, a * b, backward of a*b + a
** ======================================================================= */

typedef struct pair { tl_node *a, *b; tl_op op; } pair;

/* One op and the release of its result: in Lua the garbage collector
** pays that release, so it belongs to the cost of an op. */
static double run_binary(tl_ctx *ctx, void *state, int inner) {
  pair *p = state;
  double t0 = now_ns();
  for (int i = 0; i < inner; i++)
    tl_release(ctx, must(ctx, tl_binary(ctx, p->op, p->a, p->b)));
  return now_ns() - t0;
}

#define GRAPHS 100

/* Builds 'inner' fresh graphs d = a*b + a, times one backward of each. */
static double run_backward(tl_ctx *ctx, void *state, int inner) {
  static tl_node *roots[GRAPHS], *leaves[2 * GRAPHS];
  (void)state;
  for (int i = 0; i < inner; i++) {
    tl_node *a = must(ctx, tl_leaf(ctx, 2.0)), *b = must(ctx, tl_leaf(ctx, 3.0));
    tl_node *c = must(ctx, tl_mul(ctx, a, b));
    roots[i] = must(ctx, tl_add(ctx, c, a));
    tl_release(ctx, c);
    leaves[2 * i] = a;
    leaves[2 * i + 1] = b;
  }
  double t0 = now_ns();
  for (int i = 0; i < inner; i++) tl_backward(ctx, roots[i]);
  double t = now_ns() - t0;
  for (int i = 0; i < inner; i++) tl_release(ctx, roots[i]);
  for (int i = 0; i < 2 * inner; i++) tl_release(ctx, leaves[i]);
  return t;
}

/* }====================================================================== */

/* {======================================================================
** An MLP from core ops, micrograd's: weights uniform in [-1, 1], biases
** 0, ReLU on every layer but the last.
** ======================================================================= */

#define MAX_LAYERS 4
#define MAX_WIDTH 16

typedef struct mlp {
  int nlayers, sizes[MAX_LAYERS + 1];
  /* w[l][j][i]: weight i of neuron j of layer l; b[l][j]: its bias */
  tl_node *w[MAX_LAYERS][MAX_WIDTH][MAX_WIDTH], *b[MAX_LAYERS][MAX_WIDTH];
  double vel[MAX_LAYERS * MAX_WIDTH * (MAX_WIDTH + 1)];  /* SGD momentum,
                                        one slot per parameter in order */
} mlp;

static void mlp_init(tl_ctx *ctx, mlp *m, int nin, int nlayers, const int *nouts) {
  memset(m, 0, sizeof *m);
  m->nlayers = nlayers;
  m->sizes[0] = nin;
  for (int l = 0; l < nlayers; l++) {
    m->sizes[l + 1] = nouts[l];
    for (int j = 0; j < nouts[l]; j++) {
      for (int i = 0; i < m->sizes[l]; i++)
        m->w[l][j][i] = must(ctx, tl_leaf(ctx, 2 * tl_rng_uniform(ctx) - 1));
      m->b[l][j] = must(ctx, tl_leaf(ctx, 0.0));
    }
  }
}

static void mlp_free(tl_ctx *ctx, mlp *m) {
  for (int l = 0; l < m->nlayers; l++)
    for (int j = 0; j < m->sizes[l + 1]; j++) {
      for (int i = 0; i < m->sizes[l]; i++) tl_release(ctx, m->w[l][j][i]);
      tl_release(ctx, m->b[l][j]);
    }
}

/* The output node (one output) for the input numbers 'x', which become
** leaves as they do when a Lua table of numbers goes in. */
static tl_node *mlp_forward(tl_ctx *ctx, mlp *m, const double *x) {
  tl_node *cur[MAX_WIDTH], *next[MAX_WIDTH];
  int width = m->sizes[0];
  for (int i = 0; i < width; i++) cur[i] = must(ctx, tl_leaf(ctx, x[i]));
  for (int l = 0; l < m->nlayers; l++) {
    int last = l == m->nlayers - 1;
    for (int j = 0; j < m->sizes[l + 1]; j++) {
      tl_node *act = must(ctx, tl_neuron(ctx, (size_t)width, m->w[l][j], cur,
                                         m->b[l][j]));
      if (!last) {
        tl_node *r = must(ctx, tl_unary(ctx, TL_OP_RELU, act));
        tl_release(ctx, act);
        act = r;
      }
      next[j] = act;
    }
    for (int i = 0; i < width; i++) tl_release(ctx, cur[i]);
    width = m->sizes[l + 1];
    memcpy(cur, next, (size_t)width * sizeof cur[0]);
  }
  return cur[0];
}

static void mlp_zero_grad(mlp *m) {
  for (int l = 0; l < m->nlayers; l++)
    for (int j = 0; j < m->sizes[l + 1]; j++) {
      for (int i = 0; i < m->sizes[l]; i++) tl_set_grad(m->w[l][j][i], 0.0);
      tl_set_grad(m->b[l][j], 0.0);
    }
}

static const double mlp_x[3] = {1.0, 2.0, 3.0};

/* Forward and the release of its graph (the GC's share, as above). */
static double run_mlp_forward(tl_ctx *ctx, void *state, int inner) {
  mlp *m = state;
  double t0 = now_ns();
  for (int i = 0; i < inner; i++) tl_release(ctx, mlp_forward(ctx, m, mlp_x));
  return now_ns() - t0;
}

/* One backward of (output * 1.0), over 'inner' graphs built beforehand. */
static double run_mlp_backward(tl_ctx *ctx, void *state, int inner) {
  static tl_node *roots[GRAPHS];
  mlp *m = state;
  for (int i = 0; i < inner; i++) {
    tl_node *out = mlp_forward(ctx, m, mlp_x);
    roots[i] = must(ctx, tl_with_const(ctx, TL_OP_MUL_K, out, 1.0));
    tl_release(ctx, out);
  }
  double t0 = now_ns();
  for (int i = 0; i < inner; i++) tl_backward(ctx, roots[i]);
  double t = now_ns() - t0;
  for (int i = 0; i < inner; i++) tl_release(ctx, roots[i]);
  return t;
}

static double run_zero_grad(tl_ctx *ctx, void *state, int inner) {
  (void)ctx;
  double t0 = now_ns();
  for (int i = 0; i < inner; i++) mlp_zero_grad(state);
  return now_ns() - t0;
}

/* }====================================================================== */

/* {======================================================================
** The moons training step: MLP(2, {16, 16, 1}) on 100 points, loss =
** mean(relu(1 - y*score)) + 1e-4 * sum(p^2), SGD with momentum.
** ======================================================================= */

#define MOONS 100
#define PI 3.14159265358979323846

typedef struct moons {
  mlp model;
  double x[MOONS][2], y[MOONS];
} moons;

/* Two interleaving half circles with Gaussian noise 0.1, labels -1 and 1
** (scikit-learn's make_moons, shuffled by alternation). */
static void moons_init(tl_ctx *ctx, moons *s) {
  static const int sizes[3] = {16, 16, 1};
  for (int i = 0; i < MOONS; i++) {
    double t = PI * (i / 2) / (MOONS / 2 - 1);
    int upper = i % 2 == 0;
    s->x[i][0] = (upper ? cos(t) : 1 - cos(t)) + 0.1 * tl_rng_normal(ctx);
    s->x[i][1] = (upper ? sin(t) : 0.5 - sin(t)) + 0.1 * tl_rng_normal(ctx);
    s->y[i] = upper ? -1 : 1;
  }
  mlp_init(ctx, &s->model, 2, 3, sizes);
}

static int mlp_params(mlp *m, tl_node **out) {
  int n = 0;
  for (int l = 0; l < m->nlayers; l++)
    for (int j = 0; j < m->sizes[l + 1]; j++) {
      for (int i = 0; i < m->sizes[l]; i++) out[n++] = m->w[l][j][i];
      out[n++] = m->b[l][j];
    }
  return n;
}

/* One full step; returns the loss. */
static double moons_step(tl_ctx *ctx, moons *s) {
  static tl_node *params[MAX_LAYERS * MAX_WIDTH * (MAX_WIDTH + 1)];
  tl_node *margins[MOONS];
  int np = mlp_params(&s->model, params);
  for (int i = 0; i < MOONS; i++) {
    tl_node *score = mlp_forward(ctx, &s->model, s->x[i]);
    tl_node *ys = must(ctx, tl_with_const(ctx, TL_OP_MUL_K, score, -s->y[i]));
    tl_node *m = must(ctx, tl_with_const(ctx, TL_OP_ADD_K, ys, 1.0));
    margins[i] = must(ctx, tl_unary(ctx, TL_OP_RELU, m));
    tl_release(ctx, score); tl_release(ctx, ys); tl_release(ctx, m);
  }
  tl_node *sum = must(ctx, tl_sum(ctx, MOONS, margins));
  tl_node *data = must(ctx, tl_with_const(ctx, TL_OP_MUL_K, sum, 1.0 / MOONS));
  tl_node *sq = must(ctx, tl_sumsq(ctx, (size_t)np, params));
  tl_node *reg = must(ctx, tl_with_const(ctx, TL_OP_MUL_K, sq, 1e-4));
  tl_node *loss = must(ctx, tl_add(ctx, data, reg));
  for (int i = 0; i < MOONS; i++) tl_release(ctx, margins[i]);
  tl_release(ctx, sum); tl_release(ctx, data);
  tl_release(ctx, sq); tl_release(ctx, reg);
  mlp_zero_grad(&s->model);
  tl_backward(ctx, loss);
  double lr = 0.1, momentum = 0.9, *vel = s->model.vel;
  for (int k = 0; k < np; k++) {
    vel[k] = momentum * vel[k] + tl_grad(params[k]);
    tl_set_data(params[k], tl_data(params[k]) - lr * vel[k]);
  }
  double value = tl_data(loss);
  tl_release(ctx, loss);
  return value;
}

static double run_moons(tl_ctx *ctx, void *state, int inner) {
  double t0 = now_ns();
  for (int i = 0; i < inner; i++) moons_step(ctx, state);
  return now_ns() - t0;
}

/* }====================================================================== */

/* {======================================================================
** The million chain: x_{i+1} = x_i * w, forward then backward
** ======================================================================= */

#define CHAIN 1000000

static double chain_free_ns;  /* the release of the last run, per node */

static double run_chain(tl_ctx *ctx, void *state, int inner) {
  (void)state; (void)inner;
  tl_node *w = must(ctx, tl_leaf(ctx, 1.0));
  tl_node *x = must(ctx, tl_leaf(ctx, 1.0));
  double t0 = now_ns();
  for (int i = 0; i < CHAIN; i++) {
    tl_node *y = must(ctx, tl_mul(ctx, x, w));
    tl_release(ctx, x);  /* y holds x now */
    x = y;
  }
  tl_backward(ctx, x);
  double t = now_ns() - t0;
  double t1 = now_ns();
  tl_release(ctx, x);
  chain_free_ns = (now_ns() - t1) / CHAIN;
  tl_release(ctx, w);
  return t;
}

/* }====================================================================== */

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) quick = 1;
    else {
      fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
      return 2;
    }
  }
  tl_ctx *ctx = tl_ctx_new();
  if (ctx == NULL) { fprintf(stderr, "bench_core: no memory\n"); return 1; }
  tl_rng_seed(ctx, 1);
#if defined(__clang__)
  printf("meta\tcompiler\tclang %s\n", __VERSION__);
#elif defined(__GNUC__)
  printf("meta\tcompiler\tgcc %s\n", __VERSION__);
#endif
  printf("meta\tcore\t%s\n", TL_VERSION);

  pair p = {must(ctx, tl_leaf(ctx, 2.0)), must(ctx, tl_leaf(ctx, 3.0)), TL_OP_ADD};
  measure("add", "us", ctx, run_binary, &p, 1000, 300, 1.0, 1e-3);
  p.op = TL_OP_MUL;
  measure("mul", "us", ctx, run_binary, &p, 1000, 300, 1.0, 1e-3);
  measure("backward", "us", ctx, run_backward, NULL, GRAPHS, 300, 1.0, 1e-3);
  tl_release(ctx, p.a);
  tl_release(ctx, p.b);

  static mlp small;
  static const int sizes[3] = {4, 4, 1};
  mlp_init(ctx, &small, 3, 3, sizes);
  measure("mlp_forward", "us", ctx, run_mlp_forward, &small, GRAPHS, 300, 1.0, 1e-3);
  measure("mlp_backward", "us", ctx, run_mlp_backward, &small, GRAPHS, 300, 1.0, 1e-3);
  measure("zero_grad", "us", ctx, run_zero_grad, &small, GRAPHS, 300, 1.0, 1e-3);
  mlp_free(ctx, &small);

  static moons m;
  moons_init(ctx, &m);
  measure("moons_step", "us", ctx, run_moons, &m, 1, 200, 2.0, 1e-3);
  mlp_free(ctx, &m.model);

  measure("chain", "ns_node", ctx, run_chain, NULL, CHAIN, 15, 3.0, 1.0);
  single("chain_free", chain_free_ns, "ns_node");
  single("node_bytes", (double)tl_node_size(), "bytes");
  single("pool_bytes_per_node", (double)tl_ctx_pool_bytes(ctx) / (CHAIN + 2),
         "bytes");
  printf("meta\tlive_nodes_at_end\t%zu\n", tl_ctx_live_nodes(ctx));
  tl_ctx_free(ctx);
  return 0;
}
