/* CPU side of the 3D view's uploads: shrink a volume to a texture budget with
 * a box filter, convert it to a GPU-friendly texel type, and build the label
 * mask of the selected segments with "any" pooling. No GL here, so it can run
 * on a worker thread and be tested without a display. */
#pragma once

#include <glib.h>

#include "data/volume.h"

typedef enum {
  SM_TEXEL_U8,   /* GL_R8: normalised byte */
  SM_TEXEL_U16,  /* GL_R16: normalised short (desktop GL only) */
  SM_TEXEL_F32,  /* GL_R32F (desktop) or GL_R16F (GLES), already normalised to [0, 1] */
} SmTexelType;

/* A texture-ready copy of an image volume. A texel t (as the shader samples
 * it, in [0, 1]) stands for the data value t * scale + offset. */
typedef struct SmVolumeTexture {
  SmTexelType type;
  int nz, ny, nx;     /* texture shape (z, y, x), x fastest */
  int factor[3];      /* box-filter factors (z, y, x) from the source volume */
  double scale, offset;
  double median;      /* median texel (sampled), in [0, 1]: where the bulk of the volume lies */
  void *texels;       /* nz*ny*nx texels, g_malloc'ed */
  /* Empty-space skipping: per brick of SM_BRICK^3 texels, the lowest and
   * highest texel (RG8, rounded outwards) over the brick grown by one texel,
   * i.e. everything a trilinear sample inside the brick can read. */
  int brick_shape[3]; /* z, y, x */
  guint8 *bricks;
} SmVolumeTexture;

#define SM_BRICK 8

/* Integer box factors (z, y, x) so that every texture axis is <= max_dim and
 * the texel count is <= max_texels; the longest texture axis shrinks first. */
void sm_volume_texture_plan (gint64 nz, gint64 ny, gint64 nx, int max_dim, gsize max_texels,
                             int factor[3]);

/* Fills `out` from `v` with the given factors. Without `allow_unorm16` (GLES)
 * 16-bit data becomes SM_TEXEL_F32. Returns FALSE when *cancel becomes non-zero
 * (checked per output slice) or memory cannot be had; out is then empty. */
gboolean sm_volume_texture_build (const SmVolume *v, const int factor[3], gboolean allow_unorm16,
                                  const gint *cancel, SmVolumeTexture *out);
void sm_volume_texture_clear (SmVolumeTexture *t);

/* Label mask for surfaces: 2 bytes per texel (RG8). R is 255 where any voxel
 * of the texel's box belongs to a selected segment, G is then the 1-based
 * index of that segment in `ids` (wrapping past 255) for the colour lookup.
 * Fills only texels [lo, hi) (texture coordinates, z y x) of `mask`, which
 * has the texture's shape tex_shape (z, y, x). labels must be SM_U32 or SM_I32
 * (other integer types are read as ids too). Returns FALSE on cancel. */
gboolean sm_volume_mask_build (const SmVolume *labels, const int factor[3], const int tex_shape[3],
                               const guint32 *ids, gsize n_ids, const int lo[3], const int hi[3],
                               const gint *cancel, guint8 *mask);

/* Smooths the R channel of `mask` for texels within one texel of [lo, hi)
 * (texture coordinates, z y x) so that its interpolated 0.5 iso-surface is
 * round instead of stair-stepped: R becomes a 3x3x3 binomial blur of the
 * occupancy (G != 0), kept above 0.5 inside and below it outside, so no texel
 * changes side and one-texel-thin segments stay. Call after
 * sm_volume_mask_build on the same box. */
void sm_volume_mask_smooth (guint8 *mask, const int tex_shape[3], const int lo[3], const int hi[3]);

/* Empty-space skipping for the mask: one byte per brick of SM_BRICK^3 texels,
 * 255 where the brick grown by one texel holds a selected texel.
 * brick_shape receives the brick grid (z, y, x). g_free the result. */
guint8 *sm_volume_mask_bricks (const guint8 *mask, const int tex_shape[3], int brick_shape[3]);

/* The colour of segment `id` (hashed as in the slice views' label overlay), RGB in [0, 1]. */
void sm_segment_color (guint32 id, float rgb[3]);
