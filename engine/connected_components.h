/* Connected components of label volumes and binary masks, size filtering and
 * consecutive relabelling. Volumes are (z, y, x), x fastest; dims = {nz, ny,
 * nx}. Two raster passes with union-find over provisional labels: O(voxels),
 * no recursion, memory = the output plus 4 bytes per provisional label.
 *
 * Labels after any of these calls are 1..K in raster order of each segment's
 * first voxel (lowest z, then y, then x), 0 = background: deterministic and
 * independent of the input ids. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "postproc_error.h"

/* Connectivity: 6 (shared faces) or 26 (faces, edges and corners) in 3D;
 * 4 or 8 for components inside each z slice only (2D, for anisotropic serial
 * sections: nothing joins across slices). */
enum { CC_CONN_PLANE4 = 4, CC_CONN_PLANE8 = 8, CC_CONN_FACES = 6, CC_CONN_FULL = 26 };

/* Labels the connected pieces of every non-zero label: two neighbouring
 * voxels belong together when they carry the same non-zero value, so a label
 * volume whose segments fall apart is split into its pieces, and a binary
 * mask (0 / non-zero) gets its components. Returns K (the number of
 * components) or -1. out must not alias labels. */
int64_t cc_label_u32(uint32_t *out,            // (nz, ny, nx)
                     const uint32_t *labels,   // (nz, ny, nx)
                     const int64_t dims[3], int connectivity, PpError *err);
int64_t cc_label_u8(uint32_t *out,             // (nz, ny, nx)
                    const uint8_t *mask,       // (nz, ny, nx) 0 = background
                    const int64_t dims[3], int connectivity, PpError *err);

/* Sets every segment with fewer than min_size voxels to 0 and relabels the
 * rest 1..K in raster order of first voxel. Works in place on any uint32 ids.
 * Returns K or -1. */
int64_t cc_remove_small(uint32_t *labels,      // (n)
                        size_t n, uint64_t min_size, PpError *err);

/* Relabels any uint32 ids to 1..K by first appearance (0 stays 0), in place.
 * Returns K or -1. */
int64_t cc_relabel_consecutive(uint32_t *labels,  // (n)
                               size_t n, PpError *err);

/* Voxel count of each label of a consecutively labelled volume: sizes has
 * room for n_labels + 1 entries, sizes[0] counts the background. */
void cc_label_sizes(uint64_t *sizes,           // (n_labels + 1)
                    const uint32_t *labels,    // (n) values <= n_labels
                    size_t n, int64_t n_labels);
