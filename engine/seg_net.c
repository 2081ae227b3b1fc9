/* The segmentation network (seg_net.h): parameters from seg_tensors.def,
 * the encoder's forward/backward over all tokens, the UNETR-style decoder. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "act_layout.h"
#include "aligned.h"
#include "gemm.h"
#include "nn.h"
#include "nn_conv3d.h"
#include "nn_convtranspose.h"
#include "nn_groupnorm.h"
#include "rng.h"
#include "seg_internal.h"

/* ---- tasks and config ---- */

static const char *const task_names[] = {"neurons", "mito", "membrane"};

const char *seg_task_name(SegTask t) { return (unsigned)t < 3 ? task_names[t] : "?"; }

int seg_task_parse(const char *name, SegTask *t) {
  for (int i = 0; i < 3; i++)
    if (name && strcmp(name, task_names[i]) == 0) {
      *t = (SegTask)i;
      return 0;
    }
  return -1;
}

int seg_task_channels(SegTask t) { return t == SEG_TASK_NEURONS ? 3 : t == SEG_TASK_MITO ? 2 : 1; }

void seg_config_default(SegConfig *cfg, const MaeConfig *mae, int out_channels) {
  memset(cfg, 0, sizeof *cfg);
  cfg->mae = *mae;
  cfg->out_channels = out_channels;
  cfg->base = 8;
  cfg->norm_groups = 4;
}

int seg_config_validate(const SegConfig *c, MaeError *err) {
  if (mae_config_validate(&c->mae, err))
    return -1;
  if (c->mae.patch[0] != 1 || c->mae.patch[1] != 16 || c->mae.patch[2] != 16)
    return mae_error_set(err,
                         "seg_net: tokens must be 1x16x16 voxels (four 2x upsamplings), got "
                         "%dx%dx%d",
                         c->mae.patch[0], c->mae.patch[1], c->mae.patch[2]);
  if (c->mae.enc_depth < 4)
    return mae_error_set(err, "seg_net: the encoder needs at least 4 blocks, has %d",
                         c->mae.enc_depth);
  if (c->out_channels < 1 || c->out_channels > 64)
    return mae_error_set(err, "seg_net: output channels %d out of range 1..64", c->out_channels);
  if (c->base < 1 || c->base > 256 || c->norm_groups < 1 || c->base % c->norm_groups)
    return mae_error_set(err, "seg_net: GroupNorm groups %d must divide the base width %d",
                         c->norm_groups, c->base);
  return 0;
}

int seg_config_equal(const SegConfig *a, const SegConfig *b) {
  return mae_config_equal(&a->mae, &b->mae) && a->out_channels == b->out_channels &&
         a->base == b->base && a->norm_groups == b->norm_groups;
}

void seg_feature_blocks(int depth, int fb[4]) {
  for (int k = 0; k < 4; k++)
    fb[k] = ((k + 1) * depth + 3) / 4;
}

int seg_config_to_kv(const SegConfig *c, MaeKvFunc emit, void *user) {
  char v[32];
  int r;
  snprintf(v, sizeof v, "%d", c->out_channels);
  if ((r = emit(user, "seg_out_channels", v)))
    return r;
  snprintf(v, sizeof v, "%d", c->base);
  if ((r = emit(user, "seg_base", v)))
    return r;
  snprintf(v, sizeof v, "%d", c->norm_groups);
  return emit(user, "seg_norm_groups", v);
}

int seg_config_set_kv(SegConfig *c, const char *key, const char *value, MaeError *err) {
  int *slot = strcmp(key, "seg_out_channels") == 0  ? &c->out_channels
              : strcmp(key, "seg_base") == 0        ? &c->base
              : strcmp(key, "seg_norm_groups") == 0 ? &c->norm_groups
                                                    : NULL;
  if (!slot)
    return 0;
  char *end;
  long x = strtol(value, &end, 10);
  if (end == value || *end || x < 1 || x > 4096)
    return mae_error_set(err, "seg_net: bad value '%s' for %s", value, key);
  *slot = (int)x;
  return 1;
}

/* ---- the network ---- */

typedef struct Level {
  float *up_w, *up_b, *skip_w, *skip_b, *conv_w, *conv_b, *norm_w, *norm_b;
} Level;

