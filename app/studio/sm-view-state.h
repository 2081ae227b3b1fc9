/* SmViewState: what every view shows, shared by the slice views, the 3D view
 * and the side panel — the image layer, the overlay layers (bottom to top),
 * the crosshair cursor in voxels (z, y, x), contrast and sampling, and the
 * selected segment. Views listen to ::changed and redraw. */
#pragma once

#include <gtk/gtk.h>

#include "sm-layer.h"

G_BEGIN_DECLS

#define SM_TYPE_VIEW_STATE (sm_view_state_get_type ())
G_DECLARE_FINAL_TYPE (SmViewState, sm_view_state, SM, VIEW_STATE, GObject)

SmViewState *sm_view_state_new (void);

/* The image; replacing it drops all overlays of another shape, resets the
 * contrast to the image's robust percentiles and centres the cursor. */
void sm_view_state_set_image (SmViewState *self, SmLayer *image);
SmLayer *sm_view_state_get_image (SmViewState *self);
/* Bumped each time the image is replaced. */
guint sm_view_state_get_image_generation (SmViewState *self);

/* Overlays, a GListModel of SmLayer, drawn first to last. */
GListModel *sm_view_state_get_layers (SmViewState *self);
void sm_view_state_add_layer (SmViewState *self, SmLayer *layer);
void sm_view_state_remove_layer (SmViewState *self, SmLayer *layer);
/* Moves the layer by delta positions (-1 = down = drawn earlier). */
void sm_view_state_move_layer (SmViewState *self, SmLayer *layer, int delta);

void sm_view_state_get_cursor (SmViewState *self, double *z, double *y, double *x);
/* Clamped to the image. */
void sm_view_state_set_cursor (SmViewState *self, double z, double y, double x);

void sm_view_state_get_contrast (SmViewState *self, double *lo, double *hi, double *gamma,
                                 gboolean *invert);
void sm_view_state_set_contrast (SmViewState *self, double lo, double hi, double gamma,
                                 gboolean invert);
/* Window/level from the image's robust percentiles. */
void sm_view_state_auto_contrast (SmViewState *self);

/* Overrides the voxel size (z, y, x) of the image and its overlays, for files
 * that do not say (the aspect of XZ/YZ and the 3D view follow). Notifies
 * ::geometry. */
void sm_view_state_set_voxel_size (SmViewState *self, double z, double y, double x);

gboolean sm_view_state_get_linear (SmViewState *self);
void sm_view_state_set_linear (SmViewState *self, gboolean linear);

guint32 sm_view_state_get_selected_id (SmViewState *self);
void sm_view_state_set_selected_id (SmViewState *self, guint32 id);
/* Several selected segments (the first is the selected id); the slice views
 * highlight up to SM_VIEW_STATE_MAX_SELECTED. set_selected_id drops the others. */
#define SM_VIEW_STATE_MAX_SELECTED 16
void sm_view_state_set_selected_ids (SmViewState *self, const guint32 *ids, guint n);
guint sm_view_state_get_selected_ids (SmViewState *self, guint32 ids[SM_VIEW_STATE_MAX_SELECTED]);
/* Paint/erase brush radius in x voxels, outlined around the pointer; 0 = none. */
double sm_view_state_get_brush_radius (SmViewState *self);
void sm_view_state_set_brush_radius (SmViewState *self, double radius);

/* The first visible label layer, or NULL. */
SmLayer *sm_view_state_get_label_layer (SmViewState *self);

G_END_DECLS
