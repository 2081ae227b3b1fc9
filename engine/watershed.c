#include "watershed.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- neighbourhoods ---------------------------------------------------- */

typedef struct Neighbours {
  int n;
  int dz[26], dy[26], dx[26];
  int64_t delta[26];
} Neighbours;

static bool valid_connectivity(int c) {
  return c == CC_CONN_PLANE4 || c == CC_CONN_PLANE8 || c == CC_CONN_FACES || c == CC_CONN_FULL;
}

static int neighbours_init(Neighbours *nb, const int64_t dims[3], int connectivity) {
  if (!valid_connectivity(connectivity)) return -1;
  const bool planar = connectivity == CC_CONN_PLANE4 || connectivity == CC_CONN_PLANE8;
  const bool faces_only = connectivity == CC_CONN_PLANE4 || connectivity == CC_CONN_FACES;
  nb->n = 0;
  for (int dz = planar ? 0 : -1; dz <= (planar ? 0 : 1); dz++)
    for (int dy = -1; dy <= 1; dy++)
      for (int dx = -1; dx <= 1; dx++) {
        int steps = abs(dz) + abs(dy) + abs(dx);
        if (steps == 0 || (faces_only && steps != 1)) continue;
        nb->dz[nb->n] = dz;
        nb->dy[nb->n] = dy;
        nb->dx[nb->n] = dx;
        nb->delta[nb->n] = ((int64_t)dz * dims[1] + dy) * dims[2] + dx;
        nb->n++;
      }
  return 0;
}

static inline bool inside(const Neighbours *nb, int j, int64_t z, int64_t y, int64_t x,
                          const int64_t dims[3]) {
  int64_t zz = z + nb->dz[j], yy = y + nb->dy[j], xx = x + nb->dx[j];
  return zz >= 0 && zz < dims[0] && yy >= 0 && yy < dims[1] && xx >= 0 && xx < dims[2];
}

static int check_dims(const int64_t dims[3], int connectivity, PpError *err) {
  if (dims[0] <= 0 || dims[1] <= 0 || dims[2] <= 0)
    return pp_error_set(err, "watershed.c: empty or negative shape");
  if (!valid_connectivity(connectivity))
    return pp_error_set(err, "watershed.c: connectivity %d is not 4, 8, 6 or 26", connectivity);
  return 0;
}

/* ---- visited bitmap ------------------------------------------------------ */

/* One bit per voxel: labelled or outside the mask. The flood checks up to 26
 * neighbours per voxel; a bitmap of n/8 bytes stays in cache far better than
 * the label volume (4n bytes) and the mask. */
static uint64_t *visited_init(const uint32_t *labels, const uint8_t *mask, int64_t n) {
  uint64_t *bits = calloc((size_t)(n + 63) / 64, sizeof *bits);
  if (!bits) return NULL;
  for (int64_t i = 0; i < n; i++)
    if (labels[i] || (mask && !mask[i])) bits[i >> 6] |= 1ull << (i & 63);
  return bits;
}

static inline bool visited_test_set(uint64_t *bits, int64_t i) {
  const uint64_t bit = 1ull << (i & 63);
  if (bits[i >> 6] & bit) return true;
  bits[i >> 6] |= bit;
  return false;
}

/* Under 2^32 voxels a queue entry carries its label in the high half, which
 * spares a cache miss on labels[v] per voxel taken out (with the bitmap:
 * 1.5x on 30 x 1024 x 1024). */
static inline int64_t pack_entry(uint32_t label, int64_t index) {
  return (int64_t)(((uint64_t)label << 32) | (uint64_t)index);
}
static inline int64_t entry_index(int64_t entry) { return (int64_t)((uint64_t)entry & 0xffffffffu); }
static inline uint32_t entry_label(int64_t entry) { return (uint32_t)((uint64_t)entry >> 32); }

/* ---- uint8: bucket queue, one FIFO per level --------------------------- */

typedef struct Bucket {
  int64_t *items;
  size_t head, len, cap;
} Bucket;

static int bucket_push(Bucket *b, int64_t v) {
  if (b->head == b->len) b->head = b->len = 0;  // drained: reuse from the start
  if (b->len == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 1024;
    int64_t *p = realloc(b->items, cap * sizeof *p);
    if (!p) return -1;
    b->items = p;
    b->cap = cap;
  }
  b->items[b->len++] = v;
  return 0;
}

