/* Inference-only forward of the segmentation network (seg_infer_net.h).
 * Mirrors encoder_forward / decoder_forward in seg_net.c layer for layer;
 * test_seg_infer checks that both give the same logits. */
#include "seg_infer_net.h"

#include <stdlib.h>
#include <string.h>

#include "act_layout.h"
#include "aligned.h"
#include "nn.h"
#include "nn_conv3d.h"
#include "nn_conv3d_infer.h"
#include "nn_convtranspose.h"
#include "nn_groupnorm.h"
#include "seg_internal.h"

struct SegInferActs {
  int B, L, N, C, P, HID, D, G, grid[3], fb[4], ch[5], hl[5], wl[5];
  size_t vl[5];
  float *mem;
  size_t floats;
  /* encoder, (B, ...) */
  float *patches;           // (B, L, P)
  float *emb;               // (B, L, C)
  float *x[2];              // (B, N, C) the residual stream, ping-pong
  MaeBlockActs blk;         // one block's activations, reused by every block
  float *norm, *norm_stats; // (B, N, C), (2 B N)
  float *feat[4];           // (B, C, L) token grids, feat[3] normed
  /* decoder, one window at a time */
  float *cat;              // (2 CH_l, V_l)
  float *act[2];           // (CH_l, V_l) previous and current level
  float *conv, *stem, *tmp; // (CH_l, V_l)
  float *scratch;          // the 3x3x3 convolution's scratch
  float *stats;            // (2 G)
};

/* The activations' slices (act_layout.h); returns the floats they take. */
static size_t layout(SegInferActs *a, float *base) {
  Layout l = {base, 0};
  size_t B = (size_t)a->B, N = (size_t)a->N, C = (size_t)a->C, L = (size_t)a->L;
  a->patches = take(&l, B * L * a->P);
  a->emb = take(&l, B * L * C);
  a->x[0] = take(&l, B * N * C), a->x[1] = take(&l, B * N * C);
  MaeBlockActs *k = &a->blk;
  k->ln1 = take(&l, B * N * C), k->ln1_mean = take(&l, B * N), k->ln1_rstd = take(&l, B * N);
  k->qkv = take(&l, B * N * 3 * C);
  k->att = take(&l, B * N * C);
  k->x_mid = take(&l, B * N * C);
  k->ln2 = take(&l, B * N * C), k->ln2_mean = take(&l, B * N), k->ln2_rstd = take(&l, B * N);
  k->fc1 = take(&l, B * N * a->HID);
  k->gelu = take(&l, B * N * a->HID);
  a->norm = take(&l, B * N * C), a->norm_stats = take(&l, 2 * B * N);
  for (int f = 0; f < 4; f++)
    a->feat[f] = take(&l, B * C * L);
  size_t big = 0, scratch = 0;
  for (int lv = 1; lv <= 4; lv++) {
    big = zmax(big, (size_t)a->ch[lv] * a->vl[lv]);
    scratch = zmax(scratch, nn_conv3d_infer_scratch_floats(2 * a->ch[lv], a->D, a->hl[lv],
                                                           a->wl[lv]));
  }
  scratch = zmax(scratch, nn_conv3d_infer_scratch_floats(1, a->D, a->hl[4], a->wl[4]));
  a->cat = take(&l, 2 * big);
  a->act[0] = take(&l, big), a->act[1] = take(&l, big);
  a->conv = take(&l, big), a->stem = take(&l, big), a->tmp = take(&l, big);
  a->scratch = take(&l, scratch);
  a->stats = take(&l, 2 * (size_t)a->G);
  return l.off;
}

int seg_infer_acts_create(SegInferActs **out, const SegNet *net, int B, MaeError *err) {
  *out = NULL;
  if (B < 1)
    return mae_error_set(err, "seg_infer: batch must be positive");
  const SegConfig *cfg = seg_net_config(net);
  const MaeConfig *m = &cfg->mae;
  SegInferActs *a = calloc(1, sizeof *a);
  if (!a)
    return mae_error_set(err, "seg_infer: out of memory");
  a->B = B;
  a->L = mae_config_tokens(m), a->N = a->L + 1, a->C = m->enc_dim;
  a->P = mae_config_patch_voxels(m), a->HID = m->mlp_ratio * m->enc_dim, a->D = m->input[0];
  a->G = cfg->norm_groups;
  mae_config_grid(m, a->grid);
  seg_feature_blocks(m->enc_depth, a->fb);
  seg_level_shapes(cfg, a->ch, a->hl, a->wl, a->vl);
  /* attention probabilities (B, H, N, N) of one block */
  a->floats = layout(a, NULL);
  size_t probs = (size_t)B * m->enc_heads * a->N * a->N;
  a->mem = aligned_alloc64((a->floats + probs) * sizeof(float));
  if (!a->mem) {
    double mb = (a->floats + probs) * 4.0 / 1e6;
    free(a);
    return mae_error_set(err, "seg_infer: out of memory for activations of batch %d (%.0f MB)", B,
                         mb);
  }
  layout(a, a->mem);
  a->blk.probs = a->mem + a->floats;
  a->floats += probs;
  *out = a;
  return 0;
}

