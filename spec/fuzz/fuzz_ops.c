/*
** fuzz_ops.c -- libFuzzer harness over the core's Element operations.
**
** The input is read as a program: each byte picks an operation (create a
** scalar or an array, every op, backward, zero_grad, detach, drop a
** handle, no-grad and numerics-check on/off, n-ary ops, labels, walks, a
** custom op whose callbacks fail at times),
** later bytes pick operands among a small pool of live handles and supply
** numbers.  Any outcome is fine except a crash, a sanitizer report or a
** leak: failures must come back as NULL / a status with a message.
*/
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <stdlib.h>

#include "../../core/tl_custom.h"
#include "../../core/tl_loss.h"
#include "../../core/tl_nn.h"
#include "../../core/tl_ops_extra.h"
#include "../../core/torchlet.h"

#define POOL 8

typedef struct reader { const uint8_t *p; size_t n; } reader;

static unsigned byte(reader *r) {
  if (r->n == 0) return 0;
  r->n--;
  return *r->p++;
}

/* Any double, nan and inf included, half of the time a small "nice" one. */
static double number(reader *r) {
  unsigned kind = byte(r);
  if (kind & 1) return ((int)byte(r) - 128) / 16.0;
  uint64_t bits = 0;
  for (int i = 0; i < 8; i++) bits = bits << 8 | byte(r);
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

static void put(tl_ctx *ctx, tl_node **pool, tl_node *n, unsigned slot) {
  if (n == NULL) {
    if (tl_ctx_error(ctx)[0] == '\0') __builtin_trap();  /* a failure says why */
    return;
  }
  slot %= POOL;
  tl_release(ctx, pool[slot]);
  pool[slot] = n;
}

static tl_node *pick(tl_node **pool, reader *r) { return pool[byte(r) % POOL]; }

/* The ops of each constructor's family, from the core's declaration
** (TL_OP_LIST, through tl_op_arity and tl_op_flags), so that a new op is
** fuzzed without a change here. */
typedef struct family { tl_op op[TL_OP_COUNT]; size_t n; } family;
static family binary_ops, const_ops, unary_ops, reduce_ops;

static void sort_ops(void) {
  if (binary_ops.n > 0) return;
  for (int i = 0; i < TL_OP_COUNT; i++) {
    tl_op op = (tl_op)i;
    int arity = tl_op_arity(op);
    unsigned flags = tl_op_flags(op);
    family *f = flags & TL_OPF_AXIS ? &reduce_ops
              : !(flags & TL_OPF_EW) ? NULL
              : flags & TL_OPF_K ? &const_ops
              : arity == 2 ? &binary_ops : &unary_ops;
    if (f != NULL) f->op[f->n++] = op;
  }
}

static tl_op choose(const family *f, reader *r) { return f->op[byte(r) % f->n]; }

/* A custom op from plain C (core/tl_custom.h): a * b, or a * a for one
** input, whose callbacks fail as 'mode' says; 'live' counts user data not
** yet destroyed, which must reach 0 (destroyed exactly once). */
typedef struct sq_ud { int *live; unsigned mode; } sq_ud;

static tl_node *sq_forward(tl_ctx *ctx, void *ud, size_t nin,
                           tl_node *const *in) {
  sq_ud *u = ud;
  if (u->mode % 6 == 1) { tl_ctx_fail(ctx, TL_EARG, "sq: forward fails"); return NULL; }
  if (u->mode % 6 == 2) return NULL;                  /* the core says why */
  return tl_mul(ctx, in[0], in[nin - 1]);
}

static tl_status sq_backward(tl_ctx *ctx, void *ud, tl_node *out,
                             const double *gout, size_t nin,
                             tl_node *const *in, double *const *gin) {
  sq_ud *u = ud;
  if (u->mode % 6 == 3) return tl_ctx_fail(ctx, TL_EARG, "sq: backward fails");
  if (u->mode % 6 == 4) {                    /* walks are refused in here */
    size_t count;
    if (tl_topo(ctx, out, &count) != NULL) __builtin_trap();
  }
  for (size_t i = 0; i < nin; i++) {
    tl_node *other = in[nin - 1 - i];
    size_t n = tl_size(in[i]);
    if (gin[i] == NULL || tl_size(other) != n || tl_size(out) != n) continue;
    for (size_t j = 0; j < n; j++)
      gin[i][j] = gout[j] * tl_values(other)[j] * (nin == 1 ? 2 : 1);
  }
  return TL_OK;
}

static void sq_destroy(void *ud) {
  sq_ud *u = ud;
  (*u->live)--;
  free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  reader r = {data, size};
  sort_ops();
  tl_ctx *ctx = tl_ctx_new();
  if (ctx == NULL) return 0;
  tl_node *pool[POOL] = {0};
  int live_uds = 0;
  tl_node *gather[POOL];
  while (r.n > 0) {
    unsigned op = byte(&r) % 22, slot = byte(&r);
    tl_node *a = pick(pool, &r), *b = pick(pool, &r);
    switch (op) {
      case 0: put(ctx, pool, tl_leaf(ctx, number(&r)), slot); break;
      case 1: {
        size_t shape[3], ndim = 1 + byte(&r) % 3, total = 1;
        for (size_t d = 0; d < ndim; d++) total *= shape[d] = byte(&r) % 5;  /* 0 is rejected */
        double values[64] = {0};
        for (size_t i = 0; i < total && i < 64; i++) values[i] = number(&r);
        tl_dtype t = byte(&r) & 1 ? TL_FLOAT32 : TL_FLOAT64;
        put(ctx, pool, tl_array_of(ctx, t, ndim, shape, values), slot);
        break;
      }
      case 2: if (a && b) put(ctx, pool, tl_binary(ctx, choose(&binary_ops, &r), a, b), slot); break;
      case 3: if (a) put(ctx, pool, tl_with_const(ctx, choose(&const_ops, &r), a, number(&r)), slot); break;
      case 4: if (a) put(ctx, pool, tl_unary(ctx, choose(&unary_ops, &r), a), slot); break;
      case 5: if (a) put(ctx, pool, tl_reduce(ctx, choose(&reduce_ops, &r), a, (int)(byte(&r) % 5) - 1), slot); break;
      case 6: if (a && b) put(ctx, pool, tl_matmul(ctx, a, b), slot); break;
      case 7: if (a) put(ctx, pool, tl_transpose(ctx, a), slot); break;
      case 8: if (a) {
        size_t shape[2] = {byte(&r) % 9 + 1, 0};
        shape[1] = tl_size(a) / shape[0];
        put(ctx, pool, tl_reshape(ctx, a, 1 + byte(&r) % 2, shape), slot);
      } break;
      case 9: if (a) put(ctx, pool, tl_index(ctx, a, byte(&r) % 6), slot); break;
      case 10: if (a) {
        if (!tl_is_array(a)) tl_backward(ctx, a);
        else {
          double seed[256];
          size_t n = tl_size(a) < 256 ? tl_size(a) : 0;
          for (size_t i = 0; i < n; i++) seed[i] = 1;
          if (n) tl_backward_with(ctx, a, seed);
        }
      } break;
      case 11: if (a) tl_zero_grad(ctx, a); break;
      case 12: if (a) {             /* a copy, or a conversion (arrays) */
        unsigned how = byte(&r) % 3;
        put(ctx, pool, how == 0 ? tl_detach(ctx, a)
                       : tl_to_dtype(ctx, a, how == 1 ? TL_FLOAT32 : TL_FLOAT64), slot);
      } break;
      case 13: tl_release(ctx, pool[slot % POOL]); pool[slot % POOL] = NULL; break;
      case 14: tl_set_grad_enabled(ctx, byte(&r) & 1); break;
      case 15: tl_set_check_numerics(ctx, byte(&r) & 1); break;
      case 16: {
        size_t n = 0;
        for (int i = 0; i < POOL; i++) if (pool[i]) gather[n++] = pool[i];
        if (n == 0) break;
        tl_node *c = pick(pool, &r);
        switch (byte(&r) % 4) {
          case 0:     /* W[row].x + b[row], x as many nodes as W has columns */
            if (a && b && tl_ndim(a) == 2 && tl_dim(a, 1) <= n)
              put(ctx, pool, tl_neuron_row(ctx, a, b, byte(&r), gather), slot);
            break;
          case 1: if (a && b && c) put(ctx, pool, tl_linear(ctx, a, b, c), slot); break;
          case 2:     /* classes from the input, some out of range */
            if (a && tl_ndim(a) == 2 && tl_dim(a, 0) <= 64) {
              size_t cls[64];
              for (size_t i = 0; i < tl_dim(a, 0); i++) cls[i] = byte(&r) % 6;
              put(ctx, pool, tl_loss_cross_entropy(ctx, a, cls), slot);
            }
            break;
          default: {
            size_t shape[1] = {n};
            put(ctx, pool, tl_stack(ctx, n, gather, 1, shape), slot);
          }
        }
        break;
      }
      case 17: if (a) {
        char label[4] = {(char)('a' + byte(&r) % 26), 0};
        tl_set_label(ctx, a, byte(&r) & 1 ? label : NULL);
      } break;
      case 18: if (a) {
        size_t count;
        tl_node *const *order = tl_topo(ctx, a, &count);
        if (order && (count == 0 || order[count - 1] != a)) __builtin_trap();
        char buf[64];
        for (size_t i = 0; order && i < count; i++) tl_op_label(order[i], buf, sizeof buf);
      } break;
      case 19: if (a) {
        sq_ud *u = malloc(sizeof *u);
        if (u == NULL) break;
        u->live = &live_uds;
        u->mode = byte(&r);
        live_uds++;
        tl_custom_fn fn = {"sq", sq_forward, sq_backward, sq_destroy, u};
        tl_node *in[2] = {a, b};
        put(ctx, pool, tl_custom(ctx, &fn, b && (byte(&r) & 1) ? 2 : 1, in), slot);
      } break;
      case 20: if (a) {     /* core/ops_extra.c: axes and positions from the input */
        int axis = (int)(byte(&r) % 5) - 1;
        size_t gather_n = 0;
        switch (byte(&r) % 7) {
          case 0: put(ctx, pool, tl_softmax(ctx, a, axis), slot); break;
          case 1: put(ctx, pool, tl_log_softmax(ctx, a, axis), slot); break;
          case 2: case 3:
            for (int i = 0; i < POOL; i++) if (pool[i] && (byte(&r) & 1)) gather[gather_n++] = pool[i];
            if (gather_n == 0) gather[gather_n++] = a;
            put(ctx, pool, byte(&r) & 1 ? tl_cat(ctx, gather_n, gather, axis)
                                        : tl_stack_arrays(ctx, gather_n, gather, axis), slot);
            break;
          case 4: {
            size_t start = byte(&r) % 5, len = byte(&r) % 5;
            put(ctx, pool, tl_narrow(ctx, a, axis, start, len), slot);
          } break;
          case 5: {
            size_t out[256];
            if (tl_size(a) <= 256) tl_argext(ctx, a, axis, byte(&r) & 1, out);
          } break;
          default: {   /* clamp's halves, chained, bounds from the input */
            tl_node *lo = tl_with_const(ctx, TL_OP_CLAMP_MIN_K, a, number(&r));
            if (lo) put(ctx, pool, tl_with_const(ctx, TL_OP_CLAMP_MAX_K, lo, number(&r)), slot);
            tl_release(ctx, lo);
          }
        }
      } break;
      default: if (a) {
        char buf[200];
        tl_summary(a, buf, sizeof buf);
        (void)tl_grads(a);
        if (!tl_is_array(a)) tl_set_data(a, number(&r));
      }
    }
  }
  for (int i = 0; i < POOL; i++) tl_release(ctx, pool[i]);
  if (tl_ctx_live_nodes(ctx) != 0) __builtin_trap();   /* everything freed */
  if (live_uds != 0) __builtin_trap();    /* each custom op's data destroyed */
  tl_ctx_free(ctx);
  return 0;
}
