/* Geometry of the phantom's cells: nearest tubes of a point, the distance to
 * the boundary between cells, and culling of segments for a box of points. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    float r = g->ra + t * (g->rb - g->ra);
    float w = g->wa + t * (g->wb - g->wa);
    float v = (dist - r) * w;
    if (v >= n.v2 && g->tube != n.t1) continue; /* cannot matter: skip the division */
    float inv = dist > 1e-6f ? w / dist : 0.0f;
    float u[3] = {d[0] * inv, d[1] * inv, d[2] * inv};
    nearest_offer(&n, g->tube, v, u);
  }
  *out = n;
}

void ph_boundary_distance(const PhNearest *n, float *in_plane, float *in_3d, float *tilt) {
  if (n->t2 == UINT32_MAX) {
    *in_plane = *in_3d = FLT_MAX;
    *tilt = 0.0f;
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
  *tilt = fabsf(gz) / d3;
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
    float rmin = ph_minf(g->ra, g->rb);
    float upper = (dc + rho - rmin) * ph_maxf(g->wa, g->wb);
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
    float rmax = ph_maxf(g->ra, g->rb);
    float lower = (ph_maxf(dist[i] - rho, 0.0f) - rmax) * ph_minf(g->wa, g->wb);
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

void ph_lattice_sample(const PhScene *s, const float p[3], float out[4]) {
  const int64_t *dims = s->lattice_dims;
  int64_t base[3];
  float w[3];
  for (int k = 0; k < 3; k++) {
    /* The lattice starts one step before the origin. */
    float f = p[k] / PH_LATTICE_STEP + 1.0f;
    if (f < 0.0f) f = 0.0f;
    if (f > (float)(dims[k] - 2)) f = (float)(dims[k] - 2) - 1e-4f;
    base[k] = (int64_t)f;
    float t = f - (float)base[k];
    w[k] = t * t * (3.0f - 2.0f * t); /* smooth across lattice cells */
  }
  for (int c = 0; c < 4; c++) out[c] = 0.0f;
  for (int corner = 0; corner < 8; corner++) {
    int dz = corner >> 2, dy = (corner >> 1) & 1, dx = corner & 1;
    float weight = (dz ? w[0] : 1.0f - w[0]) * (dy ? w[1] : 1.0f - w[1]) * (dx ? w[2] : 1.0f - w[2]);
    const float *v =
        s->lattice + (((base[0] + dz) * dims[1] + base[1] + dy) * dims[2] + base[2] + dx) * 4;
    for (int c = 0; c < 4; c++) out[c] += weight * v[c];
  }
}

void ph_warp_point(const PhScene *s, const float p[3], float q[3], float *thickness) {
  float f[4];
  ph_lattice_sample(s, p, f);
  for (int k = 0; k < 3; k++) q[k] = p[k] + f[k];
  *thickness = f[3];
}

/* Lists are padded to a multiple of this with far-away dummies, so that the
 * distance loop runs in whole vectors (short lists would otherwise fall to
 * the scalar remainder loop). */
enum { SIMD_PAD = 8 };
static const float PAD_FAR = 1e15f; /* a dummy's value is about this */

int ph_segment_arrays_init(PhSegmentArrays *sa, size_t capacity) {
  memset(sa, 0, sizeof *sa);
  float **fields[] = {&sa->az, &sa->ay, &sa->ax, &sa->bz, &sa->by, &sa->bx,
                      &sa->inv_len2, &sa->ra, &sa->dr, &sa->wa, &sa->dw, &sa->value};
  int ok = 1;
  for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
    *fields[f] = malloc((capacity + SIMD_PAD) * sizeof(float));
    if (!*fields[f]) ok = 0;
  }
  sa->tube = malloc((capacity + SIMD_PAD) * sizeof(uint32_t));
  if (!sa->tube) ok = 0;
  if (!ok) ph_segment_arrays_free(sa);
  return ok ? 0 : -1;
}

void ph_segment_arrays_free(PhSegmentArrays *sa) {
  float *fields[] = {sa->az, sa->ay, sa->ax, sa->bz, sa->by, sa->bx,
                     sa->inv_len2, sa->ra, sa->dr, sa->wa, sa->dw, sa->value};
  for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) free(fields[f]);
  free(sa->tube);
  memset(sa, 0, sizeof *sa);
}

