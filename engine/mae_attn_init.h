/* Local attention initialisation: query/key weights that make attention
 * local from the first step, so that a small MAE trained on one volume leaves
 * the "predict the patch mean" plateau in hundreds of steps, not thousands.
 *
 * With xavier weights every head starts out averaging all tokens: a masked
 * token's decoder input is then ~90% the (identical) mask tokens, and the
 * model has to find position-selective attention from a near-zero gradient
 * before it can copy anything from a visible neighbour. Two published cures,
 * applied to the query/key rows only (values, projections and MLPs stay
 * xavier, and the weights keep the reference MAE layout):
 *
 *  - similarity heads (mimetic initialisation, Trockman & Kolter 2023):
 *    W_q^h = W_k^h = scale * G_h^T with G_h (W, d) ~ N(0, 1/W), so that head
 *    h's logit q_i . k_j / sqrt(d) starts near scale^2 * sqrt(d) * cos(x_i,
 *    x_j): a token attends to tokens like itself, which with the sin-cos
 *    positions means near itself.
 *  - offset heads (as ConViT's positional heads, d'Ascoli et al. 2021):
 *    W_q^h = scale * G_h^T R_delta, W_k^h = scale * G_h^T, where R_delta
 *    turns every sin/cos channel pair of the positional table by
 *    omega_i * delta on its axis, so that the positional part of the logit
 *    peaks at the token delta grid steps away.
 *
 * x_i here is a block's LayerNorm output, whose positional part is the
 * sin-cos table (mae.h): the rotation uses the table's own frequencies. */
#pragma once

#include "rng.h"

/* Query rows [0, W) and key rows [W, 2W) of one block's qkv weight (3W, W)
 * as similarity heads. */
void mae_attn_init_similar(float *qkv_w, // (3W, W)
                           int W, float scale, Rng *rng);

/* The same as offset heads: head h of this block looks delta = offsets of
 * number first_head + h away, cycling through the six face neighbours on the
 * axes whose grid is longer than 1 (x first, then y, then z), then the token
 * itself. The table layout (channel split per axis) is mae.h's. */
void mae_attn_init_offset(float *qkv_w, // (3W, W)
                          int W, int heads, int first_head, const int grid[3],
                          float max_freq, float temperature, float scale, Rng *rng);

/* The offset of head number k (as above), for tests and documentation. */
void mae_attn_offset_of_head(int k, const int grid[3], int delta[3]);
