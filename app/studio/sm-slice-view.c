/* SmSliceView: an orthogonal slice view (see sm-slice-view.h): the object,
 * its camera and input. GL drawing is in sm-slice-view-gl.c. */
#include "sm-slice-view-private.h"

#include <math.h>

#define DRAG_THRESHOLD 3.0

G_DEFINE_FINAL_TYPE (SmSliceView, sm_slice_view, GTK_TYPE_GL_AREA)

enum { PROP_0, PROP_AXIS, PROP_STATE, PROP_TITLE, N_PROPS };
static GParamSpec *props[N_PROPS];

enum { HOVER, FRAME, N_SIGNALS };
static guint signals[N_SIGNALS];

/* --- geometry -------------------------------------------------------------- */

void
sm_slice_view_volume_shape (SmSliceView *self, gint64 shape[3], double voxel[3])
{
  SmLayer *image = self->state ? sm_view_state_get_image (self->state) : NULL;
  const SmVolume *v = image ? sm_layer_get_volume (image) : NULL;
  shape[0] = v ? v->nz : 1;
  shape[1] = v ? v->ny : 1;
  shape[2] = v ? v->nx : 1;
  for (int i = 0; i < 3; i++)
    {
      double s = v ? v->voxel_size[i] : 1;
      voxel[i] = (s > 0 && isfinite (s)) ? s : 1;
    }
  voxel[0] *= sm_slice_view_z_stretch (self);
}

/* With no voxel size to go by, a thin stack (10 sections of 1024 x 1024)
 * would be a line in XZ and YZ: stretch z there until the plane is at least
 * 1/MIN_PLANE_RATIO as tall as it is wide, and say so in the title. A known
 * voxel size is always drawn true to scale. */
#define MIN_PLANE_RATIO 6.0

double
sm_slice_view_z_stretch (SmSliceView *self)
{
  SmLayer *image = self->state ? sm_view_state_get_image (self->state) : NULL;
  if (!image || self->axis == SM_AXIS_XY || sm_layer_voxel_size_known (image))
    return 1;
  const SmVolume *v = sm_layer_get_volume (image);
  double across = (double) (self->axis == SM_AXIS_XZ ? v->nx : v->ny);
  double stretch = across / MIN_PLANE_RATIO / (double) MAX (v->nz, 1);
  return stretch > 1 ? stretch : 1;
}

/* World extent of the slice plane (h, v). */
void
sm_slice_view_plane_extent (SmSliceView *self, double extent[2], double voxel_hv[2], gint64 n_hv[2])
{
  gint64 shape[3];
  double voxel[3];
  sm_slice_view_volume_shape (self, shape, voxel);
  int dh = sm_axis_dim_h (self->axis), dv = sm_axis_dim_v (self->axis);
  n_hv[0] = shape[dh];
  n_hv[1] = shape[dv];
  voxel_hv[0] = voxel[dh];
  voxel_hv[1] = voxel[dv];
  extent[0] = (double) shape[dh] * voxel[dh];
  extent[1] = (double) shape[dv] * voxel[dv];
}

static void
widget_to_world (SmSliceView *self, double x, double y, double world[2])
{
  double w = gtk_widget_get_width (GTK_WIDGET (self));
  double h = gtk_widget_get_height (GTK_WIDGET (self));
  world[0] = (x - w / 2) / self->zoom + self->center[0];
  world[1] = (y - h / 2) / self->zoom + self->center[1];
}

gint64
sm_slice_view_cursor_index (SmSliceView *self, int dim)
{
  double c[3];
  sm_view_state_get_cursor (self->state, &c[0], &c[1], &c[2]);
  return (gint64) floor (c[dim] + 0.5);
}

