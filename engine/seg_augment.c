#include "seg_augment.h"

void seg_augment_default(SegAugment *a) {
  *a = (SegAugment){.enabled = 1, .p_misalign = 0.1, .p_missing = 0.05, .jitter = 0.1};
}

static int64_t clampi(int64_t v, int64_t hi) { return v < 0 ? 0 : v > hi ? hi : v; }

void seg_sample_crop(float *img, uint32_t *out_lab, const float *vol, const uint32_t *lab,
                     const int64_t dims[3], int D, int H, int W, const SegAugment *a, Rng *rng) {
  int64_t z0 = (int64_t)rng_below(rng, (uint64_t)(dims[0] - D + 1));
  int64_t y0 = (int64_t)rng_below(rng, (uint64_t)(dims[1] - H + 1));
  int64_t x0 = (int64_t)rng_below(rng, (uint64_t)(dims[2] - W + 1));
  int fz = 0, fy = 0, fx = 0, tr = 0, mis_from = D, dy = 0, dx = 0, missing = -1;
  float gain = 1, shift = 0;
  if (a && a->enabled) {
    fz = rng_uniform(rng) < 0.5f, fy = rng_uniform(rng) < 0.5f, fx = rng_uniform(rng) < 0.5f;
    tr = H == W && rng_uniform(rng) < 0.5f;
    if (D > 1 && rng_uniform(rng) < a->p_misalign) {
      mis_from = 1 + (int)rng_below(rng, (uint64_t)(D - 1));
      dy = (int)rng_below(rng, 9) - 4, dx = (int)rng_below(rng, 9) - 4;
    }
    gain = 1 + (float)a->jitter * (2 * rng_uniform(rng) - 1);
    shift = (float)a->jitter * (2 * rng_uniform(rng) - 1);
    if (rng_uniform(rng) < a->p_missing)
      missing = (int)rng_below(rng, (uint64_t)D);
  }
  for (int d = 0; d < D; d++)
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        /* source offsets inside the crop */
        int sd = fz ? D - 1 - d : d, sy = tr ? x : y, sx = tr ? y : x;
        if (fy)
          sy = H - 1 - sy;
        if (fx)
          sx = W - 1 - sx;
        int64_t zz = z0 + sd, yy = y0 + sy, xx = x0 + sx;
        if (sd >= mis_from)
          yy = clampi(yy + dy, dims[1] - 1), xx = clampi(xx + dx, dims[2] - 1);
        size_t src = (size_t)((zz * dims[1] + yy) * dims[2] + xx);
        size_t dst = ((size_t)d * H + y) * W + x;
        img[dst] = d == missing ? 0.f : gain * vol[src] + shift;
        out_lab[dst] = lab[src];
      }
}
