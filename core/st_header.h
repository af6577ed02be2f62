/*
** st_header.h -- the parsed JSON header of a safetensors file (private to
** core: safetensors_header.c parses, safetensors.c reads the model).
*/
#ifndef TORCHLET_ST_HEADER_H
#define TORCHLET_ST_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "torchlet.h"

#define TL__ST_MAX_DIMS 8
/* Larger headers are refused before parsing (the reference implementation
** refuses 100 MB; a model within tl_nn.h's limits needs well under 1). */
#define TL__ST_MAX_HEADER (16u << 20)

typedef enum tl__st_dtype { TL__ST_F64, TL__ST_F32, TL__ST_OTHER } tl__st_dtype;

typedef struct tl__st_tensor {
  char *name;                    /* decoded, NUL-terminated (malloc'd) */
  size_t name_len;
  tl__st_dtype dtype;
  size_t ndim, shape[TL__ST_MAX_DIMS];
  uint64_t begin, end;           /* data_offsets, from the data's start */
} tl__st_tensor;

typedef struct tl__st_pair { char *key, *value; } tl__st_pair;

typedef struct tl__st_header {
  tl__st_tensor *t; size_t nt, cap_t;
  tl__st_pair *meta; size_t nmeta, cap_meta;
  int has_meta;
} tl__st_header;

/* Parses h[0..n) (the JSON text) into 'out' and checks every tensor's
** offsets against 'data_len' bytes of data: each within it, its length
** what dtype and shape need, together covering it without overlap or
** gap.  TL_EFORMAT with a message naming what is wrong (after "'where': "
** when 'where' is not NULL), TL_ENOMEM.  On failure 'out' is left empty;
** on success the caller frees it with tl__st_header_free. */
tl_status tl__st_header_parse(tl_ctx *ctx, const char *where, const char *h,
                              size_t n, uint64_t data_len, tl__st_header *out);
void tl__st_header_free(tl__st_header *hd);
/* The tensor or metadata value called 'name' (NULL when there is none). */
const tl__st_tensor *tl__st_find(const tl__st_header *hd, const char *name);
const char *tl__st_meta(const tl__st_header *hd, const char *key);

#endif
