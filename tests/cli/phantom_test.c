/* The phantom generator in-process: shapes and metadata, bit-identical output
 * for a seed (and for any thread count), ground truth that agrees with the
 * image (membranes dark and labelled 0, one connected piece per id,
 * mitochondria inside one cell and darker than cytoplasm), and clean errors
 * for bad parameters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "phantom.h"
#include "tap.h"
#include "volume.h"

static SmPhantomParams small_params(void) {
  SmPhantomParams p;
  sm_phantom_default_params(&p);
  p.nz = 24;
  p.ny = 128;
  p.nx = 144;
  p.seed = 7;
  return p;
}

static int generate(const SmPhantomParams *p, SmVolume *img, SmVolume *lab, SmVolume *mito) {
  SmError err;
  if (sm_phantom_generate(p, img, lab, mito, &err) != 0) {
    tap_diag("generate failed: %s", err.message);
    return -1;
  }
  return 0;
}

static int same_volume(const SmVolume *a, const SmVolume *b) {
  return a->dtype == b->dtype && a->nz == b->nz && a->ny == b->ny && a->nx == b->nx &&
         memcmp(a->data, b->data, sm_volume_bytes(a)) == 0;
}

static void free3(SmVolume *a, SmVolume *b, SmVolume *c) {
  sm_volume_free(a);
  sm_volume_free(b);
  sm_volume_free(c);
}

/* Number of 6-connected pieces of each id, summed over ids, minus the number
 * of ids: 0 when every id is one piece. */
