/* Loading layers on worker threads (see sm-loader.h). */
#include "sm-loader.h"

#include "data/phantom.h"
#include "sm-volume-level.h"

typedef struct {
  char *path;
  SmLayerKind kind;
  volatile int cancel; /* read by sm_volume_read_ex between slices */
  gulong cancel_handler;
  GCancellable *cancellable;
  SmLoadProgressFunc progress;
  gpointer progress_data;
  GMutex lock;
  double fraction;
  gboolean report_pending;
  gint64 shape[3];
} LoadJob;

static void
load_job_free (LoadJob *job)
{
  if (job->cancellable)
    {
      g_cancellable_disconnect (job->cancellable, job->cancel_handler);
      g_object_unref (job->cancellable);
    }
  g_mutex_clear (&job->lock);
  g_free (job->path);
  g_free (job);
}

static void
on_cancelled (GCancellable *cancellable, LoadJob *job)
{
  job->cancel = 1;
}

static int
upload_bytes_per_voxel (SmLayerKind kind, SmDtype dtype)
{
  if (kind == SM_LAYER_LABELS)
    return 4;
  return dtype == SM_U8 ? 1 : dtype == SM_U16 ? 2 : 4;
}

SmLayer *
sm_layer_new_prepared (SmLayerKind kind, const char *name, SmVolume *volume, GError **error)
{
  double min, max, p_lo = 0, p_hi = 1;
  sm_volume_range (volume, &min, &max);
  if (kind != SM_LAYER_LABELS)
    sm_volume_sample_percentiles (volume, 0.005, 0.995, &p_lo, &p_hi);
  if (p_hi <= p_lo)
    {
      p_lo = min;
      p_hi = max > min ? max : min + 1;
    }
  int stride[3];
  SmVolume level = { 0 };
  if (sm_volume_level_strides (volume, sm_texture_max_dim (), sm_texture_budget_bytes (),
                               upload_bytes_per_voxel (kind, volume->dtype), stride))
    {
      SmError err = { { 0 } };
      if (sm_volume_subsample (volume, stride, &level, &err) != 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "%s: %s", name, err.message);
          sm_volume_free (volume);
          return NULL;
        }
    }
  SmLayer *layer = sm_layer_new (kind, name, volume, &level, stride);
  sm_layer_set_stats (layer, min, max, p_lo, p_hi);
  return layer;
}

static gboolean
report_progress (gpointer data)
{
  GTask *task = data;
  LoadJob *job = g_task_get_task_data (task);
  g_mutex_lock (&job->lock);
  double fraction = job->fraction;
  job->report_pending = FALSE;
  g_mutex_unlock (&job->lock);
  if (!g_task_get_completed (task) && job->progress)
    job->progress (fraction, job->progress_data);
  return G_SOURCE_REMOVE;
}

/* Called on the reading thread. */
static void
on_read_progress (double fraction, void *user)
{
  GTask *task = user;
  LoadJob *job = g_task_get_task_data (task);
  g_mutex_lock (&job->lock);
  job->fraction = fraction;
  gboolean schedule = !job->report_pending;
  job->report_pending = TRUE;
  g_mutex_unlock (&job->lock);
  if (schedule)
    g_idle_add_full (G_PRIORITY_DEFAULT, report_progress, g_object_ref (task), g_object_unref);
}

static void
load_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  LoadJob *job = data;
  SmVolume volume = { 0 };
  SmError err = { { 0 } };
  SmReadOptions options = { .progress = on_read_progress, .user = task, .cancel = &job->cancel };
  if (sm_volume_read_ex (job->path, &options, &volume, &err) != 0)
    {
      if (job->cancel)
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s", err.message);
      else
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", err.message);
      return;
    }
  g_autofree char *name = g_path_get_basename (job->path);
  GError *error = NULL;
  SmLayer *layer = sm_layer_new_prepared (job->kind, name, &volume, &error);
  if (!layer)
    g_task_return_error (task, error);
  else if (job->cancel)
    {
      g_object_unref (layer);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s: cancelled", job->path);
    }
  else
    g_task_return_pointer (task, layer, g_object_unref);
}

void
sm_load_layer_async (const char *path, SmLayerKind kind, GCancellable *cancellable,
                     SmLoadProgressFunc progress, gpointer progress_data,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  LoadJob *job = g_new0 (LoadJob, 1);
  g_mutex_init (&job->lock);
  job->path = g_strdup (path);
  job->kind = kind;
  job->progress = progress;
  job->progress_data = progress_data;
  /* The task reports cancellation itself, after the reader stopped: the
   * volume is freed on the worker, never leaked. */
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, job, (GDestroyNotify) load_job_free);
  if (cancellable)
    {
      job->cancellable = g_object_ref (cancellable);
      job->cancel_handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), job, NULL);
    }
  g_task_run_in_thread (task, load_thread);
  g_object_unref (task);
}

SmLayer *
sm_load_layer_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- phantom --------------------------------------------------------------- */

typedef struct {
  SmLayer *image;
  SmLayer *labels;
} PhantomResult;

static void
phantom_result_free (PhantomResult *r)
{
  g_clear_object (&r->image);
  g_clear_object (&r->labels);
  g_free (r);
}

static void
phantom_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  const gint64 *shape = data;
  SmPhantomParams params;
  sm_phantom_default_params (&params);
  params.nz = shape[0];
  params.ny = shape[1];
  params.nx = shape[2];
  SmVolume image = { 0 }, labels = { 0 };
  SmError err = { { 0 } };
  if (sm_phantom_generate (&params, &image, &labels, NULL, &err) != 0)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, "phantom: %s", err.message);
      return;
    }
  PhantomResult *r = g_new0 (PhantomResult, 1);
  GError *error = NULL;
  r->image = sm_layer_new_prepared (SM_LAYER_IMAGE, "phantom", &image, &error);
  if (r->image)
    r->labels = sm_layer_new_prepared (SM_LAYER_LABELS, "phantom neurites", &labels, &error);
  else
    sm_volume_free (&labels);
  if (!r->labels)
    {
      phantom_result_free (r);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, r, (GDestroyNotify) phantom_result_free);
}

void
sm_load_phantom_async (gint64 nz, gint64 ny, gint64 nx, GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  gint64 *shape = g_new (gint64, 3);
  shape[0] = nz;
  shape[1] = ny;
  shape[2] = nx;
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_task_data (task, shape, g_free);
  g_task_run_in_thread (task, phantom_thread);
  g_object_unref (task);
}

gboolean
sm_load_phantom_finish (GAsyncResult *result, SmLayer **image, SmLayer **labels, GError **error)
{
  PhantomResult *r = g_task_propagate_pointer (G_TASK (result), error);
  if (!r)
    return FALSE;
  *image = g_steal_pointer (&r->image);
  *labels = g_steal_pointer (&r->labels);
  phantom_result_free (r);
  return TRUE;
}
