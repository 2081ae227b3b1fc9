/* SmLossPlot: the masked-loss curve of a pre-training run (raw and
 * exponentially smoothed), with markers where the masking ratio or the
 * learning rate changed. Scroll zooms the step axis about the pointer, drag
 * pans, double-click shows everything again. Exports CSV and PNG. */
#pragma once

#include <gtk/gtk.h>

#include "sm-engine-thread.h"

G_BEGIN_DECLS

#define SM_TYPE_LOSS_PLOT (sm_loss_plot_get_type ())
G_DECLARE_FINAL_TYPE (SmLossPlot, sm_loss_plot, SM, LOSS_PLOT, GtkDrawingArea)

GtkWidget *sm_loss_plot_new (void);
void sm_loss_plot_clear (SmLossPlot *self);
/* Points in step order; a change of mask ratio between points is marked. */
void sm_loss_plot_add_points (SmLossPlot *self, const SmTrainPoint *points, guint n);
/* A marker at `step` (e.g. "lr 5e-4" where the user changed the learning rate). */
void sm_loss_plot_add_marker (SmLossPlot *self, gint64 step, const char *label);
guint sm_loss_plot_get_n_points (SmLossPlot *self);
/* Mean smoothed loss: of the first and of the last points (for reports). */
double sm_loss_plot_get_smoothed (SmLossPlot *self, guint index);

gboolean sm_loss_plot_export_csv (SmLossPlot *self, const char *path, GError **error);
gboolean sm_loss_plot_export_png (SmLossPlot *self, const char *path, int width, int height,
                                  GError **error);

G_END_DECLS
