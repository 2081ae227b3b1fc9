/* SmFinetunePlot: the fine-tuning curves side by side on one step axis — the
 * training loss (raw and smoothed, left scale) and the validation metric
 * (points joined, right scale, its name and direction in the legend). */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SM_TYPE_FINETUNE_PLOT (sm_finetune_plot_get_type ())
G_DECLARE_FINAL_TYPE (SmFinetunePlot, sm_finetune_plot, SM, FINETUNE_PLOT, GtkDrawingArea)

GtkWidget *sm_finetune_plot_new (void);
void sm_finetune_plot_clear (SmFinetunePlot *self);
void sm_finetune_plot_add_loss (SmFinetunePlot *self, gint64 step, double loss);
/* name: e.g. "arand"; lower_is_better shown as ↓ / ↑. */
void sm_finetune_plot_add_metric (SmFinetunePlot *self, gint64 step, double value, const char *name,
                                  gboolean lower_is_better);
guint sm_finetune_plot_get_n_loss (SmFinetunePlot *self);
guint sm_finetune_plot_get_n_metric (SmFinetunePlot *self);

G_END_DECLS
