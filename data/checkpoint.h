/* MAE checkpoints: a safetensors file (data/safetensors.h) whose tensors carry
 * the reference MAE names and shapes (ARCHITECTURE.md "Checkpoints"), so that
 * PyTorch's model.load_state_dict takes them, plus, for a training run, the
 * AdamW moments under "optim.exp_avg.<param>" / "optim.exp_avg_sq.<param>".
 *
 * __metadata__ (all strings):
 *   format "semmae-mae", config ("cpu-small", "paper-base" or "custom"),
 *   the engine config keys (input_size, patch_size, embed_dim, depth, ...),
 *   the training state of mae_trainer_to_kv (step, seed, rng_state, lr, ...),
 *   mask_ratio, batch, threads, scale_lo / scale_hi (the input values mapped
 *   to -1 and 1) and semmae_version.
 *
 * Saving is atomic (a crash never leaves a half-written checkpoint under its
 * name). Loading checks the config against the caller's expectation and every
 * tensor's shape, with one-line errors such as
 *   "m.safetensors: checkpoint is config paper-base, expected cpu-small". */
#pragma once

#include <stdint.h>

#include "mae_train.h"
#include "sm_error.h"

/* What a checkpoint says beyond the tensors. */
typedef struct SmCheckpointInfo {
  char config_name[32];     /* "cpu-small", "paper-base" or "custom" */
  MaeConfig config;
  int64_t step;             /* training steps done (0 if not recorded) */
  double mask_ratio;        /* of the run that wrote it (0.9 if not recorded) */
  int batch;                /* of the run that wrote it (0 if not recorded) */
  int threads;              /* of the run that wrote it (0 if not recorded) */
  double scale_lo, scale_hi;/* input scaling; lo = hi = 0 if not recorded */
  int has_optimizer;        /* optim.* tensors present */
} SmCheckpointInfo;

/* The name of a config ("cpu-small", "paper-base") or "custom". */
const char *sm_config_name(const MaeConfig *cfg);

/* Writes the model's tensors and, with a trainer (whose model must be
 * `model`), its moments and training state. info supplies mask_ratio,
 * batch, threads and scale_lo/hi (config and step are taken from the model
 * and trainer). */
int sm_checkpoint_save(const char *path, const MaeModel *model, const MaeTrainer *trainer,
                       const SmCheckpointInfo *info, SmError *err);

/* Reads only the metadata: config (validated) and run info. */
int sm_checkpoint_probe(const char *path, SmCheckpointInfo *info, SmError *err);

/* Creates a model from the checkpoint's config and loads its parameters.
 * expect_config, when not NULL, must equal the checkpoint's config. info may
 * be NULL. */
int sm_checkpoint_load_model(const char *path, const MaeConfig *expect_config,
                             MaeModel **out, SmCheckpointInfo *info, SmError *err);

/* Resume: loads parameters, moments and training state into a trainer
 * created with the same config. The trainer's options become the
 * checkpoint's (lr, schedule, ...); the caller may override them afterwards
 * with mae_trainer_set_kv. */
int sm_checkpoint_load_trainer(const char *path, MaeTrainer *trainer, SmCheckpointInfo *info,
                               SmError *err);