void
sm_slice_view_fit (SmSliceView *self)
{
  double extent[2], voxel[2];
  gint64 n[2];
  sm_slice_view_plane_extent (self, extent, voxel, n);
  double w = MAX (gtk_widget_get_width (GTK_WIDGET (self)), 1);
  double h = MAX (gtk_widget_get_height (GTK_WIDGET (self)), 1);
  self->zoom = 0.96 * MIN (w / extent[0], h / extent[1]);
  self->center[0] = extent[0] / 2;
  self->center[1] = extent[1] / 2;
  self->auto_fit = TRUE;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

void
sm_slice_view_zoom_at (SmSliceView *self, double factor, double x, double y)
{
  double before[2];
  widget_to_world (self, x, y, before);
  self->zoom = CLAMP (self->zoom * factor, 1e-6, 1e6);
  double after[2];
  widget_to_world (self, x, y, after);
  /* Keep the world point under (x, y) where it was. */
  self->center[0] += before[0] - after[0];
  self->center[1] += before[1] - after[1];
  self->auto_fit = FALSE;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

void
sm_slice_view_step_slice (SmSliceView *self, int delta)
{
  if (!self->state || !sm_view_state_get_image (self->state))
    return;
  double c[3];
  sm_view_state_get_cursor (self->state, &c[0], &c[1], &c[2]);
  int dw = sm_axis_dim_w (self->axis);
  c[dw] = floor (c[dw] + 0.5) + delta;
  sm_view_state_set_cursor (self->state, c[0], c[1], c[2]);
}

/* The voxel under widget point (x, y); FALSE outside the volume. */
static gboolean
voxel_at (SmSliceView *self, double x, double y, double voxel_out[3], gboolean clamp)
{
  double world[2], extent[2], voxel[2];
  gint64 n[2];
  widget_to_world (self, x, y, world);
  sm_slice_view_plane_extent (self, extent, voxel, n);
  double ih = floor (world[0] / voxel[0]), iv = floor (world[1] / voxel[1]);
  gboolean inside = ih >= 0 && iv >= 0 && ih < (double) n[0] && iv < (double) n[1];
  if (!inside && !clamp)
    return FALSE;
  double c[3];
  sm_view_state_get_cursor (self->state, &c[0], &c[1], &c[2]);
  c[sm_axis_dim_h (self->axis)] = CLAMP (ih, 0, (double) n[0] - 1);
  c[sm_axis_dim_v (self->axis)] = CLAMP (iv, 0, (double) n[1] - 1);
  c[sm_axis_dim_w (self->axis)] = floor (c[sm_axis_dim_w (self->axis)] + 0.5);
  voxel_out[0] = c[0];
  voxel_out[1] = c[1];
  voxel_out[2] = c[2];
  return inside;
}

/* --- title ----------------------------------------------------------------- */

static void
update_title (SmSliceView *self)
{
  g_autofree char *title = NULL;
  if (self->gl_error)
    title = g_strdup_printf ("%s — %s", sm_axis_name (self->axis), self->gl_error);
  else if (self->state && sm_view_state_get_image (self->state))
    {
      gint64 shape[3];
      double voxel[3];
      sm_slice_view_volume_shape (self, shape, voxel);
      int dw = sm_axis_dim_w (self->axis);
      double stretch = sm_slice_view_z_stretch (self);
      g_autofree char *note = stretch > 1 ? g_strdup_printf ("  (z ×%.1f: no voxel size)", stretch)
                                          : g_strdup ("");
      title = g_strdup_printf ("%s  %s = %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "%s",
                               sm_axis_name (self->axis), sm_axis_slice_letter (self->axis),
                               sm_slice_view_cursor_index (self, dw), shape[dw], note);
    }
  else
    title = g_strdup (sm_axis_name (self->axis));
  if (g_strcmp0 (title, self->title) == 0)
    return;
  g_free (self->title);
  self->title = g_steal_pointer (&title);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_TITLE]);
}

void
sm_slice_view_set_gl_error (SmSliceView *self, const char *message)
{
  g_free (self->gl_error);
  self->gl_error = g_strdup (message);
  g_warning ("%s view: %s", sm_axis_name (self->axis), message);
  update_title (self);
}

gboolean
sm_slice_view_voxel_at (SmSliceView *self, double x, double y, double voxel_out[3])
{
  return self->state && sm_view_state_get_image (self->state) && voxel_at (self, x, y, voxel_out, FALSE);
}

/* --- input ----------------------------------------------------------------- */

static void
emit_hover (SmSliceView *self)
{
  double c[3] = { 0, 0, 0 };
  gboolean inside = self->pointer_inside && self->state && sm_view_state_get_image (self->state) &&
                    voxel_at (self, self->pointer[0], self->pointer[1], c, FALSE);
  g_signal_emit (self, signals[HOVER], 0, c[0], c[1], c[2], inside);
}

static void
on_motion (GtkEventControllerMotion *controller, double x, double y, SmSliceView *self)
{
  self->pointer[0] = x;
  self->pointer[1] = y;
  self->pointer_inside = TRUE;
  emit_hover (self);
  if (self->state && sm_view_state_get_brush_radius (self->state) > 0)
    gtk_gl_area_queue_render (GTK_GL_AREA (self)); /* the brush outline follows */
}

