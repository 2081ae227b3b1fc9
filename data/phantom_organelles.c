/* Organelles of the phantom: mitochondria and vesicle clouds, each placed
 * inside one cell, clear of its membrane and of each other. Placement looks
 * the cells up the way rasterisation will, so what is placed is what is
 * drawn. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "phantom_internal.h"
#include "rng.h"

#define PI_F 3.14159265f

/* Segments of tube t whose midpoint is inside the image region. */
static int segment_in_image(const PhScene *s, const PhSegment *g, float pad) {
  for (int k = 0; k < 3; k++) {
    float m = g->a[k] + 0.5f * g->ab[k];
    if (m < -pad || m > s->extent[k] + pad) return 0;
  }
  return 1;
}

/* Nearest-cell lookups during placement: segments are culled once for a
 * region, then points inside it are looked up against that short list. The
 * candidates come from a coarse grid of segments, so that a lookup costs the
 * same in a large volume as in a small one. */
typedef struct PlacementCheck {
  uint32_t *buf;      /* n_seg indices: the region's segments */
  size_t n;           /* segments kept for the current region */
  uint32_t *gathered; /* n_seg indices: candidates from the grid */
  uint32_t *stamp;    /* n_seg: last query that gathered each segment */
  uint32_t query;
  float *scratch;     /* for ph_cull_segments */
  /* Grid: cell c holds items[start[c] .. start[c + 1]). */
  float origin[3], cell, reach;
  int64_t dims[3];
  uint32_t *start, *items;
} PlacementCheck;

static void grid_range(const PlacementCheck *pc, const float lo[3], const float hi[3],
                       int64_t c0[3], int64_t c1[3]) {
  for (int k = 0; k < 3; k++) {
    int64_t a = (int64_t)floorf((lo[k] - pc->origin[k]) / pc->cell);
    int64_t b = (int64_t)floorf((hi[k] - pc->origin[k]) / pc->cell);
    c0[k] = a < 0 ? 0 : a >= pc->dims[k] ? pc->dims[k] - 1 : a;
    c1[k] = b < 0 ? 0 : b >= pc->dims[k] ? pc->dims[k] - 1 : b;
  }
}

static void segment_box(const PhSegment *g, float lo[3], float hi[3]) {
  float r = ph_maxf(g->ra, g->rb);
  for (int k = 0; k < 3; k++) {
    lo[k] = ph_minf(g->a[k], g->a[k] + g->ab[k]) - r;
    hi[k] = ph_maxf(g->a[k], g->a[k] + g->ab[k]) + r;
  }
}

