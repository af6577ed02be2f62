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
** The MLP rows and the moons step use the nn C API (tl_nn.h, tl_loss.h,
** tl_optim.h): the same calls that torchlet.nn, torchlet.loss and
** torchlet.optim make from Lua, so the two columns differ only by Lua.
*/
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/tl_loss.h"
#include "../core/tl_nn.h"
#include "../core/tl_optim.h"
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

static void must_ok(tl_ctx *ctx, tl_status st) {
  if (st != TL_OK) {
    fprintf(stderr, "bench_core: %s\n", tl_ctx_error(ctx));
    exit(1);
  }
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
** MLP(3, {4, 4, 1}) rows: ReLU hidden layers, linear output, as nn.MLP
** ======================================================================= */

static const double mlp_x[3] = {1.0, 2.0, 3.0};

/* A model of 'nlayers' layers of sizes[], ReLU but the last (linear). */
static tl_mlp *new_mlp(tl_ctx *ctx, size_t nin, size_t nlayers,
                       const size_t *sizes) {
  tl_act acts[8];
  for (size_t l = 0; l < nlayers; l++)
    acts[l] = l + 1 < nlayers ? TL_ACT_RELU : TL_ACT_LINEAR;
  tl_mlp *m = tl_mlp_new(ctx, TL_KIND_MLP, nin, nlayers, sizes, acts,
                         TL_INIT_DEFAULT);
  if (m == NULL) {
    fprintf(stderr, "bench_core: %s\n", tl_ctx_error(ctx));
    exit(1);
  }
  return m;
}

/* The output for the numbers 'x', which become leaves as they do when a
** Lua table of numbers goes in (bindings/nn.c). */
static tl_node *mlp_forward(tl_ctx *ctx, tl_mlp *m, const double *x) {
  tl_node *in[16], *out;
  size_t nin = tl_mlp_nin(m);
  for (size_t i = 0; i < nin; i++) in[i] = must(ctx, tl_leaf(ctx, x[i]));
  must_ok(ctx, tl_mlp_forward(ctx, m, in, &out));
  for (size_t i = 0; i < nin; i++) tl_release(ctx, in[i]);
  return out;
}

/* Forward and the release of its graph (the GC's share, as above). */
static double run_mlp_forward(tl_ctx *ctx, void *state, int inner) {
  tl_mlp *m = state;
  double t0 = now_ns();
  for (int i = 0; i < inner; i++) tl_release(ctx, mlp_forward(ctx, m, mlp_x));
  return now_ns() - t0;
}

/* One backward of (output * 1.0), over 'inner' graphs built beforehand. */
static double run_mlp_backward(tl_ctx *ctx, void *state, int inner) {
  static tl_node *roots[GRAPHS];
  tl_mlp *m = state;
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
  for (int i = 0; i < inner; i++) tl_mlp_zero_grad(state);
  return now_ns() - t0;
}

/* }====================================================================== */

/* {======================================================================
** The moons training step: MLP(2, {16, 16, 1}) on 100 points, loss =
** hinge + 1e-4 * sum(p^2), SGD with momentum, as bench/impls.lua does
** from Lua.
** ======================================================================= */

#define MOONS 100
#define PI 3.14159265358979323846

typedef struct moons {
  tl_mlp *model;
  tl_optim *opt;
  double x[MOONS][2], y[MOONS];
} moons;

/* Two interleaving half circles with Gaussian noise 0.1, labels -1 and 1
** (the shape of scikit-learn's make_moons). */
static void moons_init(tl_ctx *ctx, moons *s) {
  static const size_t sizes[3] = {16, 16, 1};
  for (int i = 0; i < MOONS; i++) {
    double t = PI * (i / 2) / (MOONS / 2 - 1);
    int upper = i % 2 == 0;
    s->x[i][0] = (upper ? cos(t) : 1 - cos(t)) + 0.1 * tl_rng_normal(ctx);
    s->x[i][1] = (upper ? sin(t) : 0.5 - sin(t)) + 0.1 * tl_rng_normal(ctx);
    s->y[i] = upper ? -1 : 1;
  }
  s->model = new_mlp(ctx, 2, 3, sizes);
  tl_optim_config cfg;
  tl_optim_defaults(TL_OPTIM_SGD, &cfg);
  cfg.lr = 0.1;
  cfg.momentum = 0.9;
  s->opt = tl_optim_new(ctx, TL_OPTIM_SGD, &cfg, tl_mlp_nparams(s->model),
                        tl_mlp_params(s->model));
  if (s->opt == NULL) {
    fprintf(stderr, "bench_core: %s\n", tl_ctx_error(ctx));
    exit(1);
  }
}

static void moons_free(tl_ctx *ctx, moons *s) {
  tl_optim_free(ctx, s->opt);
  tl_mlp_free(ctx, s->model);
}

/* One full step: forward over the points, loss, zero_grad, backward,
** update, and the release of the step's graph. */
static void moons_step(tl_ctx *ctx, moons *s) {
  tl_node *scores[MOONS];
  for (int i = 0; i < MOONS; i++) scores[i] = mlp_forward(ctx, s->model, s->x[i]);
  tl_node *stacked = must(ctx, tl_loss_stack(ctx, MOONS, scores));
  tl_node *hinge = must(ctx, tl_loss_hinge(ctx, stacked, MOONS, s->y));
  tl_release(ctx, stacked);
  tl_node *sq = must(ctx, tl_mlp_l2(ctx, s->model));
  tl_node *reg = must(ctx, tl_with_const(ctx, TL_OP_MUL_K, sq, 1e-4));
  tl_node *loss = must(ctx, tl_add(ctx, hinge, reg));
  for (int i = 0; i < MOONS; i++) tl_release(ctx, scores[i]);
  tl_release(ctx, hinge); tl_release(ctx, sq); tl_release(ctx, reg);
  tl_optim_zero_grad(s->opt);
  must_ok(ctx, tl_backward(ctx, loss));
  tl_optim_step(s->opt);
  tl_release(ctx, loss);
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

  static const size_t sizes[3] = {4, 4, 1};
  tl_mlp *small = new_mlp(ctx, 3, 3, sizes);
  measure("mlp_forward", "us", ctx, run_mlp_forward, small, GRAPHS, 300, 1.0, 1e-3);
  measure("mlp_backward", "us", ctx, run_mlp_backward, small, GRAPHS, 300, 1.0, 1e-3);
  measure("zero_grad", "us", ctx, run_zero_grad, small, GRAPHS, 300, 1.0, 1e-3);
  tl_mlp_free(ctx, small);

  static moons m;
  moons_init(ctx, &m);
  measure("moons_step", "us", ctx, run_moons, &m, 1, 500, 2.0, 1e-3);
  moons_free(ctx, &m);

  measure("chain", "ns_node", ctx, run_chain, NULL, CHAIN, 15, 3.0, 1.0);
  single("chain_free", chain_free_ns, "ns_node");
  single("node_bytes", (double)tl_node_size(), "bytes");
  single("pool_bytes_per_node", (double)tl_ctx_pool_bytes(ctx) / (CHAIN + 2),
         "bytes");
  printf("meta\tlive_nodes_at_end\t%zu\n", tl_ctx_live_nodes(ctx));
  tl_ctx_free(ctx);
  return 0;
}
