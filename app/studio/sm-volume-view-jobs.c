/* SmVolumeView, preparation (see sm-volume-view-internal.h): the view's box
 * geometry, the image texture (box-filtered and converted, on a worker thread
 * when large) and the selected-segment mask (likewise). Jobs hold a reference
 * on the view, read only the borrowed volumes they were given, and deliver
 * their result to the main thread, where a generation counter drops stale
 * ones. */
#include "sm-volume-view-internal.h"
#include "sm-volume-view-private.h"

#include <math.h>
#include <string.h>

/* Texel budget: 256^3 marches at ~interactive rates on llvmpipe; the longest
 * axis may go up to 1024 (thin serial-section stacks keep their xy detail). */
#define TEXEL_BUDGET ((gsize) 256 * 256 * 256)
#define MAX_TEXTURE_AXIS 1024
/* Sources that fit the budget unshrunk are converted on the main thread (a
 * copy, tens of ms, so the first picture has them); bigger ones, which need the
 * box filter, on a worker thread so the UI never freezes. */
#define SYNC_VOXEL_LIMIT TEXEL_BUDGET
/* Label masks are rebuilt on every selection change (a click while
 * proofreading), and cost ~15 ns a voxel with smoothing: past 4 Mvoxels
 * (~60 ms) they are built on a worker and the surfaces follow a moment later. */
#define MASK_SYNC_VOXEL_LIMIT ((gsize) 4 * 1024 * 1024)

/* ---------------------------------------------------------------- geometry */

static void
update_geometry (SmVolumeView *self, const SmVolume *v)
{
  /* Physical extent per axis; the longest becomes 1 so GL sees sane numbers. */
  const double n[3] = { (double) v->nx, (double) v->ny, (double) v->nz };
  double size[3];
  for (int a = 0; a < 3; a++) {
    double vs = v->voxel_size[2 - a];
    size[a] = n[a] * (vs > 0 && isfinite (vs) ? vs : 1.0);
  }
  const double longest = MAX (size[0], MAX (size[1], size[2]));
  for (int a = 0; a < 3; a++) self->half_extent[a] = 0.5 * size[a] / (longest > 0 ? longest : 1.0);
}

static int
max_texture_axis (SmVolumeView *self)
{
  int limit = MAX_TEXTURE_AXIS;
  if (self->max_3d > 0) limit = MIN (limit, self->max_3d);
  return limit;
}

/* ------------------------------------------------------------ workers */

/* Stops a running job; its late result is dropped by generation. Blocks only
 * until the thread notices (jobs check once per slice). The job's completion
 * callback is still queued: it frees the job and joins nothing. */
void
sm_volume_worker_stop (SmVolumeWorker *w)
{
  w->generation++;
  if (!w->thread) return;
  g_atomic_int_set (&w->cancel, 1);
  g_thread_join (w->thread);
  w->thread = NULL;
  g_atomic_int_set (&w->cancel, 0);
}

/* In a completion callback: TRUE when the job is still wanted (then its
 * thread, which has finished, is joined). */
static gboolean
worker_finish (SmVolumeWorker *w, guint generation)
{
  if (generation != w->generation) return FALSE;
  if (w->thread) {
    g_thread_join (w->thread);
    w->thread = NULL;
  }
  return TRUE;
}

static gsize sync_voxel_limit = SYNC_VOXEL_LIMIT;

static gboolean
too_big_for_main_thread (const SmVolume *v, gsize limit)
{
  return (gsize) v->nz * v->ny * v->nx > MIN (limit, sync_voxel_limit);
}

/* ------------------------------------------------------------ label mask */

typedef struct {
  SmVolumeView *self;      /* referenced while the thread runs */
  const SmVolume *labels;
  int factor[3], shape[3];
  guint32 *ids;
  gsize n_ids;
  guint generation;
  guint8 *mask;
  gboolean ok;
} MaskJob;

static void
mask_job_free (MaskJob *job)
{
  g_free (job->ids);
  g_free (job->mask);
  g_free (job);
}

static void
accept_mask (SmVolumeView *self, MaskJob *job)
{
  g_free (self->mask);
  self->mask = g_steal_pointer (&job->mask);
  memcpy (self->mask_shape, job->shape, sizeof self->mask_shape);
  self->mask_full_dirty = TRUE;
  self->mask_box_dirty = FALSE;
  sm_volume_view_invalidate (self);
}

