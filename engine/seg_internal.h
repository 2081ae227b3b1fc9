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

/* The encoder's input tokens, for the training (seg_net.c) and the inference
 * (seg_infer_net.c) forward: crops -> patches -> patch embedding, then the
 * class token in front and the position embedding added. */
void seg_embed_forward(float *x,             // (B, N = 1 + L, C) out
                       float *emb,           // (B, L, C) out
                       float *patches,       // (B, L, P) out
                       const float *crops,   // (B, D, H, W)
                       const SegParams *p, const MaeConfig *m, int B, int L, int C, int P);
/* The decoder's levels l = 0..4 (0: the token grid in y and x, each next one
 * up-sampled 2x in y and x; all of the crop's depth D): channels (ch[0] =
 * enc_dim, then base << (4 - l)), height, width and voxels (D * H * W). */
void seg_level_shapes(const SegConfig *cfg, int ch[5], int hl[5], int wl[5], size_t vl[5]);
/* feat (B, C, L) <- rows 1..L of x (B, N, C): the tokens as a grid. */
void seg_to_grid(float *feat, const float *x, int B, int N, int C, int L);
