/*
** gemm_impl.h -- the body of gemm.c, included once per dtype.  The
** includer defines:
**   T        the value type (double, float)
**   GM(x)    a name for x in this dtype (x##_f64)
**   NR       columns of a micro-kernel tile: two vectors of LANES
**   FMA      the scalar fused multiply-add (fma, fmaf)
**   with TL_HAVE_FMA_KERNEL, the AVX2 vector type and operations: VEC,
**   LANES, VZERO, VLOAD, VSTORE, VBCAST, VFMA, VADD, and the AVX2
**   packing helpers of gemm.c: PACK_A_ROWS(src, rs, kc, dst) packs MR
**   rows of a row-major A into a panel, PACK_B_COLS(src, cs, kc, dst) NR
**   columns of a B read transposed; each returns how many of the kc steps
**   it did (the rest are left to the scalar loop)
** and gets static GM(gemm)(ctx, n, k, m, A, B, C, assign); the file
** #undefs its parameters at the end, ready for the next dtype.  Everything
** said in gemm.c holds for each dtype.
*/

/* A strided matrix view: element (i, j) is at p[i * rs + j * cs]. */
typedef struct GM(mat) { const T *p; size_t rs, cs; } GM(mat);


/* {======================================================================
** Kernels: the portable one (libm's fma) and the FMA one (AVX2 + FMA
** instructions), computing the same thing.  A kernel adds to c[mr x nr]
** (row stride ldc) the sums over kc steps of a[i] * b[j], where step p
** reads a + p * a_step (rows a_rs apart) and b + p * b_step (columns
** b_cs apart).  A packed B panel is the case b_step = NR, b_cs = 1; a
** packed A panel a_step = MR, a_rs = 1, but a small A is read in place.
** ======================================================================= */

typedef struct GM(args) {
  int assign;                 /* store the sums into c instead of adding */
  int b_panel;                /* b is a packed panel (padded: all NR
                              ** columns may be read) */
  int a_rows;                 /* rows of a that may be read: mr, or MR
                              ** for a packed (padded) panel */
  size_t kc;
  const T *a; size_t a_step, a_rs;
  const T *b; size_t b_step, b_cs;
  T *c; size_t ldc, mr, nr;
} GM(args);

/* c[mr x nr] (+)= the tile's sums (row stride 'ts').  The sums start from
** +0 and add fused products, so none is ever -0: storing one and adding it
** to a zeroed c give the same bits, and assigning saves zeroing c. */
static void GM(write_back)(const GM(args) *k, const T *tile, size_t ts) {
  for (size_t i = 0; i < k->mr; i++) {
    T *c = k->c + i * k->ldc;
    const T *t = tile + i * ts;
    if (k->assign) memcpy(c, t, k->nr * sizeof *c);
    else
      for (size_t j = 0; j < k->nr; j++) c[j] += t[j];
  }
}

static void GM(kernel_portable)(const GM(args) *k) {
  T acc[MR][NR] = {{0}};
  for (size_t p = 0; p < k->kc; p++) {
    const T *ap = k->a + p * k->a_step, *bp = k->b + p * k->b_step;
    for (size_t i = 0; i < k->mr; i++)
      for (size_t j = 0; j < k->nr; j++)
        acc[i][j] = FMA(ap[i * k->a_rs], bp[j * k->b_cs], acc[i][j]);
  }
  GM(write_back)(k, &acc[0][0], NR);
}

