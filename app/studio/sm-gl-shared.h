/* Volume textures shared by every GL area of the studio: GTK 4 creates all
 * GL contexts of a display sharing objects with the display's own, so the
 * three slice views can sample one texture per layer instead of uploading
 * three copies. Reference-counted per layer; main thread only, with a GL
 * context of the display current. */
#pragma once

#include "sm-gl.h"
#include "sm-layer.h"

G_BEGIN_DECLS

/* The layer's level as a 3D texture, uploaded by the first caller. NULL with
 * an error when the GPU refuses it. Each successful acquire needs a release. */
const SmGlVolumeTexture *sm_gl_shared_texture_acquire (SmLayer *layer, gboolean use_es,
                                                       GError **error);
void sm_gl_shared_texture_release (SmLayer *layer);
/* Label layers: re-uploads the box lo..hi (z, y, x, inclusive-exclusive, in
 * texels: level voxels for a downsampled layer) from ids, (hi - lo)
 * row-major. FALSE when the layer has no texture yet (nothing to do: the
 * first upload reads the layer's data). */
gboolean sm_gl_shared_texture_update_box (SmLayer *layer, const gint64 lo[3], const gint64 hi[3],
                                          const guint32 *ids);

G_END_DECLS
