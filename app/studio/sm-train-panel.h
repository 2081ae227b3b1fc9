/* SmTrainPanel: the Pre-train side panel (template ui/sm-train-panel.ui) —
 * model config, masking ratio (effective at the next step), learning rate,
 * batch, steps; start / pause-resume / stop / one step; step, loss, steps/s,
 * ETA; the loss plot; the original | masked | reconstruction preview at the
 * crosshair; the reconstruction-error overlay; checkpoints. It owns the
 * SmEngineThread, so training goes on whichever mode the window shows, and
 * ends (thread joined) when the panel is disposed with the window. */
#pragma once

#include <gtk/gtk.h>

#include "sm-engine-thread.h"
#include "sm-view-state.h"

G_BEGIN_DECLS

#define SM_TYPE_TRAIN_PANEL (sm_train_panel_get_type ())
G_DECLARE_FINAL_TYPE (SmTrainPanel, sm_train_panel, SM, TRAIN_PANEL, GtkWidget)

/* Property "summary": one line ("training: step … · loss … · steps/s · ETA …"),
 * empty before the first run; the window's status bar shows it. */

/* The image to train on and the crosshair that places the preview. */
void sm_train_panel_set_state (SmTrainPanel *self, SmViewState *state);
SmEngineThread *sm_train_panel_get_engine (SmTrainPanel *self);

/* Test and demo hook: start a run of `steps` steps (preview every `preview_every`)
 * as soon as an image is there. is_settled is FALSE from then until the run
 * has finished and its final preview is drawn (wait_for_end), or else until
 * a preview after the first step has arrived (benchmarks while training). */
void sm_train_panel_autostart (SmTrainPanel *self, gint64 steps, int preview_every, gboolean wait_for_end);
gboolean sm_train_panel_is_settled (SmTrainPanel *self);
/* For tests: "preview <name> bounds x y w h" lines, in `root`'s PNG coordinates. */
void sm_train_panel_print_geometry (SmTrainPanel *self, GtkWidget *root);

/* Continues a saved run (its config, step, optimizer state, masking ratio,
 * batch): paused until resumed. What Load… does. */
void sm_train_panel_load_checkpoint (SmTrainPanel *self, const char *path);

/* Moves the masking slider (as the user would): effective at the next step. */
void sm_train_panel_set_mask_ratio (SmTrainPanel *self, double ratio);

/* Space: start when idle, else pause / resume. */
void sm_train_panel_toggle (SmTrainPanel *self);

G_END_DECLS
