/* Activations in one allocation: a layout pass with base NULL counts the
 * floats, the same pass over the allocation hands out the slices. */
#pragma once

#include <stddef.h>

typedef struct Layout {
  float *base; /* NULL: only count */
  size_t off;  /* floats handed out so far */
} Layout;

/* The next n floats (NULL while counting), each slice starting 64 bytes
 * (16 floats) after an aligned base's start: aligned for AVX-512 rows. */
static inline float *take(Layout *l, size_t n) {
  float *p = l->base ? l->base + l->off : NULL;
  l->off += (n + 15) & ~(size_t)15;
  return p;
}

static inline size_t zmax(size_t a, size_t b) { return a > b ? a : b; }
