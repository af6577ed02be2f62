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
** A small op(A) (what fits the first-level cache) is not packed: the
** kernel broadcasts its values from where they are, whatever the strides.
** Small products (64, 100) spend a fifth of their time outside the
** kernel, so the AVX2 path also packs by in-register transposes, writes
** whole tiles straight into C, and gives a last panel of at most one
** vector of columns a half-width kernel; all three move or add the same
** values, so the order below holds on every path.
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

#ifdef TL_HAVE_FMA_KERNEL
/* {======================================================================
** Packing helpers (AVX2): a panel is op(X)'s values reordered, so these
** move values and never change one.  The strided gathers of the scalar
** loops (one value per load, MR or NR streams apart) become in-register
** transposes of 8 x 8 floats or 4 x 4 doubles.
** ======================================================================= */

/* The columns of 8 rows of 8 floats r0..r7: o[q] = (r0[q], ..., r7[q]). */
__attribute__((target("avx2")))
static inline void tr8_f32(const float *src, size_t ld, __m256 o[8]) {
  __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ld),
         r2 = _mm256_loadu_ps(src + 2 * ld), r3 = _mm256_loadu_ps(src + 3 * ld),
         r4 = _mm256_loadu_ps(src + 4 * ld), r5 = _mm256_loadu_ps(src + 5 * ld),
         r6 = _mm256_loadu_ps(src + 6 * ld), r7 = _mm256_loadu_ps(src + 7 * ld);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
         t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
         t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
         t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
         u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
         u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
         u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  o[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  o[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  o[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  o[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  o[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  o[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  o[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  o[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* 6 rows of a row-major A (rows 'rs' apart) into an MR-panel: dst[p*6+i]
** = src[i*rs+p], 8 steps at a time.  Rows 0-3 go through the first two
** stages of the 8 x 8 transpose: u[q & 3] holds rows 0-3 of step q in
** its low (q < 4) or high half; rows 4 and 5 are interleaved into pairs
** (r4[q], r5[q]), two per 128-bit half of t45[(q >> 1) & 1]. */
__attribute__((target("avx2")))
static size_t pack_a_rows_f32(const float *src, size_t rs, size_t kc,
                              float *dst) {
  size_t p = 0;
  for (; p + 8 <= kc; p += 8, dst += 8 * 6) {
    const float *s = src + p;
    __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + rs),
           r2 = _mm256_loadu_ps(s + 2 * rs), r3 = _mm256_loadu_ps(s + 3 * rs),
           r4 = _mm256_loadu_ps(s + 4 * rs), r5 = _mm256_loadu_ps(s + 5 * rs);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
           t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 u[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                   _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
    __m256 t45[2] = {_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5)};
    for (int q = 0; q < 8; q++) {
      __m128 rows03 = q < 4 ? _mm256_castps256_ps128(u[q & 3])
                            : _mm256_extractf128_ps(u[q & 3], 1);
      __m128 pairs = q < 4 ? _mm256_castps256_ps128(t45[(q >> 1) & 1])
                           : _mm256_extractf128_ps(t45[(q >> 1) & 1], 1);
      if (q & 1) pairs = _mm_movehl_ps(pairs, pairs);   /* the second pair */
      _mm_storeu_ps(dst + q * 6, rows03);
      _mm_storel_pi((__m64 *)(void *)(dst + q * 6 + 4), pairs);
    }
  }
  return p;
}

/* NR = 16 columns of a B read transposed (column j at src + j*cs, its
** steps contiguous) into an NR-panel: dst[p*16+j] = src[j*cs+p]. */
__attribute__((target("avx2")))
static size_t pack_b_cols_f32(const float *src, size_t cs, size_t kc,
                              float *dst) {
  size_t p = 0;
  for (; p + 8 <= kc; p += 8, dst += 8 * 16) {
    __m256 o[8];
    tr8_f32(src + p, cs, o);
    for (int q = 0; q < 8; q++) _mm256_storeu_ps(dst + q * 16, o[q]);
    tr8_f32(src + 8 * cs + p, cs, o);
    for (int q = 0; q < 8; q++) _mm256_storeu_ps(dst + q * 16 + 8, o[q]);
  }
  return p;
}

/* The columns of 4 rows of 4 doubles. */
__attribute__((target("avx2")))
static inline void tr4_f64(const double *src, size_t ld, __m256d o[4]) {
  __m256d r0 = _mm256_loadu_pd(src), r1 = _mm256_loadu_pd(src + ld),
          r2 = _mm256_loadu_pd(src + 2 * ld), r3 = _mm256_loadu_pd(src + 3 * ld);
  __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1),
          t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
  o[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
  o[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
  o[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
  o[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

/* 6 rows of a row-major A into an MR-panel, 4 steps at a time: rows 0-3
** by a transpose, rows 4 and 5 as pairs. */
__attribute__((target("avx2")))
static size_t pack_a_rows_f64(const double *src, size_t rs, size_t kc,
                              double *dst) {
  size_t p = 0;
  for (; p + 4 <= kc; p += 4, dst += 4 * 6) {
    __m256d o[4];
    tr4_f64(src + p, rs, o);
    __m256d r4 = _mm256_loadu_pd(src + 4 * rs + p), r5 = _mm256_loadu_pd(src + 5 * rs + p);
    __m256d lo = _mm256_unpacklo_pd(r4, r5), hi = _mm256_unpackhi_pd(r4, r5);
    for (int q = 0; q < 4; q++) _mm256_storeu_pd(dst + q * 6, o[q]);
    _mm_storeu_pd(dst + 0 * 6 + 4, _mm256_castpd256_pd128(lo));
    _mm_storeu_pd(dst + 1 * 6 + 4, _mm256_castpd256_pd128(hi));
    _mm_storeu_pd(dst + 2 * 6 + 4, _mm256_extractf128_pd(lo, 1));
    _mm_storeu_pd(dst + 3 * 6 + 4, _mm256_extractf128_pd(hi, 1));
  }
  return p;
}

/* NR = 8 columns of a B read transposed into an NR-panel. */
__attribute__((target("avx2")))
static size_t pack_b_cols_f64(const double *src, size_t cs, size_t kc,
                              double *dst) {
  size_t p = 0;
  for (; p + 4 <= kc; p += 4, dst += 4 * 8) {
    __m256d o[4];
    tr4_f64(src + p, cs, o);
    for (int q = 0; q < 4; q++) _mm256_storeu_pd(dst + q * 8, o[q]);
    tr4_f64(src + 4 * cs + p, cs, o);
    for (int q = 0; q < 4; q++) _mm256_storeu_pd(dst + q * 8 + 4, o[q]);
  }
  return p;
}

/* }====================================================================== */
#endif

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
#define VADD _mm256_add_pd
#define PACK_A_ROWS pack_a_rows_f64
#define PACK_B_COLS pack_b_cols_f64
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
#define VADD _mm256_add_ps
#define PACK_A_ROWS pack_a_rows_f32
#define PACK_B_COLS pack_b_cols_f32
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
