/* Connected components: hand-made masks with known components, label
 * splitting, size filter and relabelling, and parity with a naive
 * breadth-first flood fill on random volumes. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "connected_components.h"
#include "rng.h"
#include "tap.h"

static bool equal_u32(const uint32_t *a, const uint32_t *b, size_t n) {
  return memcmp(a, b, n * sizeof *a) == 0;
}

/* Reference: flood fill from each unvisited voxel in raster order (so the
 * labels come out in the same order), with an explicit queue. */
static int64_t naive_cc(uint32_t *out, const uint32_t *in, const int64_t d[3], int conn) {
  const size_t n = (size_t)(d[0] * d[1] * d[2]);
  int64_t *queue = malloc(n * sizeof *queue);
  memset(out, 0, n * sizeof *out);
  int64_t k = 0;
  for (size_t s = 0; s < n; s++) {
    if (!in[s] || out[s]) continue;
    size_t head = 0, tail = 0;
    queue[tail++] = (int64_t)s;
    out[s] = (uint32_t)++k;
    while (head < tail) {
      int64_t v = queue[head++];
      int64_t x = v % d[2], y = (v / d[2]) % d[1], z = v / (d[1] * d[2]);
      for (int dz = -1; dz <= 1; dz++)
        for (int dy = -1; dy <= 1; dy++)
          for (int dx = -1; dx <= 1; dx++) {
            int steps = abs(dz) + abs(dy) + abs(dx);
            if (!steps || (conn == 6 && steps > 1)) continue;
            int64_t zz = z + dz, yy = y + dy, xx = x + dx;
            if (zz < 0 || yy < 0 || xx < 0 || zz >= d[0] || yy >= d[1] || xx >= d[2]) continue;
            int64_t u = (zz * d[1] + yy) * d[2] + xx;
            if (out[u] || in[u] != in[v]) continue;
            out[u] = (uint32_t)k;
            queue[tail++] = u;
          }
    }
  }
  free(queue);
  return k;
}

static void test_hand_made(void) {
  PpError err;
  // One slice, 4 x 6:   1 1 0 0 1 1
  //                     0 1 0 0 0 1
  //                     0 0 1 0 0 0
  //                     1 0 0 0 1 1
  const uint8_t mask[24] = {1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1,
                            0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1};
  const int64_t dims[3] = {1, 4, 6};
  uint32_t out[24];
  int64_t k6 = cc_label_u8(out, mask, dims, CC_CONN_FACES, &err);
  const uint32_t want6[24] = {1, 1, 0, 0, 2, 2, 0, 1, 0, 0, 0, 2,
                              0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 5};
  TAP_OK(k6 == 5 && equal_u32(out, want6, 24), "6-connected: 5 components in raster order (got %lld)",
         (long long)k6);
  int64_t k26 = cc_label_u8(out, mask, dims, CC_CONN_FULL, &err);
  const uint32_t want26[24] = {1, 1, 0, 0, 2, 2, 0, 1, 0, 0, 0, 2,
                               0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 4, 4};
  TAP_OK(k26 == 4 && equal_u32(out, want26, 24), "26-connected: the diagonal joins (got %lld)",
         (long long)k26);

  // Across slices: two voxels stacked in z join with 6-connectivity, a
  // z-diagonal pair only with 26.
  const uint8_t stack[8] = {1, 0, 0, 0, /* z=1 */ 1, 0, 0, 1};
  const int64_t d2[3] = {2, 2, 2};
  uint32_t o2[8];
  TAP_OK(cc_label_u8(o2, stack, d2, CC_CONN_FACES, &err) == 2, "z neighbours join, the far corner does not (6)");
  TAP_OK(cc_label_u8(o2, stack, d2, CC_CONN_FULL, &err) == 1, "the far corner joins with 26");
  int64_t k4 = cc_label_u8(o2, stack, d2, CC_CONN_PLANE4, &err);
  TAP_OK(k4 == 3 && o2[0] == 1 && o2[4] == 2 && o2[7] == 3, "4-neighbour (per slice): nothing joins across z");
  TAP_OK(cc_label_u8(o2, stack, d2, CC_CONN_PLANE8, &err) == 2 && o2[4] == o2[7],
         "8-neighbour (per slice): the in-slice diagonal joins");

  // A U shape whose arms meet only at the bottom: one component, found from
  // two provisional labels (exercises the union).
  const uint8_t u_shape[9] = {1, 0, 1, 1, 0, 1, 1, 1, 1};
  const int64_t d3[3] = {1, 3, 3};
  uint32_t o3[9];
  int64_t ku = cc_label_u8(o3, u_shape, d3, CC_CONN_FACES, &err);
  TAP_OK(ku == 1 && o3[0] == 1 && o3[2] == 1 && o3[8] == 1, "U shape is one component");

  // Label volumes: equal ids that fall apart are split; different ids that
  // touch stay apart.
  const uint32_t labels[6] = {7, 7, 9, 7, 3, 3};
  const int64_t d4[3] = {1, 1, 6};
  uint32_t o4[6];
  int64_t kl = cc_label_u32(o4, labels, d4, CC_CONN_FACES, &err);
  const uint32_t want4[6] = {1, 1, 2, 3, 4, 4};
  TAP_OK(kl == 4 && equal_u32(o4, want4, 6), "label 7 in two pieces is split, 9 and 3 stay apart");

  TAP_OK(cc_label_u8(out, mask, dims, 5, &err) == -1 && strstr(err.message, "connectivity"),
         "connectivity 5 is refused with a message: %s", err.message);
  const int64_t bad[3] = {0, 4, 4};
  TAP_OK(cc_label_u8(out, mask, bad, 6, &err) == -1, "empty shape is refused: %s", err.message);
}

