/* The MAE model: allocation, tensor table, initialisation, forward, backward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act_layout.h"
#include "aligned.h"
#include "mae_attn_init.h"
#include "mae_internal.h"
#include "nn.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- tensor table ---- */

typedef struct TableCtx {
  MaeModel *m;
  int count;
  size_t offset;
} TableCtx;

static void table_one(void *ctx, const char *name, int init, int trainable, int ndim,
                      const int64_t shape[5], float **slot) {
  TableCtx *c = ctx;
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
  if (c->m->table) {
    MaeTensorEntry *e = &c->m->table[c->count];
    snprintf(e->t.name, sizeof e->t.name, "%s", name);
    e->t.ndim = ndim;
    for (int i = 0; i < 5; i++) e->t.shape[i] = i < ndim ? shape[i] : 1;
    e->t.numel = n;
    e->t.data = *slot;
    e->t.trainable = trainable;
    e->init = init;
    e->offset = c->offset;
  }
  c->count++;
  c->offset += (n + 15) & ~(size_t)15;
}

static void build_table(MaeModel *m) {
  TableCtx c = {m, 0, 0};
  mae_walk(&m->cfg, &m->params, table_one, &c);
  for (int i = 0; i < m->n_tensors; i++) {
    MaeTensorEntry *e = &m->table[i];
    e->t.grad = e->t.trainable ? m->grad_mem + e->offset : NULL;
  }
}

/* OpenBLAS's own thread control (Debian's cblas.h declares it; not every one does). */
void openblas_set_num_threads(int num_threads);

int mae_model_create(MaeModel **out, const MaeConfig *cfg, uint64_t seed, MaeError *err) {
  *out = NULL;
  /* The engine splits its GEMMs over OpenMP itself: a second, spinning
   * thread pool inside BLAS only competes for the same cores. */
  openblas_set_num_threads(1);
  if (mae_config_validate(cfg, err)) return -1;
  MaeModel *m = calloc(1, sizeof *m);
  if (!m) return mae_error_set(err, "mae_model: out of memory");
  m->cfg = *cfg;
  m->L = mae_config_tokens(cfg);
  m->P = mae_config_patch_voxels(cfg);
  mae_config_grid(cfg, m->grid);
  if (mae_params_alloc_stacks(cfg, &m->params)) {
    mae_model_free(m);
    return mae_error_set(err, "mae_model: out of memory");
  }
  m->n_floats = mae_params_bind(cfg, &m->params, NULL);
  m->param_mem = aligned_alloc64(m->n_floats * sizeof(float));
  m->grad_mem = aligned_alloc64(m->n_floats * sizeof(float));
  TableCtx count = {m, 0, 0};
  mae_walk(cfg, &m->params, table_one, &count);
  m->n_tensors = count.count;
  m->table = calloc((size_t)m->n_tensors, sizeof *m->table);
  if (!m->param_mem || !m->grad_mem || !m->table) {
    mae_model_free(m);
    return mae_error_set(err, "mae_model: out of memory for %zu parameters", m->n_floats);
  }
  memset(m->param_mem, 0, m->n_floats * sizeof(float));
  memset(m->grad_mem, 0, m->n_floats * sizeof(float));
  mae_params_bind(cfg, &m->params, m->param_mem);
  build_table(m);
  mae_model_init(m, seed);
  *out = m;
  return 0;
}

static void work_free(MaeWork *w) {
  free(w->act_mem);
  free(w->acts.enc_res);
  free(w->acts.dec_res);
  free(w->acts.enc);
  free(w->acts.dec);
  free(w->vis);
  free(w->slot);
  free(w->mask);
  free(w->grad_mem);
  mae_params_free_stacks(&w->grads);
}

void mae_model_free(MaeModel *m) {
  if (!m) return;
  mae_params_free_stacks(&m->params);
  free(m->param_mem);
  free(m->grad_mem);
  free(m->table);
  for (int i = 0; i < m->n_work; i++) work_free(&m->work[i]);
  free(m->work);
  free(m);
}

const MaeConfig *mae_model_config(const MaeModel *m) { return &m->cfg; }
int mae_model_n_tensors(const MaeModel *m) { return m->n_tensors; }
const MaeTensor *mae_model_tensor(const MaeModel *m, int i) {
  return i >= 0 && i < m->n_tensors ? &m->table[i].t : NULL;
}
const MaeTensor *mae_model_find_tensor(const MaeModel *m, const char *name) {
  for (int i = 0; i < m->n_tensors; i++)
    if (strcmp(m->table[i].t.name, name) == 0) return &m->table[i].t;
  return NULL;
}
size_t mae_model_n_params(const MaeModel *m) {
  size_t n = 0;
  for (int i = 0; i < m->n_tensors; i++)
    if (m->table[i].t.trainable) n += m->table[i].t.numel;
  return n;
}

