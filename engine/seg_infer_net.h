/* Inference-only forward of the segmentation network: the same arithmetic as
 * seg_net_forward, but on the net's parameters read-only and into the
 * caller's own activation buffers, keeping nothing for backward (one
 * block's activations are reused by every block). Several workers can run
 * it at once on one SegNet, each with its own SegInferActs; inside a worker
 * every layer runs on the calling thread (the worker split is the
 * parallelism). The encoder runs the B windows as one batch; the decoder
 * runs them one by one through a direct 3x3x3 convolution
 * (nn_conv3d_infer.h). */
#pragma once

#include "seg_net.h"

typedef struct SegInferActs SegInferActs;

/* Buffers for up to B windows of net's input size. */
int seg_infer_acts_create(SegInferActs **out, const SegNet *net, int B, MaeError *err);
void seg_infer_acts_free(SegInferActs *a);
/* Bytes the buffers take. */
size_t seg_infer_acts_bytes(const SegInferActs *a);

/* logits for B <= the acts' batch crops of the config's input size. */
int seg_net_infer(const SegNet *net, SegInferActs *a,
                  const float *crops, // (B, D, H, W) scaled to [-1, 1]
                  int B,
                  float *logits, // (B, OUT, D, H, W)
                  MaeError *err);