#ifdef TL_HAVE_FMA_KERNEL
/* A B panel and six rows of A (full 6 x 8 tiles in registers: 12
** accumulators of 4, two of B, one broadcast of A), a B panel and fewer
** rows of A row by row, and any other through the strided loop with
** scalar fused multiply-adds.  A's six rows are reached from two
** pointers (rows 0-2 from a0, 3-5 from a3), whatever A's strides. */
__attribute__((target("avx2,fma")))
static void GM(kernel_fma)(const GM(args) *k) {
  int six = k->b_panel && k->a_rows == MR;
  size_t rs = k->a_rs, rs2 = 2 * k->a_rs, as = k->a_step;
  if (six && k->nr <= LANES) {
    /* the last panel of a product whose width leaves at most one vector
    ** of columns (100 = 6 x 16 + 4): half the work of a whole tile, the
    ** same sums lane by lane */
    VEC c0 = VZERO(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    const T *a0 = k->a, *a3 = k->a + 3 * rs, *b = k->b;
    for (size_t p = 0, kc = k->kc; p < kc; p++, a0 += as, a3 += as, b += NR) {
      VEC b0 = VLOAD(b);
      c0 = VFMA(VBCAST(a0), b0, c0);
      c1 = VFMA(VBCAST(a0 + rs), b0, c1);
      c2 = VFMA(VBCAST(a0 + rs2), b0, c2);
      c3 = VFMA(VBCAST(a3), b0, c3);
      c4 = VFMA(VBCAST(a3 + rs), b0, c4);
      c5 = VFMA(VBCAST(a3 + rs2), b0, c5);
    }
    T tile[MR][NR];
    VSTORE(tile[0], c0); VSTORE(tile[1], c1); VSTORE(tile[2], c2);
    VSTORE(tile[3], c3); VSTORE(tile[4], c4); VSTORE(tile[5], c5);
    GM(write_back)(k, &tile[0][0], NR);
    return;
  }
  if (six) {
    /* twelve named accumulators: an array of them stays in memory (gcc
    ** 12 stores each one back every step, halving the rate) */
    VEC c00 = VZERO(), c01 = c00, c10 = c00, c11 = c00,
            c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00,
            c41 = c00, c50 = c00, c51 = c00;
    const T *a0 = k->a, *a3 = k->a + 3 * rs, *b = k->b;
    for (size_t p = 0, kc = k->kc; p < kc; p++, a0 += as, a3 += as, b += NR) {
      VEC b0 = VLOAD(b), b1 = VLOAD(b + LANES), ai;
#define TL_ROW(i, at) ai = VBCAST(at); \
      c##i##0 = VFMA(ai, b0, c##i##0); \
      c##i##1 = VFMA(ai, b1, c##i##1);
      TL_ROW(0, a0) TL_ROW(1, a0 + rs) TL_ROW(2, a0 + rs2)
      TL_ROW(3, a3) TL_ROW(4, a3 + rs) TL_ROW(5, a3 + rs2)
#undef TL_ROW
    }
    if (k->mr == MR && k->nr == NR) {
      /* a whole tile: straight into C, c + sum lane by lane as write_back
      ** adds (a stored tile and a copy cost small products 5-10%) */
      T *c = k->c;
      size_t ldc = k->ldc;
#define TL_PUT(i) if (k->assign) { \
        VSTORE(c + i * ldc, c##i##0); VSTORE(c + i * ldc + LANES, c##i##1); \
      } else { \
        VSTORE(c + i * ldc, VADD(VLOAD(c + i * ldc), c##i##0)); \
        VSTORE(c + i * ldc + LANES, VADD(VLOAD(c + i * ldc + LANES), c##i##1)); \
      }
      TL_PUT(0) TL_PUT(1) TL_PUT(2) TL_PUT(3) TL_PUT(4) TL_PUT(5)
#undef TL_PUT
      return;
    }
    T tile[MR][NR];
#define TL_STORE(i) VSTORE(tile[i], c##i##0); \
    VSTORE(tile[i] + LANES, c##i##1);
    TL_STORE(0) TL_STORE(1) TL_STORE(2) TL_STORE(3) TL_STORE(4) TL_STORE(5)
#undef TL_STORE
    GM(write_back)(k, &tile[0][0], NR);
    return;
  }
  /* fewer than MR rows, one row at a time: with B's rows contiguous (a
  ** panel's are, and padded), two vectors of sums; read transposed, NR
  ** scalar sums, each along a contiguous column of the stored matrix */
  T tile[MR][NR];
  for (size_t i = 0; i < k->mr; i++) {
    const T *a = k->a + i * k->a_rs;
    if ((k->nr == NR || k->b_panel) && k->b_cs == 1) {
      VEC acc0 = VZERO(), acc1 = VZERO();
      for (size_t p = 0, kc = k->kc; p < kc; p++) {
        VEC ai = VBCAST(a + p * k->a_step);
        const T *bp = k->b + p * k->b_step;
        acc0 = VFMA(ai, VLOAD(bp), acc0);
        acc1 = VFMA(ai, VLOAD(bp + LANES), acc1);
      }
      VSTORE(tile[i], acc0);
      VSTORE(tile[i] + LANES, acc1);
    } else if (k->nr == NR) {
      T s[NR] = {0};
      const T *b = k->b;
      size_t cs = k->b_cs;
      for (size_t p = 0, kc = k->kc; p < kc; p++, b += k->b_step) {
        T ap = a[p * k->a_step];
        for (size_t j = 0; j < NR; j++) s[j] = FMA(ap, b[j * cs], s[j]);
      }
      memcpy(tile[i], s, sizeof s);
    } else {
      for (size_t j = 0; j < k->nr; j++) {
        T s = 0;
        for (size_t p = 0; p < k->kc; p++)
          s = FMA(a[p * k->a_step], k->b[p * k->b_step + j * k->b_cs], s);
        tile[i][j] = s;
      }
    }
  }
  GM(write_back)(k, &tile[0][0], NR);
}
#endif

typedef void (*GM(kernel_fn))(const GM(args) *k);

/* The FMA kernel where the CPU has it (__builtin_cpu_supports reads what
** libgcc found at load time: no state of ours). */
static GM(kernel_fn) GM(pick_kernel)(void) {
#ifdef TL_HAVE_FMA_KERNEL
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return GM(kernel_fma);
#endif
  return GM(kernel_portable);
}

/* }====================================================================== */

/* Packs rows [i0, i0+mc) x cols [p0, p0+kc) of A into MR-row panels,
** zero-padding the last one. */
static void GM(pack_a)(GM(mat) A, size_t i0, size_t mc, size_t p0, size_t kc,
                   T *dst, int avx2) {
  (void)avx2;
  for (size_t ir = 0; ir < mc; ir += MR) {
    const T *src = A.p + (i0 + ir) * A.rs + p0 * A.cs;
    if (ir + MR <= mc && A.cs == 1) {         /* rows of A: MR streams */
      size_t p = 0;
#ifdef TL_HAVE_FMA_KERNEL
      if (avx2) { p = PACK_A_ROWS(src, A.rs, kc, dst); dst += p * MR; }
#endif
      for (; p < kc; p++, dst += MR)
        for (size_t i = 0; i < MR; i++) dst[i] = src[i * A.rs + p];
    }
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
static void GM(pack_b)(GM(mat) B, size_t p0, size_t kc, size_t j0, size_t nc,
                   T *dst, int avx2) {
  (void)avx2;
  for (size_t jr = 0; jr < nc; jr += NR) {
    const T *src = B.p + p0 * B.rs + (j0 + jr) * B.cs;
    if (jr + NR <= nc && B.cs == 1)           /* rows of B: copies */
      for (size_t p = 0; p < kc; p++, dst += NR)
        memcpy(dst, src + p * B.rs, NR * sizeof *dst);
    else if (jr + NR <= nc && B.rs == 1) {    /* B read transposed: NR streams */
      size_t p = 0;
#ifdef TL_HAVE_FMA_KERNEL
      if (avx2) { p = PACK_B_COLS(src, B.cs, kc, dst); dst += p * NR; }
#endif
      for (; p < kc; p++, dst += NR)
        for (size_t j = 0; j < NR; j++) dst[j] = src[j * B.cs + p];
    }
    else {                                    /* a last, narrower panel */
      size_t w = min_size(NR, nc - jr);
      memset(dst, 0, kc * NR * sizeof *dst);
      for (size_t j = 0; j < w; j++)
        for (size_t p = 0; p < kc; p++) dst[p * NR + j] = src[p * B.rs + j * B.cs];
      dst += kc * NR;
    }
  }
}

/* Straight from A and B, tile by tile: for fewer than MR rows (one sample
** through a layer), where packing would copy as many values as there are
** products, and for when there is no memory to pack into (a backward pass
** cannot fail).  From MR rows on, packing costs n k + k m copies for
** n k m products: little, even at the moons demo's sizes. */
static void GM(gemm_direct)(GM(kernel_fn) kernel, size_t n, size_t k, size_t m,
                        GM(mat) A, GM(mat) B, T *C, int assign) {
  for (size_t p0 = 0; p0 < k; p0 += TL_KC)
    for (size_t i0 = 0; i0 < n; i0 += MR)
      for (size_t j0 = 0; j0 < m; j0 += NR) {
        GM(args) ka = {
          assign && p0 == 0, 0, (int)min_size(MR, n - i0), min_size(TL_KC, k - p0),
          A.p + i0 * A.rs + p0 * A.cs, A.cs, A.rs,
          B.p + p0 * B.rs + j0 * B.cs, B.rs, B.cs,
          C + i0 * m + j0, m, min_size(MR, n - i0), min_size(NR, m - j0)
        };
        kernel(&ka);
      }
}

/* C (n x m, row-major, contiguous) += op(A) (n x k) op(B) (k x m).  An A
** of at most TL_A_IN_PLACE values per block of steps is read where it
** is (it stays in the first-level cache, and the kernel's broadcasts
** take any strides), so packing it would only copy it: the moons demo's
** batched step spent a fifth of its products' time packing. */
#define TL_A_IN_PLACE 4096
static void GM(gemm)(tl_ctx *ctx, size_t n, size_t k, size_t m, GM(mat) A,
                 GM(mat) B, T *C, int assign) {
  GM(kernel_fn) kernel = GM(pick_kernel)();
  if (n < MR) {
    GM(gemm_direct)(kernel, n, k, m, A, B, C, assign);
    return;
  }
  size_t kc_max = min_size(k, TL_KC);
  int in_place = n * kc_max <= TL_A_IN_PLACE;
  size_t mc_max = in_place ? 0 : min_size(round_up(n, MR), TL_MC);
  size_t nc_max = min_size(round_up(m, NR), TL_NC);
  T *ap = tl__pack_scratch(ctx, (mc_max + nc_max) * kc_max * sizeof(T));
  if (ap == NULL) {
    GM(gemm_direct)(kernel, n, k, m, A, B, C, assign);
    return;
  }
  T *bp = ap + mc_max * kc_max;
  int avx2 = kernel != GM(kernel_portable);   /* the packing helpers too */
  for (size_t j0 = 0; j0 < m; j0 += TL_NC) {
    size_t nc = min_size(TL_NC, m - j0);
    for (size_t p0 = 0; p0 < k; p0 += TL_KC) {
      size_t kc = min_size(TL_KC, k - p0);
      GM(pack_b)(B, p0, kc, j0, nc, bp, avx2);
      for (size_t i0 = 0; i0 < n; i0 += TL_MC) {
        size_t mc = min_size(TL_MC, n - i0);
        if (!in_place) GM(pack_a)(A, i0, mc, p0, kc, ap, avx2);
        for (size_t jr = 0; jr < nc; jr += NR)
          for (size_t ir = 0; ir < mc; ir += MR) {
            size_t mr = min_size(MR, mc - ir);
            GM(args) ka = {
              assign && p0 == 0, 1, in_place ? (int)mr : MR, kc,
              in_place ? A.p + (i0 + ir) * A.rs + p0 * A.cs : ap + ir * kc,
              in_place ? A.cs : MR, in_place ? A.rs : 1,
              bp + jr * kc, NR, 1, C + (i0 + ir) * m + j0 + jr, m,
              mr, min_size(NR, nc - jr)
            };
            kernel(&ka);
          }
      }
    }
  }
}

#undef T
#undef GM
#undef NR
#undef FMA
#undef VEC
#undef LANES
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VBCAST
#undef VFMA
#undef VADD
#undef PACK_A_ROWS
#undef PACK_B_COLS
#undef TL_A_IN_PLACE
