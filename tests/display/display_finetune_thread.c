/* The studio's fine-tuning thread, headless, on a small phantom: start ->
 * a progress event per step in order -> the prediction overlay at step 0 and
 * every step (probabilities in [0, 1], the slab around the requested slice)
 * -> validation at step 0 and at the end -> finished -> save (the file loads
 * back with its step and task) -> segment volume (ids 1..K) -> quit joins.
 * Bad input: labels of another shape and a missing labels file fail with a
 * one-line reason and leave the thread idle. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "data/finetune_session.h"
#include "data/phantom.h"
#include "data/seg_checkpoint.h"
#include "sm-finetune-thread.h"
#include "main_loop_wait.h"
#include "tap.h"

typedef struct {
  SmTrainState state;
  gint64 last_step;
  gboolean in_order;
  int overlays;
  gint64 overlay_steps[16];
  gboolean overlay_ok;
  int validations;
  gint64 validation_steps[8];
  double metric;
  char *saved, *failed, *cancelled;
  SmFinetuneSegmentation *segmentation;
  gint64 max_label;
} Seen;

static void on_state (SmFinetuneThread *t, int state, Seen *s) { s->state = state; }

static void
on_progress (SmFinetuneThread *t, const SmFinetuneProgress *p, Seen *s)
{
  if (p->step != s->last_step + 1 || !isfinite (p->loss))
    s->in_order = FALSE;
  s->last_step = p->step;
}

static void
on_overlay (SmFinetuneThread *t, SmFinetuneOverlay *o, Seen *s)
{
  if (s->overlays < 16)
    s->overlay_steps[s->overlays] = o->step;
  s->overlays++;
  gsize n = (gsize) o->depth * o->ny * o->nx;
  for (gsize i = 0; i < n; i++)
    if (!(o->map[i] >= 0 && o->map[i] <= 1))
      s->overlay_ok = FALSE;
  /* Slice 3 was asked for: the 6-slice slab holding it, centred where it can be. */
  if (o->z0 != 0 || o->depth != 6 || o->ny != 96 || o->nx != 96)
    s->overlay_ok = FALSE;
}

static void
on_validation (SmFinetuneThread *t, const SmFinetuneValidation *v, Seen *s)
{
  if (s->validations < 8)
    s->validation_steps[s->validations] = v->step;
  s->validations++;
  s->metric = v->primary;
}

static void
on_segmented (SmFinetuneThread *t, SmFinetuneSegmentation *r, Seen *s)
{
  const guint32 *ids = r->labels.data;
  s->max_label = 0;
  for (gsize i = 0; i < sm_volume_voxels (&r->labels); i++)
    s->max_label = MAX (s->max_label, (gint64) ids[i]);
  s->segmentation = g_memdup2 (r, sizeof *r);
  s->segmentation->labels.data = s->segmentation->map.data = NULL;
  s->segmentation->path = g_strdup (r->path);
}

/* Conditions for wait_until (seen: the Seen). */
static gboolean
run_done (gpointer seen, gpointer arg)
{
  const Seen *s = seen;
  return s->state == SM_TRAIN_STATE_FINISHED && s->validations >= 2 && s->overlays >= 4;
}
static gboolean saved_done (gpointer s, gpointer arg) { return ((Seen *) s)->saved || ((Seen *) s)->failed; }
static gboolean segmented_done (gpointer s, gpointer arg) { return ((Seen *) s)->segmentation || ((Seen *) s)->failed; }
static gboolean failed_done (gpointer s, gpointer arg) { return ((Seen *) s)->failed != NULL; }
static gboolean
cancelled_done (gpointer seen, gpointer arg)
{
  const Seen *s = seen;
  return s->cancelled || s->segmentation || s->failed;
}

