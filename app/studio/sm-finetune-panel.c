/* SmFinetunePanel: the Fine-tune side panel (see sm-finetune-panel.h): its
 * controls, starting a run, files, the view state; what the run reports is
 * sm-finetune-panel-run.c. All of it runs on the main thread; the network
 * lives on the SmFinetuneThread. */
#include "sm-finetune-panel-private.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "data/pretrain_session.h"
#include "sm-panel-util.h"

enum { INIT_PRETRAINED, INIT_FILE, INIT_SCRATCH };
typedef enum { FILE_LABELS, FILE_INIT, FILE_SAVE_MODEL } FileKind;

G_DEFINE_FINAL_TYPE (SmFinetunePanel, sm_finetune_panel, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_SUMMARY, N_PROPS };
static GParamSpec *props[N_PROPS];

void
sm_finetune_panel_set_summary (SmFinetunePanel *self, const char *text)
{
  sm_panel_set_summary (G_OBJECT (self), props[PROP_SUMMARY], &self->summary, text);
}

void
sm_finetune_panel_update_buttons (SmFinetunePanel *self)
{
  gboolean running = self->run_state == SM_TRAIN_STATE_RUNNING;
  gboolean have_model = self->have_run && self->run_state != SM_TRAIN_STATE_IDLE;
  gboolean have_image = self->state && sm_view_state_get_image (self->state);
  gtk_widget_set_sensitive (GTK_WIDGET (self->start_button), have_image && !self->pending_init);
  gtk_widget_set_sensitive (GTK_WIDGET (self->pause_button),
                            running || self->run_state == SM_TRAIN_STATE_PAUSED ||
                                (self->run_state == SM_TRAIN_STATE_STOPPED && self->last_step < self->total_steps));
  gtk_button_set_label (self->pause_button, self->run_state == SM_TRAIN_STATE_PAUSED ||
                                                   self->run_state == SM_TRAIN_STATE_STOPPED
                                               ? "Resume"
                                               : "Pause");
  gtk_widget_set_sensitive (GTK_WIDGET (self->stop_button), running || self->run_state == SM_TRAIN_STATE_PAUSED);
  gtk_widget_set_sensitive (GTK_WIDGET (self->segment_button), have_model && !self->stale);
  gtk_button_set_label (self->segment_button, self->segmenting ? "Cancel segmenting" : "Segment volume");
  gtk_widget_set_sensitive (GTK_WIDGET (self->save_button), have_model);
}

/* The first label layer that is not our own result: the training labels
 * when no file is chosen (the phantom's ground truth, or --labels). */
static SmLayer *
labels_layer (SmFinetunePanel *self)
{
  if (!self->state)
    return NULL;
  GListModel *layers = sm_view_state_get_layers (self->state);
  for (guint i = 0; i < g_list_model_get_n_items (layers); i++)
    {
      g_autoptr (SmLayer) layer = g_list_model_get_item (layers, i);
      if (sm_layer_get_kind (layer) == SM_LAYER_LABELS && layer != self->segment_layer)
        return layer; /* the state keeps it */
    }
  return NULL;
}

static void
update_labels_label (SmFinetunePanel *self)
{
  g_autofree char *text = NULL;
  if (self->labels_path)
    text = g_path_get_basename (self->labels_path);
  else
    {
      SmLayer *layer = labels_layer (self);
      text = layer ? g_strdup_printf ("layer “%s”", sm_layer_get_name (layer))
                   : g_strdup ("none: choose a file or open labels");
    }
  gtk_label_set_text (self->labels_label, text);
}

static void
update_init_label (SmFinetunePanel *self)
{
  guint choice = gtk_drop_down_get_selected (self->init_dropdown);
  const char *text = "";
  g_autofree char *owned = NULL;
  if (choice == INIT_PRETRAINED)
    text = self->pretrain && sm_engine_thread_get_state (self->pretrain) != SM_TRAIN_STATE_IDLE
               ? "the Pre-train mode's current model"
               : "no model pre-trained yet (Pre-train mode)";
  else if (choice == INIT_FILE)
    text = self->init_path ? (owned = g_path_get_basename (self->init_path)) : "no checkpoint chosen";
  else
    text = "random encoder (cpu-small)";
  gtk_label_set_text (self->init_label, text);
}

