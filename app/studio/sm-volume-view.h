/* SmVolumeView: the studio's 3D view. A GtkGLArea that ray-marches the image
 * volume (maximum-intensity projection or front-to-back compositing), draws the
 * bounding box and the three slice planes through the crosshair, and shades
 * the selected label segments as surfaces. Mouse: drag = orbit, scroll = zoom,
 * shift-drag or middle-drag = pan. */
#pragma once

#include <gtk/gtk.h>

#include "data/volume.h"
#include "sm-layer.h"

G_BEGIN_DECLS

#define SM_TYPE_VOLUME_VIEW (sm_volume_view_get_type ())
G_DECLARE_FINAL_TYPE (SmVolumeView, sm_volume_view, SM, VOLUME_VIEW, GtkGLArea)

typedef enum { SM_RENDER_MIP, SM_RENDER_COMPOSITE } SmRenderMode;

GtkWidget *sm_volume_view_new (void);
/* Borrowed: the caller keeps `volume` alive until it sets another or NULL. Uploaded (downsampled
 * to fit GL_MAX_3D_TEXTURE_SIZE and a memory budget) at the next render. */
void sm_volume_view_set_volume (SmVolumeView *self, const SmVolume *volume);
/* Window/level in data units (the same numbers the slice views use), gamma, invert. */
void sm_volume_view_set_contrast (SmVolumeView *self, double lo, double hi, double gamma, gboolean invert);
/* Crosshair position in voxels (z, y, x): the three slice planes are drawn through it. */
void sm_volume_view_set_cursor (SmVolumeView *self, double z, double y, double x);
void sm_volume_view_set_render_mode (SmVolumeView *self, SmRenderMode mode);
/* Transfer function for compositing: opacity scale and the ramp [low, high] in normalised intensity. */
void sm_volume_view_set_transfer (SmVolumeView *self, double opacity, double low, double high);
/* uint32 label volume (borrowed, same shape as the image) and the segments drawn as shaded surfaces. */
void sm_volume_view_set_labels (SmVolumeView *self, const SmVolume *labels);
void sm_volume_view_set_selected_segments (SmVolumeView *self, const guint32 *ids, gsize n_ids);
/* Labels holding fragment ids (proofreading, see SmLabelMapEntry in
 * sm-layer.h): a selected segment draws every fragment the map gives it, in
 * its colour (chosen or hashed). Copies the entries; NULL / 0 = no map. */
void sm_volume_view_set_label_map (SmVolumeView *self, const SmLabelMapEntry *entries, gsize n);
/* Labels were edited inside the box (voxels, inclusive-exclusive): re-upload that part. */
void sm_volume_view_labels_changed (SmVolumeView *self, const gint64 lo[3], const gint64 hi[3]);
void sm_volume_view_reset_camera (SmVolumeView *self);

G_END_DECLS
