#include "gemm.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Below this many multiply-adds a second thread costs more than it gives. */
#define GEMM_PAR_MIN (1 << 18)

static void gemm_serial(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                        const float *A, int lda, const float *B, int ldb, float beta, float *C,
                        int ldc) {
  if (M <= 0 || N <= 0) return;
  cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void nn_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
  int threads = 1;
#ifdef _OPENMP
  if (!omp_in_parallel() && (double)M * N * K >= GEMM_PAR_MIN) threads = omp_get_max_threads();
#endif
  if (threads <= 1) {
    gemm_serial(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  /* Split the longer side of C into `threads` slices, multiples of 16. */
  int split_rows = M >= N;
  int len = split_rows ? M : N;
  int chunk = ((len + threads - 1) / threads + 15) & ~15;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; t++) {
    int s0 = t * chunk, s1 = s0 + chunk < len ? s0 + chunk : len;
    if (s0 >= s1) continue;
    if (split_rows) {
      const float *a = ta == CblasNoTrans ? A + (size_t)s0 * lda : A + s0;
      gemm_serial(ta, tb, s1 - s0, N, K, alpha, a, lda, B, ldb, beta, C + (size_t)s0 * ldc, ldc);
    } else {
      const float *b = tb == CblasNoTrans ? B + s0 : B + (size_t)s0 * ldb;
      gemm_serial(ta, tb, M, s1 - s0, K, alpha, A, lda, b, ldb, beta, C + s0, ldc);
    }
  }
}
