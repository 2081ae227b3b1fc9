/* SmWindow: the main window (see sm-window.h). */
#include "sm-window.h"

#include <math.h>

#include "sm-loader.h"
#include "sm-open.h"
#include "sm-proofread-controller.h"
#include "sm-proofread-panel.h"
#include "sm-screenshot.h"
#include "sm-volume-view-private.h"
#include "sm-slice-view.h"
#include "sm-train-panel.h"
#include "sm-finetune-panel.h"
#include "sm-view-panel.h"
#include "sm-volume-view.h"

#define RECENT_MAX 8
#define SCREENSHOT_SETTLE_TICKS 4
#define SCREENSHOT_TIMEOUT_US (90 * G_USEC_PER_SEC)

typedef struct {
  char *path;
  SmLayerKind kind;
} QueuedOverlay;

/* What a load callback needs: the window (a reference) and what was asked. */
typedef struct {
  SmWindow *self;
  char *path;
  SmLayerKind kind;
} LoadRequest;

struct _SmWindow {
  GtkApplicationWindow parent_instance;
  SmViewState *state;

  GtkMenuButton *recent_button;
  GtkLabel *file_label;
  GtkStack *mode_stack;
  GtkWidget *xy_frame, *xz_frame, *yz_frame, *volume_frame;
  SmSliceView *xy_view, *xz_view, *yz_view;
  SmVolumeView *volume_view;
  GtkLabel *xy_title, *xz_title, *yz_title;
  SmViewPanel *view_panel;
  SmTrainPanel *train_panel;
  SmFinetunePanel *finetune_panel;
  SmProofreadPanel *proofread_panel;
  SmProofreadController *proofread;
  GtkLabel *info_label, *cursor_label, *progress_label;
  GtkWidget *progress_box;
  GtkProgressBar *progress_bar;

  GCancellable *load_cancellable;
  int loads_running;
  guint pulse_source; /* pulses the progress bar for work without a fraction */
  GPtrArray *queued_overlays; /* QueuedOverlay*, loaded once the image is in */
  char *image_path;
  GMenu *recent_menu;
  char *layout;
  double voxel_override[3]; /* applied to the next image; 0 = none */

  /* What the 3D view borrows: kept alive here until it is given another. */
  SmLayer *volume_view_image;
  guint volume_handover;      /* idle/timeout source that gives the 3D view a new image */
  gboolean handover_pending;  /* a new image waits for the XY view's first frame */
  SmLayer *volume_view_labels;
  guint32 volume_view_selected;

  /* Test and benchmark hooks. */
  char *screenshot_path;
  int bench_scroll;
  gboolean timing;
  gboolean load_failed;
  gboolean disposed; /* destroyed or disposed: late load callbacks must not touch widgets */
  guint hook_tick;
  int settled_ticks;
  gint64 hook_start_us;
  gint64 bench_start_us;
  guint bench_start_frames;
  int bench_steps;
};

G_DEFINE_FINAL_TYPE (SmWindow, sm_window, GTK_TYPE_APPLICATION_WINDOW)

static void start_hooks_if_ready (SmWindow *self);
static void load_next_overlay (SmWindow *self);

static void
queued_overlay_free (QueuedOverlay *q)
{
  g_free (q->path);
  g_free (q);
}

static LoadRequest *
load_request_new (SmWindow *self, const char *path, SmLayerKind kind)
{
  LoadRequest *r = g_new0 (LoadRequest, 1);
  r->self = g_object_ref (self);
  r->path = g_strdup (path);
  r->kind = kind;
  return r;
}

static void
load_request_free (LoadRequest *r)
{
  g_object_unref (r->self);
  g_free (r->path);
  g_free (r);
}

static SmApplication *
window_app (SmWindow *self)
{
  return SM_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
}

/* gtk_window_destroy() unrealizes the window before the last reference (a
 * running load holds one) lets it go: that is when loading stops. */
static void
sm_window_unrealize (GtkWidget *widget)
{
  SmWindow *self = SM_WINDOW (widget);
  self->disposed = TRUE;
  g_clear_handle_id (&self->pulse_source, g_source_remove);
  g_clear_handle_id (&self->volume_handover, g_source_remove);
  if (self->load_cancellable)
    g_cancellable_cancel (self->load_cancellable);
  GTK_WIDGET_CLASS (sm_window_parent_class)->unrealize (widget);
}

/* --- status bar ------------------------------------------------------------ */

static char *
format_number (double v)
{
  if (v == floor (v) && fabs (v) < 1e15)
    return g_strdup_printf ("%.0f", v);
  return g_strdup_printf ("%.4g", v);
}

static void
update_info (SmWindow *self)
{
  SmLayer *image = sm_view_state_get_image (self->state);
  if (!image)
    {
      gtk_label_set_text (self->info_label, "");
      return;
    }
  const SmVolume *v = sm_layer_get_volume (image);
  g_autofree char *vz = format_number (v->voxel_size[0]);
  g_autofree char *vy = format_number (v->voxel_size[1]);
  g_autofree char *vx = format_number (v->voxel_size[2]);
  g_autofree char *text = g_strdup_printf (
      "%" G_GINT64_FORMAT " × %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT " %s · voxel %s × %s × %s%s%s%s",
      v->nz, v->ny, v->nx, sm_dtype_name (v->dtype), vz, vy, vx, v->unit[0] ? " " : "", v->unit,
      sm_layer_is_downsampled (image) ? " · 3D texture downsampled" : "");
  gtk_label_set_text (self->info_label, text);
}

