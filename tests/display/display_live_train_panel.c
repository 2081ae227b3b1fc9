/* The Pre-train panel inside the studio window, driven as a user would:
 * training starts on an image, previews arrive, moving the masking slider
 * changes the next preview's masked input (and the next step's visible
 * tokens), the reconstruction-error overlay arrives as a map layer that is
 * not uniform, stop stops, and closing the window joins the engine thread.
 *
 * Manual demo: SEMMAE_LIVE_TRAIN_VOLUME=<stack> SEMMAE_LIVE_TRAIN_SHOTS=<dir>
 * trains on that stack and saves screenshots there; with
 * SEMMAE_LIVE_TRAIN_CHECKPOINT=<m.safetensors> it continues that run (e.g.
 * one of `semmae pretrain`) instead of starting afresh. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "tap.h"
#include "xvfb.h"
#include "data/phantom.h"
#include "sm-application.h"
#include "sm-loss-plot.h"
#include "sm-loader.h"
#include "sm-screenshot.h"
#include "sm-train-panel.h"
#include "sm-window.h"

typedef struct {
  int previews;
  gint64 preview_step, preview_origin[3];
  double preview_ratio, preview_masked_share;
  gint64 last_step;
  SmTrainPoint by_step[200000];
  SmTrainState state;
} Seen;

static Seen seen;

static void
on_preview (SmEngineThread *e, const SmTrainPreview *p, gpointer data)
{
  gsize n = (gsize) p->depth * p->height * p->width, masked = 0;
  for (gsize i = 0; i < n; i++)
    masked += isnan (p->masked_input[i]);
  seen.previews++;
  seen.preview_step = p->step;
  memcpy (seen.preview_origin, p->origin, sizeof seen.preview_origin);
  seen.preview_ratio = p->mask_ratio;
  seen.preview_masked_share = (double) masked / n;
}

static void
on_progress (SmEngineThread *e, const SmTrainProgress *p, gpointer data)
{
  for (guint i = 0; i < p->n_points; i++)
    if (p->points[i].step < (gint64) G_N_ELEMENTS (seen.by_step))
      seen.by_step[p->points[i].step] = p->points[i];
  seen.last_step = p->latest.step;
}

static void
on_state (SmEngineThread *e, int state, gpointer data)
{
  seen.state = state;
}

typedef gboolean (*Predicate) (gpointer data);

static gboolean
wait_for (Predicate pred, gpointer data)
{
  gint64 end = g_get_monotonic_time () + 180 * G_USEC_PER_SEC;
  while (!pred (data))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      g_main_context_iteration (NULL, TRUE);
    }
  return TRUE;
}

static void
settle (int ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE), g_usleep (2000);
}

static gint64 wanted_step;
static gboolean preview_after (gpointer d) { return seen.previews > 0 && seen.preview_step >= wanted_step; }
static gboolean state_is (gpointer d) { return (int) seen.state == GPOINTER_TO_INT (d); }

static SmLayer *
map_layer (SmViewState *state)
{
  GListModel *layers = sm_view_state_get_layers (state);
  for (guint i = 0; i < g_list_model_get_n_items (layers); i++)
    {
      g_autoptr (SmLayer) layer = g_list_model_get_item (layers, i);
      if (sm_layer_get_kind (layer) == SM_LAYER_MAP)
        return layer; /* the state keeps it */
    }
  return NULL;
}

static gboolean have_map (gpointer state) { return map_layer (state) != NULL; }
static gboolean preview_moved (gpointer d) { return seen.preview_origin[2] == GPOINTER_TO_INT (d); }

static GtkWidget *
find_type (GtkWidget *root, GType type)
{
  for (GtkWidget *c = gtk_widget_get_first_child (root); c; c = gtk_widget_get_next_sibling (c))
    {
      if (G_TYPE_CHECK_INSTANCE_TYPE (c, type))
        return c;
      GtkWidget *found = find_type (c, type);
      if (found)
        return found;
    }
  return NULL;
}

static SmTrainPanel *
find_panel (GtkWidget *root)
{
  for (GtkWidget *c = gtk_widget_get_first_child (root); c; c = gtk_widget_get_next_sibling (c))
    {
      if (SM_IS_TRAIN_PANEL (c))
        return SM_TRAIN_PANEL (c);
      SmTrainPanel *found = find_panel (c);
      if (found)
        return found;
    }
  return NULL;
}

static void
shot (SmWindow *window, const char *name)
{
  const char *dir = g_getenv ("SEMMAE_LIVE_TRAIN_SHOTS");
  if (!dir)
    return;
  settle (600);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  if (!sm_widget_save_png (GTK_WIDGET (window), path, &error))
    tap_diag ("%s", error->message);
  else
    tap_diag ("saved %s", path);
}

