/* Proofreading controller (see sm-proofread-controller.h). Main thread only,
 * except the flood fill's compute, which reads the store on a GTask worker
 * while the controller refuses every other edit (the store has no lock). */
#include "sm-proofread-controller.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include <glib/gstdio.h>
#include <string.h>

#include "data/label_edit.h"
#include "data/label_io.h"
#include "data/label_journal.h"
#include "data/label_split.h"
#include "data/label_undo.h"
#include "sm-gl-shared.h"
#include "sm-layer.h"
#include "sm-proofread-segments.h"

#define PATH_KEY "sm-proofread-path"
#define FILL_BUDGET_VOXELS (64u * 1024u * 1024u)
/* Split previews are shown by uploading these ids into the split box. */
#define PREVIEW_ID_BASE 0xFFFFFF00u

struct _SmProofreadController {
  GObject parent_instance;
  SmViewState *state;
  SmSliceView *views[3];
  SmVolumeView *volume_view;
  GtkWindow *window;

  SmLayer *layer;          /* the label layer the store was made from (a reference) */
  SmLabelStore *store;
  SmLabelJournal *journal; /* attached to store */
  char *path;              /* where Ctrl+S writes; NULL for labels without a file */
  char *message;           /* last error or result, for the panel */
  guint n_hidden;
  SmProofreadSegments *segments; /* the segment list's model, updated edit by edit */
  GArray *row_ids;         /* guint32: segments whose rows follow in rows_idle */
  gboolean rows_reset;     /* all rows follow instead */
  guint rows_idle;
  gboolean loading;        /* the store is read on a worker (load_done attaches it) */
  SmLayer *loading_layer;
  GCancellable *load_cancellable;
  gboolean saving;         /* a save writes on a worker: edits wait until it is done */
  SmLayer *replace_layer;  /* a second label layer waiting for the replace prompt */

  SmProofTool tool;
  double radius;
  gboolean brush_3d;
  GArray *selection;       /* guint32 */
  double hover[3];
  gboolean hover_inside;

  gboolean stroking;
  SmSliceView *stroke_view;
  double stroke_start[2];

  int64_t seeds[SM_SPLIT_MAX_SEEDS][3];
  int n_seeds;
  guint32 split_segment;
  SmLabelSplit split;
  gboolean split_ready;

  GCancellable *fill_cancellable;
  volatile int fill_cancel;
  gboolean fill_running; /* a fill or split computes on a worker: no edits meanwhile */
  gboolean close_confirmed;
  double marks[8][3]; /* test scripts: crosshair positions kept for later seeds */
  int n_marks;
  gboolean failed; /* the last message reports a failure (test scripts stop on it) */
  gboolean script_running; /* a test script iterates the main loop: no screenshot meanwhile */
  gboolean stroking_refreshed; /* the last notification was in progress: its box is uploaded */
  gboolean installed;      /* had a window (install): once it is gone, nothing attaches any more */
};

G_DEFINE_FINAL_TYPE (SmProofreadController, sm_proofread_controller, G_TYPE_OBJECT)

enum { SEGMENTS_CHANGED, STATUS_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char *const tool_names[] = { "select", "split", "paint", "erase", "fill" };

static void
set_message (SmProofreadController *self, const char *message)
{
  self->failed = FALSE;
  g_free (self->message);
  self->message = g_strdup (message);
  g_signal_emit (self, signals[STATUS_CHANGED], 0);
}

static void
fail (SmProofreadController *self, const char *message)
{
  set_message (self, message);
  self->failed = TRUE;
}

void
sm_proofread_set_layer_path (gpointer layer, const char *path)
{
  g_object_set_data_full (G_OBJECT (layer), PATH_KEY, g_strdup (path), g_free);
}

/* --- repaint --------------------------------------------------------------- */

static void
queue_render_views (SmProofreadController *self)
{
  for (int i = 0; i < 3; i++)
    if (self->views[i])
      gtk_gl_area_queue_render (GTK_GL_AREA (self->views[i]));
}

static int
compare_entry (gconstpointer a, gconstpointer b)
{
  guint32 fa = ((const SmLabelMapEntry *) a)->fragment, fb = ((const SmLabelMapEntry *) b)->fragment;
  return (fa > fb) - (fa < fb);
}

/* The layer's label map (sm-layer.h): merged fragments to their segment,
 * hidden segments' fragments flagged (not drawn), chosen colours. A merge, its undo,
 * a hide or a colour change only changes this table (microseconds), never
 * the voxels; the slice views, the 3D view and the status bar read through it. */
static void
upload_label_map (SmProofreadController *self)
{
  g_autoptr (GArray) map = g_array_new (FALSE, FALSE, sizeof (SmLabelMapEntry));
  for (size_t i = 0, n = sm_label_store_n_segments (self->store); i < n; i++)
    {
      const SmSegment *seg = sm_label_store_segment_at (self->store, i);
      gboolean hidden = (seg->flags & SM_SEGMENT_HIDDEN) != 0;
      gboolean colored = (seg->flags & SM_SEGMENT_COLOR_SET) != 0;
      SmLabelMapEntry e = { seg->id, seg->id, colored ? seg->color : 0,
                            (colored ? SM_LABEL_MAP_COLOR : 0) | (hidden ? SM_LABEL_MAP_HIDDEN : 0) };
      if (hidden || colored)
        g_array_append_val (map, e);
      for (uint32_t k = 0; k < seg->n_extra; k++)
        {
          e.fragment = seg->extra[k];
          g_array_append_val (map, e);
        }
    }
  g_array_sort (map, compare_entry);
  sm_layer_set_label_map (self->layer, (const SmLabelMapEntry *) map->data, map->len);
  if (self->volume_view)
    sm_volume_view_set_label_map (self->volume_view, (const SmLabelMapEntry *) map->data, map->len);
  queue_render_views (self);
}

static void
write_volume_rows (const SmVolume *v, const int64_t lo[3], const int64_t hi[3], const guint32 *ids)
{
  int64_t bz = hi[0] - lo[0], by = hi[1] - lo[1], bx = hi[2] - lo[2];
  if ((v->dtype == SM_U32 || v->dtype == SM_I32) && v->data)
    for (int64_t z = 0; z < bz; z++)
      for (int64_t y = 0; y < by; y++)
        memcpy ((guint32 *) v->data + ((lo[0] + z) * v->ny + lo[1] + y) * v->nx + lo[2],
                ids + (z * by + y) * bx, (size_t) bx * sizeof (guint32));
}

/* Writes fragment ids (the box lo..hi, row-major) into the layer's volume
 * (the status bar and the 3D view map them through the label map), its
 * downsampled level and its shared texture. to_volume FALSE: the texture
 * (and level) only, e.g. a split preview. */
static void
upload_box (SmProofreadController *self, const int64_t lo[3], const int64_t hi[3], const guint32 *ids,
            gboolean to_volume)
{
  int64_t by = hi[1] - lo[1], bx = hi[2] - lo[2];
  if (to_volume)
    write_volume_rows (sm_layer_get_volume (self->layer), lo, hi, ids);
  g_autofree guint32 *level_ids = NULL;
  int64_t tlo[3] = { lo[0], lo[1], lo[2] }, thi[3] = { hi[0], hi[1], hi[2] };
  if (sm_layer_is_downsampled (self->layer))
    {
      /* The texture holds v[::s]: re-sample the level voxels inside the box. */
      int s[3];
      sm_layer_get_stride (self->layer, s);
      const SmVolume *level = sm_layer_get_level (self->layer);
      for (int k = 0; k < 3; k++)
        {
          tlo[k] = (lo[k] + s[k] - 1) / s[k];
          thi[k] = (hi[k] + s[k] - 1) / s[k];
          if (thi[k] <= tlo[k])
            return;
        }
      int64_t lz = thi[0] - tlo[0], ly = thi[1] - tlo[1], lx = thi[2] - tlo[2];
      level_ids = g_malloc ((size_t) (lz * ly * lx) * sizeof (guint32));
      for (int64_t z = 0; z < lz; z++)
        for (int64_t y = 0; y < ly; y++)
          for (int64_t x = 0; x < lx; x++)
            {
              int64_t fz = (tlo[0] + z) * s[0] - lo[0], fy = (tlo[1] + y) * s[1] - lo[1],
                      fx = (tlo[2] + x) * s[2] - lo[2];
              guint32 id = ids[(fz * by + fy) * bx + fx];
              level_ids[(z * ly + y) * lx + x] = id;
              if (to_volume && level->dtype == SM_U32 && level->data)
                ((guint32 *) level->data)[((tlo[0] + z) * level->ny + tlo[1] + y) * level->nx + tlo[2] + x] = id;
            }
      ids = level_ids;
    }
  if (self->views[0] && gtk_widget_get_realized (GTK_WIDGET (self->views[0])))
    {
      gtk_gl_area_make_current (GTK_GL_AREA (self->views[0]));
      sm_gl_shared_texture_update_box (self->layer, tlo, thi, ids);
    }
  queue_render_views (self);
}

/* The store's fragment ids of the box, row-major. */
static guint32 *
read_fragments (SmProofreadController *self, const int64_t lo[3], const int64_t hi[3])
{
  size_t n = (size_t) ((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]));
  guint32 *out = g_malloc (MAX (n, 1) * sizeof (guint32));
  const guint32 *all = sm_label_store_fragments (self->store);
  int64_t shape[3], by = hi[1] - lo[1], bx = hi[2] - lo[2];
  sm_label_store_shape (self->store, shape);
  for (int64_t z = lo[0]; z < hi[0]; z++)
    for (int64_t y = lo[1]; y < hi[1]; y++)
      memcpy (out + ((z - lo[0]) * by + y - lo[1]) * bx, all + (z * shape[1] + y) * shape[2] + lo[2],
              (size_t) bx * sizeof (guint32));
  return out;
}

static void
refresh_box (SmProofreadController *self, const int64_t lo[3], const int64_t hi[3])
{
  if ((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]) <= 0)
    return;
  g_autofree guint32 *fragments = read_fragments (self, lo, hi);
  upload_box (self, lo, hi, fragments, TRUE);
}

