/* Segment list model (see sm-proofread-segments.h). */
#include "sm-proofread-segments.h"

#include <stdlib.h>
#include <string.h>

#include "data/label_stats.h"

/* --- item -------------------------------------------------------------------- */

struct _SmSegmentItem {
  GObject parent_instance;
  guint32 id, flags, color;
  guint64 voxels;
  char *name;
};

G_DEFINE_FINAL_TYPE (SmSegmentItem, sm_segment_item, G_TYPE_OBJECT)

static void
sm_segment_item_finalize (GObject *object)
{
  g_free (SM_SEGMENT_ITEM (object)->name);
  G_OBJECT_CLASS (sm_segment_item_parent_class)->finalize (object);
}

static void sm_segment_item_class_init (SmSegmentItemClass *klass) { G_OBJECT_CLASS (klass)->finalize = sm_segment_item_finalize; }
static void sm_segment_item_init (SmSegmentItem *self) {}

static SmSegmentItem *
item_new (const SmSegment *seg)
{
  SmSegmentItem *item = g_object_new (SM_TYPE_SEGMENT_ITEM, NULL);
  item->id = seg->id;
  item->flags = seg->flags;
  item->color = seg->color;
  item->voxels = seg->voxels;
  item->name = g_strdup (seg->name);
  return item;
}

guint32 sm_segment_item_get_id (SmSegmentItem *self) { return self->id; }
guint64 sm_segment_item_get_voxels (SmSegmentItem *self) { return self->voxels; }
const char *sm_segment_item_get_name (SmSegmentItem *self) { return self->name; }
guint32 sm_segment_item_get_flags (SmSegmentItem *self) { return self->flags; }
guint32 sm_segment_item_get_color (SmSegmentItem *self) { return self->color; }

/* Largest first, then by id: the order sm_label_sorted_segments (SM_ORDER_SIZE) gives. */
static int
item_compare (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const SmSegmentItem *x = a, *y = b;
  if (x->voxels != y->voxels)
    return x->voxels > y->voxels ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

static gboolean
item_same (const SmSegmentItem *item, const SmSegment *seg)
{
  return item->voxels == seg->voxels && item->flags == seg->flags && item->color == seg->color &&
         g_strcmp0 (item->name, seg->name) == 0;
}

/* --- model ------------------------------------------------------------------- */

struct _SmProofreadSegments {
  GObject parent_instance;
  GPtrArray *rows;     /* SmSegmentItem*, sorted by item_compare */
  GHashTable *by_id;   /* id -> SmSegmentItem* (borrowed from rows) */
  guint64 touched;
};

static GType model_get_item_type (GListModel *m) { return SM_TYPE_SEGMENT_ITEM; }
static guint model_get_n_items (GListModel *m) { return SM_PROOFREAD_SEGMENTS (m)->rows->len; }

static gpointer
model_get_item (GListModel *m, guint position)
{
  SmProofreadSegments *self = SM_PROOFREAD_SEGMENTS (m);
  return position < self->rows->len ? g_object_ref (g_ptr_array_index (self->rows, position)) : NULL;
}

static void
model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = model_get_item_type;
  iface->get_n_items = model_get_n_items;
  iface->get_item = model_get_item;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (SmProofreadSegments, sm_proofread_segments, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, model_iface_init))

static void
sm_proofread_segments_finalize (GObject *object)
{
  SmProofreadSegments *self = SM_PROOFREAD_SEGMENTS (object);
  g_hash_table_unref (self->by_id);
  g_ptr_array_unref (self->rows);
  G_OBJECT_CLASS (sm_proofread_segments_parent_class)->finalize (object);
}

static void sm_proofread_segments_class_init (SmProofreadSegmentsClass *klass) { G_OBJECT_CLASS (klass)->finalize = sm_proofread_segments_finalize; }

static void
sm_proofread_segments_init (SmProofreadSegments *self)
{
  self->rows = g_ptr_array_new_with_free_func (g_object_unref);
  self->by_id = g_hash_table_new (NULL, NULL);
}

SmProofreadSegments *sm_proofread_segments_new (void) { return g_object_new (SM_TYPE_PROOFREAD_SEGMENTS, NULL); }