static int placement_init(PlacementCheck *pc, const PhScene *s) {
  memset(pc, 0, sizeof *pc);
  float mean_r = 0.5f * (float)s->p.cell_diameter;
  /* The cells are packed, so a point lies inside some tube and its nearest
   * centreline is at most the thickest radius (2.2 x 1.3 x mean) away; a
   * second cell matters only when its boundary is near too. Regions gather
   * segments from 1.5 times that far around them. */
  pc->reach = 1.5f * 2.9f * mean_r + 2.0f * PH_WARP_AMPLITUDE;
  pc->cell = ph_maxf(32.0f, 2.0f * mean_r);
  float lo[3] = {1e30f, 1e30f, 1e30f}, hi[3] = {-1e30f, -1e30f, -1e30f};
  for (size_t i = 0; i < s->n_seg; i++) {
    float a[3], b[3];
    segment_box(&s->seg[i], a, b);
    for (int k = 0; k < 3; k++) {
      lo[k] = ph_minf(lo[k], a[k]);
      hi[k] = ph_maxf(hi[k], b[k]);
    }
  }
  size_t n_cells = 1;
  for (int k = 0; k < 3; k++) {
    pc->origin[k] = lo[k];
    pc->dims[k] = (int64_t)((hi[k] - lo[k]) / pc->cell) + 1;
    n_cells *= (size_t)pc->dims[k];
  }
  pc->buf = malloc((s->n_seg + 1) * sizeof *pc->buf);
  pc->gathered = malloc((s->n_seg + 1) * sizeof *pc->gathered);
  pc->stamp = calloc(s->n_seg + 1, sizeof *pc->stamp);
  pc->scratch = ph_cull_scratch_new(s);
  pc->start = calloc(n_cells + 1, sizeof *pc->start);
  if (!pc->buf || !pc->gathered || !pc->stamp || !pc->scratch || !pc->start) return -1;
  /* Counting sort of (cell, segment) pairs. */
  size_t total = 0;
  for (int pass = 0; pass < 2; pass++) {
    uint32_t *fill = NULL;
    if (pass == 1) {
      for (size_t c = 0; c < n_cells; c++) pc->start[c + 1] += pc->start[c];
      pc->items = malloc((total + 1) * sizeof *pc->items);
      fill = calloc(n_cells, sizeof *fill);
      if (!pc->items || !fill) {
        free(fill);
        return -1;
      }
    }
    for (size_t i = 0; i < s->n_seg; i++) {
      float a[3], b[3];
      int64_t c0[3], c1[3];
      segment_box(&s->seg[i], a, b);
      grid_range(pc, a, b, c0, c1);
      for (int64_t z = c0[0]; z <= c1[0]; z++)
        for (int64_t y = c0[1]; y <= c1[1]; y++)
          for (int64_t x = c0[2]; x <= c1[2]; x++) {
            size_t c = (size_t)((z * pc->dims[1] + y) * pc->dims[2] + x);
            if (pass == 0) {
              pc->start[c + 1]++;
              total++;
            } else {
              pc->items[pc->start[c] + fill[c]++] = (uint32_t)i;
            }
          }
    }
    free(fill);
  }
  return 0;
}

static void placement_free(PlacementCheck *pc) {
  free(pc->buf);
  free(pc->gathered);
  free(pc->stamp);
  free(pc->scratch);
  free(pc->start);
  free(pc->items);
}

static void check_region(const PhScene *s, PlacementCheck *pc, const float centre[3], float radius) {
  float lo[3], hi[3], glo[3], ghi[3];
  for (int k = 0; k < 3; k++) {
    lo[k] = centre[k] - radius - PH_WARP_AMPLITUDE;
    hi[k] = centre[k] + radius + PH_WARP_AMPLITUDE;
    glo[k] = lo[k] - pc->reach;
    ghi[k] = hi[k] + pc->reach;
  }
  int64_t c0[3], c1[3];
  grid_range(pc, glo, ghi, c0, c1);
  /* Stamps tell which segments this query has gathered already; gathered in
   * grid order, a fixed order, so placement stays deterministic. */
  pc->query++;
  size_t n = 0;
  for (int64_t z = c0[0]; z <= c1[0]; z++)
    for (int64_t y = c0[1]; y <= c1[1]; y++)
      for (int64_t x = c0[2]; x <= c1[2]; x++) {
        size_t c = (size_t)((z * pc->dims[1] + y) * pc->dims[2] + x);
        for (uint32_t j = pc->start[c]; j < pc->start[c + 1]; j++) {
          uint32_t id = pc->items[j];
          if (pc->stamp[id] == pc->query) continue;
          pc->stamp[id] = pc->query;
          pc->gathered[n++] = id;
        }
      }
  pc->n = ph_cull_segments(s, lo, hi, pc->gathered, n, pc->buf, pc->scratch);
}

/* Room around p (inside the current region) in tube's cell: the distance to
 * the cell's boundary in 3D, or -1 when p lies in another cell. */
static float room_at(const PhScene *s, const PlacementCheck *pc, const float p[3], uint32_t tube) {
  PhNearest near;
  float q[3], thickness;
  ph_warp_point(s, p, q, &thickness);
  ph_nearest_query(s, pc->buf, pc->n, q, &near);
  if (near.t1 != tube) return -1.0f;
  float d_plane, d3, tilt;
  ph_boundary_distance(&near, &d_plane, &d3, &tilt);
  return d3;
}