typedef struct EncActs {
  float *patches;                      // (B, L, P)
  float *emb;                          // (B, L, C)
  float **res;                         // [depth + 1] of (B, N, C), N = L + 1
  MaeBlockActs *blk;                   // [depth]
  float *norm, *norm_mean, *norm_rstd; // (B, N, C), (B, N), (B, N)
  float *feat[4];                      // (B, C, L) token grids, feat[3] normed
  float *d_res, *d_ln, *d_att;         // (B, N, C)
  float *d_qkv;                        // (B, N, 3C)
  float *d_hid;                        // (B, N, HID)
  float *d_probs;                      // (B, H, N, N)
  float *d_emb;                        // (B, L, C)
  float *dfeat[4];                     // (B, C, L)
} EncActs;

typedef struct DecActs {
  float *crops;                        // (B, D, H, W) the input, kept for the stem
  float *cat[5];                       // [l] (B, 2 CH_l, V_l) up_l then skip_l
  float *conv[5];                      // [l] (B, CH_l, V_l) before the norm
  float *act[5];                       // [l] (B, CH_l, V_l) ReLU(GroupNorm(conv))
  float *mean[5], *rstd[5];            // [l] (B, G)
  float *stem, *stem_mean, *stem_rstd; // (B, CH4, V4), (B, G), (B, G)
  float *col, *tmp;                    // per-sample scratch
  float *d_act, *d_conv, *d_cat;       // per-sample scratch
} DecActs;

struct SegNet {
  SegConfig cfg;
  int L, P, N, C, D, grid[3], fb[4], ch[5], hl[5], wl[5];
  size_t vl[5];
  SegParams params, grads;
  Level lp[5], lg[5];
  float *param_mem, *grad_mem, *act_mem;
  size_t n_floats, act_floats;
  int act_B;
  EncActs enc;
  DecActs dec;
  SegTensorEntry *table;
  int n_tensors, cap_tensors;
  int last_B;
};

typedef struct Binder {
  SegNet *n;
  float *base;
  size_t off;
} Binder;

static void bind_one(void *ctx, const char *name, int init, int trainable, int group, int layer,
                     int ndim, const int64_t shape[5], float **slot) {
  Binder *b = ctx;
  size_t numel = 1;
  for (int d = 0; d < ndim; d++)
    numel *= (size_t)shape[d];
  *slot = b->base ? b->base + b->off : NULL;
  SegNet *n = b->n;
  if (n && n->n_tensors < n->cap_tensors) {
    SegTensorEntry *e = &n->table[n->n_tensors++];
    memset(e, 0, sizeof *e);
    snprintf(e->t.name, sizeof e->t.name, "%s", name);
    e->t.ndim = ndim;
    for (int d = 0; d < 5; d++)
      e->t.shape[d] = d < ndim ? shape[d] : 1;
    e->t.numel = numel;
    e->t.trainable = trainable;
    e->t.group = group;
    e->t.layer = layer;
    e->init = init;
    e->offset = b->off;
  }
  b->off += (numel + 15) & ~(size_t)15; /* 64-byte aligned slices */
}

static void count_one(void *ctx, const char *name, int init, int trainable, int group, int layer,
                      int ndim, const int64_t shape[5], float **slot) {
  (void)name, (void)init, (void)trainable, (void)group, (void)layer, (void)ndim, (void)shape;
  (void)slot;
  (*(int *)ctx)++;
}

static size_t bind_params(SegNet *n, SegParams *ps, float *base, int record) {
  Binder b = {record ? n : NULL, base, 0};
  seg_walk(&n->cfg, ps, bind_one, &b);
  return b.off;
}

static void init_params(SegNet *n, uint64_t seed) {
  Rng rng;
  rng_seed(&rng, seed);
  for (int i = 0; i < n->n_tensors; i++) {
    SegTensor *t = &n->table[i].t;
    float *x = t->data;
    size_t fan_in = t->numel / (size_t)t->shape[0];
    switch (n->table[i].init) {
    case MAE_INIT_ZERO:
      memset(x, 0, t->numel * sizeof(float));
      break;
    case MAE_INIT_ONE:
      for (size_t k = 0; k < t->numel; k++)
        x[k] = 1.f;
      break;
    case MAE_INIT_NORMAL:
      for (size_t k = 0; k < t->numel; k++)
        x[k] = 0.02f * rng_normal(&rng);
      break;
    case MAE_INIT_XAVIER: {
      float a = sqrtf(6.f / (float)(fan_in + (size_t)t->shape[0]));
      for (size_t k = 0; k < t->numel; k++)
        x[k] = a * (2.f * rng_uniform(&rng) - 1.f);
      break;
    }
    case MAE_INIT_SINCOS:
      mae_sincos_table(x, n->grid, n->C, n->cfg.mae.pos_max_freq, n->cfg.mae.pos_temperature);
      break;
    case SEG_INIT_KAIMING:
    case SEG_INIT_KAIMING_T: {
      size_t fi = n->table[i].init == SEG_INIT_KAIMING ? fan_in : (size_t)t->shape[0];
      float s = sqrtf(2.f / (float)fi);
      for (size_t k = 0; k < t->numel; k++)
        x[k] = s * rng_normal(&rng);
      break;
    }
    }
  }
}