void
sm_finetune_panel_fail_message (SmFinetunePanel *self, const char *message)
{
  gtk_label_set_text (self->result_label, message);
  if (self->autostart_active)
    {
      g_printerr ("semmae-studio: fine-tune: %s\n", message);
      self->settled_failed = TRUE;
    }
}

/* --- the run --------------------------------------------------------------- */

static void
really_start (SmFinetunePanel *self, const char *init_path)
{
  SmLayer *image = self->state ? sm_view_state_get_image (self->state) : NULL;
  if (!image)
    return;
  SmFinetuneSettings s;
  sm_finetune_settings_init (&s);
  s.task = (SegTask) gtk_drop_down_get_selected (self->task_dropdown);
  s.init_path = g_strdup (init_path);
  s.labels_path = g_strdup (self->labels_path);
  s.steps = (gint64) gtk_adjustment_get_value (self->steps_adjustment);
  s.batch = (int) gtk_adjustment_get_value (self->batch_adjustment);
  s.lr = gtk_adjustment_get_value (self->lr_adjustment);
  s.val_z0 = (gint64) gtk_adjustment_get_value (self->val_from_adjustment);
  s.val_z1 = (gint64) gtk_adjustment_get_value (self->val_to_adjustment);
  s.val_every = (int) gtk_adjustment_get_value (self->val_every_adjustment);
  s.overlay_every = (int) gtk_adjustment_get_value (self->overlay_every_adjustment);
  s.freeze_encoder = gtk_check_button_get_active (self->freeze_check);
  /* A label layer holds fragment ids once proofreading has merged some (the merges live in its
   * label map): the run trains on the segments shown, in a copy that is its own. 8/16-bit layers
   * go as they are: a 0/255 mask must stay a mask (its instances are its components). */
  SmLayer *layer = self->labels_path ? NULL : labels_layer (self);
  SmVolume shown = { 0 };
  g_autoptr (SmLayer) labels = NULL;
  SmDtype dtype = layer ? sm_layer_get_volume (layer)->dtype : SM_U8;
  if (layer && dtype != SM_U32 && dtype != SM_I32)
    labels = g_object_ref (layer);
  else if (layer && sm_layer_copy_displayed_labels (layer, FALSE, &shown))
    labels = sm_layer_new (SM_LAYER_LABELS, sm_layer_get_name (layer), &shown, NULL, (const int[3]) { 1, 1, 1 });
  else if (layer)
    {
      sm_finetune_panel_fail_message (self, "Out of memory for a copy of the labels");
      sm_finetune_settings_clear (&s);
      return;
    }
  double z, y, x;
  sm_view_state_get_cursor (self->state, &z, &y, &x);
  /* The slab around the crosshair: predicted at step 0, then every N steps. */
  sm_finetune_thread_request_overlay (self->engine, z);
  sm_finetune_thread_start (self->engine, &s, sm_layer_get_volume (image), G_OBJECT (image),
                            labels ? sm_layer_get_volume (labels) : NULL, labels ? G_OBJECT (labels) : NULL);
  self->have_run = TRUE;
  self->stale = FALSE;
  self->image_generation = sm_view_state_get_image_generation (self->state);
  self->run_task = s.task;
  self->run_state = SM_TRAIN_STATE_RUNNING;
  self->last_step = 0;
  self->total_steps = s.steps;
  self->val_step = -1;
  self->n_overlays = 0;
  self->overlay_repaint_total_ms = 0;
  self->segmented = FALSE;
  sm_finetune_plot_clear (self->plot);
  g_clear_pointer (&self->progress_text, g_free);
  gtk_label_set_text (self->status_label, "Starting…");
  gtk_label_set_text (self->result_label, "");
  sm_finetune_settings_clear (&s);
  sm_finetune_panel_update_buttons (self);
}

