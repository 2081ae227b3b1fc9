/* SmEngineThread: the training thread and its two queues (see sm-engine-thread.h;
 * the thread, the command queue and event posting are sm-worker.c).
 *
 * Only the engine thread touches `run` (session, volume, model); only the
 * main thread touches the GObject's signals. What both see — the latest
 * progress slot and the pending flags — sits behind `lock`. */
#include "sm-engine-thread.h"

#include <math.h>
#include <string.h>

#include "data/mae_tiling.h"
#include "data/pretrain_session.h"
#include "sm-worker.h"

#define PREVIEW_MASK_SEED 20240611u
#define ERROR_MAP_SEED 0u

typedef enum {
  CMD_SET_VOLUME,
  CMD_START,
  CMD_PAUSE,
  CMD_RESUME,
  CMD_STOP,
  CMD_STEP_ONCE,
  CMD_SET_MASK_RATIO,
  CMD_SET_LR,
  CMD_PREVIEW,
  CMD_PREVIEW_EVERY,
  CMD_ERROR_MAP,
  CMD_ERROR_MAP_EVERY,
  CMD_SAVE,
  CMD_LOAD,
} CommandKind;

typedef struct {
  CommandKind kind;
  guint generation;
  double value;
  double at[3];
  char *path;
  SmTrainSettings settings;
  SmVolume volume;      /* CMD_SET_VOLUME: borrowed from owner */
  GObject *owner;
} Command;

/* What the engine thread owns. */
typedef struct {
  SmPretrainSession session;
  gboolean have_session;
  float *volume;        /* (nz, ny, nx) in [-1, 1] */
  gint64 nz, ny, nx;
  double scale_lo, scale_hi;
  SmTrainState state;
  guint generation;     /* of the run */
  double mask_ratio;
  int batch;
  gint64 total_steps;
  int threads;
  int steps_to_pause;   /* > 0: step-once in progress */
  /* previews */
  guint preview_generation;
  gboolean have_preview_at;
  double preview_at[3];
  int preview_every;
  guint error_map_generation;
  int error_map_every;
  SmStepRate rate;
} Run;

struct _SmEngineThread {
  GObject parent_instance;
  SmWorker worker;      /* its cancel flag stops a long error map (stop, quit) */
  Run run;              /* engine thread only */

  GMutex lock;
  GArray *pending_points;       /* SmTrainPoint since the last delivery */
  SmTrainProgress latest;       /* without points */
  gboolean progress_scheduled;
  gint64 last_delivery_us;

  /* Main thread only. */
  SmTrainState state;
  guint generation;             /* of the run (the UI's view) */
  guint preview_generation;
  guint error_map_generation;
};

G_DEFINE_FINAL_TYPE (SmEngineThread, sm_engine_thread, G_TYPE_OBJECT)

enum { SIG_STATE, SIG_PROGRESS, SIG_PREVIEW, SIG_ERROR_MAP, SIG_CHECKPOINT_SAVED, SIG_FAILED, N_SIGNALS };
static guint signals[N_SIGNALS];

const char *
sm_train_state_name (SmTrainState state)
{
  static const char *names[] = { "idle", "running", "paused", "finished", "stopped" };
  return state <= SM_TRAIN_STATE_STOPPED ? names[state] : "?";
}

void
sm_train_settings_init (SmTrainSettings *s)
{
  memset (s, 0, sizeof *s);
  g_strlcpy (s->config_name, "cpu-small", sizeof s->config_name);
  mae_config_named (&s->config, "cpu-small", NULL);
  s->mask_ratio = 0.75;
  s->lr = 1e-3;
  s->batch = 4;
  s->steps = 2000;
  s->warmup = -1;
  s->threads = 0;
}

void
sm_train_settings_clear (SmTrainSettings *s)
{
  g_clear_pointer (&s->resume_path, g_free);
}

static void
settings_copy (SmTrainSettings *dst, const SmTrainSettings *src)
{
  *dst = *src;
  dst->resume_path = g_strdup (src->resume_path);
}

static void
command_free (Command *c)
{
  g_free (c->path);
  sm_train_settings_clear (&c->settings);
  if (c->owner)
    g_object_unref (c->owner);
  g_free (c);
}

/* --- events: engine -> main thread ---------------------------------------- */

