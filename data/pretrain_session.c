#include "pretrain_session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double sm_monotonic_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sm_pretrain_session_init(SmPretrainSession *s) {
  memset(s, 0, sizeof *s);
  s->info.mask_ratio = 0.9;
}

int sm_pretrain_session_create(SmPretrainSession *s, const MaeConfig *cfg,
                               const MaeTrainOptions *opt, SmError *err) {
  MaeError merr = {{0}};
  if (s->trainer) return sm_error_set(err, "pretrain: session already has a trainer");
  if (mae_trainer_create(&s->trainer, cfg, opt, &merr))
    return sm_error_set(err, "%s", merr.message);
  s->config = *cfg;
  s->t0 = sm_monotonic_seconds();
  return 0;
}

int sm_pretrain_session_resume(SmPretrainSession *s, const char *path, SmCheckpointInfo *info,
                               SmError *err) {
  SmCheckpointInfo local;
  if (sm_checkpoint_load_trainer(path, s->trainer, info ? info : &local, err)) return -1;
  return 0;
}

int sm_pretrain_session_set_option(SmPretrainSession *s, const char *key, double value,
                                   SmError *err) {
  char text[64];
  MaeError merr = {{0}};
  if (value == (double)(int64_t)value && strcmp(key, "lr") != 0 && strcmp(key, "min_lr") != 0)
    snprintf(text, sizeof text, "%lld", (long long)value);
  else
    snprintf(text, sizeof text, "%.17g", value);
  if (mae_trainer_set_kv(s->trainer, key, text, &merr) != 1)
    return sm_error_set(err, "pretrain: cannot set %s: %s", key,
                        merr.message[0] ? merr.message : "not a training option");
  return 0;
}

int sm_pretrain_session_set_volume(SmPretrainSession *s, const float *volume, int64_t nz,
                                   int64_t ny, int64_t nx, double scale_lo, double scale_hi,
                                   SmError *err) {
  MaeError merr = {{0}};
  if (mae_trainer_set_volume(s->trainer, volume, (int)nz, (int)ny, (int)nx, &merr))
    return sm_error_set(err, "%s", merr.message);
  s->volume = volume;
  s->nz = nz;
  s->ny = ny;
  s->nx = nx;
  s->info.scale_lo = scale_lo;
  s->info.scale_hi = scale_hi;
  return 0;
}

int sm_pretrain_session_open_log(SmPretrainSession *s, const char *path, int append,
                                 SmError *err) {
  s->log = fopen(path, append ? "a" : "w");
  if (!s->log) return sm_error_set(err, "%s: cannot write: %s", path, strerror(errno));
  if (ftell(s->log) == 0) fprintf(s->log, "step,loss,lr,mask_ratio,seconds\n");
  return 0;
}

int sm_pretrain_session_step(SmPretrainSession *s, int batch, double mask_ratio,
                             MaeStepResult *r, SmError *err) {
  MaeError merr = {{0}};
  if (!s->trainer || !s->volume) return sm_error_set(err, "pretrain: no training volume");
  if (mae_trainer_step(s->trainer, batch, (float)mask_ratio, r, &merr))
    return sm_error_set(err, "%s", merr.message);
  s->info.mask_ratio = mask_ratio;
  s->info.batch = batch;
  if (s->log) {
    fprintf(s->log, "%lld,%.17g,%.9g,%.4g,%.3f\n", (long long)r->step, r->loss, r->lr,
            mask_ratio, sm_monotonic_seconds() - s->t0);
    fflush(s->log);
  }
  if (s->save_path && s->save_every > 0 && r->step % s->save_every == 0 &&
      (s->end_step <= 0 || r->step < s->end_step))
    return sm_pretrain_session_save(s, s->save_path, err);
  return 0;
}

int sm_pretrain_session_save(SmPretrainSession *s, const char *path, SmError *err) {
  return sm_checkpoint_save(path, mae_trainer_model(s->trainer), s->trainer, &s->info, err);
}

int64_t sm_pretrain_session_step_count(const SmPretrainSession *s) {
  return s->trainer ? mae_trainer_step_count(s->trainer) : 0;
}

void sm_pretrain_session_clear(SmPretrainSession *s) {
  if (s->log) fclose(s->log);
  mae_trainer_free(s->trainer);
  sm_pretrain_session_init(s);
}
