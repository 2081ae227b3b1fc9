/* SmFinetuneThread: the fine-tuning thread and its two queues (see
 * sm-finetune-thread.h; the thread, the command queue and event posting are
 * sm-worker.c). Only the engine thread touches `Run`; only the main thread
 * emits signals. The training loop body is data/finetune_session. */
#include "sm-finetune-thread.h"

#include <math.h>
#include <string.h>

#include "data/finetune_session.h"
#include "data/pretrain_session.h"
#include "data/seg_labels.h"
#include "engine/mae.h"
#include "sm-worker.h"

typedef enum {
  CMD_START,
  CMD_PAUSE,
  CMD_RESUME,
  CMD_STOP,
  CMD_OVERLAY,
  CMD_OVERLAY_EVERY,
  CMD_SEGMENT,
  CMD_SAVE,
} CommandKind;

typedef struct {
  CommandKind kind;
  guint generation;
  double value;
  char *path;
  SmFinetuneSettings settings;
  SmVolume image, labels;  /* CMD_START: borrowed from the owners */
  gboolean have_labels;
  GObject *image_owner, *labels_owner;
} Command;

typedef struct {
  SmFinetuneSession session;
  gboolean have_session;
  float *volume;           /* (Z, Y, X) in [-1, 1] */
  guint32 *ids;
  gint64 dims[3];
  SmTrainState state;
  guint generation;
  int val_every, overlay_every;
  gboolean have_overlay_at;
  double overlay_z;
  SmStepRate rate;
} Run;

struct _SmFinetuneThread {
  GObject parent_instance;
  SmWorker worker;      /* its cancel flag stops a validation or segmentation (stop, cancel, quit) */
  Run run;              /* engine thread only */
  /* Main thread only. */
  SmTrainState state;
  guint generation;
};

G_DEFINE_FINAL_TYPE (SmFinetuneThread, sm_finetune_thread, G_TYPE_OBJECT)

enum { SIG_STATE, SIG_PROGRESS, SIG_VALIDATION, SIG_OVERLAY, SIG_SEGMENT_PROGRESS, SIG_SEGMENTED, SIG_SAVED,
       SIG_FAILED, SIG_ACTIVITY, SIG_CANCELLED, N_SIGNALS };
static guint signals[N_SIGNALS];

void
sm_finetune_settings_init (SmFinetuneSettings *s)
{
  memset (s, 0, sizeof *s);
  s->task = SEG_TASK_NEURONS;
  s->steps = 300;
  s->batch = 2;
  s->lr = 1e-3;
  /* A 512 x 512 slab is 36 windows (~4 s on one core) and validating 10 such slices ~25 s:
   * at these intervals the steps keep about three quarters of the time. */
  s->val_every = 100;
  s->overlay_every = 20;
}

void
sm_finetune_settings_clear (SmFinetuneSettings *s)
{
  g_clear_pointer (&s->init_path, g_free);
  g_clear_pointer (&s->labels_path, g_free);
}

static void
command_free (Command *c)
{
  g_free (c->path);
  sm_finetune_settings_clear (&c->settings);
  g_clear_object (&c->image_owner);
  g_clear_object (&c->labels_owner);
  g_free (c);
}

/* --- events: engine -> main thread ---------------------------------------- */

typedef struct {
  int signal;
  guint generation;
  SmTrainState state;
  double fraction;
  char *text;
  SmFinetuneProgress progress;
  SmFinetuneValidation validation;
  SmFinetuneOverlay *overlay;
  SmFinetuneSegmentation *segmentation;
} Event;

static void
event_free (gpointer data)
{
  Event *e = data;
  g_free (e->text);
  if (e->overlay)
    g_free (e->overlay->map);
  g_free (e->overlay);
  if (e->segmentation)
    {
      sm_volume_free (&e->segmentation->labels);
      sm_volume_free (&e->segmentation->map);
      g_free (e->segmentation->path);
    }
  g_free (e->segmentation);
  g_free (e);
}

