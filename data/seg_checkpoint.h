/* Segmentation checkpoints: a safetensors file holding the encoder under the
 * MAE's names and the decoder under "seg.*" (seg_tensors.def), with
 * __metadata__ strings: format "semmae-seg", task, the MAE config keys,
 * seg_out_channels, seg_base, seg_norm_groups, scale_lo / scale_hi (input
 * scaling), step, and the validation score if any. Written atomically. */
#pragma once

#include <stdint.h>

#include "seg_net.h"
#include "sm_error.h"

typedef struct SmSegInfo {
  SegTask task;
  double scale_lo, scale_hi; /* 0, 0 when not recorded */
  int64_t step;
  char score[96]; /* "arand=0.123" or "" */
} SmSegInfo;

int sm_seg_checkpoint_save(const char *path, SegNet *net, const SmSegInfo *info, SmError *err);
/* Creates the net from the file's config and loads every tensor. */
int sm_seg_checkpoint_load(const char *path, SegNet **out, SmSegInfo *info, SmError *err);
/* Copies the encoder tensors (cls_token, pos_embed, patch_embed.*, blocks.*,
 * norm.*) of a pre-trained MAE checkpoint into net; its config must equal
 * the net's encoder config. Returns the number of tensors loaded. */
int sm_seg_init_from_mae(const char *path, SegNet *net, SmError *err);
