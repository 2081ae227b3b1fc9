/* The whole MAE: forward and every parameter gradient of a tiny model
 * against an independent double-precision forward (central differences);
 * tensor table names and shapes; initialisation; sin-cos tables; patch and
 * mask helpers; config strings and errors. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mae.h"
#include "mae_internal.h"
#include "mae_ref_double.h"
#include "tap.h"

/* ---- double-precision reference of the whole model ---- */

typedef struct DModel {
  const MaeModel *m;
  double **t; /* per tensor of the table */
} DModel;

static const double *dp(const DModel *d, const char *fmt, ...) {
  char name[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  for (int i = 0; i < mae_model_n_tensors(d->m); i++)
    if (strcmp(mae_model_tensor(d->m, i)->name, name) == 0) return d->t[i];
  fprintf(stderr, "no tensor %s\n", name);
  exit(1);
}

static DRefBlock dblock(const DModel *d, const char *prefix, int i) {
  return (DRefBlock){
      dp(d, "%s.%d.norm1.weight", prefix, i),    dp(d, "%s.%d.norm1.bias", prefix, i),
      dp(d, "%s.%d.attn.qkv.weight", prefix, i), dp(d, "%s.%d.attn.qkv.bias", prefix, i),
      dp(d, "%s.%d.attn.proj.weight", prefix, i), dp(d, "%s.%d.attn.proj.bias", prefix, i),
      dp(d, "%s.%d.norm2.weight", prefix, i),    dp(d, "%s.%d.norm2.bias", prefix, i),
      dp(d, "%s.%d.mlp.fc1.weight", prefix, i),  dp(d, "%s.%d.mlp.fc1.bias", prefix, i),
      dp(d, "%s.%d.mlp.fc2.weight", prefix, i),  dp(d, "%s.%d.mlp.fc2.bias", prefix, i),
  };
}

/* Loss of the reference MAE; pred (B, L, P) if not NULL. */
static double dmae_forward(const DModel *d, const float *crops, const uint8_t *mask, int B,
                           double *pred) {
  const MaeConfig *c = mae_model_config(d->m);
  int L = mae_config_tokens(c), P = mae_config_patch_voxels(c), C = c->enc_dim, CD = c->dec_dim;
  int K = 0;
  for (int t = 0; t < L; t++) K += !mask[t];
  int N = K + 1, Nd = L + 1;
  float *fp = malloc(sizeof(float) * L * P);
  double *patches = malloc(sizeof(double) * B * L * P), *vis = malloc(sizeof(double) * B * K * P);
  double *emb = malloc(sizeof(double) * B * K * C), *x = malloc(sizeof(double) * B * N * C);
  double *xn = malloc(sizeof(double) * B * N * C), *de = malloc(sizeof(double) * B * N * CD);
  double *y = malloc(sizeof(double) * B * Nd * CD), *yn = malloc(sizeof(double) * B * Nd * CD);
  double *out = malloc(sizeof(double) * B * Nd * P), *all = malloc(sizeof(double) * B * L * P);
  for (int b = 0; b < B; b++) {
    mae_patchify(c, crops + (size_t)b * mae_config_crop_voxels(c), fp);
    for (int i = 0; i < L * P; i++) patches[(size_t)b * L * P + i] = fp[i];
    for (int t = 0, j = 0; t < L; t++)
      if (!mask[b * L + t]) memcpy(vis + ((size_t)b * K + j++) * P, patches + ((size_t)b * L + t) * P, 8 * P);
  }
  dref_linear(emb, vis, dp(d, "patch_embed.proj.weight"), dp(d, "patch_embed.proj.bias"), B * K, P, C);
  const double *cls = dp(d, "cls_token"), *pos = dp(d, "pos_embed");
  for (int b = 0; b < B; b++) {
    for (int i = 0; i < C; i++) x[(size_t)b * N * C + i] = cls[i] + pos[i];
    for (int t = 0, j = 0; t < L; t++)
      if (!mask[b * L + t]) {
        for (int i = 0; i < C; i++)
          x[((size_t)b * N + 1 + j) * C + i] = emb[((size_t)b * K + j) * C + i] + pos[(1 + t) * C + i];
        j++;
      }
  }
  for (int l = 0; l < c->enc_depth; l++) {
    DRefBlock blk = dblock(d, "blocks", l);
    dref_block(x, &blk, B, N, C, c->enc_heads, c->mlp_ratio * C, c->ln_eps);
  }
  dref_layernorm(xn, x, dp(d, "norm.weight"), dp(d, "norm.bias"), B * N, C, c->ln_eps);
  dref_linear(de, xn, dp(d, "decoder_embed.weight"), dp(d, "decoder_embed.bias"), B * N, C, CD);
  const double *mt = dp(d, "mask_token"), *dpos = dp(d, "decoder_pos_embed");
  for (int b = 0; b < B; b++) {
    for (int i = 0; i < CD; i++) y[(size_t)b * Nd * CD + i] = de[(size_t)b * N * CD + i] + dpos[i];
    for (int t = 0, j = 0; t < L; t++) {
      const double *src = mask[b * L + t] ? mt : de + ((size_t)b * N + 1 + j++) * CD;
      for (int i = 0; i < CD; i++) y[((size_t)b * Nd + 1 + t) * CD + i] = src[i] + dpos[(1 + t) * CD + i];
    }
  }
  for (int l = 0; l < c->dec_depth; l++) {
    DRefBlock blk = dblock(d, "decoder_blocks", l);
    dref_block(y, &blk, B, Nd, CD, c->dec_heads, c->mlp_ratio * CD, c->ln_eps);
  }
  dref_layernorm(yn, y, dp(d, "decoder_norm.weight"), dp(d, "decoder_norm.bias"), B * Nd, CD, c->ln_eps);
  dref_linear(out, yn, dp(d, "decoder_pred.weight"), dp(d, "decoder_pred.bias"), B * Nd, CD, P);
  for (int b = 0; b < B; b++) memcpy(all + (size_t)b * L * P, out + ((size_t)b * Nd + 1) * P, 8 * (size_t)L * P);
  if (pred) memcpy(pred, all, 8 * (size_t)B * L * P);
  double loss = dref_normpix_mse(all, patches, mask, B * L, P);
  free(fp), free(patches), free(vis), free(emb), free(x), free(xn), free(de), free(y), free(yn);
  free(out), free(all);
  return loss;
}

static MaeConfig tiny_config(void) {
  MaeConfig c;
  mae_config_named(&c, "cpu-small", NULL);
  c.input[0] = 2, c.input[1] = 8, c.input[2] = 8;
  c.patch[0] = 1, c.patch[1] = 4, c.patch[2] = 4;
  c.enc_dim = 12, c.enc_depth = 2, c.enc_heads = 2;
  c.dec_dim = 8, c.dec_depth = 1, c.dec_heads = 2;
  return c;
}

static void test_whole_model_gradients(void) {
  MaeConfig c = tiny_config();
  MaeModel *m;
  MaeError err;
  if (!TAP_OK(mae_model_create(&m, &c, 7, &err) == 0, "tiny model created")) return;
  int B = 2, L = mae_config_tokens(&c), P = mae_config_patch_voxels(&c);
  Rng r;
  rng_seed(&r, 3);
  /* biases and LN affine away from their init so that every path matters */
  for (int i = 0; i < mae_model_n_tensors(m); i++) {
    const MaeTensor *t = mae_model_tensor(m, i);
    if (!t->trainable) continue;
    for (size_t j = 0; j < t->numel; j++) t->data[j] += 0.1f * (2 * rng_uniform(&r) - 1);
  }
  float *crops = malloc(sizeof(float) * B * mae_config_crop_voxels(&c));
  for (int i = 0; i < B * mae_config_crop_voxels(&c); i++) crops[i] = 2 * rng_uniform(&r) - 1;
  uint8_t mask[16];
  for (int b = 0; b < B; b++) mae_mask_random(mask + b * L, L, 0.6f, &r);
  double loss;
  float *pred = malloc(sizeof(float) * B * L * P);
  mae_model_zero_grad(m);
  TAP_OK(mae_model_forward(m, crops, mask, B, pred, &loss, &err) == 0, "forward");
  TAP_OK(mae_model_backward(m, &err) == 0, "backward");

  DModel d = {m, calloc(mae_model_n_tensors(m), sizeof(double *))};
  for (int i = 0; i < mae_model_n_tensors(m); i++) {
    const MaeTensor *t = mae_model_tensor(m, i);
    d.t[i] = malloc(sizeof(double) * t->numel);
    for (size_t j = 0; j < t->numel; j++) d.t[i][j] = t->data[j];
  }
  double *dpred = malloc(sizeof(double) * B * L * P);
  double want = dmae_forward(&d, crops, mask, B, dpred);
  TAP_OK(fabs(loss - want) <= 1e-5 * want, "tiny model loss %.8f == double reference %.8f", loss, want);
  double worst = 0;
  for (int i = 0; i < B * L * P; i++) worst = fmax(worst, fabs(pred[i] - dpred[i]));
  TAP_OK(worst < 1e-4, "tiny model decoder output == double reference (max diff %.2e)", worst);

  /* every trainable value: central differences of the double reference */
  int bad_tensors = 0;
  size_t checked = 0;
  for (int i = 0; i < mae_model_n_tensors(m); i++) {
    const MaeTensor *t = mae_model_tensor(m, i);
    if (!t->trainable) continue;
    double tensor_worst = 0;
    for (size_t j = 0; j < t->numel; j++) {
      double x0 = d.t[i][j], h = 1e-5;
      d.t[i][j] = x0 + h;
      double fp = dmae_forward(&d, crops, mask, B, NULL);
      d.t[i][j] = x0 - h;
      double fm = dmae_forward(&d, crops, mask, B, NULL);
      d.t[i][j] = x0;
      double num = (fp - fm) / (2 * h);
      double e = fabs(num - t->grad[j]) / (2e-5 + 2e-3 * fabs(num));
      tensor_worst = fmax(tensor_worst, e);
      checked++;
    }
    if (tensor_worst > 1) {
      bad_tensors++;
      tap_diag("%s: worst gradient error %.2f of tolerance", t->name, tensor_worst);
    }
  }
  TAP_OK(bad_tensors == 0, "whole tiny model: all %zu parameter gradients match double finite differences", checked);
  for (int i = 0; i < mae_model_n_tensors(m); i++) free(d.t[i]);
  free(d.t), free(dpred), free(crops), free(pred);
  mae_model_free(m);
}

static void test_forward_errors(void) {
  MaeConfig c = tiny_config();
  MaeModel *m;
  MaeError err;
  mae_model_create(&m, &c, 1, NULL);
  float crops[2 * 128] = {0};
  uint8_t mask[16] = {0};
  mask[0] = 1; /* sample 0: 7 visible, sample 1: 8 visible */
  TAP_OK(mae_model_forward(m, crops, mask, 2, NULL, NULL, &err) == -1 && strstr(err.message, "visible"),
         "unequal visible counts are refused: %s", err.message);
  memset(mask, 1, 8);
  TAP_OK(mae_model_forward(m, crops, mask, 1, NULL, NULL, &err) == -1, "all-masked sample refused: %s",
         err.message);
  TAP_OK(mae_model_backward(m, &err) == -1, "backward after a failed forward refused");
  memset(mask, 0, 16);
  double loss = -1;
  TAP_OK(mae_model_forward(m, crops, mask, 2, NULL, &loss, &err) == 0 && loss == 0.0,
         "no masked token: loss 0");
  mae_model_free(m);
}

static void test_table_and_init(void) {
  MaeConfig c;
  MaeModel *m;
  mae_config_named(&c, "cpu-small", NULL);
  mae_config_use_reference_init(&c); /* the local start is test_mae_attn_init's */
  if (!TAP_OK(mae_model_create(&m, &c, 0, NULL) == 0, "cpu-small model created")) return;
  TAP_OK(mae_model_n_tensors(m) == 110, "cpu-small has 110 tensors (%d)", mae_model_n_tensors(m));
  /* the PyTorch peer (no cls token) has 3173568 trainable parameters */
  TAP_OK(mae_model_n_params(m) == 3173568 + 192, "cpu-small trainable parameters %zu", mae_model_n_params(m));
  struct {
    const char *name;
    int ndim;
    int64_t shape[5];
  } want[] = {
      {"cls_token", 3, {1, 1, 192}},
      {"pos_embed", 3, {1, 217, 192}},
      {"patch_embed.proj.weight", 5, {192, 1, 1, 16, 16}},
      {"patch_embed.proj.bias", 1, {192}},
      {"blocks.0.attn.qkv.weight", 2, {576, 192}},
      {"blocks.5.mlp.fc1.weight", 2, {768, 192}},
      {"blocks.5.mlp.fc2.weight", 2, {192, 768}},
      {"norm.bias", 1, {192}},
      {"mask_token", 3, {1, 1, 128}},
      {"decoder_embed.weight", 2, {128, 192}},
      {"decoder_pos_embed", 3, {1, 217, 128}},
      {"decoder_blocks.1.attn.proj.weight", 2, {128, 128}},
      {"decoder_norm.weight", 1, {128}},
      {"decoder_pred.weight", 2, {256, 128}},
      {"decoder_pred.bias", 1, {256}},
  };
  int ok = 1;
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const MaeTensor *t = mae_model_find_tensor(m, want[i].name);
    if (!t || t->ndim != want[i].ndim) {
      ok = 0;
      tap_diag("%s missing or wrong rank", want[i].name);
      continue;
    }
    for (int k = 0; k < t->ndim; k++)
      if (t->shape[k] != want[i].shape[k]) ok = 0, tap_diag("%s: dim %d is %lld", want[i].name, k, (long long)t->shape[k]);
  }
  TAP_OK(ok, "reference MAE names and shapes");
  TAP_OK(!mae_model_find_tensor(m, "blocks.6.norm1.weight"), "no seventh encoder block");
  const MaeTensor *pe = mae_model_find_tensor(m, "pos_embed");
  TAP_OK(!pe->trainable && !pe->grad, "pos_embed is fixed");

  const MaeTensor *qkv = mae_model_find_tensor(m, "blocks.2.attn.qkv.weight");
  double bound = sqrt(6.0 / (192 + 576)), mx = 0;
  for (size_t j = 0; j < qkv->numel; j++) mx = fmax(mx, fabs(qkv->data[j]));
  TAP_OK(mx <= bound && mx > 0.99 * bound, "qkv weight xavier-uniform within %.4f (max %.4f)", bound, mx);
  const MaeTensor *pw = mae_model_find_tensor(m, "patch_embed.proj.weight");
  bound = sqrt(6.0 / (192 + 256)), mx = 0;
  for (size_t j = 0; j < pw->numel; j++) mx = fmax(mx, fabs(pw->data[j]));
  TAP_OK(mx <= bound && mx > 0.99 * bound, "patch embedding xavier on the (C, P) view (max %.4f)", mx);
  const MaeTensor *n1 = mae_model_find_tensor(m, "blocks.0.norm1.weight"), *n1b = mae_model_find_tensor(m, "blocks.0.norm1.bias");
  TAP_OK(n1->data[0] == 1.f && n1->data[191] == 1.f && n1b->data[5] == 0.f, "LayerNorm weight 1, bias 0");
  const MaeTensor *cls = mae_model_find_tensor(m, "cls_token"), *mt = mae_model_find_tensor(m, "mask_token");
  double s2 = 0;
  for (int j = 0; j < 192; j++) s2 += cls->data[j] * cls->data[j];
  for (int j = 0; j < 128; j++) s2 += mt->data[j] * mt->data[j];
  double sd = sqrt(s2 / 320);
  TAP_OK(sd > 0.016 && sd < 0.024, "cls/mask tokens N(0, 0.02): std %.4f", sd);

  /* the same seed gives the same model; another seed another one */
  MaeModel *m2;
  mae_model_create(&m2, &c, 0, NULL);
  TAP_OK(memcmp(m->param_mem, m2->param_mem, m->n_floats * sizeof(float)) == 0, "init is deterministic");
  mae_model_init(m2, 1);
  TAP_OK(memcmp(m->param_mem, m2->param_mem, m->n_floats * sizeof(float)) != 0, "another seed, another init");
  mae_model_free(m2);
  mae_model_free(m);
}

