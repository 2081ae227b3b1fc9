/* Every layer: analytic gradients (fast kernel and naive reference) against
 * central finite differences of an independent double-precision forward,
 * and fast-vs-naive parity at sizes that exercise vector tails. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DREF_NO_BLOCK
#include "mae_ref_double.h"
#include "mae_config.h"
#include "nn.h"
#include "rng.h"
#include "tap.h"
#include "vmath.h"

static Rng rng;

static float *randv(size_t n, float scale) {
  float *x = malloc(sizeof(float) * n);
  for (size_t i = 0; i < n; i++) x[i] = scale * (2.f * rng_uniform(&rng) - 1.f);
  return x;
}

static double *to_double(const float *x, size_t n) {
  double *d = malloc(sizeof(double) * n);
  for (size_t i = 0; i < n; i++) d[i] = x[i];
  return d;
}

/* A scalar objective of a layer's double forward: sum(out * R). The layer is
 * described by a closure over its double inputs. */
typedef double (*Objective)(void *ctx);

/* Compares analytic gradient g (n values) with central differences of f
 * with respect to the double values x (which f reads through ctx). */
static int check_grad(const char *what, const float *g, double *x, size_t n, Objective f,
                      void *ctx, double rtol, double atol) {
  double worst = 0.0;
  size_t worst_i = 0;
  int ok = 1;
  for (size_t i = 0; i < n; i++) {
    double h = 1e-6 * (fabs(x[i]) > 1 ? fabs(x[i]) : 1.0), x0 = x[i];
    x[i] = x0 + h;
    double fp = f(ctx);
    x[i] = x0 - h;
    double fm = f(ctx);
    x[i] = x0;
    double num = (fp - fm) / (2 * h), err = fabs(num - g[i]);
    double excess = err / (atol + rtol * fabs(num));
    if (excess > worst) worst = excess, worst_i = i;
    if (excess > 1.0) ok = 0;
  }
  return TAP_OK(ok, "%s: analytic gradient matches finite differences (worst error %.3g of tolerance, at %zu)",
                what, worst, worst_i);
}

static double dot_r(const double *out, const float *R, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += out[i] * R[i];
  return s;
}

static int max_rel_ok(const float *a, const float *b, size_t n, double rtol, double atol,
                      double *worst) {
  *worst = 0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs((double)a[i] - b[i]) / (atol + rtol * fabs((double)b[i]));
    if (!(e <= *worst)) *worst = isnan(e) ? INFINITY : e;
  }
  return *worst <= 1.0;
}

/* ---- linear ---- */
typedef struct {
  double *x, *w, *b, *out;
  const float *R;
  int M, IC, OC;
} LinCtx;
static double lin_obj(void *p) {
  LinCtx *c = p;
  dref_linear(c->out, c->x, c->w, c->b, c->M, c->IC, c->OC);
  return dot_r(c->out, c->R, (size_t)c->M * c->OC);
}

static void test_linear_grad(int use_ref) {
  int M = 5, IC = 7, OC = 6;
  float *x = randv(M * IC, 1), *w = randv(OC * IC, 0.5f), *b = randv(OC, 0.5f), *R = randv(M * OC, 1);
  float *dx = calloc(M * IC, 4), *dw = calloc(OC * IC, 4), *db = calloc(OC, 4);
  (use_ref ? nn_ref_linear_backward : nn_linear_backward)(dx, dw, db, R, x, w, M, IC, OC);
  LinCtx c = {to_double(x, M * IC), to_double(w, OC * IC), to_double(b, OC), malloc(8 * M * OC), R, M, IC, OC};
  const char *k = use_ref ? "linear (naive)" : "linear";
  char what[64];
  snprintf(what, sizeof what, "%s dinp", k);
  check_grad(what, dx, c.x, M * IC, lin_obj, &c, 1e-3, 1e-4);
  snprintf(what, sizeof what, "%s dweight", k);
  check_grad(what, dw, c.w, OC * IC, lin_obj, &c, 1e-3, 1e-4);
  snprintf(what, sizeof what, "%s dbias", k);
  check_grad(what, db, c.b, OC, lin_obj, &c, 1e-3, 1e-4);
  free(x), free(w), free(b), free(R), free(dx), free(dw), free(db);
  free(c.x), free(c.w), free(c.b), free(c.out);
}

