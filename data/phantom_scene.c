/* The phantom's scene: neurite tubes that fill the volume, the smooth
 * lattice field that makes membranes wavy, then (phantom_organelles.c)
 * mitochondria and vesicle clouds placed inside the cells. Everything random comes
 * from one seeded Rng, drawn in a fixed order, so a seed gives one scene. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "phantom_internal.h"
#include "rng.h"

#define PI_F 3.14159265f
/* Tuned by eye against ISBI 2012 and VNC slices. */
static const float CALIBRE_SIGMA = 0.5f; /* log-normal spread of tube radii */
static const float STEP_FRACTION = 0.6f; /* centreline step / mean radius ... */
static const float STEP_MAX = 12.0f;     /* ... capped, in physical units */
static const double FILL = 1.8;          /* summed tube volume / box volume */

float ph_clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

float ph_uniform(Rng *r, float lo, float hi) { return lo + (hi - lo) * rng_uniform(r); }

void ph_random_unit(Rng *r, float u[3]) {
  float n2;
  do {
    for (int k = 0; k < 3; k++) u[k] = rng_normal(r);
    n2 = u[0] * u[0] + u[1] * u[1] + u[2] * u[2];
  } while (n2 < 1e-6f);
  float inv = 1.0f / sqrtf(n2);
  for (int k = 0; k < 3; k++) u[k] *= inv;
}

/* A unit vector perpendicular to d (unit). */
void ph_random_perpendicular(Rng *r, const float d[3], float out[3]) {
  for (;;) {
    float u[3];
    ph_random_unit(r, u);
    float dot = u[0] * d[0] + u[1] * d[1] + u[2] * d[2];
    for (int k = 0; k < 3; k++) out[k] = u[k] - dot * d[k];
    float n2 = out[0] * out[0] + out[1] * out[1] + out[2] * out[2];
    if (n2 > 1e-4f) {
      float inv = 1.0f / sqrtf(n2);
      for (int k = 0; k < 3; k++) out[k] *= inv;
      return;
    }
  }
}

static int push_segment(PhScene *s, const float a[3], const float b[3], float ra, float rb,
                        uint32_t tube) {
  if (s->n_seg == s->cap_seg) {
    size_t cap = s->cap_seg ? 2 * s->cap_seg : 1024;
    PhSegment *seg = realloc(s->seg, cap * sizeof *seg);
    if (!seg) return -1;
    s->seg = seg;
    s->cap_seg = cap;
  }
  PhSegment *g = &s->seg[s->n_seg++];
  float len2 = 0.0f;
  for (int k = 0; k < 3; k++) {
    g->a[k] = a[k];
    g->ab[k] = b[k] - a[k];
    len2 += g->ab[k] * g->ab[k];
  }
  g->inv_len2 = len2 > 1e-12f ? 1.0f / len2 : 0.0f;
  g->ra = ra;
  g->rb = rb;
  g->wa = ph_radius_weight(ra);
  g->wb = ph_radius_weight(rb);
  g->tube = tube;
  return 0;
}

static int inside_box(const float p[3], const float lo[3], const float hi[3]) {
  for (int k = 0; k < 3; k++)
    if (p[k] < lo[k] || p[k] > hi[k]) return 0;
  return 1;
}

enum { MAX_TUBE_POINTS = 4096 };

/* Centreline of one tube: a smoothly bending random walk through the start
 * point in both directions until it leaves the box. The radius swells and
 * narrows along the way (varicosities). Returns the number of points. */
static int trace_tube(Rng *r, const float start[3], float step, const float lo[3],
                      const float hi[3], float (*pts)[3]) {
  float back[MAX_TUBE_POINTS / 2][3];
  float fwd[MAX_TUBE_POINTS / 2][3];
  float dir0[3];
  ph_random_unit(r, dir0);
  /* Bending per step, so that a tube turns by about a radian over 10-30 steps. */
  float bend = ph_uniform(r, 0.05f, 0.16f);
  int counts[2] = {0, 0};
  for (int side = 0; side < 2; side++) {
    float (*out)[3] = side ? back : fwd;
    float p[3], d[3];
    for (int k = 0; k < 3; k++) {
      p[k] = start[k];
      d[k] = side ? -dir0[k] : dir0[k];
    }
    int n = 0;
    while (n < MAX_TUBE_POINTS / 2 - 1) {
      for (int k = 0; k < 3; k++) p[k] += step * d[k];
      for (int k = 0; k < 3; k++) out[n][k] = p[k];
      n++;
      if (!inside_box(p, lo, hi)) break;
      float n2 = 0.0f;
      for (int k = 0; k < 3; k++) {
        d[k] += bend * rng_normal(r);
        n2 += d[k] * d[k];
      }
      float inv = 1.0f / sqrtf(n2);
      for (int k = 0; k < 3; k++) d[k] *= inv;
    }
    counts[side] = n;
  }
  int n = 0;
  for (int i = counts[1] - 1; i >= 0; i--, n++) memcpy(pts[n], back[i], sizeof pts[n]);
  memcpy(pts[n++], start, sizeof pts[0]);
  for (int i = 0; i < counts[0]; i++, n++) memcpy(pts[n], fwd[i], sizeof pts[n]);
  return n;
}