static void
on_leave (GtkEventControllerMotion *controller, SmSliceView *self)
{
  self->pointer_inside = FALSE;
  emit_hover (self);
  if (self->state && sm_view_state_get_brush_radius (self->state) > 0)
    gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

static void
on_drag_begin (GtkGestureDrag *gesture, double x, double y, SmSliceView *self)
{
  self->drag_center[0] = self->center[0];
  self->drag_center[1] = self->center[1];
  self->drag_moved = FALSE;
  gtk_widget_grab_focus (GTK_WIDGET (self));
}

static void
on_drag_update (GtkGestureDrag *gesture, double dx, double dy, SmSliceView *self)
{
  if (!self->drag_moved && hypot (dx, dy) < DRAG_THRESHOLD)
    return;
  self->drag_moved = TRUE;
  self->center[0] = self->drag_center[0] - dx / self->zoom;
  self->center[1] = self->drag_center[1] - dy / self->zoom;
  self->auto_fit = FALSE;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

static void
on_drag_end (GtkGestureDrag *gesture, double dx, double dy, SmSliceView *self)
{
  if (self->drag_moved || !self->state || !sm_view_state_get_image (self->state))
    return;
  /* A click: move the crosshair; with Ctrl also select the segment there. */
  double x, y, c[3];
  gtk_gesture_drag_get_start_point (gesture, &x, &y);
  guint button = gtk_gesture_single_get_current_button (GTK_GESTURE_SINGLE (gesture));
  if (button != GDK_BUTTON_PRIMARY || !voxel_at (self, x, y, c, FALSE))
    return;
  sm_view_state_set_cursor (self->state, c[0], c[1], c[2]);
  GdkModifierType mods = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (gesture));
  SmLayer *labels = sm_view_state_get_label_layer (self->state);
  if ((mods & GDK_CONTROL_MASK) && labels)
    sm_view_state_set_selected_id (self->state, (guint32) sm_layer_value_at (
                                                    labels, (gint64) c[0], (gint64) c[1], (gint64) c[2]));
}

static gboolean
on_scroll (GtkEventControllerScroll *controller, double dx, double dy, SmSliceView *self)
{
  GdkModifierType mods = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (controller));
  if (mods & GDK_CONTROL_MASK)
    {
      double x = self->pointer_inside ? self->pointer[0] : gtk_widget_get_width (GTK_WIDGET (self)) / 2.0;
      double y = self->pointer_inside ? self->pointer[1] : gtk_widget_get_height (GTK_WIDGET (self)) / 2.0;
      sm_slice_view_zoom_at (self, pow (1.15, -dy), x, y);
      return TRUE;
    }
  /* Smooth scrolling (touchpads) arrives in fractions: one slice per whole step. */
  self->scroll_accumulated += dy;
  int steps = (int) trunc (self->scroll_accumulated);
  if (steps != 0)
    {
      self->scroll_accumulated -= steps;
      sm_slice_view_step_slice (self, steps);
      emit_hover (self);
    }
  return TRUE;
}

static void
on_zoom_begin (GtkGesture *gesture, GdkEventSequence *sequence, SmSliceView *self)
{
  self->gesture_zoom_last = 1;
}

static void
on_zoom_scale_changed (GtkGestureZoom *gesture, double scale, SmSliceView *self)
{
  double x, y;
  if (!gtk_gesture_get_bounding_box_center (GTK_GESTURE (gesture), &x, &y))
    return;
  if (self->gesture_zoom_last > 0 && scale > 0)
    sm_slice_view_zoom_at (self, scale / self->gesture_zoom_last, x, y);
  self->gesture_zoom_last = scale;
}

static gboolean
on_key_pressed (GtkEventControllerKey *controller, guint keyval, guint keycode,
                GdkModifierType state, SmSliceView *self)
{
  double cx = gtk_widget_get_width (GTK_WIDGET (self)) / 2.0;
  double cy = gtk_widget_get_height (GTK_WIDGET (self)) / 2.0;
  if (self->pointer_inside)
    {
      cx = self->pointer[0];
      cy = self->pointer[1];
    }
  switch (keyval)
    {
    case GDK_KEY_Page_Up: case GDK_KEY_KP_Page_Up: case GDK_KEY_Up:
      sm_slice_view_step_slice (self, -1);
      return TRUE;
    case GDK_KEY_Page_Down: case GDK_KEY_KP_Page_Down: case GDK_KEY_Down:
      sm_slice_view_step_slice (self, 1);
      return TRUE;
    case GDK_KEY_Home: case GDK_KEY_KP_Home:
      sm_slice_view_fit (self);
      return TRUE;
    case GDK_KEY_plus: case GDK_KEY_equal: case GDK_KEY_KP_Add:
      sm_slice_view_zoom_at (self, 1.25, cx, cy);
      return TRUE;
    case GDK_KEY_minus: case GDK_KEY_KP_Subtract:
      sm_slice_view_zoom_at (self, 1 / 1.25, cx, cy);
      return TRUE;
    default:
      return FALSE;
    }
}