static gboolean
mask_done (gpointer data)
{
  MaskJob *job = data;
  SmVolumeView *self = job->self;
  if (worker_finish (&self->mask_worker, job->generation) && job->ok) accept_mask (self, job);
  mask_job_free (job);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

static gpointer
mask_thread (gpointer data)
{
  MaskJob *job = data;
  const int lo[3] = { 0, 0, 0 };
  job->ok = sm_volume_mask_build (job->labels, job->factor, job->shape, job->ids, job->n_ids, lo, job->shape,
                                  &job->self->mask_worker.cancel, job->mask);
  if (job->ok) sm_volume_mask_smooth (job->mask, job->shape, lo, job->shape);
  g_main_context_invoke (NULL, mask_done, job);
  return NULL;
}

/* The mask of the selected segments at the texture's geometry: on the main
 * thread for small label volumes, else on a worker (the old surfaces stay
 * until the new ones arrive). */
void
sm_volume_view_mask_rebuild (SmVolumeView *self)
{
  sm_volume_worker_stop (&self->mask_worker);
  const SmVolume *labels = self->labels;
  gboolean wanted = labels && labels->data && self->n_ids > 0 && self->tex_shape[0] > 0;
  if (wanted && self->volume && (labels->nz != self->volume->nz || labels->ny != self->volume->ny ||
                                 labels->nx != self->volume->nx)) {
    g_warning ("sm-volume-view: labels %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
               " do not match the image's shape; surfaces not drawn",
               labels->nz, labels->ny, labels->nx);
    wanted = FALSE;
  }
  const gsize texels = (gsize) self->tex_shape[0] * self->tex_shape[1] * self->tex_shape[2];
  MaskJob *job = NULL;
  if (wanted) {
    job = g_new0 (MaskJob, 1);
    job->self = self;
    job->labels = labels;
    memcpy (job->factor, self->factor, sizeof job->factor);
    memcpy (job->shape, self->tex_shape, sizeof job->shape);
    job->ids = g_memdup2 (self->ids, self->n_ids * sizeof *self->ids);
    job->n_ids = self->n_ids;
    job->generation = self->mask_worker.generation;
    job->mask = g_try_malloc (2 * texels);
    if (!job->mask) {
      g_warning ("sm-volume-view: not enough memory for the label mask");
      g_clear_pointer (&job, mask_job_free);
    }
  }
  if (!job || !too_big_for_main_thread (labels, MASK_SYNC_VOXEL_LIMIT)) {
    g_clear_pointer (&self->mask, g_free);
    self->mask_box_dirty = FALSE;
    self->mask_full_dirty = TRUE;
    if (job) {
      job->ok = TRUE;
      const int lo[3] = { 0, 0, 0 };
      sm_volume_mask_build (labels, job->factor, job->shape, job->ids, job->n_ids, lo, job->shape, NULL, job->mask);
      sm_volume_mask_smooth (job->mask, job->shape, lo, job->shape);
      accept_mask (self, job);
      mask_job_free (job);
    }
    sm_volume_view_invalidate (self);
    return;
  }
  /* Old surfaces of another geometry cannot stay meanwhile. */
  if (self->mask && memcmp (self->mask_shape, self->tex_shape, sizeof self->mask_shape) != 0) {
    g_clear_pointer (&self->mask, g_free);
    self->mask_full_dirty = TRUE;
    self->mask_box_dirty = FALSE;
  }
  /* The job keeps the view alive until its result has been delivered. */
  g_object_ref (self);
  self->mask_worker.thread = g_thread_new ("sm-volume-mask", mask_thread, job);
}

/* Geometry for the labels alone (no image). */
void
sm_volume_view_plan_for_labels (SmVolumeView *self)
{
  const SmVolume *l = self->labels;
  sm_volume_texture_plan (l->nz, l->ny, l->nx, max_texture_axis (self), TEXEL_BUDGET, self->factor);
  for (int a = 0; a < 3; a++) {
    const gint64 n = a == 0 ? l->nz : a == 1 ? l->ny : l->nx;
    self->tex_shape[a] = (int) ((n + self->factor[a] - 1) / self->factor[a]);
  }
  update_geometry (self, l);
}

/* -------------------------------------------------------- volume preparation */

typedef struct {
  SmVolumeView *self;      /* referenced while the thread runs */
  const SmVolume *volume;
  int factor[3];
  gboolean allow_unorm16;
  guint generation;
  SmVolumeTexture result;
  gboolean ok;
} PrepareJob;

static void
accept_texture (SmVolumeView *self, SmVolumeTexture *tex)
{
  sm_volume_texture_clear (&self->pending);
  self->pending = *tex;
  self->pending_ready = TRUE;
  self->volume_clear = FALSE;
  self->tex_shape[0] = tex->nz;
  self->tex_shape[1] = tex->ny;
  self->tex_shape[2] = tex->nx;
  memcpy (self->factor, tex->factor, sizeof self->factor);
  self->tex_scale = tex->scale;
  self->tex_offset = tex->offset;
  self->tex_median = tex->median;
  sm_volume_view_mask_rebuild (self);
  sm_volume_view_invalidate (self);
}

static gboolean
prepare_done (gpointer data)
{
  PrepareJob *job = data;
  SmVolumeView *self = job->self;
  if (worker_finish (&self->image_worker, job->generation) && job->ok)
    accept_texture (self, &job->result);
  else
    sm_volume_texture_clear (&job->result);
  g_free (job);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

static gpointer
prepare_thread (gpointer data)
{
  PrepareJob *job = data;
  job->ok = sm_volume_texture_build (job->volume, job->factor, job->allow_unorm16, &job->self->image_worker.cancel,
                                     &job->result);
  g_main_context_invoke (NULL, prepare_done, job);
  return NULL;
}

/* Needs max_3d, i.e. a realized context, for the plan; before that it waits. */
void
sm_volume_view_prepare_volume (SmVolumeView *self)
{
  sm_volume_worker_stop (&self->image_worker);
  const SmVolume *v = self->volume;
  if (!v || !v->data || !self->gl_ready) return;
  PrepareJob *job = g_new0 (PrepareJob, 1);
  job->self = self;
  job->volume = v;
  job->allow_unorm16 = !self->use_es;
  job->generation = self->image_worker.generation;
  sm_volume_texture_plan (v->nz, v->ny, v->nx, max_texture_axis (self), TEXEL_BUDGET, job->factor);
  update_geometry (self, v);
  if (!too_big_for_main_thread (v, SYNC_VOXEL_LIMIT)) {
    job->ok = sm_volume_texture_build (v, job->factor, job->allow_unorm16, NULL, &job->result);
    if (job->ok)
      accept_texture (self, &job->result);
    else
      g_warning ("sm-volume-view: not enough memory for the 3D texture");
    g_free (job);
    return;
  }
  /* The job keeps the view alive until its result has been delivered. */
  g_object_ref (self);
  self->image_worker.thread = g_thread_new ("sm-volume-view", prepare_thread, job);
}


void
sm_volume_view_set_sync_limit (gsize voxels)
{
  sync_voxel_limit = voxels;
}
