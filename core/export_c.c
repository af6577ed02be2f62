/*
** export_c.c -- a model as one dependency-free C99 header (tl_mlp_export_c).
**
** The header holds the parameters as constant arrays (hexadecimal float
** literals, "%a": every bit kept) and NAME_forward, which computes for one
** sample what tl_mlp_forward_batch computes, bit for bit.  That pins down
** the order of every operation, so the generated code copies gemm.c's and
** nn_ops.c's:
**
**   - each output j of a layer is a dot product of the inputs with row j
**     of W, summed p ascending as fused multiply-adds from +0, in blocks
**     of 256 (gemm.c's TL_KC): acc = fma(x[p], w[p], acc); the first
**     block's sum is stored, each later block's added to it;
**   - then the bias is added (nn_ops.c: "products first, then the bias");
**   - then the activation, as ops.c computes it: relu a < 0 ? 0 : a,
**     tanh(a), sigmoid 1 / (1 + exp(-a)) for a >= 0 and e / (1 + e) with
**     e = exp(a) below.
**
** fma() (math.h, C99) is what makes this exact and portable: the core's
** kernels use fused multiply-adds (in vector registers where the CPU has
** FMA), and fma() rounds once as they do on any machine; a plain
** "acc += x * w" would round twice, or once where a compiler contracts it,
** and differ in the last bits.  No other expression in the header has a
** product a compiler could contract.  tanh and exp come from the host's
** libm: identical bits need the same libm as the Torchlet that computed
** model(x) (glibc's are deterministic).  Built with TL_USE_BLAS, the core
** sums in BLAS's order instead, which this header does not follow.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "tl_interop.h"

#define MAX_NAME 64

static int is_identifier(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > MAX_NAME || (s[0] >= '0' && s[0] <= '9')) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
          (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
      return 0;
  return 1;
}

/* What the header computes in: a float64 model's double arithmetic, or
** a float32 model's float arithmetic (gemm.c's float sums are fmaf in the
** same order; elementwise.c computes tanh and sigmoid in double and rounds
** the result to float once, and so does the header). */
typedef struct ctype {
  const char *t;        /* "double" or "float" */
  const char *fma;      /* "fma" or "fmaf" */
  const char *suffix;   /* of a literal: "" or "f" */
  const char *round;    /* applied to a double libm result: "" or "(float)" */
} ctype;

static const ctype C_DOUBLE = {"double", "fma", "", ""};
static const ctype C_FLOAT = {"float", "fmaf", "f", "(float)"};