static void
run (SmApplication *app)
{
  SmWindow *window = sm_window_new (app);
  gtk_window_set_default_size (GTK_WINDOW (window), 1500, 950);
  gtk_window_present (GTK_WINDOW (window));
  SmTrainPanel *panel = find_panel (GTK_WIDGET (window));
  if (!TAP_OK (panel != NULL, "the window has a Pre-train panel"))
    return;
  SmEngineThread *engine = sm_train_panel_get_engine (panel);
  g_signal_connect (engine, "preview", G_CALLBACK (on_preview), NULL);
  g_signal_connect (engine, "progress", G_CALLBACK (on_progress), NULL);
  g_signal_connect (engine, "state", G_CALLBACK (on_state), NULL);

  SmVolume v = { 0 };
  SmError err = { { 0 } };
  const char *path = g_getenv ("SEMMAE_LIVE_TRAIN_VOLUME");
  int rc;
  if (path)
    rc = sm_volume_read (path, &v, &err);
  else
    {
      SmPhantomParams p;
      sm_phantom_default_params (&p);
      p.nz = 12, p.ny = 128, p.nx = 128;
      rc = sm_phantom_generate (&p, &v, NULL, NULL, &err);
    }
  if (!TAP_OK (rc == 0, "a volume to train on"))
    {
      tap_diag ("%s", err.message);
      return;
    }
  gint64 nz = v.nz, ny = v.ny, nx = v.nx;
  SmLayer *image = sm_layer_new_prepared (SM_LAYER_IMAGE, path ? path : "phantom", &v, NULL);
  sm_view_state_set_image (sm_window_get_state (window), image);
  g_object_unref (image);
  const char *checkpoint = g_getenv ("SEMMAE_LIVE_TRAIN_CHECKPOINT");
  if (checkpoint)
    {
      sm_train_panel_load_checkpoint (panel, checkpoint);
      gboolean loaded = wait_for (state_is, GINT_TO_POINTER (SM_TRAIN_STATE_PAUSED));
      TAP_OK (loaded, "the checkpoint loads as a paused run");
      sm_engine_thread_resume (engine);
    }
  else
    sm_window_autostart_pretrain (window, 100000, 5);

  wanted_step = 10;
  gboolean previewed = wait_for (preview_after, NULL);
  TAP_OK (previewed, "training runs and previews arrive (step %" G_GINT64_FORMAT ")", seen.preview_step);
  int tokens = 216; /* cpu-small: 6 x 96 x 96 crops of 1 x 16 x 16 tokens */
  TAP_OK (fabs (seen.preview_masked_share - (tokens - mae_keep_count (tokens, 0.75f)) / (double) tokens) < 1e-9,
          "masked input at ratio 0.75: %.3f of the crop greyed", seen.preview_masked_share);
  shot (window, "live-train-before-slider.png");

  /* Training goes on whatever the mode; the previews are on the Pre-train page. */
  GtkWidget *stack = gtk_widget_get_ancestor (GTK_WIDGET (panel), GTK_TYPE_STACK);
  if (stack)
    gtk_stack_set_visible_child_name (GTK_STACK (stack), "pretrain");
  /* Move the slider: the next refresh shows the new mask. */
  gint64 changed_at = seen.last_step;
  sm_train_panel_set_mask_ratio (panel, 0.3);
  wanted_step = changed_at + 1;
  gboolean refreshed = wait_for (preview_after, NULL);
  TAP_OK (refreshed && seen.preview_ratio == 0.3 &&
          fabs (seen.preview_masked_share - (tokens - mae_keep_count (tokens, 0.3f)) / (double) tokens) < 1e-9,
          "after the slider moved to 0.30 the next preview greys %.3f of the crop", seen.preview_masked_share);
  wanted_step = seen.preview_step + 10;
  wait_for (preview_after, NULL);
  SmTrainPoint after = seen.by_step[seen.last_step];
  TAP_OK (after.mask_ratio == 0.3 && after.visible_tokens == mae_keep_count (tokens, 0.3f),
          "steps after the change see %d of %d tokens", after.visible_tokens, tokens);
  shot (window, "live-train-after-slider.png");

  /* A click in a view moves the crosshair: the preview follows to the crop around it. */
  SmViewState *state = sm_window_get_state (window);
  double cz, cy, cx;
  sm_view_state_get_cursor (state, &cz, &cy, &cx);
  sm_view_state_set_cursor (state, cz, 48, 48);
  gboolean moved = wait_for (preview_moved, GINT_TO_POINTER (0));
  TAP_OK (moved && seen.preview_origin[1] == 0, "clicking near the corner moves the preview crop there (origin y %" G_GINT64_FORMAT
          ", x %" G_GINT64_FORMAT ")", seen.preview_origin[1], seen.preview_origin[2]);

  /* The loss curve exports. */
  SmLossPlot *plot = SM_LOSS_PLOT (find_type (GTK_WIDGET (panel), SM_TYPE_LOSS_PLOT));
  g_autofree char *dir = g_dir_make_tmp ("live-train-XXXXXX", NULL);
  g_autofree char *csv = g_build_filename (dir, "loss.csv", NULL);
  g_autofree char *png = g_build_filename (dir, "loss.png", NULL);
  g_autoptr (GError) export_error = NULL;
  gboolean exported = plot && sm_loss_plot_export_csv (plot, csv, &export_error) &&
                      sm_loss_plot_export_png (plot, png, 640, 320, &export_error);
  g_autofree char *text = NULL;
  g_file_get_contents (csv, &text, NULL, NULL);
  guint rows = 0;
  for (const char *c = text; c && *c; c++)
    rows += *c == '\n';
  TAP_OK (exported && text && g_str_has_prefix (text, "step,loss,smoothed_loss,lr,mask_ratio,visible_tokens\n") &&
          rows == sm_loss_plot_get_n_points (plot) + 1 && strstr (text, ",0.3000,151\n"),
          "loss curve exported as CSV (%u rows, the ratio change inside) and PNG", rows);
  GdkTexture *texture = exported ? gdk_texture_new_from_filename (png, NULL) : NULL;
  TAP_OK (texture && gdk_texture_get_width (texture) == 640, "the PNG reads back");
  g_clear_object (&texture);
  g_unlink (csv);
  g_unlink (png);
  g_rmdir (dir);

  /* Reconstruction error over the whole volume, as a map layer. */
  sm_engine_thread_request_error_map (engine);
  TAP_OK (wait_for (have_map, state), "the reconstruction-error overlay arrives as a map layer");
  SmLayer *map = map_layer (state);
  if (map)
    {
      const SmVolume *m = sm_layer_get_volume (map);
      double min, max, lo, hi;
      sm_layer_get_stats (map, &min, &max, &lo, &hi);
      TAP_OK (m->nz == nz && m->ny == ny && m->nx == nx && max > 0 && min == 0 && hi > lo,
              "the error map covers the volume and is not uniform (0 .. %.1f, robust %.1f .. %.1f)", max, lo, hi);
    }
  shot (window, "live-train-error-overlay.png");

  /* Space (the panel's global shortcut) pauses and resumes. */
  GListModel *controllers = gtk_widget_observe_controllers (GTK_WIDGET (panel));
  GtkShortcut *space = NULL;
  for (guint i = 0; i < g_list_model_get_n_items (controllers) && !space; i++)
    {
      g_autoptr (GObject) c = g_list_model_get_item (controllers, i);
      if (!GTK_IS_SHORTCUT_CONTROLLER (c))
        continue;
      for (guint k = 0; k < g_list_model_get_n_items (G_LIST_MODEL (c)) && !space; k++)
        {
          g_autoptr (GtkShortcut) sc = g_list_model_get_item (G_LIST_MODEL (c), k);
          GtkShortcutTrigger *trigger = gtk_shortcut_get_trigger (sc);
          if (GTK_IS_KEYVAL_TRIGGER (trigger) && gtk_keyval_trigger_get_keyval (GTK_KEYVAL_TRIGGER (trigger)) == GDK_KEY_space)
            space = g_object_ref (sc);
        }
    }
  g_object_unref (controllers);
  TAP_OK (space != NULL, "Space is a shortcut of the panel");
  if (space)
    {
      gtk_shortcut_action_activate (gtk_shortcut_get_action (space), 0, GTK_WIDGET (panel), NULL);
      gboolean paused = wait_for (state_is, GINT_TO_POINTER (SM_TRAIN_STATE_PAUSED));
      gtk_shortcut_action_activate (gtk_shortcut_get_action (space), 0, GTK_WIDGET (panel), NULL);
      gboolean resumed = wait_for (state_is, GINT_TO_POINTER (SM_TRAIN_STATE_RUNNING));
      TAP_OK (paused && resumed, "Space pauses, Space resumes");
      g_object_unref (space);
    }

  sm_engine_thread_stop (engine);
  gboolean stopped = wait_for (state_is, GINT_TO_POINTER (SM_TRAIN_STATE_STOPPED));
  TAP_OK (stopped, "stop: stopped at step %" G_GINT64_FORMAT, seen.last_step);
  /* Training again, then close the window mid-run: the thread is joined. */
  sm_engine_thread_resume (engine);
  wait_for (state_is, GINT_TO_POINTER (SM_TRAIN_STATE_RUNNING));
  gint64 t0 = g_get_monotonic_time ();
  gtk_window_destroy (GTK_WINDOW (window));
  settle (100);
  TAP_OK (TRUE, "closing the window while training returns (%.0f ms)", (g_get_monotonic_time () - t0) / 1e3);
}

int
main (int argc, char **argv)
{
  gboolean child;
  int status = xvfb_reexec (argc, argv, &child);
  if (!child)
    return status == 77 ? tap_skip_all ("xvfb-run is not installed") : status;
  g_setenv ("OMP_NUM_THREADS", "1", TRUE);
  SmApplication *studio = sm_application_new ();
  g_autoptr (GError) error = NULL;
  if (!TAP_OK (g_application_register (G_APPLICATION (studio), NULL, &error), "the application starts"))
    tap_diag ("%s", error->message);
  else
    run (studio);
  g_object_unref (studio);
  return tap_done ();
}
