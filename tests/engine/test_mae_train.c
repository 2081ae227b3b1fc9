/* Training state: a tiny model overfits one small volume; same seed gives
 * bit-identical losses; serialising the state mid-run (tensor tables +
 * key/value strings) and resuming in a fresh trainer gives the same curve;
 * NaN detection; schedule; sampler; bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mae_internal.h"
#include "mae_train.h"
#include "tap.h"

static MaeConfig tiny_config(void) {
  MaeConfig c;
  mae_config_named(&c, "cpu-small", NULL);
  c.input[0] = 2, c.input[1] = 16, c.input[2] = 16;
  c.patch[0] = 1, c.patch[1] = 4, c.patch[2] = 4;
  c.enc_dim = 32, c.enc_depth = 2, c.enc_heads = 2;
  c.dec_dim = 32, c.dec_depth = 1, c.dec_heads = 2;
  return c;
}

/* A membrane-like pattern in [-1, 1]: cells with dark borders and texture. */
static float *make_volume(int Z, int Y, int X) {
  float *v = malloc(sizeof(float) * Z * Y * X);
  for (int z = 0; z < Z; z++)
    for (int y = 0; y < Y; y++)
      for (int x = 0; x < X; x++) {
        float s = sinf(0.7f * x + 0.3f * z) * cosf(0.5f * y - 0.2f * z);
        float border = fabsf(s) < 0.15f ? -1.f : 0.6f * s;
        v[((size_t)z * Y + y) * X + x] = border + 0.1f * sinf(2.3f * x * y + z);
      }
  return v;
}

static MaeTrainer *new_trainer_aug(const MaeConfig *c, uint64_t seed, const float *vol, int Z,
                                   int Y, int X, int augment) {
  MaeTrainOptions o;
  mae_train_options_default(&o);
  o.seed = seed;
  o.lr = 3e-3;
  o.warmup_steps = 10;
  o.total_steps = 400;
  o.min_lr = 1e-4;
  o.augment = augment;
  MaeTrainer *t;
  MaeError err;
  if (mae_trainer_create(&t, c, &o, &err)) {
    tap_diag("%s", err.message);
    return NULL;
  }
  if (mae_trainer_set_volume(t, vol, Z, Y, X, &err)) {
    tap_diag("%s", err.message);
    mae_trainer_free(t);
    return NULL;
  }
  return t;
}

static MaeTrainer *new_trainer(const MaeConfig *c, uint64_t seed, const float *vol, int Z, int Y,
                               int X) {
  return new_trainer_aug(c, seed, vol, Z, Y, X, 1);
}

static void test_overfit(void) {
  MaeConfig c = tiny_config();
  float *vol = make_volume(2, 16, 16);
  /* one crop, no augmentation: the model can learn the volume by heart */
  MaeTrainer *t = new_trainer_aug(&c, 1, vol, 2, 16, 16, 0);
  MaeError err;
  MaeStepResult r;
  double first = 0, last = 0;
  int steps = 300, ok = 1;
  for (int s = 0; s < steps && ok; s++) {
    ok = mae_trainer_step(t, 4, 0.5f, &r, &err) == 0;
    if (s < 10) first += r.loss / 10;
    if (s >= steps - 20) last += r.loss / 20;
  }
  TAP_OK(ok, "300 training steps run");
  TAP_OK(last < 0.25 * first, "tiny model overfits one volume: loss %.4f -> %.4f", first, last);
  TAP_OK(mae_trainer_step_count(t) == steps, "step count %lld", (long long)mae_trainer_step_count(t));
  mae_trainer_free(t);
  free(vol);
}

static int same_params(MaeTrainer *a, MaeTrainer *b) {
  MaeModel *ma = mae_trainer_model(a), *mb = mae_trainer_model(b);
  return memcmp(ma->param_mem, mb->param_mem, ma->n_floats * sizeof(float)) == 0;
}

static const float ratios[] = {0.5f, 0.75f, 0.25f, 0.9f, 0.5f, 0.6f, 0.0f, 0.8f};

/* Big enough that the GEMMs and the attention run split over threads. */
static MaeConfig medium_config(void) {
  MaeConfig c = tiny_config();
  c.input[1] = c.input[2] = 32;
  c.patch[1] = c.patch[2] = 8;
  c.enc_dim = 64, c.dec_dim = 64;
  return c;
}

