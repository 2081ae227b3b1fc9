/* Fast layer kernels: OpenBLAS for the GEMMs, OpenMP and AVX-512 for the
 * element-wise work. Every loop that is split across threads writes disjoint
 * outputs and sums in a fixed order, so results depend only on the thread
 * count (and in practice not even on it). References: nn_ref.c. */
#include "nn.h"

#include "gemm.h"
#include <math.h>
#include <string.h>

#include "vmath.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

void nn_flush_denormals(void) {
#if defined(__SSE__)
  _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ (bit 15) | DAZ (bit 6) */
#endif
}

/* Row-parallel loops are worth a thread only above this much work. */
#define NN_PAR_MIN 32768

void nn_linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                       int M, int IC, int OC) {
  float beta = 0.f;
  if (bias) {
#pragma omp parallel for schedule(static) if ((size_t)M * OC > NN_PAR_MIN)
    for (int m = 0; m < M; m++) memcpy(out + (size_t)m * OC, bias, sizeof(float) * OC);
    beta = 1.f;
  }
  nn_sgemm(CblasNoTrans, CblasTrans, M, OC, IC, 1.f, inp, IC, weight, IC, beta,
              out, OC);
}

void nn_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                        const float *inp, const float *weight, int M, int IC, int OC) {
  if (dinp)
    nn_sgemm(CblasNoTrans, CblasNoTrans, M, IC, OC, 1.f, dout, OC, weight, IC,
                0.f, dinp, IC);
  nn_sgemm(CblasTrans, CblasNoTrans, OC, IC, M, 1.f, dout, OC, inp, IC, 1.f,
              dweight, IC);
  if (dbias) {
    /* Column sums, split over columns: each thread owns a slice of dbias. */
#pragma omp parallel for schedule(static) if ((size_t)M * OC > NN_PAR_MIN)
    for (int o0 = 0; o0 < OC; o0 += 64) {
      int o1 = o0 + 64 < OC ? o0 + 64 : OC;
      for (int m = 0; m < M; m++) {
        const float *row = dout + (size_t)m * OC;
        for (int o = o0; o < o1; o++) dbias[o] += row[o];
      }
    }
  }
}

void nn_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *weight, const float *bias, int M, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)M * C > NN_PAR_MIN)
  for (int m = 0; m < M; m++) {
    const float *x = inp + (size_t)m * C;
    float *y = out + (size_t)m * C;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int c = 0; c < C; c++) s += x[c];
    float mu = s / C;
    float v = 0.f;
#pragma omp simd reduction(+ : v)
    for (int c = 0; c < C; c++) {
      float d = x[c] - mu;
      v += d * d;
    }
    float r = 1.f / sqrtf(v / C + eps);
#pragma omp simd
    for (int c = 0; c < C; c++) y[c] = (x[c] - mu) * r * weight[c] + bias[c];
    mean[m] = mu;
    rstd[m] = r;
  }
}

void nn_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, const float *mean,
                           const float *rstd, int M, int C) {
#pragma omp parallel for schedule(static) if ((size_t)M * C > NN_PAR_MIN)
  for (int m = 0; m < M; m++) {
    const float *x = inp + (size_t)m * C, *dy = dout + (size_t)m * C;
    float *dx = dinp + (size_t)m * C;
    float mu = mean[m], r = rstd[m];
    float sum_g = 0.f, sum_gx = 0.f;
#pragma omp simd reduction(+ : sum_g, sum_gx)
    for (int c = 0; c < C; c++) {
      float g = dy[c] * weight[c];
      sum_g += g;
      sum_gx += g * (x[c] - mu) * r;
    }
    sum_g /= C;
    sum_gx /= C;
#pragma omp simd
    for (int c = 0; c < C; c++) {
      float xh = (x[c] - mu) * r;
      dx[c] += (dy[c] * weight[c] - sum_g - xh * sum_gx) * r;
    }
  }
  /* Parameter gradients: reduce over rows, split over channels. */
#pragma omp parallel for schedule(static) if ((size_t)M * C > NN_PAR_MIN)
  for (int c0 = 0; c0 < C; c0 += 64) {
    int c1 = c0 + 64 < C ? c0 + 64 : C;
    for (int m = 0; m < M; m++) {
      const float *x = inp + (size_t)m * C, *dy = dout + (size_t)m * C;
      float mu = mean[m], r = rstd[m];
      for (int c = c0; c < c1; c++) {
        dweight[c] += dy[c] * (x[c] - mu) * r;
        dbias[c] += dy[c];
      }
    }
  }
}

