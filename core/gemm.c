/*
** gemm.c -- C += op(A) op(B) for float64 matrices, the one kernel behind
** matmul's forward and backward.
**
** Without BLAS this is a small GotoBLAS-style loop nest: blocks of op(B)
** and op(A) are packed into contiguous panels (which also absorbs the
** transposes: op(X) is read through row and column strides), and a 6x8
** register-blocked micro-kernel written with GCC vector types multiplies
** them.  The kernel is compiled twice, for AVX2 and for the baseline, and
** the loader picks one (target_clones).
**
** Every C[i][j] sums its products in the same order on every machine (in
** blocks of TL_KC along k, no fused multiply-add), so results do not depend
** on the instruction set.  Built with TL_USE_BLAS (premake --blas), cblas_dgemm
** does the work instead.
*/
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifdef TL_USE_BLAS
#include <cblas.h>
#endif

#ifndef TL_USE_BLAS

/* A strided matrix view: element (i, j) is at p[i * rs + j * cs]. */
typedef struct tl__mat { const double *p; size_t rs, cs; } tl__mat;

#define MR 6
#define NR 8
#define TL_KC 256
#define TL_MC 96      /* multiple of MR */
#define TL_NC 2048    /* multiple of NR */

typedef double v4d __attribute__((vector_size(32)));

/* c[MR x NR] (row stride ldc) += a-panel (kc x MR) times b-panel (kc x NR);
** only the top-left mr x nr of the tile is written back. */
TL_CLONES
static void micro_kernel(size_t kc, const double *restrict a,
                         const double *restrict b, double *restrict c,
                         size_t ldc, size_t mr, size_t nr) {
  v4d acc[MR][2];
  memset(acc, 0, sizeof acc);
  for (size_t p = 0; p < kc; p++) {
    v4d b0, b1;
    memcpy(&b0, b + p * NR, sizeof b0);
    memcpy(&b1, b + p * NR + 4, sizeof b1);
    const double *ap = a + p * MR;
    /* unrolled, so that the accumulators live in registers */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 6
#endif
    for (int i = 0; i < MR; i++) {
      acc[i][0] += ap[i] * b0;
      acc[i][1] += ap[i] * b1;
    }
  }
  double tile[MR][NR];
  memcpy(tile, acc, sizeof tile);
  for (size_t i = 0; i < mr; i++)
    for (size_t j = 0; j < nr; j++) c[i * ldc + j] += tile[i][j];
}

/* Packs rows [i0, i0+mc) x cols [p0, p0+kc) of A into MR-row panels,
** zero-padding the last one. */
static void pack_a(tl__mat A, size_t i0, size_t mc, size_t p0, size_t kc,
                   double *dst) {
  for (size_t ir = 0; ir < mc; ir += MR)
    for (size_t p = 0; p < kc; p++)
      for (size_t i = 0; i < MR; i++)
        *dst++ = ir + i < mc ? A.p[(i0 + ir + i) * A.rs + (p0 + p) * A.cs] : 0;
}

/* Packs rows [p0, p0+kc) x cols [j0, j0+nc) of B into NR-column panels. */
static void pack_b(tl__mat B, size_t p0, size_t kc, size_t j0, size_t nc,
                   double *dst) {
  for (size_t jr = 0; jr < nc; jr += NR)
    for (size_t p = 0; p < kc; p++)
      for (size_t j = 0; j < NR; j++)
        *dst++ = jr + j < nc ? B.p[(p0 + p) * B.rs + (j0 + jr + j) * B.cs] : 0;
}

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }
static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

/* The plain triple loop, for when there is no memory to pack into (a
** backward pass cannot fail). */
static void gemm_unpacked(size_t n, size_t k, size_t m, tl__mat A, tl__mat B,
                          double *C) {
  for (size_t i = 0; i < n; i++)
    for (size_t p = 0; p < k; p++) {
      double aip = A.p[i * A.rs + p * A.cs];
      for (size_t j = 0; j < m; j++) C[i * m + j] += aip * B.p[p * B.rs + j * B.cs];
    }
}

/* C (n x m, row-major, contiguous) += op(A) (n x k) op(B) (k x m). */
static void gemm(size_t n, size_t k, size_t m, tl__mat A, tl__mat B, double *C) {
  size_t kc_max = min_size(k, TL_KC), mc_max = min_size(round_up(n, MR), TL_MC);
  size_t nc_max = min_size(round_up(m, NR), TL_NC);
  double *ap = malloc(mc_max * kc_max * sizeof(double));
  double *bp = malloc(kc_max * nc_max * sizeof(double));
  if (ap == NULL || bp == NULL) {
    free(ap);
    free(bp);
    gemm_unpacked(n, k, m, A, B, C);
    return;
  }
  for (size_t j0 = 0; j0 < m; j0 += TL_NC) {
    size_t nc = min_size(TL_NC, m - j0);
    for (size_t p0 = 0; p0 < k; p0 += TL_KC) {
      size_t kc = min_size(TL_KC, k - p0);
      pack_b(B, p0, kc, j0, nc, bp);
      for (size_t i0 = 0; i0 < n; i0 += TL_MC) {
        size_t mc = min_size(TL_MC, n - i0);
        pack_a(A, i0, mc, p0, kc, ap);
        for (size_t jr = 0; jr < nc; jr += NR)
          for (size_t ir = 0; ir < mc; ir += MR)
            micro_kernel(kc, ap + ir * kc, bp + jr * kc,
                         C + (i0 + ir) * m + j0 + jr, m,
                         min_size(MR, mc - ir), min_size(NR, nc - jr));
      }
    }
  }
  free(ap);
  free(bp);
}

#endif

void tl__gemm(size_t n, size_t k, size_t m, const double *a, int trans_a,
             const double *b, int trans_b, double *c) {
#ifdef TL_USE_BLAS
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, (int)n, (int)m, (int)k, 1.0,
              a, trans_a ? (int)n : (int)k, b, trans_b ? (int)k : (int)m, 1.0,
              c, (int)m);
#else
  /* op(A)(i, p): A stored n x k, or k x n when transposed */
  tl__mat A = trans_a ? (tl__mat){a, 1, n} : (tl__mat){a, k, 1};
  tl__mat B = trans_b ? (tl__mat){b, 1, k} : (tl__mat){b, m, 1};
  gemm(n, k, m, A, B, c);
#endif
}
