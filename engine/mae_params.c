/* Walking the .def list: binding pointer structs to one allocation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mae_internal.h"

static void walk_block(const MaeConfig *cfg, MaeBlockParams *bp, const char *prefix, int index,
                       int W, MaeWalkFunc fn, void *ctx) {
  const int HID = W * cfg->mlp_ratio;
  char name[80];
#define MAE_BLOCK_TENSOR(field, nm, init, nd, d0, d1)                  \
  {                                                                    \
    const int64_t shape[5] = {d0, d1, 1, 1, 1};                        \
    snprintf(name, sizeof name, "%s.%d.%s", prefix, index, nm);        \
    fn(ctx, name, MAE_INIT_##init, 1, nd, shape, &bp->field);          \
  }
#include "mae_tensors.def"
}

void mae_walk(const MaeConfig *cfg, MaeParams *ps, MaeWalkFunc fn, void *ctx) {
  const int C = cfg->enc_dim, CD = cfg->dec_dim, L = mae_config_tokens(cfg);
  const int PD = cfg->patch[0], PH = cfg->patch[1], PW = cfg->patch[2], P = PD * PH * PW;
  const int ENC_DEPTH = cfg->enc_depth, DEC_DEPTH = cfg->dec_depth;
  (void)P;
#define MAE_TENSOR(field, nm, init, tr, nd, d0, d1, d2, d3, d4)      \
  {                                                                  \
    const int64_t shape[5] = {d0, d1, d2, d3, d4};                   \
    fn(ctx, nm, MAE_INIT_##init, tr, nd, shape, &ps->field);         \
  }
#define MAE_STACK(field, prefix, depth, width) \
  for (int i = 0; i < (depth); i++) walk_block(cfg, &ps->field[i], prefix, i, width, fn, ctx);
#include "mae_tensors.def"
}

int mae_params_alloc_stacks(const MaeConfig *cfg, MaeParams *ps) {
  const int ENC_DEPTH = cfg->enc_depth, DEC_DEPTH = cfg->dec_depth;
  memset(ps, 0, sizeof *ps);
#define MAE_STACK(field, prefix, depth, width)                                   \
  if (!(ps->field = calloc((depth) > 0 ? (size_t)(depth) : 1, sizeof(MaeBlockParams)))) { \
    mae_params_free_stacks(ps);                                                  \
    return -1;                                                                   \
  }
#include "mae_tensors.def"
  return 0;
}

void mae_params_free_stacks(MaeParams *ps) {
#define MAE_STACK(field, prefix, depth, width) \
  free(ps->field);                             \
  ps->field = NULL;
#include "mae_tensors.def"
}

typedef struct BindCtx {
  float *base;
  size_t offset;
} BindCtx;

static void bind_one(void *ctx, const char *name, int init, int trainable, int ndim,
                     const int64_t shape[5], float **slot) {
  BindCtx *b = ctx;
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
  *slot = b->base ? b->base + b->offset : NULL;
  b->offset += (n + 15) & ~(size_t)15; /* 64-byte alignment for every tensor */
}

size_t mae_params_bind(const MaeConfig *cfg, MaeParams *ps, float *base) {
  BindCtx b = {base, 0};
  mae_walk(cfg, ps, bind_one, &b);
  return b.offset;
}
