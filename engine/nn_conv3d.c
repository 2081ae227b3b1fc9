#include "nn_conv3d.h"

#include <string.h>

#include "gemm.h"

size_t nn_conv3d_col_floats(int IC, int H, int W, int k) { return (size_t)IC * k * k * k * H * W; }

/* col (IC*k^3, H*W) = the receptive fields of output plane z. */
static void im2col_plane(float *col, const float *inp, int IC, int D, int H, int W, int k, int z) {
  int p = k / 2;
  size_t HW = (size_t)H * W;
  for (int ic = 0; ic < IC; ic++)
    for (int kd = 0; kd < k; kd++) {
      int zz = z + kd - p;
      for (int kh = 0; kh < k; kh++)
        for (int kw = 0; kw < k; kw++) {
          float *row = col + ((((size_t)ic * k + kd) * k + kh) * k + kw) * HW;
          if (zz < 0 || zz >= D) {
            memset(row, 0, sizeof(float) * HW);
            continue;
          }
          const float *plane = inp + ((size_t)ic * D + zz) * HW;
          for (int h = 0; h < H; h++) {
            int hh = h + kh - p;
            float *r = row + (size_t)h * W;
            if (hh < 0 || hh >= H) {
              memset(r, 0, sizeof(float) * W);
              continue;
            }
            const float *src = plane + (size_t)hh * W;
            int w0 = p - kw > 0 ? p - kw : 0;         /* first w whose source is inside */
            int w1 = W + p - kw < W ? W + p - kw : W; /* one past the last */
            for (int w = 0; w < w0; w++)
              r[w] = 0.f;
            if (w1 > w0)
              memcpy(r + w0, src + w0 + kw - p, sizeof(float) * (size_t)(w1 - w0));
            for (int w = w1 > w0 ? w1 : w0; w < W; w++)
              r[w] = 0.f;
          }
        }
    }
}

/* dinp += the receptive fields of plane z folded back (adjoint of im2col). */
static void col2im_plane(float *dinp, const float *col, int IC, int D, int H, int W, int k, int z) {
  int p = k / 2;
  size_t HW = (size_t)H * W;
  for (int ic = 0; ic < IC; ic++)
    for (int kd = 0; kd < k; kd++) {
      int zz = z + kd - p;
      if (zz < 0 || zz >= D)
        continue;
      float *plane = dinp + ((size_t)ic * D + zz) * HW;
      for (int kh = 0; kh < k; kh++)
        for (int kw = 0; kw < k; kw++) {
          const float *row = col + ((((size_t)ic * k + kd) * k + kh) * k + kw) * HW;
          for (int h = 0; h < H; h++) {
            int hh = h + kh - p;
            if (hh < 0 || hh >= H)
              continue;
            const float *r = row + (size_t)h * W;
            float *dst = plane + (size_t)hh * W;
            int w0 = p - kw > 0 ? p - kw : 0;
            int w1 = W + p - kw < W ? W + p - kw : W;
            for (int w = w0; w < w1; w++)
              dst[w + kw - p] += r[w];
          }
        }
    }
}

void nn_conv3d_forward(float *out, float *col, const float *inp, const float *weight,
                       const float *bias, int IC, int OC, int D, int H, int W, int k) {
  size_t HW = (size_t)H * W;
  int K = IC * k * k * k;
  for (int z = 0; z < D; z++) {
    const float *B = col;
    int ldb = (int)HW;
    if (k == 1) {
      B = inp + (size_t)z * HW; /* a 1x1x1 kernel reads the planes in place */
      ldb = (int)((size_t)D * HW);
    } else {
      im2col_plane(col, inp, IC, D, H, W, k, z);
    }
    /* out[:, z] (OC, HW), rows D*HW apart */
    float *o = out + (size_t)z * HW;
    int ldo = (int)((size_t)D * HW);
    for (int oc = 0; oc < OC; oc++) {
      float b = bias ? bias[oc] : 0.f;
      float *r = o + (size_t)oc * D * HW;
      for (size_t i = 0; i < HW; i++)
        r[i] = b;
    }
    nn_sgemm(CblasNoTrans, CblasNoTrans, OC, (int)HW, K, 1.f, weight, K, B, ldb, 1.f, o, ldo);
  }
}

void nn_conv3d_backward(float *dinp, float *dweight, float *dbias, float *col, const float *dout,
                        const float *inp, const float *weight, int IC, int OC, int D, int H, int W,
                        int k) {
  size_t HW = (size_t)H * W, DHW = (size_t)D * HW;
  int K = IC * k * k * k;
  if (dbias)
    for (int oc = 0; oc < OC; oc++) {
      const float *r = dout + (size_t)oc * DHW;
      double s = 0;
      for (size_t i = 0; i < DHW; i++)
        s += r[i];
      dbias[oc] += (float)s;
    }
  if (dinp)
    memset(dinp, 0, sizeof(float) * IC * DHW);
  for (int z = 0; z < D; z++) {
    const float *g = dout + (size_t)z * HW; /* (OC, HW), rows DHW apart */
    if (k == 1) {
      /* dW (OC, IC) += g (OC, HW) inp_z^T; dinp_z (IC, HW) = W^T g */
      nn_sgemm(CblasNoTrans, CblasTrans, OC, IC, (int)HW, 1.f, g, (int)DHW, inp + (size_t)z * HW,
               (int)DHW, 1.f, dweight, IC);
      if (dinp)
        nn_sgemm(CblasTrans, CblasNoTrans, IC, (int)HW, OC, 1.f, weight, IC, g, (int)DHW, 0.f,
                 dinp + (size_t)z * HW, (int)DHW);
      continue;
    }
    im2col_plane(col, inp, IC, D, H, W, k, z);
    nn_sgemm(CblasNoTrans, CblasTrans, OC, K, (int)HW, 1.f, g, (int)DHW, col, (int)HW, 1.f, dweight,
             K);
    if (dinp) {
      nn_sgemm(CblasTrans, CblasNoTrans, K, (int)HW, OC, 1.f, weight, K, g, (int)DHW, 0.f, col,
               (int)HW);
      col2im_plane(dinp, col, IC, D, H, W, k, z);
    }
  }
}