static void test_determinism(MaeConfig c, int threads) {
  mae_set_threads(threads);
  float *vol = make_volume(5, 40, 37);
  MaeTrainer *a = new_trainer(&c, 11, vol, 5, 40, 37), *b = new_trainer(&c, 11, vol, 5, 40, 37);
  MaeError err;
  int same = 1;
  for (int s = 0; s < 8; s++) {
    MaeStepResult ra, rb;
    mae_trainer_step(a, 3, ratios[s], &ra, &err);
    mae_trainer_step(b, 3, ratios[s], &rb, &err);
    same &= memcmp(&ra, &rb, sizeof ra) == 0;
  }
  TAP_OK(same && same_params(a, b),
         "%d thread(s), same seed: bit-identical losses and parameters (mask ratio changing per step)",
         threads);
  MaeTrainer *d = new_trainer(&c, 12, vol, 5, 40, 37);
  MaeStepResult ra, rd;
  mae_trainer_step(a, 3, 0.5f, &ra, &err);
  mae_trainer_step(d, 3, 0.5f, &rd, &err);
  TAP_OK(ra.loss != rd.loss, "another seed: another run");
  mae_trainer_free(a), mae_trainer_free(b), mae_trainer_free(d);
  free(vol);
}

/* A serialised trainer: tensors copied out, key/value strings. */
typedef struct Snapshot {
  float **params, **moments;
  char keys[64][32], values[64][96];
  int n_kv;
} Snapshot;

static int snap_kv(void *user, const char *key, const char *value) {
  Snapshot *s = user;
  snprintf(s->keys[s->n_kv], 32, "%s", key);
  snprintf(s->values[s->n_kv], 96, "%s", value);
  s->n_kv++;
  return 0;
}

static void snapshot_save(Snapshot *s, MaeTrainer *t) {
  MaeModel *m = mae_trainer_model(t);
  s->params = calloc(mae_model_n_tensors(m), sizeof(float *));
  for (int i = 0; i < mae_model_n_tensors(m); i++) {
    const MaeTensor *x = mae_model_tensor(m, i);
    s->params[i] = malloc(x->numel * sizeof(float));
    memcpy(s->params[i], x->data, x->numel * sizeof(float));
  }
  s->moments = calloc(mae_trainer_n_state_tensors(t), sizeof(float *));
  for (int i = 0; i < mae_trainer_n_state_tensors(t); i++) {
    const MaeTensor *x = mae_trainer_state_tensor(t, i);
    s->moments[i] = malloc(x->numel * sizeof(float));
    memcpy(s->moments[i], x->data, x->numel * sizeof(float));
  }
  s->n_kv = 0;
  mae_trainer_to_kv(t, snap_kv, s);
}

static int snapshot_load(const Snapshot *s, MaeTrainer *t, MaeError *err) {
  MaeModel *m = mae_trainer_model(t);
  for (int i = 0; i < mae_model_n_tensors(m); i++) {
    const MaeTensor *x = mae_model_tensor(m, i);
    memcpy(x->data, s->params[i], x->numel * sizeof(float));
  }
  for (int i = 0; i < mae_trainer_n_state_tensors(t); i++) {
    const MaeTensor *x = mae_trainer_state_tensor(t, i);
    memcpy(x->data, s->moments[i], x->numel * sizeof(float));
  }
  for (int i = 0; i < s->n_kv; i++)
    if (mae_trainer_set_kv(t, s->keys[i], s->values[i], err) != 1) return -1;
  return 0;
}

