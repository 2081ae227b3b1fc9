/* Pre-training state: AdamW, schedule, clipping, crop sampler, RNG. */
#include "mae_train.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aligned.h"
#include "mae_internal.h"

struct MaeTrainer {
  MaeModel *model;
  MaeTrainOptions opt;
  float *m_mem, *v_mem;     /* AdamW moments, laid out as the parameters */
  MaeTensor *state_table;   /* exp_avg / exp_avg_sq of every trainable tensor */
  int n_state;
  int64_t step;
  Rng rng;
  const float *volume;      /* (vz, vy, vx), borrowed */
  int vz, vy, vx;
  float *crops;             /* (cap_B, D, H, W) */
  uint8_t *mask;            /* (cap_B, L) */
  int cap_B;
  double *partial;          /* per-chunk sums for the gradient norm */
  size_t n_chunks;
};

#define NORM_CHUNK 4096

void mae_train_options_default(MaeTrainOptions *o) {
  *o = (MaeTrainOptions){
      .seed = 0,
      /* the paper's 1e-4 is for 400k GPU steps; a CPU run of a few thousand
       * steps at batch 8 learns at 1e-3 (2e-3 and 3e-3 were worse), as the
       * studio has always started */
      .lr = 1e-3,
      .min_lr = 0.0,
      .warmup_steps = 100,
      .total_steps = 0,
      .beta1 = 0.9,
      .beta2 = 0.999,
      .adam_eps = 1e-8,
      .weight_decay = 0.0,
      .clip_grad = 1.0,
      .augment = 1,
  };
}

double mae_lr_at(const MaeTrainOptions *o, int64_t step) {
  if (o->warmup_steps > 0 && step < o->warmup_steps)
    return o->lr * (double)(step + 1) / (double)o->warmup_steps;
  if (o->total_steps <= 0) return o->lr;
  if (step >= o->total_steps) return o->min_lr;
  double span = (double)(o->total_steps - o->warmup_steps);
  double frac = span > 0 ? (double)(step - o->warmup_steps) / span : 1.0;
  return o->min_lr + (o->lr - o->min_lr) * 0.5 * (1.0 + cos(M_PI * frac));
}

static int check_options(const MaeTrainOptions *o, MaeError *err) {
  if (!(o->lr >= 0) || !(o->min_lr >= 0) || !isfinite(o->lr) || !isfinite(o->min_lr))
    return mae_error_set(err, "mae_train: learning rates must be finite and >= 0");
  if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) || !(o->adam_eps > 0))
    return mae_error_set(err, "mae_train: need 0 <= beta < 1 and adam_eps > 0");
  if (!(o->weight_decay >= 0) || o->warmup_steps < 0 || !isfinite(o->clip_grad))
    return mae_error_set(err, "mae_train: bad weight decay, warm-up or clipping option");
  return 0;
}

int mae_trainer_create(MaeTrainer **out, const MaeConfig *cfg, const MaeTrainOptions *opt,
                       MaeError *err) {
  *out = NULL;
  if (check_options(opt, err)) return -1;
  MaeTrainer *t = calloc(1, sizeof *t);
  if (!t) return mae_error_set(err, "mae_train: out of memory");
  t->opt = *opt;
  if (mae_model_create(&t->model, cfg, opt->seed, err)) {
    free(t);
    return -1;
  }
  MaeModel *m = t->model;
  t->m_mem = aligned_alloc64(m->n_floats * sizeof(float));
  t->v_mem = aligned_alloc64(m->n_floats * sizeof(float));
  int n_train = 0;
  for (int i = 0; i < m->n_tensors; i++) n_train += m->table[i].t.trainable;
  t->n_state = 2 * n_train;
  t->state_table = calloc((size_t)t->n_state, sizeof *t->state_table);
  t->n_chunks = (m->n_floats + NORM_CHUNK - 1) / NORM_CHUNK;
  t->partial = calloc(t->n_chunks, sizeof(double));
  if (!t->m_mem || !t->v_mem || !t->state_table || !t->partial) {
    mae_trainer_free(t);
    return mae_error_set(err, "mae_train: out of memory");
  }
  memset(t->m_mem, 0, m->n_floats * sizeof(float));
  memset(t->v_mem, 0, m->n_floats * sizeof(float));
  int k = 0;
  for (int i = 0; i < m->n_tensors; i++) {
    const MaeTensorEntry *e = &m->table[i];
    if (!e->t.trainable) continue;
    for (int which = 0; which < 2; which++) {
      MaeTensor *s = &t->state_table[k++];
      *s = e->t;
      snprintf(s->name, sizeof s->name, "optim.%s.%.100s", which ? "exp_avg_sq" : "exp_avg",
               e->t.name);
      s->data = (which ? t->v_mem : t->m_mem) + e->offset;
      s->grad = NULL;
    }
  }
  /* The data stream is independent of the init stream. */
  Rng base;
  rng_seed(&base, opt->seed);
  rng_fork(&t->rng, &base, 0x5A4D504C45ull);
  *out = t;
  return 0;
}