int ws_seeded_u8(uint32_t *labels, const uint8_t *boundary, const uint8_t *mask,
                 const int64_t dims[3], int connectivity, PpError *err) {
  if (check_dims(dims, connectivity, err) != 0) return -1;
  Neighbours nb;
  neighbours_init(&nb, dims, connectivity);
  const int64_t n = dims[0] * dims[1] * dims[2];
  const bool small = n < (int64_t)UINT32_MAX;
  Bucket *buckets = calloc(256, sizeof *buckets);
  uint64_t *visited = visited_init(labels, mask, n);
  if (!buckets || !visited) {
    free(buckets);
    free(visited);
    return pp_error_set(err, "watershed.c: out of memory");
  }
  int status = 0;
  for (int64_t i = 0; i < n && status == 0; i++)
    if (labels[i]) status = bucket_push(&buckets[boundary[i]], small ? pack_entry(labels[i], i) : i);
  for (int level = 0; level < 256 && status == 0; level++) {
    Bucket *b = &buckets[level];
    while (b->head < b->len && status == 0) {
      const int64_t item = b->items[b->head++];
      const int64_t v = small ? entry_index(item) : item;
      const uint32_t lab = small ? entry_label(item) : labels[v];
      int64_t x, y, z;
      if (small) {  // 32-bit division is several times cheaper
        const uint32_t t = (uint32_t)v / (uint32_t)dims[2];
        x = (uint32_t)v - t * (uint32_t)dims[2];
        z = t / (uint32_t)dims[1];
        y = t - (uint32_t)z * (uint32_t)dims[1];
      } else {
        const int64_t t = v / dims[2];
        x = v - t * dims[2], z = t / dims[1], y = t - z * dims[1];
      }
      for (int j = 0; j < nb.n; j++) {
        if (!inside(&nb, j, z, y, x, dims)) continue;
        const int64_t u = v + nb.delta[j];
        if (visited_test_set(visited, u)) continue;
        labels[u] = lab;
        const int p = boundary[u] > level ? boundary[u] : level;
        if (bucket_push(&buckets[p], small ? pack_entry(lab, u) : u) != 0) {
          status = -1;
          break;
        }
      }
    }
    free(b->items);
    b->items = NULL;
  }
  for (int l = 0; l < 256; l++) free(buckets[l].items);
  free(buckets);
  free(visited);
  if (status != 0) return pp_error_set(err, "watershed.c: out of memory");
  return 0;
}

/* ---- float: radix heap on (priority, entry order) ---------------------- */

/* The flooding order is (priority, entry counter), packed into one 64-bit key:
 * the float's bits made order-preserving as an unsigned integer, then a
 * 32-bit counter (so a float watershed takes fewer than 2^32 voxels: each
 * voxel enters once). Keys only grow past the last one taken out (the water
 * level never drops and the counter always increases), which is what a radix
 * heap needs: bucket b holds keys whose highest bit differing from the last
 * key taken is b - 1; taking the minimum redistributes one bucket. */
typedef struct RadixItem {
  uint64_t key;
  int64_t entry;  /* pack_entry(label, voxel index) */
} RadixItem;

typedef struct RadixHeap {
  RadixItem *bucket[65];
  size_t len[65], cap[65];
  uint64_t last;
  size_t size;
  uint32_t next_seq;
} RadixHeap;