static void
deliver_event (GObject *owner, gpointer data)
{
  SmFinetuneThread *self = SM_FINETUNE_THREAD (owner);
  Event *e = data;
  /* Saved and failed messages stay meaningful across runs; the rest belong to one. */
  if (e->signal != SIG_SAVED && e->signal != SIG_FAILED && e->generation != self->generation)
    return;
  switch (e->signal)
    {
    case SIG_STATE:
      self->state = e->state;
      g_signal_emit (self, signals[SIG_STATE], 0, (int) e->state);
      break;
    case SIG_PROGRESS:
      g_signal_emit (self, signals[SIG_PROGRESS], 0, &e->progress);
      break;
    case SIG_VALIDATION:
      g_signal_emit (self, signals[SIG_VALIDATION], 0, &e->validation);
      break;
    case SIG_OVERLAY:
      g_signal_emit (self, signals[SIG_OVERLAY], 0, e->overlay);
      break;
    case SIG_SEGMENT_PROGRESS:
      g_signal_emit (self, signals[SIG_SEGMENT_PROGRESS], 0, e->fraction);
      break;
    case SIG_SEGMENTED:
      g_signal_emit (self, signals[SIG_SEGMENTED], 0, e->segmentation);
      break;
    case SIG_SAVED:
    case SIG_FAILED:
    case SIG_ACTIVITY:
    case SIG_CANCELLED:
      g_signal_emit (self, signals[e->signal], 0, e->text);
      break;
    }
}

static Event *
event_new (const Run *run, int signal)
{
  Event *e = g_new0 (Event, 1);
  e->signal = signal;
  e->generation = run->generation;
  return e;
}

static void
post (SmFinetuneThread *self, Event *e)
{
  sm_worker_post (&self->worker, deliver_event, e, event_free);
}

static void
post_state (SmFinetuneThread *self, Run *run, SmTrainState state)
{
  run->state = state;
  self->worker.stepping = state == SM_TRAIN_STATE_RUNNING;
  Event *e = event_new (run, SIG_STATE);
  e->state = state;
  post (self, e);
}

static void
post_text (SmFinetuneThread *self, Run *run, int signal, const char *text)
{
  Event *e = event_new (run, signal);
  e->text = g_strdup (text);
  post (self, e);
}

/* --- the engine thread ----------------------------------------------------- */

static void
run_end (Run *run)
{
  if (run->have_session)
    sm_finetune_session_clear (&run->session);
  run->have_session = FALSE;
  g_clear_pointer (&run->volume, g_free);
  g_clear_pointer (&run->ids, g_free);
}

/* The owners (GTK-side objects) go back to the main thread to die there. */
static void
release_owners (SmFinetuneThread *self, Command *c)
{
  sm_worker_unref_on_main (&self->worker, g_steal_pointer (&c->image_owner));
  sm_worker_unref_on_main (&self->worker, g_steal_pointer (&c->labels_owner));
}