void mae_model_zero_grad(MaeModel *m) { memset(m->grad_mem, 0, m->n_floats * sizeof(float)); }

void mae_model_init(MaeModel *m, uint64_t seed) {
  Rng rng;
  rng_seed(&rng, seed);
  for (int i = 0; i < m->n_tensors; i++) {
    MaeTensor *t = &m->table[i].t;
    float *x = t->data;
    switch (m->table[i].init) {
    case MAE_INIT_ZERO:
      memset(x, 0, t->numel * sizeof(float));
      break;
    case MAE_INIT_ONE:
      for (size_t j = 0; j < t->numel; j++) x[j] = 1.f;
      break;
    case MAE_INIT_NORMAL:
      for (size_t j = 0; j < t->numel; j++) x[j] = 0.02f * rng_normal(&rng);
      break;
    case MAE_INIT_XAVIER: {
      /* xavier-uniform on the (fan_out, fan_in) view, as torch does */
      double fan_out = (double)t->shape[0], fan_in = (double)t->numel / fan_out;
      double bound = sqrt(6.0 / (fan_in + fan_out));
      for (size_t j = 0; j < t->numel; j++)
        x[j] = (float)((2.0 * rng_uniform_f64(&rng) - 1.0) * bound);
      break;
    }
    case MAE_INIT_SINCOS:
      mae_sincos_table(x, m->grid, (int)t->shape[2], m->cfg.pos_max_freq,
                       m->cfg.pos_temperature);
      break;
    }
  }
  if (m->cfg.attn_init == MAE_ATTN_INIT_LOCAL) {
    /* Scales from 2000-step runs on ISBI, FIB-SEM and a z-repeated ISBI stack
     * (bench/README.md): logits start near 1.44 sqrt(d) (encoder) and
     * 4 sqrt(d) (decoder) times the cosine of the two tokens. */
    const MaeConfig *c = &m->cfg;
    for (int b = 0; b < c->enc_depth; b++)
      mae_attn_init_similar(m->params.blocks[b].qkv_w, c->enc_dim, 1.2f, &rng);
    for (int b = 0; b < c->dec_depth; b++)
      mae_attn_init_offset(m->params.decoder_blocks[b].qkv_w, c->dec_dim, c->dec_heads,
                           b * c->dec_heads, m->grid, c->pos_max_freq, c->pos_temperature, 2.0f,
                           &rng);
  }
}

/* ---- activations (act_layout.h) ---- */

