/* SmTrainPanel: the Pre-train side panel (see sm-train-panel.h). */
#include "sm-train-panel.h"

#include <math.h>
#include <string.h>

#include "sm-loader.h"
#include "sm-loss-plot.h"
#include "sm-panel-util.h"
#include "sm-preview-triptych.h"
#include "sm-screenshot.h"

#define PREVIEW_DEBOUNCE_MS 150

struct _SmTrainPanel {
  GtkWidget parent_instance;
  SmEngineThread *engine;
  SmViewState *state;
  guint image_generation;
  gboolean have_image;
  double preview_y, preview_x;  /* where the preview was last asked for */
  guint preview_timeout;
  SmLayer *error_layer;         /* the overlay we added (a reference), or NULL */
  SmTrainState train_state;
  gint64 autostart_steps;
  int autostart_preview_every;
  gboolean autostart_pending, autostart_done;
  gboolean autostart_wait_for_end;
  gboolean sync_from_run;       /* a loaded checkpoint: its settings go into the widgets */
  gboolean syncing;             /* widgets follow the run: their handlers stay quiet */
  gboolean final_preview;       /* the finished run's preview (or, not waiting for the end, any) has arrived */
  gint64 last_step, total_steps;
  double last_loss;
  char *summary;

  GtkWidget *box;
  GtkDropDown *config_dropdown;
  GtkEntry *custom_entry;
  GtkAdjustment *mask_adjustment, *lr_adjustment, *batch_adjustment, *steps_adjustment,
      *preview_every_adjustment, *error_every_adjustment;
  GtkButton *start_button, *pause_button, *stop_button, *step_button, *save_button, *load_button,
      *export_csv_button, *export_png_button, *preview_button, *error_map_button;
  GtkLabel *status_label, *error_label;
  SmLossPlot *loss_plot;
  SmPreviewTriptych *triptych;
};

G_DEFINE_FINAL_TYPE (SmTrainPanel, sm_train_panel, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_SUMMARY, N_PROPS };
static GParamSpec *props[N_PROPS];

/* One line for the window's status bar, so a run stays in sight in every mode. */
static void
set_summary (SmTrainPanel *self, const char *text)
{
  sm_panel_set_summary (G_OBJECT (self), props[PROP_SUMMARY], &self->summary, text);
}

static gboolean
headless (void)
{
  /* Test runs (--screenshot) report failures on stderr instead of in a label only. */
  return g_getenv ("SEMMAE_STUDIO_HEADLESS") != NULL;
}

/* --- engine events ----------------------------------------------------------- */

static void
update_buttons (SmTrainPanel *self)
{
  SmTrainState s = self->train_state;
  gboolean have_model = s != SM_TRAIN_STATE_IDLE;
  gtk_widget_set_sensitive (GTK_WIDGET (self->start_button), self->have_image);
  gtk_widget_set_sensitive (GTK_WIDGET (self->pause_button),
                            s == SM_TRAIN_STATE_RUNNING || s == SM_TRAIN_STATE_PAUSED || s == SM_TRAIN_STATE_STOPPED);
  gtk_button_set_icon_name (self->pause_button, s == SM_TRAIN_STATE_RUNNING ? "media-playback-pause-symbolic"
                                                                             : "media-playback-start-symbolic");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->pause_button), s == SM_TRAIN_STATE_RUNNING ? "Pause" : "Resume");
  gtk_widget_set_sensitive (GTK_WIDGET (self->stop_button), s == SM_TRAIN_STATE_RUNNING || s == SM_TRAIN_STATE_PAUSED);
  gtk_widget_set_sensitive (GTK_WIDGET (self->step_button), have_model && s != SM_TRAIN_STATE_RUNNING &&
                                                                s != SM_TRAIN_STATE_FINISHED);
  gtk_widget_set_sensitive (GTK_WIDGET (self->save_button), have_model);
  gtk_widget_set_sensitive (GTK_WIDGET (self->preview_button), have_model);
  gtk_widget_set_sensitive (GTK_WIDGET (self->error_map_button), have_model);
  /* The model's shape is fixed for a run. */
  gtk_widget_set_sensitive (GTK_WIDGET (self->config_dropdown), s != SM_TRAIN_STATE_RUNNING);
  gtk_widget_set_sensitive (GTK_WIDGET (self->custom_entry), s != SM_TRAIN_STATE_RUNNING);
}

