/* Seeded watershed: flooding a boundary map (high = boundary) from seeds.
 * Volumes are (z, y, x), x fastest; dims = {nz, ny, nx}.
 *
 * Semantics (identical for uint8 and float maps): every seed voxel enters a
 * queue with priority = its boundary value. The lowest priority leaves the
 * queue first; among equal priorities, the earliest to enter (FIFO). A voxel
 * leaving the queue gives its label to each unlabelled, in-mask neighbour,
 * which enters the queue with priority max(its own value, the priority of the
 * voxel that labelled it): the water level never goes down. Each voxel is
 * labelled once, by the first basin to reach it, so the result depends only
 * on the inputs (no ties left to chance). uint8 maps use a 256-level bucket
 * queue, float maps a radix heap (volumes under 2^32 voxels); a float map
 * holding integer values gives the same labels as the uint8 path. NaN counts
 * as +infinity.
 *
 * Neighbours: 6 (faces) or 26 (CC_CONN_FACES / CC_CONN_FULL), or 4 / 8 within
 * each slice (CC_CONN_PLANE4 / CC_CONN_PLANE8: 2D basins, nothing floods
 * across z, for anisotropic serial sections). mask may be
 * NULL (everything floodable); voxels with mask 0 stay 0. Voxels that no seed
 * can reach stay 0. */
#pragma once

#include <stdint.h>

#include "connected_components.h"
#include "postproc_error.h"

/* labels: seeds on input (0 = unlabelled), the segmentation on output. */
int ws_seeded_u8(uint32_t *labels,          // (nz, ny, nx) in: seeds, out: basins
                 const uint8_t *boundary,   // (nz, ny, nx) high = boundary
                 const uint8_t *mask,       // (nz, ny, nx) or NULL
                 const int64_t dims[3], int connectivity, PpError *err);
int ws_seeded_f32(uint32_t *labels,         // (nz, ny, nx) in: seeds, out: basins
                  const float *boundary,    // (nz, ny, nx) high = boundary
                  const uint8_t *mask,      // (nz, ny, nx) or NULL
                  const int64_t dims[3], int connectivity, PpError *err);

/* Seeds = connected components of the low-boundary region (boundary <
 * threshold), components smaller than min_size voxels dropped, labelled 1..K
 * in raster order. Returns K or -1. */
int64_t ws_seeds_below_u8(uint32_t *seeds,          // (nz, ny, nx)
                          const uint8_t *boundary,  // (nz, ny, nx)
                          const int64_t dims[3], uint8_t threshold, uint64_t min_size,
                          int connectivity, PpError *err);
int64_t ws_seeds_below_f32(uint32_t *seeds,         // (nz, ny, nx)
                           const float *boundary,   // (nz, ny, nx)
                           const int64_t dims[3], float threshold, uint64_t min_size,
                           int connectivity, PpError *err);

/* Seeds at the regional minima of the boundary map: every plateau (connected
 * voxels of one value, given connectivity) without a lower neighbour becomes
 * one seed, labelled 1..K in raster order. The classic watershed start; on
 * raw maps it over-segments (fragments for agglomeration). Returns K or -1. */
int64_t ws_seeds_local_minima_u8(uint32_t *seeds,          // (nz, ny, nx)
                                 const uint8_t *boundary,  // (nz, ny, nx)
                                 const int64_t dims[3], int connectivity, PpError *err);
int64_t ws_seeds_local_minima_f32(uint32_t *seeds,         // (nz, ny, nx)
                                  const float *boundary,   // (nz, ny, nx) NaN = +inf
                                  const int64_t dims[3], int connectivity, PpError *err);

/* Seeds at the centres of cells, for boundary maps whose low-boundary regions
 * touch each other: in each z slice, the 2D Euclidean distance of every voxel
 * with boundary < threshold to the nearest voxel at or above it, smoothed by a
 * Gaussian of sigma pixels (0 = none); seeds are the plateaus of local maxima
 * (8-neighbourhood, distance > 0) of that map, one seed per plateau. 2D seeds
 * per slice suit anisotropic serial sections. Returns K or -1. */
int64_t ws_seeds_distance_maxima(uint32_t *seeds,        // (nz, ny, nx)
                                 const float *boundary,  // (nz, ny, nx)
                                 const int64_t dims[3], float threshold, float sigma,
                                 PpError *err);

/* Affinities: aff (3, nz, ny, nx), channel c = the affinity (1 = same
 * object) between voxel v and its neighbour one step back along axis c
 * (c = 0: z-1, 1: y-1, 2: x-1), as in waterz and PyTorch Connectomics.
 * Channel entries whose neighbour lies outside the volume are unused.
 *
 * boundary(v) = 1 - mean affinity over the (up to 6) edges touching v. */
void ws_boundary_from_affinities(float *boundary,   // (nz, ny, nx)
                                 const float *aff,  // (3, nz, ny, nx)
                                 const int64_t dims[3]);

/* Fragments from affinities: the boundary above, seeds = components of
 * boundary < seed_threshold of at least seed_min_size voxels, grown over the
 * whole volume by the float watershed, both with the given connectivity
 * (CC_CONN_PLANE4 gives 2D fragments per slice, the usual start for
 * anisotropic data). Returns the number of fragments or -1. On snemi-mini
 * (affinities from its boundary map) CC_CONN_PLANE4 with seed_threshold 0.05
 * and seed_min_size 10, then agglo_mean_affinity at 0.8, gives arand 0.224;
 * 3D seeds leak through membranes there (arand > 0.43). */
int64_t ws_affinity_fragments(uint32_t *fragments,  // (nz, ny, nx)
                              const float *aff,     // (3, nz, ny, nx)
                              const int64_t dims[3], float seed_threshold,
                              uint64_t seed_min_size, int connectivity, PpError *err);

/* MitoEM-style instances from a foreground and an instance-contour
 * probability map (PyTorch Connectomics' bc_watershed): seeds = components of
 * (fg > seed_fg_min & contour < seed_contour_max) with at least seed_min_size
 * voxels, grown by watershed over -fg inside the mask fg > mask_fg_min, then
 * instances smaller than min_size removed and the rest relabelled 1..K. */
typedef struct MitoWatershedParams {
  float seed_fg_min;       /* 0.9 */
  float seed_contour_max;  /* 0.8 */
  float mask_fg_min;       /* 0.85 */
  uint64_t seed_min_size;  /* 32 */
  uint64_t min_size;       /* 128 */
  int seed_connectivity;   /* 26, as cc3d's default */
} MitoWatershedParams;

void ws_mito_default_params(MitoWatershedParams *p);
int64_t ws_mito_instances(uint32_t *instances,   // (nz, ny, nx)
                          const float *fg,       // (nz, ny, nx) in [0, 1]
                          const float *contour,  // (nz, ny, nx) in [0, 1]
                          const int64_t dims[3], const MitoWatershedParams *p,
                          PpError *err);