void mae_trainer_free(MaeTrainer *t) {
  if (!t) return;
  mae_model_free(t->model);
  free(t->m_mem);
  free(t->v_mem);
  free(t->state_table);
  free(t->crops);
  free(t->mask);
  free(t->partial);
  free(t);
}

MaeModel *mae_trainer_model(MaeTrainer *t) { return t->model; }
const MaeTrainOptions *mae_trainer_options(const MaeTrainer *t) { return &t->opt; }
int64_t mae_trainer_step_count(const MaeTrainer *t) { return t->step; }
int mae_trainer_n_state_tensors(const MaeTrainer *t) { return t->n_state; }
const MaeTensor *mae_trainer_state_tensor(const MaeTrainer *t, int i) {
  return i >= 0 && i < t->n_state ? &t->state_table[i] : NULL;
}
const MaeTensor *mae_trainer_find_state_tensor(const MaeTrainer *t, const char *name) {
  for (int i = 0; i < t->n_state; i++)
    if (strcmp(t->state_table[i].name, name) == 0) return &t->state_table[i];
  return NULL;
}

int mae_trainer_set_volume(MaeTrainer *t, const float *volume, int z, int y, int x,
                           MaeError *err) {
  const int *in = t->model->cfg.input;
  if (!volume || z < in[0] || y < in[1] || x < in[2])
    return mae_error_set(err,
                         "mae_train: volume %dx%dx%d is smaller than one crop %dx%dx%d (z,y,x)", z,
                         y, x, in[0], in[1], in[2]);
  t->volume = volume;
  t->vz = z, t->vy = y, t->vx = x;
  return 0;
}

/* One crop at (z0, y0, x0), flipped in x then rotated k quarter turns in y/x. */
static void extract_crop(const MaeTrainer *t, float *crop, int z0, int y0, int x0, int k,
                         int flip) {
  const int D = t->model->cfg.input[0], H = t->model->cfg.input[1], W = t->model->cfg.input[2];
  for (int z = 0; z < D; z++) {
    const float *plane = t->volume + (size_t)(z0 + z) * t->vy * t->vx;
    for (int y = 0; y < H; y++) {
      float *dst = crop + ((size_t)z * H + y) * W;
      if (k == 0 && !flip) {
        memcpy(dst, plane + (size_t)(y0 + y) * t->vx + x0, sizeof(float) * W);
        continue;
      }
      for (int x = 0; x < W; x++) {
        int xf = flip ? W - 1 - x : x, u, v;
        switch (k) { /* quarter turns; k is odd only for square crops */
        case 1: u = xf, v = H - 1 - y; break;
        case 2: u = H - 1 - y, v = W - 1 - xf; break;
        case 3: u = W - 1 - xf, v = y; break;
        default: u = y, v = xf; break;
        }
        dst[x] = plane[(size_t)(y0 + u) * t->vx + x0 + v];
      }
    }
  }
}

int mae_trainer_sample(MaeTrainer *t, int B, float ratio, float *crops, uint8_t *mask,
                       MaeError *err) {
  const MaeConfig *c = &t->model->cfg;
  if (!t->volume) return mae_error_set(err, "mae_train: no training volume set");
  if (B < 1) return mae_error_set(err, "mae_train: batch must be at least 1");
  if (!(ratio >= 0.f && ratio < 1.f))
    return mae_error_set(err, "mae_train: mask ratio %g is outside [0, 1)", (double)ratio);
  const int D = c->input[0], H = c->input[1], W = c->input[2], L = t->model->L;
  for (int b = 0; b < B; b++) {
    int z0 = (int)rng_below(&t->rng, (uint64_t)(t->vz - D + 1));
    int y0 = (int)rng_below(&t->rng, (uint64_t)(t->vy - H + 1));
    int x0 = (int)rng_below(&t->rng, (uint64_t)(t->vx - W + 1));
    int k = (int)rng_below(&t->rng, 4);
    int flip = (int)rng_below(&t->rng, 2);
    if (!t->opt.augment) k = 0, flip = 0;
    if (H != W) k &= 2; /* only half turns keep a non-square crop's shape */
    extract_crop(t, crops + (size_t)b * D * H * W, z0, y0, x0, k, flip);
  }
  for (int b = 0; b < B; b++) mae_mask_random(mask + (size_t)b * L, L, ratio, &t->rng);
  return 0;
}