void nn_gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n > NN_PAR_MIN)
  for (size_t i0 = 0; i0 < n; i0 += 1024) {
    size_t i1 = i0 + 1024 < n ? i0 + 1024 : n;
    size_t i = i0;
#ifdef VMATH_AVX512
    for (; i + 16 <= i1; i += 16) {
      __m512 x = _mm512_loadu_ps(inp + i);
      _mm512_storeu_ps(out + i, _mm512_mul_ps(x, vm_phi16(x, NULL)));
    }
#endif
    for (; i < i1; i++) out[i] = inp[i] * vm_phi(inp[i], NULL);
  }
}

void nn_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n > NN_PAR_MIN)
  for (size_t i0 = 0; i0 < n; i0 += 1024) {
    size_t i1 = i0 + 1024 < n ? i0 + 1024 : n;
    size_t i = i0;
#ifdef VMATH_AVX512
    for (; i + 16 <= i1; i += 16) {
      __m512 x = _mm512_loadu_ps(inp + i), pdf;
      __m512 cdf = vm_phi16(x, &pdf);
      __m512 d = _mm512_fmadd_ps(x, pdf, cdf);
      _mm512_storeu_ps(dinp + i, _mm512_mul_ps(_mm512_loadu_ps(dout + i), d));
    }
#endif
    for (; i < i1; i++) {
      float pdf, cdf = vm_phi(inp[i], &pdf);
      dinp[i] = dout[i] * (cdf + inp[i] * pdf);
    }
  }
}

void nn_residual_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for schedule(static) if (n > NN_PAR_MIN)
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void nn_normpix_target(float *target, const float *patches, int n, int P) {
#pragma omp parallel for schedule(static) if ((size_t)n * P > NN_PAR_MIN)
  for (int i = 0; i < n; i++) {
    const float *x = patches + (size_t)i * P;
    float *t = target + (size_t)i * P;
    double s = 0.0;
    for (int p = 0; p < P; p++) s += x[p];
    double mu = s / P, v = 0.0;
    for (int p = 0; p < P; p++) v += (x[p] - mu) * (x[p] - mu);
    double var = P > 1 ? v / (P - 1) : 0.0;
    float inv = (float)(1.0 / sqrt(var + 1e-6));
    float fmu = (float)mu;
    for (int p = 0; p < P; p++) t[p] = (x[p] - fmu) * inv;
  }
}

double nn_masked_mse_forward_backward(float *dpred, const float *pred, const float *target,
                                      const unsigned char *mask, int n, int P) {
  int n_masked = 0;
  for (int i = 0; i < n; i++) n_masked += mask[i] != 0;
  double total = 0.0;
  float g = n_masked ? 2.f / ((float)P * (float)n_masked) : 0.f;
  for (int i = 0; i < n; i++) {
    const float *y = pred + (size_t)i * P, *t = target + (size_t)i * P;
    float *dy = dpred ? dpred + (size_t)i * P : NULL;
    if (!mask[i]) {
      if (dy) memset(dy, 0, sizeof(float) * P);
      continue;
    }
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int p = 0; p < P; p++) {
      float d = y[p] - t[p];
      s += d * d;
      if (dy) dy[p] = g * d;
    }
    total += s;
  }
  return n_masked ? total / ((double)P * n_masked) : 0.0;
}
