/* The whole segmentation network: parameter table names, gradients of the
 * whole tiny net (encoder included) against finite differences of the loss,
 * frozen-encoder backward, target construction checked by hand, the loss's
 * gradient, and a tiny net overfitting one phantom volume. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "phantom.h"
#include "rng.h"
#include "seg_net.h"
#include "seg_augment.h"
#include "seg_infer.h"
#include "seg_optim.h"
#include "seg_task.h"
#include "tap.h"

static void tiny_config(SegConfig *s, int D, int HW, int dim, int out, int base, int groups) {
  MaeConfig m;
  mae_config_named(&m, "cpu-small", NULL);
  m.input[0] = D, m.input[1] = m.input[2] = HW;
  m.enc_dim = dim, m.enc_depth = 4, m.enc_heads = 2;
  m.dec_dim = 8, m.dec_depth = 1, m.dec_heads = 2;
  seg_config_default(s, &m, out);
  s->base = base, s->norm_groups = groups;
}

static double loss_of(SegNet *n, const float *x, int B, float *logits, const float *t,
                      const uint8_t *valid, float *dlogits) {
  const SegConfig *c = seg_net_config(n);
  size_t V = (size_t)mae_config_crop_voxels(&c->mae);
  seg_net_forward(n, x, B, logits, NULL);
  return seg_loss_bce_dice(dlogits, logits, t, valid, B, c->out_channels, V);
}

static void test_whole_net_gradient(void) {
  SegConfig cfg;
  tiny_config(&cfg, 2, 32, 12, 3, 2, 1);
  SegNet *n;
  MaeError err;
  if (seg_net_create(&n, &cfg, 3, &err)) {
    TAP_OK(0, "create: %s", err.message);
    return;
  }
  int B = 2;
  size_t V = 2 * 32 * 32, OV = 3 * V;
  Rng rng;
  rng_seed(&rng, 5);
  float *x = malloc(sizeof(float) * B * V), *t = malloc(sizeof(float) * B * OV);
  float *lg = malloc(sizeof(float) * B * OV), *dl = malloc(sizeof(float) * B * OV);
  for (size_t i = 0; i < B * V; i++)
    x[i] = 2 * rng_uniform(&rng) - 1;
  for (size_t i = 0; i < B * OV; i++)
    t[i] = rng_uniform(&rng) < 0.3f;
  /* perturb norms and biases away from their init so every path matters */
  for (int i = 0; i < seg_net_n_tensors(n); i++) {
    SegTensor *T = seg_net_tensor(n, i);
    if (T->ndim == 1)
      for (size_t k = 0; k < T->numel; k++)
        T->data[k] += 0.2f * (2 * rng_uniform(&rng) - 1);
  }
  seg_net_zero_grad(n);
  loss_of(n, x, B, lg, t, NULL, dl);
  seg_net_backward(n, dl, 1, NULL);
  int checked = 0, bad = 0;
  double worst = 0;
  const char *worst_name = "";
  for (int i = 0; i < seg_net_n_tensors(n); i++) {
    SegTensor *T = seg_net_tensor(n, i);
    if (!T->trainable)
      continue;
    for (int r = 0; r < 3; r++) {
      size_t k = rng_below(&rng, T->numel);
      float x0 = T->data[k], h = 1e-2f * fmaxf(1.f, fabsf(x0));
      T->data[k] = x0 + h;
      double fp = loss_of(n, x, B, lg, t, NULL, NULL);
      T->data[k] = x0 - h;
      double fm = loss_of(n, x, B, lg, t, NULL, NULL);
      T->data[k] = x0;
      double num = (fp - fm) / (2.0 * h), ana = T->grad[k];
      double excess = fabs(num - ana) / (2e-4 + 5e-2 * fabs(num));
      checked++;
      if (excess > 1)
        bad++;
      if (excess > worst)
        worst = excess, worst_name = T->name;
    }
  }
  /* float finite differences through ReLU kinks: allow a rare outlier */
  TAP_OK(bad <= checked / 50,
         "whole seg net: %d of %d sampled gradients match central differences "
         "(worst %.3g of tolerance, %s)",
         checked - bad, checked, worst, worst_name);
  /* frozen encoder: decoder gradients identical, encoder gradients untouched */
  SegTensor *dec = seg_net_find_tensor(n, "seg.conv2.weight");
  SegTensor *enc = seg_net_find_tensor(n, "blocks.1.attn.qkv.weight");
  float *ref = malloc(sizeof(float) * dec->numel);
  memcpy(ref, dec->grad, sizeof(float) * dec->numel);
  seg_net_zero_grad(n);
  loss_of(n, x, B, lg, t, NULL, dl);
  seg_net_backward(n, dl, 0, NULL);
  double de = 0, ee = 0;
  for (size_t k = 0; k < dec->numel; k++)
    de = fmax(de, fabs(dec->grad[k] - ref[k]));
  for (size_t k = 0; k < enc->numel; k++)
    ee = fmax(ee, fabs(enc->grad[k]));
  TAP_OK(de < 1e-6 && ee == 0, "frozen encoder: same decoder gradient (%.2g), no encoder gradient",
         de);
  TAP_OK(seg_net_find_tensor(n, "pos_embed") && seg_net_find_tensor(n, "blocks.3.mlp.fc2.bias") &&
             seg_net_find_tensor(n, "seg.head.weight") && !seg_net_find_tensor(n, "mask_token"),
         "tensor table: MAE encoder names plus seg.*, no MAE decoder");
  free(ref), free(x), free(t), free(lg), free(dl);
  seg_net_free(n);
}

