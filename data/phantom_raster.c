/* Voxel pass of the phantom: for every voxel, the nearest cell, the distance
 * to its membrane, and the organelle it lies in, turned into a noise-free
 * grey level, a cell label and a mitochondrion id.
 *
 * Work goes by boxes in three levels (64, 16 and 4 voxels across in xy): each
 * box keeps the segments that can matter anywhere inside it, chosen from its
 * parent's list, so a voxel looks at a handful of segments instead of all.
 * Every voxel's result depends only on the scene, so the output is the same
 * for any number of threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "phantom_internal.h"

typedef struct BlockLists {
  uint32_t *seg;  /* segment indices */
  size_t n_seg;
  uint32_t *mito; /* mitochondrion indices */
  size_t n_mito;
  uint32_t *ves;  /* vesicle indices */
  size_t n_ves;
  uint32_t *cloud; /* vesicle cloud indices */
  size_t n_cloud;
} BlockLists;

/* Cytoplasm darkens a little within this distance of a membrane. */
#define HALO 4.0f

/* Fraction of an imaged depth `depth` (centred on the voxel) that lies
 * within a membrane slab of half width h whose mid-plane is `delta` away
 * with normal tilt |n_z| = tilt. */
static float membrane_fill(float delta, float tilt, float h, float depth) {
  if (h <= 0.0f) return 0.0f;
  if (tilt < 1e-3f) return delta < h ? 1.0f : 0.0f;
  float lo = ph_maxf((-h - delta) / tilt, -0.5f * depth);
  float hi = ph_minf((h - delta) / tilt, 0.5f * depth);
  return hi > lo ? (hi - lo) / depth : 0.0f;
}

/* 0.8 .. 1.3, fixed for each pair of cells. */
static float ph_pair_factor(uint32_t a, uint32_t b) {
  uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
  uint64_t h = (lo * 0x9E3779B97F4A7C15ull) ^ (hi + 0x632BE59BD9B4E019ull);
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return 0.8f + 0.5f * (float)(h & 0xffff) / 65535.0f;
}

static float smoothstep(float e0, float e1, float x) {
  float t = (x - e0) / (e1 - e0);
  t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
  return t * t * (3.0f - 2.0f * t);
}

static int sphere_meets_box(const float c[3], float radius, const float lo[3], const float hi[3]) {
  float d2 = 0.0f;
  for (int k = 0; k < 3; k++) {
    float e = c[k] < lo[k] ? lo[k] - c[k] : c[k] > hi[k] ? c[k] - hi[k] : 0.0f;
    d2 += e * e;
  }
  return d2 <= radius * radius;
}

static int capsule_meets_box(const PhMito *m, const float lo[3], const float hi[3]) {
  float c[3], rho2 = 0.0f, t;
  for (int k = 0; k < 3; k++) {
    c[k] = 0.5f * (lo[k] + hi[k]);
    rho2 += 0.25f * (hi[k] - lo[k]) * (hi[k] - lo[k]);
  }
  return ph_segment_distance(m->a, m->ab, m->inv_len2, c, &t) <= sqrtf(rho2) + m->radius;
}

/* Segments that can matter for cell lookups inside seg_lo..seg_hi, and
 * organelles that can touch org_lo..org_hi (organelles are tested at the
 * voxel's own position, cells at its warped one), from the parent's lists
 * (NULL parent: from everything). */