static float capsule_gap(const PhMito *a, const float p0[3], const float p1[3], float radius) {
  /* Smallest distance between the two axes, sampled: capsules are short. */
  float best = 1e30f;
  for (int i = 0; i <= 4; i++) {
    float q[3], t;
    for (int k = 0; k < 3; k++) q[k] = p0[k] + 0.25f * (float)i * (p1[k] - p0[k]);
    float d = ph_segment_distance(a->a, a->ab, a->inv_len2, q, &t);
    if (d < best) best = d;
  }
  return best - a->radius - radius;
}

/* Tubes that reach the image region, the candidates for organelles. */
static uint32_t count_visible_tubes(const PhScene *s) {
  uint32_t n = 0;
  for (uint32_t t = 0; t < s->n_tubes; t++)
    for (uint32_t i = s->tube_first[t]; i < s->tube_first[t + 1]; i++)
      if (segment_in_image(s, &s->seg[i], 0.0f)) {
        n++;
        break;
      }
  return n;
}

/* A random segment inside the image of a tube at least min_r thick. */
static int pick_site(const PhScene *s, Rng *r, float min_r, uint32_t *seg_out) {
  for (int attempt = 0; attempt < 64; attempt++) {
    uint32_t i = (uint32_t)rng_below(r, s->n_seg);
    const PhSegment *g = &s->seg[i];
    if (g->ra >= min_r && segment_in_image(s, g, 0.0f)) {
      *seg_out = i;
      return 1;
    }
  }
  return 0;
}

/* Mitochondria: capsules along the tube's axis, as thick as the cell allows
 * (within limits), kept clear of the membrane and of each other. */
/* Varicosities: a tube swells around a segment (radius up to x1.25-1.6,
 * tapering over a few segments each side), as axons do at boutons, which
 * gives a mitochondrion there room to be as thick as real ones. The swelling
 * happens before any placement, so every later lookup sees it. */
static void swell_tube(PhScene *s, Rng *r, uint32_t si) {
  enum { SPAN = 3 };
  const uint32_t tube = s->seg[si].tube;
  const int64_t first = s->tube_first[tube], last = s->tube_first[tube + 1];
  const float swell = ph_uniform(r, 1.25f, 1.6f);
  const float centre = (float)si + 0.5f; /* in joints: joint j starts segment j */
  for (int64_t j = (int64_t)si - SPAN - 1; j <= (int64_t)si + SPAN + 1; j++) {
    if (j < first || j >= last) continue;
    PhSegment *g = &s->seg[j];
    float ends[2];
    for (int e = 0; e < 2; e++) {
      float off = fabsf((float)(j + e) - centre) / (float)(SPAN + 1);
      ends[e] = off < 1.0f ? 1.0f + (swell - 1.0f) * 0.5f * (1.0f + cosf(PI_F * off)) : 1.0f;
    }
    g->ra *= ends[0];
    g->rb *= ends[1];
    g->wa = ph_radius_weight(g->ra);
    g->wb = ph_radius_weight(g->rb);
  }
}