static void
show_voxel (SmWindow *self, double z, double y, double x, gboolean hovered)
{
  SmLayer *image = sm_view_state_get_image (self->state);
  if (!image)
    {
      gtk_label_set_text (self->cursor_label, "");
      return;
    }
  gint64 iz = (gint64) z, iy = (gint64) y, ix = (gint64) x;
  g_autofree char *value = format_number (sm_layer_value_at (image, iz, iy, ix));
  GString *text = g_string_new (NULL);
  g_string_append_printf (text, "%s(z %" G_GINT64_FORMAT ", y %" G_GINT64_FORMAT ", x %" G_GINT64_FORMAT ") = %s",
                          hovered ? "" : "crosshair ", iz, iy, ix, value);
  GListModel *layers = sm_view_state_get_layers (self->state);
  for (guint i = 0; i < g_list_model_get_n_items (layers); i++)
    {
      g_autoptr (SmLayer) layer = g_list_model_get_item (layers, i);
      if (!sm_layer_get_visible (layer))
        continue;
      g_autofree char *v = format_number (sm_layer_value_at (layer, iz, iy, ix));
      g_string_append_printf (text, " · %s %s",
                              sm_layer_get_kind (layer) == SM_LAYER_LABELS ? "label" : sm_layer_get_name (layer), v);
    }
  guint32 selected = sm_view_state_get_selected_id (self->state);
  if (selected)
    g_string_append_printf (text, " · selected %u", selected);
  gtk_label_set_text (self->cursor_label, text->str);
  g_string_free (text, TRUE);
}

static void
show_crosshair_voxel (SmWindow *self)
{
  double z, y, x;
  sm_view_state_get_cursor (self->state, &z, &y, &x);
  show_voxel (self, z, y, x, FALSE);
}

static void
on_view_hover (SmSliceView *view, double z, double y, double x, gboolean inside, SmWindow *self)
{
  if (inside)
    show_voxel (self, z, y, x, TRUE);
  else
    show_crosshair_voxel (self);
}

static void
set_progress (SmWindow *self, const char *what, double fraction)
{
  gtk_widget_set_visible (self->progress_box, what != NULL);
  if (what)
    gtk_label_set_text (self->progress_label, what);
  if (fraction < 0)
    gtk_progress_bar_pulse (self->progress_bar);
  else
    gtk_progress_bar_set_fraction (self->progress_bar, fraction);
  GAction *cancel = g_action_map_lookup_action (G_ACTION_MAP (self), "cancel-load");
  g_simple_action_set_enabled (G_SIMPLE_ACTION (cancel), what != NULL);
}

static void
on_load_progress (double fraction, gpointer user_data)
{
  SmWindow *self = user_data;
  if (!self->disposed)
    gtk_progress_bar_set_fraction (self->progress_bar, fraction);
}

/* --- the 3D view ----------------------------------------------------------- */

static void sync_volume_view (SmWindow *self);

static gboolean
hand_over_volume (gpointer user_data)
{
  SmWindow *self = user_data;
  self->volume_handover = 0;
  self->handover_pending = FALSE;
  SmLayer *image = sm_view_state_get_image (self->state);
  /* Hand over the new volume before dropping the old: the view borrows it. */
  sm_volume_view_set_volume (self->volume_view, image ? sm_layer_get_volume (image) : NULL);
  g_set_object (&self->volume_view_image, image);
  sync_volume_view (self);
  return G_SOURCE_REMOVE;
}

static void
sync_volume_view (SmWindow *self)
{
  SmLayer *image = sm_view_state_get_image (self->state);
  if (image != self->volume_view_image)
    {
      /* Preparing the 3D texture takes a while on the main thread: the slices
       * come first, the 3D view gets the image once XY has drawn it. */
      if (!self->handover_pending)
        {
          self->handover_pending = TRUE;
          g_clear_handle_id (&self->volume_handover, g_source_remove);
          self->volume_handover = g_timeout_add (400, hand_over_volume, self); /* if XY cannot draw */
        }
      return; /* labels and cursor follow with the image */
    }
  SmLayer *labels = sm_view_state_get_label_layer (self->state);
  if (labels != self->volume_view_labels)
    {
      sm_volume_view_set_labels (self->volume_view, labels ? sm_layer_get_volume (labels) : NULL);
      g_set_object (&self->volume_view_labels, labels);
    }
  /* Every selected segment (proofreading selects several); the view ignores an unchanged list. */
  guint32 selected[SM_VIEW_STATE_MAX_SELECTED];
  guint n_selected = sm_view_state_get_selected_ids (self->state, selected);
  sm_volume_view_set_selected_segments (self->volume_view, selected, n_selected);
  self->volume_view_selected = n_selected ? selected[0] : 0;
  double lo, hi, gamma, z, y, x;
  gboolean invert;
  sm_view_state_get_contrast (self->state, &lo, &hi, &gamma, &invert);
  sm_volume_view_set_contrast (self->volume_view, lo, hi, gamma, invert);
  sm_view_state_get_cursor (self->state, &z, &y, &x);
  sm_volume_view_set_cursor (self->volume_view, z, y, x);
}

