/* SmProofreadSegments: the Proofread panel's segment list as a GListModel of
 * SmSegmentItem, largest first (ties by id), kept in step with the label
 * store edit by edit: only the rows of the segments an edit touched are
 * removed and re-inserted at their new place (items-changed on those
 * positions), so a merge or a stroke costs O(changed · log n), not a rebuild.
 * sm_proofread_segments_filter_new gives the search (id prefix or name
 * substring, as sm_label_search). Main thread only. */
#pragma once

#include <gtk/gtk.h>

#include "data/label_store.h"

G_BEGIN_DECLS

#define SM_TYPE_SEGMENT_ITEM (sm_segment_item_get_type ())
G_DECLARE_FINAL_TYPE (SmSegmentItem, sm_segment_item, SM, SEGMENT_ITEM, GObject)

guint32 sm_segment_item_get_id (SmSegmentItem *self);
guint64 sm_segment_item_get_voxels (SmSegmentItem *self);
const char *sm_segment_item_get_name (SmSegmentItem *self); /* NULL when unnamed */
guint32 sm_segment_item_get_flags (SmSegmentItem *self);    /* SM_SEGMENT_* */
guint32 sm_segment_item_get_color (SmSegmentItem *self);    /* 0xRRGGBB, as drawn */

#define SM_TYPE_PROOFREAD_SEGMENTS (sm_proofread_segments_get_type ())
G_DECLARE_FINAL_TYPE (SmProofreadSegments, sm_proofread_segments, SM, PROOFREAD_SEGMENTS, GObject)

SmProofreadSegments *sm_proofread_segments_new (void);
/* All rows again from the store (NULL: empty): on open / close. */
void sm_proofread_segments_reset (SmProofreadSegments *self, const SmLabelStore *store);
/* After an edit: the rows of `ids` (SmLabelChange.ids) follow the store —
 * updated, moved, added or removed. */
void sm_proofread_segments_update (SmProofreadSegments *self, const SmLabelStore *store, const guint32 *ids,
                                   gsize n_ids);
/* The row of a segment, or FALSE. */
gboolean sm_proofread_segments_find (SmProofreadSegments *self, guint32 id, guint *position);
/* Counts of items-changed rows since creation (tests: edits touch few rows). */
guint64 sm_proofread_segments_rows_touched (SmProofreadSegments *self);

/* A filter for the search entry: id prefix when the query is all digits, or
 * a case-insensitive name substring; empty matches all. */
GtkFilter *sm_proofread_segments_filter_new (void);
void sm_proofread_segments_filter_set_query (GtkFilter *filter, const char *query);

G_END_DECLS
