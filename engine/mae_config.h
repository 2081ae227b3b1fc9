/* The shape of a 3D ViT masked autoencoder, and the engine's error type.
 *
 * A config converts to and from key/value strings (for a checkpoint's
 * __metadata__); the keys mirror the reference MAE constructor's arguments. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Engine errors: calls return -1 and leave one line "<file>: <reason>" here.
 * The engine never exits or aborts on bad input. err may be NULL. */
typedef struct MaeError {
  char message[512];
} MaeError;

int mae_error_set(MaeError *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct MaeConfig {
  int input[3];   /* crop extent (d, h, w) = (z, y, x) in voxels */
  int patch[3];   /* token extent (pd, ph, pw); must divide input */
  int enc_dim, enc_depth, enc_heads;
  int dec_dim, dec_depth, dec_heads;
  int mlp_ratio;  /* mlp hidden width = mlp_ratio * width (4) */
  float ln_eps;   /* LayerNorm epsilon (1e-6) */
  int norm_pix_loss; /* 1: target = patch normalised by its mean and unbiased var + 1e-6 */
  /* The fixed 3D sin-cos tables: channel pair i of an axis with k channels
   * turns at pos_max_freq * pos_temperature^(-2i/k) radians per token. The
   * reference MAE's 1 and 10000 suit grids of 14 and more tokens; on a grid
   * of 6 most of those channels barely change from token to token. */
  float pos_max_freq;
  float pos_temperature;
  /* How the attention layers start (the weights' layout is the same): */
  int attn_init; /* MaeAttnInit; not part of the model's function, so not compared */
} MaeConfig;

typedef enum MaeAttnInit {
  /* xavier-uniform, as the reference MAE */
  MAE_ATTN_INIT_XAVIER = 0,
  /* local (mae_attn_init.h): encoder heads attend by similarity (mimetic
   * initialisation), decoder heads each to one neighbouring token */
  MAE_ATTN_INIT_LOCAL = 1,
} MaeAttnInit;

/* "cpu-small" (the default: 6x96x96 crop, 1x16x16 tokens, encoder 192 x 6
 * blocks x 3 heads, decoder 128 x 2 x 4) or "paper-base" (ViT-Base 768 x 12 x
 * 12, decoder 384 x 8 x 16). Both with sin-cos tables of max frequency 2.5
 * and temperature 10, and local attention initialisation: on 2 CPU cores
 * these learn in the first thousand steps where the reference settings sit
 * at the "predict the patch mean" plateau (bench/README.md, "MAE learning
 * speed"). Returns -1 for an unknown name. */
int mae_config_named(MaeConfig *cfg, const char *name, MaeError *err);
/* The reference MAE's sin-cos tables (max frequency 1, temperature 10000) and
 * xavier attention: what checkpoints written before these settings existed
 * hold, so loaders apply it before reading a file's metadata. */
void mae_config_use_reference_init(MaeConfig *cfg);
/* Checks every field (divisibility, heads dividing widths, positive sizes). */
int mae_config_validate(const MaeConfig *cfg, MaeError *err);
int mae_config_equal(const MaeConfig *a, const MaeConfig *b);

/* Derived sizes. */
void mae_config_grid(const MaeConfig *cfg, int grid[3]); /* (Gd, Gh, Gw) */
int mae_config_tokens(const MaeConfig *cfg);            /* L = Gd * Gh * Gw */
int mae_config_patch_voxels(const MaeConfig *cfg);      /* P = pd * ph * pw */
int mae_config_crop_voxels(const MaeConfig *cfg);       /* D * H * W */

/* Key/value form. Keys: input_size ("6,96,96"), patch_size ("1,16,16"),
 * embed_dim, depth, num_heads, decoder_embed_dim, decoder_depth,
 * decoder_num_heads, mlp_ratio, ln_eps, norm_pix_loss, pos_embed_max_freq,
 * pos_embed_temperature, attn_init ("xavier" or "local").
 * to_kv calls emit once per key (stops and returns emit's value if non-zero).
 * set_kv returns 1 if the key was a config key and was set, 0 if the key is
 * not a config key (cfg untouched), -1 on a bad value. Start from
 * mae_config_named("cpu-small") and validate after the last set_kv. */
typedef int (*MaeKvFunc)(void *user, const char *key, const char *value);
int mae_config_to_kv(const MaeConfig *cfg, MaeKvFunc emit, void *user);
int mae_config_set_kv(MaeConfig *cfg, const char *key, const char *value, MaeError *err);

/* FLOPs (multiply-add = 2) of one training step (forward + backward) at this
 * batch and mask ratio; for reporting GFLOP/s. */
double mae_config_train_flops(const MaeConfig *cfg, int batch, float mask_ratio);

/* Visible tokens per sample at this ratio: floor(L * (1 - ratio)), at least 1
 * (same rule as the reference MAE's random_masking). */
int mae_keep_count(int tokens, float mask_ratio);

/* Sets the number of threads used by BLAS and by OpenMP loops. Results are
 * bit-identical for a fixed seed and thread count. */
void mae_set_threads(int n);