typedef enum { EV_STATE, EV_PREVIEW, EV_ERROR_MAP, EV_SAVED, EV_FAILED } EventKind;

typedef struct {
  EventKind kind;
  guint generation;
  SmTrainState state;
  char *text;
  SmTrainPreview *preview;
  SmTrainErrorMap *error_map;
} Event;

static void
preview_free (SmTrainPreview *p)
{
  if (!p)
    return;
  g_free (p->original);
  g_free (p->masked_input);
  g_free (p->reconstruction);
  g_free (p);
}

static void
error_map_free (SmTrainErrorMap *m)
{
  if (!m)
    return;
  sm_volume_free (&m->volume);
  g_free (m);
}

static void
event_free (gpointer data)
{
  Event *e = data;
  g_free (e->text);
  preview_free (e->preview);
  error_map_free (e->error_map);
  g_free (e);
}

static void
deliver_event (GObject *owner, gpointer data)
{
  SmEngineThread *self = SM_ENGINE_THREAD (owner);
  Event *e = data;
  switch (e->kind)
    {
    case EV_STATE:
      if (e->generation != self->generation)
        break;
      self->state = e->state;
      g_signal_emit (self, signals[SIG_STATE], 0, (int) e->state);
      break;
    case EV_PREVIEW:
      if (e->preview->generation == self->preview_generation)
        g_signal_emit (self, signals[SIG_PREVIEW], 0, e->preview);
      break;
    case EV_ERROR_MAP:
      if (e->error_map->generation == self->error_map_generation)
        g_signal_emit (self, signals[SIG_ERROR_MAP], 0, e->error_map);
      break;
    case EV_SAVED:
      g_signal_emit (self, signals[SIG_CHECKPOINT_SAVED], 0, e->text);
      break;
    case EV_FAILED:
      g_signal_emit (self, signals[SIG_FAILED], 0, e->text);
      break;
    }
}

static Event *
event_new (EventKind kind)
{
  Event *e = g_new0 (Event, 1);
  e->kind = kind;
  return e;
}

static void
post (SmEngineThread *self, Event *e)
{
  sm_worker_post (&self->worker, deliver_event, e, event_free);
}

static void
post_state (SmEngineThread *self, Run *run, SmTrainState state)
{
  run->state = state;
  self->worker.stepping = state == SM_TRAIN_STATE_RUNNING;
  Event *e = event_new (EV_STATE);
  e->generation = run->generation;
  e->state = state;
  post (self, e);
}

static void
post_failed (SmEngineThread *self, const char *message)
{
  Event *e = event_new (EV_FAILED);
  e->text = g_strdup (message);
  post (self, e);
}

/* Progress: the engine fills a slot under the lock and schedules at most one
 * delivery, no sooner than the interval after the previous one. */
static void
deliver_progress (GObject *owner, gpointer unused)
{
  SmEngineThread *self = SM_ENGINE_THREAD (owner);
  (void) unused;
  g_mutex_lock (&self->lock);
  SmTrainProgress progress = self->latest;
  GArray *points = self->pending_points;
  self->pending_points = g_array_new (FALSE, FALSE, sizeof (SmTrainPoint));
  self->progress_scheduled = FALSE;
  self->last_delivery_us = g_get_monotonic_time ();
  g_mutex_unlock (&self->lock);
  progress.points = (SmTrainPoint *) (void *) points->data;
  progress.n_points = points->len;
  if (progress.generation == self->generation)
    g_signal_emit (self, signals[SIG_PROGRESS], 0, &progress);
  g_array_unref (points);
}

static void
schedule_progress_locked (SmEngineThread *self)
{
  if (self->progress_scheduled)
    return;
  self->progress_scheduled = TRUE;
  gint64 since = (g_get_monotonic_time () - self->last_delivery_us) / 1000;
  guint delay = since >= SM_ENGINE_PROGRESS_INTERVAL_MS ? 0 : (guint) (SM_ENGINE_PROGRESS_INTERVAL_MS - since);
  sm_worker_post_after (&self->worker, delay, deliver_progress, NULL, NULL);
}

