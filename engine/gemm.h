/* Row-major single-precision GEMM, C = alpha op(A) op(B) + beta C, split
 * across the OpenMP threads in fixed slices of C (so results depend only on
 * the thread count). Each slice is one single-threaded OpenBLAS call: the
 * engine runs OpenBLAS with one thread and owns all threading through
 * OpenMP, so BLAS workers and OpenMP workers never compete for the cores. */
#pragma once

#include <cblas.h>

void nn_sgemm(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K, float alpha,
              const float *A, int lda, // (M, K), or (K, M) if trans_a
              const float *B, int ldb, // (K, N), or (N, K) if trans_b
              float beta, float *C, int ldc); // (M, N)