static int place_mitochondria(PhScene *s, Rng *r, PlacementCheck *pc, const uint32_t *sites,
                              size_t n_sites, size_t target) {
  const float sc = s->organelle_scale, membrane = 1.7f * s->membrane_half + 1.0f;
  if (target == 0) return 0;
  s->mito = calloc(target, sizeof *s->mito);
  if (!s->mito) return -1;
  float mean_r = 0.5f * (float)s->p.cell_diameter;
  for (size_t attempt = 0; attempt < 30 * target && s->n_mito < target; attempt++) {
    /* The swollen sites first, then anywhere. */
    uint32_t si;
    if (attempt < n_sites)
      si = sites[attempt];
    else if (!pick_site(s, r, 1.0f * mean_r, &si))
      continue;
    const PhSegment *g = &s->seg[si];
    float dir[3], len = sqrtf(1.0f / g->inv_len2), side[3], centre[3];
    for (int k = 0; k < 3; k++) dir[k] = g->ab[k] / len;
    ph_random_perpendicular(r, dir, side);
    float offset = ph_uniform(r, 0.0f, 0.25f) * g->ra;
    for (int k = 0; k < 3; k++) centre[k] = g->a[k] + 0.5f * g->ab[k] + offset * side[k];
    float max_len = 100.0f * sc;
    check_region(s, pc, centre, 0.5f * max_len + 16.0f * sc);
    float room = room_at(s, pc, centre, g->tube) - membrane;
    if (room < 4.5f * sc) continue;
    float radius = ph_clampf(room * ph_uniform(r, 0.7f, 0.95f), 4.5f * sc, 22.0f * sc);
    float length = ph_clampf(radius * ph_uniform(r, 1.5f, 6.0f), 0.0f, max_len);
    /* Shorten until both ends fit in the cell. */
    int fits = 0;
    float p0[3], p1[3];
    for (int shrink = 0; shrink < 4 && !fits; shrink++, length *= 0.6f) {
      for (int k = 0; k < 3; k++) {
        p0[k] = centre[k] - 0.5f * length * dir[k];
        p1[k] = centre[k] + 0.5f * length * dir[k];
      }
      fits = 1;
      for (int i = 0; i <= 4 && fits; i++) {
        float q[3];
        for (int k = 0; k < 3; k++) q[k] = p0[k] + 0.25f * (float)i * (p1[k] - p0[k]);
        if (room_at(s, pc, q, g->tube) < radius + membrane) fits = 0;
      }
    }
    if (!fits) continue;
    int clear = 1;
    for (size_t j = 0; j < s->n_mito && clear; j++)
      if (capsule_gap(&s->mito[j], p0, p1, radius) < 2.0f * sc) clear = 0;
    if (!clear) continue;
    PhMito *m = &s->mito[s->n_mito++];
    float len2 = 0.0f;
    for (int k = 0; k < 3; k++) {
      m->a[k] = p0[k];
      m->ab[k] = p1[k] - p0[k];
      len2 += m->ab[k] * m->ab[k];
    }
    m->inv_len2 = len2 > 1e-12f ? 1.0f / len2 : 0.0f;
    m->radius = radius;
    /* Cristae run anywhere from across the axis to along it, so that any
     * section, lengthwise or across, cuts through some of them. */
    float across = ph_uniform(r, 0.0f, 0.5f * PI_F), perp[3];
    ph_random_perpendicular(r, dir, perp);
    for (int k = 0; k < 3; k++)
      m->crista_normal[k] = cosf(across) * dir[k] + sinf(across) * perp[k];
    m->crista_period = ph_uniform(r, 7.0f, 10.0f) * sc;
    m->crista_phase = ph_uniform(r, 0.0f, 2.0f * PI_F);
    m->tube = g->tube;
  }
  return 0;
}

static int overlaps_mito(const PhScene *s, const float c[3], float radius) {
  for (size_t j = 0; j < s->n_mito; j++) {
    float t;
    const PhMito *m = &s->mito[j];
    if (ph_segment_distance(m->a, m->ab, m->inv_len2, c, &t) < m->radius + radius) return 1;
  }
  return 0;
}

/* Vesicle clouds: tight clusters of small spheres filling part of a bouton,
 * as at a presynaptic site. */