static gboolean
run_begin (SmFinetuneThread *self, Run *run, Command *c)
{
  SmError err = { { 0 } };
  const SmFinetuneSettings *st = &c->settings;
  char message[600];
  run_end (run);
  run->generation = c->generation;
  gsize n = sm_volume_voxels (&c->image);
  double lo, hi;
  run->volume = g_try_new (float, n);
  if (!run->volume)
    {
      release_owners (self, c);
      sm_error_set (&err, "finetune: out of memory for the training volume");
      goto fail;
    }
  sm_volume_to_float (&c->image, run->volume, &lo, &hi);
  run->dims[0] = c->image.nz;
  run->dims[1] = c->image.ny;
  run->dims[2] = c->image.nx;
  SmVolume read = { 0 };
  const SmVolume *labels = c->have_labels ? &c->labels : NULL;
  const char *labels_name = st->labels_path ? st->labels_path : "labels";
  if (st->labels_path)
    {
      if (sm_volume_read (st->labels_path, &read, &err))
        {
          release_owners (self, c);
          goto fail;
        }
      labels = &read;
    }
  if (!labels)
    sm_error_set (&err, "finetune: no labels (choose a labels file or open a label layer)");
  else if (labels->nz != c->image.nz || labels->ny != c->image.ny || labels->nx != c->image.nx)
    sm_error_set (&err, "%s: labels are %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                  " but the image is %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT,
                  labels_name, labels->nz, labels->ny, labels->nx, c->image.nz, c->image.ny, c->image.nx);
  else
    {
      bool binary;
      uint32_t *ids = NULL;
      if (sm_seg_labels_prepare (labels_name, labels, &ids, &binary, &err) == 0)
        {
          /* g_free and free must not mix: keep a GLib copy. */
          run->ids = g_memdup2 (ids, n * sizeof (guint32));
          free (ids);
        }
    }
  sm_volume_free (&read);
  release_owners (self, c);
  if (!run->ids)
    goto fail;

  mae_set_threads (sm_worker_default_threads (st->threads));
  SmFinetuneOptions o;
  sm_finetune_options_default (&o);
  o.task = st->task;
  o.init_path = st->init_path;
  o.steps = st->steps;
  o.batch = st->batch;
  o.lr = st->lr;
  o.seed = st->seed;
  o.val_z0 = st->val_z0;
  o.val_z1 = st->val_z1;
  o.freeze_encoder = st->freeze_encoder;
  sm_finetune_session_init (&run->session);
  if (sm_finetune_session_create (&run->session, &o, &err))
    goto fail;
  run->have_session = TRUE;
  run->session.cancel = &self->worker.cancel;
  if (sm_finetune_session_set_data (&run->session, run->volume, run->ids, run->dims, lo, hi, &err))
    goto fail;
  run->val_every = st->val_every;
  run->overlay_every = st->overlay_every;
  run->rate.per_second = 0;
  sm_step_rate_restart (&run->rate, 0);
  post_state (self, run, SM_TRAIN_STATE_RUNNING);
  return TRUE;

fail:
  run_end (run);
  g_snprintf (message, sizeof message, "%s", err.message);
  post_state (self, run, SM_TRAIN_STATE_IDLE);
  post_text (self, run, SIG_FAILED, message);
  return FALSE;
}

static void
make_overlay (SmFinetuneThread *self, Run *run)
{
  if (!run->have_session || !run->have_overlay_at)
    return;
  SmFinetuneSession *s = &run->session;
  const int D = s->config.mae.input[0], OUT = s->config.out_channels;
  gsize slab = (gsize) D * run->dims[1] * run->dims[2];
  float *probs = g_try_new (float, slab * OUT);
  SmFinetuneOverlay *o = g_new0 (SmFinetuneOverlay, 1);
  o->map = g_try_new (float, slab);
  SmError err = { { 0 } };
  double t0 = sm_monotonic_seconds ();
  if (!probs || !o->map)
    sm_error_set (&err, "finetune: out of memory for the prediction overlay");
  else if (sm_finetune_session_predict_slab (s, (gint64) floor (run->overlay_z), probs, &o->z0, &err) == 0)
    {
      sm_finetune_display_map (s->task, o->map, probs, slab);
      o->generation = run->generation;
      o->step = sm_finetune_session_step_count (s);
      o->depth = D;
      o->ny = run->dims[1];
      o->nx = run->dims[2];
      o->compute_ms = (sm_monotonic_seconds () - t0) * 1e3;
      Event *e = event_new (run, SIG_OVERLAY);
      e->overlay = g_steal_pointer (&o);
      post (self, e);
    }
  if (err.message[0])
    post_text (self, run, SIG_FAILED, err.message);
  if (o)
    g_free (o->map);
  g_free (o);
  g_free (probs);
}

