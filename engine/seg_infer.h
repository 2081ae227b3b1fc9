/* Sliding-window inference over a whole volume of any size: windows of the
 * network's input size, `overlap` of a window shared by neighbours (0.5),
 * each window's sigmoid outputs weighted by a Gaussian (sigma = 1/8 of the
 * window along each axis, floored at 1e-3 of the peak) and accumulated
 * into the output with the weights, then divided: a network that outputs a
 * constant gives exactly that constant. Volumes smaller than a window along
 * an axis are zero-padded. With tta, every window is also run flipped in y,
 * x and both and the four predictions averaged (affinity channels shifted
 * back by the one voxel a flip moves them).
 *
 * Speed and memory: windows go through the inference-only forward
 * (seg_infer_net.h) `batch` at a time, on `threads` workers (OpenMP), each
 * with its own activations; results are blended in window order, so the
 * output does not depend on threads or batch beyond float rounding of the
 * batched encoder (~1e-6). The volume is processed in z-slabs: the input
 * is read, and the blended probabilities and weights are held, for one
 * window height of slices (plus the windows in flight); finished slices are
 * handed to the caller one at a time, in z order. */
#pragma once

#include <stdint.h>

#include "seg_net.h"

typedef void (*SegInferProgress)(int64_t done, int64_t total, void *user);

typedef struct SegInferOptions {
  double overlap; /* [0, 1) (0.5) */
  int tta;        /* 0/1 (0) */
  int batch;      /* windows per forward and worker (4) */
  int threads;    /* workers; 0 = the OpenMP threads (mae_set_threads) */
} SegInferOptions;

void seg_infer_options_default(SegInferOptions *o);

/* Fills dst with slices z0 .. z0 + nz - 1 of the input, scaled to [-1, 1];
 * returns 0, or non-zero to stop (the caller keeps its own message). */
typedef int (*SegInferRead)(void *user, int64_t z0, int64_t nz,
                            float *dst); // (nz, Y, X)
/* Receives the finished probabilities of slice z (every z once, in order);
 * returns 0, or non-zero to stop. */
typedef int (*SegInferEmit)(void *user, int64_t z,
                            const float *probs); // (OUT, Y, X)

int seg_infer_stream(const SegNet *net, SegTask task, const int64_t dims[3],
                     const SegInferOptions *opts, SegInferRead read, void *read_user,
                     SegInferEmit emit, void *emit_user, SegInferProgress progress, void *user,
                     MaeError *err);

/* The whole volume in memory, with the default batch and threads. */
int seg_infer_volume(SegNet *net, SegTask task,
                     float *probs,     // (OUT, Z, Y, X)
                     const float *vol, // (Z, Y, X) scaled to [-1, 1]
                     const int64_t dims[3], double overlap, int tta, SegInferProgress progress,
                     void *user, MaeError *err);
