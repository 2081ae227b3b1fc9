/* Inside the MAE: the pointer structs generated from mae_tensors.def, the
 * activation layout, and the walker that binds a struct to one allocation.
 * For the engine sources and the engine tests only. */
#pragma once

#include "mae.h"

enum { MAE_INIT_ZERO, MAE_INIT_ONE, MAE_INIT_NORMAL, MAE_INIT_XAVIER, MAE_INIT_SINCOS };

typedef struct MaeBlockParams {
#define MAE_BLOCK_TENSOR(field, name, init, ndim, d0, d1) float *field;
#include "mae_tensors.def"
} MaeBlockParams;

typedef struct MaeParams {
#define MAE_TENSOR(field, name, init, trainable, ndim, d0, d1, d2, d3, d4) float *field;
#define MAE_STACK(field, prefix, depth, width) MaeBlockParams *field;
#include "mae_tensors.def"
} MaeParams;

/* Called once per tensor, in .def order (stacks expanded block by block). */
typedef void (*MaeWalkFunc)(void *ctx, const char *name, int init, int trainable, int ndim,
                            const int64_t shape[5], float **slot);
/* Walks cfg's tensors; slot points at the field of ps that holds the tensor
 * (ps's stack arrays must be allocated, see mae_params_alloc_stacks). */
void mae_walk(const MaeConfig *cfg, MaeParams *ps, MaeWalkFunc fn, void *ctx);
/* Allocates (0) or frees ps's stack arrays; -1 when out of memory. */
int mae_params_alloc_stacks(const MaeConfig *cfg, MaeParams *ps);
void mae_params_free_stacks(MaeParams *ps);
/* Binds every field of ps to consecutive 64-byte aligned slices of base (or
 * to NULL if base is NULL); returns the number of floats the set needs. */
size_t mae_params_bind(const MaeConfig *cfg, MaeParams *ps, float *base);

typedef struct MaeBlockActs {
  float *ln1, *ln1_mean, *ln1_rstd; // (B, N, W), (B, N), (B, N)
  float *qkv;                       // (B, N, 3W)
  float *probs;                     // (B, H, N, N)
  float *att;                       // (B, N, W)
  float *x_mid;                     // (B, N, W) residual after attention
  float *ln2, *ln2_mean, *ln2_rstd; // (B, N, W), (B, N), (B, N)
  float *fc1;                       // (B, N, HID) before GELU
  float *gelu;                      // (B, N, HID)
} MaeBlockActs;

/* Gradient scratch a block's backward pass works in, sized for its largest
 * use (rows = B * N of the widest block). */
typedef struct MaeBlockScratch {
  float *d_ln, *d_att;              // (B, N, W)
  float *d_qkv;                     // (B, N, 3W)
  float *d_hid;                     // (B, N, HID)
  float *d_probs;                   // (B, H, N, N)
} MaeBlockScratch;

/* One pre-norm transformer block (LN, attention, residual, LN, MLP,
 * residual), shared by the MAE and the segmentation encoder. */
void mae_block_forward(MaeBlockActs *a, float *x_out,      // x_out (B, N, W)
                       const float *x_in,                  // (B, N, W)
                       const MaeBlockParams *p, int B, int N, int W, int H, int HID, float eps);
/* d_res: in, the gradient of the block's output; out, of its input. */
void mae_block_backward(MaeBlockParams *g, float *d_res,   // d_res (B, N, W)
                        const MaeBlockScratch *s, const MaeBlockActs *a,
                        const float *x_in,                 // (B, N, W)
                        const MaeBlockParams *p, int B, int N, int W, int H, int HID);

typedef struct MaeActs {
  float *patches;                   // (B, L, P)
  float *target;                    // (B, L, P) norm-pix targets
  float *vis_patches;               // (B, K, P)
  float *emb;                       // (B, K, C)
  float **enc_res;                  // [depth + 1] of (B, N, C), N = K + 1
  MaeBlockActs *enc;                // [depth]
  float *enc_norm, *enc_norm_mean, *enc_norm_rstd; // (B, N, C), (B, N), (B, N)
  float *dec_emb;                   // (B, N, CD)
  float **dec_res;                  // [ddepth + 1] of (B, Nd, CD), Nd = L + 1
  MaeBlockActs *dec;                // [ddepth]
  float *dec_norm, *dec_norm_mean, *dec_norm_rstd; // (B, Nd, CD), (B, Nd), (B, Nd)
  float *pred;                      // (B, Nd, P)
  /* backward scratch */
  float *dpred;                     // (B, Nd, P)
  float *d_dec_norm;                // (B, Nd, CD)
  float *d_dec_res;                 // (B, Nd, CD)
  float *d_dec_emb;                 // (B, N, CD)
  float *d_enc_norm;                // (B, N, C)
  float *d_enc_res;                 // (B, N, C)
  float *d_emb;                     // (B, K, C)
  float *d_ln, *d_att;              // (B, max rows, max width)
  float *d_qkv;                     // (B, max rows, 3 max width)
  float *d_hid;                     // (B, max rows, max hidden)
  float *d_probs;                   // (B, max heads, max rows, max rows)
} MaeActs;

typedef struct MaeTensorEntry {
  MaeTensor t;
  int init;
  size_t offset; /* in floats from the start of the parameter allocation */
} MaeTensorEntry;

/* What one thread needs for forward + backward over its share of a batch:
 * activations (one allocation, laid out for (act_B, act_K), grown on
 * demand), the mask bookkeeping, and its own parameter gradients (worker 0
 * uses the model's grad_mem; the others sum into it after backward). */
typedef struct MaeWork {
  float *act_mem;
  size_t act_floats;
  int act_B, act_K;
  MaeActs acts;
  int *vis;      /* (B, K) token of each visible slot, ascending */
  int *slot;     /* (B, L) visible slot of each token, -1 if masked */
  uint8_t *mask; /* (B, L) */
  int cap_B;     /* samples the index arrays hold */
  int cur_B, cur_K;
  MaeParams grads;
  float *grad_mem; /* owned by workers > 0 */
} MaeWork;

struct MaeModel {
  MaeConfig cfg;
  int L, P, grid[3];
  MaeParams params;
  float *param_mem, *grad_mem; /* grad_mem: worker 0's gradients, the table's grad */
  size_t n_floats;
  MaeTensorEntry *table;
  int n_tensors;
  /* A batch is split into n_parts contiguous shares, one per thread, each
   * run single-threaded; with one part the layers parallelise inside. */
  MaeWork *work;
  int n_work;         /* allocated workers */
  int n_parts;        /* workers used by the last forward */
  int part_start[65]; /* first sample of each part, part_start[n_parts] = B */
  int n_masked;       /* masked tokens of the whole last batch */
  int have_forward;
};
/* The fixed 3D sin-cos table (1, L + 1, width) described in mae.h. */
void mae_sincos_table(float *table, const int grid[3], int width, float max_freq,
                      float temperature);
/* Where each axis's channels start in a table row of this width, and how
 * many there are (mae.h: [d: n][h: n][w: m], a last odd channel stays 0). */
void mae_sincos_axis_blocks(int width, int first[3], int channels[3]);
/* omega_i of channel pair i of an axis block of k channels (mae.h). */
double mae_sincos_freq(int i, int k, float max_freq, float temperature);
