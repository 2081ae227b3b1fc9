/* SmProofreadController: proofreading of the active label layer. Owns the
 * SmLabelStore (data/label_store.h) made from that layer, its crash journal
 * and the tool state (select, split, paint, erase, fill), exposes every tool
 * as an action of the "proof" group with its key, and keeps the views in
 * step with each edit: the changed box is re-uploaded into the layer's
 * texture and the 3D view's label volume, selected surfaces are rebuilt. */
#pragma once

#include <gtk/gtk.h>

#include "data/label_store.h"
#include "sm-proofread-segments.h"
#include "sm-slice-view.h"
#include "sm-view-state.h"
#include "sm-volume-view.h"

G_BEGIN_DECLS

typedef enum {
  SM_TOOL_SELECT,
  SM_TOOL_SPLIT,
  SM_TOOL_PAINT,
  SM_TOOL_ERASE,
  SM_TOOL_FILL,
} SmProofTool;

#define SM_TYPE_PROOFREAD_CONTROLLER (sm_proofread_controller_get_type ())
G_DECLARE_FINAL_TYPE (SmProofreadController, sm_proofread_controller, SM, PROOFREAD_CONTROLLER, GObject)

/* views: the three slice views (XY, XZ, YZ); volume_view may be NULL. */
SmProofreadController *sm_proofread_controller_new (SmViewState *state, SmSliceView *views[3],
                                                    SmVolumeView *volume_view);
/* Adds the "proof" action group and the tool keys to window. */
void sm_proofread_controller_install (SmProofreadController *self, GtkWindow *window);

/* Where a label layer was read from (saved back there with Ctrl+S). */
void sm_proofread_set_layer_path (gpointer layer, const char *path);

SmLabelStore *sm_proofread_controller_get_store (SmProofreadController *self);
/* The segment list (largest first), updated row by row with each edit. */
SmProofreadSegments *sm_proofread_controller_get_segments (SmProofreadController *self);
/* Loading or saving the labels, a fill or split computing, a replace
 * question open or a test script running: edits wait, screenshots too. */
gboolean sm_proofread_controller_is_busy (SmProofreadController *self);
const char *sm_proofread_controller_get_path (SmProofreadController *self);
SmProofTool sm_proofread_controller_get_tool (SmProofreadController *self);
double sm_proofread_controller_get_brush_radius (SmProofreadController *self);
gboolean sm_proofread_controller_get_brush_3d (SmProofreadController *self);
/* Selected segments, first = the one merges keep. */
const guint32 *sm_proofread_controller_get_selection (SmProofreadController *self, gsize *n);
void sm_proofread_controller_select (SmProofreadController *self, guint32 id, gboolean add);
/* Centres the views on the segment. */
void sm_proofread_controller_jump_to (SmProofreadController *self, guint32 id);
/* One-line status: tool, brush, undo memory / cap, journal state. */
char *sm_proofread_controller_describe (SmProofreadController *self);
gboolean sm_proofread_controller_has_unsaved (SmProofreadController *self);
/* Runs a script of actions (tests): one "action [argument]" per line, see the .c file. */
gboolean sm_proofread_controller_run_script (SmProofreadController *self, const char *path,
                                             GError **error);

G_END_DECLS
