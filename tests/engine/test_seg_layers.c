/* Segmentation decoder layers (conv3d 3x3x3 and 1x1x1, transposed conv
 * 1xsxs, GroupNorm, ReLU): fast kernels against the naive references
 * (parity), and their analytic gradients against central finite
 * differences of the double-precision reference forward. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_conv3d.h"
#include "nn_convtranspose.h"
#include "nn_groupnorm.h"
#include "rng.h"
#include "tap.h"

#define SEG_REAL float
#define SEG_REF(name) ref_f_##name
#include "seg_ref_template.h"
#undef SEG_REAL
#undef SEG_REF
#define SEG_REAL double
#define SEG_REF(name) ref_d_##name
#include "seg_ref_template.h"

static Rng rng;

static float *randv(size_t n, float scale) {
  float *x = malloc(sizeof(float) * n);
  for (size_t i = 0; i < n; i++)
    x[i] = scale * (2.f * rng_uniform(&rng) - 1.f);
  return x;
}
static float *zeros(size_t n) { return calloc(n, sizeof(float)); }
static double *to_d(const float *x, size_t n) {
  double *d = malloc(sizeof(double) * n);
  for (size_t i = 0; i < n; i++)
    d[i] = x[i];
  return d;
}
static double max_diff(const float *a, const float *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++)
    m = fmax(m, fabs((double)a[i] - b[i]));
  return m;
}

typedef double (*Objective)(void *ctx);

static int check_grad(const char *what, const float *g, double *x, size_t n, Objective f,
                      void *ctx) {
  double worst = 0;
  for (size_t i = 0; i < n; i++) {
    double x0 = x[i], h = 1e-6;
    x[i] = x0 + h;
    double fp = f(ctx);
    x[i] = x0 - h;
    double fm = f(ctx);
    x[i] = x0;
    double num = (fp - fm) / (2 * h);
    double excess = fabs(num - g[i]) / (1e-4 + 1e-3 * fabs(num));
    if (excess > worst)
      worst = excess;
  }
  return TAP_OK(worst <= 1.0, "%s: gradient matches finite differences (worst %.3g of tolerance)",
                what, worst);
}

/* ---- conv3d ---- */
typedef struct {
  double *inp, *w, *b, *out;
  const float *R;
  int IC, OC, D, H, W, k, s, G;
  size_t n_out;
} Ctx;

static double obj(const double *out, const float *R, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += out[i] * R[i];
  return s;
}
static double conv_obj(void *p) {
  Ctx *c = p;
  ref_d_conv3d_forward(c->out, c->inp, c->w, c->b, c->IC, c->OC, c->D, c->H, c->W, c->k);
  return obj(c->out, c->R, c->n_out);
}

static void test_conv(int IC, int OC, int D, int H, int W, int k) {
  size_t ni = (size_t)IC * D * H * W, no = (size_t)OC * D * H * W, nw = (size_t)OC * IC * k * k * k;
  float *inp = randv(ni, 1), *w = randv(nw, 0.5f), *b = randv(OC, 0.5f), *R = randv(no, 1);
  float *out = zeros(no), *ref = zeros(no);
  float *col = zeros(nn_conv3d_col_floats(IC, H, W, k));
  nn_conv3d_forward(out, col, inp, w, b, IC, OC, D, H, W, k);
  ref_f_conv3d_forward(ref, inp, w, b, IC, OC, D, H, W, k);
  TAP_OK(max_diff(out, ref, no) < 1e-4, "conv3d k%d %dx%dx%d forward parity (%.2g)", k, D, H, W,
         max_diff(out, ref, no));
  float *di = zeros(ni), *dw = zeros(nw), *db = zeros(OC);
  float *di_r = zeros(ni), *dw_r = zeros(nw), *db_r = zeros(OC);
  nn_conv3d_backward(di, dw, db, col, R, inp, w, IC, OC, D, H, W, k);
  ref_f_conv3d_backward(di_r, dw_r, db_r, R, inp, w, IC, OC, D, H, W, k);
  TAP_OK(max_diff(di, di_r, ni) < 1e-4 && max_diff(dw, dw_r, nw) < 1e-3 &&
             max_diff(db, db_r, OC) < 1e-3,
         "conv3d k%d backward parity", k);
  Ctx c = {to_d(inp, ni),
           to_d(w, nw),
           to_d(b, OC),
           calloc(no, sizeof(double)),
           R,
           IC,
           OC,
           D,
           H,
           W,
           k,
           1,
           1,
           no};
  char what[64];
  snprintf(what, sizeof what, "conv3d k%d dinp", k);
  check_grad(what, di, c.inp, ni, conv_obj, &c);
  snprintf(what, sizeof what, "conv3d k%d dweight", k);
  check_grad(what, dw, c.w, nw, conv_obj, &c);
  snprintf(what, sizeof what, "conv3d k%d dbias", k);
  check_grad(what, db, c.b, OC, conv_obj, &c);
  free(c.inp), free(c.w), free(c.b), free(c.out);
  free(inp), free(w), free(b), free(R), free(out), free(ref), free(col);
  free(di), free(dw), free(db), free(di_r), free(dw_r), free(db_r);
}

/* ---- transposed conv ---- */
static double tconv_obj(void *p) {
  Ctx *c = p;
  ref_d_convtranspose_forward(c->out, c->inp, c->w, c->b, c->IC, c->OC, c->D, c->H, c->W, c->s);
  return obj(c->out, c->R, c->n_out);
}