static void levels(Level lv[5], const SegParams *p) {
  lv[1] = (Level){p->up1_w,   p->up1_b,   p->skip1_w, p->skip1_b,
                  p->conv1_w, p->conv1_b, p->norm1_w, p->norm1_b};
  lv[2] = (Level){p->up2_w,   p->up2_b,   p->skip2_w, p->skip2_b,
                  p->conv2_w, p->conv2_b, p->norm2_w, p->norm2_b};
  lv[3] = (Level){p->up3_w,   p->up3_b,   p->skip3_w, p->skip3_b,
                  p->conv3_w, p->conv3_b, p->norm3_w, p->norm3_b};
  lv[4] = (Level){p->up4_w, p->up4_b, NULL, NULL, p->conv4_w, p->conv4_b, p->norm4_w, p->norm4_b};
}

void seg_level_shapes(const SegConfig *cfg, int ch[5], int hl[5], int wl[5], size_t vl[5]) {
  int grid[3];
  mae_config_grid(&cfg->mae, grid);
  ch[0] = cfg->mae.enc_dim;
  for (int l = 0; l <= 4; l++) {
    if (l)
      ch[l] = cfg->base << (4 - l);
    hl[l] = grid[1] << l, wl[l] = grid[2] << l;
    vl[l] = (size_t)cfg->mae.input[0] * hl[l] * wl[l];
  }
}

int seg_net_create(SegNet **out, const SegConfig *cfg, uint64_t seed, MaeError *err) {
  *out = NULL;
  if (seg_config_validate(cfg, err))
    return -1;
  SegNet *n = calloc(1, sizeof *n);
  if (!n)
    return mae_error_set(err, "seg_net: out of memory");
  n->cfg = *cfg;
  const MaeConfig *m = &cfg->mae;
  n->L = mae_config_tokens(m), n->P = mae_config_patch_voxels(m), n->N = n->L + 1;
  n->C = m->enc_dim, n->D = m->input[0];
  mae_config_grid(m, n->grid);
  seg_feature_blocks(m->enc_depth, n->fb);
  seg_level_shapes(cfg, n->ch, n->hl, n->wl, n->vl);
  n->params.blocks = calloc((size_t)m->enc_depth, sizeof(MaeBlockParams));
  n->grads.blocks = calloc((size_t)m->enc_depth, sizeof(MaeBlockParams));
  int count = 0;
  seg_walk(cfg, &n->params, count_one, &count);
  n->table = calloc((size_t)count, sizeof(SegTensorEntry));
  n->cap_tensors = count;
  if (!n->params.blocks || !n->grads.blocks || !n->table)
    goto oom;
  n->n_floats = bind_params(n, &n->params, NULL, 1);
  n->param_mem = aligned_alloc64(n->n_floats * sizeof(float));
  n->grad_mem = aligned_alloc64(n->n_floats * sizeof(float));
  if (!n->param_mem || !n->grad_mem)
    goto oom;
  memset(n->param_mem, 0, n->n_floats * sizeof(float));
  memset(n->grad_mem, 0, n->n_floats * sizeof(float));
  bind_params(n, &n->params, n->param_mem, 0);
  bind_params(n, &n->grads, n->grad_mem, 0);
  for (int i = 0; i < n->n_tensors; i++) {
    n->table[i].t.data = n->param_mem + n->table[i].offset;
    n->table[i].t.grad = n->grad_mem + n->table[i].offset;
  }
  levels(n->lp, &n->params);
  levels(n->lg, &n->grads);
  init_params(n, seed);
  *out = n;
  return 0;
oom:
  seg_net_free(n);
  return mae_error_set(err, "seg_net: out of memory");
}