static void
push_selection (SmProofreadController *self)
{
  sm_view_state_set_selected_ids (self->state, (const guint32 *) self->selection->data, self->selection->len);
  if (self->volume_view)
    sm_volume_view_set_selected_segments (self->volume_view, (const guint32 *) self->selection->data,
                                          self->selection->len);
  g_signal_emit (self, signals[STATUS_CHANGED], 0);
}

static gboolean
update_rows_idle (gpointer user_data)
{
  SmProofreadController *self = user_data;
  self->rows_idle = 0;
  if (self->rows_reset)
    sm_proofread_segments_reset (self->segments, self->store);
  else if (self->store)
    sm_proofread_segments_update (self->segments, self->store, (const guint32 *) self->row_ids->data,
                                  self->row_ids->len);
  g_array_set_size (self->row_ids, 0);
  self->rows_reset = FALSE;
  return G_SOURCE_REMOVE;
}

static void
on_store_changed (const SmLabelChange *change, void *user)
{
  SmProofreadController *self = user;
  /* A merge or its undo/redo only re-maps fragments: the label map below,
   * not the voxels (the box is where displayed ids changed, not fragments). */
  gboolean remap_only = change->what && strstr (change->what, "merge");
  if (change->voxels_changed && !remap_only)
    {
      /* The end of a stroke repeats its whole box (data/label_store.h):
       * the texture has all but the last piece already. */
      gboolean uploaded = !change->in_progress && self->stroking_refreshed &&
                          g_strcmp0 (change->what, "cancelled edit") != 0;
      if (!uploaded)
        refresh_box (self, change->lo, change->hi);
      /* Surfaces follow once per edit (a stroke: at its end, over all it painted). */
      if (self->volume_view && !change->in_progress)
        sm_volume_view_labels_changed (self->volume_view, change->lo, change->hi);
    }
  self->stroking_refreshed = change->in_progress;
  if (change->in_progress)
    return;
  /* The map follows the table (merges, hides, colours, new or deleted
   * segments); voxel edits leave it as it is: a stroke never rebuilds it. */
  if (change->table_changed)
    upload_label_map (self);
  /* Drop selected ids that no longer exist (merged away, deleted). */
  for (guint i = self->selection->len; i-- > 0;)
    if (!sm_label_store_segment (self->store, g_array_index (self->selection, guint32, i)))
      g_array_remove_index (self->selection, i);
  push_selection (self);
  /* Only the rows of the segments the edit touched, in an idle: the list
   * view's own work on its rows (~0.8 ms) stays out of the edit's time. */
  self->rows_reset |= change->ids_truncated;
  g_array_append_vals (self->row_ids, change->ids, (guint) change->n_ids);
  if (!self->rows_idle)
    self->rows_idle = g_idle_add (update_rows_idle, self);
  g_signal_emit (self, signals[STATUS_CHANGED], 0);
}

/* --- attach / detach ------------------------------------------------------- */

static void
clear_split (SmProofreadController *self, gboolean restore)
{
  if (self->split_ready && restore && self->store)
    refresh_box (self, self->split.lo, self->split.hi);
  if (self->split_ready)
    sm_label_split_free (&self->split);
  self->split_ready = FALSE;
  self->n_seeds = 0;
  self->split_segment = 0;
}

static void
detach (SmProofreadController *self)
{
  if (!self->store)
    return;
  clear_split (self, FALSE);
  if (self->fill_cancellable)
    g_cancellable_cancel (self->fill_cancellable);
  self->fill_cancel = 1;
  /* A worker still reads the store: let it finish (a fill stops at the flag). */
  while (self->fill_running || self->saving)
    g_main_context_iteration (NULL, TRUE);
  /* Clean: the journal has nothing to recover. Dirty: keep it for the next start. */
  sm_label_store_set_listener (self->store, NULL, NULL);
  /* The layer keeps showing the last state: its volume and texture hold the
   * fragments, its label map stays. */
  sm_gl_shared_set_label_source (self->layer, NULL);
  if (self->journal && !sm_label_store_is_dirty (self->store))
    sm_label_journal_discard (self->journal);
  self->journal = NULL;
  sm_label_store_free (self->store); /* closes (keeps) a journal still attached */
  self->store = NULL;
  g_clear_pointer (&self->path, g_free);
  g_clear_object (&self->layer);
  g_array_set_size (self->selection, 0);
  g_clear_handle_id (&self->rows_idle, g_source_remove);
  g_array_set_size (self->row_ids, 0);
  self->rows_reset = FALSE;
  sm_proofread_segments_reset (self->segments, NULL);
  g_signal_emit (self, signals[SEGMENTS_CHANGED], 0);
}

static SmLabelStore *
store_from_layer (SmLayer *layer, SmError *err)
{
  const SmVolume *src = sm_layer_get_volume (layer);
  SmVolume copy = *src;
  copy.data = g_try_malloc (sm_volume_bytes (src));
  if (!copy.data)
    {
      snprintf (err->message, sizeof err->message, "%s: out of memory", sm_layer_get_name (layer));
      return NULL;
    }
  memcpy (copy.data, src->data, sm_volume_bytes (src));
  SmLabelStore *s = sm_label_store_adopt (&copy, sm_layer_get_name (layer), err);
  g_free (copy.data); /* NULL when adopted */
  return s;
}

static void
start_journal (SmProofreadController *self, const char *journal_path, gboolean recover)
{
  SmError err = { { 0 } };
  SmLabelJournal *j = NULL;
  uint64_t identity = sm_label_store_content_hash (self->store);
  if (recover)
    {
      SmJournalInfo info;
      j = sm_label_journal_recover (journal_path, self->store, identity, &info, &err);
      if (j)
        {
          g_autofree char *m = g_strdup_printf ("Recovered %" G_GUINT64_FORMAT " edits", info.edits);
          set_message (self, m);
        }
      else
        fail (self, err.message);
    }
  if (!j)
    {
      g_unlink (journal_path);
      j = sm_label_journal_create (journal_path, self->store, identity, &err);
      if (!j)
        {
          fail (self, err.message);
          return;
        }
    }
  self->journal = j;
  if (sm_label_journal_set_async (j, true, &err) != 0)
    fail (self, err.message);
}

/* Everything again from the store (after a recovery replayed edits). */
static void
refresh_all (SmProofreadController *self)
{
  int64_t shape[3];
  sm_label_store_shape (self->store, shape);
  refresh_box (self, (int64_t[3]) { 0, 0, 0 }, shape);
  upload_label_map (self);
  g_array_set_size (self->row_ids, 0);
  sm_proofread_segments_reset (self->segments, self->store);
  if (self->volume_view)
    sm_volume_view_labels_changed (self->volume_view, (gint64[3]) { 0, 0, 0 }, shape);
}

static void
on_recover_response (GtkDialog *dialog, int response, gpointer user_data)
{
  SmProofreadController *self = user_data;
  char *journal_path = g_object_get_data (G_OBJECT (dialog), "journal");
  if (self->store)
    {
      start_journal (self, journal_path, response == GTK_RESPONSE_YES);
      if (response == GTK_RESPONSE_YES)
        refresh_all (self);
      g_signal_emit (self, signals[SEGMENTS_CHANGED], 0);
    }
  gtk_window_destroy (GTK_WINDOW (dialog));
  g_object_unref (self);
}

/* Tests: SEMMAE_PROOFREAD_SCRIPT runs a script once the labels are open
 * (before any --screenshot); a failing line ends the process with status 1. */
static void
run_env_script (SmProofreadController *self)
{
  const char *script = g_getenv ("SEMMAE_PROOFREAD_SCRIPT");
  static gboolean done;
  if (!script || done)
    return;
  done = TRUE;
  g_autoptr (GError) error = NULL;
  if (!sm_proofread_controller_run_script (self, script, &error))
    {
      g_printerr ("semmae-studio: %s\n", error->message);
      exit (1);
    }
}

static void on_state_changed (SmViewState *state, SmProofreadController *self);

/* The store is read on a worker (a 100 x 512 x 512 file takes ~1 s); the
 * views already show the layer meanwhile, edits wait. */
typedef struct {
  SmLayer *layer;
  char *path;
  int64_t shape[3];
  SmLabelStore *store;
  SmError err;
} LoadJob;

static void
load_job_free (LoadJob *job)
{
  if (job->store)
    sm_label_store_free (job->store);
  g_clear_object (&job->layer);
  g_free (job->path);
  g_free (job);
}

static void
load_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  LoadJob *job = data;
  job->store = job->path ? sm_label_store_load (job->path, job->shape, &job->err)
                         : store_from_layer (job->layer, &job->err);
  g_task_return_boolean (task, job->store != NULL);
}

static void attach_store (SmProofreadController *self, SmLayer *layer, const char *path, SmLabelStore *s);

static void
load_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SmProofreadController *self = SM_PROOFREAD_CONTROLLER (source);
  LoadJob *job = g_task_get_task_data (G_TASK (result));
  gboolean cancelled = g_cancellable_is_cancelled (self->load_cancellable);
  self->loading = FALSE;
  g_clear_object (&self->loading_layer);
  g_clear_object (&self->load_cancellable);
  if (cancelled || self->store)
    {
      /* Another layer was chosen meanwhile: follow the state as it is now. */
      on_state_changed (self->state, self);
      return;
    }
  if (!job->store)
    {
      fail (self, job->err.message);
      return;
    }
  if (self->installed && !self->window)
    return; /* the window closed while loading: nothing to proofread (job frees the store) */
  SmLabelStore *s = job->store;
  job->store = NULL;
  attach_store (self, job->layer, job->path, s);
}

static void
attach (SmProofreadController *self, SmLayer *layer)
{
  LoadJob *job = g_new0 (LoadJob, 1);
  job->layer = g_object_ref (layer);
  job->path = g_strdup (g_object_get_data (G_OBJECT (layer), PATH_KEY));
  const SmVolume *v = sm_layer_get_volume (layer);
  job->shape[0] = v->nz, job->shape[1] = v->ny, job->shape[2] = v->nx;
  self->loading = TRUE;
  g_set_object (&self->loading_layer, layer);
  self->load_cancellable = g_cancellable_new ();
  set_message (self, "Loading the labels for proofreading…");
  g_autoptr (GTask) task = g_task_new (self, self->load_cancellable, load_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) load_job_free);
  g_task_run_in_thread (task, load_thread);
}