static void
on_geometry_changed (SmViewState *state, GParamSpec *pspec, SmWindow *self)
{
  /* The 3D view plans its box from the voxel size when it is given a volume. */
  if (self->volume_view_image && !self->handover_pending)
    sm_volume_view_set_volume (self->volume_view, sm_layer_get_volume (self->volume_view_image));
  update_info (self);
}

void
sm_window_set_voxel_size_override (SmWindow *self, const double voxel_size[3])
{
  for (int i = 0; i < 3; i++)
    self->voxel_override[i] = voxel_size[i];
}

/* After the XY view's frame, at idle priority: the frame is on screen first. */
static void
on_xy_frame (SmSliceView *view, SmWindow *self)
{
  if (!self->handover_pending || self->disposed)
    return;
  g_clear_handle_id (&self->volume_handover, g_source_remove);
  self->volume_handover = g_idle_add (hand_over_volume, self);
}

static void
on_state_changed (SmViewState *state, SmWindow *self)
{
  sync_volume_view (self);
  show_crosshair_voxel (self);
}

/* --- loading --------------------------------------------------------------- */

static void
report_error (SmWindow *self, const char *path, const char *reason)
{
  if (self->screenshot_path || self->bench_scroll)
    {
      /* Headless runs: one line on stderr, non-zero exit. */
      g_printerr ("semmae-studio: %s\n", reason);
      self->load_failed = TRUE;
      sm_application_quit_with_status (window_app (self), 1);
      return;
    }
  g_autofree char *name = g_path_get_basename (path);
  GtkWidget *dialog = gtk_message_dialog_new (GTK_WINDOW (self),
                                              GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                              GTK_MESSAGE_ERROR, GTK_BUTTONS_CLOSE,
                                              "Could not open “%s”", name);
  gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (dialog), "%s", reason);
  g_signal_connect (dialog, "response", G_CALLBACK (gtk_window_destroy), NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
begin_load (SmWindow *self, const char *what)
{
  if (!self->load_cancellable)
    self->load_cancellable = g_cancellable_new ();
  self->loads_running++;
  set_progress (self, what, 0);
}

static void
end_load (SmWindow *self)
{
  self->loads_running--;
  g_clear_handle_id (&self->pulse_source, g_source_remove);
  if (self->loads_running == 0)
    {
      set_progress (self, NULL, 0);
      g_clear_object (&self->load_cancellable);
    }
}

static void
add_recent (SmWindow *self, const char *path)
{
  if (self->screenshot_path || self->bench_scroll || self->timing)
    return; /* test runs leave the user's recent list alone */
  sm_recent_add (path);
}

static void
set_image (SmWindow *self, SmLayer *image, const char *path)
{
  if (self->voxel_override[0] > 0)
    {
      sm_layer_set_voxel_size (image, self->voxel_override);
      self->voxel_override[0] = 0;
    }
  sm_view_state_set_image (self->state, image);
  g_free (self->image_path);
  self->image_path = g_strdup (path);
  g_autofree char *name = path ? g_path_get_basename (path) : g_strdup ("phantom (built in)");
  gtk_label_set_text (self->file_label, name);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->file_label), path);
  g_autofree char *title = g_strdup_printf ("%s — semmae", name);
  gtk_window_set_title (GTK_WINDOW (self), title);
  update_info (self);
  show_crosshair_voxel (self);
  if (path)
    add_recent (self, path);
}

static void
image_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LoadRequest *request = user_data;
  SmWindow *self = request->self;
  const char *path = request->path;
  g_autoptr (GError) error = NULL;
  g_autoptr (SmLayer) layer = sm_load_layer_finish (result, &error);
  if (self->disposed)
    {
      load_request_free (request);
      return;
    }
  end_load (self);
  if (!layer)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        gtk_label_set_text (self->cursor_label, "Opening cancelled");
      else
        report_error (self, path, error->message);
    }
  else
    set_image (self, layer, path);
  load_next_overlay (self);
  start_hooks_if_ready (self);
  load_request_free (request);
}

void
sm_window_open_path (SmWindow *self, const char *path)
{
  if (self->load_cancellable)
    g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->load_cancellable);
  g_autofree char *name = g_path_get_basename (path);
  g_autofree char *what = g_strdup_printf ("Reading %s", name);
  begin_load (self, what);
  sm_load_layer_async (path, SM_LAYER_IMAGE, self->load_cancellable, on_load_progress, self,
                       image_loaded, load_request_new (self, path, SM_LAYER_IMAGE));
}