static void test_targets(void) {
  /* 2 x 2 x 3: labels
   *   z0: 1 1 0 / 2 2 2      z1: 1 3 0 / 2 2 0 */
  const uint32_t lab[12] = {1, 1, 0, 2, 2, 2, 1, 3, 0, 2, 2, 0};
  float t[36];
  uint8_t v[36];
  seg_task_targets(SEG_TASK_NEURONS, t, v, lab, 2, 2, 3);
  /* z affinity (channel 0): z0 invalid; z1 vs z0: 1=1 yes, 3!=1, 0, 2=2, 2=2, 0 */
  const float az[6] = {1, 0, 0, 1, 1, 0};
  /* y affinity (1): row 0 invalid; row 1 vs row 0: z0: 2/1 no, 2/1 no, 2/0 no; z1: 2/1, 2/3, 0/0 */
  /* x affinity (2): col 0 invalid; z0 row0: 1=1 yes, 0 no; row1: 2=2, 2=2; z1 row0: 3/1 no, 0;
   * row1: 2=2, 0 */
  int ok = 1;
  for (int i = 0; i < 6; i++)
    ok &= !v[i] && v[6 + i] && t[6 + i] == az[i];
  for (int i = 0; i < 12; i++) {
    int y = (i / 3) % 2, x = i % 3;
    ok &= v[12 + i] == (y > 0) && v[24 + i] == (x > 0);
    ok &= t[12 + i] == 0.f;
  }
  const float ax[12] = {0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0};
  for (int i = 0; i < 12; i++)
    ok &= t[24 + i] == ax[i];
  TAP_OK(ok, "neurons: affinities by hand (boundary 0 has affinity 0, first planes invalid)");

  seg_task_targets(SEG_TASK_MITO, t, v, lab, 2, 2, 3);
  /* contour: foreground voxels with a different in-slice 4-neighbour */
  const float fg[12] = {1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0};
  const float ct[12] = {1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0};
  ok = 1;
  for (int i = 0; i < 12; i++)
    ok &= t[i] == fg[i] && t[12 + i] == ct[i] && v[i] && v[12 + i];
  /* a 3x3 blob has one interior voxel */
  uint32_t blob[25] = {0};
  for (int y = 1; y < 4; y++)
    for (int x = 1; x < 4; x++)
      blob[y * 5 + x] = 7;
  float t2[50];
  uint8_t v2[50];
  seg_task_targets(SEG_TASK_MITO, t2, v2, blob, 1, 5, 5);
  ok &= t2[25 + 12] == 0 && t2[25 + 6] == 1 && t2[25 + 0] == 0 && t2[12] == 1;
  TAP_OK(ok, "mito: foreground and 1-voxel in-slice contour by hand");
  seg_task_targets(SEG_TASK_MEMBRANE, t, v, lab, 2, 2, 3);
  TAP_OK(t[2] == 1 && t[0] == 0 && t[11] == 1 && t[10] == 0, "membrane: label 0 is the target");
}

static void test_loss_gradient(void) {
  Rng rng;
  rng_seed(&rng, 9);
  enum { B = 2, OUT = 2, V = 50 };
  float lg[B * OUT * V], t[B * OUT * V], d[B * OUT * V];
  uint8_t val[B * OUT * V];
  for (int i = 0; i < B * OUT * V; i++) {
    lg[i] = 4 * rng_uniform(&rng) - 2;
    t[i] = rng_uniform(&rng) < 0.2f;
    val[i] = rng_uniform(&rng) < 0.9f;
  }
  seg_loss_bce_dice(d, lg, t, val, B, OUT, V);
  double worst = 0;
  for (int i = 0; i < B * OUT * V; i++) {
    float x0 = lg[i], h = 1e-2f;
    lg[i] = x0 + h;
    double fp = seg_loss_bce_dice(NULL, lg, t, val, B, OUT, V);
    lg[i] = x0 - h;
    double fm = seg_loss_bce_dice(NULL, lg, t, val, B, OUT, V);
    lg[i] = x0;
    worst = fmax(worst, fabs((fp - fm) / (2 * h) - d[i]) / (1e-5 + 1e-2 * fabs(d[i])));
  }
  TAP_OK(worst <= 1, "balanced BCE + 0.5 Dice: gradient matches differences (worst %.3g)", worst);
}

