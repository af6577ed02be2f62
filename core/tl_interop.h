/*
** tl_interop.h -- models that leave Torchlet and come back: safetensors
** files (safetensors.c, safetensors_header.c) and a model written out as
** one plain C99 header (export_c.c).
**
** safetensors: an 8-byte little-endian header length N, N bytes of JSON
** (padded with spaces so the data starts at a multiple of 8), then the
** tensors' raw little-endian bytes.  A model's tensors are named as
** torch.nn.Sequential names a stack of Linear layers with an activation
** module after each non-linear layer: "0.weight" (out, in), "0.bias",
** then "2.weight" after a ReLU, "1.weight" after a linear layer.  The
** architecture goes in "__metadata__" (strings only, as the format asks):
** "torchlet.kind", "torchlet.nin", "torchlet.sizes" ("128,10"),
** "torchlet.activations" ("relu,linear"), and "torchlet.sequential", the
** PyTorch module that holds the same tensors, for a human to copy.
**
** The engine computes in float64: files are written as F64 (bit-exact);
** F64 and F32 are read (F32 widened to double, which is exact).
*/
#ifndef TORCHLET_INTEROP_H
#define TORCHLET_INTEROP_H

#include "tl_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An architecture given by the caller, for files without Torchlet's
** metadata (a PyTorch save): 'acts' has one activation per layer, or is
** NULL and then every layer but the last has 'hidden' and the last
** 'output'.  The layer count and sizes come from the tensors' shapes. */
typedef struct tl_arch {
  size_t nlayers;          /* entries of 'acts'; 0 when acts is NULL */
  const tl_act *acts;
  tl_act hidden, output;
} tl_arch;

/* The safetensors bytes of 'm' in a new buffer (*out, *len) the caller
** frees with free(); TL_ENOMEM when memory is short. */
tl_status tl_mlp_dump_safetensors(tl_ctx *ctx, const tl_mlp *m,
                                  unsigned char **out, size_t *len);
/* Writes them to 'path' whole or not at all (as tl_mlp_save). */
tl_status tl_mlp_save_safetensors(tl_ctx *ctx, const tl_mlp *m,
                                  const char *path);
/* A model from a safetensors file / buffer; 'arch' (NULL: none) replaces
** the activations of the metadata, and is required when the file has no
** Torchlet metadata.  NULL with a message saying what is wrong: TL_EIO,
** TL_EFORMAT (a damaged file, or one that does not hold the architecture:
** a missing tensor, a shape that does not fit), TL_ENOMEM. */
tl_mlp *tl_mlp_load_safetensors(tl_ctx *ctx, const char *path,
                                const tl_arch *arch);
tl_mlp *tl_mlp_load_safetensors_bytes(tl_ctx *ctx, const void *buf,
                                      size_t len, const tl_arch *arch);

/* Writes 'm' to 'path' as one C99 header with no dependency but math.h:
** the parameters as constant arrays and
**   static inline void NAME_forward(const double *in, double *out)
** which computes what tl_mlp_forward_batch computes for one sample, bit
** for bit (same sums in the same order, see export_c.c).  'name' must be a
** C identifier.  TL_EARG for a bad name or a non-finite parameter, TL_EIO
** when the file cannot be written (nothing is left behind). */
tl_status tl_mlp_export_c(tl_ctx *ctx, const tl_mlp *m, const char *path,
                          const char *name);

#ifdef __cplusplus
}
#endif

#endif