static void
phantom_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SmWindow *self = user_data;
  g_autoptr (GError) error = NULL;
  SmLayer *image = NULL, *labels = NULL;
  if (self->disposed)
    {
      if (sm_load_phantom_finish (result, &image, &labels, NULL))
        {
          g_object_unref (image);
          g_object_unref (labels);
        }
      g_object_unref (self);
      return;
    }
  end_load (self);
  if (!sm_load_phantom_finish (result, &image, &labels, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        gtk_label_set_text (self->cursor_label, "Phantom cancelled");
      else
        report_error (self, "phantom", error->message);
    }
  else
    {
      set_image (self, image, NULL);
      /* Ground truth is there to look at, not in the way: hidden until asked for. */
      sm_layer_set_visible (labels, FALSE);
      sm_layer_set_outline (labels, TRUE);
      sm_view_state_add_layer (self->state, labels);
      g_object_unref (image);
      g_object_unref (labels);
    }
  load_next_overlay (self);
  start_hooks_if_ready (self);
  g_object_unref (self);
}

static gboolean
pulse_progress (gpointer user_data)
{
  SmWindow *self = user_data;
  gtk_progress_bar_pulse (self->progress_bar);
  return G_SOURCE_CONTINUE;
}

void
sm_window_open_phantom (SmWindow *self, gint64 nz, gint64 ny, gint64 nx)
{
  if (self->load_cancellable)
    g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->load_cancellable);
  begin_load (self, "Generating the phantom");
  gtk_progress_bar_pulse (self->progress_bar);
  g_clear_handle_id (&self->pulse_source, g_source_remove);
  self->pulse_source = g_timeout_add (120, pulse_progress, self);
  sm_load_phantom_async (nz, ny, nx, self->load_cancellable, phantom_loaded, g_object_ref (self));
}

static void
overlay_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LoadRequest *q = user_data;
  SmWindow *self = q->self;
  g_autoptr (GError) error = NULL;
  g_autoptr (SmLayer) layer = sm_load_layer_finish (result, &error);
  if (self->disposed)
    {
      load_request_free (q);
      return;
    }
  end_load (self);
  SmLayer *image = sm_view_state_get_image (self->state);
  if (!layer)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        report_error (self, q->path, error->message);
    }
  else if (!image)
    report_error (self, q->path, "no image is open to lay it over");
  else
    {
      const SmVolume *a = sm_layer_get_volume (layer), *b = sm_layer_get_volume (image);
      if (a->nz != b->nz || a->ny != b->ny || a->nx != b->nx)
        {
          g_autofree char *reason = g_strdup_printf (
              "%s: shape %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT
              " does not match the image's %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT,
              q->path, a->nz, a->ny, a->nx, b->nz, b->ny, b->nx);
          report_error (self, q->path, reason);
        }
      else
        {
          if (sm_layer_get_kind (layer) == SM_LAYER_LABELS)
            {
              sm_layer_set_opacity (layer, 0.45);
              sm_proofread_set_layer_path (layer, q->path);
            }
          else
            sm_layer_set_opacity (layer, 0.6);
          sm_view_state_add_layer (self->state, layer);
        }
    }
  load_next_overlay (self);
  start_hooks_if_ready (self);
  load_request_free (q);
}

/* One overlay at a time, and only once no image is being read. */
static void
load_next_overlay (SmWindow *self)
{
  if (self->loads_running > 0 || self->queued_overlays->len == 0 || self->load_failed)
    return;
  QueuedOverlay *q = g_ptr_array_steal_index (self->queued_overlays, 0);
  g_autofree char *name = g_path_get_basename (q->path);
  g_autofree char *what = g_strdup_printf ("Reading %s", name);
  begin_load (self, what);
  sm_load_layer_async (q->path, q->kind, self->load_cancellable, on_load_progress, self,
                       overlay_loaded, load_request_new (self, q->path, q->kind));
  queued_overlay_free (q);
}

void
sm_window_queue_overlay (SmWindow *self, const char *path, SmLayerKind kind)
{
  QueuedOverlay *q = g_new0 (QueuedOverlay, 1);
  q->path = g_strdup (path);
  q->kind = kind;
  g_ptr_array_add (self->queued_overlays, q);
  load_next_overlay (self);
}

/* --- hooks: screenshot, benchmark, timing ---------------------------------- */

static gboolean
views_settled (SmWindow *self)
{
  SmSliceView *views[] = { self->xy_view, self->xz_view, self->yz_view };
  for (guint i = 0; i < G_N_ELEMENTS (views); i++)
    if (gtk_widget_get_mapped (GTK_WIDGET (views[i])) && !sm_slice_view_is_settled (views[i]))
      return FALSE;
  /* The 3D view gets the volume after the XY view's first frame and prepares
   * it on a worker: a screenshot taken before both are done shows it empty. */
  if (gtk_widget_get_mapped (GTK_WIDGET (self->volume_view)) &&
      (self->handover_pending || sm_volume_view_is_busy (self->volume_view)))
    return FALSE;
  /* Labels loading or saving, a proofreading script running. */
  if (self->proofread && sm_proofread_controller_is_busy (self->proofread))
    return FALSE;
  return TRUE;
}

/* One line per slice view for tests: where the view and its slice plane are
 * in the screenshot, and which slice it shows. */