static void
post_progress (SmEngineThread *self, Run *run, const SmTrainPoint *point)
{
  g_mutex_lock (&self->lock);
  if (self->latest.generation != run->generation)
    {
      /* A new run: nothing of the old one is carried over. */
      g_array_set_size (self->pending_points, 0);
      memset (&self->latest.latest, 0, sizeof self->latest.latest);
    }
  if (point)
    {
      g_array_append_val (self->pending_points, *point);
      self->latest.latest = *point;
    }
  self->latest.generation = run->generation;
  self->latest.state = run->state;
  self->latest.total_steps = run->total_steps;
  self->latest.tokens = run->have_session ? mae_config_tokens (&run->session.config) : 0;
  self->latest.steps_per_second = run->rate.per_second;
  self->latest.mask_ratio = run->mask_ratio;
  self->latest.batch = run->batch;
  self->latest.peak_lr = run->have_session ? mae_trainer_options (run->session.trainer)->lr : 0;
  schedule_progress_locked (self);
  g_mutex_unlock (&self->lock);
}

/* --- the engine thread ----------------------------------------------------- */

static void
run_end_session (Run *run)
{
  if (run->have_session)
    sm_pretrain_session_clear (&run->session);
  run->have_session = FALSE;
}

static void
rate_reset (Run *run)
{
  sm_step_rate_restart (&run->rate, sm_pretrain_session_step_count (&run->session));
}

static gboolean
volume_fits (const Run *run, const MaeConfig *cfg)
{
  return run->volume && run->nz >= cfg->input[0] && run->ny >= cfg->input[1] && run->nx >= cfg->input[2];
}

/* A fresh run, or a checkpoint's run (resume_path) paused at its step. */
static gboolean
run_begin (SmEngineThread *self, Run *run, const SmTrainSettings *settings, gboolean paused)
{
  SmError err = { { 0 } };
  MaeConfig cfg = settings->config;
  SmCheckpointInfo saved = { 0 };
  char message[600];
  run_end_session (run);
  run->generation++;
  if (settings->resume_path)
    {
      if (sm_checkpoint_probe (settings->resume_path, &saved, &err))
        goto fail;
      cfg = saved.config;
    }
  else if (strcmp (settings->config_name, "custom") != 0 &&
           mae_config_named (&cfg, settings->config_name, NULL) != 0)
    {
      sm_error_set (&err, "pretrain: unknown config '%s'", settings->config_name);
      goto fail;
    }
  if (!run->volume)
    {
      sm_error_set (&err, "pretrain: no volume to train on");
      goto fail;
    }
  if (!volume_fits (run, &cfg))
    {
      sm_error_set (&err, "pretrain: the volume (%" G_GINT64_FORMAT " x %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT
                    ") is smaller than one %d x %d x %d crop", run->nz, run->ny, run->nx,
                    cfg.input[0], cfg.input[1], cfg.input[2]);
      goto fail;
    }
  run->threads = sm_worker_default_threads (settings->threads);
  mae_set_threads (run->threads);
  MaeTrainOptions opt;
  mae_train_options_default (&opt);
  opt.seed = settings->seed;
  opt.lr = settings->lr;
  opt.total_steps = settings->steps;
  /* Short warm-up by default: in the studio a long run must still show learning at once. */
  opt.warmup_steps = settings->warmup >= 0 ? settings->warmup : MIN (settings->steps / 20, 50);
  sm_pretrain_session_init (&run->session);
  if (sm_pretrain_session_create (&run->session, &cfg, &opt, &err))
    goto fail;
  run->have_session = TRUE;
  run->mask_ratio = settings->mask_ratio;
  run->batch = settings->batch > 0 ? settings->batch : 4;
  if (settings->resume_path)
    {
      if (sm_pretrain_session_resume (&run->session, settings->resume_path, NULL, &err))
        goto fail;
      run->mask_ratio = saved.mask_ratio;
      if (saved.batch > 0)
        run->batch = saved.batch;
    }
  run->total_steps = mae_trainer_options (run->session.trainer)->total_steps;
  if (run->total_steps <= 0)
    run->total_steps = settings->steps;
  if (sm_pretrain_session_set_volume (&run->session, run->volume, run->nz, run->ny, run->nx,
                                      run->scale_lo, run->scale_hi, &err))
    goto fail;
  run->session.info.threads = run->threads;
  run->session.info.mask_ratio = run->mask_ratio;
  run->session.info.batch = run->batch;
  run->steps_to_pause = 0;
  rate_reset (run);
  run->rate.per_second = 0;
  post_state (self, run, paused ? SM_TRAIN_STATE_PAUSED : SM_TRAIN_STATE_RUNNING);
  post_progress (self, run, NULL);
  return TRUE;

fail:
  run_end_session (run);
  g_snprintf (message, sizeof message, "%s", err.message);
  post_state (self, run, SM_TRAIN_STATE_IDLE);
  post_failed (self, message);
  return FALSE;
}

