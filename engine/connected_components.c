#include "connected_components.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_hash.h"

/* Union-find over provisional labels. The root of a set is its smallest
 * label, so that final labels follow raster order. */
typedef struct Forest {
  uint32_t *parent;  // (cap)
  size_t count, cap;
} Forest;

static uint32_t forest_find(uint32_t *parent, uint32_t a) {
  while (parent[a] != a) {
    parent[a] = parent[parent[a]];  // path halving
    a = parent[a];
  }
  return a;
}

static uint32_t forest_union(uint32_t *parent, uint32_t a, uint32_t b) {
  a = forest_find(parent, a);
  b = forest_find(parent, b);
  if (a == b) return a;
  if (a < b) {
    parent[b] = a;
    return a;
  }
  parent[a] = b;
  return b;
}

static int forest_new(Forest *f, uint32_t *label) {
  if (f->count == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 4096;
    if (cap > (size_t)UINT32_MAX) cap = UINT32_MAX;
    if (f->count == cap) return -1;
    uint32_t *p = realloc(f->parent, cap * sizeof *p);
    if (!p) return -1;
    f->parent = p;
    f->cap = cap;
  }
  *label = (uint32_t)f->count;
  f->parent[f->count] = (uint32_t)f->count;
  f->count++;
  return 0;
}

/* The already-visited neighbours of a voxel in raster order: for 6-connectivity
 * the three faces towards -z, -y, -x; for 26 the 13 voxels before it. */
typedef struct Offset {
  int dz, dy, dx;
} Offset;

static const Offset backward_faces[3] = {{-1, 0, 0}, {0, -1, 0}, {0, 0, -1}};
static const Offset backward_full[13] = {
    {-1, -1, -1}, {-1, -1, 0}, {-1, -1, 1}, {-1, 0, -1}, {-1, 0, 0},
    {-1, 0, 1},   {-1, 1, -1}, {-1, 1, 0},  {-1, 1, 1},  {0, -1, -1},
    {0, -1, 0},   {0, -1, 1},  {0, 0, -1}};

/* Pass 2: provisional label -> final 1..K, in place in the parent array.
 * parent[p] <= p always holds (unions point the larger root at the smaller,
 * path halving only shortens), so one increasing sweep flattens every label
 * onto its root, and a second sweep numbers the roots in order: when p is
 * reached, its root r < p already holds its final id. */
static int64_t resolve(uint32_t *out, size_t n, Forest *f) {
  uint32_t *parent = f->parent;
  for (size_t p = 1; p < f->count; p++) parent[p] = parent[parent[p]];
  uint32_t k = 0;
  for (size_t p = 1; p < f->count; p++)
    parent[p] = (parent[p] == p) ? ++k : parent[parent[p]];
  for (size_t i = 0; i < n; i++)
    if (out[i]) out[i] = parent[out[i]];
  return k;
}

#define DEFINE_CC_LABEL(NAME, T)                                                          \
  static int64_t NAME##_3d(uint32_t *out, const T *in, const int64_t dims[3],            \
                           int connectivity, PpError *err) {                             \
    if (connectivity != CC_CONN_FACES && connectivity != CC_CONN_FULL)                   \
      return pp_error_set(err, "connected_components.c: connectivity %d is not 4, 8, 6 or 26", \
                          connectivity);                                                 \
    const int64_t nz = dims[0], ny = dims[1], nx = dims[2];                              \
    const Offset *nb = connectivity == CC_CONN_FACES ? backward_faces : backward_full;   \
    const int n_nb = connectivity == CC_CONN_FACES ? 3 : 13;                             \
    int64_t delta[13];                                                                   \
    for (int j = 0; j < n_nb; j++) delta[j] = (nb[j].dz * ny + nb[j].dy) * nx + nb[j].dx; \
    Forest f = {0};                                                                      \
    uint32_t unused;                                                                     \
    if (forest_new(&f, &unused) != 0) /* label 0 = background */                         \
      return pp_error_set(err, "connected_components.c: out of memory");                 \
    size_t i = 0;                                                                        \
    for (int64_t z = 0; z < nz; z++)                                                     \
      for (int64_t y = 0; y < ny; y++)                                                   \
        for (int64_t x = 0; x < nx; x++, i++) {                                          \
          const T v = in[i];                                                             \
          if (!v) {                                                                      \
            out[i] = 0;                                                                  \
            continue;                                                                    \
          }                                                                              \
          uint32_t lab = 0;                                                              \
          for (int j = 0; j < n_nb; j++) {                                               \
            const int64_t zz = z + nb[j].dz, yy = y + nb[j].dy, xx = x + nb[j].dx;       \
            if (zz < 0 || yy < 0 || yy >= ny || xx < 0 || xx >= nx) continue;            \
            const size_t u = (size_t)((int64_t)i + delta[j]);                            \
            if (in[u] != v) continue;                                                    \
            const uint32_t r = out[u];                                                   \
            if (lab == 0) lab = r;                                                       \
            else if (r != lab) lab = forest_union(f.parent, lab, r);                     \
          }                                                                              \
          if (lab == 0 && forest_new(&f, &lab) != 0) {                                   \
            free(f.parent);                                                              \
            return pp_error_set(err, "connected_components.c: out of memory or more "    \
                                     "than 2^32 provisional labels");                    \
          }                                                                              \
          out[i] = lab;                                                                  \
        }                                                                                \
    int64_t k = resolve(out, (size_t)(nz * ny * nx), &f);                                \
    free(f.parent);                                                                      \
    return k;                                                                            \
  }