static void test_resume(MaeConfig c, int threads) {
  mae_set_threads(threads);
  float *vol = make_volume(5, 40, 37);
  MaeError err;
  MaeStepResult r;
  double straight[8], resumed[8];
  MaeTrainer *a = new_trainer(&c, 21, vol, 5, 40, 37);
  for (int s = 0; s < 8; s++) mae_trainer_step(a, 3, ratios[s], &r, &err), straight[s] = r.loss;

  MaeTrainer *b = new_trainer(&c, 21, vol, 5, 40, 37);
  for (int s = 0; s < 5; s++) mae_trainer_step(b, 3, ratios[s], &r, &err), resumed[s] = r.loss;
  Snapshot snap;
  snapshot_save(&snap, b);
  mae_trainer_free(b);
  /* a fresh trainer from another seed: everything must come from the snapshot */
  MaeTrainer *c2 = new_trainer(&c, 999, vol, 5, 40, 37);
  int loaded = snapshot_load(&snap, c2, &err) == 0;
  TAP_OK(loaded, "state loads from tensors + strings (%d keys)", snap.n_kv);
  TAP_OK(mae_trainer_step_count(c2) == 5 && mae_trainer_options(c2)->seed == 21, "step and seed restored");
  for (int s = 5; s < 8; s++) mae_trainer_step(c2, 3, ratios[s], &r, &err), resumed[s] = r.loss;
  TAP_OK(memcmp(straight, resumed, sizeof straight) == 0,
         "%d thread(s): 5 steps + save + load + 3 steps == 8 steps, bit for bit (%.9f vs %.9f)",
         threads, straight[7], resumed[7]);
  TAP_OK(same_params(a, c2), "final parameters identical");
  const MaeTensor *mv = mae_trainer_find_state_tensor(c2, "optim.exp_avg_sq.blocks.1.mlp.fc1.weight");
  TAP_OK(mv && mv->numel == 4u * (size_t)c.enc_dim * c.enc_dim && mv->ndim == 2,
         "optimizer tensors named optim.exp_avg_sq.<param>");
  TAP_OK(mae_trainer_n_state_tensors(c2) == 2 * (mae_model_n_tensors(mae_trainer_model(c2)) - 2),
         "two moments per trainable tensor");

  TAP_OK(mae_trainer_set_kv(c2, "rng_state", "12", &err) == -1, "short rng_state refused: %s", err.message);
  TAP_OK(mae_trainer_set_kv(c2, "lr", "-1", &err) == -1, "negative lr refused: %s", err.message);
  TAP_OK(mae_trainer_set_kv(c2, "embed_dim", "3", &err) == 0, "config keys are not trainer keys");
  for (int i = 0; i < mae_model_n_tensors(mae_trainer_model(a)); i++) free(snap.params[i]);
  for (int i = 0; i < mae_trainer_n_state_tensors(a); i++) free(snap.moments[i]);
  free(snap.params), free(snap.moments);
  mae_trainer_free(a), mae_trainer_free(c2);
  free(vol);
}

static void test_nan_and_bad_input(void) {
  MaeConfig c = tiny_config();
  float *vol = make_volume(2, 16, 16);
  MaeTrainer *t = new_trainer(&c, 5, vol, 2, 16, 16);
  MaeError err;
  MaeStepResult r;
  mae_trainer_step(t, 2, 0.5f, &r, &err);
  MaeModel *m = mae_trainer_model(t);
  float *before = malloc(m->n_floats * sizeof(float));
  memcpy(before, m->param_mem, m->n_floats * sizeof(float));
  vol[100] = NAN;
  int rc = 0;
  for (int s = 0; s < 4 && rc == 0; s++) rc = mae_trainer_step(t, 2, 0.5f, &r, &err);
  TAP_OK(rc == -1 && strstr(err.message, "non-finite"), "NaN input stops training: %s", err.message);
  TAP_OK(memcmp(before, m->param_mem, m->n_floats * sizeof(float)) == 0 || mae_trainer_step_count(t) > 1,
         "parameters untouched by the failed step");
  int64_t steps = mae_trainer_step_count(t);
  rc = mae_trainer_step(t, 2, 0.5f, &r, &err);
  TAP_OK(rc == -1 && mae_trainer_step_count(t) == steps, "step count not advanced by a failed step");
  vol[100] = 0.f;

  TAP_OK(mae_trainer_step(t, 2, 1.0f, &r, &err) == -1 && strstr(err.message, "[0, 1)"),
         "mask ratio 1 refused: %s", err.message);
  TAP_OK(mae_trainer_step(t, 2, -0.1f, &r, &err) == -1, "negative mask ratio refused");
  TAP_OK(mae_trainer_step(t, 0, 0.5f, &r, &err) == -1, "batch 0 refused: %s", err.message);
  TAP_OK(mae_trainer_set_volume(t, vol, 1, 16, 16, &err) == -1 && strstr(err.message, "smaller"),
         "volume smaller than a crop refused: %s", err.message);
  MaeTrainOptions o;
  mae_train_options_default(&o);
  MaeTrainer *u;
  TAP_OK(mae_trainer_create(&u, &c, &o, &err) == 0, "trainer without volume created");
  TAP_OK(mae_trainer_step(u, 1, 0.5f, &r, &err) == -1 && strstr(err.message, "volume"),
         "step without a volume refused: %s", err.message);
  mae_trainer_free(u);
  o.beta1 = 1.5;
  TAP_OK(mae_trainer_create(&u, &c, &o, &err) == -1, "bad beta refused: %s", err.message);
  free(before);
  mae_trainer_free(t);
  free(vol);
}

