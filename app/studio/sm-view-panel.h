/* SmViewPanel: the View mode's side panel — contrast (black/white points,
 * gamma, auto, invert), sampling, and the overlay layers (show/hide,
 * opacity, outline, order, remove) of an SmViewState. */
#pragma once

#include <gtk/gtk.h>

#include "sm-view-state.h"

G_BEGIN_DECLS

#define SM_TYPE_VIEW_PANEL (sm_view_panel_get_type ())
G_DECLARE_FINAL_TYPE (SmViewPanel, sm_view_panel, SM, VIEW_PANEL, GtkWidget)

void sm_view_panel_set_state (SmViewPanel *self, SmViewState *state);

G_END_DECLS