static void
copy_crop (const Run *run, const MaeConfig *cfg, const gint64 origin[3], float *crop)
{
  for (int d = 0; d < cfg->input[0]; d++)
    for (int h = 0; h < cfg->input[1]; h++)
      memcpy (crop + ((gsize) d * cfg->input[1] + h) * cfg->input[2],
              run->volume + ((origin[0] + d) * run->ny + origin[1] + h) * run->nx + origin[2],
              (gsize) cfg->input[2] * sizeof *crop);
}

static void
make_preview (SmEngineThread *self, Run *run)
{
  if (!run->have_session || !run->have_preview_at)
    return;
  MaeModel *model = mae_trainer_model (run->session.trainer);
  const MaeConfig *cfg = mae_model_config (model);
  int L = mae_config_tokens (cfg), P = mae_config_patch_voxels (cfg);
  gint64 n[3] = { run->nz, run->ny, run->nx };
  SmTrainPreview *p = g_new0 (SmTrainPreview, 1);
  p->generation = run->preview_generation;
  p->step = sm_pretrain_session_step_count (&run->session);
  p->mask_ratio = run->mask_ratio;
  p->depth = cfg->input[0];
  p->height = cfg->input[1];
  p->width = cfg->input[2];
  for (int a = 0; a < 3; a++)
    p->origin[a] = CLAMP ((gint64) floor (run->preview_at[a]) - cfg->input[a] / 2, 0, n[a] - cfg->input[a]);
  gsize voxels = (gsize) mae_config_crop_voxels (cfg);
  p->original = g_new (float, voxels);
  p->masked_input = g_new (float, voxels);
  p->reconstruction = g_new (float, voxels);
  float *pred = g_new (float, (gsize) L * P), *patches = g_new (float, (gsize) L * P),
        *denorm = g_new (float, (gsize) L * P);
  guint8 *mask = g_new (guint8, L);
  copy_crop (run, cfg, p->origin, p->original);
  /* The same mask pattern at every refresh of one ratio: what changes is the model. */
  mae_mask_from_seed (mask, L, (float) run->mask_ratio, PREVIEW_MASK_SEED, 0);
  MaeError merr = { { 0 } };
  if (mae_model_forward (model, p->original, mask, 1, pred, &p->loss, &merr))
    {
      post_failed (self, merr.message);
      preview_free (p);
    }
  else
    {
      mae_patchify (cfg, p->original, patches);
      mae_denormalize (pred, patches, L, P, denorm);
      for (int t = 0; t < L; t++)
        if (mask[t])
          for (int k = 0; k < P; k++)
            {
              patches[(gsize) t * P + k] = NAN;
            }
      mae_unpatchify (cfg, patches, p->masked_input);
      /* Visible tokens pasted, masked ones predicted. */
      mae_patchify (cfg, p->original, patches);
      for (int t = 0; t < L; t++)
        if (mask[t])
          memcpy (patches + (gsize) t * P, denorm + (gsize) t * P, (gsize) P * sizeof *patches);
      mae_unpatchify (cfg, patches, p->reconstruction);
      Event *e = event_new (EV_PREVIEW);
      e->preview = p;
      post (self, e);
    }
  g_free (pred);
  g_free (patches);
  g_free (denorm);
  g_free (mask);
}

