/* Saving what a widget (usually the whole window) shows, GL areas included,
 * as a PNG: the widget's render nodes are drawn by the window's own renderer
 * into a texture. Main thread only. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Saves what the widget shows now (GL areas included) as a PNG, atomically.
 * Fails with G_IO_ERROR_PENDING while the widget has not drawn anything yet. */
gboolean sm_widget_save_png (GtkWidget *widget, const char *path, GError **error);

/* Where a descendant is in that PNG: its bounds relative to the widget's own
 * bounds (which may start at negative coordinates on a decorated window). */
gboolean sm_widget_bounds_in_png (GtkWidget *widget, GtkWidget *descendant, graphene_rect_t *out);

G_END_DECLS