static void
make_validation (SmFinetuneThread *self, Run *run)
{
  if (!run->have_session || !sm_finetune_session_has_validation (&run->session))
    return;
  SmError err = { { 0 } };
  SegScores sc;
  double loss, t0 = sm_monotonic_seconds ();
  g_autofree char *what = g_strdup_printf ("validating on slices %" G_GINT64_FORMAT "–%" G_GINT64_FORMAT "…",
                                           run->session.val_z0, run->session.val_z1 - 1);
  post_text (self, run, SIG_ACTIVITY, what);
  if (sm_finetune_session_validate (&run->session, &loss, &sc, &err))
    {
      post_text (self, run, strstr (err.message, "cancelled") ? SIG_ACTIVITY : SIG_FAILED,
                 strstr (err.message, "cancelled") ? "validation cancelled" : err.message);
      return;
    }
  Event *e = event_new (run, SIG_VALIDATION);
  e->validation = (SmFinetuneValidation) { run->generation, sm_finetune_session_step_count (&run->session),
                                           loss, sc.primary, sc.second, sc.lower_is_better,
                                           sc.primary_name, sc.second_name, sm_monotonic_seconds () - t0 };
  post (self, e);
}

typedef struct {
  SmFinetuneThread *self;
  Run *run;
  double last;
} SegmentProgress;

static void
on_segment_progress (int64_t done, int64_t total, void *user)
{
  SegmentProgress *p = user;
  double f = total > 0 ? (double) done / (double) total : 1;
  if (f - p->last < 0.02 && done < total)
    return;
  p->last = f;
  Event *e = event_new (p->run, SIG_SEGMENT_PROGRESS);
  e->fraction = f;
  post (p->self, e);
}

static void
make_segmentation (SmFinetuneThread *self, Run *run, const char *path)
{
  if (!run->have_session)
    {
      post_text (self, run, SIG_FAILED, "segment: no fine-tuned network yet (start a run first)");
      return;
    }
  SmFinetuneSession *s = &run->session;
  const int OUT = s->config.out_channels;
  gsize n = (gsize) (run->dims[0] * run->dims[1] * run->dims[2]);
  SmError err = { { 0 } };
  SmFinetuneSegmentation *r = g_new0 (SmFinetuneSegmentation, 1);
  float *probs = g_try_new (float, n * OUT);
  double t0 = sm_monotonic_seconds ();
  SegmentProgress progress = { self, run, 0 };
  if (!probs || sm_volume_alloc (&r->labels, SM_U32, run->dims[0], run->dims[1], run->dims[2], &err) ||
      sm_volume_alloc (&r->map, SM_F32, run->dims[0], run->dims[1], run->dims[2], &err))
    {
      if (!err.message[0])
        sm_error_set (&err, "segment: out of memory");
    }
  else if ((r->n_segments = sm_finetune_session_segment (s, probs, r->labels.data, on_segment_progress, &progress,
                                                         &err)) >= 0)
    {
      sm_finetune_display_map (s->task, r->map.data, probs, n);
      /* A file of its own: proofreading journals its edits and Ctrl+S saves them there. */
      SmError write_err = { { 0 } };
      if (path && sm_volume_write (path, &r->labels, &write_err) == 0)
        r->path = g_strdup (path);
      else if (path)
        post_text (self, run, SIG_FAILED, write_err.message);
      r->generation = run->generation;
      r->step = sm_finetune_session_step_count (s);
      r->seconds = sm_monotonic_seconds () - t0;
      Event *e = event_new (run, SIG_SEGMENTED);
      e->segmentation = g_steal_pointer (&r);
      post (self, e);
    }
  if (strstr (err.message, "cancelled"))
    post_text (self, run, SIG_CANCELLED, "segmentation cancelled");
  else if (err.message[0])
    post_text (self, run, SIG_FAILED, err.message);
  if (r)
    {
      sm_volume_free (&r->labels);
      sm_volume_free (&r->map);
      g_free (r->path);
      g_free (r);
    }
  g_free (probs);
}