static void
on_state (SmEngineThread *engine, int state, SmTrainPanel *self)
{
  self->train_state = state;
  update_buttons (self);
  if (state == SM_TRAIN_STATE_FINISHED || state == SM_TRAIN_STATE_STOPPED || state == SM_TRAIN_STATE_PAUSED)
    {
      g_autofree char *text = g_strdup_printf ("%s · step %" G_GINT64_FORMAT " · loss %.4f",
                                               sm_train_state_name (state), self->last_step, self->last_loss);
      if (self->last_step > 0)
        {
          gtk_label_set_text (self->status_label, text);
          g_autofree char *line = g_strdup_printf ("training %s", text);
          set_summary (self, line);
        }
    }
}

static char *
format_eta (double seconds)
{
  if (!isfinite (seconds) || seconds < 0)
    return g_strdup ("–");
  if (seconds < 90)
    return g_strdup_printf ("%.0f s", seconds);
  if (seconds < 5400)
    return g_strdup_printf ("%.0f min", seconds / 60);
  return g_strdup_printf ("%.1f h", seconds / 3600);
}

static void
on_progress (SmEngineThread *engine, const SmTrainProgress *p, SmTrainPanel *self)
{
  sm_loss_plot_add_points (self->loss_plot, p->points, p->n_points);
  if (self->sync_from_run && p->total_steps > 0)
    {
      /* Show what the loaded run trains with (setting the slider re-sends the same ratio). */
      self->sync_from_run = FALSE;
      gtk_adjustment_set_value (self->steps_adjustment, (double) p->total_steps);
      gtk_adjustment_set_value (self->batch_adjustment, p->batch);
      gtk_adjustment_set_value (self->mask_adjustment, p->mask_ratio);
      self->syncing = TRUE; /* the run's own lr: no marker, nothing to send */
      gtk_adjustment_set_value (self->lr_adjustment, p->peak_lr);
      self->syncing = FALSE;
    }
  if (p->n_points == 0 && p->latest.step == 0)
    return;
  self->last_step = p->latest.step;
  self->last_loss = p->latest.loss;
  self->total_steps = p->total_steps;
  double rate = p->steps_per_second;
  g_autofree char *eta = format_eta (rate > 0 ? (p->total_steps - p->latest.step) / rate : NAN);
  g_autofree char *text = g_strdup_printf ("%s · step %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT "\nloss %.4f · %.2f steps/s · ETA %s\nmask %.2f (%d of %d tokens seen) · lr %.2g",
                                           sm_train_state_name (p->state), p->latest.step, p->total_steps,
                                           p->latest.loss, rate, eta, p->latest.mask_ratio,
                                           p->latest.visible_tokens, p->tokens, p->latest.lr);
  gtk_label_set_text (self->status_label, text);
  g_autofree char *line = g_strdup_printf ("training: step %" G_GINT64_FORMAT " · loss %.3f · %.1f steps/s · ETA %s%s%s",
                                           p->latest.step, p->latest.loss, rate, eta,
                                           p->state == SM_TRAIN_STATE_RUNNING ? "" : " · ",
                                           p->state == SM_TRAIN_STATE_RUNNING ? "" : sm_train_state_name (p->state));
  set_summary (self, line);
}

static void
on_preview (SmEngineThread *engine, const SmTrainPreview *preview, SmTrainPanel *self)
{
  sm_preview_triptych_set_preview (self->triptych, preview);
  if (self->autostart_done && preview->step >= 1 &&
      (!self->autostart_wait_for_end ||
       (self->train_state == SM_TRAIN_STATE_FINISHED && preview->step >= self->autostart_steps)))
    self->final_preview = TRUE;
}