static void
print_view_geometry (SmWindow *self)
{
  SmSliceView *views[] = { self->xy_view, self->xz_view, self->yz_view };
  graphene_rect_t bounds, plane;
  for (guint i = 0; i < G_N_ELEMENTS (views); i++)
    {
      GtkWidget *view = GTK_WIDGET (views[i]);
      if (!gtk_widget_get_mapped (view) || !sm_widget_bounds_in_png (GTK_WIDGET (self), view, &bounds))
        continue;
      /* The view's own bounds start at its origin (no margins on GL areas). */
      sm_slice_view_get_plane_rect (views[i], &plane);
      double c[3];
      sm_view_state_get_cursor (self->state, &c[0], &c[1], &c[2]);
      SmAxis axis = sm_slice_view_get_axis (views[i]);
      g_print ("view %s slice %.0f bounds %.0f %.0f %.0f %.0f plane %.1f %.1f %.1f %.1f\n",
               sm_axis_name (axis), c[sm_axis_dim_w (axis)], bounds.origin.x, bounds.origin.y,
               bounds.size.width, bounds.size.height, bounds.origin.x + plane.origin.x,
               bounds.origin.y + plane.origin.y, plane.size.width, plane.size.height);
    }
  if (gtk_widget_get_mapped (GTK_WIDGET (self->volume_view)) &&
      sm_widget_bounds_in_png (GTK_WIDGET (self), GTK_WIDGET (self->volume_view), &bounds))
    g_print ("view 3D bounds %.0f %.0f %.0f %.0f\n", bounds.origin.x, bounds.origin.y,
             bounds.size.width, bounds.size.height);
}

/* Returns FALSE when the window had nothing to draw yet (seen under heavy
 * load right after mapping): the caller tries again at a later frame. */
static gboolean
finish_screenshot (SmWindow *self)
{
  g_autoptr (GError) error = NULL;
  int status = 0;
  if (!gtk_widget_get_mapped (GTK_WIDGET (self)))
    return FALSE;
  print_view_geometry (self);
  sm_train_panel_print_geometry (self->train_panel, GTK_WIDGET (self));
  sm_finetune_panel_print_summary (self->finetune_panel);
  if (!sm_widget_save_png (GTK_WIDGET (self), self->screenshot_path, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
        return FALSE;
      g_printerr ("semmae-studio: %s\n", error->message);
      status = 1;
    }
  sm_application_quit_with_status (window_app (self), status);
  return TRUE;
}

static void
finish_bench (SmWindow *self)
{
  double seconds = (g_get_monotonic_time () - self->bench_start_us) / 1e6;
  guint frames = sm_slice_view_get_frame_count (self->xy_view) - self->bench_start_frames;
  const SmVolume *v = sm_layer_get_volume (sm_view_state_get_image (self->state));
  double draw_ms = sm_slice_view_get_render_time (self->xy_view) / 1e3 / MAX (frames, 1);
  g_print ("bench-scroll: %d slices, %u XY frames in %.3f s = %.1f fps, XY drawing %.1f ms/frame "
           "(XY view %d x %d px, volume %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT " %s)\n",
           self->bench_steps, frames, seconds, frames / seconds, draw_ms,
           gtk_widget_get_width (GTK_WIDGET (self->xy_view)),
           gtk_widget_get_height (GTK_WIDGET (self->xy_view)), v->nz, v->ny, v->nx,
           sm_dtype_name (v->dtype));
  sm_application_quit_with_status (window_app (self), 0);
}

static gboolean
hook_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer user_data)
{
  SmWindow *self = SM_WINDOW (widget);
  /* A training run of any length is no drawing problem: the limit counts once it is done. */
  if ((!sm_finetune_panel_is_settled (self->finetune_panel) ||
       !sm_train_panel_is_settled (self->train_panel)) && views_settled (self))
    self->hook_start_us = g_get_monotonic_time ();
  /* The limit is for getting to the first complete frame; benchmarks take their time. */
  if (!self->bench_start_us && g_get_monotonic_time () - self->hook_start_us > SCREENSHOT_TIMEOUT_US)
    {
      g_printerr ("semmae-studio: the views did not finish drawing in time\n");
      sm_application_quit_with_status (window_app (self), 1);
      self->hook_tick = 0;
      return G_SOURCE_REMOVE;
    }
  if (self->bench_start_us)
    {
      /* One slice per frame clock tick; count what the XY view really drew. */
      if (self->bench_steps >= self->bench_scroll)
        {
          finish_bench (self);
          self->hook_tick = 0;
          return G_SOURCE_REMOVE;
        }
      double z, y, x;
      sm_view_state_get_cursor (self->state, &z, &y, &x);
      const SmVolume *v = sm_layer_get_volume (sm_view_state_get_image (self->state));
      z = z + 1 >= (double) v->nz ? 0 : z + 1;
      sm_view_state_set_cursor (self->state, z, y, x);
      self->bench_steps++;
      return G_SOURCE_CONTINUE;
    }
  /* A screenshot of autostarted training waits for the run's final preview. */
  if (!views_settled (self) || !sm_train_panel_is_settled (self->train_panel) ||
      !sm_finetune_panel_is_settled (self->finetune_panel))
    {
      self->settled_ticks = 0;
      return G_SOURCE_CONTINUE;
    }
  if (self->timing)
    {
      gint64 start = sm_application_get_start_time (window_app (self));
      g_print ("first complete frame: %.0f ms after start\n", (g_get_monotonic_time () - start) / 1e3);
      self->timing = FALSE;
      if (!self->screenshot_path && !self->bench_scroll)
        {
          self->hook_tick = 0;
          return G_SOURCE_REMOVE;
        }
    }
  /* A few more frames so that every GL area (the 3D view too) has drawn. */
  if (++self->settled_ticks < SCREENSHOT_SETTLE_TICKS)
    return G_SOURCE_CONTINUE;
  if (self->screenshot_path)
    {
      if (!finish_screenshot (self))
        return G_SOURCE_CONTINUE;
      self->hook_tick = 0;
      return G_SOURCE_REMOVE;
    }
  /* Benchmark: start scrolling from the first slice. */
  double z, y, x;
  sm_view_state_get_cursor (self->state, &z, &y, &x);
  sm_view_state_set_cursor (self->state, 0, y, x);
  self->bench_start_us = g_get_monotonic_time ();
  self->bench_start_frames = sm_slice_view_get_frame_count (self->xy_view);
  sm_slice_view_set_measure (self->xy_view, TRUE);
  return G_SOURCE_CONTINUE;
}