static void
attach_store (SmProofreadController *self, SmLayer *layer, const char *path, SmLabelStore *s)
{
  self->store = s;
  self->layer = g_object_ref (layer);
  self->path = g_strdup (path);
  self->n_hidden = 0;
  for (size_t i = 0; i < sm_label_store_n_segments (s); i++)
    self->n_hidden += (sm_label_store_segment_at (s, i)->flags & SM_SEGMENT_HIDDEN) != 0;
  sm_label_store_set_listener (s, on_store_changed, self);
  SmVolume fragments;
  sm_label_store_volume_view (s, &fragments);
  sm_gl_shared_set_label_source (layer, &fragments);
  upload_label_map (self);
  sm_proofread_segments_reset (self->segments, s);
  /* Proofread before in this run (then replaced): its volume still holds
   * that session's state, the file's is what the store has now. */
  if (g_object_get_data (G_OBJECT (layer), "sm-proofread-attached"))
    refresh_all (self);
  g_object_set_data (G_OBJECT (layer), "sm-proofread-attached", GINT_TO_POINTER (1));
  set_message (self, path ? "Labels open for proofreading" : "Labels without a file: Ctrl+S cannot save them");
  g_signal_emit (self, signals[SEGMENTS_CHANGED], 0);
  if (!path)
    {
      run_env_script (self);
      return;
    }

  char journal_path[4096];
  sm_label_journal_default_path (path, NULL, journal_path, sizeof journal_path);
  SmJournalInfo info;
  SmError probe_err = { { 0 } };
  gboolean exists = g_file_test (journal_path, G_FILE_TEST_EXISTS) &&
                    sm_label_journal_probe (journal_path, &info, &probe_err) == 0 && info.edits > 0;
  const char *answer = g_getenv ("SEMMAE_PROOFREAD_RECOVER"); /* tests: "yes" / "no" */
  if (!exists || answer || !self->window)
    {
      /* Nobody to ask (no window, no answer given): recover, nothing is lost. */
      start_journal (self, journal_path, exists && (answer ? g_strcmp0 (answer, "yes") == 0 : TRUE));
      if (exists)
        refresh_all (self);
      run_env_script (self);
      return;
    }
  g_autoptr (GDateTime) when = g_date_time_new_from_unix_local (info.created);
  g_autofree char *stamp = g_date_time_format (when, "%Y-%m-%d %H:%M");
  GtkWidget *dialog = gtk_message_dialog_new (self->window, GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                              GTK_MESSAGE_QUESTION, GTK_BUTTONS_YES_NO,
                                              "Recover %" G_GUINT64_FORMAT " unsaved edits from %s?",
                                              info.edits, stamp);
  gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (dialog),
                                            "The last session on %s ended without saving. "
                                            "Yes replays them onto the file's labels; No deletes them.", path);
  g_object_set_data_full (G_OBJECT (dialog), "journal", g_strdup (journal_path), g_free);
  g_signal_connect (dialog, "response", G_CALLBACK (on_recover_response), g_object_ref (self));
  gtk_window_present (GTK_WINDOW (dialog));
}

static gboolean
in_state (SmProofreadController *self, SmLayer *layer)
{
  GListModel *layers = sm_view_state_get_layers (self->state);
  for (guint i = 0; i < g_list_model_get_n_items (layers); i++)
    {
      g_autoptr (SmLayer) l = g_list_model_get_item (layers, i);
      if (l == layer)
        return TRUE;
    }
  return FALSE;
}

static void
switch_layer (SmProofreadController *self, SmLayer *layer)
{
  detach (self);
  if (layer)
    attach (self, layer);
}

static gboolean save_start (SmProofreadController *self, const char *path, gboolean wait,
                            void (*then) (SmProofreadController *self, gboolean saved));

/* Replace: the new layer shows and the proofread one leaves the view state
 * (on_state_changed then detaches it and attaches the new one). */
static void
replace_now (SmProofreadController *self, SmLayer *layer)
{
  sm_layer_set_visible (layer, TRUE);
  if (self->layer)
    sm_view_state_remove_layer (self->state, self->layer);
  else
    on_state_changed (self->state, self);
}

static void
replace_after_save (SmProofreadController *self, gboolean saved)
{
  SmLayer *layer = g_steal_pointer (&self->replace_layer);
  if (saved && layer && in_state (self, layer))
    replace_now (self, layer);
  else if (layer)
    {
      /* Not saved: keep proofreading the first; the new one goes again. */
      sm_view_state_remove_layer (self->state, layer);
    }
  g_clear_object (&layer);
}

/* Answer to "Replace the labels being proofread?": Cancel takes the new layer
 * out again; Replace keeps unsaved edits in the journal (the next open of
 * that file offers them); Save and replace saves first. */
static void
replace_answer (SmProofreadController *self, int response)
{
  SmLayer *layer = self->replace_layer;
  if (!layer)
    return;
  if (response == GTK_RESPONSE_ACCEPT && sm_proofread_controller_has_unsaved (self) && self->path)
    {
      if (!save_start (self, self->path, FALSE, replace_after_save))
        replace_after_save (self, FALSE);
      return;
    }
  self->replace_layer = NULL;
  if ((response == GTK_RESPONSE_REJECT || response == GTK_RESPONSE_ACCEPT) && in_state (self, layer))
    replace_now (self, layer);
  else
    {
      sm_view_state_remove_layer (self->state, layer);
      set_message (self, "Kept proofreading the open labels");
    }
  g_object_unref (layer);
}

static void
on_replace_response (GtkDialog *dialog, int response, gpointer user_data)
{
  SmProofreadController *self = user_data;
  gtk_window_destroy (GTK_WINDOW (dialog));
  replace_answer (self, response);
  g_object_unref (self);
}

/* In an idle: the layer was added inside the layer list's items-changed,
 * where taking a layer out again would confuse the other list views. */
static gboolean
ask_replace_idle (gpointer user_data)
{
  SmProofreadController *self = user_data;
  SmLayer *layer = self->replace_layer;
  if (!layer || !self->store)
    {
      g_clear_object (&self->replace_layer);
      on_state_changed (self->state, self);
      g_object_unref (self);
      return G_SOURCE_REMOVE;
    }
  gboolean dirty = sm_proofread_controller_has_unsaved (self);
  /* Tests and headless runs: SEMMAE_PROOFREAD_REPLACE = cancel | replace | save. */
  const char *answer = g_getenv ("SEMMAE_PROOFREAD_REPLACE");
  if (answer || !self->window)
    {
      replace_answer (self, g_strcmp0 (answer, "cancel") == 0 ? GTK_RESPONSE_CANCEL
                            : g_strcmp0 (answer, "save") == 0 ? GTK_RESPONSE_ACCEPT
                                                               : GTK_RESPONSE_REJECT);
      g_object_unref (self);
      return G_SOURCE_REMOVE;
    }
  GtkWidget *dialog = gtk_message_dialog_new (self->window, GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                              GTK_MESSAGE_QUESTION, GTK_BUTTONS_NONE,
                                              "Proofread “%s” instead of “%s”?", sm_layer_get_name (layer),
                                              sm_layer_get_name (self->layer));
  if (dirty)
    {
      gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (dialog),
                                                "“%s” has unsaved edits. Replacing without saving keeps them in "
                                                "its journal: opening that file again offers to recover them.",
                                                sm_layer_get_name (self->layer));
      gtk_dialog_add_buttons (GTK_DIALOG (dialog), "_Cancel", GTK_RESPONSE_CANCEL, "Replace _without saving",
                              GTK_RESPONSE_REJECT, self->path ? "_Save and replace" : NULL, GTK_RESPONSE_ACCEPT, NULL);
      gtk_dialog_set_default_response (GTK_DIALOG (dialog), self->path ? GTK_RESPONSE_ACCEPT : GTK_RESPONSE_CANCEL);
    }
  else
    {
      gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (dialog),
                                                "Only one label layer is proofread at a time; “%s” has no unsaved "
                                                "edits. Cancel closes the new layer again.",
                                                sm_layer_get_name (self->layer));
      gtk_dialog_add_buttons (GTK_DIALOG (dialog), "_Cancel", GTK_RESPONSE_CANCEL, "_Replace",
                              GTK_RESPONSE_REJECT, NULL);
      gtk_dialog_set_default_response (GTK_DIALOG (dialog), GTK_RESPONSE_REJECT);
    }
  g_signal_connect (dialog, "response", G_CALLBACK (on_replace_response), g_object_ref (self));
  gtk_window_present (GTK_WINDOW (dialog));
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

static void
ask_replace (SmProofreadController *self, SmLayer *layer)
{
  self->replace_layer = g_object_ref (layer); /* edits wait for the answer */
  g_idle_add (ask_replace_idle, g_object_ref (self));
}

#define SEEN_KEY "sm-proofread-seen"

/* A label layer added while another is proofread (Open labels, a fine-tuned
 * segmentation): the first one not seen before, or NULL. Marks them seen. */
static SmLayer *
new_label_layer (SmProofreadController *self)
{
  GListModel *layers = sm_view_state_get_layers (self->state);
  SmLayer *found = NULL;
  for (guint i = 0; i < g_list_model_get_n_items (layers); i++)
    {
      g_autoptr (SmLayer) l = g_list_model_get_item (layers, i);
      if (sm_layer_get_kind (l) != SM_LAYER_LABELS || g_object_get_data (G_OBJECT (l), SEEN_KEY))
        continue;
      g_object_set_data (G_OBJECT (l), SEEN_KEY, GINT_TO_POINTER (1));
      if (!found && l != self->layer)
        found = l;
    }
  return found;
}

