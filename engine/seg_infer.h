/* Sliding-window inference over a whole volume of any size: windows of the
 * network's input size, `overlap` of a window shared by neighbours (0.5),
 * each window's sigmoid outputs weighted by a Gaussian (sigma = 1/8 of the
 * window along each axis, floored at 1e-3 of the peak) and accumulated
 * into the output with the weights, then divided: a network that outputs a
 * constant gives exactly that constant. Volumes smaller than a window along
 * an axis are zero-padded. Memory: the outputs, one weight volume and one
 * window. With tta, every window is also run flipped in y, x and both and
 * the four predictions averaged (affinity channels shifted back by the one
 * voxel a flip moves them). */
#pragma once

#include <stdint.h>

#include "seg_net.h"

typedef void (*SegInferProgress)(int64_t done, int64_t total, void *user);

int seg_infer_volume(SegNet *net, SegTask task,
                     float *probs,     // (OUT, Z, Y, X)
                     const float *vol, // (Z, Y, X) scaled to [-1, 1]
                     const int64_t dims[3], double overlap, int tta, SegInferProgress progress,
                     void *user, MaeError *err);
