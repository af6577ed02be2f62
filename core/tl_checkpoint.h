/*
** tl_checkpoint.h -- checkpoints: a model, its optimizer's state and a
** step count in one file (or buffer), so training resumes exactly where
** it stopped: the steps after a reload compute, bit for bit, what they
** would have computed without it.
**
** The format (checkpoint.c) wraps a model file (serialize.c) and an
** optimizer state (optim.c) in one envelope with its own version, length
** and checksum.  Saving is atomic (a temporary file renamed over the
** target), so a failed save leaves the previous checkpoint whole.  The
** context's random generator is not saved: reseed it yourself if the run
** draws numbers (shuffles, initialisations) after resuming.
*/
#ifndef TORCHLET_CHECKPOINT_H
#define TORCHLET_CHECKPOINT_H

#include <stdint.h>

#include "tl_nn.h"
#include "tl_optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_checkpoint {
  tl_mlp *model;        /* owned by the caller: tl_mlp_free */
  tl_optim *optim;      /* over model's parameters, or NULL if none was
                        ** saved; owned by the caller: tl_optim_free */
  uint64_t step;        /* the caller's step count, as saved */
} tl_checkpoint;

/* The checkpoint of model 'm', optimizer 'o' (NULL for none; else it must
** optimize exactly tl_mlp_params(m), in that order, or TL_EARG says how it
** differs) and 'step', in a new buffer (*out, *len) the caller frees with
** free(). */
tl_status tl_checkpoint_dump(tl_ctx *ctx, const tl_mlp *m, const tl_optim *o,
                             uint64_t step, unsigned char **out, size_t *len);
/* The same, written to 'path' whole or not at all. */
tl_status tl_checkpoint_save(tl_ctx *ctx, const tl_mlp *m, const tl_optim *o,
                             uint64_t step, const char *path);
/* Reads a checkpoint into *out: a new model, a new optimizer over its
** parameters (kind, options and state as saved), and the step.  On failure
** *out is all NULL/0 and the message says why: TL_EIO (cannot read),
** TL_EFORMAT (not a checkpoint, another version, truncated, corrupted, or
** a part that does not fit the rest), TL_ENOMEM. */
tl_status tl_checkpoint_load(tl_ctx *ctx, const char *path, tl_checkpoint *out);
tl_status tl_checkpoint_load_bytes(tl_ctx *ctx, const void *buf, size_t len,
                                   tl_checkpoint *out);

#ifdef __cplusplus
}
#endif

#endif