static void
start_hooks_if_ready (SmWindow *self)
{
  if (!(self->screenshot_path || self->bench_scroll || self->timing) || self->hook_tick ||
      self->loads_running > 0 || self->queued_overlays->len > 0 || self->load_failed)
    return;
  if (!sm_view_state_get_image (self->state))
    return;
  self->hook_start_us = g_get_monotonic_time ();
  self->hook_tick = gtk_widget_add_tick_callback (GTK_WIDGET (self), hook_tick, NULL, NULL);
}

void
sm_window_set_screenshot (SmWindow *self, const char *path)
{
  g_free (self->screenshot_path);
  self->screenshot_path = g_strdup (path);
}

void sm_window_set_bench_scroll (SmWindow *self, int n_slices) { self->bench_scroll = n_slices; }
void sm_window_set_timing (SmWindow *self, gboolean timing) { self->timing = timing; }

/* --- layout ---------------------------------------------------------------- */

static const char *const layouts[] = { "grid", "xy-3d", "xy" };

void
sm_window_set_layout (SmWindow *self, const char *layout)
{
  gboolean grid = g_str_equal (layout, "grid"), xy_3d = g_str_equal (layout, "xy-3d");
  gtk_widget_set_visible (self->xz_frame, grid);
  gtk_widget_set_visible (self->yz_frame, grid);
  gtk_widget_set_visible (self->volume_frame, grid || xy_3d);
  g_free (self->layout);
  self->layout = g_strdup (layout);
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), "layout");
  if (action)
    g_simple_action_set_state (G_SIMPLE_ACTION (action), g_variant_new_string (layout));
}

static void
on_layout (GSimpleAction *action, GVariant *value, gpointer user_data)
{
  sm_window_set_layout (SM_WINDOW (user_data), g_variant_get_string (value, NULL));
}

/* H: hide every label layer, or show them all again when none is visible. */
static void
on_toggle_labels (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  SmWindow *self = SM_WINDOW (user_data);
  GListModel *layers = sm_view_state_get_layers (self->state);
  gboolean show = sm_view_state_get_label_layer (self->state) == NULL;
  for (guint i = 0; i < g_list_model_get_n_items (layers); i++)
    {
      g_autoptr (SmLayer) layer = g_list_model_get_item (layers, i);
      if (sm_layer_get_kind (layer) == SM_LAYER_LABELS)
        sm_layer_set_visible (layer, show);
    }
}

static void
on_cycle_layout (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  SmWindow *self = SM_WINDOW (user_data);
  guint next = 0;
  for (guint i = 0; i < G_N_ELEMENTS (layouts); i++)
    if (g_str_equal (self->layout, layouts[i]))
      next = (i + 1) % G_N_ELEMENTS (layouts);
  sm_window_set_layout (self, layouts[next]);
}

static void
on_focus_view (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  SmWindow *self = SM_WINDOW (user_data);
  GtkWidget *views[] = { GTK_WIDGET (self->xy_view), GTK_WIDGET (self->xz_view),
                         GTK_WIDGET (self->yz_view), GTK_WIDGET (self->volume_view) };
  gint32 i = g_variant_get_int32 (parameter);
  if (i >= 0 && i < (gint32) G_N_ELEMENTS (views) && gtk_widget_get_visible (gtk_widget_get_parent (views[i])))
    gtk_widget_grab_focus (views[i]);
}

/* --- open dialogs, recent files, drag and drop (sm-open.c) ------------------ */

static void
on_chosen (GtkWindow *parent, const char *path, SmOpenKind kind)
{
  SmWindow *self = SM_WINDOW (parent);
  if (self->disposed)
    return;
  if (kind == SM_OPEN_IMAGE || kind == SM_OPEN_FOLDER)
    sm_window_open_path (self, path);
  else
    sm_window_queue_overlay (self, path, kind == SM_OPEN_LABELS ? SM_LAYER_LABELS : SM_LAYER_MAP);
}