void ph_segment_arrays_load(PhSegmentArrays *sa, const PhScene *s, const uint32_t *idx, size_t n) {
  size_t padded = (n + SIMD_PAD - 1) / SIMD_PAD * SIMD_PAD;
  for (size_t j = n; j < padded; j++) {
    sa->az[j] = sa->ay[j] = sa->ax[j] = PAD_FAR;
    sa->bz[j] = sa->by[j] = sa->bx[j] = 0.0f;
    sa->inv_len2[j] = 0.0f;
    sa->ra[j] = sa->dr[j] = sa->dw[j] = 0.0f;
    sa->wa[j] = 1.0f;
    sa->tube[j] = UINT32_MAX - 1;
  }
  sa->n = padded;
  for (size_t j = 0; j < n; j++) {
    const PhSegment *g = &s->seg[idx[j]];
    sa->az[j] = g->a[0];
    sa->ay[j] = g->a[1];
    sa->ax[j] = g->a[2];
    sa->bz[j] = g->ab[0];
    sa->by[j] = g->ab[1];
    sa->bx[j] = g->ab[2];
    sa->inv_len2[j] = g->inv_len2;
    sa->ra[j] = g->ra;
    sa->dr[j] = g->rb - g->ra;
    sa->wa[j] = g->wa;
    sa->dw[j] = g->wb - g->wa;
    sa->tube[j] = g->tube;
  }
}

/* Unit vector from segment j's nearest point towards p, times its weight. */
static void arrays_direction(const PhSegmentArrays *sa, size_t j, const float p[3], float u[3]) {
  float ap[3] = {p[0] - sa->az[j], p[1] - sa->ay[j], p[2] - sa->ax[j]};
  float ab[3] = {sa->bz[j], sa->by[j], sa->bx[j]};
  float t = (ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2]) * sa->inv_len2[j];
  t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
  float d[3] = {ap[0] - t * ab[0], ap[1] - t * ab[1], ap[2] - t * ab[2]};
  float dist = sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
  float w = sa->wa[j] + t * sa->dw[j];
  float inv = dist > 1e-6f ? w / dist : 0.0f;
  for (int k = 0; k < 3; k++) u[k] = d[k] * inv;
}

void ph_nearest_query_arrays(PhSegmentArrays *sa, const float p[3], float near_limit,
                             PhNearest *out) {
  const size_t n = sa->n;
  const float pz = p[0], py = p[1], px = p[2];
  const float *restrict az = sa->az, *restrict ay = sa->ay, *restrict ax = sa->ax;
  const float *restrict bz = sa->bz, *restrict by = sa->by, *restrict bx = sa->bx;
  const float *restrict inv = sa->inv_len2, *restrict ra = sa->ra, *restrict dr = sa->dr;
  const float *restrict wa = sa->wa, *restrict dw = sa->dw;
  float *restrict value = sa->value;
#pragma omp simd simdlen(SIMD_PAD)
  for (size_t j = 0; j < n; j++) {
    float apz = pz - az[j], apy = py - ay[j], apx = px - ax[j];
    float t = (apz * bz[j] + apy * by[j] + apx * bx[j]) * inv[j];
    t = ph_minf(ph_maxf(t, 0.0f), 1.0f);
    float dz = apz - t * bz[j], dy = apy - t * by[j], dx = apx - t * bx[j];
    float dist = sqrtf(dz * dz + dy * dy + dx * dx);
    value[j] = (dist - (ra[j] + t * dr[j])) * (wa[j] + t * dw[j]);
  }
  /* The two best distinct tubes, by two vectorised minimum passes (exact,
   * so independent of the order of evaluation), then their directions. */
  if (n == 0) {
    ph_nearest_init(out);
    return;
  }
  const uint32_t *restrict tube = sa->tube;
  float v1 = FLT_MAX;
#pragma omp simd simdlen(SIMD_PAD) reduction(min : v1)
  for (size_t j = 0; j < n; j++) v1 = value[j] < v1 ? value[j] : v1;
  size_t j1 = 0;
  while (value[j1] != v1) j1++;
  uint32_t t1 = tube[j1];
  float v2 = FLT_MAX;
#pragma omp simd simdlen(SIMD_PAD) reduction(min : v2)
  for (size_t j = 0; j < n; j++) {
    float v = tube[j] != t1 ? value[j] : FLT_MAX;
    v2 = v < v2 ? v : v2;
  }
  uint32_t t2 = UINT32_MAX;
  size_t j2 = 0;
  if (v2 < 0.5f * PAD_FAR) {
    while (tube[j2] == t1 || value[j2] != v2) j2++;
    t2 = tube[j2];
  }
  out->t1 = t1;
  out->t2 = t2;
  out->v1 = v1;
  out->v2 = v2;
  for (int k = 0; k < 3; k++) out->u1[k] = out->u2[k] = 0.0f;
  if (t2 == UINT32_MAX) return;
  /* |grad (v2 - v1)| <= w1 + w2, so the boundary is at least
   * (v2 - v1) / (w1 + w2) away: when that is beyond near_limit, most voxels,
   * the directions are not needed. */
  float w1 = ph_maxf(sa->wa[j1], sa->wa[j1] + sa->dw[j1]);
  float w2 = ph_maxf(sa->wa[j2], sa->wa[j2] + sa->dw[j2]);
  if (v2 - v1 > (w1 + w2) * near_limit) {
    out->t2 = UINT32_MAX; /* read as: no boundary nearby */
    return;
  }
  arrays_direction(sa, j1, p, out->u1);
  arrays_direction(sa, j2, p, out->u2);
}