void seg_net_free(SegNet *n) {
  if (!n)
    return;
  free(n->params.blocks), free(n->grads.blocks), free(n->table);
  free(n->param_mem), free(n->grad_mem), free(n->act_mem);
  free(n->enc.res), free(n->enc.blk);
  free(n);
}

const SegConfig *seg_net_config(const SegNet *n) { return &n->cfg; }
const SegParams *seg_net_params(const SegNet *n) { return &n->params; }
int seg_net_n_tensors(const SegNet *n) { return n->n_tensors; }
SegTensor *seg_net_tensor(SegNet *n, int i) {
  return i >= 0 && i < n->n_tensors ? &n->table[i].t : NULL;
}
SegTensor *seg_net_find_tensor(SegNet *n, const char *name) {
  for (int i = 0; i < n->n_tensors; i++)
    if (strcmp(n->table[i].t.name, name) == 0)
      return &n->table[i].t;
  return NULL;
}
size_t seg_net_n_params(const SegNet *n) {
  size_t s = 0;
  for (int i = 0; i < n->n_tensors; i++)
    s += n->table[i].t.numel;
  return s;
}
void seg_net_zero_grad(SegNet *n) { memset(n->grad_mem, 0, n->n_floats * sizeof(float)); }

/* ---- activations: one allocation, laid out for B samples (act_layout.h) ---- */

static size_t layout_acts(SegNet *n, float *base, int B) {
  Layout l = {base, 0};
  const MaeConfig *m = &n->cfg.mae;
  size_t Bs = (size_t)B, N = n->N, C = n->C, L = n->L, H = m->enc_heads,
         HID = (size_t)m->mlp_ratio * C, G = n->cfg.norm_groups;
  EncActs *e = &n->enc;
  e->patches = take(&l, Bs * L * n->P);
  e->emb = take(&l, Bs * L * C);
  for (int i = 0; i <= m->enc_depth; i++)
    e->res[i] = take(&l, Bs * N * C);
  for (int i = 0; i < m->enc_depth; i++) {
    MaeBlockActs *a = &e->blk[i];
    a->ln1 = take(&l, Bs * N * C), a->ln1_mean = take(&l, Bs * N), a->ln1_rstd = take(&l, Bs * N);
    a->qkv = take(&l, Bs * N * 3 * C);
    a->probs = take(&l, Bs * H * N * N);
    a->att = take(&l, Bs * N * C);
    a->x_mid = take(&l, Bs * N * C);
    a->ln2 = take(&l, Bs * N * C), a->ln2_mean = take(&l, Bs * N), a->ln2_rstd = take(&l, Bs * N);
    a->fc1 = take(&l, Bs * N * HID);
    a->gelu = take(&l, Bs * N * HID);
  }
  e->norm = take(&l, Bs * N * C), e->norm_mean = take(&l, Bs * N), e->norm_rstd = take(&l, Bs * N);
  for (int k = 0; k < 4; k++)
    e->feat[k] = take(&l, Bs * C * L);
  e->d_res = take(&l, Bs * N * C), e->d_ln = take(&l, Bs * N * C), e->d_att = take(&l, Bs * N * C);
  e->d_qkv = take(&l, Bs * N * 3 * C);
  e->d_hid = take(&l, Bs * N * HID);
  e->d_probs = take(&l, Bs * H * N * N);
  e->d_emb = take(&l, Bs * L * C);
  for (int k = 0; k < 4; k++)
    e->dfeat[k] = take(&l, Bs * C * L);
  DecActs *d = &n->dec;
  d->crops = take(&l, Bs * n->vl[4]);
  size_t col = nn_conv3d_col_floats(1, n->hl[4], n->wl[4], 3), big = 0;
  for (int k = 1; k <= 4; k++) {
    size_t cv = (size_t)n->ch[k] * n->vl[k];
    d->cat[k] = take(&l, Bs * 2 * cv);
    d->conv[k] = take(&l, Bs * cv);
    d->act[k] = take(&l, Bs * cv);
    d->mean[k] = take(&l, Bs * G), d->rstd[k] = take(&l, Bs * G);
    col = zmax(col, nn_conv3d_col_floats(2 * n->ch[k], n->hl[k], n->wl[k], 3));
    big = zmax(big, cv);
  }
  d->stem = take(&l, Bs * n->ch[4] * n->vl[4]);
  d->stem_mean = take(&l, Bs * G), d->stem_rstd = take(&l, Bs * G);
  d->col = take(&l, col);
  d->tmp = take(&l, big);
  d->d_act = take(&l, big);
  d->d_conv = take(&l, big);
  d->d_cat = take(&l, 2 * big);
  return l.off;
}