static void
on_state_changed (SmViewState *state, SmProofreadController *self)
{
  if (self->replace_layer)
    return; /* the replace prompt is open: its answer decides */
  SmLayer *added = new_label_layer (self);
  gboolean proofreading = self->store && in_state (self, self->layer);
  if (added && proofreading)
    {
      ask_replace (self, added);
      return;
    }
  /* The proofread layer stays while it is in the state, shown or hidden
   * (H must not drop the undo history); another one only by replacing it. */
  SmLayer *layer = self->layer && in_state (self, self->layer) ? self->layer : sm_view_state_get_label_layer (state);
  if (self->loading)
    {
      if (layer != self->loading_layer)
        g_cancellable_cancel (self->load_cancellable); /* load_done looks again */
      return;
    }
  if (layer != self->layer)
    {
      switch_layer (self, layer);
      return;
    }
  /* Ctrl+click in a slice view selects through the view state. */
  guint32 id = sm_view_state_get_selected_id (state);
  guint32 first = self->selection->len ? g_array_index (self->selection, guint32, 0) : 0;
  if (id != first && self->store)
    {
      g_array_set_size (self->selection, 0);
      if (id)
        g_array_append_val (self->selection, id);
      push_selection (self);
    }
}

/* --- editing --------------------------------------------------------------- */

static gboolean
can_edit (SmProofreadController *self)
{
  if (!self->store)
    {
      fail (self, self->loading ? "Busy: the labels are still loading" : "Open a label volume to proofread");
      return FALSE;
    }
  if (self->saving)
    {
      fail (self, "Busy: saving (edits wait until the file is written)");
      return FALSE;
    }
  if (self->replace_layer)
    {
      fail (self, "Answer the replace question first");
      return FALSE;
    }
  if (self->fill_running)
    {
      fail (self, "Busy: a fill or split is computing (Esc cancels it)");
      return FALSE;
    }
  return TRUE;
}

static void
report (SmProofreadController *self, int rc, const SmError *err, const char *done)
{
  if (rc == 0)
    set_message (self, done);
  else
    fail (self, err->message);
}

static guint32
first_selected (SmProofreadController *self)
{
  return self->selection->len ? g_array_index (self->selection, guint32, 0) : 0;
}

void
sm_proofread_controller_select (SmProofreadController *self, guint32 id, gboolean add)
{
  if (!add)
    g_array_set_size (self->selection, 0);
  for (guint i = 0; i < self->selection->len; i++)
    if (g_array_index (self->selection, guint32, i) == id)
      {
        if (add) /* Shift+click on a selected segment takes it out again */
          g_array_remove_index (self->selection, i);
        push_selection (self);
        return;
      }
  if (id)
    g_array_append_val (self->selection, id);
  push_selection (self);
}

/* The id paint and fill write: the first selected segment, else a new one. */
static guint32
paint_value (SmProofreadController *self)
{
  if (self->tool == SM_TOOL_ERASE)
    return 0;
  guint32 id = first_selected (self);
  if (id)
    return id;
  id = sm_label_store_fresh_id (self->store);
  sm_proofread_controller_select (self, id, FALSE);
  return id;
}

static SmBrushShape
brush_shape (SmProofreadController *self, SmSliceView *view)
{
  if (self->brush_3d)
    return SM_BRUSH_BALL;
  SmAxis axis = view ? sm_slice_view_get_axis (view) : SM_AXIS_XY;
  return axis == SM_AXIS_XZ ? SM_BRUSH_XZ : axis == SM_AXIS_YZ ? SM_BRUSH_YZ : SM_BRUSH_XY;
}

/* The views give continuous coordinates (voxel i spans [i, i + 1)); brushes
 * are centred on voxel indices (voxel i's centre is i). */
static void
view_to_brush (double p[3])
{
  for (int k = 0; k < 3; k++)
    p[k] -= 0.5;
}

static gboolean
stroke_begin (SmProofreadController *self, SmSliceView *view, const double p[3])
{
  if (!can_edit (self))
    return FALSE;
  SmError err = { { 0 } };
  SmBrush brush = { .radius = self->radius, .shape = brush_shape (self, view) };
  if (sm_label_stroke_begin (self->store, paint_value (self), &brush, &err) != 0 ||
      sm_label_stroke_to (self->store, p, &err) != 0)
    {
      fail (self, err.message);
      return FALSE;
    }
  self->stroking = TRUE;
  return TRUE;
}

static void
stroke_end (SmProofreadController *self)
{
  SmError err = { { 0 } };
  self->stroking = FALSE;
  report (self, sm_label_stroke_end (self->store, &err), &err,
          self->tool == SM_TOOL_ERASE ? "Erased" : "Painted");
}

/* Split: seeds go into the segment under the first one; two or more show a preview. */
typedef struct {
  SmLabelStore *store;
  guint32 segment;
  int64_t seeds[SM_SPLIT_MAX_SEEDS][3];
  int n_seeds;
  const SmVolume *map; /* the image layer's volume, kept alive by the layer reference */
  SmLayer *image;
  SmLabelSplit split;
  gboolean have_split;
  SmError err;
} SplitJob;

static void
split_job_free (SplitJob *job)
{
  if (job->have_split)
    sm_label_split_free (&job->split);
  g_clear_object (&job->image);
  g_free (job);
}

static void
split_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  SplitJob *job = data;
  if (sm_label_split_compute (job->store, job->segment, (const int64_t (*)[3]) job->seeds, job->n_seeds,
                              job->map, false, &job->split, &job->err) != 0)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", job->err.message);
  else
    {
      job->have_split = TRUE;
      g_task_return_boolean (task, TRUE);
    }
}

static void split_show_preview (SmProofreadController *self);

static void
split_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SmProofreadController *self = SM_PROOFREAD_CONTROLLER (source);
  SplitJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  gboolean cancelled = self->fill_cancel != 0;
  self->fill_running = FALSE;
  g_clear_object (&self->fill_cancellable);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    fail (self, error->message);
  else if (cancelled || self->store != job->store || self->n_seeds == 0)
    set_message (self, "Split cancelled");
  else
    {
      self->split = job->split; /* moved */
      job->have_split = FALSE;
      self->split_ready = TRUE;
      split_show_preview (self);
    }
}

/* The seeded watershed of the segment on the EM image, on a worker thread
 * (edits wait meanwhile: the store has no lock); wait = finish before
 * returning (test scripts). */
static void
split_start (SmProofreadController *self, gboolean wait)
{
  SplitJob *job = g_new0 (SplitJob, 1);
  job->store = self->store;
  job->segment = self->split_segment;
  memcpy (job->seeds, self->seeds, sizeof self->seeds);
  job->n_seeds = self->n_seeds;
  SmLayer *image = sm_view_state_get_image (self->state);
  job->image = image ? g_object_ref (image) : NULL;
  job->map = image ? sm_layer_get_volume (image) : NULL;
  self->fill_cancel = 0;
  self->fill_running = TRUE;
  self->fill_cancellable = g_cancellable_new ();
  set_message (self, "Splitting… (Esc cancels)");
  g_autoptr (GTask) task = g_task_new (self, self->fill_cancellable, split_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) split_job_free);
  if (wait)
    {
      split_thread (task, self, job, NULL);
      while (self->fill_running)
        g_main_context_iteration (NULL, TRUE);
      return;
    }
  g_task_run_in_thread (task, split_thread);
}

static void
split_add_seed (SmProofreadController *self, const double p[3], gboolean wait)
{
  if (!can_edit (self))
    return;
  int64_t s[3] = { (int64_t) p[0], (int64_t) p[1], (int64_t) p[2] };
  guint32 id = sm_label_store_id_at (self->store, s[0], s[1], s[2]);
  if (self->n_seeds == 0)
    {
      if (!id)
        {
          fail (self, "Split: click inside the segment to split");
          return;
        }
      self->split_segment = id;
      sm_proofread_controller_select (self, id, FALSE);
    }
  else if (id != self->split_segment)
    {
      fail (self, "Split: every seed must lie in the same segment");
      return;
    }
  if (self->n_seeds == SM_SPLIT_MAX_SEEDS)
    return;
  memcpy (self->seeds[self->n_seeds++], s, sizeof s);
  if (self->n_seeds < 2)
    {
      set_message (self, "Split: click a second seed");
      return;
    }
  if (self->split_ready)
    {
      /* The old preview's box goes back to the store's ids before the new one. */
      refresh_box (self, self->split.lo, self->split.hi);
      sm_label_split_free (&self->split);
    }
  self->split_ready = FALSE;
  split_start (self, wait);
}

/* Main thread, once the worker computed the split: show the preview. */
static void
split_show_preview (SmProofreadController *self)
{
  /* Preview: the split box drawn with one made-up id per part. */
  const int64_t *lo = self->split.lo, *hi = self->split.hi;
  size_t n = (size_t) ((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]));
  g_autofree guint32 *ids = read_fragments (self, lo, hi);
  for (size_t i = 0; i < n; i++)
    if (self->split.assign[i])
      ids[i] = PREVIEW_ID_BASE + self->split.assign[i];
  /* Into the texture only (the status bar keeps the store's ids); commit or
   * cancel re-uploads the box from the store. */
  upload_box (self, lo, hi, ids, FALSE);
  g_autofree char *m = g_strdup_printf ("Split preview: %d parts — Enter commits, Esc cancels", self->n_seeds);
  set_message (self, m);
}

static void
split_commit (SmProofreadController *self)
{
  if (!self->split_ready)
    {
      fail (self, "Split: place two seeds first");
      return;
    }
  SmError err = { { 0 } };
  guint32 new_ids[SM_SPLIT_MAX_SEEDS];
  int rc = sm_label_split_apply (self->store, &self->split, new_ids, &err);
  int n = self->split.n_seeds;
  clear_split (self, rc != 0);
  if (rc == 0)
    {
      g_array_set_size (self->selection, 0);
      g_array_append_vals (self->selection, new_ids, (guint) n);
      push_selection (self);
    }
  report (self, rc, &err, "Split");
}

typedef struct {
  SmLabelStore *store;
  int64_t seed[3];
  SmFillOptions opts;
  SmLabelRegion region;
  SmError err;
  guint32 value;
} FillJob;

static void
fill_job_free (FillJob *job)
{
  sm_label_region_free (&job->region);
  g_free (job);
}

static void
fill_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  FillJob *job = data;
  if (sm_label_fill_compute (job->store, job->seed, &job->opts, &job->region, &job->err) != 0)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", job->err.message);
  else
    g_task_return_boolean (task, TRUE);
}

