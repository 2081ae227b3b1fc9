/* SmEngineThread: MAE pre-training on one dedicated thread that owns the
 * model, the optimizer and the training data (ARCHITECTURE.md "Studio:
 * threads"). Needs GObject only, not GTK, so that the protocol is testable
 * headless.
 *
 * Commands go UI -> engine through a GAsyncQueue (the calls below return at
 * once); events come back on the GMainContext that was the thread-default
 * when the object was made, as signals:
 *   ::state     (SmTrainState)
 *   ::progress  (const SmTrainProgress *)  coalesced: at most one delivery per
 *               SM_ENGINE_PROGRESS_INTERVAL_MS, carrying every step since the last
 *   ::preview   (const SmTrainPreview *)
 *   ::error-map (SmTrainErrorMap *)        the handler may steal ->volume.data
 *   ::checkpoint-saved (const char *path)
 *   ::failed    (const char *message)
 * Payloads are handed over (the engine never touches them again) and freed
 * after emission. Every run, preview location and error-map request has a
 * generation; results of an older generation are dropped before emission.
 * Disposing stops the run and joins the thread. */
#pragma once

#include <glib-object.h>

#include "data/checkpoint.h"
#include "data/volume.h"

G_BEGIN_DECLS

#define SM_ENGINE_PROGRESS_INTERVAL_MS 50

typedef enum {
  SM_TRAIN_STATE_IDLE,     /* no model */
  SM_TRAIN_STATE_RUNNING,
  SM_TRAIN_STATE_PAUSED,   /* a model, not stepping (also after loading a checkpoint) */
  SM_TRAIN_STATE_FINISHED, /* reached the step count; the model stays for previews and saves */
  SM_TRAIN_STATE_STOPPED,  /* stopped by the user; the model stays */
} SmTrainState;

const char *sm_train_state_name (SmTrainState state);

typedef struct {
  char config_name[32];  /* "cpu-small", "paper-base" or "custom" (then `config` is used) */
  MaeConfig config;
  double mask_ratio;     /* in [0.05, 0.95] in the studio; [0, 1) accepted */
  double lr;             /* peak learning rate */
  int batch;
  gint64 steps;          /* total (length of the cosine) */
  gint64 warmup;         /* < 0: steps / 20, at most 50 (learning shows within seconds) */
  guint64 seed;
  int threads;           /* <= 0: all CPUs but one */
  char *resume_path;     /* continue this checkpoint's run, or NULL */
} SmTrainSettings;

void sm_train_settings_init (SmTrainSettings *s);  /* cpu-small, 0.75, 1e-3, 4, 2000 */
void sm_train_settings_clear (SmTrainSettings *s);

typedef struct {
  gint64 step;
  double loss, lr, mask_ratio;
  int visible_tokens;    /* tokens the encoder saw per sample in this step */
} SmTrainPoint;

typedef struct {
  guint generation;      /* of the run */
  SmTrainState state;
  SmTrainPoint latest;
  gint64 total_steps;
  int tokens;            /* per sample */
  double steps_per_second; /* over the last few seconds of running */
  double mask_ratio;     /* what the next step will use */
  int batch;
  double peak_lr;        /* the schedule's peak learning rate */
  SmTrainPoint *points;  /* every step since the previous delivery */
  guint n_points;
} SmTrainProgress;

typedef struct {
  guint generation;      /* of the preview request (location) */
  gint64 step;
  double mask_ratio;
  int depth, height, width;   /* crop (D, H, W) */
  gint64 origin[3];           /* crop corner in the volume (z, y, x) */
  /* (D, H, W) each, in the network's [-1, 1] scale. masked_input is NAN at
   * voxels of masked tokens; reconstruction pastes the visible tokens and
   * puts the de-normalised prediction at the masked ones. */
  float *original, *masked_input, *reconstruction;
  double loss;                /* norm-pix loss of this crop's masked tokens */
} SmTrainPreview;

typedef struct {
  guint generation;
  gint64 step;
  double mask_ratio;
  double mean_error;     /* at masked voxels, input units */
  SmVolume volume;       /* float32 |reconstruction - input| (0 at visible tokens), input units */
} SmTrainErrorMap;

#define SM_TYPE_ENGINE_THREAD (sm_engine_thread_get_type ())
G_DECLARE_FINAL_TYPE (SmEngineThread, sm_engine_thread, SM, ENGINE_THREAD, GObject)

SmEngineThread *sm_engine_thread_new (void);

/* The training volume. `owner` (any GObject keeping `volume` alive, e.g. an
 * SmLayer) is referenced until the engine thread has converted the volume to
 * its own float copy. Replaces the volume of a run in progress. */
void sm_engine_thread_set_volume (SmEngineThread *self, const SmVolume *volume, GObject *owner);

/* A new run (copies settings). Drops previews and progress of older runs. */
void sm_engine_thread_start (SmEngineThread *self, const SmTrainSettings *settings);
void sm_engine_thread_pause (SmEngineThread *self);
void sm_engine_thread_resume (SmEngineThread *self);
void sm_engine_thread_stop (SmEngineThread *self);
/* One step, then paused (from paused, stopped or finished). */
void sm_engine_thread_step_once (SmEngineThread *self);
/* Take effect at the next step. */
void sm_engine_thread_set_mask_ratio (SmEngineThread *self, double ratio);
void sm_engine_thread_set_lr (SmEngineThread *self, double lr);

/* Preview of the crop centred at (z, y, x) (clamped inside the volume), now
 * and then every `every` steps (0: only on request). Returns the request's
 * generation. */
guint sm_engine_thread_request_preview (SmEngineThread *self, double z, double y, double x);
void sm_engine_thread_set_preview_every (SmEngineThread *self, int every);
/* Reconstruction error over the whole volume at the current mask ratio, now
 * and then every `every` steps (0: only on request). */
guint sm_engine_thread_request_error_map (SmEngineThread *self);
void sm_engine_thread_set_error_map_every (SmEngineThread *self, int every);

void sm_engine_thread_save_checkpoint (SmEngineThread *self, const char *path);
/* Loads a checkpoint as a paused run (its config, step, optimizer state):
 * resume continues it. */
void sm_engine_thread_load_checkpoint (SmEngineThread *self, const char *path);

SmTrainState sm_engine_thread_get_state (SmEngineThread *self);
guint sm_engine_thread_get_generation (SmEngineThread *self);

G_END_DECLS
