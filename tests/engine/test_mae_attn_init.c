/* Local attention initialisation (engine/mae_attn_init.h): at step 0, with
 * only the positional tables as input, every decoder head of cpu-small looks
 * hardest at the neighbour its offset names and every encoder head at the
 * token itself; values, projections and the rest stay MAE's init. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mae.h"
#include "mae_attn_init.h"
#include "tap.h"

/* LayerNorm (weight 1, bias 0, as at init) of row r of a positional table. */
static void layer_norm_row(const float *table, int r, int W, double *x) {
  double mean = 0, var = 0;
  for (int c = 0; c < W; c++) mean += table[(size_t)r * W + c];
  mean /= W;
  for (int c = 0; c < W; c++) var += pow(table[(size_t)r * W + c] - mean, 2);
  var /= W;
  for (int c = 0; c < W; c++) x[c] = (table[(size_t)r * W + c] - mean) / sqrt(var + 1e-6);
}

typedef struct HeadScore {
  int hits, tokens;  /* tokens whose largest logit is at the expected token */
  double mass;       /* mean softmax weight on the expected token */
} HeadScore;

/* Head h of a block: for every token whose expected partner (token + delta)
 * lies in the grid, where do its logits peak? */
static HeadScore score_head(const MaeModel *m, const char *block, const char *table_name, int W,
                            int heads, int h, const int delta[3]) {
  const MaeTensor *qkv = mae_model_find_tensor(m, block);
  const MaeTensor *pos = mae_model_find_tensor(m, table_name);
  int grid[3];
  mae_config_grid(mae_model_config(m), grid);
  const int L = grid[0] * grid[1] * grid[2], d = W / heads;
  double *x = malloc(sizeof(double) * (size_t)L * W);
  double *q = malloc(sizeof(double) * (size_t)L * d), *k = malloc(sizeof(double) * (size_t)L * d);
  for (int t = 0; t < L; t++) layer_norm_row(pos->data, 1 + t, W, x + (size_t)t * W);
  for (int t = 0; t < L; t++)
    for (int r = 0; r < d; r++) {
      const float *wq = qkv->data + (size_t)(h * d + r) * W, *wk = wq + (size_t)W * W;
      double sq = 0, sk = 0;
      for (int c = 0; c < W; c++) sq += wq[c] * x[(size_t)t * W + c], sk += wk[c] * x[(size_t)t * W + c];
      q[(size_t)t * d + r] = sq, k[(size_t)t * d + r] = sk;
    }
  HeadScore s = {0, 0, 0};
  double *logit = malloc(sizeof(double) * L);
  for (int z = 0; z < grid[0]; z++)
    for (int y = 0; y < grid[1]; y++)
      for (int xx = 0; xx < grid[2]; xx++) {
        int tz = z + delta[0], ty = y + delta[1], tx = xx + delta[2];
        if (tz < 0 || ty < 0 || tx < 0 || tz >= grid[0] || ty >= grid[1] || tx >= grid[2]) continue;
        int i = (z * grid[1] + y) * grid[2] + xx, want = (tz * grid[1] + ty) * grid[2] + tx;
        int best = 0;
        double top = -1e300, sum = 0;
        for (int j = 0; j < L; j++) {
          double dot = 0;
          for (int r = 0; r < d; r++) dot += q[(size_t)i * d + r] * k[(size_t)j * d + r];
          logit[j] = dot / sqrt((double)d);
          if (logit[j] > top) top = logit[j], best = j;
        }
        for (int j = 0; j < L; j++) sum += exp(logit[j] - top);
        s.tokens++;
        s.hits += best == want;
        s.mass += exp(logit[want] - top) / sum;
      }
  s.mass /= s.tokens;
  free(x), free(q), free(k), free(logit);
  return s;
}

static void test_offsets(void) {
  static const int cube[6][3] = {{0, 0, -1}, {0, 0, 1}, {0, -1, 0}, {0, 1, 0}, {-1, 0, 0}, {1, 0, 0}};
  const int grid[3] = {6, 6, 6}, flat[3] = {1, 6, 6};
  int ok = 1, delta[3];
  for (int k = 0; k < 15; k++) {
    mae_attn_offset_of_head(k, grid, delta);
    const int *want = k % 7 < 6 ? cube[k % 7] : (const int[3]){0, 0, 0};
    ok &= memcmp(delta, want, sizeof delta) == 0;
  }
  TAP_OK(ok, "offsets cycle x-1, x+1, y-1, y+1, z-1, z+1, self");
  ok = 1;
  for (int k = 0; k < 10; k++) {
    mae_attn_offset_of_head(k, flat, delta);
    const int *want = k % 5 < 4 ? cube[k % 5] : (const int[3]){0, 0, 0};
    ok &= memcmp(delta, want, sizeof delta) == 0;
  }
  TAP_OK(ok, "a grid one token deep has no z offsets");
}

