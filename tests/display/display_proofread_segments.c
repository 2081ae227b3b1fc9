/* display_proofread_segments: the Proofread panel's segment list model
 * (app/studio/sm-proofread-segments.c) follows edits row by row. On a
 * phantom's labels: after each merge, stroke, delete, undo and redo the model
 * equals the store's table sorted largest first (ids, sizes), while the rows
 * it reported as changed stay a handful per edit (no rebuild); the search
 * filter finds segments by id prefix and by name. No display needed. */
#include <gtk/gtk.h>
#include <inttypes.h>
#include <stdlib.h>

#include "data/label_edit.h"
#include "data/label_stats.h"
#include "data/label_undo.h"
#include "data/phantom.h"
#include "sm-proofread-segments.h"
#include "tap.h"

typedef struct {
  SmProofreadSegments *model;
  const SmLabelStore *store;
  GArray *ids; /* a stroke's segments, gathered until it ends (as the controller does) */
  gboolean truncated;
} Ctx;

static void
on_change (const SmLabelChange *change, void *user)
{
  Ctx *ctx = user;
  g_array_append_vals (ctx->ids, change->ids, (guint) change->n_ids);
  ctx->truncated |= change->ids_truncated;
  if (change->in_progress)
    return;
  if (ctx->truncated)
    sm_proofread_segments_reset (ctx->model, ctx->store);
  else
    sm_proofread_segments_update (ctx->model, ctx->store, (const guint32 *) ctx->ids->data, ctx->ids->len);
  g_array_set_size (ctx->ids, 0);
  ctx->truncated = FALSE;
}

/* The model equals the store's table in SM_ORDER_SIZE order. */
static gboolean
model_matches (SmProofreadSegments *model, const SmLabelStore *store, char *why, size_t len)
{
  size_t n = sm_label_store_n_segments (store);
  guint m = g_list_model_get_n_items (G_LIST_MODEL (model));
  if (m != n)
    return snprintf (why, len, "%u rows for %zu segments", m, n), FALSE;
  const SmSegment **sorted = sm_label_sorted_segments (store, SM_ORDER_SIZE);
  gboolean ok = TRUE;
  for (size_t i = 0; i < n && ok; i++)
    {
      g_autoptr (SmSegmentItem) item = g_list_model_get_item (G_LIST_MODEL (model), (guint) i);
      ok = sm_segment_item_get_id (item) == sorted[i]->id && sm_segment_item_get_voxels (item) == sorted[i]->voxels &&
           sm_segment_item_get_color (item) == sorted[i]->color && sm_segment_item_get_flags (item) == sorted[i]->flags;
      if (!ok)
        snprintf (why, len, "row %zu: %u (%" G_GUINT64_FORMAT " voxels), table: %u (%" PRIu64 ")", i,
                  sm_segment_item_get_id (item), sm_segment_item_get_voxels (item), sorted[i]->id, sorted[i]->voxels);
    }
  free (sorted);
  return ok;
}