static void
start (SmFinetunePanel *self)
{
  guint choice = gtk_drop_down_get_selected (self->init_dropdown);
  if (choice == INIT_SCRATCH)
    really_start (self, NULL);
  else if (choice == INIT_FILE)
    {
      if (!self->init_path)
        sm_finetune_panel_fail_message (self,
                                      "Choose a pre-trained checkpoint first (Start from: checkpoint file…)");
      else
        really_start (self, self->init_path);
    }
  else if (!self->pretrain || sm_engine_thread_get_state (self->pretrain) == SM_TRAIN_STATE_IDLE)
    sm_finetune_panel_fail_message (self, "No model pre-trained in this session: pre-train first (Pre-train "
                                          "mode), or start from a checkpoint file or from scratch");
  else
    {
      /* The pre-training engine owns its model: it writes it out, the fine-tune engine reads it in. */
      g_free (self->pending_init);
      self->pending_init = g_build_filename (g_get_tmp_dir (), "semmae-finetune-init-XXXXXX.safetensors", NULL);
      int fd = g_mkstemp (self->pending_init);
      if (fd >= 0)
        close (fd);
      gtk_label_set_text (self->status_label, "Taking the pre-trained model…");
      sm_engine_thread_save_checkpoint (self->pretrain, self->pending_init);
      sm_finetune_panel_update_buttons (self);
    }
}

static void
on_pretrain_saved (SmEngineThread *engine, const char *path, SmFinetunePanel *self)
{
  if (!self->pending_init || g_strcmp0 (path, self->pending_init) != 0)
    return;
  /* The fine-tune thread reads it when the run begins; removed at the run's first state. */
  if (self->temp_init)
    g_unlink (self->temp_init);
  g_free (self->temp_init);
  self->temp_init = g_steal_pointer (&self->pending_init);
  really_start (self, self->temp_init);
}

static void maybe_autostart (SmFinetunePanel *self);

static void
on_pretrain_failed (SmEngineThread *engine, const char *message, SmFinetunePanel *self)
{
  if (!self->pending_init)
    return;
  /* Most likely the hand-over itself (the temp file could not be written): Start again works. */
  g_unlink (self->pending_init);
  g_clear_pointer (&self->pending_init, g_free);
  g_autofree char *text = g_strdup_printf ("Could not take the pre-trained model: %s", message);
  sm_finetune_panel_fail_message (self, text);
  gtk_label_set_text (self->status_label, "");
  sm_finetune_panel_update_buttons (self);
}

static void
set_init_choice (SmFinetunePanel *self, guint choice)
{
  self->syncing = TRUE;
  gtk_drop_down_set_selected (self->init_dropdown, choice);
  self->syncing = FALSE;
}

static void
on_pretrain_state (SmEngineThread *engine, int state, SmFinetunePanel *self)
{
  /* A model exists now: it is the natural start unless the user chose otherwise. */
  if (state != SM_TRAIN_STATE_IDLE && !self->init_touched && !self->have_run)
    set_init_choice (self, INIT_PRETRAINED);
  update_init_label (self);
  maybe_autostart (self);
}

/* --- buttons and files ------------------------------------------------------- */

void
sm_finetune_panel_toggle (SmFinetunePanel *self)
{
  switch (self->run_state)
    {
    case SM_TRAIN_STATE_IDLE:
    case SM_TRAIN_STATE_FINISHED:
      if (self->state && sm_view_state_get_image (self->state) && !self->pending_init)
        start (self);
      break;
    case SM_TRAIN_STATE_RUNNING:
      sm_finetune_thread_pause (self->engine);
      break;
    case SM_TRAIN_STATE_PAUSED:
    case SM_TRAIN_STATE_STOPPED:
      sm_finetune_thread_resume (self->engine);
      break;
    }
}

