/* Naive references of the segmentation decoder's layers: plain loops over
 * the definitions, no BLAS, no OpenMP. A template: define SEG_REAL (float or
 * double) and SEG_REF(name) (the function name for that type) before
 * including it; the tests instantiate it in float (parity with the fast
 * kernels) and in double (finite-difference gradient checks). Same argument
 * order and semantics as nn_conv3d.h, nn_convtranspose.h, nn_groupnorm.h. */
#include <math.h>
#include <stddef.h>

#ifndef SEG_REAL
#error "define SEG_REAL and SEG_REF before including seg_ref_template.h"
#endif

__attribute__((unused)) static void SEG_REF(conv3d_forward)(SEG_REAL *out, const SEG_REAL *inp,
                                                            const SEG_REAL *weight,
                                                            const SEG_REAL *bias, int IC, int OC,
                                                            int D, int H, int W, int k) {
  int p = k / 2;
  for (int oc = 0; oc < OC; oc++)
    for (int z = 0; z < D; z++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
          SEG_REAL s = bias ? bias[oc] : 0;
          for (int ic = 0; ic < IC; ic++)
            for (int a = 0; a < k; a++)
              for (int b = 0; b < k; b++)
                for (int c = 0; c < k; c++) {
                  int zz = z + a - p, yy = y + b - p, xx = x + c - p;
                  if (zz < 0 || zz >= D || yy < 0 || yy >= H || xx < 0 || xx >= W)
                    continue;
                  s += weight[(((size_t)oc * IC + ic) * k + a) * k * k + b * k + c] *
                       inp[(((size_t)ic * D + zz) * H + yy) * W + xx];
                }
          out[(((size_t)oc * D + z) * H + y) * W + x] = s;
        }
}

__attribute__((unused)) static void SEG_REF(conv3d_backward)(SEG_REAL *dinp, SEG_REAL *dweight,
                                                             SEG_REAL *dbias, const SEG_REAL *dout,
                                                             const SEG_REAL *inp,
                                                             const SEG_REAL *weight, int IC, int OC,
                                                             int D, int H, int W, int k) {
  int p = k / 2;
  if (dinp)
    for (size_t i = 0; i < (size_t)IC * D * H * W; i++)
      dinp[i] = 0;
  for (int oc = 0; oc < OC; oc++)
    for (int z = 0; z < D; z++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
          SEG_REAL g = dout[(((size_t)oc * D + z) * H + y) * W + x];
          if (dbias)
            dbias[oc] += g;
          for (int ic = 0; ic < IC; ic++)
            for (int a = 0; a < k; a++)
              for (int b = 0; b < k; b++)
                for (int c = 0; c < k; c++) {
                  int zz = z + a - p, yy = y + b - p, xx = x + c - p;
                  if (zz < 0 || zz >= D || yy < 0 || yy >= H || xx < 0 || xx >= W)
                    continue;
                  size_t wi = (((size_t)oc * IC + ic) * k + a) * k * k + b * k + c;
                  size_t ii = (((size_t)ic * D + zz) * H + yy) * W + xx;
                  dweight[wi] += g * inp[ii];
                  if (dinp)
                    dinp[ii] += g * weight[wi];
                }
        }
}

__attribute__((unused)) static void
SEG_REF(convtranspose_forward)(SEG_REAL *out, const SEG_REAL *inp, const SEG_REAL *weight,
                               const SEG_REAL *bias, int IC, int OC, int D, int H, int W, int s) {
  int Ho = H * s, Wo = W * s;
  for (int oc = 0; oc < OC; oc++)
    for (int d = 0; d < D; d++)
      for (int y = 0; y < Ho; y++)
        for (int x = 0; x < Wo; x++) {
          SEG_REAL v = bias ? bias[oc] : 0;
          for (int ic = 0; ic < IC; ic++)
            v += inp[(((size_t)ic * D + d) * H + y / s) * W + x / s] *
                 weight[(((size_t)ic * OC + oc) * s + y % s) * s + x % s];
          out[(((size_t)oc * D + d) * Ho + y) * Wo + x] = v;
        }
}