/* Where item sits (or would sit) in rows: binary search by the sort order. */
static guint
lower_bound (SmProofreadSegments *self, const SmSegmentItem *item)
{
  guint lo = 0, hi = self->rows->len;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      if (item_compare (g_ptr_array_index (self->rows, mid), item, NULL) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

static void
changed (SmProofreadSegments *self, guint position, guint removed, guint added)
{
  self->touched += MAX (removed, added);
  g_list_model_items_changed (G_LIST_MODEL (self), position, removed, added);
}

void
sm_proofread_segments_reset (SmProofreadSegments *self, const SmLabelStore *store)
{
  guint old = self->rows->len;
  g_hash_table_remove_all (self->by_id);
  g_ptr_array_set_size (self->rows, 0);
  if (store)
    {
      const SmSegment **sorted = sm_label_sorted_segments (store, SM_ORDER_SIZE);
      size_t n = sm_label_store_n_segments (store);
      for (size_t i = 0; sorted && i < n; i++)
        {
          SmSegmentItem *item = item_new (sorted[i]);
          g_ptr_array_add (self->rows, item);
          g_hash_table_insert (self->by_id, GUINT_TO_POINTER (item->id), item);
        }
      free (sorted);
    }
  if (old || self->rows->len)
    changed (self, 0, old, self->rows->len);
}

static guint
position_of (SmProofreadSegments *self, SmSegmentItem *item)
{
  guint pos = lower_bound (self, item); /* item is in rows: the bound finds it exactly */
  g_assert (pos < self->rows->len && g_ptr_array_index (self->rows, pos) == item);
  return pos;
}

static void
update_one (SmProofreadSegments *self, const SmLabelStore *store, guint32 id)
{
  SmSegmentItem *old = g_hash_table_lookup (self->by_id, GUINT_TO_POINTER (id));
  const SmSegment *seg = sm_label_store_segment (store, id);
  if (old && seg && item_same (old, seg))
    return;
  if (old)
    {
      guint pos = position_of (self, old);
      g_hash_table_remove (self->by_id, GUINT_TO_POINTER (id));
      SmSegmentItem *gone = g_ptr_array_steal_index (self->rows, pos);
      g_object_unref (gone);
      if (!seg)
        {
          changed (self, pos, 1, 0);
          return;
        }
      /* A new item, in place or at its new place: a view re-binds that row only. */
      SmSegmentItem *item = item_new (seg);
      guint to = lower_bound (self, item);
      g_hash_table_insert (self->by_id, GUINT_TO_POINTER (id), item);
      if (to == pos)
        {
          g_ptr_array_insert (self->rows, (gint) to, item);
          changed (self, pos, 1, 1);
          return;
        }
      /* Observers see the removal, then the insertion. */
      changed (self, pos, 1, 0);
      g_ptr_array_insert (self->rows, (gint) to, item);
      changed (self, to, 0, 1);
      return;
    }
  if (!seg)
    return;
  SmSegmentItem *item = item_new (seg);
  guint to = lower_bound (self, item);
  g_ptr_array_insert (self->rows, (gint) to, item);
  g_hash_table_insert (self->by_id, GUINT_TO_POINTER (id), item);
  changed (self, to, 0, 1);
}

void
sm_proofread_segments_update (SmProofreadSegments *self, const SmLabelStore *store, const guint32 *ids,
                              gsize n_ids)
{
  for (gsize i = 0; i < n_ids; i++)
    update_one (self, store, ids[i]);
}

gboolean
sm_proofread_segments_find (SmProofreadSegments *self, guint32 id, guint *position)
{
  SmSegmentItem *item = g_hash_table_lookup (self->by_id, GUINT_TO_POINTER (id));
  if (!item)
    return FALSE;
  if (position)
    *position = position_of (self, item);
  return TRUE;
}

guint64 sm_proofread_segments_rows_touched (SmProofreadSegments *self) { return self->touched; }

/* --- search -------------------------------------------------------------------- */

static gboolean
matches (gpointer object, gpointer user_data)
{
  SmSegmentItem *item = object;
  const char *query = g_object_get_data (G_OBJECT (user_data), "query");
  if (!query || !*query)
    return TRUE;
  gboolean numeric = TRUE;
  for (const char *c = query; *c; c++)
    numeric &= g_ascii_isdigit (*c);
  if (numeric)
    {
      char id[16];
      g_snprintf (id, sizeof id, "%u", item->id);
      if (g_str_has_prefix (id, query))
        return TRUE;
    }
  if (!item->name)
    return FALSE;
  g_autofree char *name = g_utf8_casefold (item->name, -1);
  g_autofree char *q = g_utf8_casefold (query, -1);
  return strstr (name, q) != NULL;
}

GtkFilter *
sm_proofread_segments_filter_new (void)
{
  GtkCustomFilter *filter = gtk_custom_filter_new (NULL, NULL, NULL);
  gtk_custom_filter_set_filter_func (filter, matches, filter, NULL);
  return GTK_FILTER (filter);
}

void
sm_proofread_segments_filter_set_query (GtkFilter *filter, const char *query)
{
  const char *old = g_object_get_data (G_OBJECT (filter), "query");
  g_autofree char *q = g_strstrip (g_strdup (query ? query : ""));
  if (g_strcmp0 (old ? old : "", q) == 0)
    return;
  g_object_set_data_full (G_OBJECT (filter), "query", g_steal_pointer (&q), g_free);
  gtk_filter_changed (filter, GTK_FILTER_CHANGE_DIFFERENT);
}
