#include "nn_convtranspose.h"

#include "gemm.h"

size_t nn_convtranspose_tmp_floats(int OC, int D, int H, int W, int s) {
  return (size_t)OC * s * s * D * H * W;
}

/* tmp row (oc, i, j), column (d, h, w) <-> out[oc, d, h*s+i, w*s+j]. */
static void scatter(float *out, const float *tmp, const float *bias, int OC, int D, int H, int W,
                    int s) {
  size_t DHW = (size_t)D * H * W;
  int Ho = H * s, Wo = W * s;
  for (int oc = 0; oc < OC; oc++) {
    float b = bias ? bias[oc] : 0.f;
    for (int i = 0; i < s; i++)
      for (int j = 0; j < s; j++) {
        const float *t = tmp + (((size_t)oc * s + i) * s + j) * DHW;
        for (int d = 0; d < D; d++)
          for (int h = 0; h < H; h++) {
            float *o = out + (((size_t)oc * D + d) * Ho + (size_t)h * s + i) * Wo + j;
            const float *tr = t + ((size_t)d * H + h) * W;
            for (int w = 0; w < W; w++)
              o[(size_t)w * s] = tr[w] + b;
          }
      }
  }
}

static void gather(float *tmp, const float *dout, int OC, int D, int H, int W, int s) {
  size_t DHW = (size_t)D * H * W;
  int Ho = H * s, Wo = W * s;
  for (int oc = 0; oc < OC; oc++)
    for (int i = 0; i < s; i++)
      for (int j = 0; j < s; j++) {
        float *t = tmp + (((size_t)oc * s + i) * s + j) * DHW;
        for (int d = 0; d < D; d++)
          for (int h = 0; h < H; h++) {
            const float *g = dout + (((size_t)oc * D + d) * Ho + (size_t)h * s + i) * Wo + j;
            float *tr = t + ((size_t)d * H + h) * W;
            for (int w = 0; w < W; w++)
              tr[w] = g[(size_t)w * s];
          }
      }
}

void nn_convtranspose_forward(float *out, float *tmp, const float *inp, const float *weight,
                              const float *bias, int IC, int OC, int D, int H, int W, int s) {
  int N = D * H * W, R = OC * s * s;
  /* tmp (R, N) = W^T (R, IC) inp (IC, N), with W viewed as (IC, R) */
  nn_sgemm(CblasTrans, CblasNoTrans, R, N, IC, 1.f, weight, R, inp, N, 0.f, tmp, N);
  scatter(out, tmp, bias, OC, D, H, W, s);
}

void nn_convtranspose_backward(float *dinp, float *dweight, float *dbias, float *tmp,
                               const float *dout, const float *inp, const float *weight, int IC,
                               int OC, int D, int H, int W, int s) {
  int N = D * H * W, R = OC * s * s;
  if (dbias) {
    size_t per = (size_t)N * s * s;
    for (int oc = 0; oc < OC; oc++) {
      double sum = 0;
      for (size_t i = 0; i < per; i++)
        sum += dout[(size_t)oc * per + i];
      dbias[oc] += (float)sum;
    }
  }
  gather(tmp, dout, OC, D, H, W, s);
  /* dW (IC, R) += inp (IC, N) tmp^T (N, R) */
  nn_sgemm(CblasNoTrans, CblasTrans, IC, R, N, 1.f, inp, N, tmp, N, 1.f, dweight, R);
  /* dinp (IC, N) = W (IC, R) tmp (R, N) */
  if (dinp)
    nn_sgemm(CblasNoTrans, CblasNoTrans, IC, N, R, 1.f, weight, R, tmp, N, 0.f, dinp, N);
}