/* ---- layernorm ---- */
typedef struct {
  double *x, *w, *b, *out;
  const float *R;
  int M, C;
} LnCtx;
static double ln_obj(void *p) {
  LnCtx *c = p;
  dref_layernorm(c->out, c->x, c->w, c->b, c->M, c->C, 1e-6);
  return dot_r(c->out, c->R, (size_t)c->M * c->C);
}

static void test_layernorm_grad(int use_ref) {
  int M = 4, C = 10;
  float *x = randv(M * C, 2), *w = randv(C, 1), *b = randv(C, 1), *R = randv(M * C, 1);
  float *y = malloc(4 * M * C), mean[4], rstd[4];
  float *dx = calloc(M * C, 4), *dw = calloc(C, 4), *db = calloc(C, 4);
  (use_ref ? nn_ref_layernorm_forward : nn_layernorm_forward)(y, mean, rstd, x, w, b, M, C, 1e-6f);
  (use_ref ? nn_ref_layernorm_backward : nn_layernorm_backward)(dx, dw, db, R, x, w, mean, rstd, M, C);
  LnCtx c = {to_double(x, M * C), to_double(w, C), to_double(b, C), malloc(8 * M * C), R, M, C};
  const char *k = use_ref ? "layernorm (naive)" : "layernorm";
  char what[64];
  snprintf(what, sizeof what, "%s dinp", k);
  check_grad(what, dx, c.x, M * C, ln_obj, &c, 2e-3, 2e-4);
  snprintf(what, sizeof what, "%s dweight", k);
  check_grad(what, dw, c.w, C, ln_obj, &c, 1e-3, 1e-4);
  snprintf(what, sizeof what, "%s dbias", k);
  check_grad(what, db, c.b, C, ln_obj, &c, 1e-3, 1e-4);
  free(x), free(w), free(b), free(R), free(y), free(dx), free(dw), free(db);
  free(c.x), free(c.w), free(c.b), free(c.out);
}

/* ---- gelu ---- */
typedef struct {
  double *x, *out;
  const float *R;
  size_t n;
} GeluCtx;
static double gelu_obj(void *p) {
  GeluCtx *c = p;
  dref_gelu(c->out, c->x, c->n);
  return dot_r(c->out, c->R, c->n);
}

static void test_gelu_grad(int use_ref) {
  size_t n = 53;
  float *x = randv(n, 5), *R = randv(n, 1), *dx = malloc(4 * n);
  (use_ref ? nn_ref_gelu_backward : nn_gelu_backward)(dx, R, x, n);
  GeluCtx c = {to_double(x, n), malloc(8 * n), R, n};
  check_grad(use_ref ? "gelu (naive) dinp" : "gelu dinp", dx, c.x, n, gelu_obj, &c, 1e-3, 1e-5);
  free(x), free(R), free(dx), free(c.x), free(c.out);
}

/* ---- attention ---- */
typedef struct {
  double *qkv, *out;
  const float *R;
  int B, N, C, H;
} AttCtx;
static double att_obj(void *p) {
  AttCtx *c = p;
  dref_attention(c->out, c->qkv, c->B, c->N, c->C, c->H);
  return dot_r(c->out, c->R, (size_t)c->B * c->N * c->C);
}

static void test_attention_grad(int use_ref) {
  int B = 2, N = 5, C = 8, H = 2;
  size_t nq = (size_t)B * N * 3 * C, no = (size_t)B * N * C, np = (size_t)B * H * N * N;
  float *qkv = randv(nq, 1.5f), *R = randv(no, 1), *out = malloc(4 * no), *probs = malloc(4 * np);
  float *dprobs = malloc(4 * np), *dqkv = malloc(4 * nq);
  (use_ref ? nn_ref_attention_forward : nn_attention_forward)(out, probs, qkv, B, N, C, H);
  (use_ref ? nn_ref_attention_backward : nn_attention_backward)(dqkv, dprobs, R, qkv, probs, B, N, C, H);
  AttCtx c = {to_double(qkv, nq), malloc(8 * no), R, B, N, C, H};
  check_grad(use_ref ? "attention (naive) dqkv" : "attention dqkv", dqkv, c.qkv, nq, att_obj, &c,
             1e-3, 1e-4);
  free(qkv), free(R), free(out), free(probs), free(dprobs), free(dqkv), free(c.qkv), free(c.out);
}

