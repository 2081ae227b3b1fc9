/* Internals of the phantom generator (data/phantom*.c), not a public API.
 *
 * The phantom is built in physical coordinates measured in xy voxels, with z
 * stretched by the anisotropy: voxel (z, y, x) sits at (z * A, y, x). Neurites
 * are tubes (polylines with a varying radius) that fill the volume; a point
 * belongs to the tube whose surface is nearest, distances measured in units
 * of the tube's radius (ph_radius_weight), at a point displaced by a smooth
 * random warp. That gives rounded, tube-like cells packed like neuropil.
 * Membranes are drawn where the two nearest tubes are almost equally near.
 * Mitochondria are capsules and vesicles are spheres, each inside one tube's
 * cell. */
#pragma once

#include <stddef.h>
#include <math.h>
#include <stdint.h>

#include "phantom.h"
#include "rng.h"

/* One straight piece of a tube's centreline, radius varying linearly. */
typedef struct PhSegment {
  float a[3];       /* start (z, y, x), physical */
  float ab[3];      /* end - start */
  float inv_len2;   /* 1 / |ab|^2 */
  float ra, rb;     /* radius at start and end */
  float wa, wb;     /* ph_radius_weight at start and end, interpolated linearly */
  uint32_t tube;
} PhSegment;

/* Mitochondrion: a capsule around the segment a..a+ab. */
typedef struct PhMito {
  float a[3], ab[3];
  float inv_len2;
  float radius;
  float crista_normal[3]; /* cristae are folds across this direction (unit) */
  float crista_period;    /* their spacing */
  float crista_phase;
  uint32_t tube;
} PhMito;

typedef struct PhVesicle {
  float c[3];
  float radius;
  uint32_t tube;
} PhVesicle;

/* A vesicle cloud; the membrane of its cell near it is thickened and darker
 * (the synapse's dense projections). */
typedef struct PhCloud {
  float c[3];
  float radius;
  uint32_t tube;
} PhCloud;

/* Membrane near a cloud is this much thicker, within this reach (physical). */
#define PH_SYNAPSE_THICKENING 1.9f
#define PH_SYNAPSE_REACH 7.0f

typedef struct PhScene {
  SmPhantomParams p;
  float anisotropy;      /* z step in physical units */
  float extent[3];       /* physical size of the image region (z, y, x) */
  float membrane_half;   /* half width of the membrane core, xy voxels */
  float organelle_scale; /* 4 nm / xy voxel size: organelles keep their nm size */

  PhSegment *seg;
  size_t n_seg, cap_seg;
  uint32_t n_tubes;
  float *tube_brightness; /* (n_tubes) cytoplasm grey level of each cell */
  uint32_t *tube_first;   /* (n_tubes + 1) segments of tube t: [first[t], first[t+1]) */

  float *lattice;        /* (lz, ly, lx, 4) */
  int64_t lattice_dims[3];

  PhMito *mito;
  size_t n_mito;
  PhVesicle *ves;
  size_t n_ves;
  PhCloud *cloud;
  size_t n_cloud;
} PhScene;

/* The two nearest distinct tubes of a point, by value v (weighted surface
 * distance), with u = grad v: the unit vector from each nearest centreline
 * point towards the point, times the weight there. */
typedef struct PhNearest {
  uint32_t t1, t2;
  float v1, v2;
  float u1[3], u2[3];
} PhNearest;

/* Plain comparisons: fminf/fmaxf may become library calls (NaN rules). */
static inline float ph_minf(float a, float b) { return a < b ? a : b; }
static inline float ph_maxf(float a, float b) { return a > b ? a : b; }

/* A point's value for a tube is (distance to centreline - radius) * w(r),
 * with w(r) = 1 / r: thin tubes come out round and thick ones wrap around
 * them, as in neuropil (w = 1 would give flat walls between equal tubes, like
 * a Voronoi diagram). Values grow with the distance and fall with r, which the
 * culling relies on. */
static inline float ph_radius_weight(float r) { return 1.0f / r; }

/* Smooth random field on a coarse lattice (spacing PH_LATTICE_STEP physical
 * units), four channels: a displacement (z, y, x) that makes membranes wavy,
 * and a factor for the membrane's local thickness. */
#define PH_LATTICE_STEP 12.0f
#define PH_WARP_AMPLITUDE 3.0f

