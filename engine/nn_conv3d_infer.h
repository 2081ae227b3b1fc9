/* 3x3x3 convolution, stride 1, zero "same" padding, forward only, for
 * inference: the same result as nn_conv3d_forward (k = 3) without the
 * im2col matrix (IC * 27 rows of a plane), which made the decoder's wide,
 * few-channel levels memory-bound. The input is copied once into a
 * zero-bordered scratch volume and every output row accumulates 27 shifted
 * input rows per input channel in registers, several output channels at a
 * time. Reference: nn_conv3d_forward (test_seg_infer checks parity). */
#pragma once
#include <stddef.h>

/* Floats of the scratch nn_conv3d_infer_forward needs. */
size_t nn_conv3d_infer_scratch_floats(int IC, int D, int H, int W);

void nn_conv3d_infer_forward(float *out,          // (OC, D, H, W)
                             float *scratch,      // nn_conv3d_infer_scratch_floats
                             const float *inp,    // (IC, D, H, W)
                             const float *weight, // (OC, IC, 3, 3, 3)
                             const float *bias,   // (OC) or NULL
                             int IC, int OC, int D, int H, int W);