__attribute__((unused)) static void
SEG_REF(convtranspose_backward)(SEG_REAL *dinp, SEG_REAL *dweight, SEG_REAL *dbias,
                                const SEG_REAL *dout, const SEG_REAL *inp, const SEG_REAL *weight,
                                int IC, int OC, int D, int H, int W, int s) {
  int Ho = H * s, Wo = W * s;
  if (dinp)
    for (size_t i = 0; i < (size_t)IC * D * H * W; i++)
      dinp[i] = 0;
  for (int oc = 0; oc < OC; oc++)
    for (int d = 0; d < D; d++)
      for (int y = 0; y < Ho; y++)
        for (int x = 0; x < Wo; x++) {
          SEG_REAL g = dout[(((size_t)oc * D + d) * Ho + y) * Wo + x];
          if (dbias)
            dbias[oc] += g;
          for (int ic = 0; ic < IC; ic++) {
            size_t ii = (((size_t)ic * D + d) * H + y / s) * W + x / s;
            size_t wi = (((size_t)ic * OC + oc) * s + y % s) * s + x % s;
            dweight[wi] += g * inp[ii];
            if (dinp)
              dinp[ii] += g * weight[wi];
          }
        }
}

__attribute__((unused)) static void SEG_REF(groupnorm_forward)(SEG_REAL *out, SEG_REAL *mean,
                                                               SEG_REAL *rstd, const SEG_REAL *inp,
                                                               const SEG_REAL *weight,
                                                               const SEG_REAL *bias, int C,
                                                               size_t V, int G, SEG_REAL eps) {
  int cg = C / G;
  for (int g = 0; g < G; g++) {
    size_t n = (size_t)cg * V;
    const SEG_REAL *x = inp + (size_t)g * n;
    SEG_REAL m = 0, var = 0;
    for (size_t i = 0; i < n; i++)
      m += x[i];
    m /= (SEG_REAL)n;
    for (size_t i = 0; i < n; i++)
      var += (x[i] - m) * (x[i] - m);
    var /= (SEG_REAL)n;
    SEG_REAL r = 1 / sqrt(var + eps);
    mean[g] = m, rstd[g] = r;
    for (size_t i = 0; i < n; i++) {
      int c = g * cg + (int)(i / V);
      out[(size_t)g * n + i] = (x[i] - m) * r * weight[c] + bias[c];
    }
  }
}

__attribute__((unused)) static void
SEG_REF(groupnorm_backward)(SEG_REAL *dinp, SEG_REAL *dweight, SEG_REAL *dbias,
                            const SEG_REAL *dout, const SEG_REAL *inp, const SEG_REAL *weight,
                            const SEG_REAL *mean, const SEG_REAL *rstd, int C, size_t V, int G) {
  int cg = C / G;
  for (int g = 0; g < G; g++) {
    size_t n = (size_t)cg * V, o = (size_t)g * n;
    SEG_REAL mdx = 0, mdxx = 0;
    for (size_t i = 0; i < n; i++) {
      int c = g * cg + (int)(i / V);
      SEG_REAL xh = (inp[o + i] - mean[g]) * rstd[g];
      SEG_REAL dxh = dout[o + i] * weight[c];
      dweight[c] += dout[o + i] * xh;
      dbias[c] += dout[o + i];
      mdx += dxh;
      mdxx += dxh * xh;
    }
    mdx /= (SEG_REAL)n, mdxx /= (SEG_REAL)n;
    for (size_t i = 0; i < n; i++) {
      int c = g * cg + (int)(i / V);
      SEG_REAL xh = (inp[o + i] - mean[g]) * rstd[g];
      dinp[o + i] = rstd[g] * (dout[o + i] * weight[c] - mdx - xh * mdxx);
    }
  }
}
