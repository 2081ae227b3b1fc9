/* Ground truth clean-up: a tube that leaves and re-enters the volume, or is
 * cut through by a thicker neighbour, would give one id to separate pieces.
 * Each 6-connected piece gets its own id instead, and crumbs too small to be
 * a neurite profile become membrane. */
#include <stdlib.h>
#include <string.h>

#include "phantom_internal.h"

static uint32_t find_root(uint32_t *parent, uint32_t i) {
  while (parent[i] != i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

/* The smaller index becomes the root, so each root is its piece's first
 * voxel in raster order. */
static void unite(uint32_t *parent, uint32_t a, uint32_t b) {
  a = find_root(parent, a);
  b = find_root(parent, b);
  if (a < b)
    parent[b] = a;
  else if (b < a)
    parent[a] = b;
}

int64_t ph_split_components(uint32_t *labels, float *intensity, float membrane_level, int64_t nz,
                            int64_t ny, int64_t nx, int64_t min_voxels) {
  size_t n = (size_t)nz * (size_t)ny * (size_t)nx;
  if (n >= UINT32_MAX) return -1;
  uint32_t *parent = malloc(n * sizeof *parent);
  if (!parent) return -1;
  const size_t sy = (size_t)nx, sz = (size_t)nx * (size_t)ny;
  for (size_t i = 0; i < n; i++) parent[i] = (uint32_t)i;
  for (int64_t z = 0; z < nz; z++)
    for (int64_t y = 0; y < ny; y++)
      for (int64_t x = 0; x < nx; x++) {
        size_t i = (size_t)z * sz + (size_t)y * sy + (size_t)x;
        uint32_t l = labels[i];
        if (!l) continue;
        if (x > 0 && labels[i - 1] == l) unite(parent, (uint32_t)i, (uint32_t)(i - 1));
        if (y > 0 && labels[i - sy] == l) unite(parent, (uint32_t)i, (uint32_t)(i - sy));
        if (z > 0 && labels[i - sz] == l) unite(parent, (uint32_t)i, (uint32_t)(i - sz));
      }
  /* New ids in raster order; the root comes first, so labels[root] already
   * holds its piece's new id when the other voxels are reached. */
  size_t cap = 1024, count = 0;
  int64_t *sizes = calloc(cap, sizeof *sizes);
  if (!sizes) {
    free(parent);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    if (!labels[i]) continue;
    uint32_t r = find_root(parent, (uint32_t)i);
    if (r == i) {
      if (count + 1 >= cap) {
        int64_t *grown = realloc(sizes, 2 * cap * sizeof *grown);
        if (!grown) {
          free(sizes);
          free(parent);
          return -1;
        }
        memset(grown + cap, 0, cap * sizeof *grown);
        sizes = grown;
        cap *= 2;
      }
      labels[i] = (uint32_t)++count;
    } else {
      labels[i] = labels[r];
    }
    sizes[labels[i]]++;
  }
  free(parent);
  for (size_t i = 0; i < n; i++)
    if (labels[i] && sizes[labels[i]] < min_voxels) {
      labels[i] = 0;
      intensity[i] = membrane_level;
    }
  free(sizes);
  return ph_compact_ids(labels, n, (uint32_t)count);
}

int64_t ph_compact_ids(uint32_t *ids, size_t n_voxels, uint32_t max_id) {
  uint32_t *map = calloc((size_t)max_id + 1, sizeof *map);
  if (!map) return -1;
  uint32_t next = 0;
  for (size_t i = 0; i < n_voxels; i++) {
    uint32_t id = ids[i];
    if (!id) continue;
    if (!map[id]) map[id] = ++next;
    ids[i] = map[id];
  }
  free(map);
  return next;
}