/* ---- norm-pix masked MSE ---- */
typedef struct {
  double *pred, *patches;
  const unsigned char *mask;
  int n, P;
} MseCtx;
static double mse_obj(void *p) {
  MseCtx *c = p;
  return dref_normpix_mse(c->pred, c->patches, c->mask, c->n, c->P);
}

static void test_mse_grad(void) {
  int n = 6, P = 8;
  unsigned char mask[6] = {1, 0, 1, 1, 0, 1};
  float *pred = randv(n * P, 1), *patches = randv(n * P, 1), *target = malloc(4 * n * P);
  float *dpred = malloc(4 * n * P);
  nn_normpix_target(target, patches, n, P);
  double loss = nn_masked_mse_forward_backward(dpred, pred, target, mask, n, P);
  MseCtx c = {to_double(pred, n * P), to_double(patches, n * P), mask, n, P};
  double want = mse_obj(&c);
  TAP_OK(fabs(loss - want) < 1e-5 * want, "norm-pix masked MSE %.7f matches double %.7f", loss, want);
  check_grad("norm-pix MSE dpred", dpred, c.pred, n * P, mse_obj, &c, 1e-3, 1e-6);
  unsigned char none[6] = {0};
  TAP_OK(nn_masked_mse_forward_backward(dpred, pred, target, none, n, P) == 0.0,
         "MSE with no masked token is 0");
  free(pred), free(patches), free(target), free(dpred), free(c.pred), free(c.patches);
}

