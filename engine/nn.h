/* Layers of the transformer with explicit forward and backward passes
 * (llm.c style). Argument order: outputs, saved buffers, inputs, weights,
 * dimensions. Every pointer carries its shape.
 *
 * Gradient conventions:
 *   - parameter gradients ACCUMULATE (+=);
 *   - activation gradients are OVERWRITTEN (=), except where a function says
 *     "accumulates" (LayerNorm's dinp, whose input is always a residual stream
 *     that also receives the skip connection's gradient).
 *
 * Each fast kernel has a naive reference (nn_ref_*) beside it, used by the
 * parity and gradient-check tests. */
#pragma once

#include <stddef.h>

/* out = inp W^T + b (nn.Linear). bias may be NULL. */
void nn_linear_forward(float *out,          // (M, OC)
                       const float *inp,    // (M, IC)
                       const float *weight, // (OC, IC)
                       const float *bias,   // (OC)
                       int M, int IC, int OC);
/* dinp = dout W (overwritten; skipped if NULL); dweight += dout^T inp;
 * dbias += column sums of dout (skipped if NULL). */
void nn_linear_backward(float *dinp,         // (M, IC)
                        float *dweight,      // (OC, IC)
                        float *dbias,        // (OC)
                        const float *dout,   // (M, OC)
                        const float *inp,    // (M, IC)
                        const float *weight, // (OC, IC)
                        int M, int IC, int OC);

/* LayerNorm over the last axis; saves mean and 1/std per row. */
void nn_layernorm_forward(float *out,         // (M, C)
                          float *mean,        // (M)
                          float *rstd,        // (M)
                          const float *inp,   // (M, C)
                          const float *weight,// (C)
                          const float *bias,  // (C)
                          int M, int C, float eps);
/* dinp ACCUMULATES; dweight, dbias accumulate. */
void nn_layernorm_backward(float *dinp,        // (M, C)
                           float *dweight,     // (C)
                           float *dbias,       // (C)
                           const float *dout,  // (M, C)
                           const float *inp,   // (M, C)
                           const float *weight,// (C)
                           const float *mean,  // (M)
                           const float *rstd,  // (M)
                           int M, int C);

/* Exact GELU: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (PyTorch nn.GELU()). */
void nn_gelu_forward(float *out,       // (n)
                     const float *inp, // (n)
                     size_t n);
/* dinp = dout * gelu'(inp); dinp may alias dout. */
void nn_gelu_backward(float *dinp,       // (n)
                      const float *dout, // (n)
                      const float *inp,  // (n)
                      size_t n);

/* out = a + b; out may alias a or b. */
void nn_residual_forward(float *out, const float *a, const float *b, size_t n); // (n)

/* Multi-head self-attention core (no projections): qkv rows hold
 * [q (H, hd) | k (H, hd) | v (H, hd)] as nn.Linear(C, 3C) produces and the
 * reference reshapes (B, N, 3, H, hd). probs = softmax(q k^T / sqrt(hd)),
 * out = probs v, written back as (B, N, H, hd) = (B, N, C). */
void nn_attention_forward(float *out,       // (B, N, C)
                          float *probs,     // (B, H, N, N)
                          const float *qkv, // (B, N, 3C)
                          int B, int N, int C, int H);
/* dqkv overwritten; dprobs is scratch. */
void nn_attention_backward(float *dqkv,        // (B, N, 3C)
                           float *dprobs,      // (B, H, N, N) scratch
                           const float *dout,  // (B, N, C)
                           const float *qkv,   // (B, N, 3C)
                           const float *probs, // (B, H, N, N)
                           int B, int N, int C, int H);

/* Norm-pix target of each patch: (x - mean) / sqrt(unbiased var + 1e-6). */
void nn_normpix_target(float *target,        // (n, P)
                       const float *patches, // (n, P)
                       int n, int P);
/* Masked MSE: mean over masked rows of mean_p (pred - target)^2; returns it
 * (0 if no row is masked) and, if dpred is not NULL, its gradient
 * (overwritten; 0 on visible rows). */
double nn_masked_mse_forward_backward(float *dpred,         // (n, P) or NULL
                                      const float *pred,    // (n, P)
                                      const float *target,  // (n, P)
                                      const unsigned char *mask, // (n), 1 = masked
                                      int n, int P);

/* Flushes denormal floats to zero in the calling thread (x86 FTZ and DAZ):
 * tiny attention probabilities and gradients otherwise take a slow path
 * through the FPU that can cost 10x on the products they touch. */
void nn_flush_denormals(void);

/* Naive references: plain loops, no BLAS, no OpenMP, same semantics. */
void nn_ref_linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                           int M, int IC, int OC);
void nn_ref_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight, int M, int IC, int OC);
void nn_ref_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                              const float *weight, const float *bias, int M, int C, float eps);
void nn_ref_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, const float *mean,
                               const float *rstd, int M, int C);
void nn_ref_gelu_forward(float *out, const float *inp, size_t n);
void nn_ref_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);
void nn_ref_attention_forward(float *out, float *probs, const float *qkv, int B, int N, int C,
                              int H);
void nn_ref_attention_backward(float *dqkv, float *dprobs, const float *dout, const float *qkv,
                               const float *probs, int B, int N, int C, int H);