static void
do_step (gpointer owner)
{
  SmFinetuneThread *self = owner;
  Run *run = &self->run;
  SmError err = { { 0 } };
  double loss, t0 = sm_monotonic_seconds ();
  if (sm_finetune_session_step (&run->session, &loss, &err))
    {
      post_state (self, run, SM_TRAIN_STATE_PAUSED);
      post_text (self, run, SIG_FAILED, err.message);
      return;
    }
  double now = sm_monotonic_seconds ();
  gint64 step = sm_finetune_session_step_count (&run->session);
  sm_step_rate_update (&run->rate, step);
  gboolean last = step >= run->session.total_steps;
  Event *e = event_new (run, SIG_PROGRESS);
  e->progress = (SmFinetuneProgress) { run->generation, step, run->session.total_steps, loss,
                                       seg_optim_lr (&run->session.optim, step), run->rate.per_second,
                                       (now - t0) * 1e3,
                                       run->session.init_tensors };
  post (self, e);
  if (last)
    post_state (self, run, SM_TRAIN_STATE_FINISHED);
  if ((run->overlay_every > 0 && step % run->overlay_every == 0) || last)
    make_overlay (self, run);
  if ((run->val_every > 0 && step % run->val_every == 0) || last)
    make_validation (self, run);
}

static void
handle (gpointer owner, gpointer command)
{
  SmFinetuneThread *self = owner;
  Run *run = &self->run;
  Command *c = command;
  SmError err = { { 0 } };
  switch (c->kind)
    {
    case CMD_START:
      if (run_begin (self, run, c))
        {
          /* Step 0: what the untrained network makes of the slices, and its score (the curve's start). */
          make_overlay (self, run);
          make_validation (self, run);
          sm_step_rate_restart (&run->rate, 0); /* steps/s counts steps, not this start-up */
        }
      break;
    case CMD_PAUSE:
      if (run->state == SM_TRAIN_STATE_RUNNING)
        post_state (self, run, SM_TRAIN_STATE_PAUSED);
      break;
    case CMD_RESUME:
      if (run->have_session && (run->state == SM_TRAIN_STATE_PAUSED || run->state == SM_TRAIN_STATE_STOPPED) &&
          sm_finetune_session_step_count (&run->session) < run->session.total_steps)
        {
          sm_step_rate_restart (&run->rate, sm_finetune_session_step_count (&run->session));
          post_state (self, run, SM_TRAIN_STATE_RUNNING);
        }
      break;
    case CMD_STOP:
      if (run->have_session && run->state != SM_TRAIN_STATE_IDLE)
        post_state (self, run, SM_TRAIN_STATE_STOPPED);
      break;
    case CMD_OVERLAY:
      run->have_overlay_at = TRUE;
      run->overlay_z = c->value;
      make_overlay (self, run);
      break;
    case CMD_OVERLAY_EVERY:
      run->overlay_every = (int) c->value;
      break;
    case CMD_SEGMENT:
      make_segmentation (self, run, c->path);
      break;
    case CMD_SAVE:
      if (!run->have_session)
        post_text (self, run, SIG_FAILED, "save: no fine-tuned network yet (start a run first)");
      else if (sm_finetune_session_save (&run->session, c->path, &err))
        post_text (self, run, SIG_FAILED, err.message);
      else
        post_text (self, run, SIG_SAVED, c->path);
      break;
    }
}

static void
finish (gpointer owner)
{
  SmFinetuneThread *self = owner;
  run_end (&self->run);
}

static const SmWorkerOps worker_ops = { handle, do_step, finish };

/* --- commands: main thread -> engine ---------------------------------------- */

static void
send (SmFinetuneThread *self, CommandKind kind, double value, const char *path)
{
  Command *c = g_new0 (Command, 1);
  c->kind = kind;
  c->value = value;
  c->path = g_strdup (path);
  sm_worker_send (&self->worker, c);
}

void
sm_finetune_thread_start (SmFinetuneThread *self, const SmFinetuneSettings *settings, const SmVolume *image,
                          GObject *image_owner, const SmVolume *labels, GObject *labels_owner)
{
  Command *c = g_new0 (Command, 1);
  c->kind = CMD_START;
  c->settings = *settings;
  c->settings.init_path = g_strdup (settings->init_path);
  c->settings.labels_path = g_strdup (settings->labels_path);
  c->image = *image;
  c->image_owner = image_owner ? g_object_ref (image_owner) : NULL;
  if (labels)
    {
      c->labels = *labels;
      c->have_labels = TRUE;
      c->labels_owner = labels_owner ? g_object_ref (labels_owner) : NULL;
    }
  /* The engine numbers runs the same way: the new run's events carry this. */
  c->generation = ++self->generation;
  sm_worker_set_cancel (&self->worker, FALSE);
  sm_worker_send (&self->worker, c);
}

