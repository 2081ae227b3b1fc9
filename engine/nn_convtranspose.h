/* Transposed 3D convolution that upsamples y and x only: kernel = stride =
 * (1, s, s), no padding, so every input voxel writes its own s x s block
 * (s = 2 in the decoder's main path; the skip paths use s = 2^level in one
 * layer instead of UNETR's chain of 2x layers). One sample at a time.
 * PyTorch nn.ConvTranspose3d layout: weight (IC, OC, 1, s, s).
 *
 * out[oc, d, h*s+i, w*s+j] = bias[oc] + sum_ic inp[ic, d, h, w] W[ic, oc, 0, i, j]
 *
 * Fast path: one sgemm into `tmp` (OC*s*s, D*H*W), then a scatter. The naive
 * reference is nn_ref_convtranspose_* in seg_ref_template.h.
 * Gradients: dweight, dbias accumulate; dinp is overwritten (skipped if NULL). */
#pragma once

#include <stddef.h>

size_t nn_convtranspose_tmp_floats(int OC, int D, int H, int W, int s);

void nn_convtranspose_forward(float *out,          // (OC, D, H*s, W*s)
                              float *tmp,          // scratch (OC*s*s, D*H*W)
                              const float *inp,    // (IC, D, H, W)
                              const float *weight, // (IC, OC, 1, s, s)
                              const float *bias,   // (OC) or NULL
                              int IC, int OC, int D, int H, int W, int s);

void nn_convtranspose_backward(float *dinp,         // (IC, D, H, W) or NULL
                               float *dweight,      // (IC, OC, 1, s, s)
                               float *dbias,        // (OC) or NULL
                               float *tmp,          // scratch (OC*s*s, D*H*W)
                               const float *dout,   // (OC, D, H*s, W*s)
                               const float *inp,    // (IC, D, H, W)
                               const float *weight, // (IC, OC, 1, s, s)
                               int IC, int OC, int D, int H, int W, int s);