static int ensure_acts(SegNet *n, int B, MaeError *err) {
  if (B <= n->act_B)
    return 0;
  const MaeConfig *m = &n->cfg.mae;
  if (!n->enc.res) {
    n->enc.res = calloc((size_t)m->enc_depth + 1, sizeof(float *));
    n->enc.blk = calloc((size_t)m->enc_depth, sizeof(MaeBlockActs));
    if (!n->enc.res || !n->enc.blk)
      return mae_error_set(err, "seg_net: out of memory");
  }
  size_t need = layout_acts(n, NULL, B);
  float *mem = aligned_alloc64(need * sizeof(float));
  if (!mem)
    return mae_error_set(err, "seg_net: out of memory for activations of batch %d (%.0f MB)", B,
                         need * 4.0 / 1e6);
  free(n->act_mem);
  n->act_mem = mem;
  n->act_floats = need;
  n->act_B = B;
  layout_acts(n, mem, B);
  return 0;
}

/* ---- encoder ---- */

/* feat (B, C, L) <- rows 1..L of x (B, N, C) */
void seg_to_grid(float *feat, const float *x, int B, int N, int C, int L) {
  for (int b = 0; b < B; b++)
    for (int t = 0; t < L; t++) {
      const float *row = x + ((size_t)b * N + 1 + t) * C;
      for (int c = 0; c < C; c++)
        feat[((size_t)b * C + c) * L + t] = row[c];
    }
}

/* d (B, N, C) rows 1..L += dfeat (B, C, L) */
static void add_from_grid(float *d, const float *dfeat, int B, int N, int C, int L) {
  for (int b = 0; b < B; b++)
    for (int t = 0; t < L; t++) {
      float *row = d + ((size_t)b * N + 1 + t) * C;
      for (int c = 0; c < C; c++)
        row[c] += dfeat[((size_t)b * C + c) * L + t];
    }
}

void seg_embed_forward(float *x, float *emb, float *patches, const float *crops, const SegParams *p,
                       const MaeConfig *m, int B, int L, int C, int P) {
  size_t crop = (size_t)mae_config_crop_voxels(m);
  int N = L + 1;
  for (int b = 0; b < B; b++)
    mae_patchify(m, crops + b * crop, patches + (size_t)b * L * P);
  nn_linear_forward(emb, patches, p->patch_w, p->patch_b, B * L, P, C);
  for (int b = 0; b < B; b++) {
    float *xb = x + (size_t)b * N * C;
    for (int c = 0; c < C; c++)
      xb[c] = p->cls_token[c] + p->pos_embed[c];
    for (int t = 0; t < L; t++)
      for (int c = 0; c < C; c++)
        xb[(size_t)(1 + t) * C + c] =
            emb[((size_t)b * L + t) * C + c] + p->pos_embed[(size_t)(1 + t) * C + c];
  }
}

static void encoder_forward(SegNet *n, const float *crops, int B) {
  const MaeConfig *m = &n->cfg.mae;
  EncActs *e = &n->enc;
  const SegParams *p = &n->params;
  int L = n->L, N = n->N, C = n->C, P = n->P, HID = m->mlp_ratio * C;
  seg_embed_forward(e->res[0], e->emb, e->patches, crops, p, m, B, L, C, P);
  for (int i = 0; i < m->enc_depth; i++)
    mae_block_forward(&e->blk[i], e->res[i + 1], e->res[i], &p->blocks[i], B, N, C, m->enc_heads, HID,
                  m->ln_eps);
  nn_layernorm_forward(e->norm, e->norm_mean, e->norm_rstd, e->res[m->enc_depth], p->norm_w,
                       p->norm_b, B * N, C, m->ln_eps);
  for (int k = 0; k < 3; k++)
    seg_to_grid(e->feat[k], e->res[n->fb[k]], B, N, C, L);
  seg_to_grid(e->feat[3], e->norm, B, N, C, L);
}