static void
fill_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SmProofreadController *self = SM_PROOFREAD_CONTROLLER (source);
  FillJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  self->fill_running = FALSE;
  g_clear_object (&self->fill_cancellable);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    fail (self, error->message);
  else if (self->store == job->store)
    {
      SmError err = { { 0 } };
      g_autofree char *m = g_strdup_printf ("Filled %" G_GUINT64_FORMAT " voxels", job->region.voxels);
      report (self, sm_label_region_apply (self->store, &job->region, job->value, &err), &err, m);
    }
}

static void
fill_at (SmProofreadController *self, SmSliceView *view, const double p[3], gboolean wait)
{
  if (!can_edit (self))
    return;
  FillJob *job = g_new0 (FillJob, 1);
  job->store = self->store;
  for (int i = 0; i < 3; i++)
    job->seed[i] = (int64_t) p[i];
  sm_fill_options_default (self->store, brush_shape (self, view), job->seed, &job->opts);
  job->opts.max_voxels = FILL_BUDGET_VOXELS;
  self->fill_cancel = 0;
  job->opts.cancel = &self->fill_cancel;
  job->value = paint_value (self);
  self->fill_running = TRUE;
  self->fill_cancellable = g_cancellable_new ();
  set_message (self, "Filling… (Esc cancels)");
  g_autoptr (GTask) task = g_task_new (self, self->fill_cancellable, fill_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) fill_job_free);
  if (wait)
    {
      /* Tests: same work, same completion, on this thread. */
      fill_thread (task, self, job, NULL);
      while (self->fill_running) /* GTask completes in a later main-loop iteration */
        g_main_context_iteration (NULL, TRUE);
      return;
    }
  g_task_run_in_thread (task, fill_thread);
}

/* --- actions --------------------------------------------------------------- */

/* The slice views outline the brush around the pointer while painting or erasing. */
static void
sync_brush (SmProofreadController *self)
{
  gboolean painting = self->tool == SM_TOOL_PAINT || self->tool == SM_TOOL_ERASE;
  sm_view_state_set_brush_radius (self->state, painting ? self->radius : 0);
}

static void
set_tool (SmProofreadController *self, SmProofTool tool)
{
  if (self->tool == SM_TOOL_SPLIT && tool != SM_TOOL_SPLIT)
    clear_split (self, TRUE);
  self->tool = tool;
  GAction *a = g_action_map_lookup_action (G_ACTION_MAP (g_object_get_data (G_OBJECT (self), "group")), "tool");
  g_simple_action_set_state (G_SIMPLE_ACTION (a), g_variant_new_string (tool_names[tool]));
  sync_brush (self);
  g_signal_emit (self, signals[STATUS_CHANGED], 0);
}

static void
on_tool (GSimpleAction *action, GVariant *value, gpointer user_data)
{
  const char *name = g_variant_get_string (value, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (tool_names); i++)
    if (strcmp (name, tool_names[i]) == 0)
      set_tool (user_data, (SmProofTool) i);
}

static void
on_merge (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  SmProofreadController *self = user_data;
  if (!can_edit (self))
    return;
  if (self->selection->len < 2)
    {
      fail (self, "Merge: Shift+click two or more segments first");
      return;
    }
  SmError err = { { 0 } };
  g_autofree guint32 *ids = g_memdup2 (self->selection->data, self->selection->len * sizeof (guint32));
  guint n = self->selection->len;
  int rc = sm_label_merge (self->store, ids, n, &err);
  if (rc == 0)
    sm_proofread_controller_select (self, ids[0], FALSE);
  report (self, rc, &err, "Merged");
}

static void
on_delete (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  SmProofreadController *self = user_data;
  if (!can_edit (self))
    return;
  SmError err = { { 0 } };
  g_autofree guint32 *ids = g_memdup2 (self->selection->data, self->selection->len * sizeof (guint32));
  guint n = self->selection->len;
  int rc = 0;
  for (guint i = 0; i < n && rc == 0; i++)
    rc = sm_label_delete_segment (self->store, ids[i], &err);
  report (self, rc, &err, n ? "Deleted" : "Delete: select a segment first");
}

static void
on_new_id (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  SmProofreadController *self = user_data;
  if (!can_edit (self))
    return;
  SmError err = { { 0 } };
  guint32 id = 0;
  int rc = sm_label_new_segment (self->store, &id, &err);
  if (rc == 0)
    sm_proofread_controller_select (self, id, FALSE);
  g_autofree char *m = g_strdup_printf ("New segment %u: paint it (P)", id);
  report (self, rc, &err, m);
}

static void
on_pick (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  SmProofreadController *self = user_data;
  if (!self->store)
    return;
  double z, y, x;
  if (self->hover_inside)
    z = self->hover[0], y = self->hover[1], x = self->hover[2];
  else
    sm_view_state_get_cursor (self->state, &z, &y, &x);
  sm_proofread_controller_select (self, sm_label_store_id_at (self->store, (int64_t) z, (int64_t) y, (int64_t) x),
                                  FALSE);
}

static void
on_flag (SmProofreadController *self, gboolean lock)
{
  if (!can_edit (self) || !self->selection->len)
    return;
  SmError err = { { 0 } };
  for (guint i = 0; i < self->selection->len; i++)
    {
      guint32 id = g_array_index (self->selection, guint32, i);
      const SmSegment *seg = sm_label_store_segment (self->store, id);
      if (!seg)
        continue;
      if (lock)
        sm_label_set_locked (self->store, id, !(seg->flags & SM_SEGMENT_LOCKED), &err);
      else
        {
          gboolean hide = !(seg->flags & SM_SEGMENT_HIDDEN);
          if (sm_label_set_hidden (self->store, id, hide, &err) == 0)
            self->n_hidden = hide ? self->n_hidden + 1 : self->n_hidden - 1;
          upload_label_map (self);
        }
    }
  sm_proofread_segments_update (self->segments, self->store, (const guint32 *) self->selection->data,
                                self->selection->len);
  g_signal_emit (self, signals[SEGMENTS_CHANGED], 0);
  set_message (self, err.message[0] ? err.message : lock ? "Lock toggled" : "Hidden toggled");
}

static void on_hide (GSimpleAction *a, GVariant *p, gpointer self) { on_flag (self, FALSE); }
static void on_lock (GSimpleAction *a, GVariant *p, gpointer self) { on_flag (self, TRUE); }

static void
on_brush_size (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  SmProofreadController *self = user_data;
  int step = g_variant_get_int32 (p);
  self->radius = CLAMP (step > 0 ? self->radius * 1.25 + 0.5 : self->radius / 1.25 - 0.4, 0.5, 200);
  sync_brush (self);
  g_signal_emit (self, signals[STATUS_CHANGED], 0);
}

static void
on_brush_3d (GSimpleAction *a, GVariant *value, gpointer user_data)
{
  SmProofreadController *self = user_data;
  self->brush_3d = g_variant_get_boolean (value);
  g_simple_action_set_state (a, value);
  g_signal_emit (self, signals[STATUS_CHANGED], 0);
}

static void
on_undo_redo (SmProofreadController *self, gboolean redo)
{
  if (!can_edit (self))
    return;
  clear_split (self, TRUE);
  SmError err = { { 0 } };
  const char *name = redo ? sm_label_redo_name (self->store) : sm_label_undo_name (self->store);
  if (!name)
    {
      set_message (self, redo ? "Nothing to redo" : "Nothing to undo");
      return;
    }
  g_autofree char *m = g_strdup_printf ("%s %s", redo ? "Redid" : "Undid", name);
  report (self, redo ? sm_label_redo (self->store, &err) : sm_label_undo (self->store, &err), &err, m);
}

static void on_undo (GSimpleAction *a, GVariant *p, gpointer self) { on_undo_redo (self, FALSE); }
static void on_redo (GSimpleAction *a, GVariant *p, gpointer self) { on_undo_redo (self, TRUE); }

/* Save on a worker. Edits wait until it is written (can_edit refuses them),
 * so the file holds exactly what the views show when Ctrl+S was pressed; the
 * views, the list and navigation stay live. The store's save is atomic
 * (temporary file + rename) and marks the journal. */
typedef struct {
  SmLabelStore *store;
  char *path;
  SmError err;
  void (*then) (SmProofreadController *self, gboolean saved);
} SaveJob;

static void
save_job_free (SaveJob *job)
{
  g_free (job->path);
  g_free (job);
}

static void
save_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  SaveJob *job = data;
  g_task_return_boolean (task, sm_label_store_save (job->store, job->path, &job->err) == 0);
}

static void
save_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SmProofreadController *self = SM_PROOFREAD_CONTROLLER (source);
  SaveJob *job = g_task_get_task_data (G_TASK (result));
  gboolean ok = g_task_propagate_boolean (G_TASK (result), NULL);
  self->saving = FALSE;
  g_autofree char *m = g_strdup_printf ("Saved %s", job->path);
  report (self, ok ? 0 : -1, &job->err, m);
  if (job->then)
    job->then (self, ok);
}

/* wait: return once written (test scripts); the result is then the save's. */
static gboolean
save_start (SmProofreadController *self, const char *path, gboolean wait,
            void (*then) (SmProofreadController *self, gboolean saved))
{
  if (!self->store || self->saving || self->fill_running || self->stroking)
    {
      fail (self, self->saving ? "Already saving" : "Busy: finish the current edit before saving");
      return FALSE;
    }
  if (!path)
    {
      fail (self, "These labels have no file to save to");
      return FALSE;
    }
  SaveJob *job = g_new0 (SaveJob, 1);
  job->store = self->store;
  job->path = g_strdup (path);
  job->then = then;
  self->saving = TRUE;
  set_message (self, "Saving… (edits wait until the file is written)");
  g_autoptr (GTask) task = g_task_new (self, NULL, save_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) save_job_free);
  g_task_run_in_thread (task, save_thread);
  if (!wait)
    return TRUE;
  /* Test scripts: the main loop keeps running meanwhile; its longest
   * dispatch shows that the save does not block it. */
  gint64 start = g_get_monotonic_time (), longest = 0;
  while (self->saving)
    {
      gint64 t = g_get_monotonic_time ();
      g_main_context_iteration (NULL, TRUE);
      if (self->saving)
        longest = MAX (longest, g_get_monotonic_time () - t);
    }
  if (!self->failed)
    {
      g_autofree char *m = g_strdup_printf ("%s (%.0f ms on a worker; main loop meanwhile: longest dispatch %.1f ms)",
                                            self->message, (double) (g_get_monotonic_time () - start) / 1000.0,
                                            (double) longest / 1000.0);
      set_message (self, m);
    }
  return !self->failed;
}

