/*
** bench_matmul.c -- matmul at 64, 100, 256, 1000 and 1024 in float64 and
** float32: Torchlet's own kernel (tl_matmul, as the core was built)
** against OpenBLAS's cblas_dgemm / cblas_sgemm on one thread, in the same
** run, in GFLOP/s (2 n^3 flops).
**
**   build/bench/bench_matmul [--quick]
**
** Output, tab-separated: "matmul <dtype> <n> <torchlet GFLOP/s> <blas
** GFLOP/s>" (best of several runs each; blas is "n/a" when built without
** OpenBLAS).
** Built with OpenBLAS when pkg-config finds it (premake5.lua).
*/
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/torchlet.h"

#ifdef TL_BENCH_BLAS
#include <cblas.h>
void openblas_set_num_threads(int);
#endif

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs of a product of n x n, enough to fill about 'budget' seconds. */
static int runs_for(size_t n, int quick) {
  double flops = 2.0 * (double)n * (double)n * (double)n;
  int runs = (int)(2e9 / flops);   /* ~0.1 s at 20 GFLOP/s */
  if (quick) runs = 1;
  return runs < 2 ? 2 : runs > 200 ? 200 : runs;
}

/* The best time of 'runs' products a b in Torchlet, or a negative number
** after printing the error. */
static double time_torchlet(tl_ctx *ctx, tl_node *a, tl_node *b, int runs) {
  double best = 1e30;
  for (int r = 0; r < runs; r++) {
    double t = now_s();
    tl_node *c = tl_matmul(ctx, a, b);
    t = now_s() - t;
    if (c == NULL) { fprintf(stderr, "%s\n", tl_ctx_error(ctx)); return -1; }
    tl_release(ctx, c);
    if (t < best) best = t;
  }
  return best;
}

#ifdef TL_BENCH_BLAS
/* The same with OpenBLAS on the same operands. */
static double time_blas(tl_node *a, tl_node *b, size_t n, int runs) {
  int f32 = tl_dtype_of(a) == TL_FLOAT32, in = (int)n;
  void *c = malloc(n * n * (f32 ? sizeof(float) : sizeof(double)));
  double best = 1e30;
  for (int r = 0; r < runs && c != NULL; r++) {
    double t = now_s();
    if (f32)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, in, in, in, 1.0f,
                  tl_values_f32(a), in, tl_values_f32(b), in, 0.0f, c, in);
    else
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, in, in, in, 1.0,
                  tl_values(a), in, tl_values(b), in, 0.0, c, in);
    t = now_s() - t;
    if (t < best) best = t;
  }
  free(c);
  return best;
}
#endif

int main(int argc, char **argv) {
  int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  static const size_t sizes[] = {64, 100, 256, 1000, 1024};
  tl_ctx *ctx = tl_ctx_new();
  if (ctx == NULL) return 1;
  tl_rng_seed(ctx, 1);
#ifdef TL_BENCH_BLAS
  openblas_set_num_threads(1);   /* one thread, like Torchlet's kernel */
#endif
  for (int d = 0; d < 2; d++) {
    tl_dtype dtype = d == 0 ? TL_FLOAT64 : TL_FLOAT32;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      size_t n = sizes[s], shape[2] = {n, n};
      tl_node *a = tl_array_of(ctx, dtype, 2, shape, NULL);
      tl_node *b = tl_array_of(ctx, dtype, 2, shape, NULL);
      if (a == NULL || b == NULL) { fprintf(stderr, "%s\n", tl_ctx_error(ctx)); return 1; }
      for (size_t i = 0; i < n * n; i++) {
        tl_set_value_at(a, i, tl_rng_normal(ctx));
        tl_set_value_at(b, i, tl_rng_normal(ctx));
      }
      double flops = 2.0 * (double)n * (double)n * (double)n;
      int runs = runs_for(n, quick);
      double best = time_torchlet(ctx, a, b, runs);
      if (best < 0) return 1;
      printf("matmul\t%s\t%zu\t%.2f\t", tl_dtype_name(dtype), n, flops / best * 1e-9);
#ifdef TL_BENCH_BLAS
      printf("%.2f\n", flops / time_blas(a, b, n, runs) * 1e-9);
#else
      printf("n/a\n");
#endif
      tl_release(ctx, a);
      tl_release(ctx, b);
    }
  }
  tl_ctx_free(ctx);
  return 0;
}
