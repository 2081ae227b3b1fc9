/* Picking in the 3D view: the voxel that a ray through a pixel "sees" — the
 * first selected segment voxel, else where compositing turns half opaque, or
 * (MIP) the brightest voxel along the ray. Runs on the CPU on the source
 * volumes (nearest voxel, half-voxel steps), so it matches what is drawn up to
 * the texture's downsampling. */
#pragma once

#include <glib.h>

#include "data/volume.h"

typedef struct {
  const SmVolume *volume;        /* may be NULL */
  const SmVolume *labels;        /* may be NULL; same shape as volume */
  const guint32 *ids;            /* selected segments, drawn as surfaces */
  gsize n_ids;
  double lo, hi, gamma;          /* display window in data units */
  gboolean invert;               /* as drawn (the 3D view's effective invert) */
  gboolean mip;                  /* else compositing */
  double opacity, ramp_low, ramp_high;
  double opacity_length;         /* box-space length the opacity is per (one texture texel) */
  double half_extent[3];         /* box (x, y, z) */
} SmPickScene;

/* inv_mvp: clip -> box space (column-major); ndc in [-1, 1]^2, y up. On a hit
 * writes the voxel (z, y, x) and returns TRUE. */
gboolean sm_volume_pick (const SmPickScene *scene, const float inv_mvp[16], double ndc_x, double ndc_y,
                         double voxel_zyx[3]);