void sm_finetune_thread_pause (SmFinetuneThread *self) { send (self, CMD_PAUSE, 0, NULL); }

void
sm_finetune_thread_resume (SmFinetuneThread *self)
{
  sm_worker_set_cancel (&self->worker, FALSE);
  send (self, CMD_RESUME, 0, NULL);
}

void
sm_finetune_thread_stop (SmFinetuneThread *self)
{
  /* A validation in progress ends too, not only the steps. */
  sm_worker_set_cancel (&self->worker, TRUE);
  send (self, CMD_STOP, 0, NULL);
}

void
sm_finetune_thread_cancel (SmFinetuneThread *self)
{
  sm_worker_set_cancel (&self->worker, TRUE);
}
void sm_finetune_thread_request_overlay (SmFinetuneThread *self, double z) { send (self, CMD_OVERLAY, z, NULL); }
void sm_finetune_thread_set_overlay_every (SmFinetuneThread *self, int every) { send (self, CMD_OVERLAY_EVERY, every, NULL); }
void
sm_finetune_thread_segment (SmFinetuneThread *self, const char *labels_path)
{
  sm_worker_set_cancel (&self->worker, FALSE);
  send (self, CMD_SEGMENT, 0, labels_path);
}
void sm_finetune_thread_save (SmFinetuneThread *self, const char *path) { send (self, CMD_SAVE, 0, path); }
SmTrainState sm_finetune_thread_get_state (SmFinetuneThread *self) { return self->state; }

/* --- GObject ---------------------------------------------------------------- */

static void
sm_finetune_thread_dispose (GObject *object)
{
  SmFinetuneThread *self = SM_FINETUNE_THREAD (object);
  /* The thread ends after the step in progress (a validation or segmentation
   * in progress stops within a few slices). */
  sm_worker_stop (&self->worker);
  G_OBJECT_CLASS (sm_finetune_thread_parent_class)->dispose (object);
}

static void
sm_finetune_thread_finalize (GObject *object)
{
  SmFinetuneThread *self = SM_FINETUNE_THREAD (object);
  sm_worker_clear (&self->worker);
  G_OBJECT_CLASS (sm_finetune_thread_parent_class)->finalize (object);
}

static void
sm_finetune_thread_class_init (SmFinetuneThreadClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = sm_finetune_thread_dispose;
  object_class->finalize = sm_finetune_thread_finalize;
  /* Each signal has one argument (see sm-finetune-thread.h). */
  static const SmWorkerSignal specs[N_SIGNALS] = {
    [SIG_STATE] = { "state", G_TYPE_INT },
    [SIG_PROGRESS] = { "progress", G_TYPE_POINTER },
    [SIG_VALIDATION] = { "validation", G_TYPE_POINTER },
    [SIG_OVERLAY] = { "overlay", G_TYPE_POINTER },
    [SIG_SEGMENT_PROGRESS] = { "segment-progress", G_TYPE_DOUBLE },
    [SIG_SEGMENTED] = { "segmented", G_TYPE_POINTER },
    [SIG_SAVED] = { "saved", G_TYPE_STRING },
    [SIG_FAILED] = { "failed", G_TYPE_STRING },
    [SIG_ACTIVITY] = { "activity", G_TYPE_STRING },
    [SIG_CANCELLED] = { "cancelled", G_TYPE_STRING },
  };
  sm_worker_new_signals (G_TYPE_FROM_CLASS (klass), specs, N_SIGNALS, signals);
}

static void
sm_finetune_thread_init (SmFinetuneThread *self)
{
  self->state = SM_TRAIN_STATE_IDLE;
  self->run.state = SM_TRAIN_STATE_IDLE;
  sm_worker_start (&self->worker, "semmae-finetune", G_OBJECT (self), &worker_ops, (GDestroyNotify) command_free);
}

SmFinetuneThread *
sm_finetune_thread_new (void)
{
  return g_object_new (SM_TYPE_FINETUNE_THREAD, NULL);
}
