/* The 3D ViT masked autoencoder: model, tensor table, forward for
 * reconstruction, and the patch helpers.
 *
 * Conventions (ARCHITECTURE.md):
 *   crop      (B, D, H, W) float, x fastest, values in [-1, 1]
 *   token t   = (d * Gh + h) * Gw + w;  voxel order inside a token (pd, ph, pw) row-major
 *   patches   (B, L, P)  P = pd * ph * pw
 *   mask      (B, L) uint8, 1 = masked (hidden from the encoder), 0 = visible;
 *             every sample of one call must have the same number of visible tokens
 *   pred      (B, L, P) the decoder output in normalised-target space
 *             (per patch: (x - mean) / sqrt(unbiased var + 1e-6)), for every token
 * Weight layouts are PyTorch's (nn.Linear weight (out, in), y = x W^T + b), so a
 * state dict built from the tensor table loads into the reference layout.
 *
 * Positional embeddings (pos_embed (1, L+1, C), decoder_pos_embed (1, L+1, Cd)):
 * fixed 3D sin-cos, row 0 (cls) all zero. For width C, the d and h axes get
 * n = 2 * floor(C / 6) channels each, the w axis gets the even part of the
 * rest, m = (C - 2n) & ~1, and a last channel, if C is odd, stays 0. Channel
 * order: [d: n][h: n][w: m][0 if odd]. Each axis block of k channels holds
 * sin(pos * omega_i) for i < k/2 then cos(pos * omega_i), omega_i =
 * F * T^(-i / (k/2)) with F = cfg.pos_max_freq and T = cfg.pos_temperature
 * (F = 1, T = 10000 is MAE's get_1d_sincos_pos_embed_from_grid), pos = the
 * token's integer grid coordinate on that axis. C = 192: 64/64/64; C = 128:
 * 42/42/44. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mae_config.h"
#include "rng.h"

typedef struct MaeModel MaeModel;

/* One tensor of the model, as checkpoint I/O sees it. */
typedef struct MaeTensor {
  char name[128];     /* reference MAE name, e.g. "blocks.3.attn.qkv.weight" */
  int ndim;
  int64_t shape[5];   /* row-major, PyTorch layout */
  size_t numel;
  float *data;        /* parameter values (read/write) */
  float *grad;        /* gradient of the last backward (NULL for frozen tensors) */
  int trainable;      /* 0 for the fixed sin-cos tables pos_embed, decoder_pos_embed */
} MaeTensor;

/* Allocates a model and initialises it as MAE does (xavier-uniform linears,
 * LN 1/0, cls/mask tokens N(0, 0.02), sin-cos tables), drawing from seed;
 * with cfg.attn_init = MAE_ATTN_INIT_LOCAL the attention query/key weights
 * then start local (mae_attn_init.h).
 * Sets OpenBLAS to one thread (process-wide): the engine parallelises with
 * OpenMP (mae_set_threads), splitting each batch into one share per thread
 * for models up to 16M parameters and each GEMM over the threads above.
 * Forward/backward (and mae_set_threads) switch the calling and worker
 * threads to flush denormals to zero (FTZ/DAZ), as a speed measure. */
int mae_model_create(MaeModel **out, const MaeConfig *cfg, uint64_t seed, MaeError *err);
void mae_model_free(MaeModel *model);
const MaeConfig *mae_model_config(const MaeModel *model);
/* Re-initialises every parameter from seed (same values as create). */
void mae_model_init(MaeModel *model, uint64_t seed);

/* The tensor table: every parameter, in .def order (blocks expanded). */
int mae_model_n_tensors(const MaeModel *model);
const MaeTensor *mae_model_tensor(const MaeModel *model, int index);
const MaeTensor *mae_model_find_tensor(const MaeModel *model, const char *name);
size_t mae_model_n_params(const MaeModel *model); /* trainable values */

/* Forward pass over `batch` crops with a given mask: writes pred (B, L, P) if
 * not NULL and the norm-pix loss over masked tokens to *loss if not NULL
 * (0 when no token is masked). Activations are kept, so a training step may
 * call mae_model_backward next. Not thread-safe on one model. */
int mae_model_forward(MaeModel *model,
                      const float *crops,   // (B, D, H, W)
                      const uint8_t *mask,  // (B, L)
                      int batch,
                      float *pred,          // (B, L, P) or NULL
                      double *loss, MaeError *err);
/* Backward of the last forward's loss: ACCUMULATES parameter gradients into
 * the tensors' grad (zero them first with mae_model_zero_grad). */
int mae_model_backward(MaeModel *model, MaeError *err);
void mae_model_zero_grad(MaeModel *model);

/* Masks and patches. */
/* mask (L): exactly L - keep tokens masked, chosen uniformly with rng. */
void mae_mask_random(uint8_t *mask, int tokens, float mask_ratio, Rng *rng);
/* The same from a seed: the mask of sample b of a call is seeded with
 * (seed, b) so that tilings are reproducible: rng_seed(seed) then
 * rng_fork(tag = index). */
void mae_mask_from_seed(uint8_t *mask, int tokens, float mask_ratio, uint64_t seed, uint64_t index);
void mae_patchify(const MaeConfig *cfg,
                  const float *crop,   // (D, H, W)
                  float *patches);     // (L, P)
void mae_unpatchify(const MaeConfig *cfg,
                    const float *patches, // (L, P)
                    float *crop);         // (D, H, W)
/* Per-patch statistics of the norm-pix target: mean and
 * std = sqrt(unbiased var + 1e-6). */
void mae_patch_stats(const float *patch, int voxels, float *mean, float *std);
/* out = pred * std + mean, with the statistics of `patches` (the real voxels
 * of each token), token by token: the inverse of the norm-pix target. */
void mae_denormalize(const float *pred,    // (n, P)
                     const float *patches, // (n, P)
                     int n, int voxels,
                     float *out);          // (n, P), may alias pred