static void test_schedule(void) {
  MaeTrainOptions o;
  mae_train_options_default(&o);
  o.lr = 1.0, o.min_lr = 0.0, o.warmup_steps = 10, o.total_steps = 110;
  int ok = fabs(mae_lr_at(&o, 0) - 0.1) < 1e-12 && fabs(mae_lr_at(&o, 9) - 1.0) < 1e-12;
  ok &= fabs(mae_lr_at(&o, 10) - 1.0) < 1e-12 && fabs(mae_lr_at(&o, 60) - 0.5) < 1e-12;
  ok &= mae_lr_at(&o, 110) == 0.0 && mae_lr_at(&o, 500) == 0.0;
  TAP_OK(ok, "linear warm-up then cosine to min_lr");
  o.total_steps = 0;
  TAP_OK(mae_lr_at(&o, 1000) == 1.0, "total_steps 0: constant after warm-up");
}

static void test_sampler(int non_square) {
  MaeConfig c = tiny_config();
  if (non_square) c.input[2] = 24, c.patch[2] = 8; /* 2 x 16 x 24 crops: no quarter turns */
  const int CH = c.input[1], CW = c.input[2];
  int Z = 3, Y = 20, X = 28;
  float *vol = malloc(sizeof(float) * Z * Y * X);
  for (int i = 0; i < Z * Y * X; i++) vol[i] = (float)i;
  MaeTrainer *t = new_trainer(&c, 8, vol, Z, Y, X);
  MaeError err;
  int V = mae_config_crop_voxels(&c), L = mae_config_tokens(&c);
  float *crops = malloc(sizeof(float) * 64 * V);
  uint8_t *mask = malloc(64 * L);
  mae_trainer_sample(t, 64, 0.75f, crops, mask, &err);
  /* each crop is a window of the volume under one of the 8 symmetries of the
   * square: its corner values identify the transform */
  int seen[8] = {0}, valid = 1;
  for (int b = 0; b < 64; b++) {
    const float *k = crops + (size_t)b * V;
    float o = k[0];
    int z0 = (int)o / (Y * X), y0 = ((int)o / X) % Y, x0 = (int)o % X;
    (void)z0;
    /* steps along x and y of the crop, in volume units */
    int dx = (int)(k[1] - o), dy = (int)(k[CW] - o);
    int code = -1;
    int steps[8][2] = {{1, X}, {-1, X}, {1, -X}, {-1, -X}, {X, 1}, {X, -1}, {-X, 1}, {-X, -1}};
    for (int s = 0; s < 8; s++)
      if (dx == steps[s][0] && dy == steps[s][1]) code = s;
    if (code < 0) {
      valid = 0;
      continue;
    }
    seen[code]++;
    /* every voxel follows the same affine map */
    for (int z = 0; z < 2; z++)
      for (int y = 0; y < CH; y++)
        for (int x = 0; x < CW; x++)
          if (k[(z * CH + y) * CW + x] != o + z * Y * X + y * dy + x * dx) valid = 0;
    (void)y0, (void)x0;
  }
  int all = 1, quarter = 0;
  for (int s = 0; s < 8; s++) {
    if (s < 4) all &= seen[s] > 0;
    else if (non_square) quarter += seen[s];
    else all &= seen[s] > 0;
  }
  TAP_OK(valid, "%s crops are windows of the volume under a flip/rotation in y/x",
         non_square ? "16x24" : "16x16");
  if (non_square)
    TAP_OK(all && quarter == 0, "non-square crops: the 4 flips/half turns occur, no quarter turn");
  else
    TAP_OK(all, "all 8 flips/rotations occur");
  int vis_ok = 1;
  for (int b = 0; b < 64; b++) {
    int v = 0;
    for (int i = 0; i < L; i++) v += !mask[b * L + i];
    vis_ok &= v == mae_keep_count(L, 0.75f);
  }
  TAP_OK(vis_ok, "every sample keeps %d of %d tokens", mae_keep_count(L, 0.75f), L);
  mae_trainer_free(t);
  free(vol), free(crops), free(mask);
}

int main(void) {
  /* the tiny models gain nothing from threads; the medium ones exercise the
   * split GEMMs and the parallel attention */
  mae_set_threads(1);
  test_overfit();
  test_determinism(tiny_config(), 1);
  test_determinism(medium_config(), 2);
  test_resume(tiny_config(), 1);
  test_resume(medium_config(), 2);
  mae_set_threads(1);
  test_nan_and_bad_input();
  test_schedule();
  test_sampler(0);
  test_sampler(1);
  return tap_done();
}
