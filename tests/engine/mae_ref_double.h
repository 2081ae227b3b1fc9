/* Double-precision reference of the MAE's layers and of the whole model's
 * forward pass, written independently of engine/ (plain formulas, libm), for
 * finite-difference gradient checks. Shapes as in engine/nn.h. */
#pragma once

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void dref_linear(double *out, const double *inp, const double *w, const double *b, int M,
                        int IC, int OC) {
  for (int m = 0; m < M; m++)
    for (int o = 0; o < OC; o++) {
      double s = b ? b[o] : 0.0;
      for (int i = 0; i < IC; i++) s += inp[(size_t)m * IC + i] * w[(size_t)o * IC + i];
      out[(size_t)m * OC + o] = s;
    }
}

static void dref_layernorm(double *out, const double *inp, const double *w, const double *b,
                           int M, int C, double eps) {
  for (int m = 0; m < M; m++) {
    const double *x = inp + (size_t)m * C;
    double mu = 0, v = 0;
    for (int c = 0; c < C; c++) mu += x[c];
    mu /= C;
    for (int c = 0; c < C; c++) v += (x[c] - mu) * (x[c] - mu);
    v /= C;
    for (int c = 0; c < C; c++) out[(size_t)m * C + c] = (x[c] - mu) / sqrt(v + eps) * w[c] + b[c];
  }
}

static void dref_gelu(double *out, const double *inp, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = 0.5 * inp[i] * (1.0 + erf(inp[i] / sqrt(2.0)));
}

static void dref_attention(double *out, const double *qkv, int B, int N, int C, int H) {
  int hd = C / H;
  double *s = malloc(sizeof(double) * N);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++)
      for (int i = 0; i < N; i++) {
        const double *q = qkv + ((size_t)b * N + i) * 3 * C + h * hd;
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < N; j++) {
          const double *k = qkv + ((size_t)b * N + j) * 3 * C + C + h * hd;
          double d = 0;
          for (int e = 0; e < hd; e++) d += q[e] * k[e];
          s[j] = d / sqrt((double)hd);
          if (s[j] > mx) mx = s[j];
        }
        for (int j = 0; j < N; j++) sum += (s[j] = exp(s[j] - mx));
        for (int e = 0; e < hd; e++) {
          double o = 0;
          for (int j = 0; j < N; j++) o += s[j] / sum * qkv[((size_t)b * N + j) * 3 * C + 2 * C + h * hd + e];
          out[((size_t)b * N + i) * C + h * hd + e] = o;
        }
      }
  free(s);
}

/* Masked norm-pix MSE over n tokens of P voxels. */
static double dref_normpix_mse(const double *pred, const double *patches, const unsigned char *mask,
                               int n, int P) {
  double total = 0;
  int nm = 0;
  for (int i = 0; i < n; i++) {
    if (!mask[i]) continue;
    const double *x = patches + (size_t)i * P;
    double mu = 0, v = 0;
    for (int p = 0; p < P; p++) mu += x[p];
    mu /= P;
    for (int p = 0; p < P; p++) v += (x[p] - mu) * (x[p] - mu);
    v /= (P - 1);
    for (int p = 0; p < P; p++) {
      double d = pred[(size_t)i * P + p] - (x[p] - mu) / sqrt(v + 1e-6);
      total += d * d;
    }
    nm++;
  }
  return nm ? total / ((double)nm * P) : 0.0;
}

#ifndef DREF_NO_BLOCK
/* One pre-norm transformer block, in place on x (B, N, W). */
typedef struct DRefBlock {
  const double *n1w, *n1b, *qkvw, *qkvb, *projw, *projb, *n2w, *n2b, *fc1w, *fc1b, *fc2w, *fc2b;
} DRefBlock;

static void dref_block(double *x, const DRefBlock *p, int B, int N, int W, int H, int HID,
                       double eps) {
  size_t M = (size_t)B * N;
  double *ln = malloc(sizeof(double) * M * W), *qkv = malloc(sizeof(double) * M * 3 * W);
  double *att = malloc(sizeof(double) * M * W), *y = malloc(sizeof(double) * M * W);
  double *hid = malloc(sizeof(double) * M * HID);
  dref_layernorm(ln, x, p->n1w, p->n1b, (int)M, W, eps);
  dref_linear(qkv, ln, p->qkvw, p->qkvb, (int)M, W, 3 * W);
  dref_attention(att, qkv, B, N, W, H);
  dref_linear(y, att, p->projw, p->projb, (int)M, W, W);
  for (size_t i = 0; i < M * W; i++) x[i] += y[i];
  dref_layernorm(ln, x, p->n2w, p->n2b, (int)M, W, eps);
  dref_linear(hid, ln, p->fc1w, p->fc1b, (int)M, W, HID);
  dref_gelu(hid, hid, M * HID);
  dref_linear(y, hid, p->fc2w, p->fc2b, (int)M, HID, W);
  for (size_t i = 0; i < M * W; i++) x[i] += y[i];
  free(ln), free(qkv), free(att), free(y), free(hid);
}
#endif