static void
make_error_map (SmEngineThread *self, Run *run)
{
  if (!run->have_session)
    return;
  SmError err = { { 0 } };
  gsize n = (gsize) (run->nz * run->ny * run->nx);
  float *recon = g_try_new (float, n);
  guint8 *masked = g_try_new0 (guint8, n);
  SmTrainErrorMap *m = g_new0 (SmTrainErrorMap, 1);
  m->generation = run->error_map_generation;
  m->step = sm_pretrain_session_step_count (&run->session);
  m->mask_ratio = run->mask_ratio;
  SmTileOptions opt = { .mask_ratio = run->mask_ratio, .seed = ERROR_MAP_SEED, .batch = 8,
                        .cancel = &self->worker.cancel };
  if (!recon || !masked || sm_volume_alloc (&m->volume, SM_F32, run->nz, run->ny, run->nx, &err) ||
      sm_mae_reconstruct_volume (mae_trainer_model (run->session.trainer), run->volume, run->nz, run->ny,
                                 run->nx, &opt, recon, masked, NULL, NULL, &err))
    {
      if (!strstr (err.message, "cancelled"))
        post_failed (self, err.message[0] ? err.message : "error map: out of memory");
      error_map_free (m);
    }
  else
    {
      /* Input units, as `semmae reconstruct --error-map`. */
      double half_range = 0.5 * (run->scale_hi - run->scale_lo);
      float *out = m->volume.data;
      double sum = 0;
      gsize count = 0;
      for (gsize i = 0; i < n; i++)
        {
          out[i] = masked[i] ? (float) (fabs ((double) recon[i] - run->volume[i]) * half_range) : 0.0f;
          sum += out[i];
          count += masked[i];
        }
      m->mean_error = count ? sum / (double) count : 0;
      Event *e = event_new (EV_ERROR_MAP);
      e->error_map = m;
      post (self, e);
    }
  g_free (recon);
  g_free (masked);
}

static void
set_volume (SmEngineThread *self, Run *run, Command *c)
{
  gsize n = sm_volume_voxels (&c->volume);
  float *scaled = g_try_new (float, n);
  if (scaled)
    sm_volume_to_float (&c->volume, scaled, &run->scale_lo, &run->scale_hi);
  /* The owner (a GTK-side object) goes back to the main thread to die there. */
  sm_worker_unref_on_main (&self->worker, g_steal_pointer (&c->owner));
  if (!scaled)
    {
      post_failed (self, "pretrain: out of memory for the training volume");
      return;
    }
  if (run->have_session)
    {
      SmError err = { { 0 } };
      if (sm_pretrain_session_set_volume (&run->session, scaled, c->volume.nz, c->volume.ny,
                                          c->volume.nx, run->scale_lo, run->scale_hi, &err))
        {
          /* A smaller volume than the run's crop: the run ends. */
          run_end_session (run);
          post_state (self, run, SM_TRAIN_STATE_IDLE);
          post_failed (self, err.message);
        }
    }
  g_free (run->volume);
  run->volume = scaled;
  run->nz = c->volume.nz;
  run->ny = c->volume.ny;
  run->nx = c->volume.nx;
}

static void
do_step (gpointer owner)
{
  SmEngineThread *self = owner;
  Run *run = &self->run;
  SmError err = { { 0 } };
  MaeStepResult r;
  if (sm_pretrain_session_step (&run->session, run->batch, run->mask_ratio, &r, &err))
    {
      post_state (self, run, SM_TRAIN_STATE_PAUSED);
      post_failed (self, err.message);
      return;
    }
  sm_step_rate_update (&run->rate, r.step);
  SmTrainPoint point = { r.step, r.loss, r.lr, run->mask_ratio,
                         mae_keep_count (mae_config_tokens (&run->session.config), (float) run->mask_ratio) };
  if (r.step >= run->total_steps)
    post_state (self, run, SM_TRAIN_STATE_FINISHED);
  else if (run->steps_to_pause > 0 && --run->steps_to_pause == 0)
    post_state (self, run, SM_TRAIN_STATE_PAUSED);
  post_progress (self, run, &point);
  /* The end of a run always gets a preview: what the model finally makes of the crop. */
  if ((run->preview_every > 0 && r.step % run->preview_every == 0) || run->state == SM_TRAIN_STATE_FINISHED)
    make_preview (self, run);
  if (run->error_map_every > 0 && r.step % run->error_map_every == 0)
    make_error_map (self, run);
}

