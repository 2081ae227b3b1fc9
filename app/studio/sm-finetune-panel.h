/* SmFinetunePanel: the Fine-tune side panel (template ui/sm-finetune-panel.ui)
 * — task, labels (a file or the open label layer), initial encoder (the model
 * pre-trained in this session, a checkpoint or scratch), held-out validation
 * slices, steps, lr, batch; start / pause-resume / stop; the loss and the
 * validation metric on one plot; the prediction of the slices around the
 * crosshair as a map layer repainted every N steps; "Segment volume" (an
 * editable label layer + a probability layer); saving the fine-tuned model.
 * It owns the SmFinetuneThread: training goes on whichever mode is shown and
 * ends (thread joined) when the panel is disposed. */
#pragma once

#include <gtk/gtk.h>

#include "sm-engine-thread.h"
#include "sm-view-state.h"

G_BEGIN_DECLS

#define SM_TYPE_FINETUNE_PANEL (sm_finetune_panel_get_type ())
G_DECLARE_FINAL_TYPE (SmFinetunePanel, sm_finetune_panel, SM, FINETUNE_PANEL, GtkWidget)

/* Property "summary": one status-bar line while a run exists, else empty. */

void sm_finetune_panel_set_state (SmFinetunePanel *self, SmViewState *state);
/* The pre-training engine whose model "model pre-trained here" starts from. */
void sm_finetune_panel_set_pretrain_engine (SmFinetunePanel *self, SmEngineThread *engine);

/* Space while the page is shown: start when idle, else pause / resume. */
void sm_finetune_panel_toggle (SmFinetunePanel *self);

/* Test and demo hook: what the command line asks (--finetune-*). */
typedef struct {
  gint64 steps;
  const char *task;         /* "neurons", "mito", "membrane" */
  const char *labels_path;  /* NULL: the first label layer */
  const char *init;         /* a checkpoint, "pretrained" or NULL/"scratch" */
  gint64 val_z0, val_z1;
  int overlay_every;
  int val_every;
  gboolean segment;         /* "Segment volume" once the run has finished */
  gboolean after_pretrain;  /* an autostarted pre-training run comes first (init "pretrained") */
} SmFinetuneAutostart;

/* Starts as soon as the image (and its label layers) are in; is_settled is
 * FALSE from then until the run has finished, its final overlay and
 * validation are drawn and, with `segment`, the label layer is added. */
void sm_finetune_panel_autostart (SmFinetunePanel *self, const SmFinetuneAutostart *a);
gboolean sm_finetune_panel_is_settled (SmFinetunePanel *self);
/* For tests: "finetune …" lines (step, loss, metric points, overlay, segments). */
void sm_finetune_panel_print_summary (SmFinetunePanel *self);

G_END_DECLS
