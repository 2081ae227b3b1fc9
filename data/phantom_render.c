/* Image formation of the phantom: fine cytoplasm texture and dark granules,
 * the SEM beam's blur (in the slice, and across slices when they are thin),
 * shot-like and read-like noise, and a slight brightness drift between
 * slices; then uint8.
 *
 * Each slice draws its noise from its own stream forked from the seed
 * (rng_fork with the slice index), and the texture from streams owned by
 * lattice planes and slice indices, so the result does not depend on which
 * thread renders which slice. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "phantom_internal.h"
#include "rng.h"

/* Roughly standard normal from one 64-bit draw: the sum of four 16-bit
 * uniforms (Irwin-Hall), about ten times cheaper than Box-Muller and plenty
 * for image noise. */
static inline float fast_normal(Rng *r) {
  uint64_t u = rng_u64(r);
  float sum = (float)(u & 0xffff) + (float)((u >> 16) & 0xffff) + (float)((u >> 32) & 0xffff) +
              (float)(u >> 48);
  return (sum * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

/* Smooth mottling in 3D: noise on a coarse lattice of `cell` physical units,
 * interpolated linearly in z (between two lattice planes, each drawn from its
 * own stream) and bilinearly in the slice. Coherent across slices when they
 * are thin, independent when they are thick. grid holds 3 planes. */
static void add_mottle(const Rng *base, uint64_t octave, float z_phys, float *img, int64_t ny,
                       int64_t nx, float cell, float amp, float *grid) {
  int64_t gy = (int64_t)(ny / cell) + 2, gx = (int64_t)(nx / cell) + 2, gn = gy * gx;
  float fz = z_phys / cell;
  int64_t z0 = (int64_t)fz;
  float wz = fz - (float)z0;
  float *plane = grid + 2 * gn;
  for (int k = 0; k < 2; k++) {
    Rng r;
    rng_fork(&r, base, (octave << 40) | (uint64_t)(z0 + k));
    for (int64_t i = 0; i < gn; i++) grid[k * gn + i] = fast_normal(&r);
  }
  for (int64_t i = 0; i < gn; i++) plane[i] = amp * (grid[i] + wz * (grid[gn + i] - grid[i]));
  for (int64_t y = 0; y < ny; y++) {
    float fy = (float)y / cell;
    int64_t y0 = (int64_t)fy;
    float wy = fy - (float)y0;
    for (int64_t x = 0; x < nx; x++) {
      float fx = (float)x / cell;
      int64_t x0 = (int64_t)fx;
      float wx = fx - (float)x0;
      const float *g = plane + y0 * gx + x0;
      float top = g[0] + wx * (g[1] - g[0]);
      float bottom = g[gx] + wx * (g[gx + 1] - g[gx]);
      img[y * nx + x] += top + wy * (bottom - top);
    }
  }
}

/* Dark specks a few voxels across (microtubules, ER and small vesicles cut
 * across, ribosomes): dots of radius 1-2, some with a lighter centre. Each
 * slice index owns a set of specks (its own stream); a speck also shows,
 * fainter, in neighbouring slices that lie within its ~1.5-voxel extent, so
 * thin sections share them. */
static void add_specks(const Rng *base, int64_t z, int64_t nz, float anisotropy, float *img,
                       int64_t ny, int64_t nx, float per_voxel) {
  const float sigma_z = 1.2f;
  float total = 0.0f;
  for (int dz = -2; dz <= 2; dz++) total += expf(-0.5f * powf((float)dz * anisotropy / sigma_z, 2));
  /* A section thicker than a speck holds more of them, each paler (it fills
   * only part of the depth): same amount of stain, finer grain. */
  float thick = 3.0f * sigma_z < anisotropy ? anisotropy / (3.0f * sigma_z) : 1.0f;
  size_t count = (size_t)((float)(ny * nx) * per_voxel * thick / total);
  for (int dz = -2; dz <= 2; dz++) {
    int64_t owner = z + dz;
    float weight = expf(-0.5f * powf((float)dz * anisotropy / sigma_z, 2));
    if (owner < -2 || owner >= nz + 2 || weight < 0.02f) continue;
    Rng r;
    rng_fork(&r, base, (7ull << 40) | (uint64_t)(owner + 2));
    for (size_t k = 0; k < count; k++) {
      uint64_t u = rng_u64(&r);
      int64_t y = (int64_t)((u & 0xffffffffu) % (uint64_t)ny);
      int64_t x = (int64_t)((u >> 32) % (uint64_t)nx);
      uint64_t shape = rng_u64(&r);
      float depth = weight / thick * (0.25f + 0.4f * (float)(shape & 0xffff) / 65535.0f);
      /* Most are dots of radius 1; a quarter rings of radius 2; one in
       * sixteen a small vesicle cut across: a ring of radius 3, light inside. */
      int kind = (int)((shape >> 16) & 15);
      int rad = kind == 0 ? 3 : kind < 5 ? 2 : 1;
      for (int dy = -rad; dy <= rad; dy++)
        for (int dx = -rad; dx <= rad; dx++) {
          int64_t yy = y + dy, xx = x + dx;
          if (yy < 0 || yy >= ny || xx < 0 || xx >= nx) continue;
          int d2 = dy * dy + dx * dx;
          float f = rad == 3   ? (d2 <= 2 ? -0.25f : d2 <= 5 ? 0.15f : d2 <= 10 ? 0.9f : 0.0f)
                    : rad == 2 ? (d2 == 0 ? 0.3f : d2 <= 2 ? 0.8f : d2 <= 4 ? 0.5f : 0.0f)
                               : (d2 == 0 ? 1.0f : d2 == 1 ? 0.6f : 0.25f);
          img[yy * nx + xx] -= f * depth;
        }
    }
  }
}

static void gaussian_kernel(float sigma, float *k, int radius) {
  float sum = 0.0f;
  for (int i = -radius; i <= radius; i++) {
    k[i + radius] = expf(-0.5f * (float)(i * i) / (sigma * sigma));
    sum += k[i + radius];
  }
  for (int i = 0; i <= 2 * radius; i++) k[i] /= sum;
}

/* Separable blur with clamped edges; tmp holds ny*nx floats. Rows are
 * blurred with a fast path away from the edges, columns a whole row at a
 * time so that the inner loop runs along x and vectorises. */
static void blur_slice(float *img, float *tmp, int64_t ny, int64_t nx, const float *k, int radius) {
  for (int64_t y = 0; y < ny; y++) {
    const float *row = img + y * nx;
    float *out = tmp + y * nx;
    for (int64_t x = 0; x < nx; x++) {
      float acc = 0.0f;
      if (x >= radius && x + radius < nx) {
        for (int j = -radius; j <= radius; j++) acc += k[j + radius] * row[x + j];
      } else {
        for (int j = -radius; j <= radius; j++) {
          int64_t xx = x + j;
          xx = xx < 0 ? 0 : xx >= nx ? nx - 1 : xx;
          acc += k[j + radius] * row[xx];
        }
      }
      out[x] = acc;
    }
  }
  for (int64_t y = 0; y < ny; y++) {
    float *restrict out = img + y * nx;
    for (int64_t x = 0; x < nx; x++) out[x] = 0.0f;
    for (int j = -radius; j <= radius; j++) {
      int64_t yy = y + j;
      yy = yy < 0 ? 0 : yy >= ny ? ny - 1 : yy;
      const float *restrict src = tmp + yy * nx;
      const float kj = k[j + radius];
      for (int64_t x = 0; x < nx; x++) out[x] += kj * src[x];
    }
  }
}

/* Blur along z of rows y0..y1 of every slice, for voxels thin enough that
 * the beam's blur spans several slices. col holds nz*nx floats. */
static void blur_z_rows(float *intensity, float *col, int64_t nz, int64_t ny, int64_t nx, int64_t y,
                        const float *k, int radius) {
  const size_t slice = (size_t)ny * (size_t)nx;
  for (int64_t z = 0; z < nz; z++)
    memcpy(col + (size_t)z * (size_t)nx, intensity + (size_t)z * slice + (size_t)y * (size_t)nx,
           (size_t)nx * sizeof *col);
  for (int64_t z = 0; z < nz; z++) {
    float *restrict out = intensity + (size_t)z * slice + (size_t)y * (size_t)nx;
    for (int64_t x = 0; x < nx; x++) out[x] = 0.0f;
    for (int j = -radius; j <= radius; j++) {
      int64_t zz = z + j;
      zz = zz < 0 ? 0 : zz >= nz ? nz - 1 : zz;
      const float *restrict src = col + (size_t)zz * (size_t)nx;
      const float kj = k[j + radius];
      for (int64_t x = 0; x < nx; x++) out[x] += kj * src[x];
    }
  }
}

int ph_render_sem(const PhScene *s, float *intensity, uint8_t *out) {
  const int64_t nz = s->p.nz, ny = s->p.ny, nx = s->p.nx;
  const size_t n = (size_t)ny * (size_t)nx;
  const float noise = (float)s->p.noise;
  const float sigma = (float)s->p.blur_sigma;
  int radius = sigma > 0.05f ? (int)ceilf(3.0f * sigma) : 0;
  if (radius > 32) radius = 32;
  float kernel[65];
  if (radius) gaussian_kernel(sigma, kernel, radius);
  /* The same blur in physical units along z: only worth it when slices are
   * thinner than about three blur widths. */
  const float sigma_z = sigma / s->anisotropy;
  int radius_z = sigma_z > 0.3f ? (int)ceilf(3.0f * sigma_z) : 0;
  if (radius_z > 32) radius_z = 32;
  float kernel_z[65];
  if (radius_z) gaussian_kernel(sigma_z, kernel_z, radius_z);
  const float mottle_cell = 5.0f * s->organelle_scale < 3.0f ? 3.0f : 5.0f * s->organelle_scale;
  /* The finest mottle has the most grid points. */
  const size_t grid_n =
      (size_t)((float)ny / (0.5f * mottle_cell) + 3) * (size_t)((float)nx / (0.5f * mottle_cell) + 3);
  Rng root, grain, detector, texture;
  rng_seed(&root, s->p.seed);
  rng_fork(&grain, &root, 4);
  rng_fork(&texture, &root, 6);
  rng_fork(&detector, &root, 8);
  int failed = 0;

#pragma omp parallel reduction(| : failed)
  {
    size_t tmp_n = n > (size_t)nz * (size_t)nx ? n : (size_t)nz * (size_t)nx;
    float *tmp = malloc(tmp_n * sizeof *tmp);
    float *grid = malloc(3 * grid_n * sizeof *grid);
    int ok = tmp && grid;
    if (!ok) failed = 1;
    /* Tissue: texture, then the beam's blur in the slice. */
#pragma omp for schedule(dynamic, 1)
    for (int64_t z = 0; z < nz; z++) {
      if (!ok) continue;
      Rng r;
      rng_fork(&r, &grain, (uint64_t)z);
      float *img = intensity + (size_t)z * n;
      /* Texture of the tissue itself (before the blur that correlates it):
       * mottled cytoplasm, fine grain, and dark specks. */
      float z_phys = (float)z * s->anisotropy;
      add_mottle(&texture, 1, z_phys, img, ny, nx, 2.5f * mottle_cell, 0.035f, grid);
      add_mottle(&texture, 2, z_phys, img, ny, nx, mottle_cell, 0.09f, grid);
      add_mottle(&texture, 3, z_phys, img, ny, nx, 0.5f * mottle_cell, 0.08f, grid);
      for (size_t i = 0; i < n; i++) img[i] += 0.11f * fast_normal(&r);
      add_specks(&texture, z, nz, s->anisotropy, img, ny, nx, 1.0f / 60.0f);
      if (radius) blur_slice(img, tmp, ny, nx, kernel, radius);
    }
    /* ... and across thin slices. */
    if (radius_z) {
#pragma omp for schedule(dynamic, 8)
      for (int64_t y = 0; y < ny; y++)
        if (ok) blur_z_rows(intensity, tmp, nz, ny, nx, y, kernel_z, radius_z);
    }
    /* Detector: gain and offset drift per slice, shot noise growing with the
     * signal, read noise, then 8 bits. */
#pragma omp for schedule(dynamic, 1)
    for (int64_t z = 0; z < nz; z++) {
      if (!ok) continue;
      Rng r;
      rng_fork(&r, &detector, (uint64_t)z);
      const float *img = intensity + (size_t)z * n;
      float gain = 1.0f + 0.025f * noise * fast_normal(&r);
      float offset = 0.015f * noise * fast_normal(&r);
      uint8_t *o = out + (size_t)z * n;
      for (size_t i = 0; i < n; i++) {
        float v = img[i] * gain + offset;
        /* Read noise (sd 0.025) and shot noise (variance 0.0025 * signal)
         * are independent: one normal with the summed variance. */
        float var = 0.000625f + 0.0025f * (v > 0.0f ? v : 0.0f);
        v += noise * sqrtf(var) * fast_normal(&r);
        float q = v * 255.0f + 0.5f;
        o[i] = (uint8_t)(q < 0.0f ? 0.0f : q > 255.0f ? 255.0f : q);
      }
    }
    free(tmp);
    free(grid);
  }
  return failed ? -1 : 0;
}
