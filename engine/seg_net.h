/* Segmentation network: the MAE's ViT encoder run on ALL tokens (no masking,
 * fixed sin-cos positions and the cls token kept) and a UNETR-style decoder.
 *
 * Encoder features are taken after four blocks, fb[k] = ceil((k + 1) *
 * depth / 4) (depth 12: 3, 6, 9, 12; depth 6 as cpu-small: 2, 3, 5, 6); the
 * last one passes the encoder's final LayerNorm (norm.*), so that every
 * pre-trained tensor is used. Each is reshaped to a token grid
 * (C, Gd, Gh, Gw). Tokens must be 1 x 16 x 16 (both named configs), so that
 * four 2x steps in y/x reach the input size:
 *
 *   level l = 1..4 (y/x resolution 2^l times the grid's; channels CH_l =
 *   base * 2^(4-l)):
 *     up_l   = ConvTranspose(1x2x2) of the previous level (level 0 = the
 *              last feature)
 *     skip_l = ConvTranspose(1 x 2^l x 2^l) of feature 3-l  (l = 1..3), or
 *              the stem conv3x3x3 + GroupNorm + ReLU on the raw input (l = 4)
 *     act_l  = ReLU(GroupNorm(Conv3x3x3(concat(up_l, skip_l))))
 *   logits = Conv1x1x1(act_4): (OUT, D, H, W) at the input size.
 *
 * Memory: one allocation each for parameters, gradients and activations
 * (the latter sized for the largest batch seen; it grows on demand). The
 * decoder runs sample by sample inside a batch; GEMMs and loops use the
 * OpenMP threads set by mae_set_threads. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mae_config.h"

typedef enum SegTask { SEG_TASK_NEURONS, SEG_TASK_MITO, SEG_TASK_MEMBRANE } SegTask;

/* "neurons" (3 affinities z, y, x), "mito" (foreground, contour),
 * "membrane" (1 channel: membrane = label 0). */
const char *seg_task_name(SegTask t);
int seg_task_parse(const char *name, SegTask *t); /* 0 or -1 */
int seg_task_channels(SegTask t);

typedef struct SegConfig {
  MaeConfig mae;    /* the encoder (and the pre-trained MAE's decoder shape) */
  int out_channels; /* OUT */
  int base;         /* CH4; CH_l = base * 2^(4-l) (8) */
  int norm_groups;  /* GroupNorm groups at every level (4); must divide base */
} SegConfig;

void seg_config_default(SegConfig *cfg, const MaeConfig *mae, int out_channels);
int seg_config_validate(const SegConfig *cfg, MaeError *err);
int seg_config_equal(const SegConfig *a, const SegConfig *b);
/* The four encoder depths (1-based block counts) the decoder reads. */
void seg_feature_blocks(int depth, int fb[4]);
/* Metadata keys seg_out_channels, seg_base, seg_norm_groups (the MAE keys
 * come from mae_config_to_kv). set_kv: 1 set, 0 not a seg key, -1 bad. */
int seg_config_to_kv(const SegConfig *cfg, MaeKvFunc emit, void *user);
int seg_config_set_kv(SegConfig *cfg, const char *key, const char *value, MaeError *err);

enum { SEG_G_EMBED, SEG_G_BLOCK, SEG_G_NORM, SEG_G_DECODER };

typedef struct SegTensor {
  char name[128];
  int ndim;
  int64_t shape[5];
  size_t numel;
  float *data;   /* row-major float32, PyTorch layout */
  float *grad;   /* same shape */
  int trainable; /* 0 for pos_embed (fixed sin-cos) */
  int group;     /* SEG_G_* */
  int layer;     /* encoder depth for layer-wise lr decay: 0 embedding,
                    1 + i block i, depth + 1 final norm and decoder */
} SegTensor;

typedef struct SegNet SegNet;

int seg_net_create(SegNet **out, const SegConfig *cfg, uint64_t seed, MaeError *err);
void seg_net_free(SegNet *n);
const SegConfig *seg_net_config(const SegNet *n);
int seg_net_n_tensors(const SegNet *n);
SegTensor *seg_net_tensor(SegNet *n, int i);
SegTensor *seg_net_find_tensor(SegNet *n, const char *name); /* NULL if absent */
size_t seg_net_n_params(const SegNet *n);
void seg_net_zero_grad(SegNet *n);

/* logits for B crops of the config's input size. Keeps what backward
 * needs. */
int seg_net_forward(SegNet *n,
                    const float *crops, // (B, D, H, W) scaled to [-1, 1]
                    int B,
                    float *logits, // (B, OUT, D, H, W)
                    MaeError *err);
/* Parameter gradients += d loss / d params for the last forward. With
 * encoder_grads 0 the encoder is treated as frozen: its gradients are left
 * alone and the backward pass stops at the decoder (much cheaper). */
int seg_net_backward(SegNet *n,
                     const float *dlogits, // (B, OUT, D, H, W)
                     int encoder_grads, MaeError *err);