static void
handle (gpointer owner, gpointer command)
{
  SmEngineThread *self = owner;
  Run *run = &self->run;
  Command *c = command;
  SmError err = { { 0 } };
  switch (c->kind)
    {
    case CMD_SET_VOLUME:
      set_volume (self, run, c);
      break;
    case CMD_START:
      if (run_begin (self, run, &c->settings, FALSE))
        make_preview (self, run);
      break;
    case CMD_LOAD:
      {
        SmTrainSettings s;
        sm_train_settings_init (&s);
        s.resume_path = g_strdup (c->path);
        if (run_begin (self, run, &s, TRUE))
          make_preview (self, run);
        sm_train_settings_clear (&s);
      }
      break;
    case CMD_PAUSE:
      if (run->state == SM_TRAIN_STATE_RUNNING)
        {
          post_state (self, run, SM_TRAIN_STATE_PAUSED);
          post_progress (self, run, NULL);
        }
      break;
    case CMD_RESUME:
      if (run->have_session && (run->state == SM_TRAIN_STATE_PAUSED || run->state == SM_TRAIN_STATE_STOPPED))
        {
          run->steps_to_pause = 0;
          rate_reset (run);
          post_state (self, run, SM_TRAIN_STATE_RUNNING);
        }
      break;
    case CMD_STOP:
      if (run->have_session && run->state != SM_TRAIN_STATE_IDLE)
        {
          post_state (self, run, SM_TRAIN_STATE_STOPPED);
          post_progress (self, run, NULL);
        }
      break;
    case CMD_STEP_ONCE:
      if (run->have_session && run->state != SM_TRAIN_STATE_RUNNING &&
          sm_pretrain_session_step_count (&run->session) < run->total_steps)
        {
          run->steps_to_pause = 1;
          post_state (self, run, SM_TRAIN_STATE_RUNNING);
        }
      break;
    case CMD_SET_MASK_RATIO:
      run->mask_ratio = c->value;
      break;
    case CMD_SET_LR:
      if (run->have_session && sm_pretrain_session_set_option (&run->session, "lr", c->value, &err))
        post_failed (self, err.message);
      break;
    case CMD_PREVIEW:
      run->preview_generation = c->generation;
      run->have_preview_at = TRUE;
      memcpy (run->preview_at, c->at, sizeof run->preview_at);
      make_preview (self, run);
      break;
    case CMD_PREVIEW_EVERY:
      run->preview_every = (int) c->value;
      break;
    case CMD_ERROR_MAP:
      run->error_map_generation = c->generation;
      make_error_map (self, run);
      break;
    case CMD_ERROR_MAP_EVERY:
      run->error_map_every = (int) c->value;
      break;
    case CMD_SAVE:
      if (!run->have_session)
        post_failed (self, "save: no model yet (start or load a run first)");
      else if (sm_pretrain_session_save (&run->session, c->path, &err))
        post_failed (self, err.message);
      else
        {
          Event *e = event_new (EV_SAVED);
          e->text = g_strdup (c->path);
          post (self, e);
        }
      break;
    }
}

static void
finish (gpointer owner)
{
  SmEngineThread *self = owner;
  run_end_session (&self->run);
  g_clear_pointer (&self->run.volume, g_free);
}

static const SmWorkerOps worker_ops = { handle, do_step, finish };

/* --- commands: main thread -> engine ---------------------------------------- */

static void
send (SmEngineThread *self, CommandKind kind, double value)
{
  Command *c = g_new0 (Command, 1);
  c->kind = kind;
  c->value = value;
  sm_worker_send (&self->worker, c);
}

void
sm_engine_thread_set_volume (SmEngineThread *self, const SmVolume *volume, GObject *owner)
{
  Command *c = g_new0 (Command, 1);
  c->kind = CMD_SET_VOLUME;
  c->volume = *volume;
  c->owner = owner ? g_object_ref (owner) : NULL;
  sm_worker_send (&self->worker, c);
}

void
sm_engine_thread_start (SmEngineThread *self, const SmTrainSettings *settings)
{
  Command *c = g_new0 (Command, 1);
  c->kind = CMD_START;
  settings_copy (&c->settings, settings);
  /* The engine counts runs the same way: the next run's events carry this. */
  self->generation++;
  sm_worker_set_cancel (&self->worker, FALSE);
  sm_worker_send (&self->worker, c);
}