static void gather(const PhScene *s, const float seg_lo[3], const float seg_hi[3],
                   const float org_lo[3], const float org_hi[3], const BlockLists *parent,
                   BlockLists *out, float *scratch) {
  out->n_seg = ph_cull_segments(s, seg_lo, seg_hi, parent ? parent->seg : NULL,
                                parent ? parent->n_seg : s->n_seg, out->seg, scratch);
  out->n_mito = 0;
  size_t nm = parent ? parent->n_mito : s->n_mito;
  for (size_t i = 0; i < nm; i++) {
    uint32_t id = parent ? parent->mito[i] : (uint32_t)i;
    if (capsule_meets_box(&s->mito[id], org_lo, org_hi)) out->mito[out->n_mito++] = id;
  }
  out->n_ves = 0;
  size_t nv = parent ? parent->n_ves : s->n_ves;
  for (size_t i = 0; i < nv; i++) {
    uint32_t id = parent ? parent->ves[i] : (uint32_t)i;
    if (sphere_meets_box(s->ves[id].c, s->ves[id].radius, org_lo, org_hi))
      out->ves[out->n_ves++] = id;
  }
  out->n_cloud = 0;
  size_t nc = parent ? parent->n_cloud : s->n_cloud;
  for (size_t i = 0; i < nc; i++) {
    uint32_t id = parent ? parent->cloud[i] : (uint32_t)i;
    const PhCloud *c = &s->cloud[id];
    if (sphere_meets_box(c->c, c->radius + PH_SYNAPSE_REACH, org_lo, org_hi))
      out->cloud[out->n_cloud++] = id;
  }
}

/* Grey level inside a mitochondrion: a mid-grey matrix crossed by dark
 * cristae, and a dark outer membrane. */
static float mito_level(const PhMito *m, float dist, const float p[3]) {
  /* Outer membranes: a dark rim. */
  if (m->radius - dist < 1.5f) return 0.16f;
  /* Cristae: thin dark folds, slightly wavy, on a mid-grey matrix. */
  float along = 0.0f;
  for (int k = 0; k < 3; k++) along += (p[k] - m->a[k]) * m->crista_normal[k];
  along += 0.6f * sinf(0.45f * (p[0] - p[1] + p[2]));
  float c = cosf(6.2831853f * along / m->crista_period + m->crista_phase);
  float fold = c * c; /* dark folds as wide as the light gaps */
  return 0.50f - 0.36f * fold;
}

/* Voxels of a leaf box; warped[] holds each voxel's warped point and
 * thickness variation, in the loop's order. */