static gboolean
save_to (SmProofreadController *self, const char *path)
{
  return save_start (self, path, TRUE, NULL);
}

static void on_save (GSimpleAction *a, GVariant *p, gpointer self) { save_start (self, SM_PROOFREAD_CONTROLLER (self)->path, FALSE, NULL); }

static void
on_commit (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  SmProofreadController *self = user_data;
  if (self->tool == SM_TOOL_SPLIT)
    split_commit (self);
}

/* Esc: cancel a fill, drop split seeds, else clear the selection. */
static void
on_cancel (GSimpleAction *a, GVariant *p, gpointer user_data)
{
  SmProofreadController *self = user_data;
  if (self->fill_running)
    {
      self->fill_cancel = 1;
      g_cancellable_cancel (self->fill_cancellable);
      set_message (self, self->tool == SM_TOOL_SPLIT ? "Split cancelled" : "Fill cancelled");
      if (self->tool == SM_TOOL_SPLIT)
        self->n_seeds = 0;
    }
  else if (self->n_seeds > 0)
    {
      clear_split (self, TRUE);
      set_message (self, "Split cancelled");
    }
  else
    sm_proofread_controller_select (self, 0, FALSE);
}

static void
on_select_id (GSimpleAction *a, GVariant *p, gpointer self)
{
  sm_proofread_controller_select (self, g_variant_get_uint32 (p), FALSE);
}

static void
on_jump_to (GSimpleAction *a, GVariant *p, gpointer self)
{
  sm_proofread_controller_jump_to (self, g_variant_get_uint32 (p));
}

void
sm_proofread_controller_jump_to (SmProofreadController *self, guint32 id)
{
  if (!self->store || !id)
    return;
  SmError err = { { 0 } };
  int64_t zyx[3];
  if (sm_label_store_find_voxel (self->store, id, zyx, &err) != 0)
    {
      fail (self, err.message);
      return;
    }
  sm_proofread_controller_select (self, id, FALSE);
  sm_view_state_set_cursor (self->state, (double) zyx[0] + 0.5, (double) zyx[1] + 0.5, (double) zyx[2] + 0.5);
}

/* --- pointer ---------------------------------------------------------------- */

static void
on_hover (SmSliceView *view, double z, double y, double x, gboolean inside, SmProofreadController *self)
{
  self->hover[0] = z, self->hover[1] = y, self->hover[2] = x;
  self->hover_inside = inside;
}

static void
on_drag_begin (GtkGestureDrag *gesture, double x, double y, SmProofreadController *self)
{
  SmSliceView *view = SM_SLICE_VIEW (gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (gesture)));
  double p[3];
  if (!self->store || self->tool == SM_TOOL_SELECT || !sm_slice_view_voxel_at (view, x, y, p))
    return; /* the view pans / moves the crosshair as usual */
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
  self->stroke_view = view;
  self->stroke_start[0] = x, self->stroke_start[1] = y;
  if (self->tool == SM_TOOL_PAINT || self->tool == SM_TOOL_ERASE)
    {
      view_to_brush (p);
      stroke_begin (self, view, p);
    }
  else if (self->tool == SM_TOOL_SPLIT)
    split_add_seed (self, p, FALSE);
  else if (self->tool == SM_TOOL_FILL)
    fill_at (self, view, p, FALSE);
}

static void
on_drag_update (GtkGestureDrag *gesture, double dx, double dy, SmProofreadController *self)
{
  double p[3];
  if (!self->stroking ||
      !sm_slice_view_voxel_at (self->stroke_view, self->stroke_start[0] + dx, self->stroke_start[1] + dy, p))
    return;
  view_to_brush (p);
  SmError err = { { 0 } };
  if (sm_label_stroke_to (self->store, p, &err) != 0)
    fail (self, err.message);
}

static void
on_drag_end (GtkGestureDrag *gesture, double dx, double dy, SmProofreadController *self)
{
  if (self->stroking)
    {
      stroke_end (self);
      return;
    }
  if (!self->store || self->tool != SM_TOOL_SELECT || hypot (dx, dy) > 4)
    return;
  SmSliceView *view = SM_SLICE_VIEW (gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (gesture)));
  double x, y, p[3];
  gtk_gesture_drag_get_start_point (gesture, &x, &y);
  if (!sm_slice_view_voxel_at (view, x, y, p))
    return;
  guint32 id = sm_label_store_id_at (self->store, (int64_t) p[0], (int64_t) p[1], (int64_t) p[2]);
  GdkModifierType mods = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (gesture));
  /* Sticky: a click on background keeps the selection; Shift adds / removes. */
  if (id)
    sm_proofread_controller_select (self, id, (mods & GDK_SHIFT_MASK) != 0);
}

/* --- close ------------------------------------------------------------------ */

static void
close_after_save (SmProofreadController *self, gboolean saved)
{
  if (!saved)
    return; /* the message says why; the window stays */
  self->close_confirmed = TRUE;
  if (self->window)
    gtk_window_close (self->window);
}

static void
on_close_response (GtkDialog *dialog, int response, gpointer user_data)
{
  SmProofreadController *self = user_data;
  gtk_window_destroy (GTK_WINDOW (dialog));
  if (response == GTK_RESPONSE_CANCEL || response == GTK_RESPONSE_DELETE_EVENT)
    return;
  if (response == GTK_RESPONSE_ACCEPT)
    {
      save_start (self, self->path, FALSE, close_after_save);
      return;
    }
  self->close_confirmed = TRUE;
  if (self->window)
    gtk_window_close (self->window);
}

static gboolean
on_close_request (GtkWindow *window, SmProofreadController *self)
{
  if (self->saving)
    {
      /* A Save-and-close closes by itself once written; a Ctrl+S save does not. */
      set_message (self, "Saving… the window can close once the file is written");
      return TRUE;
    }
  if (self->close_confirmed || !sm_proofread_controller_has_unsaved (self))
    return FALSE;
  GtkWidget *dialog = gtk_message_dialog_new (window, GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                              GTK_MESSAGE_WARNING, GTK_BUTTONS_NONE,
                                              "Save the label edits before closing?");
  gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (dialog),
                                            "Closing without saving keeps them in the journal: the next "
                                            "start offers to recover them.");
  gtk_dialog_add_buttons (GTK_DIALOG (dialog), "_Cancel", GTK_RESPONSE_CANCEL, "Close _without saving",
                          GTK_RESPONSE_REJECT, "_Save", GTK_RESPONSE_ACCEPT, NULL);
  gtk_dialog_set_default_response (GTK_DIALOG (dialog), GTK_RESPONSE_ACCEPT);
  g_signal_connect (dialog, "response", G_CALLBACK (on_close_response), self);
  gtk_window_present (GTK_WINDOW (dialog));
  return TRUE;
}

/* --- object ----------------------------------------------------------------- */

void
sm_proofread_controller_install (SmProofreadController *self, GtkWindow *window)
{
  /* Weak: a load or save on a worker may keep the controller past the window. */
  self->window = window;
  self->installed = TRUE;
  g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &self->window);
  static const GActionEntry entries[] = {
    { "tool", NULL, "s", "'select'", on_tool, { 0 } },
    { "merge", on_merge, NULL, NULL, NULL, { 0 } },
    { "delete", on_delete, NULL, NULL, NULL, { 0 } },
    { "new-id", on_new_id, NULL, NULL, NULL, { 0 } },
    { "pick", on_pick, NULL, NULL, NULL, { 0 } },
    { "hide", on_hide, NULL, NULL, NULL, { 0 } },
    { "lock", on_lock, NULL, NULL, NULL, { 0 } },
    { "brush-size", on_brush_size, "i", NULL, NULL, { 0 } },
    { "brush-3d", NULL, NULL, "false", on_brush_3d, { 0 } },
    { "undo", on_undo, NULL, NULL, NULL, { 0 } },
    { "redo", on_redo, NULL, NULL, NULL, { 0 } },
    { "save", on_save, NULL, NULL, NULL, { 0 } },
    { "commit", on_commit, NULL, NULL, NULL, { 0 } },
    { "cancel", on_cancel, NULL, NULL, NULL, { 0 } },
    { "select-id", on_select_id, "u", NULL, NULL, { 0 } },
    { "jump-to", on_jump_to, "u", NULL, NULL, { 0 } },
  };
  GSimpleActionGroup *group = g_object_get_data (G_OBJECT (self), "group");
  g_action_map_add_action_entries (G_ACTION_MAP (group), entries, G_N_ELEMENTS (entries), self);
  gtk_widget_insert_action_group (GTK_WIDGET (window), "proof", G_ACTION_GROUP (group));

  struct { guint key; GdkModifierType mods; const char *action; const char *arg; } keys[] = {
    { GDK_KEY_v, 0, "proof.tool", "'select'" }, { GDK_KEY_s, 0, "proof.tool", "'split'" },
    { GDK_KEY_p, 0, "proof.tool", "'paint'" }, { GDK_KEY_e, 0, "proof.tool", "'erase'" },
    { GDK_KEY_f, 0, "proof.tool", "'fill'" }, { GDK_KEY_m, 0, "proof.merge", NULL },
    { GDK_KEY_x, 0, "proof.delete", NULL }, { GDK_KEY_n, 0, "proof.new-id", NULL },
    { GDK_KEY_i, 0, "proof.pick", NULL }, { GDK_KEY_b, 0, "proof.brush-3d", NULL },
    { GDK_KEY_bracketright, 0, "proof.brush-size", "1" }, { GDK_KEY_bracketleft, 0, "proof.brush-size", "-1" },
    { GDK_KEY_h, GDK_CONTROL_MASK, "proof.hide", NULL }, { GDK_KEY_l, GDK_CONTROL_MASK, "proof.lock", NULL },
    { GDK_KEY_z, GDK_CONTROL_MASK, "proof.undo", NULL },
    { GDK_KEY_z, GDK_CONTROL_MASK | GDK_SHIFT_MASK, "proof.redo", NULL },
    { GDK_KEY_Z, GDK_CONTROL_MASK | GDK_SHIFT_MASK, "proof.redo", NULL },
    { GDK_KEY_s, GDK_CONTROL_MASK, "proof.save", NULL },
    { GDK_KEY_Return, 0, "proof.commit", NULL }, { GDK_KEY_KP_Enter, 0, "proof.commit", NULL },
    { GDK_KEY_Escape, 0, "proof.cancel", NULL },
  };
  GtkEventController *shortcuts = gtk_shortcut_controller_new ();
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      GtkShortcut *shortcut = gtk_shortcut_new (gtk_keyval_trigger_new (keys[i].key, keys[i].mods),
                                                gtk_named_action_new (keys[i].action));
      if (keys[i].arg)
        gtk_shortcut_set_arguments (shortcut, g_variant_parse (NULL, keys[i].arg, NULL, NULL, NULL));
      gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts), shortcut);
    }
  gtk_widget_add_controller (GTK_WIDGET (window), shortcuts);
  g_signal_connect (window, "close-request", G_CALLBACK (on_close_request), self);
  /* Quitting without closing the window (app.quit, --screenshot) ends the
   * session too: a clean store's journal goes, a dirty one's stays. */
  GApplication *app = g_application_get_default ();
  if (app)
    g_signal_connect_object (app, "shutdown", G_CALLBACK (detach), self, G_CONNECT_SWAPPED);
}