static void
run_chooser (SmWindow *self, SmOpenKind kind)
{
  sm_open_dialog_run (GTK_WINDOW (self), kind, self->image_path, on_chosen);
}

static void on_open (GSimpleAction *a, GVariant *p, gpointer self) { run_chooser (self, SM_OPEN_IMAGE); }
static void on_open_folder (GSimpleAction *a, GVariant *p, gpointer self) { run_chooser (self, SM_OPEN_FOLDER); }
static void on_open_labels (GSimpleAction *a, GVariant *p, gpointer self) { run_chooser (self, SM_OPEN_LABELS); }
static void on_open_map (GSimpleAction *a, GVariant *p, gpointer self) { run_chooser (self, SM_OPEN_MAP); }

static void
on_open_phantom (GSimpleAction *action, GVariant *parameter, gpointer self)
{
  sm_window_open_phantom (self, 64, 256, 256);
}

static void
on_open_recent (GSimpleAction *action, GVariant *parameter, gpointer self)
{
  g_autofree char *path = g_filename_from_uri (g_variant_get_string (parameter, NULL), NULL, NULL);
  if (path)
    sm_window_open_path (self, path);
}

static void
on_cancel_load (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  SmWindow *self = SM_WINDOW (user_data);
  if (self->load_cancellable)
    g_cancellable_cancel (self->load_cancellable);
}

static void
rebuild_recent_menu (GtkRecentManager *manager, SmWindow *self)
{
  sm_recent_menu_fill (self->recent_menu, manager, RECENT_MAX);
}

static gboolean
on_drop (GtkDropTarget *target, const GValue *value, double x, double y, SmWindow *self)
{
  g_autofree char *path = sm_drop_first_path (value);
  if (path)
    sm_window_open_path (self, path);
  return path != NULL;
}

/* --- GObject --------------------------------------------------------------- */

static void
sm_window_dispose (GObject *object)
{
  SmWindow *self = SM_WINDOW (object);
  self->disposed = TRUE;
  g_clear_handle_id (&self->pulse_source, g_source_remove);
  g_clear_handle_id (&self->volume_handover, g_source_remove);
  if (self->hook_tick)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->hook_tick);
  self->hook_tick = 0;
  if (self->load_cancellable)
    g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->load_cancellable);
  if (self->state)
    g_signal_handlers_disconnect_by_data (self->state, self);
  g_signal_handlers_disconnect_by_data (gtk_recent_manager_get_default (), self);
  g_clear_object (&self->proofread);
  if (self->volume_view)
    {
      sm_volume_view_set_labels (self->volume_view, NULL);
      sm_volume_view_set_volume (self->volume_view, NULL);
    }
  gtk_widget_dispose_template (GTK_WIDGET (self), SM_TYPE_WINDOW);
  self->volume_view = NULL;
  g_clear_object (&self->volume_view_image);
  g_clear_object (&self->volume_view_labels);
  g_clear_object (&self->state);
  g_clear_object (&self->recent_menu);
  g_clear_pointer (&self->queued_overlays, g_ptr_array_unref);
  G_OBJECT_CLASS (sm_window_parent_class)->dispose (object);
}

static void
sm_window_finalize (GObject *object)
{
  SmWindow *self = SM_WINDOW (object);
  g_free (self->image_path);
  g_free (self->layout);
  g_free (self->screenshot_path);
  G_OBJECT_CLASS (sm_window_parent_class)->finalize (object);
}

static void
sm_window_class_init (SmWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = sm_window_dispose;
  object_class->finalize = sm_window_finalize;
  widget_class->unrealize = sm_window_unrealize;
  g_type_ensure (SM_TYPE_SLICE_VIEW);
  g_type_ensure (SM_TYPE_VOLUME_VIEW);
  g_type_ensure (SM_TYPE_VIEW_PANEL);
  g_type_ensure (SM_TYPE_TRAIN_PANEL);
  g_type_ensure (SM_TYPE_FINETUNE_PANEL);
  g_type_ensure (SM_TYPE_PROOFREAD_PANEL);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/semmae/Studio/ui/sm-window.ui");
  gtk_widget_class_bind_template_child (widget_class, SmWindow, recent_button);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, file_label);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, mode_stack);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, xy_frame);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, xz_frame);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, yz_frame);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, volume_frame);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, xy_view);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, xz_view);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, yz_view);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, volume_view);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, xy_title);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, xz_title);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, yz_title);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, view_panel);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, train_panel);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, finetune_panel);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, proofread_panel);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, info_label);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, cursor_label);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, progress_label);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, progress_box);
  gtk_widget_class_bind_template_child (widget_class, SmWindow, progress_bar);
}