/* Space belongs to the training of the mode shown. The Pre-train panel binds
 * it window-wide (a global shortcut, handled after the key's bubble phase):
 * while this page is shown, a capture-phase handler on the window takes it
 * first, except from widgets that use Space themselves. */
static gboolean
on_window_key (GtkEventControllerKey *key, guint keyval, guint keycode, GdkModifierType state,
               SmFinetunePanel *self)
{
  if (keyval != GDK_KEY_space || (state & gtk_accelerator_get_default_mod_mask ()) ||
      !gtk_widget_get_mapped (GTK_WIDGET (self)))
    return FALSE;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *focus = root ? gtk_root_get_focus (root) : NULL;
  for (GtkWidget *w = focus; w; w = gtk_widget_get_parent (w))
    if (GTK_IS_EDITABLE (w) || GTK_IS_TEXT_VIEW (w) || GTK_IS_BUTTON (w) || GTK_IS_CHECK_BUTTON (w) ||
        GTK_IS_DROP_DOWN (w))
      return FALSE;
  sm_finetune_panel_toggle (self);
  return TRUE;
}

static void
on_root (SmFinetunePanel *self, GParamSpec *pspec, gpointer data)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  if (!root || g_object_get_data (G_OBJECT (root), "sm-finetune-space"))
    return;
  GtkEventController *key = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (key, GTK_PHASE_CAPTURE);
  g_signal_connect_object (key, "key-pressed", G_CALLBACK (on_window_key), self, 0);
  gtk_widget_add_controller (GTK_WIDGET (root), key);
  g_object_set_data (G_OBJECT (root), "sm-finetune-space", key);
}

static void on_start_clicked (GtkButton *b, SmFinetunePanel *self) { start (self); }
static void on_stop_clicked (GtkButton *b, SmFinetunePanel *self) { sm_finetune_thread_stop (self->engine); }

static void
on_pause_clicked (GtkButton *b, SmFinetunePanel *self)
{
  if (self->run_state == SM_TRAIN_STATE_RUNNING)
    sm_finetune_thread_pause (self->engine);
  else
    sm_finetune_thread_resume (self->engine);
}

static void
on_segment_clicked (GtkButton *b, SmFinetunePanel *self)
{
  if (self->segmenting)
    {
      sm_finetune_thread_cancel (self->engine);
      return;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->segment_progress), TRUE);
  gtk_progress_bar_set_fraction (self->segment_progress, 0);
  gtk_progress_bar_set_text (self->segment_progress, "Segmenting the volume (after the current step)…");
  sm_finetune_panel_segment (self);
}

static void
on_file_chosen (GtkWidget *panel, int kind, const char *chosen)
{
  SmFinetunePanel *self = SM_FINETUNE_PANEL (panel);
  g_autofree char *path = g_strdup (chosen);
  if (path)
    switch ((FileKind) kind)
      {
      case FILE_LABELS:
        g_free (self->labels_path);
        self->labels_path = g_steal_pointer (&path);
        update_labels_label (self);
        break;
      case FILE_INIT:
        g_free (self->init_path);
        self->init_path = g_steal_pointer (&path);
        break;
      case FILE_SAVE_MODEL:
        sm_finetune_thread_save (self->engine, path);
        break;
      }
  update_init_label (self);
}

static void
run_file_dialog (SmFinetunePanel *self, FileKind kind)
{
  static const SmPanelFileDialog dialogs[] = {
    [FILE_LABELS] = { "Labels for Fine-tuning", FALSE, NULL, FALSE },
    [FILE_INIT] = { "A Pre-trained Model", FALSE, NULL, TRUE },
    [FILE_SAVE_MODEL] = { "Save the Fine-tuned Model", TRUE, "segmentation.safetensors", TRUE },
  };
  sm_panel_run_file_dialog (GTK_WIDGET (self), &dialogs[kind], kind, on_file_chosen);
}