SmProofreadController *
sm_proofread_controller_new (SmViewState *state, SmSliceView *views[3], SmVolumeView *volume_view)
{
  SmProofreadController *self = g_object_new (SM_TYPE_PROOFREAD_CONTROLLER, NULL);
  self->state = g_object_ref (state);
  /* The views are the window's: weak, they may go first (see install). */
  self->volume_view = volume_view;
  if (volume_view)
    g_object_add_weak_pointer (G_OBJECT (volume_view), (gpointer *) &self->volume_view);
  for (int i = 0; i < 3; i++)
    {
      self->views[i] = views[i];
      g_object_add_weak_pointer (G_OBJECT (views[i]), (gpointer *) &self->views[i]);
      GtkGesture *drag = gtk_gesture_drag_new ();
      gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), GDK_BUTTON_PRIMARY);
      gtk_event_controller_set_propagation_phase (GTK_EVENT_CONTROLLER (drag), GTK_PHASE_CAPTURE);
      g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
      g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
      g_signal_connect (drag, "drag-end", G_CALLBACK (on_drag_end), self);
      gtk_widget_add_controller (GTK_WIDGET (views[i]), GTK_EVENT_CONTROLLER (drag));
      g_signal_connect (views[i], "hover", G_CALLBACK (on_hover), self);
    }
  g_signal_connect (state, "changed", G_CALLBACK (on_state_changed), self);
  return self;
}

static void
sm_proofread_controller_dispose (GObject *object)
{
  SmProofreadController *self = SM_PROOFREAD_CONTROLLER (object);
  for (int i = 0; i < 3; i++)
    if (self->views[i])
      g_object_remove_weak_pointer (G_OBJECT (self->views[i]), (gpointer *) &self->views[i]);
  if (self->volume_view)
    g_object_remove_weak_pointer (G_OBJECT (self->volume_view), (gpointer *) &self->volume_view);
  if (self->window)
    g_object_remove_weak_pointer (G_OBJECT (self->window), (gpointer *) &self->window);
  self->views[0] = self->views[1] = self->views[2] = NULL;
  self->volume_view = NULL;
  self->window = NULL;
  detach (self);
  if (self->state)
    g_signal_handlers_disconnect_by_data (self->state, self);
  g_clear_object (&self->state);
  G_OBJECT_CLASS (sm_proofread_controller_parent_class)->dispose (object);
}

static void
sm_proofread_controller_finalize (GObject *object)
{
  SmProofreadController *self = SM_PROOFREAD_CONTROLLER (object);
  g_array_unref (self->selection);
  g_clear_object (&self->segments);
  g_array_unref (self->row_ids);
  g_free (self->message);
  G_OBJECT_CLASS (sm_proofread_controller_parent_class)->finalize (object);
}