static long extra_pieces(const SmVolume *lab, uint32_t n_ids) {
  const uint32_t *l = lab->data;
  size_t n = sm_volume_voxels(lab);
  const int64_t nx = lab->nx, ny = lab->ny, nz = lab->nz;
  unsigned char *seen = calloc(n, 1);
  size_t *stack = malloc(n * sizeof *stack);
  long pieces = 0;
  for (size_t i = 0; i < n; i++) {
    if (!l[i] || seen[i]) continue;
    pieces++;
    size_t top = 0;
    stack[top++] = i;
    seen[i] = 1;
    while (top) {
      size_t j = stack[--top];
      int64_t x = (int64_t)(j % (size_t)nx), y = (int64_t)(j / (size_t)nx % (size_t)ny),
              z = (int64_t)(j / (size_t)(nx * ny));
      const int64_t d[6][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
      for (int k = 0; k < 6; k++) {
        int64_t zz = z + d[k][0], yy = y + d[k][1], xx = x + d[k][2];
        if (zz < 0 || yy < 0 || xx < 0 || zz >= nz || yy >= ny || xx >= nx) continue;
        size_t m = ((size_t)zz * (size_t)ny + (size_t)yy) * (size_t)nx + (size_t)xx;
        if (!seen[m] && l[m] == l[j]) {
          seen[m] = 1;
          stack[top++] = m;
        }
      }
    }
  }
  free(seen);
  free(stack);
  return pieces - (long)n_ids;
}

/* Fraction of neighbour pairs along an axis (0 = z, 1 = y, 2 = x) where two
 * different cells touch with no boundary voxel between them. */
static double touching_fraction(const SmVolume *lab, int axis) {
  const uint32_t *l = lab->data;
  const size_t step[3] = {(size_t)(lab->ny * lab->nx), (size_t)lab->nx, 1};
  const int64_t extent[3] = {lab->nz, lab->ny, lab->nx};
  size_t pairs = 0, touching = 0;
  for (int64_t z = 0; z < lab->nz; z++)
    for (int64_t y = 0; y < lab->ny; y++)
      for (int64_t x = 0; x < lab->nx; x++) {
        const int64_t c[3] = {z, y, x};
        if (c[axis] + 1 >= extent[axis]) continue;
        size_t i = (size_t)z * step[0] + (size_t)y * step[1] + (size_t)x;
        uint32_t a = l[i], b = l[i + step[axis]];
        if (!a || !b) continue;
        pairs++;
        touching += a != b;
      }
  return pairs ? (double)touching / (double)pairs : 0.0;
}

static void check_ground_truth(const SmVolume *img, const SmVolume *lab, const SmVolume *mito) {
  const uint8_t *im = img->data;
  const uint32_t *l = lab->data, *m = mito->data;
  size_t n = sm_volume_voxels(img);
  uint32_t max_label = 0, max_mito = 0;
  size_t membrane = 0, mito_voxels = 0, mito_outside = 0;
  double sum_membrane = 0, sum_cell = 0, sum_mito = 0;
  for (size_t i = 0; i < n; i++) {
    if (l[i] > max_label) max_label = l[i];
    if (m[i] > max_mito) max_mito = m[i];
    if (!l[i]) {
      membrane++;
      sum_membrane += im[i];
    } else if (!m[i]) {
      sum_cell += im[i];
    }
    if (m[i]) {
      mito_voxels++;
      sum_mito += im[i];
      if (!l[i]) mito_outside++;
    }
  }
  double mean_membrane = sum_membrane / (double)(membrane ? membrane : 1);
  double mean_cell = sum_cell / (double)(n - membrane - mito_voxels + 1);
  double mean_mito = sum_mito / (double)(mito_voxels ? mito_voxels : 1);
  double membrane_fraction = (double)membrane / (double)n;
  tap_diag("%u cells, %u mitochondria, membrane %.1f %% of voxels, grey levels: membrane %.0f, "
           "cytoplasm %.0f, mitochondria %.0f",
           max_label, max_mito, 100 * membrane_fraction, mean_membrane, mean_cell, mean_mito);
  TAP_OK(max_label >= 10, "at least 10 neurite pieces (%u)", max_label);
  TAP_OK(membrane_fraction > 0.05 && membrane_fraction < 0.4,
         "membranes (label 0) cover 5-40 %% of voxels (%.1f %%)", 100 * membrane_fraction);
  TAP_OK(mean_membrane + 40 < mean_cell, "membranes are much darker than cytoplasm");
  TAP_OK(max_mito >= 1, "some mitochondria (%u)", max_mito);
  TAP_OK(mean_mito + 20 < mean_cell, "mitochondria are darker than cytoplasm");
  TAP_OK(mito_outside == 0, "every mitochondrion voxel lies inside a cell (label > 0)");

  /* Ids are 1..N with none missing, and each mitochondrion lies in one cell. */
  unsigned char *present = calloc((size_t)max_label + 1, 1);
  uint32_t *host = calloc((size_t)max_mito + 1, sizeof *host);
  size_t split_mito = 0;
  for (size_t i = 0; i < n; i++) {
    present[l[i]] = 1;
    if (m[i]) {
      if (!host[m[i]]) host[m[i]] = l[i];
      else if (host[m[i]] != l[i]) split_mito++;
    }
  }
  uint32_t missing = 0;
  for (uint32_t id = 1; id <= max_label; id++) missing += !present[id];
  TAP_OK(missing == 0, "label ids are 1..%u without gaps (%u missing)", max_label, missing);
  TAP_OK(split_mito == 0, "each mitochondrion lies within a single cell");
  free(present);
  free(host);
  TAP_OK(extra_pieces(lab, max_label) == 0, "each label id is one 6-connected piece");
  double fx = touching_fraction(lab, 2), fy = touching_fraction(lab, 1);
  TAP_OK(fx < 1e-3 && fy < 1e-3,
         "in a slice, different cells (almost) never touch without a boundary between them "
         "(x %.5f %%, y %.5f %% of neighbour pairs)", 100 * fx, 100 * fy);
  if (lab->voxel_size[0] <= 2.0 * lab->voxel_size[2]) {
    double fz = touching_fraction(lab, 0);
    TAP_OK(fz < 1e-3, "near-isotropic voxels: nor along z (%.5f %% of pairs)", 100 * fz);
  }
}

int main(void) {
  SmPhantomParams p = small_params();
  SmVolume img, lab, mito;
  if (generate(&p, &img, &lab, &mito) != 0) {
    TAP_OK(0, "generate a 24 x 128 x 144 phantom");
    return tap_done();
  }
  TAP_OK(img.dtype == SM_U8 && lab.dtype == SM_U32 && mito.dtype == SM_U32,
         "image uint8, labels and mitochondria uint32");
  TAP_OK(img.nz == 24 && img.ny == 128 && img.nx == 144 && lab.nz == 24 && lab.ny == 128 &&
             lab.nx == 144 && mito.nx == 144,
         "shapes are (24, 128, 144)");
  TAP_OK(img.voxel_size[0] == 4.0 && img.voxel_size[1] == 4.0 && img.voxel_size[2] == 4.0 &&
             strcmp(img.unit, "nm") == 0 && lab.voxel_size[1] == 4.0,
         "voxel size 4 x 4 x 4 nm");
  check_ground_truth(&img, &lab, &mito);

  /* Same seed: the same bits, whatever the number of threads. */
  SmVolume img2, lab2, mito2;
#ifdef _OPENMP
  int threads = omp_get_max_threads();
  omp_set_num_threads(threads > 1 ? 1 : 2);
#endif
  if (generate(&p, &img2, &lab2, &mito2) == 0) {
    TAP_OK(same_volume(&img, &img2) && same_volume(&lab, &lab2) && same_volume(&mito, &mito2),
           "a rerun with the same seed (and another thread count) is bit-identical");
    free3(&img2, &lab2, &mito2);
  } else {
    TAP_OK(0, "rerun");
  }
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
  SmPhantomParams q = p;
  q.seed = 8;
  if (generate(&q, &img2, &lab2, &mito2) == 0) {
    TAP_OK(!same_volume(&img, &img2) && !same_volume(&lab, &lab2), "another seed, another volume");
    free3(&img2, &lab2, &mito2);
  } else {
    TAP_OK(0, "other seed");
  }

  /* Labels and mitochondria are optional outputs and do not change the image. */
  if (generate(&p, &img2, NULL, NULL) == 0) {
    TAP_OK(same_volume(&img, &img2), "image alone equals the image generated with ground truth");
    sm_volume_free(&img2);
  } else {
    TAP_OK(0, "image alone");
  }
  free3(&img, &lab, &mito);

  /* Anisotropic sections, no noise, no blur. */
  q = small_params();
  q.z_anisotropy = 10.0;
  q.noise = 0.0;
  q.blur_sigma = 0.0;
  if (generate(&q, &img, &lab, &mito) == 0) {
    TAP_OK(img.voxel_size[0] == 40.0 && img.voxel_size[2] == 4.0, "anisotropy 10: 40 nm sections");
    check_ground_truth(&img, &lab, &mito);
    free3(&img, &lab, &mito);
  } else {
    TAP_OK(0, "anisotropic phantom");
  }

  /* Bad parameters: -1, a message, nothing allocated. */
  struct {
    const char *what;
    SmPhantomParams p;
  } bad[6];
  for (int i = 0; i < 6; i++) bad[i].p = small_params();
  bad[0].what = "zero depth";
  bad[0].p.nz = 0;
  bad[1].what = "negative width";
  bad[1].p.nx = -5;
  bad[2].what = "anisotropy 0";
  bad[2].p.z_anisotropy = 0.0;
  bad[3].what = "noise NaN";
  bad[3].p.noise = NAN;
  bad[4].what = "more than 4e9 voxels";
  bad[4].p.nz = 100000;
  bad[4].p.ny = 100000;
  bad[5].what = "cell diameter 1";
  bad[5].p.cell_diameter = 1.0;
  for (int i = 0; i < 6; i++) {
    SmError err = {{0}};
    SmVolume v = {0};
    int rc = sm_phantom_generate(&bad[i].p, &v, NULL, NULL, &err);
    TAP_OK(rc == -1 && v.data == NULL && strncmp(err.message, "phantom: ", 9) == 0 &&
               !strchr(err.message, '\n'),
           "%s: clean error '%s'", bad[i].what, err.message);
  }
  return tap_done();
}
