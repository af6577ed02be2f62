/*
** gemm.c -- C += op(A) op(B) for float64 matrices, the one kernel behind
** matmul's forward and backward.
**
** Without BLAS this is a small GotoBLAS-style loop nest: blocks of op(B)
** and op(A) are packed into contiguous panels (which also absorbs the
** transposes: op(X) is read through row and column strides), and a 6x8
** register-blocked micro-kernel multiplies them.  The panels live in the
** context's scratch (ctx->pack), kept between calls: a fresh block each
** call would be fresh pages each call, which this machine pays for.
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

/* A strided matrix view: element (i, j) is at p[i * rs + j * cs]. */
typedef struct tl__mat { const double *p; size_t rs, cs; } tl__mat;

#define MR 6
#define NR 8
#define TL_KC 256
#define TL_MC 96      /* multiple of MR */
#define TL_NC 2048    /* multiple of NR */

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }
static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

/* {======================================================================
** Kernels: the portable one (libm's fma) and the FMA one (AVX2 + FMA
** instructions), computing the same thing.  A kernel adds to c[mr x nr]
** (row stride ldc) the sums over kc steps of a[i] * b[j], where step p
** reads a + p * a_step (rows a_rs apart) and b + p * b_step (columns
** b_cs apart).  The packed panels are the case a_rs = 1, b_cs = 1.
** ======================================================================= */

typedef struct kernel_args {
  int assign;                 /* store the sums into c instead of adding */
  int packed;                 /* a and b are packed panels (padded: whole
                              ** MR x NR tiles may be read) */
  size_t kc;
  const double *a; size_t a_step, a_rs;
  const double *b; size_t b_step, b_cs;
  double *c; size_t ldc, mr, nr;
} kernel_args;

/* c[mr x nr] (+)= the tile's sums (row stride 'ts').  The sums start from
** +0 and add fused products, so none is ever -0: storing one and adding it
** to a zeroed c give the same bits, and assigning saves zeroing c. */
static void write_back(const kernel_args *k, const double *tile, size_t ts) {
  for (size_t i = 0; i < k->mr; i++) {
    double *c = k->c + i * k->ldc;
    const double *t = tile + i * ts;
    if (k->assign) memcpy(c, t, k->nr * sizeof *c);
    else
      for (size_t j = 0; j < k->nr; j++) c[j] += t[j];
  }
}

static void kernel_portable(const kernel_args *k) {
  double acc[MR][NR] = {{0}};
  for (size_t p = 0; p < k->kc; p++) {
    const double *ap = k->a + p * k->a_step, *bp = k->b + p * k->b_step;
    for (size_t i = 0; i < k->mr; i++)
      for (size_t j = 0; j < k->nr; j++)
        acc[i][j] = fma(ap[i * k->a_rs], bp[j * k->b_cs], acc[i][j]);
  }
  write_back(k, &acc[0][0], NR);
}