static void test_filters(void) {
  PpError err;
  uint32_t v[10] = {0, 500, 500, 4000000000u, 0, 500, 12, 12, 12, 4000000000u};
  int64_t k = cc_relabel_consecutive(v, 10, &err);
  const uint32_t want[10] = {0, 1, 1, 2, 0, 1, 3, 3, 3, 2};
  TAP_OK(k == 3 && equal_u32(v, want, 10), "relabel huge ids by first appearance (hash path)");
  uint32_t w[10] = {0, 5, 5, 2, 0, 5, 9, 9, 9, 2};
  k = cc_remove_small(w, 10, 3, &err);
  const uint32_t want_w[10] = {0, 1, 1, 0, 0, 1, 2, 2, 2, 0};
  TAP_OK(k == 2 && equal_u32(w, want_w, 10), "segments under 3 voxels removed, rest 1..2");
}

static void test_random_parity(void) {
  PpError err;
  Rng rng;
  rng_seed(&rng, 7);
  const int64_t d[3] = {9, 23, 31};
  const size_t n = (size_t)(d[0] * d[1] * d[2]);
  uint32_t *in = malloc(n * sizeof *in), *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  bool ok6 = true, ok26 = true;
  for (int trial = 0; trial < 6; trial++) {
    const int values = 1 + trial % 3;  // binary masks and 2-3 label values
    for (size_t i = 0; i < n; i++) in[i] = rng_uniform(&rng) < 0.45f ? 0 : 1 + (uint32_t)rng_below(&rng, values);
    int64_t ka = cc_label_u32(a, in, d, 6, &err), kb = naive_cc(b, in, d, 6);
    ok6 = ok6 && ka == kb && equal_u32(a, b, n);
    ka = cc_label_u32(a, in, d, 26, &err);
    kb = naive_cc(b, in, d, 26);
    ok26 = ok26 && ka == kb && equal_u32(a, b, n);
  }
  TAP_OK(ok6, "6-connected labels equal a naive flood fill on 6 random volumes");
  TAP_OK(ok26, "26-connected labels equal a naive flood fill on 6 random volumes");
  free(in), free(a), free(b);
}

int main(void) {
  test_hand_made();
  test_filters();
  test_random_parity();
  return tap_done();
}