static void on_labels_clicked (GtkButton *b, SmFinetunePanel *self) { run_file_dialog (self, FILE_LABELS); }
static void on_save_clicked (GtkButton *b, SmFinetunePanel *self) { run_file_dialog (self, FILE_SAVE_MODEL); }

static void
on_init_changed (GtkDropDown *dropdown, GParamSpec *pspec, SmFinetunePanel *self)
{
  update_init_label (self);
}

static void
on_init_activated (GtkDropDown *dropdown, GParamSpec *pspec, SmFinetunePanel *self)
{
  /* A choice made by the user: keep it, and ask for the file. */
  if (self->syncing)
    return;
  self->init_touched = TRUE;
  if (gtk_drop_down_get_selected (dropdown) == INIT_FILE)
    run_file_dialog (self, FILE_INIT);
}

static void
on_overlay_every_changed (GtkAdjustment *adjustment, SmFinetunePanel *self)
{
  sm_finetune_thread_set_overlay_every (self->engine, (int) gtk_adjustment_get_value (adjustment));
}

/* --- the view state ------------------------------------------------------------ */

static void
maybe_autostart (SmFinetunePanel *self)
{
  if (!self->autostart_pending || !self->state || !sm_view_state_get_image (self->state))
    return;
  if (!self->labels_path && !labels_layer (self))
    return; /* the label layer is still being read */
  SmTrainState pre = self->pretrain ? sm_engine_thread_get_state (self->pretrain) : SM_TRAIN_STATE_IDLE;
  if (gtk_drop_down_get_selected (self->init_dropdown) == INIT_PRETRAINED && self->autostart.after_pretrain &&
      (pre == SM_TRAIN_STATE_IDLE || pre == SM_TRAIN_STATE_RUNNING))
    return; /* fine-tunes what the autostarted pre-training run ends with */
  self->autostart_pending = FALSE;
  self->autostart_active = TRUE;
  start (self);
}

static void
on_image (SmViewState *state, GParamSpec *pspec, SmFinetunePanel *self)
{
  SmLayer *image = sm_view_state_get_image (state);
  if (image)
    {
      const SmVolume *v = sm_layer_get_volume (image);
      gtk_adjustment_set_upper (self->val_from_adjustment, (double) v->nz);
      gtk_adjustment_set_upper (self->val_to_adjustment, (double) v->nz);
      if (self->have_run && !self->stale && sm_view_state_get_image_generation (state) != self->image_generation)
        {
          /* The run trains on its own copy of the previous image: it must not paint over this one. */
          sm_finetune_thread_stop (self->engine);
          self->stale = TRUE;
          /* The slab prediction goes; results (segmentation, probabilities) stay for the user to keep. */
          if (self->overlay_layer)
            sm_view_state_remove_layer (state, self->overlay_layer);
          g_clear_object (&self->overlay_layer);
          g_clear_object (&self->segment_layer);
          g_clear_object (&self->probability_layer);
          sm_finetune_panel_fail_message (self, "Another image was opened: the run was stopped "
                                                "(Save model… still saves it)");
        }
    }
  sm_finetune_panel_update_buttons (self);
  maybe_autostart (self);
}

static void
on_layers_changed (SmViewState *state, SmFinetunePanel *self)
{
  update_labels_label (self);
  maybe_autostart (self);
}

static void
on_cursor (SmViewState *state, GParamSpec *pspec, SmFinetunePanel *self)
{
  if (!self->have_run || self->stale || self->overlay_depth <= 0)
    return;
  double z, y, x;
  sm_view_state_get_cursor (state, &z, &y, &x);
  if (z >= (double) self->overlay_z0 && z < (double) (self->overlay_z0 + self->overlay_depth))
    return;
  /* Scrolled past the predicted slab: the slices now in view get predicted. */
  sm_finetune_thread_request_overlay (self->engine, z);
  self->overlay_z0 = (gint64) z - self->overlay_depth / 2;
}

