/* Inside the segmentation network: the pointer struct generated from
 * seg_tensors.def and the walker that binds it. Engine sources and engine
 * tests only. */
#pragma once

#include "mae_internal.h"
#include "seg_net.h"

enum { SEG_INIT_KAIMING = 100, SEG_INIT_KAIMING_T };

typedef struct SegParams {
#define SEG_TENSOR(field, name, init, trainable, group, ndim, d0, d1, d2, d3, d4) float *field;
#define SEG_STACK(field, prefix, depth, width) MaeBlockParams *field;
#include "seg_tensors.def"
} SegParams;

typedef struct SegTensorEntry {
  SegTensor t;
  int init;
  size_t offset; /* floats from the start of the allocation */
} SegTensorEntry;

/* Called once per tensor in .def order; slot is the SegParams field. */
typedef void (*SegWalkFunc)(void *ctx, const char *name, int init, int trainable, int group,
                            int layer, int ndim, const int64_t shape[5], float **slot);
void seg_walk(const SegConfig *cfg, SegParams *ps, SegWalkFunc fn, void *ctx);

/* The parameters, read-only: the inference forward (seg_infer_net.c) runs
 * on them with its own activation buffers. */
const SegParams *seg_net_params(const SegNet *n);