static void test_sincos(void) {
  int grid[3] = {2, 3, 4};
  int width = 128;
  float *t = malloc(sizeof(float) * 25 * width);
  mae_sincos_table(t, grid, width, 1.f, 10000.f); /* the reference MAE's table */
  int zero = 1;
  for (int i = 0; i < width; i++) zero &= t[i] == 0.f;
  TAP_OK(zero, "sin-cos row 0 (cls) is zero");
  /* token (d=1, h=2, w=3): index (1*3 + 2)*4 + 3 = 23, row 24 */
  const float *row = t + 24 * width;
  int ok = fabsf(row[0] - sinf(1)) < 1e-6f && fabsf(row[21] - cosf(1)) < 1e-6f;        /* d: 42 channels */
  ok &= fabsf(row[42] - sinf(2)) < 1e-6f && fabsf(row[63] - cosf(2)) < 1e-6f;           /* h: 42 */
  ok &= fabsf(row[84] - sinf(3)) < 1e-6f && fabsf(row[106] - cosf(3)) < 1e-6f;          /* w: 44 */
  ok &= fabsf(row[85] - (float)sin(3 * pow(10000, -1.0 / 22))) < 1e-6f;
  TAP_OK(ok, "width 128 splits 42/42/44 with sin then cos per axis");
  /* cpu-small's: channel pair i of a k-channel axis turns 2.5 * 10^(-2i/k) per token */
  mae_sincos_table(t, grid, width, 2.5f, 10.f);
  ok = fabsf(row[0] - sinf(2.5f)) < 1e-6f && fabsf(row[21] - cosf(2.5f)) < 1e-6f;
  ok &= fabsf(row[85] - (float)sin(3 * 2.5 * pow(10, -1.0 / 22))) < 1e-6f;
  ok &= fabsf(row[127] - (float)cos(3 * 2.5 * pow(10, -21.0 / 22))) < 1e-6f;
  TAP_OK(ok, "max frequency 2.5, temperature 10: omega_i = 2.5 * 10^(-i / (k/2))");
  width = 13; /* odd: 4/4/4 and a zero channel */
  mae_sincos_table(t, grid, width, 1.f, 10000.f);
  row = t + 24 * width;
  TAP_OK(row[12] == 0.f && fabsf(row[8] - sinf(3)) < 1e-6f && fabsf(row[10] - cosf(3)) < 1e-6f,
         "odd width 13: 4/4/4 and a last zero channel");
  free(t);
}

