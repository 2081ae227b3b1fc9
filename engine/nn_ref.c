/* Naive references of the layer kernels: the formulas as plain loops, with
 * libm's erff/expf, accumulating in double where it is free to. Slow; used
 * by the parity and gradient-check tests only. */
#include <math.h>
#include <string.h>

#include "nn.h"

void nn_ref_linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                           int M, int IC, int OC) {
  for (int m = 0; m < M; m++)
    for (int o = 0; o < OC; o++) {
      double s = bias ? bias[o] : 0.0;
      for (int i = 0; i < IC; i++) s += (double)inp[(size_t)m * IC + i] * weight[(size_t)o * IC + i];
      out[(size_t)m * OC + o] = (float)s;
    }
}

void nn_ref_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, int M, int IC, int OC) {
  if (dinp)
    for (int m = 0; m < M; m++)
      for (int i = 0; i < IC; i++) {
        double s = 0.0;
        for (int o = 0; o < OC; o++) s += (double)dout[(size_t)m * OC + o] * weight[(size_t)o * IC + i];
        dinp[(size_t)m * IC + i] = (float)s;
      }
  for (int o = 0; o < OC; o++) {
    for (int i = 0; i < IC; i++) {
      double s = 0.0;
      for (int m = 0; m < M; m++) s += (double)dout[(size_t)m * OC + o] * inp[(size_t)m * IC + i];
      dweight[(size_t)o * IC + i] += (float)s;
    }
    if (dbias) {
      double s = 0.0;
      for (int m = 0; m < M; m++) s += dout[(size_t)m * OC + o];
      dbias[o] += (float)s;
    }
  }
}

void nn_ref_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                              const float *weight, const float *bias, int M, int C, float eps) {
  for (int m = 0; m < M; m++) {
    const float *x = inp + (size_t)m * C;
    double s = 0.0, v = 0.0;
    for (int c = 0; c < C; c++) s += x[c];
    double mu = s / C;
    for (int c = 0; c < C; c++) v += (x[c] - mu) * (x[c] - mu);
    double r = 1.0 / sqrt(v / C + eps);
    for (int c = 0; c < C; c++) out[(size_t)m * C + c] = (float)((x[c] - mu) * r * weight[c] + bias[c]);
    mean[m] = (float)mu;
    rstd[m] = (float)r;
  }
}

void nn_ref_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, const float *mean,
                               const float *rstd, int M, int C) {
  for (int m = 0; m < M; m++) {
    const float *x = inp + (size_t)m * C, *dy = dout + (size_t)m * C;
    double mu = mean[m], r = rstd[m], sum_g = 0.0, sum_gx = 0.0;
    for (int c = 0; c < C; c++) {
      double g = (double)dy[c] * weight[c];
      sum_g += g;
      sum_gx += g * (x[c] - mu) * r;
    }
    sum_g /= C;
    sum_gx /= C;
    for (int c = 0; c < C; c++) {
      double xh = (x[c] - mu) * r;
      dinp[(size_t)m * C + c] += (float)(((double)dy[c] * weight[c] - sum_g - xh * sum_gx) * r);
      dweight[c] += (float)(dy[c] * xh);
      dbias[c] += dy[c];
    }
  }
}

void nn_ref_gelu_forward(float *out, const float *inp, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double x = inp[i];
    out[i] = (float)(0.5 * x * (1.0 + erf(x / sqrt(2.0))));
  }
}

void nn_ref_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double x = inp[i];
    double cdf = 0.5 * (1.0 + erf(x / sqrt(2.0)));
    double pdf = exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
    dinp[i] = (float)(dout[i] * (cdf + x * pdf));
  }
}

void nn_ref_attention_forward(float *out, float *probs, const float *qkv, int B, int N, int C,
                              int H) {
  int hd = C / H;
  double scale = 1.0 / sqrt((double)hd);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++) {
      float *p = probs + ((size_t)b * H + h) * N * N;
      for (int i = 0; i < N; i++) {
        const float *q = qkv + ((size_t)b * N + i) * 3 * C + h * hd;
        double mx = -INFINITY;
        for (int j = 0; j < N; j++) {
          const float *k = qkv + ((size_t)b * N + j) * 3 * C + C + h * hd;
          double s = 0.0;
          for (int d = 0; d < hd; d++) s += (double)q[d] * k[d];
          p[(size_t)i * N + j] = (float)(s * scale);
          if (s * scale > mx) mx = s * scale;
        }
        double sum = 0.0;
        for (int j = 0; j < N; j++) sum += exp(p[(size_t)i * N + j] - mx);
        for (int j = 0; j < N; j++) p[(size_t)i * N + j] = (float)(exp(p[(size_t)i * N + j] - mx) / sum);
        for (int d = 0; d < hd; d++) {
          double s = 0.0;
          for (int j = 0; j < N; j++)
            s += (double)p[(size_t)i * N + j] * qkv[((size_t)b * N + j) * 3 * C + 2 * C + h * hd + d];
          out[((size_t)b * N + i) * C + h * hd + d] = (float)s;
        }
      }
    }
}

void nn_ref_attention_backward(float *dqkv, float *dprobs, const float *dout, const float *qkv,
                               const float *probs, int B, int N, int C, int H) {
  int hd = C / H;
  double scale = 1.0 / sqrt((double)hd);
  memset(dqkv, 0, sizeof(float) * (size_t)B * N * 3 * C);
#define QKV(b, n, part, d) qkv[((size_t)(b) * N + (n)) * 3 * C + (part) * C + h * hd + (d)]
#define DQKV(b, n, part, d) dqkv[((size_t)(b) * N + (n)) * 3 * C + (part) * C + h * hd + (d)]
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++) {
      const float *p = probs + ((size_t)b * H + h) * N * N;
      float *dp = dprobs + ((size_t)b * H + h) * N * N;
      for (int i = 0; i < N; i++) {
        const float *dO = dout + ((size_t)b * N + i) * C + h * hd;
        for (int j = 0; j < N; j++) {
          double s = 0.0;
          for (int d = 0; d < hd; d++) {
            s += (double)dO[d] * QKV(b, j, 2, d);
            DQKV(b, j, 2, d) += p[(size_t)i * N + j] * dO[d];
          }
          dp[(size_t)i * N + j] = (float)s;
        }
        double dot = 0.0;
        for (int j = 0; j < N; j++) dot += (double)dp[(size_t)i * N + j] * p[(size_t)i * N + j];
        for (int j = 0; j < N; j++) {
          double ds = p[(size_t)i * N + j] * (dp[(size_t)i * N + j] - dot) * scale;
          for (int d = 0; d < hd; d++) {
            DQKV(b, i, 0, d) += (float)(ds * QKV(b, j, 1, d));
            DQKV(b, j, 1, d) += (float)(ds * QKV(b, i, 0, d));
          }
        }
      }
    }
#undef QKV
#undef DQKV
}
