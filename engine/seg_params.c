/* The seg network's tensor walker, generated from seg_tensors.def (and, for
 * the encoder blocks, from the MAE's own block list in mae_tensors.def). */
#include <stdio.h>

#include "seg_internal.h"

enum {
  INIT_ZERO = MAE_INIT_ZERO,
  INIT_ONE = MAE_INIT_ONE,
  INIT_NORMAL = MAE_INIT_NORMAL,
  INIT_XAVIER = MAE_INIT_XAVIER,
  INIT_SINCOS = MAE_INIT_SINCOS,
  INIT_KAIMING = SEG_INIT_KAIMING,
  INIT_KAIMING_T = SEG_INIT_KAIMING_T,
};

static void walk_block(SegWalkFunc fn, void *ctx, const char *prefix, int i, int64_t W, int64_t HID,
                       MaeBlockParams *bp) {
  char name[128];
  (void)W, (void)HID;
#define MAE_BLOCK_TENSOR(field, bname, init, ndim, d0, d1)                                         \
  {                                                                                                \
    const int64_t shape[5] = {d0, d1, 1, 1, 1};                                                    \
    snprintf(name, sizeof name, "%s.%d.%s", prefix, i, bname);                                     \
    fn(ctx, name, INIT_##init, 1, SEG_G_BLOCK, i + 1, ndim, shape, &bp->field);                    \
  }
#include "mae_tensors.def"
}

void seg_walk(const SegConfig *cfg, SegParams *ps, SegWalkFunc fn, void *ctx) {
  const MaeConfig *m = &cfg->mae;
  const int64_t C = m->enc_dim, L = mae_config_tokens(m), PD = m->patch[0], PH = m->patch[1],
                PW = m->patch[2], OUT = cfg->out_channels, CH4 = cfg->base, CH3 = 2 * CH4,
                CH2 = 4 * CH4, CH1 = 8 * CH4, ENC_DEPTH = m->enc_depth;
#define SEG_TENSOR(field, nm, init, trainable, group, ndim, d0, d1, d2, d3, d4)                    \
  {                                                                                                \
    const int64_t shape[5] = {d0, d1, d2, d3, d4};                                                 \
    int layer = group == SEG_G_EMBED ? 0 : (int)ENC_DEPTH + 1;                                     \
    fn(ctx, nm, INIT_##init, trainable, group, layer, ndim, shape, &ps->field);                    \
  }
#define SEG_STACK(field, prefix, depth, width)                                                     \
  for (int i = 0; i < (int)(depth); i++)                                                           \
    walk_block(fn, ctx, prefix, i, width, (int64_t)m->mlp_ratio *(width), &ps->field[i]);
#include "seg_tensors.def"
}
