/* Synthetic serial-SEM phantom: parameters, checks, and the order of the
 * passes (scene -> voxels -> ground-truth clean-up -> image formation). */
#include "phantom.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phantom_internal.h"

void sm_phantom_default_params(SmPhantomParams *p) {
  memset(p, 0, sizeof *p);
  p->nz = 64;
  p->ny = 256;
  p->nx = 256;
  p->seed = 1;
  p->z_anisotropy = 1.0;
  p->xy_voxel_nm = 4.0;
  p->cell_diameter = 44.0;
  p->mito_density = 0.5;
  p->blur_sigma = 1.0;
  p->noise = 1.0;
  p->membrane_width = 2.4;
  p->vesicle_density = 0.25;
}

static int check_params(const SmPhantomParams *p, SmError *err) {
  if (p->nz < 1 || p->ny < 1 || p->nx < 1)
    return sm_error_set(err, "phantom: shape %lld x %lld x %lld must be positive",
                        (long long)p->nz, (long long)p->ny, (long long)p->nx);
  /* The label pass indexes voxels with 32 bits. */
  if ((double)p->nz * (double)p->ny * (double)p->nx >= 4.0e9)
    return sm_error_set(err, "phantom: shape %lld x %lld x %lld is too large (under 4e9 voxels)",
                        (long long)p->nz, (long long)p->ny, (long long)p->nx);
  if (!(p->z_anisotropy >= 0.1 && p->z_anisotropy <= 100.0))
    return sm_error_set(err, "phantom: anisotropy %g must be in [0.1, 100]", p->z_anisotropy);
  if (!(p->xy_voxel_nm > 0.1 && p->xy_voxel_nm <= 1000.0))
    return sm_error_set(err, "phantom: xy voxel size %g nm must be in (0.1, 1000]", p->xy_voxel_nm);
  if (!(p->cell_diameter >= 4.0 && p->cell_diameter <= 4096.0))
    return sm_error_set(err, "phantom: cell diameter %g must be in [4, 4096] voxels",
                        p->cell_diameter);
  if (!(p->mito_density >= 0.0 && p->mito_density <= 20.0))
    return sm_error_set(err, "phantom: mitochondria density %g must be in [0, 20]", p->mito_density);
  if (!(p->vesicle_density >= 0.0 && p->vesicle_density <= 20.0))
    return sm_error_set(err, "phantom: vesicle density %g must be in [0, 20]", p->vesicle_density);
  if (!(p->blur_sigma >= 0.0 && p->blur_sigma <= 10.0))
    return sm_error_set(err, "phantom: blur %g must be in [0, 10] voxels", p->blur_sigma);
  if (!(p->noise >= 0.0 && p->noise <= 10.0))
    return sm_error_set(err, "phantom: noise %g must be in [0, 10]", p->noise);
  if (!(p->membrane_width >= 0.5 && p->membrane_width <= 50.0))
    return sm_error_set(err, "phantom: membrane width %g must be in [0.5, 50] voxels",
                        p->membrane_width);
  return 0;
}

/* Generation holds about 17 bytes per voxel at its peak (grey levels as
 * floats, labels, mitochondria, the image, and the union-find of the
 * connected pieces). With overcommit a too-large request may be granted and
 * the process killed later, so it is refused up front. */
static int check_memory(const SmPhantomParams *p, SmError *err) {
  long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  double physical = (double)pages * (double)page_size;
  double needed = 17.0 * (double)p->nz * (double)p->ny * (double)p->nx;
  if (needed > physical)
    return sm_error_set(err,
                        "phantom: %lld x %lld x %lld needs %.1f GiB, more than this machine's "
                        "memory (%.1f GiB)",
                        (long long)p->nz, (long long)p->ny, (long long)p->nx,
                        needed / 1073741824.0, physical / 1073741824.0);
  return 0;
}

static void set_voxel_size(SmVolume *v, const SmPhantomParams *p, int bits) {
  v->voxel_size[0] = p->xy_voxel_nm * p->z_anisotropy;
  v->voxel_size[1] = p->xy_voxel_nm;
  v->voxel_size[2] = p->xy_voxel_nm;
  strcpy(v->unit, "nm");
  v->bits_per_sample = bits;
}

int sm_phantom_generate(const SmPhantomParams *p, SmVolume *image, SmVolume *labels,
                        SmVolume *mito, SmError *err) {
  if (check_params(p, err) != 0 || check_memory(p, err) != 0) return -1;
  SmVolume img = {0}, lab = {0}, mit = {0};
  PhScene scene;
  float *intensity = NULL;
  if (ph_scene_build(&scene, p, err) != 0) return -1;
  if (sm_volume_alloc(&img, SM_U8, p->nz, p->ny, p->nx, err) != 0 ||
      sm_volume_alloc(&lab, SM_U32, p->nz, p->ny, p->nx, err) != 0 ||
      sm_volume_alloc(&mit, SM_U32, p->nz, p->ny, p->nx, err) != 0)
    goto fail;
  size_t n = sm_volume_voxels(&img);
  intensity = malloc(n * sizeof *intensity);
  if (!intensity) goto oom;
  if (ph_rasterize(&scene, intensity, lab.data, mit.data) != 0) goto oom;
  int64_t min_voxels = (int64_t)lrint(40.0 / p->z_anisotropy);
  if (min_voxels < 6) min_voxels = 6;
  if (ph_split_components(lab.data, intensity, PH_MEMBRANE_LEVEL, p->nz, p->ny, p->nx,
                          min_voxels) < 0)
    goto oom;
  if (ph_compact_ids(mit.data, n, (uint32_t)scene.n_mito) < 0) goto oom;
  if (ph_render_sem(&scene, intensity, img.data) != 0) goto oom;
  free(intensity);
  ph_scene_free(&scene);

  set_voxel_size(&img, p, 8);
  set_voxel_size(&lab, p, 32);
  set_voxel_size(&mit, p, 32);
  *image = img;
  if (labels)
    *labels = lab;
  else
    sm_volume_free(&lab);
  if (mito)
    *mito = mit;
  else
    sm_volume_free(&mit);
  return 0;
oom:
  sm_error_set(err, "phantom: out of memory for %lld x %lld x %lld voxels", (long long)p->nz,
               (long long)p->ny, (long long)p->nx);
fail:
  free(intensity);
  ph_scene_free(&scene);
  sm_volume_free(&img);
  sm_volume_free(&lab);
  sm_volume_free(&mit);
  return -1;
}