void seg_infer_acts_free(SegInferActs *a) {
  if (!a)
    return;
  free(a->mem);
  free(a);
}

size_t seg_infer_acts_bytes(const SegInferActs *a) { return a->floats * sizeof(float); }

static void encoder(const SegNet *net, SegInferActs *a, const float *crops, int B) {
  const MaeConfig *m = &seg_net_config(net)->mae;
  const SegParams *p = seg_net_params(net);
  int L = a->L, N = a->N, C = a->C, P = a->P;
  seg_embed_forward(a->x[0], a->emb, a->patches, crops, p, m, B, L, C, P);
  int cur = 0;
  for (int i = 0; i < m->enc_depth; i++) {
    mae_block_forward(&a->blk, a->x[cur ^ 1], a->x[cur], &p->blocks[i], B, N, C, m->enc_heads,
                      a->HID, m->ln_eps);
    cur ^= 1;
    for (int k = 0; k < 3; k++)
      if (a->fb[k] == i + 1)
        seg_to_grid(a->feat[k], a->x[cur], B, N, C, L);
  }
  nn_layernorm_forward(a->norm, a->norm_stats, a->norm_stats + (size_t)B * N, a->x[cur],
                       p->norm_w, p->norm_b, B * N, C, m->ln_eps);
  seg_to_grid(a->feat[3], a->norm, B, N, C, L);
}

static void decoder(const SegNet *net, SegInferActs *a, int b, const float *crop,
                    float *logits) {
  const SegConfig *cfg = seg_net_config(net);
  const SegParams *p = seg_net_params(net);
  const float *up_w[5] = {NULL, p->up1_w, p->up2_w, p->up3_w, p->up4_w};
  const float *up_b[5] = {NULL, p->up1_b, p->up2_b, p->up3_b, p->up4_b};
  const float *skip_w[4] = {NULL, p->skip1_w, p->skip2_w, p->skip3_w};
  const float *skip_b[4] = {NULL, p->skip1_b, p->skip2_b, p->skip3_b};
  const float *conv_w[5] = {NULL, p->conv1_w, p->conv2_w, p->conv3_w, p->conv4_w};
  const float *conv_b[5] = {NULL, p->conv1_b, p->conv2_b, p->conv3_b, p->conv4_b};
  const float *norm_w[5] = {NULL, p->norm1_w, p->norm2_w, p->norm3_w, p->norm4_w};
  const float *norm_b[5] = {NULL, p->norm1_b, p->norm2_b, p->norm3_b, p->norm4_b};
  int C = a->C, L = a->L, D = a->D, G = a->G, Gh = a->grid[1], Gw = a->grid[2];
  float *mean = a->stats, *rstd = a->stats + G;
  const float *prev = a->feat[3] + (size_t)b * C * L;
  for (int l = 1; l <= 4; l++) {
    int ch = a->ch[l], pch = a->ch[l - 1];
    size_t V = a->vl[l], cv = (size_t)ch * V;
    float *act = a->act[l & 1];
    nn_convtranspose_forward(a->cat, a->tmp, prev, up_w[l], up_b[l], pch, ch, D, a->hl[l - 1],
                             a->wl[l - 1], 2);
    if (l < 4) {
      nn_convtranspose_forward(a->cat + cv, a->tmp, a->feat[3 - l] + (size_t)b * C * L, skip_w[l],
                               skip_b[l], C, ch, D, Gh, Gw, 1 << l);
    } else {
      nn_conv3d_infer_forward(a->stem, a->scratch, crop, p->stem_w, p->stem_b, 1, ch, D, a->hl[4],
                              a->wl[4]);
      nn_groupnorm_forward(a->cat + cv, mean, rstd, a->stem, p->stem_norm_w, p->stem_norm_b, ch, V,
                           G, 1e-5f);
      nn_relu_forward(a->cat + cv, a->cat + cv, cv);
    }
    nn_conv3d_infer_forward(a->conv, a->scratch, a->cat, conv_w[l], conv_b[l], 2 * ch, ch, D,
                            a->hl[l], a->wl[l]);
    nn_groupnorm_forward(act, mean, rstd, a->conv, norm_w[l], norm_b[l], ch, V, G, 1e-5f);
    nn_relu_forward(act, act, cv);
    prev = act;
  }
  nn_conv3d_forward(logits, NULL, prev, p->head_w, p->head_b, a->ch[4], cfg->out_channels, D,
                    a->hl[4], a->wl[4], 1);
}

int seg_net_infer(const SegNet *net, SegInferActs *a, const float *crops, int B, float *logits,
                  MaeError *err) {
  if (B < 1 || B > a->B)
    return mae_error_set(err, "seg_infer: batch %d outside 1..%d", B, a->B);
  const SegConfig *cfg = seg_net_config(net);
  size_t V = a->vl[4], OV = (size_t)cfg->out_channels * V;
  encoder(net, a, crops, B);
  for (int b = 0; b < B; b++)
    decoder(net, a, b, crops + b * V, logits + b * OV);
  return 0;
}