/* ---- parity: fast vs naive ---- */
static void test_parity(void) {
  double worst;
  {
    int M = 37, IC = 45, OC = 29;
    float *x = randv(M * IC, 1), *w = randv(OC * IC, 1), *b = randv(OC, 1), *R = randv(M * OC, 1);
    float *y1 = malloc(4 * M * OC), *y2 = malloc(4 * M * OC);
    nn_linear_forward(y1, x, w, b, M, IC, OC);
    nn_ref_linear_forward(y2, x, w, b, M, IC, OC);
    int lin_ok = max_rel_ok(y1, y2, M * OC, 1e-5, 1e-5, &worst);
    TAP_OK(lin_ok, "linear forward: BLAS == naive (%.3f)", worst);
    float *dx1 = malloc(4 * M * IC), *dx2 = malloc(4 * M * IC);
    float *dw1 = calloc(OC * IC, 4), *dw2 = calloc(OC * IC, 4), *db1 = calloc(OC, 4), *db2 = calloc(OC, 4);
    nn_linear_backward(dx1, dw1, db1, R, x, w, M, IC, OC);
    nn_ref_linear_backward(dx2, dw2, db2, R, x, w, M, IC, OC);
    int ok = max_rel_ok(dx1, dx2, M * IC, 1e-5, 1e-5, &worst);
    ok &= max_rel_ok(dw1, dw2, OC * IC, 1e-5, 1e-5, &worst);
    ok &= max_rel_ok(db1, db2, OC, 1e-5, 1e-5, &worst);
    TAP_OK(ok, "linear backward: BLAS == naive");
    /* accumulation: a second backward doubles the parameter gradients */
    nn_linear_backward(dx1, dw1, db1, R, x, w, M, IC, OC);
    for (int i = 0; i < OC * IC; i++) dw2[i] *= 2;
    TAP_OK(max_rel_ok(dw1, dw2, OC * IC, 1e-5, 1e-5, &worst), "linear dweight accumulates");
    free(x), free(w), free(b), free(R), free(y1), free(y2), free(dx1), free(dx2);
    free(dw1), free(dw2), free(db1), free(db2);
  }
  {
    int M = 33, C = 77;
    float *x = randv(M * C, 3), *w = randv(C, 1), *b = randv(C, 1), *R = randv(M * C, 1);
    float *y1 = malloc(4 * M * C), *y2 = malloc(4 * M * C), m1[33], r1[33], m2[33], r2[33];
    nn_layernorm_forward(y1, m1, r1, x, w, b, M, C, 1e-6f);
    nn_ref_layernorm_forward(y2, m2, r2, x, w, b, M, C, 1e-6f);
    int ln_ok = max_rel_ok(y1, y2, M * C, 1e-4, 1e-5, &worst);
    TAP_OK(ln_ok, "layernorm forward: fast == naive (%.3f)", worst);
    float *dx1 = calloc(M * C, 4), *dx2 = calloc(M * C, 4);
    float *dw1 = calloc(C, 4), *dw2 = calloc(C, 4), *db1 = calloc(C, 4), *db2 = calloc(C, 4);
    nn_layernorm_backward(dx1, dw1, db1, R, x, w, m1, r1, M, C);
    nn_ref_layernorm_backward(dx2, dw2, db2, R, x, w, m2, r2, M, C);
    int ok = max_rel_ok(dx1, dx2, M * C, 1e-3, 1e-4, &worst);
    ok &= max_rel_ok(dw1, dw2, C, 1e-4, 1e-4, &worst);
    ok &= max_rel_ok(db1, db2, C, 1e-4, 1e-4, &worst);
    TAP_OK(ok, "layernorm backward: fast == naive");
    free(x), free(w), free(b), free(R), free(y1), free(y2), free(dx1), free(dx2);
    free(dw1), free(dw2), free(db1), free(db2);
  }
  {
    size_t n = 4099;
    float *x = randv(n, 8), *R = randv(n, 1), *y1 = malloc(4 * n), *y2 = malloc(4 * n);
    nn_gelu_forward(y1, x, n);
    nn_ref_gelu_forward(y2, x, n);
    int gf_ok = max_rel_ok(y1, y2, n, 1e-6, 3e-7, &worst);
    TAP_OK(gf_ok, "gelu forward: vector == erf (%.3f)", worst);
    nn_gelu_backward(y1, R, x, n);
    nn_ref_gelu_backward(y2, R, x, n);
    int gb_ok = max_rel_ok(y1, y2, n, 1e-6, 6e-7, &worst);
    TAP_OK(gb_ok, "gelu backward: vector == erf (%.3f)", worst);
    free(x), free(R), free(y1), free(y2);
  }
  {
    /* N = 23: odd, not a multiple of 16; hd = 8 */
    /* head widths 8, 16, 24 (paper-base decoder), 32 (cpu-small decoder),
     * 64 (encoders); rows 217 = one cls + 216 tokens */
    int shapes[5][4] = {{3, 23, 24, 3}, {2, 41, 64, 4}, {1, 217, 96, 4}, {2, 217, 128, 4}, {2, 22, 192, 3}};
    for (int s = 0; s < 5; s++) {
      int B = shapes[s][0], N = shapes[s][1], C = shapes[s][2], H = shapes[s][3];
      size_t nq = (size_t)B * N * 3 * C, no = (size_t)B * N * C, np = (size_t)B * H * N * N;
      float *qkv = randv(nq, 2), *R = randv(no, 1);
      float *o1 = malloc(4 * no), *o2 = malloc(4 * no), *p1 = malloc(4 * np), *p2 = malloc(4 * np);
      float *dp = malloc(4 * np), *dq1 = malloc(4 * nq), *dq2 = malloc(4 * nq);
      nn_attention_forward(o1, p1, qkv, B, N, C, H);
      nn_ref_attention_forward(o2, p2, qkv, B, N, C, H);
      int ok = max_rel_ok(o1, o2, no, 1e-4, 1e-5, &worst);
      ok &= max_rel_ok(p1, p2, np, 1e-4, 1e-6, &worst);
      TAP_OK(ok, "attention forward (B%d N%d C%d H%d): fast == naive", B, N, C, H);
      nn_attention_backward(dq1, dp, R, qkv, p1, B, N, C, H);
      nn_ref_attention_backward(dq2, dp, R, qkv, p2, B, N, C, H);
      int ab_ok = max_rel_ok(dq1, dq2, nq, 1e-3, 1e-5, &worst);
      TAP_OK(ab_ok, "attention backward (B%d N%d C%d H%d): fast == naive (%.3f)", B, N, C, H, worst);
      free(qkv), free(R), free(o1), free(o2), free(p1), free(p2), free(dp), free(dq1), free(dq2);
    }
  }
}