static int place_vesicles(PhScene *s, Rng *r, PlacementCheck *pc, uint32_t visible) {
  const float sc = s->organelle_scale, membrane = 1.7f * s->membrane_half + 0.5f;
  size_t clouds = (size_t)lrint(s->p.vesicle_density * visible);
  if (clouds == 0) return 0;
  size_t cap = 0;
  float mean_r = 0.5f * (float)s->p.cell_diameter;
  size_t placed = 0;
  for (size_t attempt = 0; attempt < 30 * clouds && placed < clouds; attempt++) {
    uint32_t si;
    if (!pick_site(s, r, 0.6f * mean_r, &si)) continue;
    const PhSegment *g = &s->seg[si];
    float len = sqrtf(1.0f / g->inv_len2), dir[3], side[3], centre[3];
    for (int k = 0; k < 3; k++) dir[k] = g->ab[k] / len;
    ph_random_perpendicular(r, dir, side);
    for (int k = 0; k < 3; k++) centre[k] = g->a[k] + 0.5f * g->ab[k] + 0.3f * g->ra * side[k];
    check_region(s, pc, centre, 40.0f * sc);
    float room = room_at(s, pc, centre, g->tube) - PH_SYNAPSE_THICKENING * membrane;
    if (room < 8.0f * sc) continue;
    float cloud_r = ph_clampf(room * ph_uniform(r, 0.9f, 1.4f), 8.0f * sc, 40.0f * sc);
    if (overlaps_mito(s, centre, cloud_r)) continue;
    /* Dart throwing inside the cloud; vesicles must sit inside the cell. */
    size_t first = s->n_ves;
    int want = (int)ph_clampf(0.3f * powf(cloud_r / (4.2f * sc), 3.0f), 8.0f, 200.0f);
    for (int v = 0, tries = 0; v < want && tries < 20 * want; tries++) {
      float u[3], rv = ph_clampf(ph_uniform(r, 3.4f, 4.8f) * sc, 1.5f, 12.0f);
      ph_random_unit(r, u);
      float rho = cloud_r * cbrtf(rng_uniform(r));
      float c[3];
      for (int k = 0; k < 3; k++) c[k] = centre[k] + rho * u[k];
      int ok = 1;
      for (size_t j = first; j < s->n_ves && ok; j++) {
        float d2 = 0.0f;
        for (int k = 0; k < 3; k++) d2 += (c[k] - s->ves[j].c[k]) * (c[k] - s->ves[j].c[k]);
        float gap = s->ves[j].radius + rv + 0.8f * sc;
        if (d2 < gap * gap) ok = 0;
      }
      if (!ok || overlaps_mito(s, c, rv + 1.0f)) continue;
      if (room_at(s, pc, c, g->tube) < rv + PH_SYNAPSE_THICKENING * membrane) continue;
      if (s->n_ves == cap) {
        cap = cap ? 2 * cap : 512;
        PhVesicle *nv = realloc(s->ves, cap * sizeof *nv);
        if (!nv) return -1;
        s->ves = nv;
      }
      PhVesicle *pv = &s->ves[s->n_ves++];
      memcpy(pv->c, c, sizeof c);
      pv->radius = rv;
      pv->tube = g->tube;
      v++;
    }
    if (s->n_ves > first) {
      PhCloud *nc = realloc(s->cloud, (s->n_cloud + 1) * sizeof *nc);
      if (!nc) return -1;
      s->cloud = nc;
      PhCloud *cl = &s->cloud[s->n_cloud++];
      memcpy(cl->c, centre, sizeof centre);
      cl->radius = cloud_r;
      cl->tube = g->tube;
    }
    placed++;
  }
  return 0;
}

int ph_place_organelles(PhScene *s, Rng *mito_rng, Rng *vesicle_rng) {
  uint32_t visible = count_visible_tubes(s);
  size_t target = (size_t)lrint(s->p.mito_density * visible);
  /* About two thirds of the mitochondria sit in varicosities. */
  size_t n_sites = 0;
  uint32_t *sites = malloc((target + 1) * sizeof *sites);
  if (!sites) return -1;
  float mean_r = 0.5f * (float)s->p.cell_diameter;
  for (size_t k = 0; k < (2 * target + 2) / 3; k++)
    if (pick_site(s, mito_rng, 0.8f * mean_r, &sites[n_sites])) swell_tube(s, mito_rng, sites[n_sites++]);
  PlacementCheck pc;
  int rc = placement_init(&pc, s);
  if (rc == 0) rc = place_mitochondria(s, mito_rng, &pc, sites, n_sites, target);
  if (rc == 0) rc = place_vesicles(s, vesicle_rng, &pc, visible);
  placement_free(&pc);
  free(sites);
  return rc;
}