static void test_overfit(void) {
  SmPhantomParams pp;
  sm_phantom_default_params(&pp);
  pp.nz = 4, pp.ny = 32, pp.nx = 32, pp.cell_diameter = 12, pp.membrane_width = 2;
  SmVolume img, lab;
  SmError se;
  if (sm_phantom_generate(&pp, &img, &lab, NULL, &se)) {
    TAP_OK(0, "phantom: %s", se.message);
    return;
  }
  SegConfig cfg;
  tiny_config(&cfg, 4, 32, 32, 1, 4, 2);
  SegNet *n;
  SegOptim *opt;
  SegOptimOptions oo;
  seg_optim_options_default(&oo);
  oo.lr = 3e-3;
  MaeError err;
  seg_net_create(&n, &cfg, 1, &err);
  seg_optim_create(&opt, n, &oo, &err);
  size_t V = 4 * 32 * 32;
  float *x = malloc(sizeof(float) * V), *t = malloc(sizeof(float) * V);
  float *lg = malloc(sizeof(float) * V), *dl = malloc(sizeof(float) * V);
  uint8_t *val = malloc(V);
  for (size_t i = 0; i < V; i++)
    x[i] = ((const uint8_t *)img.data)[i] / 127.5f - 1;
  seg_task_targets(SEG_TASK_MEMBRANE, t, val, lab.data, 4, 32, 32);
  double first = 0, last = 0;
  for (int s = 0; s < 80; s++) {
    seg_net_zero_grad(n);
    double l = loss_of(n, x, 1, lg, t, val, dl);
    seg_net_backward(n, dl, 1, NULL);
    seg_optim_step(opt, NULL, NULL);
    if (s == 0)
      first = l;
    last = l;
  }
  TAP_OK(last < 0.4 * first, "tiny seg net overfits one phantom volume: loss %.4f -> %.4f", first,
         last);
  free(x), free(t), free(lg), free(dl), free(val);
  seg_optim_free(opt);
  seg_net_free(n);
  sm_volume_free(&img), sm_volume_free(&lab);
}

/* A net whose head outputs a constant gives exactly that constant after the
 * Gaussian blending, on a volume that is not a multiple of the window (and
 * smaller than one window along x), with and without flips. */
static void test_blending(void) {
  SegConfig cfg;
  tiny_config(&cfg, 2, 32, 12, 3, 2, 1);
  SegNet *n;
  MaeError err;
  seg_net_create(&n, &cfg, 3, &err);
  SegTensor *w = seg_net_find_tensor(n, "seg.head.weight"),
            *b = seg_net_find_tensor(n, "seg.head.bias");
  memset(w->data, 0, sizeof(float) * w->numel);
  const float bias[3] = {0.7f, -1.2f, 2.0f};
  memcpy(b->data, bias, sizeof bias);
  const int64_t dims[3] = {5, 45, 29};
  size_t NV = 5 * 45 * 29;
  float *vol = malloc(sizeof(float) * NV), *probs = malloc(sizeof(float) * 3 * NV);
  Rng rng;
  rng_seed(&rng, 4);
  for (size_t i = 0; i < NV; i++)
    vol[i] = 2 * rng_uniform(&rng) - 1;
  for (int tta = 0; tta <= 1; tta++) {
    int rc = seg_infer_volume(n, SEG_TASK_NEURONS, probs, vol, dims, 0.5, tta, NULL, NULL, &err);
    double worst = 0;
    for (int c = 0; c < 3; c++) {
      double want = 1 / (1 + exp(-(double)bias[c]));
      for (size_t i = 0; i < NV; i++)
        worst = fmax(worst, fabs(probs[c * NV + i] - want));
    }
    TAP_OK(rc == 0 && worst < 1e-6,
           "blending a constant output gives the constant (tta %d, worst %.2g)", tta, worst);
  }
  free(vol), free(probs);
  seg_net_free(n);
}

/* Augmentation moves image and labels together: with an image that is a
 * function of the labels, every augmented crop still is. */
static void test_augment_identical(void) {
  const int64_t dims[3] = {8, 40, 40};
  size_t NV = 8 * 40 * 40;
  float *vol = malloc(sizeof(float) * NV), img[4 * 16 * 16];
  uint32_t *lab = malloc(sizeof(uint32_t) * NV), cl[4 * 16 * 16];
  for (size_t i = 0; i < NV; i++)
    lab[i] = (uint32_t)(i * 2654435761u % 1000), vol[i] = lab[i] / 1000.f;
  SegAugment a;
  seg_augment_default(&a);
  a.jitter = 0, a.p_missing = 0, a.p_misalign = 1;
  Rng rng;
  rng_seed(&rng, 11);
  int ok = 1;
  for (int r = 0; r < 50; r++) {
    seg_sample_crop(img, cl, vol, lab, dims, 4, 16, 16, &a, &rng);
    for (int i = 0; i < 4 * 16 * 16; i++)
      ok &= img[i] == cl[i] / 1000.f;
  }
  TAP_OK(ok, "augmentation (flips, rotations, misalignment) identical for image and labels");
  free(vol), free(lab);
}

int main(void) {
  mae_set_threads(1); /* small layers: threads would only contend */
  test_targets();
  test_loss_gradient();
  test_whole_net_gradient();
  test_blending();
  test_augment_identical();
  test_overfit();
  return tap_done();
}