DEFINE_CC_LABEL(cc_label_u32, uint32_t)
DEFINE_CC_LABEL(cc_label_u8, uint8_t)

/* 2D connectivities: each slice on its own (a one-slice volume with 6 or 26
 * neighbours is the 4- or 8-neighbourhood), labels continued across slices. */
#define DEFINE_CC_ENTRY(NAME, T)                                                          \
  int64_t NAME(uint32_t *out, const T *in, const int64_t dims[3], int connectivity,      \
               PpError *err) {                                                           \
    if (dims[0] <= 0 || dims[1] <= 0 || dims[2] <= 0)                                    \
      return pp_error_set(err, "connected_components.c: empty or negative shape");       \
    if (connectivity != CC_CONN_PLANE4 && connectivity != CC_CONN_PLANE8)                \
      return NAME##_3d(out, in, dims, connectivity, err);                                \
    const int64_t plane = dims[1] * dims[2], slice[3] = {1, dims[1], dims[2]};           \
    const int conn3d = connectivity == CC_CONN_PLANE4 ? CC_CONN_FACES : CC_CONN_FULL;    \
    int64_t total = 0;                                                                   \
    for (int64_t z = 0; z < dims[0]; z++) {                                              \
      int64_t k = NAME##_3d(out + z * plane, in + z * plane, slice, conn3d, err);        \
      if (k < 0) return -1;                                                              \
      if (total + k > (int64_t)UINT32_MAX)                                               \
        return pp_error_set(err, "connected_components.c: more than 2^32 components");   \
      for (int64_t i = z * plane; i < (z + 1) * plane; i++)                              \
        if (out[i]) out[i] += (uint32_t)total;                                           \
      total += k;                                                                        \
    }                                                                                    \
    return total;                                                                        \
  }

DEFINE_CC_ENTRY(cc_label_u32, uint32_t)
DEFINE_CC_ENTRY(cc_label_u8, uint8_t)

/* Maps ids to 1..K by first appearance. A direct table when the largest id
 * is small, a hash map otherwise; runs of equal ids are looked up once. */
int64_t cc_relabel_consecutive(uint32_t *labels, size_t n, PpError *err) {
  uint32_t max_id = 0;
  for (size_t i = 0; i < n; i++)
    if (labels[i] > max_id) max_id = labels[i];
  if ((size_t)max_id <= n + (1u << 20)) {
    uint32_t *map = calloc((size_t)max_id + 1, sizeof *map);
    if (!map) return pp_error_set(err, "connected_components.c: out of memory");
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++) {
      uint32_t v = labels[i];
      if (!v) continue;
      if (!map[v]) map[v] = ++k;
      labels[i] = map[v];
    }
    free(map);
    return k;
  }
  U64Map map;
  if (u64map_init(&map, 1024) != 0)
    return pp_error_set(err, "connected_components.c: out of memory");
  uint32_t k = 0, last_in = 0, last_out = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t v = labels[i];
    if (!v) continue;
    if (v != last_in) {
      bool inserted;
      uint64_t *slot = u64map_upsert(&map, v, &inserted);
      if (!slot) {
        u64map_free(&map);
        return pp_error_set(err, "connected_components.c: out of memory");
      }
      if (inserted) *slot = ++k;
      last_in = v;
      last_out = (uint32_t)*slot;
    }
    labels[i] = last_out;
  }
  u64map_free(&map);
  return k;
}

void cc_label_sizes(uint64_t *sizes, const uint32_t *labels, size_t n, int64_t n_labels) {
  memset(sizes, 0, (size_t)(n_labels + 1) * sizeof *sizes);
  for (size_t i = 0; i < n; i++) sizes[labels[i]]++;
}

int64_t cc_remove_small(uint32_t *labels, size_t n, uint64_t min_size, PpError *err) {
  int64_t k = cc_relabel_consecutive(labels, n, err);
  if (k <= 0 || min_size <= 1) return k;
  uint64_t *sizes = malloc((size_t)(k + 1) * sizeof *sizes);
  uint32_t *keep = malloc((size_t)(k + 1) * sizeof *keep);
  if (!sizes || !keep) {
    free(sizes);
    free(keep);
    return pp_error_set(err, "connected_components.c: out of memory");
  }
  cc_label_sizes(sizes, labels, n, k);
  // Labels are already in first-appearance order, so compacting them in
  // order keeps that property.
  uint32_t kept = 0;
  keep[0] = 0;
  for (int64_t l = 1; l <= k; l++) keep[l] = sizes[l] >= min_size ? ++kept : 0;
  for (size_t i = 0; i < n; i++) labels[i] = keep[labels[i]];
  free(sizes);
  free(keep);
  return kept;
}