static void encoder_backward(SegNet *n, int B) {
  const MaeConfig *m = &n->cfg.mae;
  EncActs *e = &n->enc;
  const SegParams *p = &n->params;
  SegParams *g = &n->grads;
  int L = n->L, N = n->N, C = n->C, P = n->P, HID = m->mlp_ratio * C;
  const MaeBlockScratch scratch = {e->d_ln, e->d_att, e->d_qkv, e->d_hid, e->d_probs};
  size_t BNC = (size_t)B * N * C;
  /* the last feature went through the final norm: its gradient enters there */
  memset(e->d_ln, 0, BNC * sizeof(float));
  add_from_grid(e->d_ln, e->dfeat[3], B, N, C, L);
  memset(e->d_res, 0, BNC * sizeof(float));
  nn_layernorm_backward(e->d_res, g->norm_w, g->norm_b, e->d_ln, e->res[m->enc_depth], p->norm_w,
                        e->norm_mean, e->norm_rstd, B * N, C);
  for (int i = m->enc_depth - 1; i >= 0; i--) {
    for (int k = 0; k < 3; k++)
      if (n->fb[k] == i + 1)
        add_from_grid(e->d_res, e->dfeat[k], B, N, C, L);
    mae_block_backward(&g->blocks[i], e->d_res, &scratch, &e->blk[i], e->res[i], &p->blocks[i], B, N, C,
                   m->enc_heads, HID);
  }
  for (int b = 0; b < B; b++) {
    const float *x = e->d_res + (size_t)b * N * C;
    for (int c = 0; c < C; c++)
      g->cls_token[c] += x[c];
    memcpy(e->d_emb + (size_t)b * L * C, x + C, sizeof(float) * (size_t)L * C);
  }
  nn_linear_backward(NULL, g->patch_w, g->patch_b, e->d_emb, e->patches, p->patch_w, B * L, P, C);
}

/* ---- decoder, one sample ---- */

static void decoder_forward(SegNet *n, int b, float *logits) {
  DecActs *d = &n->dec;
  EncActs *e = &n->enc;
  const SegParams *p = &n->params;
  int C = n->C, L = n->L, D = n->D, G = n->cfg.norm_groups, Gh = n->grid[1], Gw = n->grid[2];
  for (int l = 1; l <= 4; l++) {
    int ch = n->ch[l], pch = n->ch[l - 1];
    size_t V = n->vl[l], cv = (size_t)ch * V;
    float *cat = d->cat[l] + (size_t)b * 2 * cv;
    const float *prev =
        l == 1 ? e->feat[3] + (size_t)b * C * L : d->act[l - 1] + (size_t)b * pch * n->vl[l - 1];
    const Level *lv = &n->lp[l];
    nn_convtranspose_forward(cat, d->tmp, prev, lv->up_w, lv->up_b, pch, ch, D, n->hl[l - 1],
                             n->wl[l - 1], 2);
    if (l < 4) {
      nn_convtranspose_forward(cat + cv, d->tmp, e->feat[3 - l] + (size_t)b * C * L, lv->skip_w,
                               lv->skip_b, C, ch, D, Gh, Gw, 1 << l);
    } else {
      float *stem = d->stem + (size_t)b * cv;
      nn_conv3d_forward(stem, d->col, d->crops + (size_t)b * V, p->stem_w, p->stem_b, 1, ch, D,
                        n->hl[4], n->wl[4], 3);
      nn_groupnorm_forward(cat + cv, d->stem_mean + (size_t)b * G, d->stem_rstd + (size_t)b * G,
                           stem, p->stem_norm_w, p->stem_norm_b, ch, V, G, 1e-5f);
      nn_relu_forward(cat + cv, cat + cv, cv);
    }
    float *conv = d->conv[l] + (size_t)b * cv, *act = d->act[l] + (size_t)b * cv;
    nn_conv3d_forward(conv, d->col, cat, lv->conv_w, lv->conv_b, 2 * ch, ch, D, n->hl[l], n->wl[l],
                      3);
    nn_groupnorm_forward(act, d->mean[l] + (size_t)b * G, d->rstd[l] + (size_t)b * G, conv,
                         lv->norm_w, lv->norm_b, ch, V, G, 1e-5f);
    nn_relu_forward(act, act, cv);
  }
  nn_conv3d_forward(logits, d->col, d->act[4] + (size_t)b * n->ch[4] * n->vl[4], p->head_w,
                    p->head_b, n->ch[4], n->cfg.out_channels, D, n->hl[4], n->wl[4], 1);
}

