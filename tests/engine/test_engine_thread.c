/* The studio's engine thread, headless: start -> progress -> change the
 * masking ratio -> the next step uses it -> pause -> resume -> save -> stop
 * -> error map -> load -> quit, on a tiny model and a small phantom. Also
 * built with AddressSanitizer (test_engine_thread_asan) for leaks. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "app/studio/sm-engine-thread.h"
#include "data/phantom.h"
#include "data/pretrain_session.h"
#include "main_loop_wait.h"
#include "tap.h"

typedef struct {
  SmTrainState state;
  guint progress_deliveries, points;
  gint64 last_step;
  gboolean contiguous;
  SmTrainPoint by_step[4096];
  SmTrainState progress_state;
  int previews;
  SmTrainPreview preview; /* shape and step of the last one */
  gboolean preview_ok;
  int error_maps;
  double error_mean;
  gboolean error_shape_ok;
  char *saved;
  char *failed;
} Seen;

static void
on_state (SmEngineThread *e, int state, Seen *s)
{
  s->state = state;
}

static void
on_progress (SmEngineThread *e, const SmTrainProgress *p, Seen *s)
{
  s->progress_deliveries++;
  s->progress_state = p->state;
  for (guint i = 0; i < p->n_points; i++)
    {
      if (p->points[i].step != s->last_step + 1)
        s->contiguous = FALSE;
      s->last_step = p->points[i].step;
      if (p->points[i].step < 4096)
        s->by_step[p->points[i].step] = p->points[i];
      s->points++;
    }
}

static void
on_preview (SmEngineThread *e, const SmTrainPreview *p, Seen *s)
{
  s->previews++;
  s->preview = *p;
  gsize n = (gsize) p->depth * p->height * p->width;
  gsize nan = 0, finite = 0;
  for (gsize i = 0; i < n; i++)
    {
      nan += isnan (p->masked_input[i]);
      finite += isfinite (p->reconstruction[i]) && isfinite (p->original[i]);
    }
  s->preview_ok = nan > 0 && nan < n && finite == n;
}

static void
on_error_map (SmEngineThread *e, SmTrainErrorMap *m, Seen *s)
{
  s->error_maps++;
  s->error_mean = m->mean_error;
  s->error_shape_ok = m->volume.dtype == SM_F32 && m->volume.nz == 8 && m->volume.ny == 64 && m->volume.nx == 64;
}

static void
on_failed (SmEngineThread *e, const char *message, Seen *s)
{
  keep_string (e, message, &s->failed);
  g_printerr ("# engine: %s\n", message);
}

/* Conditions for wait_until (seen: the Seen). */
static gboolean state_is (gpointer s, gpointer d) { return (int) ((Seen *) s)->state == GPOINTER_TO_INT (d); }
static gboolean step_at_least (gpointer s, gpointer d) { return ((Seen *) s)->last_step >= GPOINTER_TO_INT (d); }
static gboolean progress_state_is (gpointer s, gpointer d)
{
  return (int) ((Seen *) s)->progress_state == GPOINTER_TO_INT (d);
}
static gboolean previews_at_least (gpointer s, gpointer d) { return ((Seen *) s)->previews >= GPOINTER_TO_INT (d); }
static gboolean error_maps_at_least (gpointer s, gpointer d) { return ((Seen *) s)->error_maps >= GPOINTER_TO_INT (d); }
static gboolean saved (gpointer s, gpointer d) { return ((Seen *) s)->saved != NULL; }