static void layout_block(Layout *l, MaeBlockActs *a, size_t B, size_t N, size_t W, size_t H,
                         size_t HID) {
  a->ln1 = take(l, B * N * W);
  a->ln1_mean = take(l, B * N);
  a->ln1_rstd = take(l, B * N);
  a->qkv = take(l, B * N * 3 * W);
  a->probs = take(l, B * H * N * N);
  a->att = take(l, B * N * W);
  a->x_mid = take(l, B * N * W);
  a->ln2 = take(l, B * N * W);
  a->ln2_mean = take(l, B * N);
  a->ln2_rstd = take(l, B * N);
  a->fc1 = take(l, B * N * HID);
  a->gelu = take(l, B * N * HID);
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static size_t layout_acts(const MaeModel *m, MaeActs *a, float *base, int Bi, int Ki) {
  const MaeConfig *c = &m->cfg;
  Layout l = {base, 0};
  size_t B = Bi, K = Ki, N = K + 1, L = m->L, Nd = L + 1, P = m->P;
  size_t C = c->enc_dim, CD = c->dec_dim, H = c->enc_heads, HD = c->dec_heads;
  size_t r = c->mlp_ratio;
  a->patches = take(&l, B * L * P);
  a->target = take(&l, B * L * P);
  a->vis_patches = take(&l, B * K * P);
  a->emb = take(&l, B * K * C);
  for (int i = 0; i <= c->enc_depth; i++) a->enc_res[i] = take(&l, B * N * C);
  for (int i = 0; i < c->enc_depth; i++) layout_block(&l, &a->enc[i], B, N, C, H, r * C);
  a->enc_norm = take(&l, B * N * C);
  a->enc_norm_mean = take(&l, B * N);
  a->enc_norm_rstd = take(&l, B * N);
  a->dec_emb = take(&l, B * N * CD);
  for (int i = 0; i <= c->dec_depth; i++) a->dec_res[i] = take(&l, B * Nd * CD);
  for (int i = 0; i < c->dec_depth; i++) layout_block(&l, &a->dec[i], B, Nd, CD, HD, r * CD);
  a->dec_norm = take(&l, B * Nd * CD);
  a->dec_norm_mean = take(&l, B * Nd);
  a->dec_norm_rstd = take(&l, B * Nd);
  a->pred = take(&l, B * Nd * P);
  a->dpred = take(&l, B * Nd * P);
  a->d_dec_norm = take(&l, B * Nd * CD);
  a->d_dec_res = take(&l, B * Nd * CD);
  a->d_dec_emb = take(&l, B * N * CD);
  a->d_enc_norm = take(&l, B * N * C);
  a->d_enc_res = take(&l, B * N * C);
  a->d_emb = take(&l, B * K * C);
  size_t rows_w = max_sz(N * C, Nd * CD);
  a->d_ln = take(&l, B * rows_w);
  a->d_att = take(&l, B * rows_w);
  a->d_qkv = take(&l, B * 3 * rows_w);
  a->d_hid = take(&l, B * r * rows_w);
  a->d_probs = take(&l, B * max_sz(H * N * N, HD * Nd * Nd));
  return l.off;
}

/* Lays w's activations out for (B, K), growing its allocation if needed. */
static int work_ensure(const MaeModel *m, MaeWork *w, int B, int K) {
  const MaeConfig *c = &m->cfg;
  MaeActs *a = &w->acts;
  if (!a->enc_res) {
    a->enc_res = calloc((size_t)c->enc_depth + 1, sizeof(float *));
    a->dec_res = calloc((size_t)c->dec_depth + 1, sizeof(float *));
    a->enc = calloc((size_t)c->enc_depth + 1, sizeof(MaeBlockActs));
    a->dec = calloc((size_t)c->dec_depth + 1, sizeof(MaeBlockActs));
    if (!a->enc_res || !a->dec_res || !a->enc || !a->dec) return -1;
  }
  if (w->act_mem && w->act_B == B && w->act_K == K) return 0;
  size_t need = layout_acts(m, a, NULL, B, K);
  if (need > w->act_floats) {
    free(w->act_mem);
    w->act_mem = aligned_alloc64(need * sizeof(float));
    w->act_floats = w->act_mem ? need : 0;
    if (!w->act_mem) return -1;
  }
  if (B > w->cap_B) {
    free(w->vis), free(w->slot), free(w->mask);
    w->vis = malloc((size_t)B * m->L * sizeof(int));
    w->slot = malloc((size_t)B * m->L * sizeof(int));
    w->mask = malloc((size_t)B * m->L);
    w->cap_B = w->vis && w->slot && w->mask ? B : 0;
    if (!w->cap_B) return -1;
  }
  layout_acts(m, a, w->act_mem, B, K);
  w->act_B = B;
  w->act_K = K;
  return 0;
}

/* Workers 1.. own gradient buffers laid out as the parameters. */
static int ensure_workers(MaeModel *m, int n) {
  if (n <= m->n_work) return 0;
  MaeWork *w = realloc(m->work, sizeof(MaeWork) * n);
  if (!w) return -1;
  m->work = w;
  for (int i = m->n_work; i < n; i++) {
    memset(&w[i], 0, sizeof w[i]);
    if (mae_params_alloc_stacks(&m->cfg, &w[i].grads)) return -1;
    if (i == 0) {
      mae_params_bind(&m->cfg, &w[i].grads, m->grad_mem);
    } else {
      w[i].grad_mem = aligned_alloc64(m->n_floats * sizeof(float));
      if (!w[i].grad_mem) {
        mae_params_free_stacks(&w[i].grads);
        return -1;
      }
      mae_params_bind(&m->cfg, &w[i].grads, w[i].grad_mem);
    }
    m->n_work = i + 1;
  }
  return 0;
}

/* ---- model, one worker's share ---- */

/* Forward over B samples; *sse = sum over masked tokens of mean_p (pred - target)^2. */
static void work_forward(const MaeModel *m, MaeWork *w, const float *crops, const uint8_t *mask,
                         int B, int K, float *pred, double *sse) {
  const MaeConfig *c = &m->cfg;
  const MaeParams *p = &m->params;
  const int L = m->L, P = m->P, C = c->enc_dim, CD = c->dec_dim, Nd = L + 1, N = K + 1;
  MaeActs *a = &w->acts;
  w->cur_B = B;
  w->cur_K = K;
  memcpy(w->mask, mask, (size_t)B * L);
  for (int b = 0; b < B; b++) {
    int j = 0;
    for (int t = 0; t < L; t++) {
      int visible = mask[(size_t)b * L + t] == 0;
      w->slot[(size_t)b * L + t] = visible ? j : -1;
      if (visible) w->vis[(size_t)b * K + j++] = t;
    }
  }

  /* patches, targets, visible patches */
#pragma omp parallel for schedule(static) if ((size_t)B * L * P > 65536)
  for (int b = 0; b < B; b++)
    mae_patchify(c, crops + (size_t)b * mae_config_crop_voxels(c), a->patches + (size_t)b * L * P);
  nn_normpix_target(a->target, a->patches, B * L, P);
  for (int b = 0; b < B; b++)
    for (int j = 0; j < K; j++)
      memcpy(a->vis_patches + ((size_t)b * K + j) * P,
             a->patches + ((size_t)b * L + w->vis[(size_t)b * K + j]) * P, sizeof(float) * P);

  /* encoder on [cls; visible tokens] */
  nn_linear_forward(a->emb, a->vis_patches, p->patch_w, p->patch_b, B * K, P, C);
  for (int b = 0; b < B; b++) {
    float *x = a->enc_res[0] + (size_t)b * N * C;
    for (int i = 0; i < C; i++) x[i] = p->cls_token[i] + p->pos_embed[i];
    for (int j = 0; j < K; j++) {
      const float *e = a->emb + ((size_t)b * K + j) * C;
      const float *pos = p->pos_embed + (size_t)(1 + w->vis[(size_t)b * K + j]) * C;
      float *y = x + (size_t)(1 + j) * C;
      for (int i = 0; i < C; i++) y[i] = e[i] + pos[i];
    }
  }
  for (int l = 0; l < c->enc_depth; l++)
    mae_block_forward(&a->enc[l], a->enc_res[l + 1], a->enc_res[l], &p->blocks[l], B, N, C,
                  c->enc_heads, c->mlp_ratio * C, c->ln_eps);
  nn_layernorm_forward(a->enc_norm, a->enc_norm_mean, a->enc_norm_rstd, a->enc_res[c->enc_depth],
                       p->norm_w, p->norm_b, B * N, C, c->ln_eps);

  /* decoder over [cls; all tokens], masked ones from the mask token */
  nn_linear_forward(a->dec_emb, a->enc_norm, p->dec_embed_w, p->dec_embed_b, B * N, C, CD);
  for (int b = 0; b < B; b++) {
    float *x = a->dec_res[0] + (size_t)b * Nd * CD;
    const float *e = a->dec_emb + (size_t)b * N * CD;
    for (int i = 0; i < CD; i++) x[i] = e[i] + p->dec_pos_embed[i];
    for (int t = 0; t < L; t++) {
      int j = w->slot[(size_t)b * L + t];
      const float *src = j >= 0 ? e + (size_t)(1 + j) * CD : p->mask_token;
      const float *pos = p->dec_pos_embed + (size_t)(1 + t) * CD;
      float *y = x + (size_t)(1 + t) * CD;
      for (int i = 0; i < CD; i++) y[i] = src[i] + pos[i];
    }
  }
  for (int l = 0; l < c->dec_depth; l++)
    mae_block_forward(&a->dec[l], a->dec_res[l + 1], a->dec_res[l], &p->decoder_blocks[l], B, Nd, CD,
                  c->dec_heads, c->mlp_ratio * CD, c->ln_eps);
  nn_layernorm_forward(a->dec_norm, a->dec_norm_mean, a->dec_norm_rstd, a->dec_res[c->dec_depth],
                       p->dec_norm_w, p->dec_norm_b, B * Nd, CD, c->ln_eps);
  nn_linear_forward(a->pred, a->dec_norm, p->pred_w, p->pred_b, B * Nd, CD, P);

  double total = 0.0;
  for (int b = 0; b < B; b++) {
    int nm = 0;
    for (int t = 0; t < L; t++) nm += mask[(size_t)b * L + t] != 0;
    double lb = nn_masked_mse_forward_backward(NULL, a->pred + ((size_t)b * Nd + 1) * P,
                                               a->target + (size_t)b * L * P, mask + (size_t)b * L,
                                               L, P);
    total += lb * nm;
  }
  *sse = total;
  if (pred)
    for (int b = 0; b < B; b++)
      memcpy(pred + (size_t)b * L * P, a->pred + ((size_t)b * Nd + 1) * P,
             sizeof(float) * (size_t)L * P);
}

/* Backward of the batch loss (mean over n_masked tokens of the whole batch)
 * restricted to this worker's samples; accumulates into w->grads. */
static void work_backward(const MaeModel *m, MaeWork *w, int n_masked) {
  const MaeConfig *c = &m->cfg;
  const MaeParams *p = &m->params;
  MaeParams *g = &w->grads;
  MaeActs *a = &w->acts;
  const int B = w->cur_B, K = w->cur_K, N = K + 1, L = m->L, Nd = L + 1, P = m->P;
  const int C = c->enc_dim, CD = c->dec_dim;
  const MaeBlockScratch scratch = {a->d_ln, a->d_att, a->d_qkv, a->d_hid, a->d_probs};

  /* loss -> pred */
  for (int b = 0; b < B; b++) {
    float *dp = a->dpred + (size_t)b * Nd * P;
    memset(dp, 0, sizeof(float) * P); /* cls row */
    nn_masked_mse_forward_backward(dp + P, a->pred + ((size_t)b * Nd + 1) * P,
                                   a->target + (size_t)b * L * P, w->mask + (size_t)b * L, L, P);
    /* that call normalised by this sample's count; rescale to the batch's */
    int nm = 0;
    for (int t = 0; t < L; t++) nm += w->mask[(size_t)b * L + t] != 0;
    if (nm && n_masked != nm) {
      float s = (float)nm / (float)n_masked;
      for (size_t i = 0; i < (size_t)L * P; i++) dp[P + i] *= s;
    }
  }

  /* decoder */
  nn_linear_backward(a->d_dec_norm, g->pred_w, g->pred_b, a->dpred, a->dec_norm, p->pred_w, B * Nd,
                     CD, P);
  memset(a->d_dec_res, 0, sizeof(float) * (size_t)B * Nd * CD);
  nn_layernorm_backward(a->d_dec_res, g->dec_norm_w, g->dec_norm_b, a->d_dec_norm,
                        a->dec_res[c->dec_depth], p->dec_norm_w, a->dec_norm_mean,
                        a->dec_norm_rstd, B * Nd, CD);
  for (int l = c->dec_depth - 1; l >= 0; l--)
    mae_block_backward(&g->decoder_blocks[l], a->d_dec_res, &scratch, &a->dec[l], a->dec_res[l],
                   &p->decoder_blocks[l], B, Nd, CD, c->dec_heads, c->mlp_ratio * CD);
  for (int b = 0; b < B; b++) {
    const float *dx = a->d_dec_res + (size_t)b * Nd * CD;
    float *de = a->d_dec_emb + (size_t)b * N * CD;
    memcpy(de, dx, sizeof(float) * CD);
    for (int t = 0; t < L; t++) {
      int j = w->slot[(size_t)b * L + t];
      const float *src = dx + (size_t)(1 + t) * CD;
      if (j >= 0)
        memcpy(de + (size_t)(1 + j) * CD, src, sizeof(float) * CD);
      else
        for (int i = 0; i < CD; i++) g->mask_token[i] += src[i];
    }
  }
  nn_linear_backward(a->d_enc_norm, g->dec_embed_w, g->dec_embed_b, a->d_dec_emb, a->enc_norm,
                     p->dec_embed_w, B * N, C, CD);

  /* encoder */
  memset(a->d_enc_res, 0, sizeof(float) * (size_t)B * N * C);
  nn_layernorm_backward(a->d_enc_res, g->norm_w, g->norm_b, a->d_enc_norm,
                        a->enc_res[c->enc_depth], p->norm_w, a->enc_norm_mean, a->enc_norm_rstd,
                        B * N, C);
  for (int l = c->enc_depth - 1; l >= 0; l--)
    mae_block_backward(&g->blocks[l], a->d_enc_res, &scratch, &a->enc[l], a->enc_res[l], &p->blocks[l], B, N,
                   C, c->enc_heads, c->mlp_ratio * C);
  for (int b = 0; b < B; b++) {
    const float *dx = a->d_enc_res + (size_t)b * N * C;
    for (int i = 0; i < C; i++) g->cls_token[i] += dx[i];
    memcpy(a->d_emb + (size_t)b * K * C, dx + C, sizeof(float) * (size_t)K * C);
  }
  nn_linear_backward(NULL, g->patch_w, g->patch_b, a->d_emb, a->vis_patches, p->patch_w, B * K, P,
                     C);
}

/* ---- model: the batch split over threads ---- */

/* Largest model (in parameter floats) whose batches are split into shares. */
#define MAE_SPLIT_MAX_FLOATS ((size_t)16 << 20)

static int max_threads(void) {
#ifdef _OPENMP
  return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
  return 1;
#endif
}

int mae_model_forward(MaeModel *m, const float *crops, const uint8_t *mask, int B, float *pred,
                      double *loss, MaeError *err) {
  const int L = m->L;
  m->have_forward = 0;
  if (B < 1) return mae_error_set(err, "mae_model: batch must be at least 1");
  int K = 0, n_masked = 0;
  for (int t = 0; t < L; t++) K += mask[t] == 0;
  for (int b = 0; b < B; b++) {
    int k = 0;
    for (int t = 0; t < L; t++) k += mask[(size_t)b * L + t] == 0;
    if (k != K)
      return mae_error_set(err, "mae_model: sample %d has %d visible tokens, sample 0 has %d", b,
                           k, K);
    n_masked += L - k;
  }
  if (K < 1) return mae_error_set(err, "mae_model: every token is masked; keep at least one");
  /* One share per thread when every thread gets a sample; the shares run
   * single-threaded, so the whole step has a single synchronisation point.
   * Not for big models: every share would stream all the weights through
   * its own packing and its own gradient copy (paper-base: 400 MB each),
   * where splitting each GEMM over the threads streams them once. */
  int parts = m->n_floats <= MAE_SPLIT_MAX_FLOATS ? max_threads() : 1;
  if (parts > B) parts = B;
  if (parts > 64) parts = 64;
  if (parts < 2) parts = 1;
  if (ensure_workers(m, parts))
    return mae_error_set(err, "mae_model: out of memory for %d workers", parts);
  for (int i = 0; i <= parts; i++) m->part_start[i] = (int)((long)B * i / parts);
  int failed = 0;
  for (int i = 0; i < parts; i++)
    failed |= work_ensure(m, &m->work[i], m->part_start[i + 1] - m->part_start[i], K);
  if (failed)
    return mae_error_set(err, "mae_model: out of memory for the activations of %d x %d tokens", B,
                         K + 1);
  double sse[64];
  const size_t V = (size_t)mae_config_crop_voxels(&m->cfg), PL = (size_t)L * m->P;
  nn_flush_denormals();
#pragma omp parallel for schedule(static, 1) num_threads(parts) if (parts > 1)
  for (int i = 0; i < parts; i++) {
    nn_flush_denormals();
    int b0 = m->part_start[i], nb = m->part_start[i + 1] - b0;
    work_forward(m, &m->work[i], crops + b0 * V, mask + (size_t)b0 * L, nb, K,
                 pred ? pred + b0 * PL : NULL, &sse[i]);
  }
  double total = 0.0;
  for (int i = 0; i < parts; i++) total += sse[i];
  if (loss) *loss = n_masked ? total / n_masked : 0.0;
  m->n_parts = parts;
  m->n_masked = n_masked;
  m->have_forward = 1;
  return 0;
}

int mae_model_backward(MaeModel *m, MaeError *err) {
  if (!m->have_forward) return mae_error_set(err, "mae_model: backward without a forward");
  const int parts = m->n_parts;
  nn_flush_denormals();
#pragma omp parallel for schedule(static, 1) num_threads(parts) if (parts > 1)
  for (int i = 0; i < parts; i++) {
    nn_flush_denormals();
    if (i > 0) memset(m->work[i].grad_mem, 0, m->n_floats * sizeof(float));
    work_backward(m, &m->work[i], m->n_masked);
  }
  if (parts > 1) {
    /* sum the other workers' gradients into the model's, in worker order */
    float *g = m->grad_mem;
    const size_t n = m->n_floats;
#pragma omp parallel for schedule(static) num_threads(parts)
    for (size_t i0 = 0; i0 < n; i0 += 4096) {
      size_t i1 = i0 + 4096 < n ? i0 + 4096 : n;
      for (int k = 1; k < parts; k++) {
        const float *o = m->work[k].grad_mem;
#pragma omp simd
        for (size_t i = i0; i < i1; i++) g[i] += o[i];
      }
    }
  }
  return 0;
}