static int is_decayed(const MaeTensor *x) {
  return x->ndim >= 2 && strcmp(x->name, "cls_token") && strcmp(x->name, "mask_token");
}

int mae_trainer_step(MaeTrainer *t, int B, float ratio, MaeStepResult *res, MaeError *err) {
  MaeModel *m = t->model;
  const MaeConfig *c = &m->cfg;
  if (B > t->cap_B) {
    free(t->crops);
    free(t->mask);
    t->crops = malloc((size_t)B * mae_config_crop_voxels(c) * sizeof(float));
    t->mask = malloc((size_t)B * m->L);
    t->cap_B = t->crops && t->mask ? B : 0;
    if (!t->cap_B) return mae_error_set(err, "mae_train: out of memory for a batch of %d", B);
  }
  Rng saved = t->rng;
  if (mae_trainer_sample(t, B, ratio, t->crops, t->mask, err)) return -1;
  double loss;
  mae_model_zero_grad(m);
  if (mae_model_forward(m, t->crops, t->mask, B, NULL, &loss, err) ||
      mae_model_backward(m, err)) {
    t->rng = saved;
    return -1;
  }
  /* global gradient norm: fixed chunks, summed in order -> deterministic */
  const float *g = m->grad_mem;
  size_t n = m->n_floats;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (size_t k = 0; k < t->n_chunks; k++) {
    size_t i1 = (k + 1) * NORM_CHUNK < n ? (k + 1) * NORM_CHUNK : n;
    /* float partial sums over 16 lanes (vectorised), then double */
    float lanes[16] = {0};
    size_t i = k * NORM_CHUNK;
    for (; i + 16 <= i1; i += 16)
#pragma omp simd
      for (int l = 0; l < 16; l++) lanes[l] += g[i + l] * g[i + l];
    double s = 0.0;
    for (; i < i1; i++) s += (double)g[i] * g[i];
    for (int l = 0; l < 16; l++) s += lanes[l];
    t->partial[k] = s;
  }
  double sq = 0.0;
  for (size_t k = 0; k < t->n_chunks; k++) sq += t->partial[k];
  double norm = sqrt(sq);
  if (!isfinite(loss) || !isfinite(norm)) {
    t->rng = saved;
    return mae_error_set(err,
                         "mae_train: %s at step %" PRId64 " (loss %g, gradient norm %g, lr %g); "
                         "lower the learning rate or check the input",
                         isfinite(loss) ? "non-finite gradient" : "non-finite loss", t->step + 1,
                         loss, norm, mae_lr_at(&t->opt, t->step));
  }
  float clip = 1.f;
  if (t->opt.clip_grad > 0 && norm > t->opt.clip_grad)
    clip = (float)(t->opt.clip_grad / (norm + 1e-6));
  double lr = mae_lr_at(&t->opt, t->step);
  /* AdamW as torch.optim.AdamW (decoupled decay, bias correction) */
  int64_t step = t->step + 1;
  const float b1 = (float)t->opt.beta1, b2 = (float)t->opt.beta2, eps = (float)t->opt.adam_eps;
  const float bc1 = (float)(1.0 - pow(t->opt.beta1, (double)step));
  const float inv_bc2_sqrt = (float)(1.0 / sqrt(1.0 - pow(t->opt.beta2, (double)step)));
  const float step_size = (float)lr / bc1;
  for (int i = 0; i < m->n_tensors; i++) {
    const MaeTensorEntry *e = &m->table[i];
    if (!e->t.trainable) continue;
    float *p = e->t.data, *gr = e->t.grad, *mm = t->m_mem + e->offset, *vv = t->v_mem + e->offset;
    const float decay = is_decayed(&e->t) ? (float)(1.0 - lr * t->opt.weight_decay) : 1.f;
    const size_t numel = e->t.numel;
#pragma omp parallel for simd schedule(static) if (numel > 65536)
    for (size_t j = 0; j < numel; j++) {
      float gj = gr[j] * clip;
      float mj = b1 * mm[j] + (1.f - b1) * gj;
      float vj = b2 * vv[j] + (1.f - b2) * gj * gj;
      mm[j] = mj;
      vv[j] = vj;
      p[j] = p[j] * decay - step_size * mj / (sqrtf(vj) * inv_bc2_sqrt + eps);
    }
  }
  t->step = step;
  if (res) *res = (MaeStepResult){.step = step, .loss = loss, .grad_norm = norm, .lr = lr};
  return 0;
}

