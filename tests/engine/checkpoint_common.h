/* Shared by the checkpoint tests: a tiny custom config and a trainer on a
 * random volume, so that tests stay fast. */
#pragma once

#include <stdlib.h>

#include "mae_train.h"
#include "rng.h"

/* 4x32x32 crops, 2x8x8 tokens (a real 3D patch), encoder 48 x 2 x 3 heads,
 * decoder 32 x 1 x 2 heads. */
static inline int tiny_config(MaeConfig *cfg) {
  MaeError err = {{0}};
  static const char *const kv[][2] = {
      {"input_size", "4,32,32"}, {"patch_size", "2,8,8"},       {"embed_dim", "48"},
      {"depth", "2"},            {"num_heads", "3"},            {"decoder_embed_dim", "32"},
      {"decoder_depth", "1"},    {"decoder_num_heads", "2"},
  };
  if (mae_config_named(cfg, "cpu-small", &err)) return -1;
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
    if (mae_config_set_kv(cfg, kv[i][0], kv[i][1], &err) != 1) return -1;
  return mae_config_validate(cfg, &err);
}

/* A (z, y, x) volume of smoothed noise in [-1, 1]. */
static inline float *random_volume(int z, int y, int x, uint64_t seed) {
  float *v = malloc((size_t)z * (size_t)y * (size_t)x * sizeof *v);
  Rng rng;
  rng_seed(&rng, seed);
  for (int i = 0; i < z * y * x; i++) v[i] = 2.0f * rng_uniform(&rng) - 1.0f;
  /* Blur along x so that patches have structure to predict. */
  for (int i = 1; i < z * y * x; i++) v[i] = 0.6f * v[i] + 0.4f * v[i - 1];
  return v;
}

static inline MaeTrainer *tiny_trainer(const MaeConfig *cfg, const float *volume, int z, int y,
                                       int x, int64_t total_steps, uint64_t seed) {
  MaeTrainOptions opt;
  mae_train_options_default(&opt);
  opt.seed = seed;
  opt.total_steps = total_steps;
  opt.warmup_steps = 2;
  opt.lr = 1e-3;
  opt.weight_decay = 0.05; /* exercise decoupled decay in the resumed state */
  MaeTrainer *t = NULL;
  MaeError err = {{0}};
  if (mae_trainer_create(&t, cfg, &opt, &err) ||
      mae_trainer_set_volume(t, volume, z, y, x, &err)) {
    mae_trainer_free(t);
    return NULL;
  }
  return t;
}