#ifdef TL_HAVE_FMA_KERNEL
/* The packed case (full 6 x 8 panels in registers: 12 accumulators of 4,
** two of B, one broadcast of A), and any other through the strided loop
** with scalar fused multiply-adds. */
__attribute__((target("avx2,fma")))
static void kernel_fma(const kernel_args *k) {
  if (k->packed) {
    /* twelve named accumulators: an array of them stays in memory (gcc
    ** 12 stores each one back every step, halving the rate) */
    __m256d c00 = _mm256_setzero_pd(), c01 = c00, c10 = c00, c11 = c00,
            c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00,
            c41 = c00, c50 = c00, c51 = c00;
    const double *a = k->a, *b = k->b;
    for (size_t p = 0, kc = k->kc; p < kc; p++, a += MR, b += NR) {
      __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4), ai;
#define TL_ROW(i) ai = _mm256_broadcast_sd(a + i); \
      c##i##0 = _mm256_fmadd_pd(ai, b0, c##i##0); \
      c##i##1 = _mm256_fmadd_pd(ai, b1, c##i##1);
      TL_ROW(0) TL_ROW(1) TL_ROW(2) TL_ROW(3) TL_ROW(4) TL_ROW(5)
#undef TL_ROW
    }
    double tile[MR][NR];
#define TL_STORE(i) _mm256_storeu_pd(tile[i], c##i##0); \
    _mm256_storeu_pd(tile[i] + 4, c##i##1);
    TL_STORE(0) TL_STORE(1) TL_STORE(2) TL_STORE(3) TL_STORE(4) TL_STORE(5)
#undef TL_STORE
    write_back(k, &tile[0][0], NR);
    return;
  }
  /* straight from A and B (fewer than MR rows), one row at a time: with
  ** B's rows contiguous, two vectors of sums; read transposed, NR scalar
  ** sums, each along a contiguous column of the stored matrix */
  double tile[MR][NR];
  for (size_t i = 0; i < k->mr; i++) {
    const double *a = k->a + i * k->a_rs;
    if (k->nr == NR && k->b_cs == 1) {
      __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
      for (size_t p = 0, kc = k->kc; p < kc; p++) {
        __m256d ai = _mm256_broadcast_sd(a + p * k->a_step);
        const double *bp = k->b + p * k->b_step;
        acc0 = _mm256_fmadd_pd(ai, _mm256_loadu_pd(bp), acc0);
        acc1 = _mm256_fmadd_pd(ai, _mm256_loadu_pd(bp + 4), acc1);
      }
      _mm256_storeu_pd(tile[i], acc0);
      _mm256_storeu_pd(tile[i] + 4, acc1);
    } else if (k->nr == NR) {
      double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
      const double *b = k->b;
      size_t cs = k->b_cs;
      for (size_t p = 0, kc = k->kc; p < kc; p++, b += k->b_step) {
        double ap = a[p * k->a_step];
        s0 = __builtin_fma(ap, b[0], s0);
        s1 = __builtin_fma(ap, b[cs], s1);
        s2 = __builtin_fma(ap, b[2 * cs], s2);
        s3 = __builtin_fma(ap, b[3 * cs], s3);
        s4 = __builtin_fma(ap, b[4 * cs], s4);
        s5 = __builtin_fma(ap, b[5 * cs], s5);
        s6 = __builtin_fma(ap, b[6 * cs], s6);
        s7 = __builtin_fma(ap, b[7 * cs], s7);
      }
      double *t = tile[i];
      t[0] = s0; t[1] = s1; t[2] = s2; t[3] = s3;
      t[4] = s4; t[5] = s5; t[6] = s6; t[7] = s7;
    } else {
      for (size_t j = 0; j < k->nr; j++) {
        double s = 0;
        for (size_t p = 0; p < k->kc; p++)
          s = __builtin_fma(a[p * k->a_step], k->b[p * k->b_step + j * k->b_cs], s);
        tile[i][j] = s;
      }
    }
  }
  write_back(k, &tile[0][0], NR);
}
#endif

typedef void (*kernel_fn)(const kernel_args *k);

/* The FMA kernel where the CPU has it (__builtin_cpu_supports reads what
** libgcc found at load time: no state of ours). */
static kernel_fn pick_kernel(void) {
#ifdef TL_HAVE_FMA_KERNEL
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return kernel_fma;
#endif
  return kernel_portable;
}

/* }====================================================================== */

/* Packs rows [i0, i0+mc) x cols [p0, p0+kc) of A into MR-row panels,
** zero-padding the last one. */
static void pack_a(tl__mat A, size_t i0, size_t mc, size_t p0, size_t kc,
                   double *dst) {
  for (size_t ir = 0; ir < mc; ir += MR) {
    const double *src = A.p + (i0 + ir) * A.rs + p0 * A.cs;
    if (ir + MR <= mc && A.cs == 1)           /* rows of A: MR streams */
      for (size_t p = 0; p < kc; p++, dst += MR)
        for (size_t i = 0; i < MR; i++) dst[i] = src[i * A.rs + p];
    else if (ir + MR <= mc && A.rs == 1)      /* A read transposed: copies */
      for (size_t p = 0; p < kc; p++, dst += MR)
        memcpy(dst, src + p * A.cs, MR * sizeof *dst);
    else
      for (size_t p = 0; p < kc; p++)
        for (size_t i = 0; i < MR; i++)
          *dst++ = ir + i < mc ? src[i * A.rs + p * A.cs] : 0;
  }
}

