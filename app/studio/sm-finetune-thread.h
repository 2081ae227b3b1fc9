/* SmFinetuneThread: fine-tuning of the segmentation network on one dedicated
 * thread that owns the network, the optimiser and the labelled volume — the
 * sibling of SmEngineThread (MAE pre-training), with the same protocol:
 * commands go UI -> engine through a GAsyncQueue (the calls below return at
 * once); events come back as signals on the GMainContext that was the
 * thread-default when the object was made:
 *   ::state      (SmTrainState)
 *   ::progress   (const SmFinetuneProgress *)   after every step
 *   ::validation (const SmFinetuneValidation *) every val_every steps and at the end
 *   ::overlay    (SmFinetuneOverlay *)          the prediction of a slab of slices
 *   ::segment-progress (double fraction)
 *   ::segmented  (SmFinetuneSegmentation *)     the handler may steal the volumes' data
 *   ::saved      (const char *path)
 *   ::activity   (const char *what)               a long pause of the steps begins (validation)
 *   ::cancelled  (const char *what)               a segmentation stopped by sm_finetune_thread_cancel
 *   ::failed     (const char *message)
 * Payloads are freed after emission. Events of an older run than the latest
 * start are dropped. Disposing stops the run and joins the thread (after the
 * step or the segmentation in progress). Needs GObject only, not GTK. */
#pragma once

#include <glib-object.h>

#include "data/volume.h"
#include "engine/seg_net.h"
#include "sm-engine-thread.h"

G_BEGIN_DECLS

typedef struct {
  SegTask task;
  char *init_path;      /* pre-trained MAE checkpoint, or NULL: from scratch (cpu-small) */
  char *labels_path;    /* labels read from this file, or NULL: the volume given to start */
  gint64 steps;
  int batch;
  double lr;
  guint64 seed;
  gint64 val_z0, val_z1; /* held-out slices [z0, z1); z1 <= z0: none */
  int val_every;        /* steps between validations (0: only at the end) */
  int overlay_every;    /* steps between prediction overlays (0: only on request) */
  int threads;          /* <= 0: all CPUs but one */
  gboolean freeze_encoder; /* train the decoder only */
} SmFinetuneSettings;

/* neurons, 300 steps, batch 2, lr 1e-3, overlay every 20, validation every 100 */
void sm_finetune_settings_init (SmFinetuneSettings *s);
void sm_finetune_settings_clear (SmFinetuneSettings *s);

typedef struct {
  guint generation;
  gint64 step, total_steps;
  double loss, lr;
  double steps_per_second;
  double step_ms;          /* wall time of this step alone */
  int init_tensors;        /* encoder tensors taken from the pre-trained model (0: scratch) */
} SmFinetuneProgress;

typedef struct {
  guint generation;
  gint64 step;
  double loss, primary, second;
  gboolean lower_is_better;
  const char *primary_name, *second_name;
  double seconds;
} SmFinetuneValidation;

typedef struct {
  guint generation;
  gint64 step;
  gint64 z0;               /* first slice of the slab */
  int depth;               /* slices in the slab */
  gint64 ny, nx;
  float *map;              /* (depth, ny, nx) in [0, 1]: what the task shows (sm_finetune_display_map) */
  double compute_ms;       /* forward passes on the engine thread */
} SmFinetuneOverlay;

typedef struct {
  guint generation;
  gint64 step;
  gint64 n_segments;
  SmVolume labels;         /* uint32 instances */
  SmVolume map;            /* float32 display map in [0, 1] */
  char *path;              /* where the labels were written, or NULL */
  double seconds;
} SmFinetuneSegmentation;

#define SM_TYPE_FINETUNE_THREAD (sm_finetune_thread_get_type ())
G_DECLARE_FINAL_TYPE (SmFinetuneThread, sm_finetune_thread, SM, FINETUNE_THREAD, GObject)

SmFinetuneThread *sm_finetune_thread_new (void);

/* A new run on `image` with `labels` (same shape; NULL when settings name a
 * labels file). The owners (e.g. the SmLayers) are referenced until the
 * engine thread has made its own copies. */
void sm_finetune_thread_start (SmFinetuneThread *self, const SmFinetuneSettings *settings,
                               const SmVolume *image, GObject *image_owner,
                               const SmVolume *labels, GObject *labels_owner);
void sm_finetune_thread_pause (SmFinetuneThread *self);
void sm_finetune_thread_resume (SmFinetuneThread *self);
void sm_finetune_thread_stop (SmFinetuneThread *self);
/* The slab of slices around z gets predicted now (when there is a network)
 * and then every overlay_every steps. */
void sm_finetune_thread_request_overlay (SmFinetuneThread *self, double z);
void sm_finetune_thread_set_overlay_every (SmFinetuneThread *self, int every);
/* The whole volume: probabilities and instances (training waits meanwhile);
 * with a path, the labels are also written there (uint32 TIFF). */
void sm_finetune_thread_segment (SmFinetuneThread *self, const char *labels_path);
/* Stops a segmentation (or validation) in progress within a few slices. */
void sm_finetune_thread_cancel (SmFinetuneThread *self);
void sm_finetune_thread_save (SmFinetuneThread *self, const char *path);

SmTrainState sm_finetune_thread_get_state (SmFinetuneThread *self);

G_END_DECLS
