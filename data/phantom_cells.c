/* Geometry of the phantom's cells: nearest tubes of a point, the distance to
 * the boundary between cells, and culling of segments for a box of points. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "phantom_internal.h"

float ph_segment_distance(const float a[3], const float ab[3], float inv_len2, const float p[3],
                          float *t_out) {
  float ap[3] = {p[0] - a[0], p[1] - a[1], p[2] - a[2]};
  float t = (ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2]) * inv_len2;
  t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
  float d[3] = {ap[0] - t * ab[0], ap[1] - t * ab[1], ap[2] - t * ab[2]};
  *t_out = t;
  return sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
}

void ph_nearest_init(PhNearest *n) {
  n->t1 = n->t2 = UINT32_MAX;
  n->v1 = n->v2 = FLT_MAX;
  for (int k = 0; k < 3; k++) n->u1[k] = n->u2[k] = 0.0f;
}

/* Keeps the two smallest values among distinct tubes. */
static inline void nearest_offer(PhNearest *n, uint32_t tube, float v, const float u[3]) {
  if (tube == n->t1) {
    if (v < n->v1) {
      n->v1 = v;
      for (int k = 0; k < 3; k++) n->u1[k] = u[k];
    }
    return;
  }
  if (v < n->v1) {
    n->t2 = n->t1;
    n->v2 = n->v1;
    for (int k = 0; k < 3; k++) n->u2[k] = n->u1[k];
    n->t1 = tube;
    n->v1 = v;
    for (int k = 0; k < 3; k++) n->u1[k] = u[k];
    return;
  }
  if (v < n->v2) {
    n->t2 = tube;
    n->v2 = v;
    for (int k = 0; k < 3; k++) n->u2[k] = u[k];
  }
}

void ph_nearest_query(const PhScene *s, const uint32_t *idx, size_t n_idx, const float p[3],
                      PhNearest *out) {
  PhNearest n;
  ph_nearest_init(&n);
  for (size_t i = 0; i < n_idx; i++) {
    const PhSegment *g = &s->seg[idx ? idx[i] : i];
    float ap[3] = {p[0] - g->a[0], p[1] - g->a[1], p[2] - g->a[2]};
    float t = (ap[0] * g->ab[0] + ap[1] * g->ab[1] + ap[2] * g->ab[2]) * g->inv_len2;
    t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
    float d[3] = {ap[0] - t * g->ab[0], ap[1] - t * g->ab[1], ap[2] - t * g->ab[2]};
    float dist = sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    float v = dist - (g->ra + t * (g->rb - g->ra));
    if (v >= n.v2 && g->tube != n.t1) continue; /* cannot matter: skip the division */
    float inv = dist > 1e-6f ? 1.0f / dist : 0.0f;
    float u[3] = {d[0] * inv, d[1] * inv, d[2] * inv};
    nearest_offer(&n, g->tube, v, u);
  }
  *out = n;
}

void ph_boundary_distance(const PhNearest *n, float *in_plane, float *in_3d) {
  if (n->t2 == UINT32_MAX) {
    *in_plane = *in_3d = FLT_MAX;
    return;
  }
  /* g = v2 - v1 vanishes on the boundary and grows with slope |grad g|, so
   * g / |grad g| is the distance to it to first order. In an xy section the
   * boundary line lies g / |grad_xy g| away; capping that at 3x keeps
   * boundaries that run almost parallel to the section from flooding it. */
  float g = n->v2 - n->v1;
  float gz = n->u2[0] - n->u1[0], gy = n->u2[1] - n->u1[1], gx = n->u2[2] - n->u1[2];
  float gxy = sqrtf(gy * gy + gx * gx);
  float gall = sqrtf(gxy * gxy + gz * gz);
  float d3 = gall > 0.05f ? gall : 0.05f;
  float dxy = gxy > 0.33f * d3 ? gxy : 0.33f * d3;
  *in_plane = g / dxy;
  *in_3d = g / d3;
}

size_t ph_cull_segments(const PhScene *s, const float lo[3], const float hi[3], const uint32_t *in,
                        size_t n_in, uint32_t *out, float *scratch) {
  float *tube_upper = scratch, *dist = scratch + s->n_tubes;
  float c[3], rho2 = 0.0f;
  for (int k = 0; k < 3; k++) {
    c[k] = 0.5f * (lo[k] + hi[k]);
    float h = 0.5f * (hi[k] - lo[k]);
    rho2 += h * h;
  }
  float rho = sqrtf(rho2);
  /* Bounds over the box: value(x) of a segment lies in [dc - rho - r_max,
   * dc + rho - r_min]. A segment can be among the two nearest tubes of some
   * point only if its lower bound is below the second-best upper bound of
   * distinct tubes, and it can be its own tube's nearest piece only if its
   * lower bound is below that tube's best upper bound. The second test drops
   * the far parts of nearby tubes. */
  uint32_t t1 = UINT32_MAX;
  float u1 = FLT_MAX, u2 = FLT_MAX;
  for (size_t i = 0; i < n_in; i++) {
    const PhSegment *g = &s->seg[in ? in[i] : i];
    float t;
    float dc = ph_segment_distance(g->a, g->ab, g->inv_len2, c, &t);
    dist[i] = dc;
    float upper = dc + rho - fminf(g->ra, g->rb);
    if (upper < tube_upper[g->tube]) tube_upper[g->tube] = upper;
    if (g->tube == t1) {
      if (upper < u1) u1 = upper;
    } else if (upper < u1) {
      u2 = u1;
      t1 = g->tube;
      u1 = upper;
    } else if (upper < u2) {
      u2 = upper;
    }
  }
  size_t n_out = 0;
  for (size_t i = 0; i < n_in; i++) {
    uint32_t id = in ? in[i] : (uint32_t)i;
    const PhSegment *g = &s->seg[id];
    float lower = dist[i] - rho - fmaxf(g->ra, g->rb);
    if (lower <= u2 && lower <= tube_upper[g->tube]) out[n_out++] = id;
  }
  for (size_t i = 0; i < n_in; i++) tube_upper[s->seg[in ? in[i] : i].tube] = FLT_MAX;
  return n_out;
}

float *ph_cull_scratch_new(const PhScene *s) {
  /* n_tubes per-tube bounds (kept at FLT_MAX between calls), then n_seg
   * centre distances. */
  float *scratch = malloc((s->n_tubes + s->n_seg + 1) * sizeof *scratch);
  if (scratch)
    for (size_t i = 0; i < s->n_tubes; i++) scratch[i] = FLT_MAX;
  return scratch;
}