static void
on_error_map (SmEngineThread *engine, SmTrainErrorMap *map, SmTrainPanel *self)
{
  if (!self->state || !sm_view_state_get_image (self->state))
    return;
  const SmVolume *image = sm_layer_get_volume (sm_view_state_get_image (self->state));
  if (image->nz != map->volume.nz || image->ny != map->volume.ny || image->nx != map->volume.nx)
    return; /* of a volume that has since been replaced */
  SmVolume volume = map->volume;
  memcpy (volume.voxel_size, image->voxel_size, sizeof volume.voxel_size);
  memcpy (volume.unit, image->unit, sizeof volume.unit);
  map->volume.data = NULL; /* handed over to the layer */
  g_autoptr (GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("MAE error (step %" G_GINT64_FORMAT ", mask %.2f)", map->step, map->mask_ratio);
  SmLayer *layer = sm_layer_new_prepared (SM_LAYER_MAP, name, &volume, &error);
  if (!layer)
    {
      gtk_label_set_text (self->error_label, error->message);
      return;
    }
  sm_layer_set_opacity (layer, 0.6);
  if (self->error_layer)
    sm_view_state_remove_layer (self->state, self->error_layer);
  g_set_object (&self->error_layer, layer);
  sm_view_state_add_layer (self->state, layer);
  g_object_unref (layer);
  g_autofree char *text = g_strdup_printf ("step %" G_GINT64_FORMAT ": mean |error| %.3g at masked voxels (mask %.2f); "
                                           "shown as the layer “%s”", map->step, map->mean_error, map->mask_ratio, name);
  gtk_label_set_text (self->error_label, text);
}

static void
on_saved (SmEngineThread *engine, const char *path, SmTrainPanel *self)
{
  g_autofree char *name = g_path_get_basename (path);
  g_autofree char *text = g_strdup_printf ("Saved %s", name);
  gtk_label_set_text (self->error_label, text);
}

static void
on_failed (SmEngineThread *engine, const char *message, SmTrainPanel *self)
{
  gtk_label_set_text (self->error_label, message);
  if (headless ())
    g_printerr ("semmae-studio: %s\n", message);
  if (self->train_state != SM_TRAIN_STATE_RUNNING)
    {
      /* Next to the buttons too: the error label may be scrolled out of sight. */
      g_autofree char *text = g_strdup_printf ("Not training: %s", message);
      gtk_label_set_text (self->status_label, text);
      /* An autostarted run that cannot go on: the screenshot shows why instead of waiting for a preview. */
      if (self->autostart_done)
        self->final_preview = TRUE;
    }
}

/* --- commands ---------------------------------------------------------------- */

static gboolean
read_settings (SmTrainPanel *self, SmTrainSettings *s)
{
  static const char *names[] = { "cpu-small", "paper-base", "custom" };
  guint choice = gtk_drop_down_get_selected (self->config_dropdown);
  sm_train_settings_init (s);
  g_strlcpy (s->config_name, names[MIN (choice, 2u)], sizeof s->config_name);
  if (choice == 2)
    {
      MaeError merr = { { 0 } };
      mae_config_named (&s->config, "cpu-small", NULL);
      g_auto (GStrv) pairs = g_strsplit_set (gtk_editable_get_text (GTK_EDITABLE (self->custom_entry)), " \t", -1);
      for (guint i = 0; pairs[i]; i++)
        {
          if (!pairs[i][0])
            continue;
          g_auto (GStrv) kv = g_strsplit (pairs[i], "=", 2);
          if (!kv[1] || mae_config_set_kv (&s->config, kv[0], kv[1], &merr) != 1)
            {
              g_autofree char *text = g_strdup_printf ("custom config: cannot use “%s”%s%s", pairs[i],
                                                       merr.message[0] ? ": " : "", merr.message);
              gtk_label_set_text (self->error_label, text);
              return FALSE;
            }
        }
      if (mae_config_validate (&s->config, &merr))
        {
          gtk_label_set_text (self->error_label, merr.message);
          return FALSE;
        }
    }
  s->mask_ratio = gtk_adjustment_get_value (self->mask_adjustment);
  s->lr = gtk_adjustment_get_value (self->lr_adjustment);
  s->batch = (int) gtk_adjustment_get_value (self->batch_adjustment);
  s->steps = (gint64) gtk_adjustment_get_value (self->steps_adjustment);
  return TRUE;
}

static void
request_preview_at_cursor (SmTrainPanel *self)
{
  if (!self->state || !self->have_image)
    return;
  double z, y, x;
  sm_view_state_get_cursor (self->state, &z, &y, &x);
  self->preview_y = y;
  self->preview_x = x;
  sm_engine_thread_request_preview (self->engine, z, y, x);
}

static void
start (SmTrainPanel *self)
{
  SmTrainSettings s;
  if (!read_settings (self, &s))
    return;
  sm_loss_plot_clear (self->loss_plot);
  gtk_label_set_text (self->error_label, "");
  gtk_label_set_text (self->status_label, "Starting…");
  self->last_step = 0;
  sm_engine_thread_set_preview_every (self->engine, (int) gtk_adjustment_get_value (self->preview_every_adjustment));
  sm_engine_thread_set_error_map_every (self->engine, (int) gtk_adjustment_get_value (self->error_every_adjustment));
  sm_engine_thread_start (self->engine, &s);
  sm_train_settings_clear (&s);
}

void
sm_train_panel_toggle (SmTrainPanel *self)
{
  switch (self->train_state)
    {
    case SM_TRAIN_STATE_IDLE:
    case SM_TRAIN_STATE_FINISHED:
      if (self->have_image)
        start (self);
      break;
    case SM_TRAIN_STATE_RUNNING:
      sm_engine_thread_pause (self->engine);
      break;
    case SM_TRAIN_STATE_PAUSED:
    case SM_TRAIN_STATE_STOPPED:
      sm_engine_thread_resume (self->engine);
      break;
    }
}

static gboolean
on_space (GtkWidget *widget, GVariant *args, gpointer data)
{
  sm_train_panel_toggle (SM_TRAIN_PANEL (widget));
  return TRUE;
}

static void on_start_clicked (GtkButton *b, SmTrainPanel *self) { start (self); }
static void on_pause_clicked (GtkButton *b, SmTrainPanel *self) { sm_train_panel_toggle (self); }
static void on_stop_clicked (GtkButton *b, SmTrainPanel *self) { sm_engine_thread_stop (self->engine); }
static void on_step_clicked (GtkButton *b, SmTrainPanel *self) { sm_engine_thread_step_once (self->engine); }
static void on_preview_clicked (GtkButton *b, SmTrainPanel *self) { request_preview_at_cursor (self); }

static void
on_error_map_clicked (GtkButton *b, SmTrainPanel *self)
{
  gtk_label_set_text (self->error_label, "Reconstructing the whole volume…");
  sm_engine_thread_request_error_map (self->engine);
}

static gboolean preview_timeout (gpointer data);

static void
schedule_preview (SmTrainPanel *self)
{
  if (self->preview_timeout)
    g_source_remove (self->preview_timeout);
  self->preview_timeout = g_timeout_add (PREVIEW_DEBOUNCE_MS, preview_timeout, self);
}

static void
on_mask_changed (GtkAdjustment *adjustment, SmTrainPanel *self)
{
  /* The engine marks the change on the curve itself (the next point's ratio differs). */
  sm_engine_thread_set_mask_ratio (self->engine, gtk_adjustment_get_value (adjustment));
  /* Show the new mask soon, even between refreshes; a drag asks once it rests. */
  if (self->train_state != SM_TRAIN_STATE_IDLE)
    schedule_preview (self);
}

static void
on_lr_changed (GtkAdjustment *adjustment, SmTrainPanel *self)
{
  if (self->train_state == SM_TRAIN_STATE_IDLE || self->syncing)
    return;
  double lr = gtk_adjustment_get_value (adjustment);
  sm_engine_thread_set_lr (self->engine, lr);
  g_autofree char *label = g_strdup_printf ("lr %.2g", lr);
  sm_loss_plot_add_marker (self->loss_plot, self->last_step + 1, label);
}

static void
on_preview_every_changed (GtkAdjustment *adjustment, SmTrainPanel *self)
{
  sm_engine_thread_set_preview_every (self->engine, (int) gtk_adjustment_get_value (adjustment));
}

static void
on_error_every_changed (GtkAdjustment *adjustment, SmTrainPanel *self)
{
  sm_engine_thread_set_error_map_every (self->engine, (int) gtk_adjustment_get_value (adjustment));
}

static void
on_config_changed (GtkDropDown *dropdown, GParamSpec *pspec, SmTrainPanel *self)
{
  gtk_widget_set_visible (GTK_WIDGET (self->custom_entry), gtk_drop_down_get_selected (dropdown) == 2);
}

/* --- file dialogs (GtkFileChooserNative: GTK 4.8) ----------------------------- */

void
sm_train_panel_load_checkpoint (SmTrainPanel *self, const char *path)
{
  sm_loss_plot_clear (self->loss_plot);
  gtk_label_set_text (self->error_label, "");
  self->sync_from_run = TRUE;
  sm_engine_thread_set_preview_every (self->engine, (int) gtk_adjustment_get_value (self->preview_every_adjustment));
  sm_engine_thread_load_checkpoint (self->engine, path);
  request_preview_at_cursor (self);
}

typedef enum { FILE_SAVE_MODEL, FILE_LOAD_MODEL, FILE_EXPORT_CSV, FILE_EXPORT_PNG } FileKind;

static void
on_file_chosen (GtkWidget *panel, int kind, const char *path)
{
  SmTrainPanel *self = SM_TRAIN_PANEL (panel);
  g_autoptr (GError) error = NULL;
  if (path)
    switch ((FileKind) kind)
      {
      case FILE_SAVE_MODEL:
        sm_engine_thread_save_checkpoint (self->engine, path);
        break;
      case FILE_LOAD_MODEL:
        sm_train_panel_load_checkpoint (self, path);
        break;
      case FILE_EXPORT_CSV:
        if (!sm_loss_plot_export_csv (self->loss_plot, path, &error))
          gtk_label_set_text (self->error_label, error->message);
        break;
      case FILE_EXPORT_PNG:
        if (!sm_loss_plot_export_png (self->loss_plot, path, 800, 400, &error))
          gtk_label_set_text (self->error_label, error->message);
        break;
      }
}

static void
run_file_dialog (SmTrainPanel *self, FileKind kind)
{
  static const SmPanelFileDialog dialogs[] = {
    [FILE_SAVE_MODEL] = { "Save the Model", TRUE, "model.safetensors", FALSE },
    [FILE_LOAD_MODEL] = { "Load a Model to Continue", FALSE, NULL, TRUE },
    [FILE_EXPORT_CSV] = { "Export the Loss Curve", TRUE, "loss.csv", FALSE },
    [FILE_EXPORT_PNG] = { "Export the Loss Plot", TRUE, "loss.png", FALSE },
  };
  sm_panel_run_file_dialog (GTK_WIDGET (self), &dialogs[kind], kind, on_file_chosen);
}

static void on_save_clicked (GtkButton *b, SmTrainPanel *self) { run_file_dialog (self, FILE_SAVE_MODEL); }
static void on_load_clicked (GtkButton *b, SmTrainPanel *self) { run_file_dialog (self, FILE_LOAD_MODEL); }
static void on_export_csv_clicked (GtkButton *b, SmTrainPanel *self) { run_file_dialog (self, FILE_EXPORT_CSV); }
static void on_export_png_clicked (GtkButton *b, SmTrainPanel *self) { run_file_dialog (self, FILE_EXPORT_PNG); }

/* --- the view state: image and crosshair --------------------------------------- */

static gboolean
preview_timeout (gpointer data)
{
  SmTrainPanel *self = data;
  self->preview_timeout = 0;
  request_preview_at_cursor (self);
  return G_SOURCE_REMOVE;
}

static void
maybe_autostart (SmTrainPanel *self)
{
  if (!self->autostart_pending || !self->have_image)
    return;
  self->autostart_pending = FALSE;
  self->autostart_done = TRUE;
  gtk_adjustment_set_value (self->steps_adjustment, (double) self->autostart_steps);
  gtk_adjustment_set_value (self->preview_every_adjustment, self->autostart_preview_every);
  start (self);
}

static void
on_image (SmViewState *state, GParamSpec *pspec, SmTrainPanel *self)
{
  SmLayer *image = sm_view_state_get_image (state);
  guint generation = sm_view_state_get_image_generation (state);
  if (!image || generation == self->image_generation)
    return;
  self->image_generation = generation;
  self->have_image = TRUE;
  g_clear_object (&self->error_layer);
  /* The engine copies it (as floats) on its own thread; the layer stays alive until then. */
  sm_engine_thread_set_volume (self->engine, sm_layer_get_volume (image), G_OBJECT (image));
  request_preview_at_cursor (self);
  update_buttons (self);
  maybe_autostart (self);
}

static void
on_cursor (SmViewState *state, GParamSpec *pspec, SmTrainPanel *self)
{
  double z, y, x;
  sm_view_state_get_cursor (state, &z, &y, &x);
  /* A click moves y/x; scrolling through slices (z only) leaves the preview where it is. */
  if (!self->have_image || (y == self->preview_y && x == self->preview_x) || self->train_state == SM_TRAIN_STATE_IDLE)
    return;
  schedule_preview (self);
}

void
sm_train_panel_set_state (SmTrainPanel *self, SmViewState *state)
{
  if (self->state)
    g_signal_handlers_disconnect_by_data (self->state, self);
  g_set_object (&self->state, state);
  if (!state)
    return;
  g_signal_connect (state, "notify::image", G_CALLBACK (on_image), self);
  g_signal_connect (state, "notify::cursor", G_CALLBACK (on_cursor), self);
  on_image (state, NULL, self);
}

SmEngineThread *sm_train_panel_get_engine (SmTrainPanel *self) { return self->engine; }

void
sm_train_panel_set_mask_ratio (SmTrainPanel *self, double ratio)
{
  gtk_adjustment_set_value (self->mask_adjustment, ratio);
}

void
sm_train_panel_autostart (SmTrainPanel *self, gint64 steps, int preview_every, gboolean wait_for_end)
{
  self->autostart_wait_for_end = wait_for_end;
  self->autostart_steps = steps;
  self->autostart_preview_every = preview_every;
  self->autostart_pending = TRUE;
  maybe_autostart (self);
}

gboolean
sm_train_panel_is_settled (SmTrainPanel *self)
{
  if (!self->autostart_pending && !self->autostart_done)
    return TRUE;
  graphene_rect_t panes[3];
  return self->final_preview &&
         (sm_preview_triptych_get_panes (self->triptych, panes) || self->train_state != SM_TRAIN_STATE_RUNNING);
}

void
sm_train_panel_print_geometry (SmTrainPanel *self, GtkWidget *root)
{
  static const char *names[] = { "original", "masked", "reconstruction" };
  graphene_rect_t panes[3], bounds;
  GtkWidget *area = sm_preview_triptych_get_area (self->triptych);
  if (!gtk_widget_get_mapped (area) || !sm_preview_triptych_get_panes (self->triptych, panes) ||
      !sm_widget_bounds_in_png (root, area, &bounds))
    return;
  for (int i = 0; i < 3; i++)
    g_print ("preview %s bounds %.0f %.0f %.0f %.0f\n", names[i], bounds.origin.x + panes[i].origin.x,
             bounds.origin.y + panes[i].origin.y, panes[i].size.width, panes[i].size.height);
  g_print ("training step %" G_GINT64_FORMAT " loss %.5f first-smoothed %.5f\n", self->last_step, self->last_loss,
           sm_loss_plot_get_smoothed (self->loss_plot, 0));
}

/* --- GObject ------------------------------------------------------------------- */

static void
sm_train_panel_dispose (GObject *object)
{
  SmTrainPanel *self = SM_TRAIN_PANEL (object);
  g_clear_handle_id (&self->preview_timeout, g_source_remove);
  if (self->state)
    g_signal_handlers_disconnect_by_data (self->state, self);
  if (self->engine)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  /* Stops the run and joins the engine thread. */
  g_clear_object (&self->engine);
  g_clear_object (&self->error_layer);
  g_clear_object (&self->state);
  gtk_widget_dispose_template (GTK_WIDGET (self), SM_TYPE_TRAIN_PANEL);
  G_OBJECT_CLASS (sm_train_panel_parent_class)->dispose (object);
}

static void
sm_train_panel_finalize (GObject *object)
{
  g_free (SM_TRAIN_PANEL (object)->summary);
  G_OBJECT_CLASS (sm_train_panel_parent_class)->finalize (object);
}

static void
sm_train_panel_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  SmTrainPanel *self = SM_TRAIN_PANEL (object);
  if (id == PROP_SUMMARY)
    g_value_set_string (value, self->summary ? self->summary : "");
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
sm_train_panel_class_init (SmTrainPanelClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  G_OBJECT_CLASS (klass)->dispose = sm_train_panel_dispose;
  G_OBJECT_CLASS (klass)->finalize = sm_train_panel_finalize;
  G_OBJECT_CLASS (klass)->get_property = sm_train_panel_get_property;
  props[PROP_SUMMARY] = sm_panel_summary_param ();
  g_object_class_install_properties (G_OBJECT_CLASS (klass), N_PROPS, props);
  g_type_ensure (SM_TYPE_LOSS_PLOT);
  g_type_ensure (SM_TYPE_PREVIEW_TRIPTYCH);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/semmae/Studio/ui/sm-train-panel.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, SmTrainPanel, name)
  BIND (box);
  BIND (config_dropdown);
  BIND (custom_entry);
  BIND (mask_adjustment);
  BIND (lr_adjustment);
  BIND (batch_adjustment);
  BIND (steps_adjustment);
  BIND (preview_every_adjustment);
  BIND (error_every_adjustment);
  BIND (start_button);
  BIND (pause_button);
  BIND (stop_button);
  BIND (step_button);
  BIND (save_button);
  BIND (load_button);
  BIND (export_csv_button);
  BIND (export_png_button);
  BIND (preview_button);
  BIND (error_map_button);
  BIND (status_label);
  BIND (error_label);
  BIND (loss_plot);
  BIND (triptych);
#undef BIND
}