static void rasterize_block(const PhScene *s, const BlockLists *L, PhSegmentArrays *leaf,
                            const int64_t lo[3], const int64_t hi[3], const float (*warped)[4],
                            float *intensity, uint32_t *labels, uint32_t *mito_ids) {
  const int64_t ny = s->p.ny, nx = s->p.nx;
  /* Farthest (in 3D) that a membrane reaches into the image: its widest half
   * (thickened at a synapse, if a vesicle cloud is near this box) plus the
   * halo or plus the smear over half the imaged depth, whichever is more. */
  const float widest =
      s->membrane_half * 1.3f * 1.3f * (L->n_cloud ? PH_SYNAPSE_THICKENING : 1.0f);
  const float near_limit = widest + ph_maxf(HALO + 1.0f, 1.0f + 0.5f * s->anisotropy);
  size_t w = 0;
  for (int64_t z = lo[0]; z < hi[0]; z++)
    for (int64_t y = lo[1]; y < hi[1]; y++)
      for (int64_t x = lo[2]; x < hi[2]; x++, w++) {
        size_t i = ((size_t)z * (size_t)ny + (size_t)y) * (size_t)nx + (size_t)x;
        float p[3] = {(float)z * s->anisotropy, (float)y, (float)x};
        const float *q = warped[w];
        float thickness = warped[w][3];
        PhNearest near;
        ph_nearest_query_arrays(leaf, q, near_limit, &near);
        float d_plane, d3, tilt;
        ph_boundary_distance(&near, &d_plane, &d3, &tilt);
        uint32_t tube = near.t1;
        /* Membranes vary in thickness along their course and from one pair
         * of cells to the next. */
        float half = s->membrane_half * (1.0f + 0.3f * thickness) *
                     ph_pair_factor(near.t1, near.t2);
        /* Thicker stretches are darker. */
        float membrane_level = PH_MEMBRANE_LEVEL + 0.07f * (1.0f - thickness);
        for (size_t j = 0; j < L->n_cloud; j++) {
          const PhCloud *c = &s->cloud[L->cloud[j]];
          if (c->tube != near.t1 && c->tube != near.t2) continue;
          float d2 = 0.0f;
          for (int k = 0; k < 3; k++) d2 += (p[k] - c->c[k]) * (p[k] - c->c[k]);
          float reach = c->radius + PH_SYNAPSE_REACH;
          if (d2 < reach * reach) {
            half *= PH_SYNAPSE_THICKENING;
            membrane_level = 0.5f * PH_MEMBRANE_LEVEL;
            break;
          }
        }
        float level = s->tube_brightness[tube];
        /* Cytoplasm darkens a little towards the membrane (cortical actin,
         * partial volume), then the membrane core is dark. */
        level -= 0.05f * (1.0f - smoothstep(half, half + HALO, d_plane));
        /* The image shows the stain within an imaged depth (the section's
         * thickness, at least a few membrane widths): a membrane across the
         * section is a dark band, an oblique one a wider, paler smear. Two
         * widths give a soft edge; darkness saturates with the amount of
         * stain crossed, as absorbance does (1 - e^-f, scaled to 1 at f = 1). */
        float depth = ph_maxf(s->anisotropy, 2.0f * half);
        float fill = 0.5f * (membrane_fill(d3, tilt, half - 0.7f, depth) +
                             membrane_fill(d3, tilt, half + 0.7f, depth));
        float m = fill > 0.0f ? (1.0f - expf(-fill)) * (1.0f / 0.63212056f) : 0.0f;
        level += (membrane_level - level) * m;
        uint32_t label = d_plane < half ? 0 : tube + 1;
        /* Near-isotropic voxels: a boundary lying almost in the section must
         * still separate the cells along z, so a voxel within about half a
         * slice of it along z (3/4, a margin for the first-order distance) is
         * boundary too; serial sections keep 2D boundaries, as annotated. */
        if (s->anisotropy <= 2.0f && d3 < 0.75f * s->anisotropy * tilt) label = 0;
        uint32_t mito = 0;
        if (label) {
          for (size_t j = 0; j < L->n_mito; j++) {
            const PhMito *mm = &s->mito[L->mito[j]];
            if (mm->tube != tube) continue;
            float t;
            float dist = ph_segment_distance(mm->a, mm->ab, mm->inv_len2, p, &t);
            if (dist < mm->radius) {
              mito = L->mito[j] + 1;
              level = mito_level(mm, dist, p);
              break;
            }
          }
          for (size_t j = 0; j < L->n_ves && !mito; j++) {
            const PhVesicle *v = &s->ves[L->ves[j]];
            if (v->tube != tube) continue;
            float d2 = 0.0f;
            for (int k = 0; k < 3; k++) d2 += (p[k] - v->c[k]) * (p[k] - v->c[k]);
            if (d2 < v->radius * v->radius) {
              float d = sqrtf(d2);
              level = v->radius - d < 1.6f ? 0.14f : 0.66f;
              break;
            }
          }
        }
        intensity[i] = level;
        labels[i] = label;
        mito_ids[i] = mito;
      }
}

/* Boxes shrink by LEVEL_SPLIT per level, from the top level's voxels to the
 * leaves of LEAF_XY voxels in x and y (z scaled to the same physical size). */
enum { N_LEVELS = 3, LEAF_XY = 4, LEVEL_SPLIT = 4 };

typedef struct RasterJob {
  const PhScene *s;
  int64_t size[N_LEVELS][3]; /* box size in voxels per level */
  int64_t shape[3];
  float *intensity;
  uint32_t *labels, *mito_ids;
  BlockLists lists[N_LEVELS];
  PhSegmentArrays leaf;
  float *scratch;
} RasterJob;

