#include "nn_groupnorm.h"

#include <math.h>

void nn_groupnorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *weight, const float *bias, int C, size_t V, int G,
                          float eps) {
  int cg = C / G;
#pragma omp parallel for schedule(static) if (V * C > 65536)
  for (int g = 0; g < G; g++) {
    const float *x = inp + (size_t)g * cg * V;
    size_t n = (size_t)cg * V;
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
      s += x[i];
    double m = s / n;
    for (size_t i = 0; i < n; i++) {
      double d = x[i] - m;
      ss += d * d;
    }
    float r = (float)(1.0 / sqrt(ss / n + eps));
    mean[g] = (float)m;
    rstd[g] = r;
    for (int c = g * cg; c < (g + 1) * cg; c++) {
      float a = r * weight[c], b = bias[c] - (float)m * r * weight[c];
      const float *xc = inp + (size_t)c * V;
      float *o = out + (size_t)c * V;
      for (size_t i = 0; i < V; i++)
        o[i] = a * xc[i] + b;
    }
  }
}

void nn_groupnorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, const float *mean,
                           const float *rstd, int C, size_t V, int G) {
  int cg = C / G;
#pragma omp parallel for schedule(static) if (V * C > 65536)
  for (int g = 0; g < G; g++) {
    float m = mean[g], r = rstd[g];
    double sum_dxhat = 0, sum_dxhat_xhat = 0;
    size_t n = (size_t)cg * V;
    for (int c = g * cg; c < (g + 1) * cg; c++) {
      const float *x = inp + (size_t)c * V, *dy = dout + (size_t)c * V;
      double sdy = 0, sdyx = 0;
      for (size_t i = 0; i < V; i++) {
        float xh = (x[i] - m) * r;
        sdy += dy[i];
        sdyx += dy[i] * xh;
      }
      dweight[c] += (float)sdyx;
      dbias[c] += (float)sdy;
      sum_dxhat += sdy * weight[c];
      sum_dxhat_xhat += sdyx * weight[c];
    }
    float a = (float)(sum_dxhat / n), b = (float)(sum_dxhat_xhat / n);
    for (int c = g * cg; c < (g + 1) * cg; c++) {
      const float *x = inp + (size_t)c * V, *dy = dout + (size_t)c * V;
      float *dx = dinp + (size_t)c * V;
      float wr = weight[c] * r;
      for (size_t i = 0; i < V; i++) {
        float xh = (x[i] - m) * r;
        dx[i] = wr * dy[i] - r * (a + xh * b);
      }
    }
  }
}

void nn_relu_forward(float *out, const float *inp, size_t n) {
  for (size_t i = 0; i < n; i++)
    out[i] = inp[i] > 0.f ? inp[i] : 0.f;
}

void nn_relu_backward(float *dinp, const float *dout, const float *out, size_t n) {
  for (size_t i = 0; i < n; i++)
    dinp[i] = out[i] > 0.f ? dout[i] : 0.f;
}
