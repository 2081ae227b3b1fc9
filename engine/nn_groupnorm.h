/* GroupNorm (PyTorch nn.GroupNorm) and ReLU for the segmentation decoder,
 * one sample at a time: statistics over each group of C/G channels and all
 * voxels, so it behaves the same at batch 1 or 2 (BatchNorm would not).
 * G = C gives InstanceNorm with an affine transform.
 * Saved: mean and 1/std of each group. Gradients: dweight, dbias accumulate;
 * dinp is overwritten. Naive references in seg_ref_template.h. */
#pragma once

#include <stddef.h>

void nn_groupnorm_forward(float *out,          // (C, V) V = voxels
                          float *mean,         // (G)
                          float *rstd,         // (G)
                          const float *inp,    // (C, V)
                          const float *weight, // (C)
                          const float *bias,   // (C)
                          int C, size_t V, int G, float eps);

void nn_groupnorm_backward(float *dinp,         // (C, V)
                           float *dweight,      // (C)
                           float *dbias,        // (C)
                           const float *dout,   // (C, V)
                           const float *inp,    // (C, V)
                           const float *weight, // (C)
                           const float *mean,   // (G)
                           const float *rstd,   // (G)
                           int C, size_t V, int G);

/* out = max(inp, 0); out may alias inp. */
void nn_relu_forward(float *out, const float *inp, size_t n); // (n)
/* dinp = dout where out > 0, else 0; dinp may alias dout. */
void nn_relu_backward(float *dinp,       // (n)
                      const float *dout, // (n)
                      const float *out,  // (n) the forward's output
                      size_t n);
