/* Vectorised exp and normal CDF for the element-wise kernels (softmax, GELU).
 *
 * exp: range reduction x = n ln2 + r, degree-7 Taylor polynomial on
 * |r| <= ln2/2 (relative error < 1e-8 before rounding), scaled by 2^n.
 * Phi: Abramowitz & Stegun 7.1.26 for erf (absolute error <= 1.5e-7),
 * arranged so that the negative tail has no cancellation.
 * The scalar versions compute the same formulas; nn_ref_* use libm. */
#pragma once

#include <math.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define VMATH_AVX512 1
#endif

#define VMATH_LOG2E 1.44269504088896341f
#define VMATH_LN2_HI 0.693359375f
#define VMATH_LN2_LO (-2.12194440e-4f)
#define VMATH_INV_SQRT2 0.70710678118654752f
#define VMATH_INV_SQRT_2PI 0.39894228040143268f

/* A&S 7.1.26 coefficients. */
#define VMATH_AS_P 0.3275911f
#define VMATH_AS_A1 0.254829592f
#define VMATH_AS_A2 (-0.284496736f)
#define VMATH_AS_A3 1.421413741f
#define VMATH_AS_A4 (-1.453152027f)
#define VMATH_AS_A5 1.061405429f

static inline float vm_exp_poly(float r) {
  return 1.f + r * (1.f + r * (0.5f + r * (1.f / 6 + r * (1.f / 24 + r * (1.f / 120 + r * (1.f / 720 + r * (1.f / 5040)))))));
}

static inline float vm_expf(float x) {
  if (x < -87.f) x = -87.f;
  if (x > 88.f) x = 88.f;
  float n = rintf(x * VMATH_LOG2E);
  float r = x - n * VMATH_LN2_HI;
  r = r - n * VMATH_LN2_LO;
  return ldexpf(vm_exp_poly(r), (int)n);
}

/* Phi(x) and, through *pdf, phi(x) = exp(-x^2/2) / sqrt(2 pi). */
static inline float vm_phi(float x, float *pdf) {
  float z = fabsf(x) * VMATH_INV_SQRT2;
  float t = 1.f / (1.f + VMATH_AS_P * z);
  float e = vm_expf(-0.5f * x * x);
  float poly = t * (VMATH_AS_A1 + t * (VMATH_AS_A2 + t * (VMATH_AS_A3 + t * (VMATH_AS_A4 + t * VMATH_AS_A5))));
  float half_q = 0.5f * poly * e; /* = 0.5 * erfc(|x| / sqrt 2) */
  if (pdf) *pdf = e * VMATH_INV_SQRT_2PI;
  return x >= 0.f ? 1.f - half_q : half_q;
}

#ifdef VMATH_AVX512
static inline __m512 vm_exp16(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.f));
  x = _mm512_min_ps(x, _mm512_set1_ps(88.f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(VMATH_LOG2E)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(VMATH_LN2_HI), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(VMATH_LN2_LO), r);
  __m512 p = _mm512_set1_ps(1.f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, n);
}

/* Phi(x) for 16 lanes; *pdf = phi(x) if pdf is not NULL. */
static inline __m512 vm_phi16(__m512 x, __m512 *pdf) {
  __m512 ax = _mm512_abs_ps(x);
  __m512 z = _mm512_mul_ps(ax, _mm512_set1_ps(VMATH_INV_SQRT2));
  __m512 one = _mm512_set1_ps(1.f);
  __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(VMATH_AS_P), z, one));
  __m512 e = vm_exp16(_mm512_mul_ps(_mm512_set1_ps(-0.5f), _mm512_mul_ps(x, x)));
  __m512 p = _mm512_set1_ps(VMATH_AS_A5);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(VMATH_AS_A4));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(VMATH_AS_A3));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(VMATH_AS_A2));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(VMATH_AS_A1));
  p = _mm512_mul_ps(p, t);
  __m512 half_q = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), p), e);
  __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  __m512 phi = _mm512_mask_blend_ps(neg, _mm512_sub_ps(one, half_q), half_q);
  if (pdf) *pdf = _mm512_mul_ps(e, _mm512_set1_ps(VMATH_INV_SQRT_2PI));
  return phi;
}
#endif