/* ---- key/value state ---- */

int mae_trainer_to_kv(const MaeTrainer *t, MaeKvFunc emit, void *user) {
  char buf[96];
  int rc;
  const MaeTrainOptions *o = &t->opt;
#define EMIT(key, ...)                    \
  snprintf(buf, sizeof buf, __VA_ARGS__); \
  if ((rc = emit(user, key, buf)) != 0) return rc;
  EMIT("step", "%" PRId64, t->step);
  EMIT("rng_state", "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, t->rng.s[0],
       t->rng.s[1], t->rng.s[2], t->rng.s[3]);
  EMIT("seed", "%" PRIu64, o->seed);
  EMIT("lr", "%.17g", o->lr);
  EMIT("min_lr", "%.17g", o->min_lr);
  EMIT("warmup_steps", "%" PRId64, o->warmup_steps);
  EMIT("total_steps", "%" PRId64, o->total_steps);
  EMIT("beta1", "%.17g", o->beta1);
  EMIT("beta2", "%.17g", o->beta2);
  EMIT("adam_eps", "%.17g", o->adam_eps);
  EMIT("weight_decay", "%.17g", o->weight_decay);
  EMIT("clip_grad", "%.17g", o->clip_grad);
  EMIT("augment", "%d", o->augment);
#undef EMIT
  return 0;
}

static int parse_i64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < 0) return -1;
  *out = v;
  return 0;
}

static int parse_f64(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

int mae_trainer_set_kv(MaeTrainer *t, const char *key, const char *value, MaeError *err) {
  MaeTrainOptions o = t->opt;
  struct {
    const char *key;
    double *field;
  } reals[] = {
      {"lr", &o.lr},       {"min_lr", &o.min_lr},     {"beta1", &o.beta1},
      {"beta2", &o.beta2}, {"adam_eps", &o.adam_eps}, {"weight_decay", &o.weight_decay},
      {"clip_grad", &o.clip_grad},
  };
  int found = 0, bad = 0;
  for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++)
    if (strcmp(key, reals[i].key) == 0) found = 1, bad = parse_f64(value, reals[i].field);
  if (strcmp(key, "warmup_steps") == 0) found = 1, bad = parse_i64(value, &o.warmup_steps);
  if (strcmp(key, "total_steps") == 0) found = 1, bad = parse_i64(value, &o.total_steps);
  if (strcmp(key, "augment") == 0) {
    int64_t v = 0;
    found = 1, bad = parse_i64(value, &v) || v > 1;
    o.augment = (int)v;
  }
  if (strcmp(key, "seed") == 0) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    found = 1, bad = errno || end == value || *end;
    o.seed = v;
  }
  if (found) {
    if (bad || check_options(&o, NULL))
      return mae_error_set(err, "mae_train: bad value '%s' for %s", value, key);
    t->opt = o;
    return 1;
  }
  if (strcmp(key, "step") == 0) {
    int64_t v;
    if (parse_i64(value, &v))
      return mae_error_set(err, "mae_train: bad value '%s' for step", value);
    t->step = v;
    return 1;
  }
  if (strcmp(key, "rng_state") == 0) {
    Rng r;
    if (strlen(value) != 64)
      return mae_error_set(err, "mae_train: rng_state must be 64 hex digits");
    for (int i = 0; i < 4; i++) {
      char part[17], *end;
      memcpy(part, value + 16 * i, 16);
      part[16] = 0;
      errno = 0;
      r.s[i] = strtoull(part, &end, 16);
      if (errno || *end) return mae_error_set(err, "mae_train: rng_state must be 64 hex digits");
    }
    if (!(r.s[0] | r.s[1] | r.s[2] | r.s[3]))
      return mae_error_set(err, "mae_train: rng_state is all zero");
    t->rng = r;
    return 1;
  }
  return 0;
}