/* Packs rows [p0, p0+kc) x cols [j0, j0+nc) of B into NR-column panels. */
static void pack_b(tl__mat B, size_t p0, size_t kc, size_t j0, size_t nc,
                   double *dst) {
  for (size_t jr = 0; jr < nc; jr += NR) {
    const double *src = B.p + p0 * B.rs + (j0 + jr) * B.cs;
    if (jr + NR <= nc && B.cs == 1)           /* rows of B: copies */
      for (size_t p = 0; p < kc; p++, dst += NR)
        memcpy(dst, src + p * B.rs, NR * sizeof *dst);
    else if (jr + NR <= nc && B.rs == 1)      /* B read transposed: NR streams */
      for (size_t p = 0; p < kc; p++, dst += NR)
        for (size_t j = 0; j < NR; j++) dst[j] = src[j * B.cs + p];
    else
      for (size_t p = 0; p < kc; p++)
        for (size_t j = 0; j < NR; j++)
          *dst++ = jr + j < nc ? src[p * B.rs + j * B.cs] : 0;
  }
}

/* Straight from A and B, tile by tile: for fewer than MR rows (one sample
** through a layer), where packing would copy as many values as there are
** products, and for when there is no memory to pack into (a backward pass
** cannot fail).  From MR rows on, packing costs n k + k m copies for
** n k m products: little, even at the moons demo's sizes. */
static void gemm_direct(kernel_fn kernel, size_t n, size_t k, size_t m,
                        tl__mat A, tl__mat B, double *C, int assign) {
  for (size_t p0 = 0; p0 < k; p0 += TL_KC)
    for (size_t i0 = 0; i0 < n; i0 += MR)
      for (size_t j0 = 0; j0 < m; j0 += NR) {
        kernel_args ka = {
          assign && p0 == 0, 0, min_size(TL_KC, k - p0),
          A.p + i0 * A.rs + p0 * A.cs, A.cs, A.rs,
          B.p + p0 * B.rs + j0 * B.cs, B.rs, B.cs,
          C + i0 * m + j0, m, min_size(MR, n - i0), min_size(NR, m - j0)
        };
        kernel(&ka);
      }
}

/* The context's packing scratch, grown to 'need' values; NULL when
** memory is short. */
static double *pack_scratch(tl_ctx *ctx, size_t need) {
  if (need > ctx->pack_cap) {
    double *p = realloc(ctx->pack, need * sizeof(double));
    if (p == NULL) return NULL;
    ctx->pack = p;
    ctx->pack_cap = need;
  }
  return ctx->pack;
}

/* C (n x m, row-major, contiguous) += op(A) (n x k) op(B) (k x m). */
static void gemm(tl_ctx *ctx, size_t n, size_t k, size_t m, tl__mat A,
                 tl__mat B, double *C, int assign) {
  kernel_fn kernel = pick_kernel();
  if (n < MR) {
    gemm_direct(kernel, n, k, m, A, B, C, assign);
    return;
  }
  size_t kc_max = min_size(k, TL_KC), mc_max = min_size(round_up(n, MR), TL_MC);
  size_t nc_max = min_size(round_up(m, NR), TL_NC);
  double *ap = pack_scratch(ctx, (mc_max + nc_max) * kc_max);
  if (ap == NULL) {
    gemm_direct(kernel, n, k, m, A, B, C, assign);
    return;
  }
  double *bp = ap + mc_max * kc_max;
  for (size_t j0 = 0; j0 < m; j0 += TL_NC) {
    size_t nc = min_size(TL_NC, m - j0);
    for (size_t p0 = 0; p0 < k; p0 += TL_KC) {
      size_t kc = min_size(TL_KC, k - p0);
      pack_b(B, p0, kc, j0, nc, bp);
      for (size_t i0 = 0; i0 < n; i0 += TL_MC) {
        size_t mc = min_size(TL_MC, n - i0);
        pack_a(A, i0, mc, p0, kc, ap);
        for (size_t jr = 0; jr < nc; jr += NR)
          for (size_t ir = 0; ir < mc; ir += MR) {
            kernel_args ka = {
              assign && p0 == 0, 1, kc, ap + ir * kc, MR, 1, bp + jr * kc, NR, 1,
              C + (i0 + ir) * m + j0 + jr, m,
              min_size(MR, mc - ir), min_size(NR, nc - jr)
            };
            kernel(&ka);
          }
      }
    }
  }
}

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
  tl__mat A = trans_a ? (tl__mat){a, 1, n} : (tl__mat){a, k, 1};
  tl__mat B = trans_b ? (tl__mat){b, 1, k} : (tl__mat){b, m, 1};
  gemm(ctx, n, k, m, A, B, c, assign);
#endif
}
