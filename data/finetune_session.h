/* One fine-tuning run of the segmentation network on a labelled volume: the
 * loop body of the studio's Fine-tune mode (the same steps as `semmae
 * finetune`: random augmented crops, the task's targets, BCE + Dice, AdamW
 * with warm-up and cosine), plus what the studio shows while it runs — the
 * prediction of a slab of slices, the validation loss and metric on held-out
 * slices — and the whole-volume segmentation.
 *
 *   SmFinetuneSession s;
 *   sm_finetune_session_init(&s);
 *   sm_finetune_options_default(&o); o.task = ...; o.init_path = "m.safetensors" | NULL;
 *   sm_finetune_session_create(&s, &o, &err);
 *   sm_finetune_session_set_data(&s, vol, ids, dims, lo, hi, &err); // borrowed
 *   while (...) sm_finetune_session_step(&s, &loss, &err);
 *   sm_finetune_session_predict_slab(&s, z, probs, &z0, &err);
 *   sm_finetune_session_validate(&s, &val_loss, &scores, &err);
 *   sm_finetune_session_save(&s, "s.safetensors", &err);
 *   sm_finetune_session_clear(&s);
 *
 * No GLib, no threads of its own: the caller owns the loop. */
#pragma once

#include <stdint.h>

#include "rng.h"
#include "seg_augment.h"
#include "seg_checkpoint.h"
#include "seg_infer.h"
#include "seg_infer_net.h"
#include "seg_net.h"
#include "seg_optim.h"
#include "seg_task.h"
#include "sm_error.h"

typedef struct SmFinetuneOptions {
  SegTask task;
  const char *init_path;   /* pre-trained MAE checkpoint (its config), or NULL: scratch */
  const char *config_name; /* without init_path: "cpu-small" (default) or "paper-base" */
  int64_t steps;           /* length of the cosine schedule (500) */
  int batch;               /* crops per step (2) */
  double lr;               /* peak AdamW learning rate (1e-3) */
  uint64_t seed;           /* initialisation and crops (0) */
  int augment;             /* flips, rotations, jitter, missing section, misalignment (1) */
  int freeze_encoder;      /* train the decoder only (0) */
  /* Held-out slices [val_z0, val_z1) of the volume: never cropped for
   * training, scored by validate. val_z1 <= val_z0: no validation. */
  int64_t val_z0, val_z1;
} SmFinetuneOptions;

void sm_finetune_options_default(SmFinetuneOptions *o);

typedef struct SmFinetuneSession {
  SegNet *net;
  SegOptim *opt;
  SegConfig config;
  SegOptimOptions optim; /* the schedule (lr at a step: seg_optim_lr) */
  SegTask task;
  int batch, augment_enabled, freeze_encoder;
  int init_tensors; /* encoder tensors copied from the pre-trained checkpoint (0: scratch) */
  int64_t total_steps;
  SegAugment aug;
  Rng rng;
  SmSegInfo info; /* what saves record */
  /* The labelled volume (borrowed), the training slab (the larger side of
   * the held-out slices) and the validation slab, as z ranges. */
  const float *volume;  /* (Z, Y, X) in [-1, 1] */
  const uint32_t *ids;  /* (Z, Y, X) instance ids */
  int64_t dims[3];
  int64_t train_z0, train_z1, val_z0, val_z1, want_val_z0, want_val_z1;
  /* Non-zero (set from any thread) stops validate and segment within a few
   * slices (their read/write of the next slices); NULL: never. */
  const volatile int *cancel;
  /* Inference-only activations of predict_slab (made at its first call): the
   * training step's activations stay untouched. */
  SegInferActs *infer_acts;
  float *infer_x, *infer_logits;
  /* Per-step buffers, one allocation each. */
  float *x, *target, *logits, *dlogits;
  uint8_t *valid;
  uint32_t *crop_labels;
} SmFinetuneSession;

void sm_finetune_session_init(SmFinetuneSession *s);
/* The network (encoder from init_path or random) and its optimiser. */
int sm_finetune_session_create(SmFinetuneSession *s, const SmFinetuneOptions *o, SmError *err);
/* The labelled volume to train on (borrowed until cleared or replaced);
 * fails when the training slices are fewer than one crop. */
int sm_finetune_session_set_data(SmFinetuneSession *s,
                                 const float *volume,  // (Z, Y, X) in [-1, 1]
                                 const uint32_t *ids,  // (Z, Y, X)
                                 const int64_t dims[3], double scale_lo, double scale_hi,
                                 SmError *err);
/* One optimiser step on `batch` random crops; *loss of this batch. */
int sm_finetune_session_step(SmFinetuneSession *s, double *loss, SmError *err);
int64_t sm_finetune_session_step_count(const SmFinetuneSession *s);
/* Probabilities of the D slices (the crop depth) starting at *z0 (the slab
 * holding slice z, centred on it where the volume allows), over the whole
 * y/x plane: windows tiling y/x with the least overlap, overlaps averaged. */
int sm_finetune_session_predict_slab(SmFinetuneSession *s, int64_t z,
                                     float *probs, // (OUT, D, Y, X)
                                     int64_t *z0, SmError *err);
/* Validation slices: sliding windows (overlap 0.25), loss of the blended
 * probabilities, instances, the task's scores. -1 without validation slices
 * or when cancelled ("cancelled" in the message). */
int sm_finetune_session_validate(SmFinetuneSession *s, double *loss, SegScores *scores,
                                 SmError *err);
int sm_finetune_session_has_validation(const SmFinetuneSession *s);
/* The whole volume: probabilities (overlap 0.5) and instances 1..K (in
 * order of first appearance); returns K, or -1 (also when cancelled). */
int64_t sm_finetune_session_segment(SmFinetuneSession *s,
                                    float *probs,     // (OUT, Z, Y, X)
                                    uint32_t *labels, // (Z, Y, X)
                                    SegInferProgress progress, void *user, SmError *err);
int sm_finetune_session_save(SmFinetuneSession *s, const char *path, SmError *err);
void sm_finetune_session_clear(SmFinetuneSession *s);

/* What a person looks at for a task, from its probabilities at n voxels:
 * membrane probability, mito foreground, neurons 1 - mean affinity (the
 * boundary map). */
void sm_finetune_display_map(SegTask task,
                             float *out,         // (n)
                             const float *probs, // (OUT, n)
                             size_t n);
