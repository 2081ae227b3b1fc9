/* CPU-side preparation of volumes for display: robust percentiles of a
 * sample, the subsampled level that fits a GPU texture budget, and
 * full-resolution slice extraction. Thread-safe (pure functions). */
#pragma once

#include <glib.h>

#include "data/volume.h"
#include "sm-axis.h"

G_BEGIN_DECLS

/* Percentiles (fractions, e.g. 0.005 and 0.995) of up to ~1M voxels spread
 * over the whole volume; exact for the sampled voxels. */
void sm_volume_sample_percentiles (const SmVolume *v, double p_lo, double p_hi, double *lo,
                                   double *hi);

/* Subsampling steps (z, y, x) so that every level dimension is at most
 * max_dim and the level takes at most budget_bytes at bytes_per_voxel.
 * Returns TRUE when the volume must be subsampled (some step > 1). */
gboolean sm_volume_level_strides (const SmVolume *v, gint64 max_dim, gint64 budget_bytes,
                                  int bytes_per_voxel, int stride[3]);

/* out = v[::sz, ::sy, ::sx] (nearest, so label ids stay ids). Returns 0 or
 * -1 when memory cannot be had. */
int sm_volume_subsample (const SmVolume *v, const int stride[3], SmVolume *out, SmError *err);

/* The full-resolution slice `index` across `axis` as a 1 x n_v x n_h volume of
 * the same dtype (rows v, columns h; see sm-axis.h). */
int sm_volume_extract_slice (const SmVolume *v, SmAxis axis, gint64 index, SmVolume *out,
                             SmError *err);

/* Texture budget in bytes: SEMMAE_STUDIO_TEXTURE_MB (tests use a small one to
 * exercise the streaming path), else 512 MiB. */
gint64 sm_texture_budget_bytes (void);
/* Largest 3D texture side: GL_MAX_3D_TEXTURE_SIZE once a view has asked GL
 * (sm_texture_set_max_dim), 2048 before. */
gint64 sm_texture_max_dim (void);
void sm_texture_set_max_dim (gint64 max_dim);

G_END_DECLS