static void test_tconv(int IC, int OC, int D, int H, int W, int s) {
  size_t ni = (size_t)IC * D * H * W, no = (size_t)OC * D * H * W * s * s,
         nw = (size_t)IC * OC * s * s;
  float *inp = randv(ni, 1), *w = randv(nw, 0.5f), *b = randv(OC, 0.5f), *R = randv(no, 1);
  float *out = zeros(no), *ref = zeros(no),
        *tmp = zeros(nn_convtranspose_tmp_floats(OC, D, H, W, s));
  nn_convtranspose_forward(out, tmp, inp, w, b, IC, OC, D, H, W, s);
  ref_f_convtranspose_forward(ref, inp, w, b, IC, OC, D, H, W, s);
  TAP_OK(max_diff(out, ref, no) < 1e-4, "convtranspose s%d forward parity", s);
  float *di = zeros(ni), *dw = zeros(nw), *db = zeros(OC);
  float *di_r = zeros(ni), *dw_r = zeros(nw), *db_r = zeros(OC);
  nn_convtranspose_backward(di, dw, db, tmp, R, inp, w, IC, OC, D, H, W, s);
  ref_f_convtranspose_backward(di_r, dw_r, db_r, R, inp, w, IC, OC, D, H, W, s);
  TAP_OK(max_diff(di, di_r, ni) < 1e-4 && max_diff(dw, dw_r, nw) < 1e-3 &&
             max_diff(db, db_r, OC) < 1e-3,
         "convtranspose s%d backward parity", s);
  Ctx c = {to_d(inp, ni),
           to_d(w, nw),
           to_d(b, OC),
           calloc(no, sizeof(double)),
           R,
           IC,
           OC,
           D,
           H,
           W,
           1,
           s,
           1,
           no};
  check_grad("convtranspose dinp", di, c.inp, ni, tconv_obj, &c);
  check_grad("convtranspose dweight", dw, c.w, nw, tconv_obj, &c);
  check_grad("convtranspose dbias", db, c.b, OC, tconv_obj, &c);
  free(c.inp), free(c.w), free(c.b), free(c.out);
  free(inp), free(w), free(b), free(R), free(out), free(ref), free(tmp);
  free(di), free(dw), free(db), free(di_r), free(dw_r), free(db_r);
}

/* ---- GroupNorm ---- */
static double gn_obj(void *p) {
  Ctx *c = p;
  double mean[16], rstd[16];
  size_t V = (size_t)c->D * c->H * c->W;
  ref_d_groupnorm_forward(c->out, mean, rstd, c->inp, c->w, c->b, c->IC, V, c->G, 1e-5);
  return obj(c->out, c->R, c->n_out);
}

static void test_groupnorm(int C, int G, size_t V) {
  size_t n = (size_t)C * V;
  float *inp = randv(n, 2), *w = randv(C, 1), *b = randv(C, 1), *R = randv(n, 1);
  float *out = zeros(n), *ref = zeros(n), mean[16], rstd[16], mr[16], rr[16];
  for (size_t i = 0; i < n; i++)
    inp[i] += 0.5f; /* a non-zero mean */
  nn_groupnorm_forward(out, mean, rstd, inp, w, b, C, V, G, 1e-5f);
  ref_f_groupnorm_forward(ref, mr, rr, inp, w, b, C, V, G, 1e-5f);
  TAP_OK(max_diff(out, ref, n) < 1e-4, "groupnorm C%d G%d forward parity", C, G);
  float *di = zeros(n), *dw = zeros(C), *db = zeros(C);
  float *di_r = zeros(n), *dw_r = zeros(C), *db_r = zeros(C);
  nn_groupnorm_backward(di, dw, db, R, inp, w, mean, rstd, C, V, G);
  ref_f_groupnorm_backward(di_r, dw_r, db_r, R, inp, w, mr, rr, C, V, G);
  TAP_OK(max_diff(di, di_r, n) < 1e-4 && max_diff(dw, dw_r, C) < 1e-3 &&
             max_diff(db, db_r, C) < 1e-3,
         "groupnorm backward parity");
  Ctx c = {to_d(inp, n),
           to_d(w, C),
           to_d(b, C),
           calloc(n, sizeof(double)),
           R,
           C,
           C,
           1,
           1,
           (int)V,
           1,
           1,
           G,
           n};
  check_grad("groupnorm dinp", di, c.inp, n, gn_obj, &c);
  check_grad("groupnorm dweight", dw, c.w, C, gn_obj, &c);
  check_grad("groupnorm dbias", db, c.b, C, gn_obj, &c);
  free(c.inp), free(c.w), free(c.b), free(c.out);
  free(inp), free(w), free(b), free(R), free(out), free(ref);
  free(di), free(dw), free(db), free(di_r), free(dw_r), free(db_r);
}

static void test_relu(void) {
  float x[6] = {-2, -0.5f, 0, 0.25f, 1, 3}, y[6], g[6] = {1, 2, 3, 4, 5, 6}, d[6];
  nn_relu_forward(y, x, 6);
  nn_relu_backward(d, g, y, 6);
  TAP_OK(y[0] == 0 && y[1] == 0 && y[2] == 0 && y[3] == 0.25f && y[5] == 3 && d[0] == 0 &&
             d[2] == 0 && d[3] == 4 && d[5] == 6,
         "relu forward and backward by hand");
}

int main(void) {
  rng_seed(&rng, 7);
  test_conv(3, 4, 3, 5, 6, 3);
  test_conv(2, 3, 4, 5, 17, 3);
  test_conv(5, 3, 2, 4, 7, 1);
  test_tconv(3, 4, 2, 3, 5, 2);
  test_tconv(2, 3, 2, 2, 3, 4);
  test_groupnorm(8, 4, 30);
  test_groupnorm(6, 6, 11);
  test_relu();
  return tap_done();
}
