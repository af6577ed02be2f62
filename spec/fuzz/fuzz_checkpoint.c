/*
** fuzz_checkpoint.c -- libFuzzer harness over the checkpoint reader and the
** optimizer state reader (core/checkpoint.c, core/optim.c).
**
** As fuzz_model.c: when the first byte is odd the last 8 bytes are
** rewritten with the correct checksum, so mutations reach the checks behind
** it.  The rest is loaded as checkpoint bytes; a checkpoint that loads must
** train a step (forward, backward, optimizer step) and dump again to the
** same bytes.  The same bytes are then offered as optimizer state to an
** Adam over a small model.  A bad input must fail with a message, never
** crash, leak or load something that does not work.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/tl_checkpoint.h"

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
  return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int fix = data[0] & 1;
  data++, size--;
  uint8_t *bytes = malloc(size + 1);
  if (bytes == NULL) return 0;
  memcpy(bytes, data, size);
  if (fix && size >= 8) {
    uint64_t h = fnv1a(bytes, size - 8);
    for (int i = 0; i < 8; i++) bytes[size - 8 + i] = (uint8_t)(h >> (8 * i));
  }
  tl_ctx *ctx = tl_ctx_new();
  tl_checkpoint ck;
  if (tl_checkpoint_load_bytes(ctx, bytes, size, &ck) != TL_OK) {
    if (tl_ctx_error(ctx)[0] == '\0') __builtin_trap();   /* must say why */
    if (ck.model != NULL || ck.optim != NULL) __builtin_trap();
  } else {
    tl_mlp *m = ck.model;
    unsigned char *again = NULL;
    size_t n = 0;
    if (tl_checkpoint_dump(ctx, m, ck.optim, ck.step, &again, &n) != TL_OK ||
        n != size || memcmp(again, bytes, n) != 0)
      __builtin_trap();                                    /* lossless */
    free(again);
    if (tl_mlp_nin(m) <= 64 && tl_mlp_nscalars(m) <= 100000) {
      size_t shape[2] = {2, tl_mlp_nin(m)};
      tl_node *batch = tl_array(ctx, 2, shape, NULL);
      tl_node *y = batch ? tl_mlp_forward_batch(ctx, m, batch) : NULL;
      tl_node *s = y ? tl_reduce(ctx, TL_OP_REDUCE_SUM, y, -1) : NULL;
      if (s != NULL) tl_backward(ctx, s);
      if (ck.optim != NULL) tl_optim_step(ck.optim);
      tl_release(ctx, s);
      tl_release(ctx, y);
      tl_release(ctx, batch);
    }
    tl_optim_free(ctx, ck.optim);
    tl_mlp_free(ctx, m);
  }
  /* the same bytes as optimizer state, into Adam over a 2-3-1 model */
  size_t sizes[2] = {3, 1};
  tl_act acts[2] = {TL_ACT_RELU, TL_ACT_LINEAR};
  tl_mlp *m = tl_mlp_new(ctx, TL_KIND_MLP, 2, 2, sizes, acts, TL_INIT_DEFAULT);
  tl_optim_config cfg;
  tl_optim_defaults(TL_OPTIM_ADAM, &cfg);
  tl_optim *o = m ? tl_optim_new(ctx, TL_OPTIM_ADAM, &cfg, tl_mlp_nparams(m),
                                 tl_mlp_params(m)) : NULL;
  if (o != NULL && tl_optim_load_bytes(ctx, o, bytes, size) == TL_OK)
    tl_optim_step(o);
  tl_optim_free(ctx, o);
  tl_mlp_free(ctx, m);
  free(bytes);
  if (tl_ctx_live_nodes(ctx) != 0) __builtin_trap();
  tl_ctx_free(ctx);
  return 0;
}
