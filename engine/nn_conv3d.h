/* 3D convolution with a cubic odd kernel (1x1x1 or 3x3x3), stride 1 and zero
 * "same" padding (k/2 on every side), one sample at a time (the seg decoder
 * loops over the batch). PyTorch nn.Conv3d layout: weight (OC, IC, k, k, k).
 *
 * Fast path: per output z-plane, im2col into `col` (IC*k^3, H*W) and one
 * sgemm; scratch stays one plane however deep the volume. The naive
 * reference is nn_ref_conv3d_* in seg_ref_template.h.
 *
 * Gradients: dweight, dbias accumulate (+=); dinp is overwritten (skipped
 * when NULL). */
#pragma once

#include <stddef.h>

/* Floats of the `col` scratch both calls need. */
size_t nn_conv3d_col_floats(int IC, int H, int W, int k);

void nn_conv3d_forward(float *out,          // (OC, D, H, W)
                       float *col,          // scratch, nn_conv3d_col_floats
                       const float *inp,    // (IC, D, H, W)
                       const float *weight, // (OC, IC, k, k, k)
                       const float *bias,   // (OC) or NULL
                       int IC, int OC, int D, int H, int W, int k);

void nn_conv3d_backward(float *dinp,         // (IC, D, H, W) or NULL
                        float *dweight,      // (OC, IC, k, k, k)
                        float *dbias,        // (OC) or NULL
                        float *col,          // scratch, nn_conv3d_col_floats
                        const float *dout,   // (OC, D, H, W)
                        const float *inp,    // (IC, D, H, W)
                        const float *weight, // (OC, IC, k, k, k)
                        int IC, int OC, int D, int H, int W, int k);