int
main (void)
{
  SmPhantomParams pp;
  sm_phantom_default_params (&pp);
  pp.nz = 8, pp.ny = 64, pp.nx = 64;
  SmVolume image;
  SmError err;
  if (sm_phantom_generate (&pp, &image, NULL, NULL, &err))
    return tap_skip_all (err.message);

  Seen s = { .contiguous = TRUE };
  SmEngineThread *engine = sm_engine_thread_new ();
  g_signal_connect (engine, "state", G_CALLBACK (on_state), &s);
  g_signal_connect (engine, "progress", G_CALLBACK (on_progress), &s);
  g_signal_connect (engine, "preview", G_CALLBACK (on_preview), &s);
  g_signal_connect (engine, "error-map", G_CALLBACK (on_error_map), &s);
  g_signal_connect (engine, "checkpoint-saved", G_CALLBACK (keep_string), &s.saved);
  g_signal_connect (engine, "failed", G_CALLBACK (on_failed), &s);

  sm_engine_thread_set_volume (engine, &image, NULL);
  sm_engine_thread_request_preview (engine, 4, 32, 32);
  SmTrainSettings settings;
  sm_train_settings_init (&settings);
  g_strlcpy (settings.config_name, "custom", sizeof settings.config_name);
  MaeConfig *c = &settings.config;
  c->input[0] = 2, c->input[1] = 32, c->input[2] = 32;
  c->patch[0] = 1, c->patch[1] = 16, c->patch[2] = 16;
  c->enc_dim = 32, c->enc_depth = 1, c->enc_heads = 2;
  c->dec_dim = 32, c->dec_depth = 1, c->dec_heads = 2;
  int tokens = 8;
  settings.mask_ratio = 0.75;
  settings.batch = 2;
  settings.steps = 3000;
  settings.threads = 1;
  /* A preview after every step: it must not change what training does. */
  sm_engine_thread_set_preview_every (engine, 1);
  MaeConfig run_config = settings.config;
  sm_engine_thread_start (engine, &settings);
  sm_train_settings_clear (&settings);

  TAP_OK (wait_until (state_is, &s, GINT_TO_POINTER (SM_TRAIN_STATE_RUNNING)), "start: running");
  gboolean reached = wait_until (step_at_least, &s, GINT_TO_POINTER (5));
  TAP_OK (reached, "progress reaches step 5 (at %" G_GINT64_FORMAT ")", s.last_step);
  TAP_OK (wait_until (previews_at_least, &s, GINT_TO_POINTER (1)) && s.preview_ok,
          "a preview of the crop: masked tokens blank in the input, reconstruction finite");
  TAP_OK (s.preview.depth == 2 && s.preview.height == 32 && s.preview.origin[0] == 3 && s.preview.origin[1] == 16,
          "preview crop 2x32x32 centred at the requested location (origin %" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ")",
          s.preview.origin[0], s.preview.origin[1]);

  sm_engine_thread_pause (engine);
  TAP_OK (wait_until (progress_state_is, &s, GINT_TO_POINTER (SM_TRAIN_STATE_PAUSED)) &&
              s.state == SM_TRAIN_STATE_PAUSED,
          "pause: paused");
  gint64 k = s.last_step;
  sm_engine_thread_set_preview_every (engine, 0);

  /* One training loop: the same steps straight through data/pretrain_session (as `semmae pretrain`
   * runs them) give the same losses, bit for bit, previews or not. */
  {
    SmPretrainSession direct;
    MaeTrainOptions opt;
    mae_train_options_default (&opt);
    opt.seed = 0, opt.lr = 1e-3, opt.total_steps = 3000, opt.warmup_steps = 50;
    gsize n = sm_volume_voxels (&image);
    float *scaled = g_new (float, n);
    double lo, hi;
    sm_volume_to_float (&image, scaled, &lo, &hi);
    mae_set_threads (1);
    sm_pretrain_session_init (&direct);
    gboolean same = sm_pretrain_session_create (&direct, &run_config, &opt, &err) == 0 &&
                    sm_pretrain_session_set_volume (&direct, scaled, image.nz, image.ny, image.nx, lo, hi, &err) == 0;
    for (gint64 i = 1; same && i <= k; i++)
      {
        MaeStepResult r;
        same = sm_pretrain_session_step (&direct, 2, 0.75, &r, &err) == 0 && r.step == i &&
               r.loss == s.by_step[i].loss && r.lr == s.by_step[i].lr;
        if (!same)
          tap_diag ("step %" G_GINT64_FORMAT ": direct %.9g, studio engine %.9g", i, r.loss, s.by_step[i].loss);
      }
    TAP_OK (same, "the engine thread's first %" G_GINT64_FORMAT " losses equal the shared session's, bit for bit", k);
    sm_pretrain_session_clear (&direct);
    g_free (scaled);
  }

  TAP_OK (k >= 5 && k < 4000 && s.by_step[k].mask_ratio == 0.75 &&
          s.by_step[k].visible_tokens == mae_keep_count (tokens, 0.75f),
          "step %" G_GINT64_FORMAT " ran at ratio 0.75 with %d visible tokens", k, s.by_step[k].visible_tokens);
  /* Paused means paused: a preview round trip later, no step has been added. */
  int previews = s.previews;
  sm_engine_thread_request_preview (engine, 4, 32, 32);
  wait_until (previews_at_least, &s, GINT_TO_POINTER (previews + 1));
  TAP_OK (s.last_step == k && s.preview.step == k, "no step while paused");

  sm_engine_thread_set_mask_ratio (engine, 0.5);
  sm_engine_thread_step_once (engine);
  TAP_OK (wait_until (step_at_least, &s, GINT_TO_POINTER (k + 1)) &&
              wait_until (state_is, &s, GINT_TO_POINTER (SM_TRAIN_STATE_PAUSED)),
          "step once: one step, paused again");
  TAP_OK (s.by_step[k + 1].mask_ratio == 0.5 && s.by_step[k + 1].visible_tokens == mae_keep_count (tokens, 0.5f),
          "the next step uses the new ratio: %.2f, %d visible tokens", s.by_step[k + 1].mask_ratio,
          s.by_step[k + 1].visible_tokens);

  sm_engine_thread_resume (engine);
  TAP_OK (wait_until (step_at_least, &s, GINT_TO_POINTER (k + 4)), "resume: training goes on");
  TAP_OK (s.by_step[k + 3].mask_ratio == 0.5, "the new ratio stays");

  g_autofree char *dir = g_dir_make_tmp ("engine-thread-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "m.safetensors", NULL);
  sm_engine_thread_save_checkpoint (engine, path);
  TAP_OK (wait_until (saved, &s, NULL) && g_file_test (path, G_FILE_TEST_EXISTS), "checkpoint saved while running");

  sm_engine_thread_stop (engine);
  TAP_OK (wait_until (progress_state_is, &s, GINT_TO_POINTER (SM_TRAIN_STATE_STOPPED)), "stop: stopped");
  gint64 stopped_at = s.last_step;
  TAP_OK (s.contiguous && s.points == (guint) stopped_at, "every step reported once, in order (%u points)", s.points);
  TAP_OK (s.progress_deliveries <= s.points + 4, "progress coalesced: %u deliveries for %u steps", s.progress_deliveries,
          s.points);

  sm_engine_thread_request_error_map (engine);
  gboolean mapped = wait_until (error_maps_at_least, &s, GINT_TO_POINTER (1));
  TAP_OK (mapped && s.error_shape_ok && s.error_mean > 0,
          "error map over the whole volume (mean error %.3f at masked voxels)", s.error_mean);

  SmCheckpointInfo info;
  int probed = sm_checkpoint_probe (path, &info, &err);
  TAP_OK (probed == 0 && info.step > k && info.mask_ratio == 0.5,
          "the checkpoint records step %" G_GINT64_FORMAT " and ratio %.2f", info.step, info.mask_ratio);
  sm_engine_thread_load_checkpoint (engine, path);
  s.last_step = info.step; /* the loaded run counts on from its step */
  TAP_OK (wait_until (state_is, &s, GINT_TO_POINTER (SM_TRAIN_STATE_PAUSED)), "load: a paused run");
  sm_engine_thread_step_once (engine);
  TAP_OK (wait_until (step_at_least, &s, GINT_TO_POINTER (info.step + 1)) && s.by_step[info.step + 1].mask_ratio == 0.5,
          "the loaded run continues at step %" G_GINT64_FORMAT " with its ratio", info.step + 1);

  /* Error maps every K steps while training. */
  int maps = s.error_maps;
  sm_engine_thread_set_error_map_every (engine, 2);
  sm_engine_thread_request_error_map (engine); /* a new generation: the periodic maps carry it too */
  sm_engine_thread_resume (engine);
  gboolean periodic = wait_until (error_maps_at_least, &s, GINT_TO_POINTER (maps + 3));
  TAP_OK (periodic, "error maps arrive every 2 steps while training (%d)", s.error_maps - maps);
  sm_engine_thread_set_error_map_every (engine, 0);

  /* Quit while running: dispose stops and joins. */
  sm_engine_thread_resume (engine);
  wait_until (state_is, &s, GINT_TO_POINTER (SM_TRAIN_STATE_RUNNING));
  g_object_unref (engine);
  TAP_OK (s.failed == NULL, "no engine errors");
  /* Late events of the dead engine are dropped without touching it. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_unlink (path);
  g_rmdir (dir);
  g_free (s.saved);
  g_free (s.failed);
  sm_volume_free (&image);
  return tap_done ();
}
