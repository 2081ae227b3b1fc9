/* 64-byte aligned allocation for the engine's big buffers (AVX-512 rows). */
#pragma once

#include <stdlib.h>

/* aligned_alloc wants a size that is a multiple of the alignment (C11; sanitizers enforce it),
 * so the request is rounded up. Free with free(). */
static inline void *aligned_alloc64(size_t bytes) {
  return aligned_alloc(64, (bytes + 63) / 64 * 64 + (bytes == 0) * 64);
}