/* The helpers every generated header carries, prefixed with its name so
** two models can live in one translation unit ('%1$s' is the name; the
** text is printed once per '%s', so it is repeated as arguments). */
static void write_helpers(FILE *f, const char *n, const ctype *c) {
  const char *t = c->t, *fm = c->fma;
  fprintf(f,
    "/* sum of x[p] * w[p], p ascending, as fused multiply-adds from +0 in\n"
    "** blocks of 256, each block's sum added to the first's (gemm.c) */\n"
    "static inline %s %s_dot(const %s *x, const %s *w, int n) {\n"
    "  %s c = 0;\n"
    "  for (int p0 = 0; p0 < n; p0 += 256) {\n"
    "    %s acc = 0;\n"
    "    int end = n - p0 < 256 ? n : p0 + 256;\n"
    "    for (int p = p0; p < end; p++) acc = %s(x[p], w[p], acc);\n"
    "    c = p0 == 0 ? acc : c + acc;\n"
    "  }\n"
    "  return c;\n"
    "}\n\n", t, n, t, t, t, t, fm);
  fprintf(f,
    "/* the same for rows 0..7 of w (row stride 'ld') at once: eight\n"
    "** independent chains the CPU overlaps, each summed in %s_dot's order */\n"
    "static inline void %s_dot8(const %s *x, const %s *w, int ld,\n"
    "                            int n, %s *c) {\n"
    "  for (int p0 = 0; p0 < n; p0 += 256) {\n"
    "    /* named, not an array: at -O2 an array stays in memory */\n"
    "    %s a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;\n"
    "    int end = n - p0 < 256 ? n : p0 + 256;\n"
    "    for (int p = p0; p < end; p++) {\n"
    "      %s xp = x[p];\n", n, n, t, t, t, t, t);
  for (int r = 0; r < 8; r++) {
    char row[16] = "";
    if (r == 1) snprintf(row, sizeof row, "ld + ");
    else if (r > 1) snprintf(row, sizeof row, "%d * ld + ", r);
    fprintf(f, "      a%d = %s(xp, w[%sp], a%d);\n", r, fm, row, r);
  }
  fprintf(f,
    "    }\n"
    "    if (p0 == 0) {\n"
    "      c[0] = a0; c[1] = a1; c[2] = a2; c[3] = a3;\n"
    "      c[4] = a4; c[5] = a5; c[6] = a6; c[7] = a7;\n"
    "    } else {\n"
    "      c[0] += a0; c[1] += a1; c[2] += a2; c[3] += a3;\n"
    "      c[4] += a4; c[5] += a5; c[6] += a6; c[7] += a7;\n"
    "    }\n"
    "  }\n"
    "}\n\n");
  fprintf(f,
    "static inline %s %s_relu(%s a) { return a < 0 ? 0 : a; }\n"
    "static inline double %s_sigmoid(double a) {\n"
    "  if (a >= 0) return 1 / (1 + exp(-a));\n"
    "  double e = exp(a);\n"
    "  return e / (1 + e);\n"
    "}\n\n", t, n, t, n);
}

/* Parameter i of the model as a double (a float32 value widens exactly). */
static double param_value(tl_node *p, size_t i) {
  const float *f = tl_values_f32(p);
  return f ? (double)f[i] : tl_values(p)[i];
}

/* "%a" prints every bit of the double; a float32 value, widened, prints
** a literal that is exactly a float, marked as one by the suffix. */
static void write_array(FILE *f, const ctype *c, const char *what, size_t l,
                        tl_node *p) {
  size_t size = tl_size(p);
  fprintf(f, "  static const %s %s%zu[%zu] = {", c->t, what, l, size);
  for (size_t i = 0; i < size; i++)
    fprintf(f, "%s%a%s%s", i % 4 ? " " : "\n    ", param_value(p, i), c->suffix,
            i + 1 < size ? "," : "");
  fprintf(f, "\n  };\n");
}

