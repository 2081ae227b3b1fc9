/* Pre-training: model + AdamW + warm-up/cosine schedule + gradient clipping +
 * a crop sampler over one volume + RNG. Deterministic for a fixed seed and
 * thread count; the whole state is reachable (tensor table for params,
 * optimizer moments; key/value strings for step, RNG and options) so that
 *   N steps == k steps, save, load into a fresh trainer, N - k steps
 * bit for bit.
 *
 * Typical use:
 *   MaeTrainOptions o; mae_train_options_default(&o); o.total_steps = N; ...
 *   mae_trainer_create(&t, &cfg, &o, &err);
 *   mae_trainer_set_volume(t, vol, z, y, x, &err);      // borrowed, (z, y, x) in [-1, 1]
 *   [resume: load params/moments via the tables, then mae_trainer_set_kv(...)]
 *   for (...) mae_trainer_step(t, batch, ratio, &res, &err);
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mae.h"

typedef struct MaeTrainOptions {
  uint64_t seed;       /* model init, crops, augmentations, masks */
  double lr;           /* peak learning rate (1e-3; the paper's code: 1e-4 for 400k steps) */
  double min_lr;       /* floor of the cosine (0) */
  int64_t warmup_steps;/* linear warm-up: step s (0-based) uses lr (s + 1) / warmup (100) */
  int64_t total_steps; /* cosine from lr (end of warm-up) to min_lr at this step;
                          <= 0: constant lr after the warm-up */
  double beta1, beta2, adam_eps; /* 0.9, 0.999, 1e-8 */
  double weight_decay; /* decoupled, on >= 2-D weights only (0 as the paper) */
  double clip_grad;    /* max global L2 norm of the gradient; <= 0: no clipping (1.0) */
  int augment;         /* 1: random flips and 90-degree rotations in y/x */
} MaeTrainOptions;

void mae_train_options_default(MaeTrainOptions *opt);

typedef struct MaeTrainer MaeTrainer;

typedef struct MaeStepResult {
  int64_t step;     /* steps done after this one (1 after the first) */
  double loss;      /* masked norm-pix MSE of this step's batch */
  double grad_norm; /* global L2 norm before clipping */
  double lr;        /* learning rate used for this step */
} MaeStepResult;

/* Creates the model (initialised from opt->seed) and zeroed moments. */
int mae_trainer_create(MaeTrainer **out, const MaeConfig *cfg, const MaeTrainOptions *opt,
                       MaeError *err);
void mae_trainer_free(MaeTrainer *t);
MaeModel *mae_trainer_model(MaeTrainer *t);
const MaeTrainOptions *mae_trainer_options(const MaeTrainer *t);
int64_t mae_trainer_step_count(const MaeTrainer *t);

/* The training volume, (z, y, x), x fastest, already scaled to [-1, 1].
 * Borrowed: it must outlive the trainer's use. Fails if smaller than a crop. */
int mae_trainer_set_volume(MaeTrainer *t,
                           const float *volume,  // (Z, Y, X)
                           int z, int y, int x, MaeError *err);

/* One step: sample `batch` crops and masks, forward, backward, clip, AdamW.
 * mask_ratio in [0, 1) may differ between steps. A non-finite loss or
 * gradient returns -1 with a clear message and leaves the parameters,
 * moments and step count untouched. */
int mae_trainer_step(MaeTrainer *t, int batch, float mask_ratio, MaeStepResult *res,
                     MaeError *err);

/* Learning rate at a step (0-based) under the options' schedule. */
double mae_lr_at(const MaeTrainOptions *opt, int64_t step);

/* Optimizer moments as tensors, for checkpoints: for every trainable
 * parameter X, "optim.exp_avg.X" then "optim.exp_avg_sq.X", same shape as X
 * (`data` points at the moment, `grad` is NULL). */
int mae_trainer_n_state_tensors(const MaeTrainer *t);
const MaeTensor *mae_trainer_state_tensor(const MaeTrainer *t, int index);
const MaeTensor *mae_trainer_find_state_tensor(const MaeTrainer *t, const char *name);

/* Scalar state and options as strings. Keys: step, rng_state (64 hex
 * digits), seed, lr, min_lr, warmup_steps, total_steps, beta1, beta2,
 * adam_eps, weight_decay, clip_grad, augment. Floats are printed with 17
 * significant digits so they round-trip exactly. set_kv: 1 = set, 0 = not a
 * trainer key, -1 = bad value. After loading a checkpoint's params and
 * moments, set at least step and rng_state to resume exactly. */
int mae_trainer_to_kv(const MaeTrainer *t, MaeKvFunc emit, void *user);
int mae_trainer_set_kv(MaeTrainer *t, const char *key, const char *value, MaeError *err);

/* Draws one training batch exactly as a step would (crops (B, D, H, W) and
 * masks (B, L)) and advances the RNG; exposed for tests and previews. */
int mae_trainer_sample(MaeTrainer *t, int batch, float mask_ratio,
                       float *crops,     // (B, D, H, W)
                       uint8_t *mask,    // (B, L)
                       MaeError *err);
