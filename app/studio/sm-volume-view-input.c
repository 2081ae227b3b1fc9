/* SmVolumeView, input (see sm-volume-view-internal.h): drag = orbit,
 * shift-drag or middle-drag = pan, scroll = zoom, double-click = pick (the
 * "pick" signal), keys when focused; and the fast frames of interaction and
 * of bursts of changes (slider drags, brush strokes). */
#include "sm-volume-view-internal.h"
#include "sm-volume-view-private.h"

#include <math.h>
#include <string.h>

#include "sm-volume-pick.h"

/* Changes closer than BURST_US form a burst, drawn fast until SETTLE_MS pass without one. */
#define BURST_US 300000
#define SETTLE_MS 250
#define SETTLING_IN_US 1500000 /* after a volume arrives, changes are settings, not drags */

/* The voxel seen at widget point (x, y), as drawn; FALSE when the ray meets nothing. */
static gboolean
pick (SmVolumeView *self, double x, double y, double voxel_zyx[3])
{
  const int w = gtk_widget_get_width (GTK_WIDGET (self)), h = gtk_widget_get_height (GTK_WIDGET (self));
  if (w <= 0 || h <= 0 || (!self->volume && !self->labels) || self->tex_shape[0] == 0) return FALSE;
  float mvp[16], inv_mvp[16];
  sm_volume_camera_matrices (&self->camera, self->half_extent, (double) w / h, mvp, inv_mvp);
  SmPickScene scene = {
    .volume = self->volume,
    .labels = self->labels,
    .ids = self->ids,
    .n_ids = self->n_ids,
    .mip = self->mode == SM_RENDER_MIP,
    .opacity = self->opacity,
    .ramp_low = self->ramp_low,
    .ramp_high = self->ramp_high,
    .opacity_length = sm_volume_view_texel_length (self),
  };
  sm_volume_view_display_mapping (self, &scene.lo, &scene.hi, &scene.gamma, &scene.invert);
  memcpy (scene.half_extent, self->half_extent, sizeof scene.half_extent);
  return sm_volume_pick (&scene, inv_mvp, 2 * x / w - 1, 1 - 2 * y / h, voxel_zyx);
}

/* Double-click: tell the window which voxel was clicked ("pick" signal), so
 * that it can move the crosshair there. */
static void
clicked (GtkGestureClick *gesture, int n_press, double x, double y, SmVolumeView *self)
{
  double zyx[3];
  if (n_press == 2 && pick (self, x, y, zyx)) g_signal_emit_by_name (self, "pick", zyx[0], zyx[1], zyx[2]);
}

static void
set_interacting (SmVolumeView *self, gboolean interacting)
{
  if (self->interacting == interacting) return;
  self->interacting = interacting;
  sm_volume_view_invalidate (self);
}

static void
drag_begin (GtkGestureDrag *gesture, double x, double y, SmVolumeView *self)
{
  const guint button = gtk_gesture_single_get_current_button (GTK_GESTURE_SINGLE (gesture));
  const GdkModifierType mods = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (gesture));
  self->panning = button == GDK_BUTTON_MIDDLE || (mods & GDK_SHIFT_MASK);
  gtk_widget_grab_focus (GTK_WIDGET (self));
  self->drag_last[0] = self->drag_last[1] = 0;
  set_interacting (self, TRUE);
}

static void
drag_update (GtkGestureDrag *gesture, double dx, double dy, SmVolumeView *self)
{
  const double ddx = dx - self->drag_last[0], ddy = dy - self->drag_last[1];
  self->drag_last[0] = dx;
  self->drag_last[1] = dy;
  if (self->panning)
    sm_volume_camera_pan (&self->camera, self->half_extent, ddx, ddy, gtk_widget_get_width (GTK_WIDGET (self)),
                          gtk_widget_get_height (GTK_WIDGET (self)));
  else
    sm_volume_camera_orbit (&self->camera, ddx, ddy);
  sm_volume_view_invalidate (self);
}

static void
drag_end (GtkGestureDrag *gesture, double dx, double dy, SmVolumeView *self)
{
  set_interacting (self, FALSE);
}