static void test_patches_and_masks(void) {
  MaeConfig c;
  mae_config_named(&c, "cpu-small", NULL);
  c.input[0] = 4, c.patch[0] = 2; /* tokens of 2 x 16 x 16 */
  int L = mae_config_tokens(&c), P = mae_config_patch_voxels(&c), V = mae_config_crop_voxels(&c);
  float *crop = malloc(sizeof(float) * V), *patches = malloc(sizeof(float) * L * P), *back = malloc(sizeof(float) * V);
  for (int i = 0; i < V; i++) crop[i] = (float)i;
  mae_patchify(&c, crop, patches);
  /* token (d=1, h=2, w=3) = (1*6 + 2)*6 + 3 = 51; its voxel (z=1, y=4, x=5) */
  int z = 1 * 2 + 1, y = 2 * 16 + 4, x = 3 * 16 + 5;
  TAP_OK(patches[51 * P + (1 * 16 + 4) * 16 + 5] == (float)((z * 96 + y) * 96 + x),
         "token order (d*Gh + h)*Gw + w, voxels (pd, ph, pw) row-major");
  mae_unpatchify(&c, patches, back);
  TAP_OK(memcmp(crop, back, sizeof(float) * V) == 0, "unpatchify inverts patchify");

  uint8_t mask[216], mask2[216];
  mae_mask_from_seed(mask, 216, 0.9f, 5, 0);
  mae_mask_from_seed(mask2, 216, 0.9f, 5, 0);
  int vis = 0;
  for (int i = 0; i < 216; i++) vis += !mask[i];
  TAP_OK(vis == 21 && memcmp(mask, mask2, 216) == 0, "mask ratio 0.9 keeps 21 of 216, reproducibly");
  mae_mask_from_seed(mask2, 216, 0.9f, 5, 1);
  TAP_OK(memcmp(mask, mask2, 216) != 0, "another index, another mask");
  TAP_OK(mae_keep_count(216, 0.75f) == 54 && mae_keep_count(216, 0.f) == 216 && mae_keep_count(216, 0.9999f) == 1,
         "keep counts 54 (0.75), 216 (0), at least 1");
  /* uniformity: every token visible about equally often */
  int count[216] = {0};
  Rng r;
  rng_seed(&r, 9);
  for (int k = 0; k < 2000; k++) {
    mae_mask_random(mask, 216, 0.9f, &r);
    for (int i = 0; i < 216; i++) count[i] += !mask[i];
  }
  int lo = 1 << 30, hi = 0;
  for (int i = 0; i < 216; i++) lo = count[i] < lo ? count[i] : lo, hi = count[i] > hi ? count[i] : hi;
  TAP_OK(lo > 130 && hi < 260, "random masks are uniform over tokens (visible %d..%d of 2000, expect ~194)", lo, hi);

  /* denormalize inverts the norm-pix target */
  float target[256], out[256], mean, sd;
  Rng q;
  rng_seed(&q, 4);
  for (int i = 0; i < 256; i++) patches[i] = rng_uniform(&q) * 0.5f - 0.2f;
  mae_patch_stats(patches, 256, &mean, &sd);
  for (int i = 0; i < 256; i++) target[i] = (patches[i] - mean) / sd;
  mae_denormalize(target, patches, 1, 256, out);
  float worst = 0;
  for (int i = 0; i < 256; i++) worst = fmaxf(worst, fabsf(out[i] - patches[i]));
  TAP_OK(worst < 1e-5f, "denormalize(normalised patch) == patch (%.1e)", (double)worst);
  free(crop), free(patches), free(back);
}