static void
sm_slice_view_realize (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (sm_slice_view_parent_class)->realize (widget);
  sm_slice_view_gl_realize (SM_SLICE_VIEW (widget));
}

static void
sm_slice_view_unrealize (GtkWidget *widget)
{
  sm_slice_view_gl_unrealize (SM_SLICE_VIEW (widget));
  GTK_WIDGET_CLASS (sm_slice_view_parent_class)->unrealize (widget);
}

static void
sm_slice_view_resize (GtkGLArea *area, int width, int height)
{
  SmSliceView *self = SM_SLICE_VIEW (area);
  if (self->auto_fit)
    sm_slice_view_fit (self);
}

void
sm_slice_view_frame_drawn (SmSliceView *self)
{
  g_signal_emit (self, signals[FRAME], 0);
}

/* --- GObject --------------------------------------------------------------- */

static void
on_state_changed (SmViewState *state, SmSliceView *self)
{
  update_title (self);
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

static void
on_image_changed (SmViewState *state, GParamSpec *pspec, SmSliceView *self)
{
  sm_slice_view_gl_drop_image (self);
  sm_slice_view_fit (self);
}

void
sm_slice_view_set_state (SmSliceView *self, SmViewState *state)
{
  if (self->state == state)
    return;
  if (self->state)
    g_signal_handlers_disconnect_by_data (self->state, self);
  g_set_object (&self->state, state);
  if (state)
    {
      g_signal_connect (state, "changed", G_CALLBACK (on_state_changed), self);
      g_signal_connect (state, "notify::image", G_CALLBACK (on_image_changed), self);
      g_signal_connect_swapped (state, "notify::geometry", G_CALLBACK (sm_slice_view_fit), self);
    }
  update_title (self);
  sm_slice_view_fit (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE]);
}

static void
sm_slice_view_dispose (GObject *object)
{
  SmSliceView *self = SM_SLICE_VIEW (object);
  sm_slice_view_cancel_fetch (self);
  if (self->state)
    g_signal_handlers_disconnect_by_data (self->state, self);
  g_clear_object (&self->state);
  g_clear_pointer (&self->fetched, sm_slice_view_free_volume);
  G_OBJECT_CLASS (sm_slice_view_parent_class)->dispose (object);
}

static void
sm_slice_view_finalize (GObject *object)
{
  SmSliceView *self = SM_SLICE_VIEW (object);
  g_free (self->title);
  g_free (self->gl_error);
  G_OBJECT_CLASS (sm_slice_view_parent_class)->finalize (object);
}