static void write_header(FILE *f, const tl_mlp *m, const char *name) {
  size_t nl = tl_mlp_nlayers(m), nin = tl_mlp_nin(m);
  const ctype *c = tl_mlp_dtype(m) == TL_FLOAT32 ? &C_FLOAT : &C_DOUBLE;
  const char *t = c->t;
  char guard[MAX_NAME + 3];
  size_t k = 0;
  for (; name[k]; k++)
    guard[k] = name[k] >= 'a' && name[k] <= 'z' ? (char)(name[k] - 32) : name[k];
  guard[k] = '\0';
  fprintf(f, "/*\n** %s.h -- generated by Torchlet (model:export_c): a %s "
          "model with %zu inputs\n** and layers", name,
          tl_dtype_name(tl_mlp_dtype(m)), nin);
  for (size_t l = 0; l < nl; l++)
    fprintf(f, "%s %zu %s", l ? "," : "", tl_mlp_layer_size(m, l),
            tl_act_name(tl_mlp_layer_act(m, l)));
  fprintf(f, ".\n**\n**   %s in[%s_NIN], out[%s_NOUT];\n"
          "**   %s_forward(in, out);\n**\n"
          "** C99, no allocation; link with -lm (%s, and exp or tanh for "
          "sigmoid and\n** tanh).  The results are model(x)'s to the last "
          "bit: the same sums in the\n** same order (fused multiply-adds, "
          "%s()), with the same libm.  Do not\n** compile with -ffast-math, "
          "which licenses reordering the sums.\n*/\n", t, guard, guard, name,
          c->fma, c->fma);
  fprintf(f, "#ifndef %s_H\n#define %s_H\n\n#include <math.h>\n\n"
          "#define %s_NIN %zu\n#define %s_NOUT %zu\n\n", guard, guard, guard,
          nin, guard, tl_mlp_nout(m));
  write_helpers(f, name, c);
  fprintf(f, "static inline void %s_forward(const %s *in, %s *out) {\n",
          name, t, t);
  tl_node *const *ps = tl_mlp_params(m);
  for (size_t l = 0; l < nl; l++) {
    write_array(f, c, "w", l + 1, ps[2 * l]);
    write_array(f, c, "b", l + 1, ps[2 * l + 1]);
  }
  size_t fan_in = nin;
  for (size_t l = 0; l < nl; l++) {
    size_t size = tl_mlp_layer_size(m, l);
    char src[32], dst[32];
    snprintf(src, sizeof src, l == 0 ? "in" : "h%zu", l);
    snprintf(dst, sizeof dst, l + 1 == nl ? "out" : "h%zu", l + 1);
    if (l + 1 < nl) fprintf(f, "  %s %s[%zu];\n", t, dst, size);
    if (size >= 8)
      fprintf(f, "  for (int j = 0; j + 8 <= %zu; j += 8)\n"
              "    %s_dot8(%s, w%zu + j * %zu, %zu, %zu, %s + j);\n",
              size, name, src, l + 1, fan_in, fan_in, fan_in, dst);
    fprintf(f, "  for (int j = 0; j < %zu; j++) {\n"
            "    %s a = (j < %zu ? %s[j] : %s_dot(%s, w%zu + j * %zu, %zu))"
            " + b%zu[j];\n", size, t, size / 8 * 8, dst, name, src, l + 1,
            fan_in, fan_in, l + 1);
    switch (tl_mlp_layer_act(m, l)) {
      case TL_ACT_RELU: fprintf(f, "    a = %s_relu(a);\n", name); break;
      case TL_ACT_TANH: fprintf(f, "    a = %stanh(a);\n", c->round); break;
      case TL_ACT_SIGMOID:
        fprintf(f, "    a = %s%s_sigmoid(a);\n", c->round, name);
        break;
      default: break;
    }
    fprintf(f, "    %s[j] = a;\n  }\n", dst);
    fan_in = size;
  }
  fprintf(f, "}\n\n#endif\n");
}

tl_status tl_mlp_export_c(tl_ctx *ctx, const tl_mlp *m, const char *path,
                          const char *name) {
  if (m == NULL || path == NULL || name == NULL)
    return tl_ctx_fail(ctx, TL_EARG, "export_c: NULL model, path or name");
  if (!is_identifier(name))
    return tl_ctx_fail(ctx, TL_EARG, "export_c: name '%.80s' is not a C "
                       "identifier of at most %d characters", name, MAX_NAME);
  tl_node *const *ps = tl_mlp_params(m);
  for (size_t i = 0; i < tl_mlp_nparams(m); i++) {
    for (size_t k = 0, size = tl_size(ps[i]); k < size; k++)
      if (!isfinite(param_value(ps[i], k)))
        return tl_ctx_fail(ctx, TL_EARG, "export_c: parameter %zu of L%zu.%s "
                           "is %g; only finite parameters are exported",
                           k + 1, i / 2 + 1, i % 2 ? "b" : "W",
                           param_value(ps[i], k));
  }
  tl__out out;
  tl_status st = tl__out_open(ctx, &out, path);
  if (st != TL_OK) return st;
  write_header(out.f, m, name);
  return tl__out_commit(ctx, &out);
}
