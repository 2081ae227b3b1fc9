/* Multi-head self-attention core, forward and backward, parallel over
 * (sample, head).
 *
 * With AVX-512, the six products of each (sample, head) — S = q k^T,
 * O = P v, dV = P^T dO, dP = dO v^T, dQ = dS k, dK = dS^T q — run through one
 * register-tiled micro-kernel (8 rows x 32 columns of 16-lane accumulators)
 * that reads q, k, v straight from the strided qkv rows and P^T without a
 * transpose. The products are small (N ~ 200, head width 24..64), where
 * calls into BLAS spent more time packing and on edges than multiplying.
 * Without AVX-512 the same products go through cblas_sgemm.
 * Reference: nn_ref_attention_* in nn_ref.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "nn.h"
#include "vmath.h"

#define NN_ATT_PAR_MIN (1 << 18)

/* In place: each of `rows` rows of length N becomes softmax(row). */
static void softmax_rows(float *s, int rows, int N) {
  for (int i = 0; i < rows; i++) {
    float *row = s + (size_t)i * N;
    float mx = row[0];
    for (int j = 1; j < N; j++) mx = row[j] > mx ? row[j] : mx;
    float sum = 0.f;
    int j = 0;
#ifdef VMATH_AVX512
    __m512 vsum = _mm512_setzero_ps(), vmx = _mm512_set1_ps(mx);
    for (; j + 16 <= N; j += 16) {
      __m512 e = vm_exp16(_mm512_sub_ps(_mm512_loadu_ps(row + j), vmx));
      _mm512_storeu_ps(row + j, e);
      vsum = _mm512_add_ps(vsum, e);
    }
    if (j < N) {
      __mmask16 k = (__mmask16)((1u << (N - j)) - 1);
      __m512 e = vm_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + j), vmx));
      e = _mm512_maskz_mov_ps(k, e);
      _mm512_mask_storeu_ps(row + j, k, e);
      vsum = _mm512_add_ps(vsum, e);
      j = N;
    }
    sum = _mm512_reduce_add_ps(vsum);
#endif
    for (; j < N; j++) {
      row[j] = vm_expf(row[j] - mx);
      sum += row[j];
    }
    float inv = 1.f / sum;
    for (j = 0; j < N; j++) row[j] *= inv;
  }
}

/* dS = P * (dP - rowsum(dP * P)) * scale, in place over dP. */
static void softmax_backward_rows(float *dp, const float *p, int rows, int N, float scale) {
  for (int i = 0; i < rows; i++) {
    const float *pr = p + (size_t)i * N;
    float *dr = dp + (size_t)i * N;
    float dot = 0.f;
#pragma omp simd reduction(+ : dot)
    for (int j = 0; j < N; j++) dot += dr[j] * pr[j];
#pragma omp simd
    for (int j = 0; j < N; j++) dr[j] = pr[j] * (dr[j] - dot) * scale;
  }
}

/* One (sample, head) through BLAS: the products without scratch memory.
 * q, k, v, dq, dk, dv: rows of hd values, stride 3C; o, dO: stride C;
 * p, dp: (N, N). */
static void head_forward_blas(float *o, float *p, const float *q, int N, int C, int hd,
                              float scale) {
  const float *k = q + C, *v = q + 2 * C;
  nn_sgemm(CblasNoTrans, CblasTrans, N, N, hd, scale, q, 3 * C, k, 3 * C, 0.f, p, N);
  softmax_rows(p, N, N);
  nn_sgemm(CblasNoTrans, CblasNoTrans, N, hd, N, 1.f, p, N, v, 3 * C, 0.f, o, C);
}

static void head_backward_blas(float *dq, float *dp, const float *dO, const float *q,
                               const float *p, int N, int C, int hd, float scale) {
  const float *k = q + C, *v = q + 2 * C;
  float *dk = dq + C, *dv = dq + 2 * C;
  nn_sgemm(CblasTrans, CblasNoTrans, N, hd, N, 1.f, p, N, dO, C, 0.f, dv, 3 * C);
  nn_sgemm(CblasNoTrans, CblasTrans, N, N, hd, 1.f, dO, C, v, 3 * C, 0.f, dp, N);
  softmax_backward_rows(dp, p, N, N, scale);
  nn_sgemm(CblasNoTrans, CblasNoTrans, N, hd, N, 1.f, dp, N, k, 3 * C, 0.f, dq, 3 * C);
  nn_sgemm(CblasTrans, CblasNoTrans, N, hd, N, 1.f, dp, N, q, 3 * C, 0.f, dk, 3 * C);
}