void
sm_finetune_panel_set_state (SmFinetunePanel *self, SmViewState *state)
{
  g_return_if_fail (self->state == NULL);
  self->state = g_object_ref (state);
  g_signal_connect (state, "notify::image", G_CALLBACK (on_image), self);
  g_signal_connect (state, "notify::cursor", G_CALLBACK (on_cursor), self);
  g_signal_connect (state, "changed", G_CALLBACK (on_layers_changed), self);
  on_image (state, NULL, self);
  update_labels_label (self);
}

void
sm_finetune_panel_set_pretrain_engine (SmFinetunePanel *self, SmEngineThread *engine)
{
  self->pretrain = engine;
  g_object_add_weak_pointer (G_OBJECT (engine), (gpointer *) &self->pretrain);
  g_signal_connect_object (engine, "checkpoint-saved", G_CALLBACK (on_pretrain_saved), self, 0);
  g_signal_connect_object (engine, "state", G_CALLBACK (on_pretrain_state), self, 0);
  g_signal_connect_object (engine, "failed", G_CALLBACK (on_pretrain_failed), self, 0);
  update_init_label (self);
}

void
sm_finetune_panel_autostart (SmFinetunePanel *self, const SmFinetuneAutostart *a)
{
  self->autostart = *a;
  self->autostart.task = self->autostart.labels_path = self->autostart.init = NULL;
  SegTask task = SEG_TASK_NEURONS;
  if (a->task && seg_task_parse (a->task, &task) != 0)
    g_printerr ("semmae-studio: unknown task '%s' (neurons, mito, membrane): using neurons\n", a->task);
  gtk_drop_down_set_selected (self->task_dropdown, task);
  if (a->labels_path)
    {
      g_free (self->labels_path);
      self->labels_path = g_strdup (a->labels_path);
    }
  self->init_touched = TRUE;
  if (!a->init || g_strcmp0 (a->init, "scratch") == 0)
    set_init_choice (self, INIT_SCRATCH);
  else if (g_strcmp0 (a->init, "pretrained") == 0)
    set_init_choice (self, INIT_PRETRAINED);
  else
    {
      g_free (self->init_path);
      self->init_path = g_strdup (a->init);
      set_init_choice (self, INIT_FILE);
    }
  if (a->steps > 0)
    gtk_adjustment_set_value (self->steps_adjustment, (double) a->steps);
  gtk_adjustment_set_upper (self->val_from_adjustment, MAX (gtk_adjustment_get_upper (self->val_from_adjustment), a->val_z1));
  gtk_adjustment_set_upper (self->val_to_adjustment, MAX (gtk_adjustment_get_upper (self->val_to_adjustment), a->val_z1));
  gtk_adjustment_set_value (self->val_from_adjustment, (double) a->val_z0);
  gtk_adjustment_set_value (self->val_to_adjustment, (double) a->val_z1);
  gtk_adjustment_set_value (self->overlay_every_adjustment, a->overlay_every);
  if (a->val_every > 0)
    gtk_adjustment_set_value (self->val_every_adjustment, a->val_every);
  self->autostart_segment = a->segment;
  self->autostart_pending = TRUE;
  update_labels_label (self);
  update_init_label (self);
  maybe_autostart (self);
}

/* --- GObject ------------------------------------------------------------------- */

static void
sm_finetune_panel_dispose (GObject *object)
{
  SmFinetunePanel *self = SM_FINETUNE_PANEL (object);
  if (self->state)
    g_signal_handlers_disconnect_by_data (self->state, self);
  if (self->pretrain)
    {
      g_signal_handlers_disconnect_by_data (self->pretrain, self);
      g_object_remove_weak_pointer (G_OBJECT (self->pretrain), (gpointer *) &self->pretrain);
      self->pretrain = NULL;
    }
  if (self->engine)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  /* Stops the run and joins the fine-tune thread. */
  g_clear_object (&self->engine);
  g_clear_object (&self->overlay_layer);
  g_clear_object (&self->segment_layer);
  g_clear_object (&self->probability_layer);
  g_clear_object (&self->state);
  gtk_widget_dispose_template (GTK_WIDGET (self), SM_TYPE_FINETUNE_PANEL);
  G_OBJECT_CLASS (sm_finetune_panel_parent_class)->dispose (object);
}

