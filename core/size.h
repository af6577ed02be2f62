/*
** size.h -- overflow-checked size arithmetic, shared by core/ and
** bindings/ (static inline: no symbols, not a public header).
**
** Every byte count computed from outside input (Lua table lengths, shapes,
** counts given to the C API) goes through these before it reaches an
** allocator: a product that wraps around size_t would allocate a small
** block and the loop that fills it would write far past its end.
*/
#ifndef TORCHLET_SIZE_H
#define TORCHLET_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* *out = a * b and 1, or 0 (*out untouched) when the product does not fit
** in a size_t. */
static inline int tl__size_mul(size_t a, size_t b, size_t *out) {
  if (b != 0 && a > SIZE_MAX / b) return 0;
  *out = a * b;
  return 1;
}

/* *out = a + b and 1, or 0 (*out untouched) when the sum does not fit. */
static inline int tl__size_add(size_t a, size_t b, size_t *out) {
  if (a > SIZE_MAX - b) return 0;
  *out = a + b;
  return 1;
}

#endif