static void
sm_proofread_controller_class_init (SmProofreadControllerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = sm_proofread_controller_dispose;
  object_class->finalize = sm_proofread_controller_finalize;
  /* The segment table changed (list rows), or anything the status line shows. */
  signals[SEGMENTS_CHANGED] = g_signal_new ("segments-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                            0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[STATUS_CHANGED] = g_signal_new ("status-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
sm_proofread_controller_init (SmProofreadController *self)
{
  self->selection = g_array_new (FALSE, FALSE, sizeof (guint32));
  self->segments = sm_proofread_segments_new ();
  self->row_ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  self->radius = 4;
  g_object_set_data_full (G_OBJECT (self), "group", g_simple_action_group_new (), g_object_unref);
}

/* --- queries ----------------------------------------------------------------- */

SmLabelStore *sm_proofread_controller_get_store (SmProofreadController *self) { return self->store; }
SmProofreadSegments *sm_proofread_controller_get_segments (SmProofreadController *self) { return self->segments; }

gboolean
sm_proofread_controller_is_busy (SmProofreadController *self)
{
  return self->loading || self->saving || self->fill_running || self->script_running || self->replace_layer;
}
const char *sm_proofread_controller_get_path (SmProofreadController *self) { return self->path; }
SmProofTool sm_proofread_controller_get_tool (SmProofreadController *self) { return self->tool; }
double sm_proofread_controller_get_brush_radius (SmProofreadController *self) { return self->radius; }
gboolean sm_proofread_controller_get_brush_3d (SmProofreadController *self) { return self->brush_3d; }

const guint32 *
sm_proofread_controller_get_selection (SmProofreadController *self, gsize *n)
{
  *n = self->selection->len;
  return (const guint32 *) self->selection->data;
}

gboolean
sm_proofread_controller_has_unsaved (SmProofreadController *self)
{
  return self->store && sm_label_store_is_dirty (self->store);
}

char *
sm_proofread_controller_describe (SmProofreadController *self)
{
  if (!self->store)
    return g_strdup (self->message ? self->message : "No label layer: open labels (menu) to proofread");
  SmUndoMemory mem;
  sm_label_undo_memory (self->store, &mem);
  g_autofree char *used = g_format_size (mem.bytes);
  g_autofree char *cap = g_format_size (mem.cap);
  /* The newest steps, newest first: what Ctrl+Z will undo next. */
  const char *names[6];
  size_t n = sm_label_undo_history (self->store, names, G_N_ELEMENTS (names));
  g_autoptr (GString) history = g_string_new (NULL);
  for (size_t i = 0; i < MIN (n, G_N_ELEMENTS (names)); i++)
    g_string_append_printf (history, "%s%s", i ? " ← " : "\nHistory: ", names[i]);
  if (n > G_N_ELEMENTS (names))
    g_string_append (history, " …");
  return g_strdup_printf ("%s%sUndo: %zu steps, redo: %zu — history %s of %s%s\n%s%s",
                          self->message ? self->message : "", self->message ? "\n" : "",
                          mem.undo_steps, mem.redo_steps, used, cap, history->str,
                          sm_label_store_is_dirty (self->store) ? "Unsaved edits (journaled)" : "Saved",
                          self->path ? "" : " — no file");
}

/* --- test script --------------------------------------------------------------
 * One command a line ('#' comments): tool NAME | select ID | add ID | merge |
 * delete | new-id | hide | lock | radius R | brush-3d 0/1 | undo | redo |
 * mode NAME (view, proofread, ...) | stroke Z Y X [Z Y X ...] (paint or erase with the current tool in XY) |
 * close (the window, as its close button) | quit | crash (SIGKILL once the journal is durable) | seed Z Y X (split) | mark (keep the crosshair) | seed-marks (a seed at each mark) | commit | fill Z Y X | jump ID | save [PATH].
 * Each runs through the same code as the keys; errors stop the script. */
/* The window's mode stack (View | Pre-train | Fine-tune | Proofread). */
static GtkStack *
find_mode_stack (GtkWidget *widget)
{
  if (GTK_IS_STACK (widget) && gtk_stack_get_child_by_name (GTK_STACK (widget), "proofread"))
    return GTK_STACK (widget);
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c; c = gtk_widget_get_next_sibling (c))
    {
      GtkStack *found = find_mode_stack (c);
      if (found)
        return found;
    }
  return NULL;
}

static gboolean
run_line (SmProofreadController *self, GActionGroup *group, char **w, int n, GError **error)
{
  const char *cmd = w[0];
  double p[3] = { 0 };
  if (n >= 4)
    for (int i = 0; i < 3; i++)
      p[i] = g_ascii_strtod (w[1 + i], NULL); /* voxel indices */
  g_clear_pointer (&self->message, g_free);
  self->failed = FALSE;
  if (strcmp (cmd, "tool") == 0 && n == 2)
    g_action_group_activate_action (group, "tool", g_variant_new_string (w[1]));
  else if (strcmp (cmd, "select") == 0 && n == 2)
    g_action_group_activate_action (group, "select-id", g_variant_new_uint32 ((guint32) atol (w[1])));
  else if (strcmp (cmd, "add") == 0 && n == 2)
    sm_proofread_controller_select (self, (guint32) atol (w[1]), TRUE);
  else if (strcmp (cmd, "jump") == 0 && n == 2)
    g_action_group_activate_action (group, "jump-to", g_variant_new_uint32 ((guint32) atol (w[1])));
  else if (strcmp (cmd, "mode") == 0 && n == 2)
    {
      GtkStack *stack = self->window ? find_mode_stack (GTK_WIDGET (self->window)) : NULL;
      if (!stack || !gtk_stack_get_child_by_name (stack, w[1]))
        {
          fail (self, "no such mode");
          goto failed;
        }
      GtkStackTransitionType transition = gtk_stack_get_transition_type (stack);
      gtk_stack_set_transition_type (stack, GTK_STACK_TRANSITION_TYPE_NONE); /* screenshots */
      gtk_stack_set_visible_child_name (stack, w[1]);
      gtk_stack_set_transition_type (stack, transition);
    }
  else if (strcmp (cmd, "close") == 0 && n == 1 && self->window)
    gtk_window_close (self->window); /* asks first when edits are unsaved */
  else if (strcmp (cmd, "quit") == 0 && n == 1)
    g_application_quit (g_application_get_default ());
  else if (strcmp (cmd, "crash") == 0 && n == 1)
    {
      /* A crash once the journal writer has caught up (async mode may lose
       * the last few ms otherwise, by design). */
      SmError err = { { 0 } };
      if (self->journal)
        sm_label_journal_sync (self->journal, &err);
      fflush (stdout); /* a pipe buffers: what ran must reach the reader */
      raise (SIGKILL);
    }
  else if (strcmp (cmd, "radius") == 0 && n == 2)
    {
      self->radius = g_ascii_strtod (w[1], NULL);
      sync_brush (self);
    }
  else if (strcmp (cmd, "brush-3d") == 0 && n == 2)
    g_action_group_change_action_state (group, "brush-3d", g_variant_new_boolean (atoi (w[1]) != 0));
  else if (strcmp (cmd, "stroke") == 0 && n >= 4 && (n - 1) % 3 == 0)
    {
      if (!stroke_begin (self, self->views[0], p))
        goto failed;
      for (int k = 4; k + 2 < n; k += 3)
        {
          double q[3] = { g_ascii_strtod (w[k], NULL), g_ascii_strtod (w[k + 1], NULL),
                          g_ascii_strtod (w[k + 2], NULL) };
          SmError err = { { 0 } };
          if (sm_label_stroke_to (self->store, q, &err) != 0)
            fail (self, err.message);
        }
      stroke_end (self);
    }
  else if (strcmp (cmd, "seed") == 0 && n == 4)
    split_add_seed (self, p, TRUE);
  else if (strcmp (cmd, "mark") == 0 && n == 1 && self->n_marks < 8)
    {
      double *m = self->marks[self->n_marks++];
      sm_view_state_get_cursor (self->state, &m[0], &m[1], &m[2]);
    }
  else if (strcmp (cmd, "seed-marks") == 0 && n == 1)
    for (int k = 0; k < self->n_marks && !self->failed; k++)
      split_add_seed (self, self->marks[k], TRUE);
  else if (strcmp (cmd, "fill") == 0 && n == 4)
    fill_at (self, self->views[0], p, TRUE);
  else if (strcmp (cmd, "try") == 0 && n >= 2)
    {
      /* try CMD ...: runs CMD; a refusal is printed, not fatal (tests of what is refused). */
      g_autoptr (GError) inner = NULL;
      if (!run_line (self, group, w + 1, n - 1, &inner))
        {
          g_autofree char *m = g_strdup_printf ("refused: %s", inner->message);
          set_message (self, m);
        }
      self->failed = FALSE;
    }
  else if (strcmp (cmd, "save-nowait") == 0 && n == 1)
    g_action_group_activate_action (group, "save", NULL); /* as Ctrl+S: returns at once */
  else if (strcmp (cmd, "wait") == 0 && n == 1)
    {
      while (self->saving || self->loading || self->fill_running)
        g_main_context_iteration (NULL, TRUE);
    }
  else if (strcmp (cmd, "settle") == 0 && n == 1)
    {
      /* Runs what an edit left for the main loop (idles, list and 3D
       * updates, not frames: those wait for the frame clock) and says the
       * longest single dispatch: a stall after an edit shows here. */
      gint64 longest = 0, start = g_get_monotonic_time ();
      while (g_main_context_pending (NULL) && g_get_monotonic_time () - start < 2000000)
        {
          gint64 t = g_get_monotonic_time ();
          g_main_context_iteration (NULL, FALSE);
          longest = MAX (longest, g_get_monotonic_time () - t);
        }
      g_autofree char *m = g_strdup_printf ("main loop settled in %.1f ms, longest dispatch %.1f ms",
                                            (double) (g_get_monotonic_time () - start) / 1000.0,
                                            (double) longest / 1000.0);
      set_message (self, m);
    }
  else if (strcmp (cmd, "dump-shown") == 0 && n == 2)
    {
      /* What the views show: the layer's fragments through its label map
       * (hidden segments as 0), as a TIFF, to compare with a saved file. */
      SmVolume shown;
      SmError err = { { 0 } };
      if (!self->layer || !sm_layer_copy_displayed_labels (self->layer, TRUE, &shown))
        {
          fail (self, "no label layer to dump");
          goto failed;
        }
      report (self, sm_volume_write (w[1], &shown, &err), &err, "Dumped what the views show");
      sm_volume_free (&shown);
    }
  else if (strcmp (cmd, "color") == 0 && n == 3)
    {
      SmError err = { { 0 } };
      if (!can_edit (self))
        goto failed;
      report (self,
              sm_label_set_color (self->store, (guint32) atol (w[1]), (guint32) strtoul (w[2], NULL, 16), false, &err),
              &err, "Colour set");
    }
  else if (strcmp (cmd, "expect-id") == 0 && n == 5)
    {
      /* What the status bar and Ctrl+click read: the layer's voxel through its label map. */
      guint32 want = (guint32) atol (w[4]);
      guint32 got = self->layer ? (guint32) sm_layer_value_at (self->layer, (gint64) p[0], (gint64) p[1], (gint64) p[2]) : 0;
      guint32 stored = self->store ? sm_label_store_id_at (self->store, (int64_t) p[0], (int64_t) p[1], (int64_t) p[2]) : 0;
      g_autofree char *m = g_strdup_printf ("status bar id %u, store id %u", got, stored);
      if (got != want || stored != want)
        fail (self, m);
      else
        set_message (self, m);
    }
  else if (strcmp (cmd, "expect-labels") == 0 && n == 2)
    {
      /* The file being proofread now (after open-labels and the replace answer). */
      if (g_strcmp0 (self->path, w[1]) != 0)
        fail (self, self->path ? self->path : "no labels");
      else
        set_message (self, self->path);
    }
  else if (strcmp (cmd, "open-labels") == 0 && n == 2)
    {
      /* As the window's Open labels: a second label layer on top. */
      SmVolume v = { 0 };
      SmError err = { { 0 } };
      if (sm_volume_read (w[1], &v, &err) != 0)
        {
          fail (self, err.message);
          goto failed;
        }
      g_autofree char *name = g_path_get_basename (w[1]);
      g_autoptr (SmLayer) layer = sm_layer_new (SM_LAYER_LABELS, name, &v, NULL, NULL);
      sm_proofread_set_layer_path (layer, w[1]);
      sm_view_state_add_layer (self->state, layer);
      /* The replace answer may save, then the new labels load: both on workers. */
      while (self->saving || self->loading || self->replace_layer)
        g_main_context_iteration (NULL, TRUE);
      if (!self->failed)
        set_message (self, self->path ? self->path : "no labels");
    }
  else if (strcmp (cmd, "save") == 0 && self->store)
    {
      if (!save_to (self, n == 2 ? w[1] : self->path))
        goto failed;
    }
  else if (strcmp (cmd, "merge") == 0 || strcmp (cmd, "delete") == 0 || strcmp (cmd, "new-id") == 0 ||
           strcmp (cmd, "hide") == 0 || strcmp (cmd, "lock") == 0 || strcmp (cmd, "undo") == 0 ||
           strcmp (cmd, "redo") == 0 || strcmp (cmd, "commit") == 0 || strcmp (cmd, "cancel") == 0 ||
           strcmp (cmd, "pick") == 0)
    g_action_group_activate_action (group, cmd, NULL);
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "unknown or malformed command '%s'", cmd);
      return FALSE;
    }
  if (self->failed)
    goto failed;
  return TRUE;
failed:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", cmd, self->message ? self->message : "failed");
  return FALSE;
}

static gboolean run_lines (SmProofreadController *self, GActionGroup *group, const char *path, char **lines,
                           GError **error);

gboolean
sm_proofread_controller_run_script (SmProofreadController *self, const char *path, GError **error)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  if (!self->store)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: no label layer to proofread", path);
      return FALSE;
    }
  GActionGroup *group = g_object_get_data (G_OBJECT (self), "group");
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  self->script_running = TRUE;
  gboolean ok = run_lines (self, group, path, lines, error);
  self->script_running = FALSE;
  g_signal_emit (self, signals[STATUS_CHANGED], 0); /* not busy any more */
  return ok;
}

static gboolean
run_lines (SmProofreadController *self, GActionGroup *group, const char *path, char **lines, GError **error)
{
  for (int i = 0; lines[i]; i++)
    {
      g_strstrip (lines[i]);
      if (!lines[i][0] || lines[i][0] == '#')
        continue;
      g_auto (GStrv) w = g_strsplit_set (lines[i], " \t", -1);
      int n = 0;
      for (int k = 0; w[k]; k++)
        if (w[k][0])
          w[n++] = w[k];
        else
          g_free (w[k]);
      w[n] = NULL;
      g_autoptr (GError) line_error = NULL;
      gint64 start = g_get_monotonic_time ();
      struct timespec cpu0, cpu1;
      clock_gettime (CLOCK_THREAD_CPUTIME_ID, &cpu0);
      if (!run_line (self, group, w, n, &line_error))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s:%d: %s", path, i + 1, line_error->message);
          return FALSE;
        }
      /* Time on the main thread incl. repaint uploads (not the GPU's drawing). */
      /* CPU time of this thread too: wall time on a loaded machine overstates it. */
      clock_gettime (CLOCK_THREAD_CPUTIME_ID, &cpu1);
      double cpu_ms = (double) (cpu1.tv_sec - cpu0.tv_sec) * 1e3 + (double) (cpu1.tv_nsec - cpu0.tv_nsec) / 1e6;
      g_print ("proofread: %s -> %s  [%.2f ms, main-thread CPU %.2f ms]\n", lines[i],
               self->message ? self->message : "ok", (double) (g_get_monotonic_time () - start) / 1000.0, cpu_ms);
    }
  return TRUE;
}