static void
sm_train_panel_init (SmTrainPanel *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->preview_y = self->preview_x = -1;
  self->engine = sm_engine_thread_new ();
  g_signal_connect (self->engine, "state", G_CALLBACK (on_state), self);
  g_signal_connect (self->engine, "progress", G_CALLBACK (on_progress), self);
  g_signal_connect (self->engine, "preview", G_CALLBACK (on_preview), self);
  g_signal_connect (self->engine, "error-map", G_CALLBACK (on_error_map), self);
  g_signal_connect (self->engine, "checkpoint-saved", G_CALLBACK (on_saved), self);
  g_signal_connect (self->engine, "failed", G_CALLBACK (on_failed), self);
  g_signal_connect (self->start_button, "clicked", G_CALLBACK (on_start_clicked), self);
  g_signal_connect (self->pause_button, "clicked", G_CALLBACK (on_pause_clicked), self);
  g_signal_connect (self->stop_button, "clicked", G_CALLBACK (on_stop_clicked), self);
  g_signal_connect (self->step_button, "clicked", G_CALLBACK (on_step_clicked), self);
  g_signal_connect (self->save_button, "clicked", G_CALLBACK (on_save_clicked), self);
  g_signal_connect (self->load_button, "clicked", G_CALLBACK (on_load_clicked), self);
  g_signal_connect (self->export_csv_button, "clicked", G_CALLBACK (on_export_csv_clicked), self);
  g_signal_connect (self->export_png_button, "clicked", G_CALLBACK (on_export_png_clicked), self);
  g_signal_connect (self->preview_button, "clicked", G_CALLBACK (on_preview_clicked), self);
  g_signal_connect (self->error_map_button, "clicked", G_CALLBACK (on_error_map_clicked), self);
  g_signal_connect (self->mask_adjustment, "value-changed", G_CALLBACK (on_mask_changed), self);
  g_signal_connect (self->lr_adjustment, "value-changed", G_CALLBACK (on_lr_changed), self);
  g_signal_connect (self->preview_every_adjustment, "value-changed", G_CALLBACK (on_preview_every_changed), self);
  g_signal_connect (self->error_every_adjustment, "value-changed", G_CALLBACK (on_error_every_changed), self);
  g_signal_connect (self->config_dropdown, "notify::selected", G_CALLBACK (on_config_changed), self);
  sm_engine_thread_set_preview_every (self->engine, (int) gtk_adjustment_get_value (self->preview_every_adjustment));
  update_buttons (self);

  /* Space anywhere in the window (the help overlay lists it) unless the focused
   * widget wants the key itself (a text field, a button). */
  GtkEventController *shortcuts = gtk_shortcut_controller_new ();
  gtk_shortcut_controller_set_scope (GTK_SHORTCUT_CONTROLLER (shortcuts), GTK_SHORTCUT_SCOPE_GLOBAL);
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_space, 0),
                                                          gtk_callback_action_new (on_space, NULL, NULL)));
  gtk_widget_add_controller (GTK_WIDGET (self), shortcuts);
}
