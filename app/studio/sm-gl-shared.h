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

/* Label layers: binds the layer's label map (sm_layer_set_label_map;
 * uploaded when its version changed) as a usampler2D of RGBA32UI texels
 * (fragment, segment, colour, flags) to the active texture unit; returns the
 * number of entries (0: nothing bound, ids show as themselves in their
 * hashed colour) and the table's row width. Needs a GL context current. */
/* Label layers shown through that table: the volume (the layer's shape,
 * uint32 fragment ids, borrowed until set to NULL) the first upload reads
 * instead of the layer's displayed ids, which a later undo of a merge could
 * not map back. Ignored for downsampled layers (their level is kept in
 * fragments by the caller). */
void sm_gl_shared_set_label_source (SmLayer *layer, const SmVolume *fragments);
guint sm_gl_shared_label_map_bind (SmLayer *layer, guint *row_width);

G_END_DECLS