static void decoder_backward(SegNet *n, int b, const float *dlogits, int encoder_grads) {
  DecActs *d = &n->dec;
  EncActs *e = &n->enc;
  const SegParams *p = &n->params;
  SegParams *g = &n->grads;
  int C = n->C, L = n->L, D = n->D, G = n->cfg.norm_groups, Gh = n->grid[1], Gw = n->grid[2];
  nn_conv3d_backward(d->d_act, g->head_w, g->head_b, d->col, dlogits,
                     d->act[4] + (size_t)b * n->ch[4] * n->vl[4], p->head_w, n->ch[4],
                     n->cfg.out_channels, D, n->hl[4], n->wl[4], 1);
  for (int l = 4; l >= 1; l--) {
    int ch = n->ch[l], pch = n->ch[l - 1];
    size_t V = n->vl[l], cv = (size_t)ch * V;
    const Level *lv = &n->lp[l], *lg = &n->lg[l];
    float *cat = d->cat[l] + (size_t)b * 2 * cv;
    const float *act = d->act[l] + (size_t)b * cv, *conv = d->conv[l] + (size_t)b * cv;
    nn_relu_backward(d->d_act, d->d_act, act, cv);
    nn_groupnorm_backward(d->d_conv, lg->norm_w, lg->norm_b, d->d_act, conv, lv->norm_w,
                          d->mean[l] + (size_t)b * G, d->rstd[l] + (size_t)b * G, ch, V, G);
    nn_conv3d_backward(d->d_cat, lg->conv_w, lg->conv_b, d->col, d->d_conv, cat, lv->conv_w, 2 * ch,
                       ch, D, n->hl[l], n->wl[l], 3);
    if (l < 4) {
      nn_convtranspose_backward(encoder_grads ? e->dfeat[3 - l] + (size_t)b * C * L : NULL,
                                lg->skip_w, lg->skip_b, d->tmp, d->d_cat + cv,
                                e->feat[3 - l] + (size_t)b * C * L, lv->skip_w, C, ch, D, Gh, Gw,
                                1 << l);
    } else {
      nn_relu_backward(d->d_cat + cv, d->d_cat + cv, cat + cv, cv);
      nn_groupnorm_backward(d->d_conv, g->stem_norm_w, g->stem_norm_b, d->d_cat + cv,
                            d->stem + (size_t)b * cv, p->stem_norm_w, d->stem_mean + (size_t)b * G,
                            d->stem_rstd + (size_t)b * G, ch, V, G);
      nn_conv3d_backward(NULL, g->stem_w, g->stem_b, d->col, d->d_conv, d->crops + (size_t)b * V,
                         p->stem_w, 1, ch, D, n->hl[4], n->wl[4], 3);
    }
    const float *prev =
        l == 1 ? e->feat[3] + (size_t)b * C * L : d->act[l - 1] + (size_t)b * pch * n->vl[l - 1];
    float *dprev = l > 1 ? d->d_act : encoder_grads ? e->dfeat[3] + (size_t)b * C * L : NULL;
    nn_convtranspose_backward(dprev, lg->up_w, lg->up_b, d->tmp, d->d_cat, prev, lv->up_w, pch, ch,
                              D, n->hl[l - 1], n->wl[l - 1], 2);
  }
}

int seg_net_forward(SegNet *n, const float *crops, int B, float *logits, MaeError *err) {
  if (B < 1)
    return mae_error_set(err, "seg_net: batch must be positive");
  if (ensure_acts(n, B, err))
    return -1;
  size_t V = n->vl[4], OV = (size_t)n->cfg.out_channels * V;
  memcpy(n->dec.crops, crops, sizeof(float) * B * V);
  encoder_forward(n, crops, B);
  for (int b = 0; b < B; b++)
    decoder_forward(n, b, logits + b * OV);
  n->last_B = B;
  return 0;
}

int seg_net_backward(SegNet *n, const float *dlogits, int encoder_grads, MaeError *err) {
  int B = n->last_B;
  if (B < 1)
    return mae_error_set(err, "seg_net: backward without a forward");
  size_t OV = (size_t)n->cfg.out_channels * n->vl[4];
  for (int b = 0; b < B; b++)
    decoder_backward(n, b, dlogits + b * OV, encoder_grads);
  if (encoder_grads)
    encoder_backward(n, B);
  return 0;
}
