/*
** gemm.c -- C += op(A) op(B) for float64 and float32 matrices, the one
** kernel behind matmul's forward and backward.  The code is written once,
** in gemm_impl.h, and included here for each dtype.
**
** Without BLAS this is a small GotoBLAS-style loop nest: blocks of op(B)
** and op(A) are packed into contiguous panels (which also absorbs the
** transposes: op(X) is read through row and column strides), and a 6x8
** register-blocked micro-kernel multiplies them.  The panels live in the
** context's scratch (ctx->pack), kept between calls: a fresh block each
** call would be fresh pages each call, which this machine pays for.
**
** In float32 the tiles are 6 x 16 (a vector holds 8 floats) and the sums
** are float sums (fmaf), as in BLAS's sgemm.
**
** Every C[i][j] is summed in one order on every machine: its products
** are added one at a time, p ascending, each as a fused multiply-add
** (acc = fma(a, b, acc)), from 0 within blocks of TL_KC, and each block's
** sum is then added to C.  Where the CPU has FMA (every x86-64 since 2013)
** the kernels use it in vectors of 4; elsewhere the same fma() comes from
** libm, slower but bit for bit the same.  Small and thin products (one
** sample through a layer) skip the packing and follow the same order, so
** the path taken never changes a bit either.  Built with TL_USE_BLAS
** (premake --blas), cblas_dgemm does the work instead.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifdef TL_USE_BLAS
#include <cblas.h>
#endif

#ifndef TL_USE_BLAS

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define TL_HAVE_FMA_KERNEL 1
#endif

#define MR 6
#define TL_KC 256
#define TL_MC 96      /* multiple of MR */
#define TL_NC 2048    /* multiple of every NR */

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }
static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

/* The context's packing scratch, grown to 'bytes'; NULL when memory is
** short.  Both dtypes share it. */
static void *tl__pack_scratch(tl_ctx *ctx, size_t bytes) {
  size_t need = (bytes + sizeof(double) - 1) / sizeof(double);
  if (need > ctx->pack_cap) {
    double *p = realloc(ctx->pack, need * sizeof(double));
    if (p == NULL) return NULL;
    ctx->pack = p;
    ctx->pack_cap = need;
  }
  return ctx->pack;
}

/* float64: 6 x 8 tiles, vectors of 4 */
#define T double
#define GM(x) x##_f64
#define NR 8
#define FMA fma
#define VEC __m256d
#define LANES 4
#define VZERO _mm256_setzero_pd
#define VLOAD _mm256_loadu_pd
#define VSTORE _mm256_storeu_pd
#define VBCAST _mm256_broadcast_sd
#define VFMA _mm256_fmadd_pd
#include "gemm_impl.h"

/* float32: 6 x 16 tiles, vectors of 8 (the same 12 accumulators) */
#define T float
#define GM(x) x##_f32
#define NR 16
#define FMA fmaf
#define VEC __m256
#define LANES 8
#define VZERO _mm256_setzero_ps
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VBCAST _mm256_broadcast_ss
#define VFMA _mm256_fmadd_ps
#include "gemm_impl.h"

#endif

void tl__gemm(tl_ctx *ctx, size_t n, size_t k, size_t m, const double *a,
              int trans_a, const double *b, int trans_b, double *c,
              int assign) {
#ifdef TL_USE_BLAS
  (void)ctx;
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, (int)n, (int)m, (int)k, 1.0,
              a, trans_a ? (int)n : (int)k, b, trans_b ? (int)k : (int)m,
              assign ? 0.0 : 1.0, c, (int)m);
#else
  /* op(A)(i, p): A stored n x k, or k x n when transposed */
  mat_f64 A = trans_a ? (mat_f64){a, 1, n} : (mat_f64){a, k, 1};
  mat_f64 B = trans_b ? (mat_f64){b, 1, k} : (mat_f64){b, m, 1};
  gemm_f64(ctx, n, k, m, A, B, c, assign);
#endif
}

void tl__gemm_f32(tl_ctx *ctx, size_t n, size_t k, size_t m, const float *a,
                  int trans_a, const float *b, int trans_b, float *c,
                  int assign) {
#ifdef TL_USE_BLAS
  (void)ctx;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, (int)n, (int)m, (int)k, 1.0f,
              a, trans_a ? (int)n : (int)k, b, trans_b ? (int)k : (int)m,
              assign ? 0.0f : 1.0f, c, (int)m);
#else
  mat_f32 A = trans_a ? (mat_f32){a, 1, n} : (mat_f32){a, k, 1};
  mat_f32 B = trans_b ? (mat_f32){b, 1, k} : (mat_f32){b, m, 1};
  gemm_f32(ctx, n, k, m, A, B, c, assign);
#endif
}

void tl__gemm_t(tl_ctx *ctx, tl_dtype t, size_t n, size_t k, size_t m,
                const void *a, int trans_a, const void *b, int trans_b,
                void *c, int assign) {
  if (t == TL_FLOAT32) tl__gemm_f32(ctx, n, k, m, a, trans_a, b, trans_b, c, assign);
  else tl__gemm(ctx, n, k, m, a, trans_a, b, trans_b, c, assign);
}