static void test_cpu_small_start(void) {
  MaeConfig c;
  MaeModel *m;
  mae_config_named(&c, "cpu-small", NULL);
  if (!TAP_OK(mae_model_create(&m, &c, 0, NULL) == 0, "cpu-small model created")) return;
  int grid[3];
  mae_config_grid(&c, grid);
  char name[64];
  /* A head is rank d = W / heads, so its logits are the positional
   * similarity seen through a random d-dimensional projection: the peak is at
   * the intended token for most tokens, not all, and the weight there is
   * what shows the head is local. */
  double worst_mass = 1, worst_hits = 1;
  for (int b = 0; b < c.dec_depth; b++)
    for (int h = 0; h < c.dec_heads; h++) {
      int delta[3];
      mae_attn_offset_of_head(b * c.dec_heads + h, grid, delta);
      snprintf(name, sizeof name, "decoder_blocks.%d.attn.qkv.weight", b);
      HeadScore s = score_head(m, name, "decoder_pos_embed", c.dec_dim, c.dec_heads, h, delta);
      tap_diag("decoder block %d head %d, offset (%d,%d,%d): peak at the offset for %d of %d tokens, "
               "mean weight there %.3f (uniform %.4f)", b, h, delta[0], delta[1], delta[2], s.hits,
               s.tokens, s.mass, 1.0 / 216);
      worst_hits = fmin(worst_hits, (double)s.hits / s.tokens);
      worst_mass = fmin(worst_mass, s.mass);
    }
  TAP_OK(worst_mass > 0.3, "every decoder head puts over 0.3 of its weight on its offset token, "
         "65x uniform (worst %.3f)", worst_mass);
  TAP_OK(worst_hits > 0.5, "and peaks there for most tokens (worst %.2f)", worst_hits);
  worst_mass = 1, worst_hits = 1;
  const int self[3] = {0, 0, 0};
  for (int b = 0; b < c.enc_depth; b++)
    for (int h = 0; h < c.enc_heads; h++) {
      snprintf(name, sizeof name, "blocks.%d.attn.qkv.weight", b);
      HeadScore s = score_head(m, name, "pos_embed", c.enc_dim, c.enc_heads, h, self);
      tap_diag("encoder block %d head %d: peak at itself for %d of %d tokens, weight %.3f", b, h,
               s.hits, s.tokens, s.mass);
      worst_hits = fmin(worst_hits, (double)s.hits / s.tokens);
      worst_mass = fmin(worst_mass, s.mass);
    }
  TAP_OK(worst_mass > 0.3 && worst_hits > 0.5,
         "every encoder head looks at the token itself first (worst weight %.3f, peak for %.2f)",
         worst_mass, worst_hits);

  /* values and projections are MAE's xavier-uniform */
  const MaeTensor *qkv = mae_model_find_tensor(m, "decoder_blocks.1.attn.qkv.weight");
  double bound = sqrt(6.0 / (128 + 384)), mx = 0;
  for (size_t j = (size_t)2 * 128 * 128; j < qkv->numel; j++) mx = fmax(mx, fabs(qkv->data[j]));
  TAP_OK(mx <= bound && mx > 0.99 * bound, "value rows stay xavier-uniform within %.4f (max %.4f)", bound, mx);
  const MaeTensor *enc = mae_model_find_tensor(m, "blocks.3.attn.qkv.weight");
  int same = memcmp(enc->data, enc->data + 192 * 192, sizeof(float) * 192 * 192) == 0;
  TAP_OK(same, "encoder similarity heads: W_q = W_k");

  MaeModel *again;
  mae_model_create(&again, &c, 0, NULL);
  const MaeTensor *t1 = mae_model_find_tensor(m, "decoder_blocks.0.attn.qkv.weight");
  const MaeTensor *t2 = mae_model_find_tensor(again, "decoder_blocks.0.attn.qkv.weight");
  TAP_OK(memcmp(t1->data, t2->data, t1->numel * sizeof(float)) == 0, "local init is deterministic");
  mae_model_free(again);

  /* the reference start, for comparison: no head prefers its "offset" */
  MaeConfig ref = c;
  mae_config_use_reference_init(&ref);
  MaeModel *x;
  mae_model_create(&x, &ref, 0, NULL);
  int delta[3];
  mae_attn_offset_of_head(0, grid, delta);
  HeadScore s = score_head(x, "decoder_blocks.0.attn.qkv.weight", "decoder_pos_embed", 128, 4, 0, delta);
  tap_diag("xavier start, decoder head 0: weight at the x-1 neighbour %.4f", s.mass);
  TAP_OK(s.mass < 5.0 / 216, "with xavier weights attention starts near uniform (%.4f)", s.mass);
  mae_model_free(x);
  mae_model_free(m);
}

int main(void) {
  test_offsets();
  test_cpu_small_start();
  return tap_done();
}