/* Above the size where nn_sgemm splits C over the threads: rows split
 * (M >= N) and columns split (N > M), forward and backward. */
static void test_split_gemm_parity(void) {
  int shapes[2][3] = {{300, 64, 96}, {40, 96, 700}};
  for (int s = 0; s < 2; s++) {
    int M = shapes[s][0], IC = shapes[s][1], OC = shapes[s][2];
    float *x = randv((size_t)M * IC, 1), *w = randv((size_t)OC * IC, 1), *b = randv(OC, 1);
    float *R = randv((size_t)M * OC, 1), *y1 = malloc(4 * (size_t)M * OC), *y2 = malloc(4 * (size_t)M * OC);
    float *dx1 = malloc(4 * (size_t)M * IC), *dx2 = malloc(4 * (size_t)M * IC);
    float *dw1 = calloc((size_t)OC * IC, 4), *dw2 = calloc((size_t)OC * IC, 4);
    float *db1 = calloc(OC, 4), *db2 = calloc(OC, 4);
    double worst;
    nn_linear_forward(y1, x, w, b, M, IC, OC);
    nn_ref_linear_forward(y2, x, w, b, M, IC, OC);
    int ok = max_rel_ok(y1, y2, (size_t)M * OC, 1e-5, 1e-5, &worst);
    nn_linear_backward(dx1, dw1, db1, R, x, w, M, IC, OC);
    nn_ref_linear_backward(dx2, dw2, db2, R, x, w, M, IC, OC);
    ok &= max_rel_ok(dx1, dx2, (size_t)M * IC, 1e-5, 1e-5, &worst);
    ok &= max_rel_ok(dw1, dw2, (size_t)OC * IC, 1e-5, 1e-5, &worst);
    ok &= max_rel_ok(db1, db2, OC, 1e-5, 1e-5, &worst);
    TAP_OK(ok, "linear %dx%d->%d on 2 threads (GEMM split over %s): fast == naive", M, IC, OC,
           M >= OC ? "rows" : "columns");
    free(x), free(w), free(b), free(R), free(y1), free(y2), free(dx1), free(dx2);
    free(dw1), free(dw2), free(db1), free(db2);
  }
}

static void test_vmath(void) {
  double worst = 0;
  for (int i = 0; i <= 200000; i++) {
    float x = -87.f + 175.f * (float)i / 200000.f;
    double e = fabs(vm_expf(x) - exp((double)x)) / exp((double)x);
    if (e > worst) worst = e;
  }
  TAP_OK(worst < 4e-7, "scalar exp relative error %.2e on [-87, 88]", worst);
  worst = 0;
  for (int i = 0; i <= 200000; i++) {
    float x = -10.f + 20.f * (float)i / 200000.f, pdf;
    double want = 0.5 * erfc(-(double)x / sqrt(2.0));
    double e = fabs(vm_phi(x, &pdf) - want);
    if (e > worst) worst = e;
  }
  TAP_OK(worst < 3e-7, "normal CDF absolute error %.2e on [-10, 10]", worst);
#ifdef VMATH_AVX512
  worst = 0;
  for (int i = 0; i < 12800; i += 16) {
    float xs[16], ys[16];
    for (int j = 0; j < 16; j++) xs[j] = -87.f + 175.f * (float)(i + j) / 12800.f;
    _mm512_storeu_ps(ys, vm_exp16(_mm512_loadu_ps(xs)));
    for (int j = 0; j < 16; j++) {
      double e = fabs(ys[j] - exp((double)xs[j])) / exp((double)xs[j]);
      if (e > worst) worst = e;
    }
  }
  TAP_OK(worst < 4e-7, "AVX-512 exp relative error %.2e", worst);
#endif
}

int main(void) {
  rng_seed(&rng, 42);
  for (int use_ref = 0; use_ref < 2; use_ref++) {
    test_linear_grad(use_ref);
    test_layernorm_grad(use_ref);
    test_gelu_grad(use_ref);
    test_attention_grad(use_ref);
  }
  test_mse_grad();
  test_parity();
  mae_set_threads(2);
  test_split_gemm_parity();
  test_vmath();
  return tap_done();
}
