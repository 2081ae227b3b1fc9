/* Tokens: patchify / unpatchify, random masks, norm-pix statistics, and the
 * fixed 3D sin-cos positional table. */
#include <math.h>
#include <string.h>

#include "mae_internal.h"

/* Copies between a crop and its patches; to_patches selects the direction. */
static void patch_copy(const MaeConfig *c, float *crop, float *patches, int to_patches) {
  const int D = c->input[0], H = c->input[1], W = c->input[2];
  const int pd = c->patch[0], ph = c->patch[1], pw = c->patch[2];
  const int Gh = H / ph, Gw = W / pw, P = pd * ph * pw;
  (void)D;
  for (int gd = 0; gd < D / pd; gd++)
    for (int gh = 0; gh < Gh; gh++)
      for (int gw = 0; gw < Gw; gw++) {
        float *tok = patches + ((size_t)(gd * Gh + gh) * Gw + gw) * P;
        for (int z = 0; z < pd; z++)
          for (int y = 0; y < ph; y++) {
            float *row = crop + ((size_t)(gd * pd + z) * H + gh * ph + y) * W + (size_t)gw * pw;
            float *t = tok + (z * ph + y) * pw;
            if (to_patches)
              memcpy(t, row, sizeof(float) * pw);
            else
              memcpy(row, t, sizeof(float) * pw);
          }
      }
}

void mae_patchify(const MaeConfig *c, const float *crop, float *patches) {
  patch_copy(c, (float *)crop, patches, 1);
}

void mae_unpatchify(const MaeConfig *c, const float *patches, float *crop) {
  patch_copy(c, crop, (float *)patches, 0);
}

void mae_mask_random(uint8_t *mask, int tokens, float mask_ratio, Rng *rng) {
  /* Selection sampling (Knuth's algorithm S): every set of `keep` visible
   * tokens is equally likely, with no scratch memory. */
  int keep = mae_keep_count(tokens, mask_ratio);
  int need = keep;
  for (int t = 0; t < tokens; t++) {
    int left = tokens - t;
    int take = (int)rng_below(rng, (uint64_t)left) < need;
    mask[t] = take ? 0 : 1;
    need -= take;
  }
}

void mae_mask_from_seed(uint8_t *mask, int tokens, float mask_ratio, uint64_t seed,
                        uint64_t index) {
  Rng base, r;
  rng_seed(&base, seed);
  rng_fork(&r, &base, index);
  mae_mask_random(mask, tokens, mask_ratio, &r);
}

void mae_patch_stats(const float *x, int P, float *mean, float *std) {
  double s = 0.0;
  for (int p = 0; p < P; p++) s += x[p];
  double mu = s / P, v = 0.0;
  for (int p = 0; p < P; p++) v += (x[p] - mu) * (x[p] - mu);
  double var = P > 1 ? v / (P - 1) : 0.0;
  *mean = (float)mu;
  *std = (float)sqrt(var + 1e-6);
}

void mae_denormalize(const float *pred, const float *patches, int n, int P, float *out) {
  for (int i = 0; i < n; i++) {
    float mu, sd;
    mae_patch_stats(patches + (size_t)i * P, P, &mu, &sd);
    for (int p = 0; p < P; p++) out[(size_t)i * P + p] = pred[(size_t)i * P + p] * sd + mu;
  }
}

double mae_sincos_freq(int i, int k, float max_freq, float temperature) {
  return (double)max_freq * pow((double)temperature, -(double)i / (k / 2));
}

/* k channels of one axis: sin(pos * w_i) for i < k/2, then cos. */
static void sincos_axis(float *out, int k, int pos, float max_freq, float temperature) {
  int half = k / 2;
  for (int i = 0; i < half; i++) {
    double omega = mae_sincos_freq(i, k, max_freq, temperature);
    out[i] = (float)sin(pos * omega);
    out[half + i] = (float)cos(pos * omega);
  }
}

void mae_sincos_axis_blocks(int width, int first[3], int channels[3]) {
  const int n = 2 * (width / 6);
  first[0] = 0, first[1] = n, first[2] = 2 * n;
  channels[0] = channels[1] = n;
  channels[2] = (width - 2 * n) & ~1;
}

void mae_sincos_table(float *table, const int grid[3], int width, float max_freq,
                      float temperature) {
  int first[3], channels[3];
  mae_sincos_axis_blocks(width, first, channels);
  memset(table, 0, sizeof(float) * (size_t)width); /* cls row */
  for (int d = 0; d < grid[0]; d++)
    for (int h = 0; h < grid[1]; h++)
      for (int w = 0; w < grid[2]; w++) {
        float *row = table + (size_t)(1 + (d * grid[1] + h) * grid[2] + w) * width;
        memset(row, 0, sizeof(float) * (size_t)width);
        const int pos[3] = {d, h, w};
        for (int a = 0; a < 3; a++)
          sincos_axis(row + first[a], channels[a], pos[a], max_freq, temperature);
      }
}