/* phantom_scene.c: tubes and the lattice field, then the organelles. */
int ph_scene_build(PhScene *s, const SmPhantomParams *p, SmError *err);
void ph_scene_free(PhScene *s);
/* Random helpers shared by the scene's files. */
float ph_clampf(float v, float lo, float hi);
float ph_uniform(Rng *r, float lo, float hi);
void ph_random_unit(Rng *r, float u[3]);
/* A random unit vector perpendicular to the unit vector d. */
void ph_random_perpendicular(Rng *r, const float d[3], float out[3]);

/* phantom_organelles.c: mitochondria and vesicle clouds into s->mito, s->ves
 * and s->cloud. Returns -1 when memory runs out. */
int ph_place_organelles(PhScene *s, Rng *mito_rng, Rng *vesicle_rng);

/* phantom_cells.c: geometry shared by placement and rasterisation. */
/* The lattice field at physical point p: warp[0..2] (each within
 * +-PH_WARP_AMPLITUDE) and warp[3], a thickness variation in [-1, 1]. */
void ph_lattice_sample(const PhScene *s, const float p[3], float out[4]);
/* Where the cells are looked up for point p: p displaced by the warp. */
void ph_warp_point(const PhScene *s, const float p[3], float q[3], float *thickness);
void ph_nearest_init(PhNearest *n);
void ph_nearest_query(const PhScene *s, const uint32_t *idx, size_t n_idx, const float p[3],
                      PhNearest *out);
/* Distance from the point to the boundary between its two nearest cells:
 * *in_plane as seen in an xy section (wider where the boundary is oblique to
 * the section, capped), *in_3d in space; huge when there is no second cell.
 * *tilt is |n_z| of the boundary's normal: 0 across the section, 1 along it. */
void ph_boundary_distance(const PhNearest *n, float *in_plane, float *in_3d, float *tilt);
/* Indices of the segments that can be the nearest or second-nearest tube of
 * some point of the box [lo, hi] (physical), chosen from in[0..n_in) (all
 * segments when in is NULL). Returns how many were written to out (room for
 * n_in). scratch: ph_cull_scratch_new(s), reusable, one per thread. */
size_t ph_cull_segments(const PhScene *s, const float lo[3], const float hi[3], const uint32_t *in,
                        size_t n_in, uint32_t *out, float *scratch);
float *ph_cull_scratch_new(const PhScene *s);
/* Distance from p to the segment a..a+ab, and the position t in [0, 1] of the
 * nearest point. */
float ph_segment_distance(const float a[3], const float ab[3], float inv_len2, const float p[3],
                          float *t);

/* The same lookup for many points against one short list: the list is copied
 * into arrays of each field so that the distances vectorise. */
typedef struct PhSegmentArrays {
  size_t n;
  float *az, *ay, *ax, *bz, *by, *bx, *inv_len2, *ra, *dr, *wa, *dw, *value;
  uint32_t *tube;
} PhSegmentArrays;
int ph_segment_arrays_init(PhSegmentArrays *sa, size_t capacity);
void ph_segment_arrays_free(PhSegmentArrays *sa);
void ph_segment_arrays_load(PhSegmentArrays *sa, const PhScene *s, const uint32_t *idx, size_t n);
/* As ph_nearest_query; when the boundary is surely farther than near_limit,
 * reports no second tube (t2 = UINT32_MAX) and skips the directions. */
void ph_nearest_query_arrays(PhSegmentArrays *sa, const float p[3], float near_limit,
                             PhNearest *out);

/* phantom_raster.c: pre-blur intensity (nz*ny*nx floats in [0, 1]), raw cell
 * labels (tube + 1, 0 on membranes) and mitochondrion ids (index + 1).
 * Returns -1 when memory runs out. */
int ph_rasterize(const PhScene *s, float *intensity, uint32_t *labels, uint32_t *mito);

/* phantom_components.c: gives every 6-connected piece of a label its own id
 * (1.. in raster order of first voxel); pieces smaller than min_voxels become
 * membrane (label 0, intensity of membrane). Returns the number of ids or -1
 * when memory runs out. */
int64_t ph_split_components(uint32_t *labels, float *intensity, float membrane_level, int64_t nz,
                            int64_t ny, int64_t nx, int64_t min_voxels);
/* Renumbers ids to 1..n in raster order of first appearance; returns n. */
int64_t ph_compact_ids(uint32_t *ids, size_t n_voxels, uint32_t max_id);

/* phantom_render.c: texture, SEM blur, noise and per-slice brightness, then
 * uint8. intensity is used as scratch. */
int ph_render_sem(const PhScene *s, float *intensity, uint8_t *out);

/* Grey levels (0..1) shared by rasterisation and rendering. */
#define PH_MEMBRANE_LEVEL 0.08f
