/*
** fuzz_model.c -- libFuzzer harness over the model file loader.
**
** The input's first byte is a switch: when odd, the harness rewrites the
** last 8 bytes with the correct checksum of the rest, so that mutations
** reach the architecture checks behind it instead of stopping at the
** checksum.  The rest is written to a file and loaded (versions 1 to 3);
** a model that loads must run a forward pass, scalar and batched.  A bad file must fail with a message, never
** crash, leak or load a model that does not work.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../core/tl_nn.h"

/* The file format's checksum (core/serialize.c): 64-bit FNV-1a. */
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
  char path[64];
  snprintf(path, sizeof path, "/tmp/torchlet-fuzz-model-%ld", (long)getpid());
  FILE *f = fopen(path, "wb");
  if (f == NULL) { free(bytes); return 0; }
  fwrite(bytes, 1, size, f);
  fclose(f);
  free(bytes);

  tl_ctx *ctx = tl_ctx_new();
  tl_mlp *m = tl_mlp_load(ctx, path);
  if (m == NULL) {
    if (tl_ctx_error(ctx)[0] == '\0') __builtin_trap();   /* must say why */
  } else if (tl_mlp_nin(m) <= 64 && tl_mlp_nout(m) <= 64 &&
             tl_mlp_nscalars(m) <= 100000) {
    tl_node *x[64], *out[64];
    for (size_t i = 0; i < tl_mlp_nin(m); i++) x[i] = tl_leaf(ctx, 0.5);
    if (tl_mlp_forward(ctx, m, x, out) == TL_OK) {
      tl_backward(ctx, out[0]);
      for (size_t j = 0; j < tl_mlp_nout(m); j++) tl_release(ctx, out[j]);
    }
    for (size_t i = 0; i < tl_mlp_nin(m); i++) tl_release(ctx, x[i]);
    size_t shape[2] = {2, tl_mlp_nin(m)};
    /* in the model's dtype: float32 and float64 arrays do not mix */
    tl_node *batch = tl_array_of(ctx, tl_mlp_dtype(m), 2, shape, NULL);
    tl_node *y = batch ? tl_mlp_forward_batch(ctx, m, batch) : NULL;
    if (batch != NULL && y == NULL) __builtin_trap();   /* shapes fit */
    tl_node *s = y ? tl_reduce(ctx, TL_OP_REDUCE_SUM, y, -1) : NULL;
    if (s != NULL) tl_backward(ctx, s);
    tl_release(ctx, s);
    tl_release(ctx, y);
    tl_release(ctx, batch);
  }
  tl_mlp_free(ctx, m);
  if (tl_ctx_live_nodes(ctx) != 0) __builtin_trap();
  tl_ctx_free(ctx);
  remove(path);
  return 0;
}
