/* Voxel pass of the phantom: for every voxel, the nearest cell, the distance
 * to its membrane, and the organelle it lies in, turned into a noise-free
 * grey level, a cell label and a mitochondrion id.
 *
 * Work goes by boxes in three levels (64, 16 and 4 voxels across in xy): each
 * box keeps the segments that can matter anywhere inside it, chosen from its
 * parent's list, so a voxel looks at a handful of segments instead of all. Every voxel's result depends only on the scene, so
 * the output is the same for any number of threads. */
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
} BlockLists;

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

/* Organelles and segments that can touch the box, from the parent's lists
 * (NULL parent: from everything). */
static void gather(const PhScene *s, const float lo[3], const float hi[3], const BlockLists *parent,
                   BlockLists *out, float *scratch) {
  out->n_seg = ph_cull_segments(s, lo, hi, parent ? parent->seg : NULL,
                                parent ? parent->n_seg : s->n_seg, out->seg, scratch);
  out->n_mito = 0;
  size_t nm = parent ? parent->n_mito : s->n_mito;
  for (size_t i = 0; i < nm; i++) {
    uint32_t id = parent ? parent->mito[i] : (uint32_t)i;
    if (capsule_meets_box(&s->mito[id], lo, hi)) out->mito[out->n_mito++] = id;
  }
  out->n_ves = 0;
  size_t nv = parent ? parent->n_ves : s->n_ves;
  for (size_t i = 0; i < nv; i++) {
    uint32_t id = parent ? parent->ves[i] : (uint32_t)i;
    if (sphere_meets_box(s->ves[id].c, s->ves[id].radius, lo, hi)) out->ves[out->n_ves++] = id;
  }
}

/* Grey level inside a mitochondrion: dark matrix crossed by lighter cristae,
 * darker outer membrane. */
static float mito_level(const PhMito *m, float dist, float t, const float p[3]) {
  if (m->radius - dist < 1.4f) return 0.24f;
  float len = sqrtf(1.0f / m->inv_len2);
  /* Position along the axis, leaning with the distance from it so that the
   * cristae are not all exactly transverse. */
  float along = t * len + m->crista_tilt * dist;
  float wave = cosf(6.2831853f * along / m->crista_period + m->crista_phase +
                    0.7f * sinf(0.31f * (p[0] + p[1] + p[2])));
  return 0.40f + 0.10f * wave;
}

#ifdef PH_STATS
double ph_stat_evals, ph_stat_voxels;
#endif
static void rasterize_block(const PhScene *s, const BlockLists *L, const int64_t lo[3],
                            const int64_t hi[3], float *intensity, uint32_t *labels,
                            uint32_t *mito_ids) {
#ifdef PH_STATS
#pragma omp atomic
  ph_stat_evals += (double)L->n_seg * (double)((hi[0]-lo[0])*(hi[1]-lo[1])*(hi[2]-lo[2]));
#pragma omp atomic
  ph_stat_voxels += (double)((hi[0]-lo[0])*(hi[1]-lo[1])*(hi[2]-lo[2]));
#endif
  const int64_t ny = s->p.ny, nx = s->p.nx;
  const float half = s->membrane_half;
  for (int64_t z = lo[0]; z < hi[0]; z++)
    for (int64_t y = lo[1]; y < hi[1]; y++)
      for (int64_t x = lo[2]; x < hi[2]; x++) {
        size_t i = ((size_t)z * (size_t)ny + (size_t)y) * (size_t)nx + (size_t)x;
        float p[3] = {(float)z * s->anisotropy, (float)y, (float)x};
        PhNearest near;
        ph_nearest_query(s, L->seg, L->n_seg, p, &near);
        float d_plane, d3;
        ph_boundary_distance(&near, &d_plane, &d3);
        uint32_t tube = near.t1;
        float level = s->tube_brightness[tube];
        /* Cytoplasm darkens a little towards the membrane (cortical actin,
         * partial volume), then the membrane core is dark. */
        level -= 0.05f * (1.0f - smoothstep(half, half + 5.0f, d_plane));
        float m = 1.0f - smoothstep(half - 0.6f, half + 1.2f, d_plane);
        level += (PH_MEMBRANE_LEVEL - level) * m;
        uint32_t label = d_plane < half ? 0 : tube + 1;
        uint32_t mito = 0;
        if (label) {
          for (size_t j = 0; j < L->n_mito; j++) {
            const PhMito *mm = &s->mito[L->mito[j]];
            if (mm->tube != tube) continue;
            float t;
            float dist = ph_segment_distance(mm->a, mm->ab, mm->inv_len2, p, &t);
            if (dist < mm->radius) {
              mito = L->mito[j] + 1;
              level = mito_level(mm, dist, t, p);
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
              level = v->radius - d < 1.3f ? 0.30f : 0.58f;
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
  float *scratch;
} RasterJob;

static void box_to_physical(const PhScene *s, const int64_t lo[3], const int64_t hi[3], float flo[3],
                            float fhi[3]) {
  const float scale[3] = {s->anisotropy, 1.0f, 1.0f};
  for (int k = 0; k < 3; k++) {
    flo[k] = (float)lo[k] * scale[k];
    fhi[k] = (float)(hi[k] - 1) * scale[k];
  }
}

static void raster_box(RasterJob *job, int level, const int64_t lo[3], const int64_t hi[3]) {
  float flo[3], fhi[3];
  box_to_physical(job->s, lo, hi, flo, fhi);
  gather(job->s, flo, fhi, level ? &job->lists[level - 1] : NULL, &job->lists[level], job->scratch);
  if (level == N_LEVELS - 1) {
    rasterize_block(job->s, &job->lists[level], lo, hi, job->intensity, job->labels, job->mito_ids);
    return;
  }
  const int64_t *step = job->size[level + 1];
  for (int64_t z0 = lo[0]; z0 < hi[0]; z0 += step[0])
    for (int64_t y0 = lo[1]; y0 < hi[1]; y0 += step[1])
      for (int64_t x0 = lo[2]; x0 < hi[2]; x0 += step[2]) {
        int64_t clo[3] = {z0, y0, x0}, chi[3];
        for (int k = 0; k < 3; k++) chi[k] = clo[k] + step[k] < hi[k] ? clo[k] + step[k] : hi[k];
        raster_box(job, level + 1, clo, chi);
      }
}

static int lists_alloc(BlockLists *l, const PhScene *s) {
  l->seg = malloc(s->n_seg * sizeof(uint32_t) + 1);
  l->mito = malloc(s->n_mito * sizeof(uint32_t) + 1);
  l->ves = malloc(s->n_ves * sizeof(uint32_t) + 1);
  return l->seg && l->mito && l->ves ? 0 : -1;
}

static void lists_free(BlockLists *l) {
  free(l->seg);
  free(l->mito);
  free(l->ves);
}

int ph_rasterize(const PhScene *s, float *intensity, uint32_t *labels, uint32_t *mito_ids) {
  RasterJob proto = {.s = s, .shape = {s->p.nz, s->p.ny, s->p.nx}, .intensity = intensity,
                     .labels = labels, .mito_ids = mito_ids};
  int64_t leaf_z = (int64_t)lrintf(LEAF_XY / s->anisotropy);
  if (leaf_z < 1) leaf_z = 1;
  int64_t xy = LEAF_XY, z = leaf_z;
  for (int level = N_LEVELS - 1; level >= 0; level--) {
    proto.size[level][0] = z;
    proto.size[level][1] = proto.size[level][2] = xy;
    xy *= LEVEL_SPLIT;
    z *= LEVEL_SPLIT;
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
  }
  return failed ? -1 : 0;
}