int
main (void)
{
  SmPhantomParams params;
  sm_phantom_default_params (&params);
  params.nz = 16, params.ny = 128, params.nx = 128;
  SmVolume image = { 0 }, labels = { 0 };
  SmError err = { { 0 } };
  TAP_OK (sm_phantom_generate (&params, &image, &labels, NULL, &err) == 0, "phantom %s", err.message);
  SmLabelStore *s = sm_label_store_adopt (&labels, "phantom", &err);
  TAP_OK (s != NULL, "store %s", err.message);
  if (!s)
    return tap_done ();
  Ctx ctx = { sm_proofread_segments_new (), s, g_array_new (FALSE, FALSE, sizeof (guint32)), FALSE };
  char why[256] = "";
  sm_proofread_segments_reset (ctx.model, s);
  TAP_OK (model_matches (ctx.model, s, why, sizeof why), "after reset: %zu rows, largest first %s",
          sm_label_store_n_segments (s), why);
  sm_label_store_set_listener (s, on_change, &ctx);

  const SmSegment **sorted = sm_label_sorted_segments (s, SM_ORDER_SIZE);
  uint32_t a = sorted[0]->id, b = sorted[1]->id, c = sorted[2]->id;
  free (sorted);
  guint64 before = sm_proofread_segments_rows_touched (ctx.model);
  uint32_t pair[2] = { a, b };
  TAP_OK (sm_label_merge (s, pair, 2, &err) == 0, "merge %u into %u %s", b, a, err.message);
  guint64 touched = sm_proofread_segments_rows_touched (ctx.model) - before;
  TAP_OK (model_matches (ctx.model, s, why, sizeof why) && touched <= 3,
          "merge: rows follow the table, %" G_GUINT64_FORMAT " rows touched of %zu %s", touched,
          sm_label_store_n_segments (s), why);

  /* A stroke of c across others: c grows, the others shrink and move. */
  before = sm_proofread_segments_rows_touched (ctx.model);
  SmBrush brush = { .radius = 4, .shape = SM_BRUSH_XY };
  int rc = sm_label_stroke_begin (s, c, &brush, &err);
  rc = rc || sm_label_stroke_to (s, (double[3]) { 8, 64, 5 }, &err) || sm_label_stroke_to (s, (double[3]) { 8, 64, 120 }, &err) ||
       sm_label_stroke_end (s, &err);
  touched = sm_proofread_segments_rows_touched (ctx.model) - before;
  TAP_OK (rc == 0 && model_matches (ctx.model, s, why, sizeof why) && touched <= 2 * 16,
          "stroke: rows follow, %" G_GUINT64_FORMAT " rows touched %s", touched, why);

  /* A new segment painted: a row appears; undo takes it out again. */
  uint32_t fresh = sm_label_store_fresh_id (s);
  rc = sm_label_stroke_begin (s, fresh, &brush, &err) || sm_label_stroke_to (s, (double[3]) { 3, 20, 20 }, &err) ||
       sm_label_stroke_end (s, &err);
  guint pos = 0;
  TAP_OK (rc == 0 && sm_proofread_segments_find (ctx.model, fresh, &pos) && model_matches (ctx.model, s, why, sizeof why),
          "new segment %u painted: its row is at %u %s", fresh, pos, why);
  TAP_OK (sm_label_undo (s, &err) == 0 && !sm_proofread_segments_find (ctx.model, fresh, NULL) &&
              model_matches (ctx.model, s, why, sizeof why),
          "undo: its row is gone %s", why);
  TAP_OK (sm_label_redo (s, &err) == 0 && sm_proofread_segments_find (ctx.model, fresh, NULL) &&
              model_matches (ctx.model, s, why, sizeof why),
          "redo: back %s", why);
  TAP_OK (sm_label_delete_segment (s, c, &err) == 0 && !sm_proofread_segments_find (ctx.model, c, NULL) &&
              model_matches (ctx.model, s, why, sizeof why),
          "delete %u: its row is gone %s", c, why);
  TAP_OK (sm_label_set_name (s, a, "Axon Alpha", &err) == 0 && sm_label_set_color (s, a, 0x123456, false, &err) == 0 &&
              model_matches (ctx.model, s, why, sizeof why),
          "name and colour of %u: the row shows them %s", a, why);
  /* Undo everything: the rows follow back to the first table. */
  while (sm_label_undo_name (s))
    sm_label_undo (s, &err);
  TAP_OK (model_matches (ctx.model, s, why, sizeof why), "everything undone: rows as at the start %s", why);

  /* Search: id prefix and name (case-insensitive) through the filter. */
  TAP_OK (sm_label_redo (s, &err) == 0, "redo the merge");
  while (sm_label_redo_name (s))
    sm_label_redo (s, &err);
  GtkFilter *filter = sm_proofread_segments_filter_new ();
  GtkFilterListModel *found = gtk_filter_list_model_new (G_LIST_MODEL (g_object_ref (ctx.model)), g_object_ref (filter));
  sm_proofread_segments_filter_set_query (filter, "alpha");
  guint n = g_list_model_get_n_items (G_LIST_MODEL (found));
  g_autoptr (SmSegmentItem) hit = n ? g_list_model_get_item (G_LIST_MODEL (found), 0) : NULL;
  TAP_OK (n == 1 && sm_segment_item_get_id (hit) == a, "search 'alpha' finds %u by name (%u hits)", a, n);
  const char *prefix = "1";
  guint expected = 0;
  for (size_t i = 0; i < sm_label_store_n_segments (s); i++)
    {
      char id[16];
      g_snprintf (id, sizeof id, "%u", sm_label_store_segment_at (s, i)->id);
      expected += g_str_has_prefix (id, prefix);
    }
  sm_proofread_segments_filter_set_query (filter, prefix);
  n = g_list_model_get_n_items (G_LIST_MODEL (found));
  gboolean all_prefix = n == expected && n > 0;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (SmSegmentItem) it = g_list_model_get_item (G_LIST_MODEL (found), i);
      char id[16];
      g_snprintf (id, sizeof id, "%u", sm_segment_item_get_id (it));
      all_prefix &= g_str_has_prefix (id, prefix);
    }
  TAP_OK (all_prefix, "search '%s' lists exactly the ids starting with it (%u hits of %u)", prefix, n, expected);
  sm_proofread_segments_filter_set_query (filter, "");
  guint all = g_list_model_get_n_items (G_LIST_MODEL (found));
  TAP_OK (all == sm_label_store_n_segments (s), "empty search lists all %u", all);
  g_object_unref (found);
  g_object_unref (filter);

  sm_label_store_free (s);
  g_object_unref (ctx.model);
  g_array_unref (ctx.ids);
  sm_volume_free (&image);
  return tap_done ();
}