static void
sm_slice_view_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  SmSliceView *self = SM_SLICE_VIEW (object);
  switch (id)
    {
    case PROP_AXIS: g_value_set_enum (value, self->axis); break;
    case PROP_STATE: g_value_set_object (value, self->state); break;
    case PROP_TITLE: g_value_set_string (value, sm_slice_view_get_title (self)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
sm_slice_view_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  SmSliceView *self = SM_SLICE_VIEW (object);
  switch (id)
    {
    case PROP_AXIS:
      self->axis = g_value_get_enum (value);
      update_title (self);
      break;
    case PROP_STATE: sm_slice_view_set_state (self, g_value_get_object (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
sm_slice_view_class_init (SmSliceViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkGLAreaClass *area_class = GTK_GL_AREA_CLASS (klass);
  object_class->dispose = sm_slice_view_dispose;
  object_class->finalize = sm_slice_view_finalize;
  object_class->get_property = sm_slice_view_get_property;
  object_class->set_property = sm_slice_view_set_property;
  widget_class->realize = sm_slice_view_realize;
  widget_class->unrealize = sm_slice_view_unrealize;
  area_class->render = sm_slice_view_gl_render;
  area_class->resize = sm_slice_view_resize;
  area_class->create_context = sm_gl_area_create_any_context;

  props[PROP_AXIS] = g_param_spec_enum ("axis", NULL, NULL, SM_TYPE_AXIS, SM_AXIS_XY,
                                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                        G_PARAM_STATIC_STRINGS);
  props[PROP_STATE] = g_param_spec_object ("state", NULL, NULL, SM_TYPE_VIEW_STATE,
                                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                           G_PARAM_STATIC_STRINGS);
  props[PROP_TITLE] = g_param_spec_string ("title", NULL, NULL, NULL,
                                           G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /* The voxel (z, y, x) under the pointer; inside is FALSE when it left the volume. */
  signals[HOVER] = g_signal_new ("hover", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                 NULL, NULL, G_TYPE_NONE, 4, G_TYPE_DOUBLE, G_TYPE_DOUBLE,
                                 G_TYPE_DOUBLE, G_TYPE_BOOLEAN);
  /* Emitted after each frame with the image drawn. */
  signals[FRAME] = g_signal_new ("frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                 NULL, NULL, G_TYPE_NONE, 0);
  gtk_widget_class_set_css_name (widget_class, "sliceview");
}

static void
sm_slice_view_init (SmSliceView *self)
{
  self->zoom = 1;
  self->auto_fit = TRUE;
  gtk_gl_area_set_auto_render (GTK_GL_AREA (self), FALSE);
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_focus_on_click (GTK_WIDGET (self), TRUE);
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_size_request (GTK_WIDGET (self), 120, 80);

  GtkEventController *motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);

  GtkGesture *drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), 0);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (on_drag_end), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));

  GtkEventController *scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  g_signal_connect (scroll, "scroll", G_CALLBACK (on_scroll), self);
  gtk_widget_add_controller (GTK_WIDGET (self), scroll);

  GtkGesture *zoom = gtk_gesture_zoom_new ();
  g_signal_connect (zoom, "begin", G_CALLBACK (on_zoom_begin), self);
  g_signal_connect (zoom, "scale-changed", G_CALLBACK (on_zoom_scale_changed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (zoom));

  GtkEventController *keys = gtk_event_controller_key_new ();
  g_signal_connect (keys, "key-pressed", G_CALLBACK (on_key_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
}

GtkWidget *
sm_slice_view_new (SmAxis axis, SmViewState *state)
{
  return g_object_new (SM_TYPE_SLICE_VIEW, "axis", axis, "state", state, NULL);
}

SmAxis sm_slice_view_get_axis (SmSliceView *self) { return self->axis; }
SmViewState *sm_slice_view_get_state (SmSliceView *self) { return self->state; }
guint sm_slice_view_get_frame_count (SmSliceView *self) { return self->frames; }

const char *
sm_slice_view_get_title (SmSliceView *self)
{
  if (!self->title)
    update_title (self);
  return self->title;
}

gboolean
sm_slice_view_is_settled (SmSliceView *self)
{
  if (self->gl_error)
    return TRUE;
  SmLayer *image = self->state ? sm_view_state_get_image (self->state) : NULL;
  if (!image || !gtk_widget_get_realized (GTK_WIDGET (self)))
    return FALSE;
  guint generation = sm_view_state_get_image_generation (self->state);
  if (self->frames == 0 || self->drawn_generation != generation)
    return FALSE;
  if (!sm_layer_is_downsampled (image))
    return TRUE;
  return self->slice_texture.texture && self->slice_texture_generation == generation &&
         self->slice_texture_index == sm_slice_view_cursor_index (self, sm_axis_dim_w (self->axis));
}

void
sm_slice_view_get_plane_rect (SmSliceView *self, graphene_rect_t *rect)
{
  double extent[2], voxel[2];
  gint64 n[2];
  sm_slice_view_plane_extent (self, extent, voxel, n);
  double w = gtk_widget_get_width (GTK_WIDGET (self));
  double h = gtk_widget_get_height (GTK_WIDGET (self));
  double x0 = (0 - self->center[0]) * self->zoom + w / 2;
  double y0 = (0 - self->center[1]) * self->zoom + h / 2;
  graphene_rect_init (rect, (float) x0, (float) y0, (float) (extent[0] * self->zoom),
                      (float) (extent[1] * self->zoom));
}

void
sm_slice_view_set_measure (SmSliceView *self, gboolean measure)
{
  self->measure = measure;
  self->render_us = 0;
}

gint64 sm_slice_view_get_render_time (SmSliceView *self) { return self->render_us; }
