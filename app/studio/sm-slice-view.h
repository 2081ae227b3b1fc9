/* SmSliceView: one orthogonal slice (XY, XZ or YZ) of the shared SmViewState,
 * drawn with OpenGL: the image volume is uploaded once as a 3D texture and
 * sliced in the fragment shader; label and map layers are drawn over it, then
 * the crosshair. Click moves the crosshair (Ctrl+click also selects the
 * segment under it), scroll or PgUp/PgDn changes the slice, drag pans,
 * Ctrl+scroll / pinch / + - zoom about the pointer, Home fits. */
#pragma once

#include <gtk/gtk.h>

#include "sm-axis.h"
#include "sm-view-state.h"

G_BEGIN_DECLS

#define SM_TYPE_SLICE_VIEW (sm_slice_view_get_type ())
G_DECLARE_FINAL_TYPE (SmSliceView, sm_slice_view, SM, SLICE_VIEW, GtkGLArea)

GtkWidget *sm_slice_view_new (SmAxis axis, SmViewState *state);

SmAxis sm_slice_view_get_axis (SmSliceView *self);
void sm_slice_view_set_state (SmSliceView *self, SmViewState *state);
SmViewState *sm_slice_view_get_state (SmSliceView *self);

/* "XY  z = 12/30", or the reason the view cannot draw. */
const char *sm_slice_view_get_title (SmSliceView *self);

void sm_slice_view_fit (SmSliceView *self);
/* Zoom by factor about the point (x, y) in widget coordinates. */
void sm_slice_view_zoom_at (SmSliceView *self, double factor, double x, double y);
void sm_slice_view_step_slice (SmSliceView *self, int delta);

/* Where the slice plane (the whole volume extent) is drawn, in widget
 * coordinates; may reach outside the widget. */
void sm_slice_view_get_plane_rect (SmSliceView *self, graphene_rect_t *rect);
/* The voxel (z, y, x) under widget point (x, y); FALSE outside the volume. */
gboolean sm_slice_view_voxel_at (SmSliceView *self, double x, double y, double voxel_out[3]);

/* TRUE once the view has drawn the current image (and, for a downsampled
 * image, the full-resolution slice) or has given up with an error. */
gboolean sm_slice_view_is_settled (SmSliceView *self);
/* Frames drawn so far (benchmarks, screenshots). */
guint sm_slice_view_get_frame_count (SmSliceView *self);
/* Benchmarks: wait for each frame to finish (glFinish) and add up the time
 * spent drawing, in µs, so that drawing can be told from compositing. */
void sm_slice_view_set_measure (SmSliceView *self, gboolean measure);
gint64 sm_slice_view_get_render_time (SmSliceView *self);

G_END_DECLS