static gboolean
settle (gpointer data)
{
  SmVolumeView *self = data;
  self->settle_id = 0;
  self->transient = FALSE;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
  return G_SOURCE_REMOVE;
}

/* Renders fast until changes stop for a moment, then once at full quality. */
static void
begin_transient (SmVolumeView *self)
{
  self->transient = TRUE;
  g_clear_handle_id (&self->settle_id, g_source_remove);
  self->settle_id = g_timeout_add (SETTLE_MS, settle, self);
}

/* A change that needs a new march: a lone one is drawn at full quality at
 * once; from the second of a quick succession on (a slider being dragged,
 * a brush stroke) frames are fast until the burst ends. */
void
sm_volume_view_note_change (SmVolumeView *self)
{
  const gint64 now = g_get_monotonic_time ();
  /* Settings that follow a new volume (auto-contrast, layers) are not a drag:
   * the first pictures of a volume (and screenshots) are full quality. */
  const gboolean settling_in = now - self->uploaded_us < SETTLING_IN_US;
  if (self->last_change_us && now - self->last_change_us < BURST_US && !settling_in) begin_transient (self);
  self->last_change_us = now;
}

static gboolean
scrolled (GtkEventControllerScroll *controller, double dx, double dy, SmVolumeView *self)
{
  sm_volume_camera_zoom (&self->camera, pow (1.15, -dy));
  begin_transient (self);
  sm_volume_view_invalidate (self);
  return TRUE;
}

/* Keyboard, when the view has focus: Home resets the camera, +/- zoom, the
 * arrows orbit (so the view is usable without a mouse). */
static gboolean
key_pressed (GtkEventControllerKey *controller, guint keyval, guint keycode, GdkModifierType state,
             SmVolumeView *self)
{
  const double orbit_px = 15.0; /* about 9 degrees */
  switch (keyval) {
  case GDK_KEY_Home: case GDK_KEY_KP_Home:
    sm_volume_view_reset_camera (self);
    return TRUE;
  case GDK_KEY_plus: case GDK_KEY_equal: case GDK_KEY_KP_Add:
    sm_volume_camera_zoom (&self->camera, 1.25);
    break;
  case GDK_KEY_minus: case GDK_KEY_KP_Subtract:
    sm_volume_camera_zoom (&self->camera, 0.8);
    break;
  case GDK_KEY_Left: sm_volume_camera_orbit (&self->camera, -orbit_px, 0); break;
  case GDK_KEY_Right: sm_volume_camera_orbit (&self->camera, orbit_px, 0); break;
  case GDK_KEY_Up: sm_volume_camera_orbit (&self->camera, 0, -orbit_px); break;
  case GDK_KEY_Down: sm_volume_camera_orbit (&self->camera, 0, orbit_px); break;
  default:
    return FALSE;
  }
  sm_volume_view_invalidate (self);
  return TRUE;
}


void
sm_volume_view_orbit (SmVolumeView *self, double dx, double dy)
{
  g_return_if_fail (SM_IS_VOLUME_VIEW (self));
  sm_volume_camera_orbit (&self->camera, dx, dy);
  sm_volume_view_invalidate (self);
}

void
sm_volume_view_set_interacting (SmVolumeView *self, gboolean interacting)
{
  g_return_if_fail (SM_IS_VOLUME_VIEW (self));
  set_interacting (self, interacting);
}

gboolean
sm_volume_view_pick (SmVolumeView *self, double x, double y, double voxel_zyx[3])
{
  g_return_val_if_fail (SM_IS_VOLUME_VIEW (self), FALSE);
  return pick (self, x, y, voxel_zyx);
}

void
sm_volume_view_init_input (SmVolumeView *self)
{
  GtkGesture *drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), 0);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (drag_end), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));

  GtkEventController *scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  g_signal_connect (scroll, "scroll", G_CALLBACK (scrolled), self);
  gtk_widget_add_controller (GTK_WIDGET (self), scroll);

  GtkGesture *click = gtk_gesture_click_new ();
  g_signal_connect (click, "pressed", G_CALLBACK (clicked), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));

  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  GtkEventController *keys = gtk_event_controller_key_new ();
  g_signal_connect (keys, "key-pressed", G_CALLBACK (key_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
}