static inline uint32_t float_order(float f) {
  uint32_t u;
  if (isnan(f)) f = INFINITY;
  memcpy(&u, &f, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static inline float order_float(uint32_t u) {
  u = (u & 0x80000000u) ? (u & 0x7fffffffu) : ~u;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static inline int radix_bucket(uint64_t key, uint64_t last) {
  return key == last ? 0 : 64 - __builtin_clzll(key ^ last);
}

static int radix_put(RadixHeap *h, int b, RadixItem item) {
  if (h->len[b] == h->cap[b]) {
    size_t cap = h->cap[b] ? 2 * h->cap[b] : 256;
    RadixItem *p = realloc(h->bucket[b], cap * sizeof *p);
    if (!p) return -1;
    h->bucket[b] = p;
    h->cap[b] = cap;
  }
  h->bucket[b][h->len[b]++] = item;
  return 0;
}

static int radix_push(RadixHeap *h, float priority, int64_t entry) {
  const uint64_t key = ((uint64_t)float_order(priority) << 32) | h->next_seq++;
  h->size++;
  return radix_put(h, radix_bucket(key, h->last), (RadixItem){key, entry});
}

/* Removes the smallest key into *out; the heap must not be empty. Returns -1
 * when redistributing a bucket runs out of memory. */
static int radix_pop(RadixHeap *h, RadixItem *out) {
  if (h->len[0] == 0) {
    int b = 1;
    while (h->len[b] == 0) b++;
    RadixItem *items = h->bucket[b];
    size_t count = h->len[b], best = 0;
    for (size_t i = 1; i < count; i++)
      if (items[i].key < items[best].key) best = i;
    h->last = items[best].key;
    h->len[b] = 0;
    // Every item lands in a lower bucket, so items[] is only read here.
    for (size_t i = 0; i < count; i++)
      if (radix_put(h, radix_bucket(items[i].key, h->last), items[i]) != 0) return -1;
  }
  h->size--;
  *out = h->bucket[0][--h->len[0]];
  return 0;
}

int ws_seeded_f32(uint32_t *labels, const float *boundary, const uint8_t *mask,
                  const int64_t dims[3], int connectivity, PpError *err) {
  if (check_dims(dims, connectivity, err) != 0) return -1;
  const int64_t n = dims[0] * dims[1] * dims[2];
  if (n >= (int64_t)UINT32_MAX)
    return pp_error_set(err, "watershed.c: float watershed limited to 2^32 - 1 voxels");
  Neighbours nb;
  neighbours_init(&nb, dims, connectivity);
  uint64_t *visited = visited_init(labels, mask, n);
  if (!visited) return pp_error_set(err, "watershed.c: out of memory");
  RadixHeap h;
  memset(&h, 0, sizeof h);
  int status = 0;
  for (int64_t i = 0; i < n && status == 0; i++)  // n < 2^32: packed entries
    if (labels[i]) status = radix_push(&h, boundary[i], pack_entry(labels[i], i));
  const uint32_t nx = (uint32_t)dims[2], ny = (uint32_t)dims[1];
  while (h.size && status == 0) {
    RadixItem top;
    if (radix_pop(&h, &top) != 0) {
      status = -1;
      break;
    }
    const float level = order_float((uint32_t)(top.key >> 32));
    const int64_t v = entry_index(top.entry);
    const uint32_t lab = entry_label(top.entry);
    const uint32_t t = (uint32_t)v / nx, x = (uint32_t)v - t * nx, z = t / ny, y = t - z * ny;
    for (int j = 0; j < nb.n; j++) {
      if (!inside(&nb, j, z, y, x, dims)) continue;
      const int64_t u = v + nb.delta[j];
      if (visited_test_set(visited, u)) continue;
      labels[u] = lab;
      const float own = isnan(boundary[u]) ? INFINITY : boundary[u];
      if (radix_push(&h, own > level ? own : level, pack_entry(lab, u)) != 0) {
        status = -1;
        break;
      }
    }
  }
  for (int b = 0; b < 65; b++) free(h.bucket[b]);
  free(visited);
  if (status != 0) return pp_error_set(err, "watershed.c: out of memory");
  return 0;
}

/* ---- seeds -------------------------------------------------------------- */

static int64_t seeds_from_mask(uint32_t *seeds, uint8_t *mask, const int64_t dims[3],
                               uint64_t min_size, int connectivity, PpError *err) {
  int64_t k = cc_label_u8(seeds, mask, dims, connectivity, err);
  if (k < 0) return -1;
  return cc_remove_small(seeds, (size_t)(dims[0] * dims[1] * dims[2]), min_size, err);
}

int64_t ws_seeds_below_u8(uint32_t *seeds, const uint8_t *boundary, const int64_t dims[3],
                          uint8_t threshold, uint64_t min_size, int connectivity,
                          PpError *err) {
  if (check_dims(dims, connectivity, err) != 0) return -1;
  const size_t n = (size_t)(dims[0] * dims[1] * dims[2]);
  uint8_t *low = malloc(n);
  if (!low) return pp_error_set(err, "watershed.c: out of memory");
  for (size_t i = 0; i < n; i++) low[i] = boundary[i] < threshold;
  int64_t k = seeds_from_mask(seeds, low, dims, min_size, connectivity, err);
  free(low);
  return k;
}

int64_t ws_seeds_below_f32(uint32_t *seeds, const float *boundary, const int64_t dims[3],
                           float threshold, uint64_t min_size, int connectivity,
                           PpError *err) {
  if (check_dims(dims, connectivity, err) != 0) return -1;
  const size_t n = (size_t)(dims[0] * dims[1] * dims[2]);
  uint8_t *low = malloc(n);
  if (!low) return pp_error_set(err, "watershed.c: out of memory");
  for (size_t i = 0; i < n; i++) low[i] = boundary[i] < threshold;
  int64_t k = seeds_from_mask(seeds, low, dims, min_size, connectivity, err);
  free(low);
  return k;
}

/* Regional minima over "ordered" values (uint32, order-preserving, never 0):
 * plateaus are the connected components of equal values; a plateau with a
 * strictly lower neighbour anywhere is not a minimum. */
static int64_t regional_minima(uint32_t *seeds, uint32_t *ordered, const int64_t dims[3],
                               int connectivity, PpError *err) {
  const int64_t n = dims[0] * dims[1] * dims[2];
  int64_t k = cc_label_u32(seeds, ordered, dims, connectivity, err);
  if (k < 0) return -1;
  uint8_t *not_min = calloc((size_t)k + 1, 1);
  if (!not_min) return pp_error_set(err, "watershed.c: out of memory");
  Neighbours nb;
  neighbours_init(&nb, dims, connectivity);
  int64_t i = 0;
  for (int64_t z = 0; z < dims[0]; z++)
    for (int64_t y = 0; y < dims[1]; y++)
      for (int64_t x = 0; x < dims[2]; x++, i++) {
        if (not_min[seeds[i]]) continue;
        for (int j = 0; j < nb.n; j++)
          if (inside(&nb, j, z, y, x, dims) && ordered[i + nb.delta[j]] < ordered[i]) {
            not_min[seeds[i]] = 1;
            break;
          }
      }
  for (int64_t v = 0; v < n; v++)
    if (not_min[seeds[v]]) seeds[v] = 0;
  free(not_min);
  return cc_relabel_consecutive(seeds, (size_t)n, err);
}

int64_t ws_seeds_local_minima_u8(uint32_t *seeds, const uint8_t *boundary, const int64_t dims[3],
                                 int connectivity, PpError *err) {
  if (check_dims(dims, connectivity, err) != 0) return -1;
  const size_t n = (size_t)(dims[0] * dims[1] * dims[2]);
  uint32_t *ordered = malloc(n * sizeof *ordered);
  if (!ordered) return pp_error_set(err, "watershed.c: out of memory");
  for (size_t i = 0; i < n; i++) ordered[i] = (uint32_t)boundary[i] + 1;
  int64_t k = regional_minima(seeds, ordered, dims, connectivity, err);
  free(ordered);
  return k;
}

int64_t ws_seeds_local_minima_f32(uint32_t *seeds, const float *boundary, const int64_t dims[3],
                                  int connectivity, PpError *err) {
  if (check_dims(dims, connectivity, err) != 0) return -1;
  const size_t n = (size_t)(dims[0] * dims[1] * dims[2]);
  uint32_t *ordered = malloc(n * sizeof *ordered);
  if (!ordered) return pp_error_set(err, "watershed.c: out of memory");
  // float_order is never 0 for a number or infinity (NaN is made +inf).
  for (size_t i = 0; i < n; i++) ordered[i] = float_order(boundary[i]);
  int64_t k = regional_minima(seeds, ordered, dims, connectivity, err);
  free(ordered);
  return k;
}

/* Squared 1D Euclidean distance transform of a sampled function
 * (Felzenszwalb & Huttenlocher 2012): d[q] = min_p (q - p)^2 + f[p]. */
static void edt_1d(float *d, const float *f, int64_t n, int64_t *v, float *zk) {
  int64_t k = 0;
  v[0] = 0;
  zk[0] = -INFINITY;
  zk[1] = INFINITY;
  for (int64_t q = 1; q < n; q++) {
    float s;
    for (;;) {  // zk[0] = -inf ends the loop at k = 0 at the latest
      const int64_t p = v[k];
      s = ((f[q] + (float)(q * q)) - (f[p] + (float)(p * p))) / (float)(2 * q - 2 * p);
      if (s > zk[k]) break;
      k--;
    }
    k++;
    v[k] = q;
    zk[k] = s;
    zk[k + 1] = INFINITY;
  }
  k = 0;
  for (int64_t q = 0; q < n; q++) {
    while (zk[k + 1] < (float)q) k++;
    const float dq = (float)(q - v[k]);
    d[q] = dq * dq + f[v[k]];
  }
}

/* Separable Gaussian blur of one (ny, nx) slice, mirrored at the borders. */
static void blur_2d(float *img, float *line, int64_t ny, int64_t nx, float sigma) {
  const int radius = (int)ceilf(3.0f * sigma);
  float kernel[256];
  if (radius <= 0 || radius > 127) return;
  float total = 0;
  for (int r = -radius; r <= radius; r++) total += kernel[r + radius] = expf(-0.5f * r * r / (sigma * sigma));
  for (int r = 0; r <= 2 * radius; r++) kernel[r] /= total;
  for (int pass = 0; pass < 2; pass++) {
    const int64_t len = pass == 0 ? nx : ny, count = pass == 0 ? ny : nx;
    const int64_t step = pass == 0 ? 1 : nx, next = pass == 0 ? nx : 1;
    for (int64_t c = 0; c < count; c++) {
      float *base = img + c * next;
      for (int64_t q = 0; q < len; q++) {
        float acc = 0;
        for (int r = -radius; r <= radius; r++) {
          int64_t s = q + r;
          while (s < 0 || s >= len) s = s < 0 ? -s - 1 : 2 * len - s - 1;
          acc += kernel[r + radius] * base[s * step];
        }
        line[q] = acc;
      }
      for (int64_t q = 0; q < len; q++) base[q * step] = line[q];
    }
  }
}

int64_t ws_seeds_distance_maxima(uint32_t *seeds, const float *boundary,
                                 const int64_t dims[3], float threshold, float sigma,
                                 PpError *err) {
  if (check_dims(dims, CC_CONN_FACES, err) != 0) return -1;
  const int64_t ny = dims[1], nx = dims[2], plane = ny * nx;
  const int64_t longest = ny > nx ? ny : nx;
  float *dist = malloc((size_t)plane * sizeof *dist);
  float *f = malloc((size_t)longest * sizeof *f);
  float *d = malloc((size_t)longest * sizeof *d);
  float *zk = malloc((size_t)(longest + 1) * sizeof *zk);
  int64_t *v = malloc((size_t)longest * sizeof *v);
  uint8_t *peak = malloc((size_t)plane);
  if (!dist || !f || !d || !zk || !v || !peak) {
    free(dist), free(f), free(d), free(zk), free(v), free(peak);
    return pp_error_set(err, "watershed.c: out of memory");
  }
  const float far = 1e20f;  // "no boundary yet" that stays finite in the sums
  int64_t total = 0;
  int64_t status = 0;
  for (int64_t z = 0; z < dims[0] && status >= 0; z++) {
    const float *b = boundary + z * plane;
    for (int64_t y = 0; y < ny; y++) {  // rows
      for (int64_t x = 0; x < nx; x++) f[x] = b[y * nx + x] < threshold ? far : 0.0f;
      edt_1d(d, f, nx, v, zk);
      memcpy(dist + y * nx, d, (size_t)nx * sizeof *d);
    }
    for (int64_t x = 0; x < nx; x++) {  // columns
      for (int64_t y = 0; y < ny; y++) f[y] = dist[y * nx + x];
      edt_1d(d, f, ny, v, zk);
      for (int64_t y = 0; y < ny; y++) dist[y * nx + x] = sqrtf(d[y]);
    }
    if (sigma > 0) blur_2d(dist, d, ny, nx, sigma);
    for (int64_t y = 0; y < ny; y++)
      for (int64_t x = 0; x < nx; x++) {
        const float c = dist[y * nx + x];
        bool is_peak = c > 0 && b[y * nx + x] < threshold;
        for (int dy = -1; dy <= 1 && is_peak; dy++)
          for (int dx = -1; dx <= 1; dx++) {
            const int64_t yy = y + dy, xx = x + dx;
            if (yy < 0 || yy >= ny || xx < 0 || xx >= nx) continue;
            if (dist[yy * nx + xx] > c) {
              is_peak = false;
              break;
            }
          }
        peak[y * nx + x] = is_peak;
      }
    // One seed per plateau: 26-connectivity in a single slice is the 8-neighbourhood.
    const int64_t slice_dims[3] = {1, ny, nx};
    uint32_t *out = seeds + z * plane;
    status = cc_label_u8(out, peak, slice_dims, CC_CONN_FULL, err);
    if (status < 0) break;
    for (int64_t i = 0; i < plane; i++)
      if (out[i]) out[i] += (uint32_t)total;
    total += status;
  }
  free(dist), free(f), free(d), free(zk), free(v), free(peak);
  return status < 0 ? -1 : total;
}

/* ---- affinities --------------------------------------------------------- */

void ws_boundary_from_affinities(float *boundary, const float *aff, const int64_t dims[3]) {
  const int64_t nz = dims[0], ny = dims[1], nx = dims[2];
  const int64_t n = nz * ny * nx;
  const int64_t stride[3] = {ny * nx, nx, 1};
  int64_t i = 0;
  for (int64_t z = 0; z < nz; z++)
    for (int64_t y = 0; y < ny; y++)
      for (int64_t x = 0; x < nx; x++, i++) {
        const int64_t coord[3] = {z, y, x};
        double sum = 0;
        int edges = 0;
        for (int c = 0; c < 3; c++) {
          const float *ch = aff + (size_t)c * (size_t)n;
          if (coord[c] > 0) {  // edge to v - e_c, stored at v
            sum += ch[i];
            edges++;
          }
          if (coord[c] + 1 < dims[c]) {  // edge to v + e_c, stored at v + e_c
            sum += ch[i + stride[c]];
            edges++;
          }
        }
        boundary[i] = edges ? (float)(1.0 - sum / edges) : 0.0f;
      }
}

int64_t ws_affinity_fragments(uint32_t *fragments, const float *aff, const int64_t dims[3],
                              float seed_threshold, uint64_t seed_min_size, int connectivity,
                              PpError *err) {
  if (check_dims(dims, connectivity, err) != 0) return -1;
  const size_t n = (size_t)(dims[0] * dims[1] * dims[2]);
  float *boundary = malloc(n * sizeof *boundary);
  if (!boundary) return pp_error_set(err, "watershed.c: out of memory");
  ws_boundary_from_affinities(boundary, aff, dims);
  int64_t k = ws_seeds_below_f32(fragments, boundary, dims, seed_threshold, seed_min_size,
                                 connectivity, err);
  if (k >= 0 && ws_seeded_f32(fragments, boundary, NULL, dims, connectivity, err) != 0)
    k = -1;
  free(boundary);
  return k;
}

/* ---- MitoEM: foreground + contour -------------------------------------- */

void ws_mito_default_params(MitoWatershedParams *p) {
  p->seed_fg_min = 0.9f;
  p->seed_contour_max = 0.8f;
  p->mask_fg_min = 0.85f;
  p->seed_min_size = 32;
  p->min_size = 128;
  p->seed_connectivity = CC_CONN_FULL;
}

int64_t ws_mito_instances(uint32_t *instances, const float *fg, const float *contour,
                          const int64_t dims[3], const MitoWatershedParams *p,
                          PpError *err) {
  if (check_dims(dims, p->seed_connectivity, err) != 0) return -1;
  const size_t n = (size_t)(dims[0] * dims[1] * dims[2]);
  uint8_t *mask = malloc(n);
  float *depth = malloc(n * sizeof *depth);
  if (!mask || !depth) {
    free(mask);
    free(depth);
    return pp_error_set(err, "watershed.c: out of memory");
  }
  for (size_t i = 0; i < n; i++) mask[i] = fg[i] > p->seed_fg_min && contour[i] < p->seed_contour_max;
  int64_t k = seeds_from_mask(instances, mask, dims, p->seed_min_size, p->seed_connectivity, err);
  if (k >= 0) {
    for (size_t i = 0; i < n; i++) {
      mask[i] = fg[i] > p->mask_fg_min;
      depth[i] = -fg[i];  // flood from the most certain foreground outwards
    }
    if (ws_seeded_f32(instances, depth, mask, dims, CC_CONN_FACES, err) != 0) k = -1;
  }
  if (k >= 0) k = cc_remove_small(instances, n, p->min_size, err);
  free(mask);
  free(depth);
  return k;
}
