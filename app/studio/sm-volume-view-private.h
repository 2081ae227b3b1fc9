/* Hooks of SmVolumeView for the bench and the display tests: drive the camera
 * and the quality level without a mouse, and ask why GL failed. Not for the
 * application, which uses sm-volume-view.h only. */
#pragma once

#include "sm-volume-view.h"

G_BEGIN_DECLS

/* As if the mouse had dragged by (dx, dy) pixels. */
void sm_volume_view_orbit (SmVolumeView *self, double dx, double dy);
/* TRUE renders as while dragging: reduced (adapted) resolution, longer steps, nearest sampling. */
void sm_volume_view_set_interacting (SmVolumeView *self, gboolean interacting);
/* The message shown in place of the view when GL failed, or NULL. */
const char *sm_volume_view_get_gl_error (SmVolumeView *self);
/* TRUE once the GL programs are built (after realize). */
gboolean sm_volume_view_is_gl_ready (SmVolumeView *self);

/* TRUE while a volume or mask is being prepared or waits for its upload. */
gboolean sm_volume_view_is_busy (SmVolumeView *self);
/* Resolution scales of interactive and still frames, adapted to the march time. */
void sm_volume_view_get_resolution_scales (SmVolumeView *self, double *interactive, double *still);

/* > 0 fixes the resolution scale of all frames (no adaptation); 0 adapts. */
void sm_volume_view_pin_resolution (SmVolumeView *self, double scale);

/* Caps the voxel counts up to which images (default 256^3, the texel budget)
 * and label masks (default 4 Mi) are prepared on the main thread rather than a
 * worker; tests lower it to exercise the workers on small volumes. */
void sm_volume_view_set_sync_limit (gsize voxels);

/* The voxel (z, y, x) seen at widget point (x, y), as a double-click would
 * report it through the "pick" signal. */
gboolean sm_volume_view_pick (SmVolumeView *self, double x, double y, double voxel_zyx[3]);

G_END_DECLS
