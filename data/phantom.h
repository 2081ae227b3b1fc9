/* Synthetic serial-SEM phantom with exact ground truth: the built-in sample
 * and the test fixture. Neurites are 3D cells with dark membranes, with dark
 * textured elongated mitochondria and vesicles inside; optional anisotropic
 * z, blur and SEM-like noise. Deterministic for a seed. */
#pragma once

#include <stdint.h>

#include "volume.h"

typedef struct SmPhantomParams {
  int64_t nz, ny, nx;     /* shape (z, y, x) */
  uint64_t seed;
  double z_anisotropy;    /* z voxel size / xy voxel size (e.g. 50/4); 1 = isotropic */
  double xy_voxel_nm;     /* xy voxel size written to the volume, nm */
  double cell_diameter;   /* mean neurite diameter in xy voxels */
  double mito_density;    /* expected mitochondria per cell, roughly */
  double blur_sigma;      /* in xy voxels; 0 = none */
  double noise;           /* SEM noise strength, 0 = none, 1 = typical */
  /* Added after the first version; sm_phantom_default_params fills them. */
  double membrane_width;  /* dark membrane core in xy voxels */
  double vesicle_density; /* expected vesicle clouds per cell, roughly */
} SmPhantomParams;

/* 64 x 256 x 256, seed 1, isotropic 4 nm voxels, neurites about 36 voxels
 * across, 3-voxel membranes, SEM blur and noise. */
void sm_phantom_default_params(SmPhantomParams *p);

/* image: uint8 SEM-like image; labels: uint32 neurite instance ids, 0 on
 * membranes; mito: uint32 mitochondrion instance ids, 0 elsewhere. Any of
 * labels and mito may be NULL. All outputs are allocated here; on failure
 * nothing stays allocated. The same parameters give bit-identical outputs on
 * every run and for any number of OpenMP threads. */
int sm_phantom_generate(const SmPhantomParams *p, SmVolume *image, SmVolume *labels,
                        SmVolume *mito, SmError *err);