enum { MAX_LEAF_Z = 16, MAX_LEAF_VOXELS = MAX_LEAF_Z * LEAF_XY * LEAF_XY };

static void box_to_physical(const PhScene *s, const int64_t lo[3], const int64_t hi[3], float flo[3],
                            float fhi[3]) {
  const float scale[3] = {s->anisotropy, 1.0f, 1.0f};
  for (int k = 0; k < 3; k++) {
    flo[k] = (float)lo[k] * scale[k];
    fhi[k] = (float)(hi[k] - 1) * scale[k];
  }
}

static void raster_box(RasterJob *job, int level, const int64_t lo[3], const int64_t hi[3]) {
  const PhScene *s = job->s;
  const BlockLists *parent = level ? &job->lists[level - 1] : NULL;
  float olo[3], ohi[3], wlo[3], whi[3];
  box_to_physical(s, lo, hi, olo, ohi);
  if (level < N_LEVELS - 1) {
    /* Cells are looked up at warped points, which stray this far. */
    for (int k = 0; k < 3; k++) {
      wlo[k] = olo[k] - PH_WARP_AMPLITUDE;
      whi[k] = ohi[k] + PH_WARP_AMPLITUDE;
    }
    gather(s, wlo, whi, olo, ohi, parent, &job->lists[level], job->scratch);
    const int64_t *step = job->size[level + 1];
    for (int64_t z0 = lo[0]; z0 < hi[0]; z0 += step[0])
      for (int64_t y0 = lo[1]; y0 < hi[1]; y0 += step[1])
        for (int64_t x0 = lo[2]; x0 < hi[2]; x0 += step[2]) {
          int64_t clo[3] = {z0, y0, x0}, chi[3];
          for (int k = 0; k < 3; k++) chi[k] = clo[k] + step[k] < hi[k] ? clo[k] + step[k] : hi[k];
          raster_box(job, level + 1, clo, chi);
        }
    return;
  }
  /* Leaf: warp its voxels first, so that the segments are culled for the
   * box the warped points really span (much tighter than the padding). The
   * field is smooth over many leaves: sampled at the leaf's corners and
   * interpolated linearly between them. */
  float corner[8][4];
  for (int c = 0; c < 8; c++) {
    int64_t v[3] = {c & 4 ? hi[0] - 1 : lo[0], c & 2 ? hi[1] - 1 : lo[1], c & 1 ? hi[2] - 1 : lo[2]};
    float p[3] = {(float)v[0] * s->anisotropy, (float)v[1], (float)v[2]};
    ph_lattice_sample(s, p, corner[c]);
  }
  float inv_span[3];
  for (int k = 0; k < 3; k++) inv_span[k] = hi[k] - lo[k] > 1 ? 1.0f / (float)(hi[k] - 1 - lo[k]) : 0.0f;
  float warped[MAX_LEAF_VOXELS][4];
  size_t w = 0;
  for (int k = 0; k < 3; k++) {
    wlo[k] = 1e30f;
    whi[k] = -1e30f;
  }
  for (int64_t z = lo[0]; z < hi[0]; z++)
    for (int64_t y = lo[1]; y < hi[1]; y++)
      for (int64_t x = lo[2]; x < hi[2]; x++, w++) {
        float p[3] = {(float)z * s->anisotropy, (float)y, (float)x};
        float fz = (float)(z - lo[0]) * inv_span[0], fy = (float)(y - lo[1]) * inv_span[1],
              fx = (float)(x - lo[2]) * inv_span[2];
        for (int c = 0; c < 4; c++) {
          float c00 = corner[0][c] + fx * (corner[1][c] - corner[0][c]);
          float c01 = corner[2][c] + fx * (corner[3][c] - corner[2][c]);
          float c10 = corner[4][c] + fx * (corner[5][c] - corner[4][c]);
          float c11 = corner[6][c] + fx * (corner[7][c] - corner[6][c]);
          float c0 = c00 + fy * (c01 - c00), c1 = c10 + fy * (c11 - c10);
          warped[w][c] = c0 + fz * (c1 - c0);
        }
        for (int k = 0; k < 3; k++) warped[w][k] += p[k];
        for (int k = 0; k < 3; k++) {
          wlo[k] = ph_minf(wlo[k], warped[w][k]);
          whi[k] = ph_maxf(whi[k], warped[w][k]);
        }
      }
  gather(s, wlo, whi, olo, ohi, parent, &job->lists[level], job->scratch);
  ph_segment_arrays_load(&job->leaf, s, job->lists[level].seg, job->lists[level].n_seg);
  rasterize_block(s, &job->lists[level], &job->leaf, lo, hi, (const float(*)[4])warped, job->intensity,
                  job->labels, job->mito_ids);
}