void sm_engine_thread_pause (SmEngineThread *self) { send (self, CMD_PAUSE, 0); }
void sm_engine_thread_resume (SmEngineThread *self) { send (self, CMD_RESUME, 0); }
void sm_engine_thread_step_once (SmEngineThread *self) { send (self, CMD_STEP_ONCE, 0); }
void sm_engine_thread_set_mask_ratio (SmEngineThread *self, double ratio) { send (self, CMD_SET_MASK_RATIO, ratio); }
void sm_engine_thread_set_lr (SmEngineThread *self, double lr) { send (self, CMD_SET_LR, lr); }
void sm_engine_thread_set_preview_every (SmEngineThread *self, int every) { send (self, CMD_PREVIEW_EVERY, every); }
void sm_engine_thread_set_error_map_every (SmEngineThread *self, int every) { send (self, CMD_ERROR_MAP_EVERY, every); }

void
sm_engine_thread_stop (SmEngineThread *self)
{
  send (self, CMD_STOP, 0);
}

guint
sm_engine_thread_request_preview (SmEngineThread *self, double z, double y, double x)
{
  Command *c = g_new0 (Command, 1);
  guint generation = ++self->preview_generation;
  c->kind = CMD_PREVIEW;
  c->generation = generation;
  c->at[0] = z;
  c->at[1] = y;
  c->at[2] = x;
  /* The engine owns (and may already have freed) c once it is queued. */
  sm_worker_send (&self->worker, c);
  return generation;
}

guint
sm_engine_thread_request_error_map (SmEngineThread *self)
{
  Command *c = g_new0 (Command, 1);
  guint generation = ++self->error_map_generation;
  c->kind = CMD_ERROR_MAP;
  c->generation = generation;
  sm_worker_send (&self->worker, c);
  return generation;
}

static void
send_path (SmEngineThread *self, CommandKind kind, const char *path)
{
  Command *c = g_new0 (Command, 1);
  c->kind = kind;
  c->path = g_strdup (path);
  sm_worker_send (&self->worker, c);
}

void
sm_engine_thread_save_checkpoint (SmEngineThread *self, const char *path)
{
  send_path (self, CMD_SAVE, path);
}

void
sm_engine_thread_load_checkpoint (SmEngineThread *self, const char *path)
{
  self->generation++;
  send_path (self, CMD_LOAD, path);
}

SmTrainState sm_engine_thread_get_state (SmEngineThread *self) { return self->state; }
guint sm_engine_thread_get_generation (SmEngineThread *self) { return self->generation; }

/* --- GObject ---------------------------------------------------------------- */

static void
sm_engine_thread_dispose (GObject *object)
{
  SmEngineThread *self = SM_ENGINE_THREAD (object);
  /* The thread stops after the step in progress. */
  sm_worker_stop (&self->worker);
  G_OBJECT_CLASS (sm_engine_thread_parent_class)->dispose (object);
}

static void
sm_engine_thread_finalize (GObject *object)
{
  SmEngineThread *self = SM_ENGINE_THREAD (object);
  sm_worker_clear (&self->worker);
  g_array_unref (self->pending_points);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (sm_engine_thread_parent_class)->finalize (object);
}

static void
sm_engine_thread_class_init (SmEngineThreadClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = sm_engine_thread_dispose;
  object_class->finalize = sm_engine_thread_finalize;
  /* Each signal has one argument (see sm-engine-thread.h). */
  static const SmWorkerSignal specs[N_SIGNALS] = {
    [SIG_STATE] = { "state", G_TYPE_INT },
    [SIG_PROGRESS] = { "progress", G_TYPE_POINTER },
    [SIG_PREVIEW] = { "preview", G_TYPE_POINTER },
    [SIG_ERROR_MAP] = { "error-map", G_TYPE_POINTER },
    [SIG_CHECKPOINT_SAVED] = { "checkpoint-saved", G_TYPE_STRING },
    [SIG_FAILED] = { "failed", G_TYPE_STRING },
  };
  sm_worker_new_signals (G_TYPE_FROM_CLASS (klass), specs, N_SIGNALS, signals);
}

static void
sm_engine_thread_init (SmEngineThread *self)
{
  self->pending_points = g_array_new (FALSE, FALSE, sizeof (SmTrainPoint));
  g_mutex_init (&self->lock);
  self->state = SM_TRAIN_STATE_IDLE;
  self->run.state = SM_TRAIN_STATE_IDLE;
  sm_worker_start (&self->worker, "semmae-engine", G_OBJECT (self), &worker_ops, (GDestroyNotify) command_free);
}

SmEngineThread *
sm_engine_thread_new (void)
{
  return g_object_new (SM_TYPE_ENGINE_THREAD, NULL);
}
