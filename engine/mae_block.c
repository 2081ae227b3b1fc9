/* The pre-norm transformer block (see mae_internal.h). */
#include "mae_internal.h"
#include "nn.h"

void mae_block_forward(MaeBlockActs *a, float *x_out, const float *x_in, const MaeBlockParams *p,
                       int B, int N, int W, int H, int HID, float eps) {
  int M = B * N;
  nn_layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, x_in, p->norm1_w, p->norm1_b, M, W, eps);
  nn_linear_forward(a->qkv, a->ln1, p->qkv_w, p->qkv_b, M, W, 3 * W);
  nn_attention_forward(a->att, a->probs, a->qkv, B, N, W, H);
  nn_linear_forward(a->x_mid, a->att, p->proj_w, p->proj_b, M, W, W);
  nn_residual_forward(a->x_mid, a->x_mid, x_in, (size_t)M * W);
  nn_layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->x_mid, p->norm2_w, p->norm2_b, M, W,
                       eps);
  nn_linear_forward(a->fc1, a->ln2, p->fc1_w, p->fc1_b, M, W, HID);
  nn_gelu_forward(a->gelu, a->fc1, (size_t)M * HID);
  nn_linear_forward(x_out, a->gelu, p->fc2_w, p->fc2_b, M, HID, W);
  nn_residual_forward(x_out, x_out, a->x_mid, (size_t)M * W);
}

void mae_block_backward(MaeBlockParams *g, float *d_res, const MaeBlockScratch *s,
                        const MaeBlockActs *a, const float *x_in, const MaeBlockParams *p, int B,
                        int N, int W, int H, int HID) {
  int M = B * N;
  nn_linear_backward(s->d_hid, g->fc2_w, g->fc2_b, d_res, a->gelu, p->fc2_w, M, HID, W);
  nn_gelu_backward(s->d_hid, s->d_hid, a->fc1, (size_t)M * HID);
  nn_linear_backward(s->d_ln, g->fc1_w, g->fc1_b, s->d_hid, a->ln2, p->fc1_w, M, W, HID);
  nn_layernorm_backward(d_res, g->norm2_w, g->norm2_b, s->d_ln, a->x_mid, p->norm2_w, a->ln2_mean,
                        a->ln2_rstd, M, W);
  nn_linear_backward(s->d_att, g->proj_w, g->proj_b, d_res, a->att, p->proj_w, M, W, W);
  nn_attention_backward(s->d_qkv, s->d_probs, s->d_att, a->qkv, a->probs, B, N, W, H);
  nn_linear_backward(s->d_ln, g->qkv_w, g->qkv_b, s->d_qkv, a->ln1, p->qkv_w, M, W, 3 * W);
  nn_layernorm_backward(d_res, g->norm1_w, g->norm1_b, s->d_ln, x_in, p->norm1_w, a->ln1_mean,
                        a->ln1_rstd, M, W);
}
