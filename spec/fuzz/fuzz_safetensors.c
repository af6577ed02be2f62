/*
** fuzz_safetensors.c -- libFuzzer harness over the safetensors reader
** (core/safetensors.c, core/safetensors_header.c).
**
** The input is offered twice: as it stands (the architecture from its
** metadata) and with an architecture given by the caller (relu hidden
** layers, a linear output), as a PyTorch file is loaded.  safetensors has
** no checksum, so no fixing up is needed for mutations to reach the JSON
** and the offsets.  A file that loads must run a forward and backward
** pass, and save and load again to the same parameters; a bad one must
** fail with a message.  Nothing may crash, leak or be left alive.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/tl_interop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(tl_ctx *ctx, tl_mlp *m) {
  if (m == NULL) {
    if (tl_ctx_error(ctx)[0] == '\0') __builtin_trap();    /* must say why */
    return;
  }
  unsigned char *again = NULL;
  size_t n = 0;
  if (tl_mlp_dump_safetensors(ctx, m, &again, &n) != TL_OK) __builtin_trap();
  tl_mlp *back = tl_mlp_load_safetensors_bytes(ctx, again, n, NULL);
  free(again);
  if (back == NULL || tl_mlp_nparams(back) != tl_mlp_nparams(m)) __builtin_trap();
  for (size_t i = 0; i < tl_mlp_nparams(m); i++) {
    tl_node *a = tl_mlp_params(m)[i], *b = tl_mlp_params(back)[i];
    if (tl_size(a) != tl_size(b) ||
        memcmp(tl_values(a), tl_values(b), tl_size(a) * sizeof(double)) != 0)
      __builtin_trap();                                     /* lossless */
  }
  tl_mlp_free(ctx, back);
  if (tl_mlp_nin(m) <= 64 && tl_mlp_nscalars(m) <= 100000) {
    size_t shape[2] = {2, tl_mlp_nin(m)};
    tl_node *batch = tl_array(ctx, 2, shape, NULL);
    tl_node *y = batch ? tl_mlp_forward_batch(ctx, m, batch) : NULL;
    tl_node *s = y ? tl_reduce(ctx, TL_OP_REDUCE_SUM, y, -1) : NULL;
    if (s != NULL) tl_backward(ctx, s);
    tl_release(ctx, s);
    tl_release(ctx, y);
    tl_release(ctx, batch);
  }
  tl_mlp_free(ctx, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tl_ctx *ctx = tl_ctx_new();
  if (ctx == NULL) return 0;
  check(ctx, tl_mlp_load_safetensors_bytes(ctx, data, size, NULL));
  tl_arch arch = {0, NULL, TL_ACT_RELU, TL_ACT_LINEAR};
  check(ctx, tl_mlp_load_safetensors_bytes(ctx, data, size, &arch));
  if (tl_ctx_live_nodes(ctx) != 0) __builtin_trap();
  tl_ctx_free(ctx);
  return 0;
}
