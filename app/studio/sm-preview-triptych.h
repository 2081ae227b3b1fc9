/* SmPreviewTriptych: what the masked autoencoder sees and makes of one crop —
 * original | masked input (masked tokens greyed) | reconstruction (visible
 * tokens pasted, masked ones predicted and de-normalised) — one z slice of
 * the crop at a time, with a z scrubber. */
#pragma once

#include <gtk/gtk.h>

#include "sm-engine-thread.h"

G_BEGIN_DECLS

#define SM_TYPE_PREVIEW_TRIPTYCH (sm_preview_triptych_get_type ())
G_DECLARE_FINAL_TYPE (SmPreviewTriptych, sm_preview_triptych, SM, PREVIEW_TRIPTYCH, GtkWidget)

GtkWidget *sm_preview_triptych_new (void);
/* Copies the preview (the caller keeps its own). NULL clears. */
void sm_preview_triptych_set_preview (SmPreviewTriptych *self, const SmTrainPreview *preview);
gboolean sm_preview_triptych_has_preview (SmPreviewTriptych *self);
/* The pane rectangles (original, masked, reconstruction) in the widget's
 * coordinates, as last drawn; FALSE before the first draw of a preview. */
gboolean sm_preview_triptych_get_panes (SmPreviewTriptych *self, graphene_rect_t panes[3]);
GtkWidget *sm_preview_triptych_get_area (SmPreviewTriptych *self);

G_END_DECLS