static int collect(void *user, const char *key, const char *value) {
  MaeConfig *c = user;
  MaeError err;
  return mae_config_set_kv(c, key, value, &err) == 1 ? 0 : 1;
}

static void test_config(void) {
  MaeConfig a, b, base;
  MaeError err;
  TAP_OK(mae_config_named(&a, "paper-base", &err) == 0 && a.enc_dim == 768 && a.dec_heads == 16, "paper-base");
  TAP_OK(mae_config_named(&a, "huge", &err) == -1 && strstr(err.message, "huge"), "unknown config: %s", err.message);
  mae_config_named(&a, "paper-base", NULL);
  a.input[0] = 8, a.patch[0] = 2, a.ln_eps = 1e-5f;
  mae_config_named(&b, "cpu-small", NULL);
  base = b;
  TAP_OK(mae_config_to_kv(&a, collect, &b) == 0 && mae_config_equal(&a, &b), "config -> strings -> config");
  TAP_OK(!mae_config_equal(&a, &base), "different configs differ");
  TAP_OK(mae_config_set_kv(&b, "lr", "1", &err) == 0, "a non-config key is left alone");
  TAP_OK(mae_config_set_kv(&b, "depth", "six", &err) == -1, "bad number refused: %s", err.message);
  TAP_OK(mae_config_set_kv(&b, "input_size", "6,96", &err) == -1, "bad triple refused: %s", err.message);
  b = base;
  TAP_OK(b.pos_max_freq == 2.5f && b.pos_temperature == 10.f && b.attn_init == MAE_ATTN_INIT_LOCAL,
         "cpu-small: sin-cos 2.5 / 10, local attention start");
  mae_config_use_reference_init(&b);
  TAP_OK(b.pos_max_freq == 1.f && b.pos_temperature == 10000.f && b.attn_init == MAE_ATTN_INIT_XAVIER,
         "reference init: sin-cos 1 / 10000, xavier attention");
  TAP_OK(!mae_config_equal(&b, &base), "another sin-cos table is another model");
  MaeConfig c2 = base;
  TAP_OK(mae_config_to_kv(&b, collect, &c2) == 0 && mae_config_equal(&b, &c2) &&
             c2.attn_init == MAE_ATTN_INIT_XAVIER,
         "sin-cos keys and attn_init survive the strings");
  c2.attn_init = MAE_ATTN_INIT_LOCAL;
  TAP_OK(mae_config_equal(&b, &c2), "the attention start is not part of the model's function");
  TAP_OK(mae_config_set_kv(&c2, "attn_init", "random", &err) == -1 && strstr(err.message, "attn_init"),
         "unknown attn_init refused: %s", err.message);
  TAP_OK(mae_config_set_kv(&c2, "pos_embed_temperature", "0", &err) == -1, "temperature 0 refused: %s",
         err.message);
  b = base;
  b.input[1] = 100;
  TAP_OK(mae_config_validate(&b, &err) == -1, "patch not dividing the input: %s", err.message);
  b = base;
  b.enc_heads = 5;
  TAP_OK(mae_config_validate(&b, &err) == -1, "heads not dividing the width: %s", err.message);
  double gf = mae_config_train_flops(&base, 8, 0.9f) * 1e-9;
  TAP_OK(gf > 8 && gf < 9, "cpu-small batch 8 mask 0.9: %.2f GFLOP per step", gf);
}

int main(void) {
  mae_set_threads(2);
  test_whole_model_gradients();
  test_forward_errors();
  test_table_and_init();
  test_sincos();
  test_patches_and_masks();
  test_config();
  return tap_done();
}