static void
sm_finetune_panel_finalize (GObject *object)
{
  SmFinetunePanel *self = SM_FINETUNE_PANEL (object);
  g_free (self->summary);
  g_free (self->progress_text);
  g_free (self->labels_path);
  g_free (self->init_path);
  if (self->pending_init)
    g_unlink (self->pending_init);
  if (self->temp_init)
    g_unlink (self->temp_init);
  g_free (self->pending_init);
  g_free (self->temp_init);
  G_OBJECT_CLASS (sm_finetune_panel_parent_class)->finalize (object);
}

static void
sm_finetune_panel_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  SmFinetunePanel *self = SM_FINETUNE_PANEL (object);
  if (id == PROP_SUMMARY)
    g_value_set_string (value, self->summary ? self->summary : "");
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
sm_finetune_panel_class_init (SmFinetunePanelClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  G_OBJECT_CLASS (klass)->dispose = sm_finetune_panel_dispose;
  G_OBJECT_CLASS (klass)->finalize = sm_finetune_panel_finalize;
  G_OBJECT_CLASS (klass)->get_property = sm_finetune_panel_get_property;
  props[PROP_SUMMARY] = sm_panel_summary_param ();
  g_object_class_install_properties (G_OBJECT_CLASS (klass), N_PROPS, props);
  g_type_ensure (SM_TYPE_FINETUNE_PLOT);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/semmae/Studio/ui/sm-finetune-panel.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, SmFinetunePanel, name)
  BIND (box);
  BIND (task_dropdown);
  BIND (init_dropdown);
  BIND (labels_button);
  BIND (start_button);
  BIND (pause_button);
  BIND (stop_button);
  BIND (segment_button);
  BIND (save_button);
  BIND (labels_label);
  BIND (init_label);
  BIND (status_label);
  BIND (overlay_label);
  BIND (result_label);
  BIND (steps_adjustment);
  BIND (lr_adjustment);
  BIND (batch_adjustment);
  BIND (overlay_every_adjustment);
  BIND (val_every_adjustment);
  BIND (val_from_adjustment);
  BIND (val_to_adjustment);
  BIND (segment_progress);
  BIND (freeze_check);
  BIND (plot);
#undef BIND
}

static void
sm_finetune_panel_init (SmFinetunePanel *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->engine = sm_finetune_thread_new ();
  self->overlay_step = -1;
  self->val_step = -1;
  set_init_choice (self, INIT_SCRATCH);
  sm_finetune_panel_connect_run (self);
  g_signal_connect (self->start_button, "clicked", G_CALLBACK (on_start_clicked), self);
  g_signal_connect (self->pause_button, "clicked", G_CALLBACK (on_pause_clicked), self);
  g_signal_connect (self->stop_button, "clicked", G_CALLBACK (on_stop_clicked), self);
  g_signal_connect (self->segment_button, "clicked", G_CALLBACK (on_segment_clicked), self);
  g_signal_connect (self->save_button, "clicked", G_CALLBACK (on_save_clicked), self);
  g_signal_connect (self->labels_button, "clicked", G_CALLBACK (on_labels_clicked), self);
  g_signal_connect (self->init_dropdown, "notify::selected", G_CALLBACK (on_init_changed), self);
  g_signal_connect_after (self->init_dropdown, "notify::selected", G_CALLBACK (on_init_activated), self);
  g_signal_connect (self->overlay_every_adjustment, "value-changed", G_CALLBACK (on_overlay_every_changed), self);
  update_init_label (self);
  sm_finetune_panel_update_buttons (self);
  g_signal_connect (self, "notify::root", G_CALLBACK (on_root), NULL);
}
