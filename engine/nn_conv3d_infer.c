/* ISO C mode turns floating-point contraction off; the inner loop is a
 * multiply-add and should be one instruction where the target has FMA. The
 * register tile also needs its loops unrolled, which -O2 (debugoptimized
 * builds) does not do: 0.070 -> 0.046 CPU-s per cpu-small window there. */
#pragma GCC optimize("O3", "fp-contract=fast")
#include "nn_conv3d_infer.h"

#include <string.h>

/* 8 floats: one AVX register under -march=native, two SSE ones otherwise. */
typedef float v8 __attribute__((vector_size(32), aligned(4)));

enum { OB = 8, TW = 16 }; /* output channels and output columns per register tile */

static int round_up(int n, int m) { return (n + m - 1) / m * m; }

/* The scratch: the input with a zero border, rows padded to a whole number
 * of tiles + 2 (read by the last tile's shifted loads), the weights packed
 * per block of OB output channels as (IC, 27, OB), one output row block. */
static size_t padded_floats(int IC, int D, int H, int W) {
  return (size_t)IC * (D + 2) * (H + 2) * (round_up(W, TW) + 2);
}

size_t nn_conv3d_infer_scratch_floats(int IC, int D, int H, int W) {
  return padded_floats(IC, D, H, W) + (size_t)OB * IC * 27 + (size_t)OB * round_up(W, TW);
}

static void pad_input(float *pad, const float *inp, int IC, int D, int H, int W, int Wp) {
  size_t plane = (size_t)(H + 2) * Wp;
  memset(pad, 0, sizeof(float) * IC * (D + 2) * plane);
  for (int ic = 0; ic < IC; ic++)
    for (int z = 0; z < D; z++)
      for (int y = 0; y < H; y++)
        memcpy(pad + ((size_t)ic * (D + 2) + z + 1) * plane + (size_t)(y + 1) * Wp + 1,
               inp + (((size_t)ic * D + z) * H + y) * W, sizeof(float) * W);
}

static inline v8 load8(const float *p) {
  v8 v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* rows (OB, Wr) of output row (z, h) for the OB channels of packed weights
 * wp (IC, 27, OB) */
static void row_block(float *rows, int Wr, const float *pad, const float *wp, int IC, int D, int H,
                      int Wp, int z, int h) {
  size_t plane = (size_t)(H + 2) * Wp, vol = (size_t)(D + 2) * plane;
  for (int t = 0; t < Wr; t += TW) {
    v8 acc[OB][2];
    for (int o = 0; o < OB; o++)
      acc[o][0] = acc[o][1] = (v8){0};
    for (int ic = 0; ic < IC; ic++) {
      const float *w = wp + (size_t)ic * 27 * OB;
      for (int kd = 0; kd < 3; kd++)
        for (int kh = 0; kh < 3; kh++) {
          const float *r = pad + ic * vol + (size_t)(z + kd) * plane + (size_t)(h + kh) * Wp + t;
          for (int kw = 0; kw < 3; kw++, w += OB) {
            v8 x0 = load8(r + kw), x1 = load8(r + kw + 8);
            for (int o = 0; o < OB; o++) {
              v8 wv = {w[o], w[o], w[o], w[o], w[o], w[o], w[o], w[o]};
              acc[o][0] += wv * x0;
              acc[o][1] += wv * x1;
            }
          }
        }
    }
    for (int o = 0; o < OB; o++) {
      memcpy(rows + (size_t)o * Wr + t, &acc[o][0], sizeof(v8));
      memcpy(rows + (size_t)o * Wr + t + 8, &acc[o][1], sizeof(v8));
    }
  }
}

/* one output channel, plain loops (channel counts not a multiple of OB) */
static void channel_plain(float *out, const float *pad, const float *w, float b, int IC, int D,
                          int H, int W, int Wp) {
  size_t plane = (size_t)(H + 2) * Wp, vol = (size_t)(D + 2) * plane;
  for (int z = 0; z < D; z++)
    for (int h = 0; h < H; h++) {
      float *o = out + ((size_t)z * H + h) * W;
      for (int x = 0; x < W; x++)
        o[x] = b;
      for (int ic = 0; ic < IC; ic++)
        for (int kd = 0; kd < 3; kd++)
          for (int kh = 0; kh < 3; kh++) {
            const float *r = pad + ic * vol + (size_t)(z + kd) * plane + (size_t)(h + kh) * Wp;
            for (int kw = 0; kw < 3; kw++) {
              float wv = w[((size_t)ic * 3 + kd) * 9 + kh * 3 + kw];
              for (int x = 0; x < W; x++)
                o[x] += wv * r[x + kw];
            }
          }
    }
}

void nn_conv3d_infer_forward(float *out, float *scratch, const float *inp, const float *weight,
                             const float *bias, int IC, int OC, int D, int H, int W) {
  int Wr = round_up(W, TW), Wp = Wr + 2;
  float *pad = scratch, *wp = pad + padded_floats(IC, D, H, W);
  float *rows = wp + (size_t)OB * IC * 27;
  pad_input(pad, inp, IC, D, H, W, Wp);
  size_t V = (size_t)D * H * W;
  int oc0 = 0;
  for (; oc0 + OB <= OC; oc0 += OB) {
    /* weights (OB, IC, 27) -> (IC, 27, OB) */
    for (int o = 0; o < OB; o++)
      for (size_t i = 0; i < (size_t)IC * 27; i++)
        wp[i * OB + o] = weight[(size_t)(oc0 + o) * IC * 27 + i];
    for (int z = 0; z < D; z++)
      for (int h = 0; h < H; h++) {
        row_block(rows, Wr, pad, wp, IC, D, H, Wp, z, h);
        for (int o = 0; o < OB; o++) {
          float b = bias ? bias[oc0 + o] : 0.f;
          float *dst = out + (size_t)(oc0 + o) * V + ((size_t)z * H + h) * W;
          const float *src = rows + (size_t)o * Wr;
          for (int x = 0; x < W; x++)
            dst[x] = src[x] + b;
        }
      }
  }
  for (; oc0 < OC; oc0++)
    channel_plain(out + (size_t)oc0 * V, pad, weight + (size_t)oc0 * IC * 27,
                  bias ? bias[oc0] : 0.f, IC, D, H, W, Wp);
}
