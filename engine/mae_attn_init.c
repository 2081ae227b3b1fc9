/* Local attention initialisation (mae_attn_init.h). */
#include "mae_attn_init.h"

#include <math.h>
#include <stdlib.h>

#include "mae_internal.h"

/* A (d, W) block of N(0, 1/W) draws, row r = column r of G_h. */
static void draw_rows(float *g, int rows, int W, Rng *rng) {
  const float s = 1.f / sqrtf((float)W);
  for (size_t i = 0; i < (size_t)rows * W; i++) g[i] = s * rng_normal(rng);
}

void mae_attn_init_similar(float *qkv_w, int W, float scale, Rng *rng) {
  /* every row is its own draw, so each head's block is independent of the others */
  float *q = qkv_w, *k = qkv_w + (size_t)W * W;
  draw_rows(q, W, W, rng);
  for (size_t i = 0; i < (size_t)W * W; i++) {
    q[i] *= scale;
    k[i] = q[i];
  }
}

void mae_attn_offset_of_head(int k, const int grid[3], int delta[3]) {
  int axes[3], n_axes = 0;
  for (int a = 2; a >= 0; a--)
    if (grid[a] > 1) axes[n_axes++] = a;
  int n_offsets = 2 * n_axes + 1;
  int o = k % n_offsets;
  delta[0] = delta[1] = delta[2] = 0;
  if (o < 2 * n_axes) delta[axes[o / 2]] = o % 2 ? 1 : -1;
}

void mae_attn_init_offset(float *qkv_w, int W, int heads, int first_head, const int grid[3],
                          float max_freq, float temperature, float scale, Rng *rng) {
  const int d = W / heads;
  int base[3], len[3];
  mae_sincos_axis_blocks(W, base, len);
  float *q = qkv_w, *k = qkv_w + (size_t)W * W;
  draw_rows(k, W, W, rng);
  for (int h = 0; h < heads; h++) {
    int delta[3];
    mae_attn_offset_of_head(first_head + h, grid, delta);
    for (int r = h * d; r < (h + 1) * d; r++) {
      float *kr = k + (size_t)r * W, *qr = q + (size_t)r * W;
      for (int c = 0; c < W; c++) {
        kr[c] *= scale;
        qr[c] = kr[c];
      }
      /* q . x = g . (R x): row r of W_q is R^T g */
      for (int a = 0; a < 3; a++) {
        if (!delta[a]) continue;
        const int half = len[a] / 2;
        for (int i = 0; i < half; i++) {
          const double turn = mae_sincos_freq(i, len[a], max_freq, temperature) * delta[a];
          const int u = base[a] + i, v = base[a] + half + i; /* sin, cos channels */
          const double gu = kr[u], gv = kr[v], c = cos(turn), s = sin(turn);
          qr[u] = (float)(gu * c - gv * s);
          qr[v] = (float)(gu * s + gv * c);
        }
      }
    }
  }
}