int
main (void)
{
  g_setenv ("OMP_NUM_THREADS", "1", TRUE);
  SmPhantomParams pp;
  sm_phantom_default_params (&pp);
  pp.nz = 12, pp.ny = 96, pp.nx = 96;
  SmVolume image, labels;
  SmError err;
  if (sm_phantom_generate (&pp, &image, &labels, NULL, &err))
    return tap_skip_all (err.message);

  SmFinetuneThread *t = sm_finetune_thread_new ();
  Seen s = { .in_order = TRUE, .overlay_ok = TRUE };
  g_signal_connect (t, "state", G_CALLBACK (on_state), &s);
  g_signal_connect (t, "progress", G_CALLBACK (on_progress), &s);
  g_signal_connect (t, "overlay", G_CALLBACK (on_overlay), &s);
  g_signal_connect (t, "validation", G_CALLBACK (on_validation), &s);
  g_signal_connect (t, "saved", G_CALLBACK (keep_string), &s.saved);
  g_signal_connect (t, "failed", G_CALLBACK (keep_string), &s.failed);
  g_signal_connect (t, "segmented", G_CALLBACK (on_segmented), &s);
  g_signal_connect (t, "cancelled", G_CALLBACK (keep_string), &s.cancelled);

  SmFinetuneSettings settings;
  sm_finetune_settings_init (&settings);
  settings.task = SEG_TASK_MEMBRANE;
  settings.steps = 3;
  settings.overlay_every = 1;
  settings.val_z0 = 8;
  settings.val_z1 = 12;
  settings.val_every = 0; /* step 0 and the end */
  settings.threads = 1;
  sm_finetune_thread_request_overlay (t, 3);
  sm_finetune_thread_start (t, &settings, &image, NULL, &labels, NULL);
  gboolean ok = wait_until (run_done, &s, NULL);
  TAP_OK (ok, "the run finishes (state %s, %d overlays, %d validations)",
          sm_train_state_name (s.state), s.overlays, s.validations);
  TAP_OK (s.last_step == 3 && s.in_order, "one progress event per step, in order, finite losses");
  TAP_OK (s.overlays == 4 && s.overlay_steps[0] == 0 && s.overlay_steps[3] == 3 && s.overlay_ok,
          "overlay at step 0 and after every step: the slab around slice 3, probabilities in [0, 1]");
  TAP_OK (s.validations == 2 && s.validation_steps[0] == 0 && s.validation_steps[1] == 3 && s.metric >= 0 &&
          s.metric <= 1, "validation at step 0 and 3 (arand %.4f)", s.metric);
  TAP_OK (s.failed == NULL, "no failure (%s)", s.failed ? s.failed : "none");

  g_autofree char *dir = g_dir_make_tmp ("finetune-thread-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "seg.safetensors", NULL);
  sm_finetune_thread_save (t, path);
  ok = wait_until (saved_done, &s, NULL);
  TAP_OK (ok && g_strcmp0 (s.saved, path) == 0, "saved");
  SegNet *net = NULL;
  SmSegInfo info;
  gboolean loaded = sm_seg_checkpoint_load (path, &net, &info, &err) == 0;
  TAP_OK (loaded && info.step == 3 && info.task == SEG_TASK_MEMBRANE, "the saved model loads: step %" G_GINT64_FORMAT
          ", task %s", loaded ? (gint64) info.step : -1, loaded ? seg_task_name (info.task) : err.message);
  seg_net_free (net);
  g_unlink (path);

  g_autofree char *labels_path = g_build_filename (dir, "labels.tif", NULL);
  sm_finetune_thread_segment (t, labels_path);
  ok = wait_until (segmented_done, &s, NULL);
  TAP_OK (ok && s.segmentation, "segment volume");
  if (s.segmentation)
    {
      TAP_OK (s.segmentation->n_segments > 1 && s.max_label == s.segmentation->n_segments &&
              s.segmentation->labels.nz == 12 && s.segmentation->step == 3,
              "%" G_GINT64_FORMAT " segments numbered 1..K over the whole volume", s.segmentation->n_segments);
      SmVolume written;
      gboolean read = g_strcmp0 (s.segmentation->path, labels_path) == 0 &&
                      sm_volume_read (labels_path, &written, &err) == 0;
      TAP_OK (read && written.dtype == SM_U32 && written.nz == 12 && written.ny == 96 && written.nx == 96,
              "the labels were written to the file asked for (a layer with a file: Ctrl+S saves there)");
      if (read)
        sm_volume_free (&written);
      g_free (s.segmentation->path);
      g_free (s.segmentation);
    }
  g_unlink (labels_path);

  /* Cancelled at once: no result, no file, and the thread goes on serving. */
  s.segmentation = NULL;
  sm_finetune_thread_segment (t, labels_path);
  sm_finetune_thread_cancel (t);
  ok = wait_until (cancelled_done, &s, NULL);
  TAP_OK (ok && s.cancelled && !s.segmentation && !g_file_test (labels_path, G_FILE_TEST_EXISTS),
          "segment volume cancelled (%s)", s.cancelled ? s.cancelled : "no");
  g_rmdir (dir);

  /* Bad input: labels of another shape, then a labels file that is not there. */
  SmVolume small = labels;
  small.nz = 6;
  sm_finetune_thread_start (t, &settings, &image, NULL, &small, NULL);
  ok = wait_until (failed_done, &s, NULL);
  TAP_OK (ok && strstr (s.failed, "labels are 6x96x96 but the image is 12x96x96"),
          "labels of another shape: %s", s.failed);
  g_clear_pointer (&s.failed, g_free);
  settings.labels_path = g_strdup ("/nonexistent/labels.tif");
  sm_finetune_thread_start (t, &settings, &image, NULL, NULL, NULL);
  ok = wait_until (failed_done, &s, NULL);
  TAP_OK (ok && strstr (s.failed, "/nonexistent/labels.tif"), "missing labels file: %s",
          s.failed);
  TAP_OK (s.state == SM_TRAIN_STATE_IDLE, "the thread is idle after a failed start");
  sm_finetune_settings_clear (&settings);

  /* The slab prediction (inference-only forward, windows tiled over y/x) equals the
   * training forward of the same window: 96 x 96 is one window. */
  SmFinetuneSession fs;
  SmFinetuneOptions fo;
  sm_finetune_session_init (&fs);
  sm_finetune_options_default (&fo);
  fo.task = SEG_TASK_NEURONS;
  gsize nv = sm_volume_voxels (&image);
  float *vol = g_new (float, nv);
  double lo, hi;
  sm_volume_to_float (&image, vol, &lo, &hi);
  gint64 dims[3] = { 12, 96, 96 };
  gboolean made = sm_finetune_session_create (&fs, &fo, &err) == 0 &&
                  sm_finetune_session_set_data (&fs, vol, labels.data, dims, lo, hi, &err) == 0;
  TAP_OK (made, "session on the phantom (%s)", made ? "ok" : err.message);
  if (made)
    {
      gsize V = 6 * 96 * 96;
      float *probs = g_new (float, 3 * V), *logits = g_new (float, 3 * V);
      gint64 z0 = -1;
      MaeError me;
      gboolean ran = sm_finetune_session_predict_slab (&fs, 11, probs, &z0, &err) == 0 &&
                     seg_net_forward (fs.net, vol + 6 * 96 * 96, 1, logits, &me) == 0;
      double worst = 0;
      for (gsize i = 0; ran && i < 3 * V; i++)
        worst = fmax (worst, fabs (probs[i] - 1 / (1 + exp (-logits[i]))));
      TAP_OK (ran && z0 == 6 && worst < 1e-4, "slab at slice 11 = slices 6-11; equals the training forward "
              "(max |diff| %.2g)", worst);
      g_free (probs);
      g_free (logits);
    }
  sm_finetune_session_clear (&fs);
  g_free (vol);

  gint64 t0 = g_get_monotonic_time ();
  g_object_unref (t);
  TAP_OK (TRUE, "dispose joined the thread (%.2f s)", (g_get_monotonic_time () - t0) / 1e6);
  g_free (s.failed);
  g_free (s.saved);
  g_free (s.cancelled);
  sm_volume_free (&image);
  sm_volume_free (&labels);
  return tap_done ();
}