static int lists_alloc(BlockLists *l, const PhScene *s) {
  l->seg = malloc(s->n_seg * sizeof(uint32_t) + 1);
  l->mito = malloc(s->n_mito * sizeof(uint32_t) + 1);
  l->ves = malloc(s->n_ves * sizeof(uint32_t) + 1);
  l->cloud = malloc(s->n_cloud * sizeof(uint32_t) + 1);
  return l->seg && l->mito && l->ves && l->cloud ? 0 : -1;
}

static void lists_free(BlockLists *l) {
  free(l->seg);
  free(l->mito);
  free(l->ves);
  free(l->cloud);
}

int ph_rasterize(const PhScene *s, float *intensity, uint32_t *labels, uint32_t *mito_ids) {
  RasterJob proto = {.s = s, .shape = {s->p.nz, s->p.ny, s->p.nx}, .intensity = intensity,
                     .labels = labels, .mito_ids = mito_ids};
  /* Boxes about as deep as wide in physical units: with coarse z a box is a
   * few slices (or one) deep, so that culling stays as tight as it is for
   * isotropic voxels. */
  int64_t xy = LEAF_XY;
  for (int level = N_LEVELS - 1; level >= 0; level--) {
    int64_t z = (int64_t)lrintf((float)xy / s->anisotropy);
    if (z < 1) z = 1;
    if (level == N_LEVELS - 1 && z > MAX_LEAF_Z) z = MAX_LEAF_Z;
    proto.size[level][0] = z;
    proto.size[level][1] = proto.size[level][2] = xy;
    xy *= LEVEL_SPLIT;
  }
  int64_t nb[3];
  for (int k = 0; k < 3; k++) nb[k] = (proto.shape[k] + proto.size[0][k] - 1) / proto.size[0][k];
  const int64_t n_top = nb[0] * nb[1] * nb[2];
  int failed = 0;

#pragma omp parallel reduction(| : failed)
  {
    RasterJob job = proto;
    int ok = 1;
    for (int level = 0; level < N_LEVELS; level++)
      if (lists_alloc(&job.lists[level], s) != 0) ok = 0;
    job.scratch = ph_cull_scratch_new(s);
    if (!job.scratch) ok = 0;
    if (ph_segment_arrays_init(&job.leaf, s->n_seg) != 0) ok = 0;
    if (!ok) failed = 1;
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < n_top; b++) {
      if (!ok) continue;
      int64_t idx[3] = {b / (nb[1] * nb[2]), (b / nb[2]) % nb[1], b % nb[2]};
      int64_t lo[3], hi[3];
      for (int k = 0; k < 3; k++) {
        lo[k] = idx[k] * job.size[0][k];
        hi[k] = lo[k] + job.size[0][k] < job.shape[k] ? lo[k] + job.size[0][k] : job.shape[k];
      }
      raster_box(&job, 0, lo, hi);
    }
    for (int level = 0; level < N_LEVELS; level++) lists_free(&job.lists[level]);
    free(job.scratch);
    ph_segment_arrays_free(&job.leaf);
  }
  return failed ? -1 : 0;
}
