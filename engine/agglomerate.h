/* Mean-affinity region agglomeration (as waterz's "MeanAffinity" scoring).
 * Volumes are (z, y, x), x fastest; dims = {nz, ny, nx}. Affinities
 * (3, nz, ny, nx) follow watershed.h: channel c at voxel v is the affinity
 * between v and v - e_c (c = 0: z, 1: y, 2: x).
 *
 * The region adjacency graph joins two fragments that touch across at least
 * one affinity edge; its edge carries the sum and the count of the affinities
 * of all voxel edges between them, so its score is their mean. The edge with
 * the highest mean merges first (ties: the edge found first in raster order);
 * merging folds the merged region's edges into the survivor's, adding sums
 * and counts of edges to a common neighbour. A priority queue holds stale
 * entries, recognised by a version number and skipped (lazy invalidation).
 * Merging stops when the best mean affinity falls below the threshold, so
 * threshold = 1 - waterz's threshold (waterz scores 1 - mean affinity).
 * Fragment label 0 is background: it is never merged and stays 0. NaN
 * affinities count as 0. */
#pragma once

#include <stdint.h>

#include "postproc_error.h"

/* Called once per threshold of a sequence with the segmentation at that
 * threshold: labels 1..n_segments in raster order of first voxel. */
typedef void (*AggloEmitFn)(double threshold,
                            const uint32_t *segments,  // (nz, ny, nx)
                            int64_t n_segments, void *user);

/* segments: fragments merged while the best mean affinity >= threshold,
 * relabelled 1..K in raster order. segments may alias fragments. Returns K
 * or -1. */
int64_t agglo_mean_affinity(uint32_t *segments,         // (nz, ny, nx)
                            const uint32_t *fragments,  // (nz, ny, nx)
                            const float *aff,           // (3, nz, ny, nx)
                            const int64_t dims[3], double threshold, PpError *err);

/* The same for a sequence of thresholds given in decreasing order, reporting
 * the segmentation after each one through emit: one pass of merging serves
 * them all. Returns 0 or -1. */
int agglo_mean_affinity_sequence(const uint32_t *fragments,  // (nz, ny, nx)
                                 const float *aff,           // (3, nz, ny, nx)
                                 const int64_t dims[3], const double *thresholds,
                                 int n_thresholds, AggloEmitFn emit, void *user,
                                 PpError *err);

/* Affinities from a boundary map (uint8, 255 = certain boundary): the
 * affinity of an edge is 1 - the mean boundary value of its two voxels / 255.
 * For agglomerating on membrane-style predictions. */
void agglo_affinities_from_boundary_u8(float *aff,               // (3, nz, ny, nx)
                                       const uint8_t *boundary,  // (nz, ny, nx)
                                       const int64_t dims[3]);
