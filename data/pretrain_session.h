/* One MAE pre-training run: the loop body shared by `semmae pretrain` and the
 * studio's engine thread, so that both train the same way (trainer creation
 * or resume from a checkpoint, one step at a caller-chosen masking ratio, a
 * CSV log row per step, periodic checkpoints).
 *
 *   SmPretrainSession s;
 *   sm_pretrain_session_init(&s);
 *   sm_pretrain_session_create(&s, &cfg, &opt, &err);      // fresh model from opt.seed
 *   [sm_pretrain_session_resume(&s, "m.safetensors", &err)] // params, moments, step, rng
 *   sm_pretrain_session_set_volume(&s, scaled, nz, ny, nx, lo, hi, &err);
 *   [sm_pretrain_session_open_log(&s, "log.csv", append, &err)]
 *   while (...) sm_pretrain_session_step(&s, batch, ratio, &r, &err);
 *   sm_pretrain_session_save(&s, "m.safetensors", &err);
 *   sm_pretrain_session_clear(&s);
 *
 * No GLib, no threads of its own: the caller owns the loop. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "checkpoint.h"
#include "mae_train.h"
#include "sm_error.h"

typedef struct SmPretrainSession {
  MaeTrainer *trainer;
  MaeConfig config;
  const float *volume;     /* borrowed, (nz, ny, nx) in [-1, 1] */
  int64_t nz, ny, nx;
  SmCheckpointInfo info;   /* what saves record: mask ratio, batch, threads, scaling */
  FILE *log;               /* CSV "step,loss,lr,mask_ratio,seconds", or NULL */
  double t0;               /* monotonic seconds at create, for the log */
  /* Periodic checkpoints: every save_every steps (0 = never) into save_path,
   * except at end_step (the caller saves the last one itself). */
  const char *save_path;
  int64_t save_every, end_step;
} SmPretrainSession;

void sm_pretrain_session_init(SmPretrainSession *s);
int sm_pretrain_session_create(SmPretrainSession *s, const MaeConfig *cfg,
                               const MaeTrainOptions *opt, SmError *err);
/* Loads parameters, moments and training state from a checkpoint of the same
 * config; info (may be NULL) receives what the checkpoint says. */
int sm_pretrain_session_resume(SmPretrainSession *s, const char *path, SmCheckpointInfo *info,
                               SmError *err);
/* Overrides one training option of a resumed run (mae_trainer_set_kv keys). */
int sm_pretrain_session_set_option(SmPretrainSession *s, const char *key, double value,
                                   SmError *err);
int sm_pretrain_session_set_volume(SmPretrainSession *s,
                                   const float *volume,  // (nz, ny, nx)
                                   int64_t nz, int64_t ny, int64_t nx, double scale_lo,
                                   double scale_hi, SmError *err);
/* Opens the CSV log (append: continue a resumed run's file). */
int sm_pretrain_session_open_log(SmPretrainSession *s, const char *path, int append,
                                 SmError *err);
/* One step at this batch and masking ratio; logs it and saves when due.
 * The ratio goes into the next checkpoint's metadata. */
int sm_pretrain_session_step(SmPretrainSession *s, int batch, double mask_ratio,
                             MaeStepResult *r, SmError *err);
int sm_pretrain_session_save(SmPretrainSession *s, const char *path, SmError *err);
int64_t sm_pretrain_session_step_count(const SmPretrainSession *s);
void sm_pretrain_session_clear(SmPretrainSession *s);

/* Monotonic seconds. */
double sm_monotonic_seconds(void);