static void
sm_window_init (SmWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->queued_overlays = g_ptr_array_new_with_free_func ((GDestroyNotify) queued_overlay_free);
  self->state = sm_view_state_new ();
  self->layout = g_strdup ("grid");

  static const GActionEntry actions[] = {
    { "open", on_open, NULL, NULL, NULL, { 0 } },
    { "open-folder", on_open_folder, NULL, NULL, NULL, { 0 } },
    { "open-labels", on_open_labels, NULL, NULL, NULL, { 0 } },
    { "open-map", on_open_map, NULL, NULL, NULL, { 0 } },
    { "open-phantom", on_open_phantom, NULL, NULL, NULL, { 0 } },
    { "open-recent", on_open_recent, "s", NULL, NULL, { 0 } },
    { "cancel-load", on_cancel_load, NULL, NULL, NULL, { 0 } },
    { "layout", NULL, "s", "'grid'", on_layout, { 0 } },
    { "cycle-layout", on_cycle_layout, NULL, NULL, NULL, { 0 } },
    { "toggle-labels", on_toggle_labels, NULL, NULL, NULL, { 0 } },
    { "focus-view", on_focus_view, "i", NULL, NULL, { 0 } },
  };
  g_action_map_add_action_entries (G_ACTION_MAP (self), actions, G_N_ELEMENTS (actions), self);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (G_ACTION_MAP (self), "cancel-load")), FALSE);

  SmSliceView *views[] = { self->xy_view, self->xz_view, self->yz_view };
  GtkLabel *titles[] = { self->xy_title, self->xz_title, self->yz_title };
  for (guint i = 0; i < G_N_ELEMENTS (views); i++)
    {
      sm_slice_view_set_state (views[i], self->state);
      g_object_bind_property (views[i], "title", titles[i], "label", G_BINDING_SYNC_CREATE);
      g_signal_connect (views[i], "hover", G_CALLBACK (on_view_hover), self);
    }
  /* PgUp/PgDn, +/- and Home work from the start, before any click. */
  gtk_window_set_focus (GTK_WINDOW (self), GTK_WIDGET (self->xy_view));
  g_signal_connect (self->xy_view, "frame", G_CALLBACK (on_xy_frame), self);
  sm_view_panel_set_state (self->view_panel, self->state);
  sm_train_panel_set_state (self->train_panel, self->state);
  sm_finetune_panel_set_state (self->finetune_panel, self->state);
  sm_finetune_panel_set_pretrain_engine (self->finetune_panel, sm_train_panel_get_engine (self->train_panel));
  self->proofread = sm_proofread_controller_new (self->state, views, self->volume_view);
  sm_proofread_controller_install (self->proofread, GTK_WINDOW (self));
  sm_proofread_panel_set_controller (self->proofread_panel, self->proofread);
  g_signal_connect (self->state, "changed", G_CALLBACK (on_state_changed), self);
  g_signal_connect (self->state, "notify::geometry", G_CALLBACK (on_geometry_changed), self);

  self->recent_menu = g_menu_new ();
  gtk_menu_button_set_menu_model (self->recent_button, G_MENU_MODEL (self->recent_menu));
  GtkRecentManager *recent = gtk_recent_manager_get_default ();
  g_signal_connect (recent, "changed", G_CALLBACK (rebuild_recent_menu), self);
  rebuild_recent_menu (recent, self);

  /* Single-key shortcuts in the bubble phase: a focused text field sees the key first. */
  GtkEventController *shortcuts = gtk_shortcut_controller_new ();
  struct { guint key; const char *action; int view; } keys[] = {
    { GDK_KEY_l, "win.cycle-layout", -1 }, { GDK_KEY_L, "win.cycle-layout", -1 },
    { GDK_KEY_1, "win.focus-view", 0 }, { GDK_KEY_2, "win.focus-view", 1 },
    { GDK_KEY_3, "win.focus-view", 2 }, { GDK_KEY_4, "win.focus-view", 3 },
    { GDK_KEY_Escape, "win.cancel-load", -1 },
    { GDK_KEY_h, "win.toggle-labels", -1 }, { GDK_KEY_H, "win.toggle-labels", -1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      GtkShortcut *shortcut = gtk_shortcut_new (gtk_keyval_trigger_new (keys[i].key, 0),
                                                gtk_named_action_new (keys[i].action));
      if (keys[i].view >= 0)
        gtk_shortcut_set_arguments (shortcut, g_variant_new_int32 (keys[i].view));
      gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts), shortcut);
    }
  gtk_widget_add_controller (GTK_WIDGET (self), shortcuts);

  GtkDropTarget *drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));
}

SmWindow *
sm_window_new (SmApplication *app)
{
  return g_object_new (SM_TYPE_WINDOW, "application", app, NULL);
}

SmViewState *sm_window_get_state (SmWindow *self) { return self->state; }

void
sm_window_autostart_pretrain (SmWindow *self, gint64 steps, int preview_every)
{
  gtk_stack_set_visible_child_name (self->mode_stack, "pretrain");
  /* A scrolling benchmark measures while training runs, not after. */
  sm_train_panel_autostart (self->train_panel, steps, preview_every, !self->bench_scroll);
}

void
sm_window_autostart_finetune (SmWindow *self, const SmFinetuneAutostart *autostart)
{
  gtk_stack_set_visible_child_name (self->mode_stack, "finetune");
  sm_finetune_panel_autostart (self->finetune_panel, autostart);
}