#ifdef VMATH_AVX512

static inline __mmask16 cols_mask(int n) {
  return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* C[r, c] = alpha * sum_k A(r, k) B[k, c] for r < R and the NV * 16 columns
 * from c0 (stores masked to c < ncols), A(r, k) = A[r * a_rs + k * a_ks]
 * (so A may be read transposed). B is packed: rows of ldb floats, ldb a
 * multiple of 16 and zero beyond ncols, so the hot loop has no masks. */
static inline __attribute__((always_inline)) void tile(const int R, const int NV, float *C,
                                                       int ldc, const float *A, int a_rs,
                                                       int a_ks, const float *B, int ldb, int K,
                                                       int c0, int ncols, float alpha) {
  __m512 acc0[8], acc1[8];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm512_setzero_ps();
  const float *b = B + c0;
  const float *a = A;
  for (int k = 0; k < K; k++, b += ldb, a += a_ks) {
    const __m512 b0 = _mm512_loadu_ps(b);
    const __m512 b1 = NV > 1 ? _mm512_loadu_ps(b + 16) : b0;
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      const __m512 av = _mm512_set1_ps(a[(size_t)r * a_rs]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      if (NV > 1) acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha);
  const __mmask16 m0 = cols_mask(ncols - c0), m1 = cols_mask(ncols - c0 - 16);
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
    _mm512_mask_storeu_ps(C + (size_t)r * ldc + c0, m0, _mm512_mul_ps(acc0[r], va));
    if (NV > 1)
      _mm512_mask_storeu_ps(C + (size_t)r * ldc + c0 + 16, m1, _mm512_mul_ps(acc1[r], va));
  }
}

/* C (M, ncols) = alpha * A(M, K) B (K, ldb), A(r, k) = A[r * a_rs + k * a_ks];
 * B packed as in tile(). */
static void small_gemm(float *C, int ldc, const float *A, int a_rs, int a_ks, const float *B,
                       int ldb, int M, int K, int ncols, float alpha) {
  int r = 0;
  for (; r + 8 <= M; r += 8) {
    float *c = C + (size_t)r * ldc;
    const float *a = A + (size_t)r * a_rs;
    int c0 = 0;
    for (; c0 + 32 <= ldb; c0 += 32) tile(8, 2, c, ldc, a, a_rs, a_ks, B, ldb, K, c0, ncols, alpha);
    if (c0 < ldb) tile(8, 1, c, ldc, a, a_rs, a_ks, B, ldb, K, c0, ncols, alpha);
  }
  for (; r < M; r++) {
    float *c = C + (size_t)r * ldc;
    const float *a = A + (size_t)r * a_rs;
    int c0 = 0;
    for (; c0 + 32 <= ldb; c0 += 32) tile(1, 2, c, ldc, a, a_rs, a_ks, B, ldb, K, c0, ncols, alpha);
    if (c0 < ldb) tile(1, 1, c, ldc, a, a_rs, a_ks, B, ldb, K, c0, ncols, alpha);
  }
}

static int pad16(int n) { return (n + 15) & ~15; }

/* dst (N, pad16(hd)) = N strided rows of hd values, zero padded. */
static void pack_rows(float *dst, const float *src, int ld, int N, int hd) {
  const int w = pad16(hd);
  for (int j = 0; j < N; j++) {
    memcpy(dst + (size_t)j * w, src + (size_t)j * ld, sizeof(float) * hd);
    memset(dst + (size_t)j * w + hd, 0, sizeof(float) * (w - hd));
  }
}

/* dst (hd, pad16(N)) = the transpose of N strided rows of hd values, zero padded. */
static void pack_transposed(float *dst, const float *src, int ld, int N, int hd) {
  const int w = pad16(N);
  for (int d = 0; d < hd; d++) {
    float *row = dst + (size_t)d * w;
    for (int j = 0; j < N; j++) row[j] = src[(size_t)j * ld + d];
    for (int j = N; j < w; j++) row[j] = 0.f;
  }
}

/* Scratch of one thread: two packed operands of a head. */
static float *head_scratch(int N, int hd) {
  size_t n = (size_t)pad16(N) * pad16(hd);
  return malloc(sizeof(float) * 2 * n);
}

void nn_attention_forward(float *out, float *probs, const float *qkv, int B, int N, int C, int H) {
  const int hd = C / H, hdp = pad16(hd), Np = pad16(N);
  const float scale = 1.f / sqrtf((float)hd);
#pragma omp parallel if ((size_t)B * N * N * C > NN_ATT_PAR_MIN)
  {
    float *kt = head_scratch(N, hd), *vp = kt ? kt + (size_t)Np * hdp : NULL;
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
      for (int h = 0; h < H; h++) {
        const float *q = qkv + (size_t)b * N * 3 * C + h * hd;
        const float *k = q + C, *v = q + 2 * C;
        float *p = probs + ((size_t)b * H + h) * N * N;
        float *o = out + (size_t)b * N * C + h * hd;
        if (!kt) { /* no scratch memory: the BLAS path */
          head_forward_blas(o, p, q, N, C, hd, scale);
          continue;
        }
        pack_transposed(kt, k, 3 * C, N, hd);
        small_gemm(p, N, q, 3 * C, 1, kt, Np, N, hd, N, scale); /* S = q k^T */
        softmax_rows(p, N, N);
        pack_rows(vp, v, 3 * C, N, hd);
        small_gemm(o, C, p, N, 1, vp, hdp, N, N, hd, 1.f); /* O = P v */
      }
    free(kt);
  }
}

void nn_attention_backward(float *dqkv, float *dprobs, const float *dout, const float *qkv,
                           const float *probs, int B, int N, int C, int H) {
  const int hd = C / H, hdp = pad16(hd), Np = pad16(N);
  const float scale = 1.f / sqrtf((float)hd);
#pragma omp parallel if ((size_t)B * N * N * C > NN_ATT_PAR_MIN)
  {
    float *s1 = head_scratch(N, hd), *s2 = s1 ? s1 + (size_t)Np * hdp : NULL;
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
      for (int h = 0; h < H; h++) {
        const float *q = qkv + (size_t)b * N * 3 * C + h * hd;
        const float *k = q + C, *v = q + 2 * C;
        float *dq = dqkv + (size_t)b * N * 3 * C + h * hd;
        float *dk = dq + C, *dv = dq + 2 * C;
        const float *p = probs + ((size_t)b * H + h) * N * N;
        float *dp = dprobs + ((size_t)b * H + h) * N * N;
        const float *dO = dout + (size_t)b * N * C + h * hd;
        if (!s1) { /* no scratch memory: the BLAS path */
          head_backward_blas(dq, dp, dO, q, p, N, C, hd, scale);
          continue;
        }
        pack_rows(s1, dO, C, N, hd);
        small_gemm(dv, 3 * C, p, 1, N, s1, hdp, N, N, hd, 1.f); /* dV = P^T dO */
        pack_transposed(s2, v, 3 * C, N, hd);
        small_gemm(dp, N, dO, C, 1, s2, Np, N, hd, N, 1.f);     /* dP = dO v^T */
        softmax_backward_rows(dp, p, N, N, scale);
        pack_rows(s1, k, 3 * C, N, hd);
        small_gemm(dq, 3 * C, dp, N, 1, s1, hdp, N, N, hd, 1.f); /* dQ = dS k */
        pack_rows(s2, q, 3 * C, N, hd);
        small_gemm(dk, 3 * C, dp, 1, N, s2, hdp, N, N, hd, 1.f); /* dK = dS^T q */
      }
    free(s1);
  }
}

#else /* no AVX-512: the same products through BLAS */

void nn_attention_forward(float *out, float *probs, const float *qkv, int B, int N, int C, int H) {
  const int hd = C / H;
  const float scale = 1.f / sqrtf((float)hd);
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)B * N * N * C > NN_ATT_PAR_MIN)
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++)
      head_forward_blas(out + (size_t)b * N * C + h * hd, probs + ((size_t)b * H + h) * N * N,
                        qkv + (size_t)b * N * 3 * C + h * hd, N, C, hd, scale);
}

void nn_attention_backward(float *dqkv, float *dprobs, const float *dout, const float *qkv,
                           const float *probs, int B, int N, int C, int H) {
  const int hd = C / H;
  const float scale = 1.f / sqrtf((float)hd);
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)B * N * N * C > NN_ATT_PAR_MIN)
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++)
      head_backward_blas(dqkv + (size_t)b * N * 3 * C + h * hd,
                         dprobs + ((size_t)b * H + h) * N * N, dout + (size_t)b * N * C + h * hd,
                         qkv + (size_t)b * N * 3 * C + h * hd, probs + ((size_t)b * H + h) * N * N,
                         N, C, hd, scale);
}

#endif