static int build_tubes(PhScene *s, Rng *r) {
  const SmPhantomParams *p = &s->p;
  float mean_r = 0.5f * (float)p->cell_diameter;
  float margin = 2.5f * mean_r + 4.0f;
  float lo[3], hi[3];
  double box_volume = 1.0;
  for (int k = 0; k < 3; k++) {
    lo[k] = -margin;
    hi[k] = s->extent[k] + margin;
    box_volume *= hi[k] - lo[k];
  }
  float step = ph_clampf(STEP_FRACTION * mean_r, 2.0f, STEP_MAX);
  float (*pts)[3] = malloc(MAX_TUBE_POINTS * sizeof *pts);
  if (!pts) return -1;
  uint32_t *first = NULL;
  float *bright = NULL;
  size_t cap_tubes = 0;
  /* Tubes are added until their summed volume well exceeds that of the box:
   * the cells then pack like neuropil, squeezing each other, with no empty
   * space. */
  double filled = 0.0, target = FILL * box_volume;
  uint32_t tube = 0;
  while (filled < target) {
    if (tube + 1 >= cap_tubes) {
      cap_tubes = cap_tubes ? 2 * cap_tubes : 256;
      uint32_t *f2 = realloc(first, (cap_tubes + 1) * sizeof *f2);
      if (f2) first = f2;
      float *b2 = realloc(bright, cap_tubes * sizeof *b2);
      if (b2) bright = b2;
      if (!f2 || !b2) goto fail;
    }
    float start[3];
    for (int k = 0; k < 3; k++) start[k] = ph_uniform(r, lo[k], hi[k]);
    /* Calibres are log-normal: many thin axons, a few thick dendrites. */
    float radius = mean_r * expf(CALIBRE_SIGMA * rng_normal(r) - 0.1f);
    if (rng_uniform(r) < 0.08f) radius *= 1.8f;
    radius = ph_clampf(radius, 0.3f * mean_r, 2.2f * mean_r);
    radius = fmaxf(radius, 2.0f);
    float swell = ph_uniform(r, 0.0f, 0.3f);
    float wavelength = ph_uniform(r, 6.0f, 16.0f) * radius;
    float phase = ph_uniform(r, 0.0f, 2.0f * PI_F);
    int n = trace_tube(r, start, step, lo, hi, pts);
    first[tube] = (uint32_t)s->n_seg;
    float prev_r = 0.0f;
    for (int i = 0; i < n; i++) {
      float ri = radius * (1.0f + swell * sinf(2.0f * PI_F * step * (float)i / wavelength + phase));
      if (i > 0) {
        if (push_segment(s, pts[i - 1], pts[i], prev_r, ri, tube) != 0) goto fail;
        filled += PI_F * 0.25f * (prev_r + ri) * (prev_r + ri) * step;
      }
      prev_r = ri;
    }
    /* Grey level of the cell: neurites differ a little in density. */
    bright[tube] = 0.66f + 0.03f * ph_clampf(rng_normal(r), -2.5f, 2.5f);
    tube++;
  }
  first[tube] = (uint32_t)s->n_seg;
  s->n_tubes = tube;
  s->tube_first = first;
  s->tube_brightness = bright;
  free(pts);
  return 0;
fail:
  free(first);
  free(bright);
  free(pts);
  return -1;
}

static int build_lattice(PhScene *s, Rng *r) {
  size_t n = 1;
  for (int k = 0; k < 3; k++) {
    s->lattice_dims[k] = (int64_t)(s->extent[k] / PH_LATTICE_STEP) + 4;
    n *= (size_t)s->lattice_dims[k];
  }
  s->lattice = malloc(n * 4 * sizeof *s->lattice);
  if (!s->lattice) return -1;
  for (size_t i = 0; i < n; i++) {
    for (int k = 0; k < 3; k++) s->lattice[4 * i + k] = ph_uniform(r, -1.0f, 1.0f) * PH_WARP_AMPLITUDE;
    s->lattice[4 * i + 3] = ph_uniform(r, -1.0f, 1.0f);
  }
  return 0;
}

int ph_scene_build(PhScene *s, const SmPhantomParams *p, SmError *err) {
  memset(s, 0, sizeof *s);
  s->p = *p;
  s->anisotropy = (float)p->z_anisotropy;
  s->extent[0] = (float)p->nz * s->anisotropy;
  s->extent[1] = (float)p->ny;
  s->extent[2] = (float)p->nx;
  s->organelle_scale = (float)(4.0 / p->xy_voxel_nm);
  s->membrane_half = 0.5f * (float)p->membrane_width;
  Rng rng;
  rng_seed(&rng, p->seed);
  Rng tubes_rng, mito_rng, ves_rng, lattice_rng;
  /* Separate streams: more mitochondria must not move the cells. */
  rng_fork(&tubes_rng, &rng, 1);
  rng_fork(&mito_rng, &rng, 2);
  rng_fork(&ves_rng, &rng, 3);
  rng_fork(&lattice_rng, &rng, 5);
  if (build_lattice(s, &lattice_rng) != 0) goto oom;
  if (build_tubes(s, &tubes_rng) != 0) goto oom;
  if (ph_place_organelles(s, &mito_rng, &ves_rng) != 0) goto oom;
  return 0;
oom:
  ph_scene_free(s);
  return sm_error_set(err, "phantom: out of memory");
}

void ph_scene_free(PhScene *s) {
  free(s->seg);
  free(s->tube_first);
  free(s->tube_brightness);
  free(s->mito);
  free(s->ves);
  free(s->lattice);
  free(s->cloud);
  s->lattice = NULL;
  s->cloud = NULL;
  s->seg = NULL;
  s->tube_first = NULL;
  s->tube_brightness = NULL;
  s->mito = NULL;
  s->ves = NULL;
}
