/* SmFinetunePanel internals shared by sm-finetune-panel.c (the controls:
 * settings, starting a run, files, the view state, the GObject) and
 * sm-finetune-panel-run.c (what the run reports: state, progress,
 * validation, overlays, segmentation, and the test hooks that read them). */
#pragma once

#include "sm-finetune-panel.h"
#include "sm-finetune-plot.h"
#include "sm-finetune-thread.h"

G_BEGIN_DECLS

struct _SmFinetunePanel {
  GtkWidget parent_instance;

  SmViewState *state;
  SmEngineThread *pretrain;      /* borrowed from the Pre-train panel, weak */
  SmFinetuneThread *engine;
  SmTrainState run_state;
  gboolean have_run;
  gboolean stale;                /* the image was replaced: the run's volume is not the one shown */
  guint image_generation;
  SegTask run_task;
  char *labels_path, *init_path;
  char *pending_init;            /* waiting for the pre-training engine to save this */
  char *temp_init;               /* the last one, removed with the panel */
  gboolean syncing;              /* programmatic dropdown changes */
  gboolean init_touched;         /* the user chose an init: no more automatic choice */
  gint64 last_step, total_steps;
  double last_loss, steps_per_second, step_ms;
  int init_tensors;
  char *summary;
  char *progress_text;           /* the status line of the last step (back after "validating…") */
  /* the prediction overlay */
  SmLayer *overlay_layer, *segment_layer, *probability_layer;
  gint64 overlay_z0;
  int overlay_depth;
  gint64 overlay_step;
  guint n_overlays;
  double overlay_compute_ms, overlay_repaint_ms; /* of the last one */
  double overlay_repaint_total_ms;
  /* validation */
  gint64 val_step;
  double val_metric;
  char val_name[32];
  gint64 n_segments;
  /* autostart (tests, demos) */
  gboolean autostart_pending, autostart_active, autostart_segment, autostart_segment_sent;
  gboolean settled_failed;
  gboolean segmented;
  gboolean segmenting;           /* the segment button cancels meanwhile */
  SmFinetuneAutostart autostart; /* its strings are the caller's: not kept */

  GtkWidget *box;
  GtkDropDown *task_dropdown, *init_dropdown;
  GtkButton *labels_button, *start_button, *pause_button, *stop_button, *segment_button, *save_button;
  GtkLabel *labels_label, *init_label, *status_label, *overlay_label, *result_label;
  GtkAdjustment *steps_adjustment, *lr_adjustment, *batch_adjustment, *overlay_every_adjustment,
      *val_every_adjustment, *val_from_adjustment, *val_to_adjustment;
  GtkProgressBar *segment_progress;
  GtkCheckButton *freeze_check;
  SmFinetunePlot *plot;
};

/* sm-finetune-panel.c */
void sm_finetune_panel_set_summary (SmFinetunePanel *self, const char *text);
void sm_finetune_panel_update_buttons (SmFinetunePanel *self);
/* In the result line; on stderr too (and the autostarted run is settled) under autostart. */
void sm_finetune_panel_fail_message (SmFinetunePanel *self, const char *message);

/* sm-finetune-panel-run.c */
void sm_finetune_panel_connect_run (SmFinetunePanel *self); /* the engine's signals */
void sm_finetune_panel_segment (SmFinetunePanel *self);     /* "Segment volume" */

G_END_DECLS
