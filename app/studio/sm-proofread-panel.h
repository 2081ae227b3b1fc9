/* SmProofreadPanel: the Proofread mode's side panel — tool buttons with their
 * keys, brush size and 2D/3D, segment actions, undo/redo/save, the undo
 * history memory and a searchable segment list (id, name, size) whose rows
 * jump the views to the segment. Everything goes through the "proof" actions
 * of an SmProofreadController. */
#pragma once

#include <gtk/gtk.h>

#include "sm-proofread-controller.h"

G_BEGIN_DECLS

#define SM_TYPE_PROOFREAD_PANEL (sm_proofread_panel_get_type ())
G_DECLARE_FINAL_TYPE (SmProofreadPanel, sm_proofread_panel, SM, PROOFREAD_PANEL, GtkWidget)

void sm_proofread_panel_set_controller (SmProofreadPanel *self, SmProofreadController *controller);

G_END_DECLS
