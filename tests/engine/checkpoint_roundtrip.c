/* Model checkpoints: bit-exact round trip, exact resume (N steps == k steps,
 * save, load into a fresh trainer, N - k steps), and one-line errors for a
 * checkpoint of another config, a wrong shape, a missing tensor, a truncated
 * file and a file that is no checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "checkpoint_common.h"
#include "safetensors.h"
#include "tap.h"

enum { VZ = 8, VY = 40, VX = 40, TOTAL = 8, SPLIT = 3, BATCH = 2 };

static char dir[64];

static void path_in_dir(char *out, size_t n, const char *name) {
  snprintf(out, n, "%s/%s", dir, name);
}

static int models_identical(const MaeModel *a, const MaeModel *b) {
  if (mae_model_n_tensors(a) != mae_model_n_tensors(b)) return 0;
  for (int i = 0; i < mae_model_n_tensors(a); i++) {
    const MaeTensor *x = mae_model_tensor(a, i), *y = mae_model_tensor(b, i);
    if (strcmp(x->name, y->name) || x->numel != y->numel ||
        memcmp(x->data, y->data, x->numel * sizeof(float)))
      return 0;
  }
  return 1;
}

enum { KEEP_META, DROP_META, DROP_NEWER_META };

/* Keys checkpoints gained with semmae's own sin-cos tables and attention start. */
static int newer_key(const char *key) {
  return !strcmp(key, "pos_embed_max_freq") || !strcmp(key, "pos_embed_temperature") ||
         !strcmp(key, "attn_init");
}

/* Copies src to dst through the writer, letting `edit` change one tensor:
 * rename to NULL drops it, new_shape (if ndim > 0) reshapes it. drop_meta:
 * KEEP_META, DROP_META (all of it) or DROP_NEWER_META (as an older file). */
static int rewrite(const char *src, const char *dst, const char *victim, int new_ndim,
                   const int64_t *new_shape, int drop_meta) {
  SmSafetensors st;
  SmError err = {{0}};
  if (sm_safetensors_open(src, &st, &err)) return -1;
  SmStWriter *w = sm_st_writer_new();
  for (int i = 0; i < st.n_meta && drop_meta != DROP_META; i++)
    if (drop_meta == KEEP_META || !newer_key(st.meta[i].key))
      sm_st_writer_add_meta(w, st.meta[i].key, st.meta[i].value);
  float **bufs = calloc((size_t)st.n_tensors, sizeof *bufs);
  for (int i = 0; i < st.n_tensors; i++) {
    const SmStTensor *t = &st.tensors[i];
    int64_t n = sm_st_tensor_numel(t);
    bufs[i] = malloc((size_t)(n ? n : 1) * sizeof(float));
    sm_safetensors_read_f32(&st, t->name, bufs[i], n, &err);
    if (victim && strcmp(t->name, victim) == 0) {
      if (new_ndim == 0) continue;
      sm_st_writer_add_f32(w, t->name, new_ndim, new_shape, bufs[i]);
    } else {
      sm_st_writer_add_f32(w, t->name, t->ndim, t->shape, bufs[i]);
    }
  }
  int rc = sm_st_writer_write(w, dst, &err);
  sm_st_writer_free(w);
  for (int i = 0; i < st.n_tensors; i++) free(bufs[i]);
  free(bufs);
  sm_safetensors_close(&st);
  return rc;
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/semmae-ckpt-XXXXXX");
  if (!mkdtemp(dir)) return tap_skip_all("cannot make a temporary directory");
  mae_set_threads(2);
  MaeConfig cfg;
  TAP_OK(tiny_config(&cfg) == 0, "tiny config");
  float *volume = random_volume(VZ, VY, VX, 1);
  char path[256], bad[256];
  path_in_dir(path, sizeof path, "run.safetensors");
  path_in_dir(bad, sizeof bad, "bad.safetensors");
  SmError err = {{0}};
  MaeError merr = {{0}};
  MaeStepResult r;

  /* Reference: TOTAL steps in one go. */
  double losses[TOTAL];
  MaeTrainer *a = tiny_trainer(&cfg, volume, VZ, VY, VX, TOTAL, 42);
  for (int i = 0; i < TOTAL; i++) {
    mae_trainer_step(a, BATCH, 0.75f, &r, &merr);
    losses[i] = r.loss;
  }

  /* SPLIT steps, save. */
  MaeTrainer *b = tiny_trainer(&cfg, volume, VZ, VY, VX, TOTAL, 42);
  for (int i = 0; i < SPLIT; i++) mae_trainer_step(b, BATCH, 0.75f, &r, &merr);
  SmCheckpointInfo info = {.mask_ratio = 0.75, .batch = BATCH, .threads = 2, .scale_lo = 0,
                           .scale_hi = 255};
  TAP_OK(sm_checkpoint_save(path, mae_trainer_model(b), b, &info, &err) == 0, "save: %s",
         err.message);

  /* Model-only load is bit-identical and carries the run's info. */
  MaeModel *loaded = NULL;
  SmCheckpointInfo got;
  TAP_OK(sm_checkpoint_load_model(path, &cfg, &loaded, &got, &err) == 0, "load model: %s",
         err.message);
  TAP_OK(loaded && models_identical(loaded, mae_trainer_model(b)), "parameters bit-identical");
  TAP_OK(got.step == SPLIT && got.mask_ratio == 0.75 && got.batch == BATCH && got.threads == 2 &&
             got.scale_hi == 255 && got.has_optimizer && strcmp(got.config_name, "custom") == 0,
         "metadata: step %lld, mask %g, batch %d, config %s", (long long)got.step, got.mask_ratio,
         got.batch, got.config_name);
  mae_model_free(loaded);

  /* Resume in a fresh trainer created with another seed: everything that
   * matters must come from the file. */
  MaeTrainer *c = tiny_trainer(&cfg, volume, VZ, VY, VX, TOTAL, 999);
  TAP_OK(sm_checkpoint_load_trainer(path, c, NULL, &err) == 0, "load trainer: %s", err.message);
  TAP_OK(mae_trainer_step_count(c) == SPLIT, "resumed at step %lld",
         (long long)mae_trainer_step_count(c));
  int same = 1;
  for (int i = SPLIT; i < TOTAL; i++) {
    mae_trainer_step(c, BATCH, 0.75f, &r, &merr);
    if (memcmp(&r.loss, &losses[i], sizeof r.loss) != 0) {
      same = 0;
      tap_diag("step %d: %.17g resumed vs %.17g in one go", i + 1, r.loss, losses[i]);
    }
  }
  TAP_OK(same, "%d + %d steps with a resume == %d steps in one go, bit for bit", SPLIT,
         TOTAL - SPLIT, TOTAL);
  TAP_OK(models_identical(mae_trainer_model(a), mae_trainer_model(c)),
         "final parameters bit-identical");

  /* Another config. */
  MaeConfig small;
  mae_config_named(&small, "cpu-small", &merr);
  TAP_OK(sm_checkpoint_load_model(path, &small, &loaded, NULL, &err) == -1 &&
             strstr(err.message, "checkpoint is config custom, expected cpu-small") &&
             strstr(err.message, path),
         "other config: %s", err.message);
  MaeModel *small_model = NULL;
  mae_model_create(&small_model, &small, 1, &merr);
  char small_path[256];
  path_in_dir(small_path, sizeof small_path, "small.safetensors");
  TAP_OK(sm_checkpoint_save(small_path, small_model, NULL, &info, &err) == 0, "save cpu-small");
  MaeConfig base;
  mae_config_named(&base, "paper-base", &merr);
  TAP_OK(sm_checkpoint_load_model(small_path, &base, &loaded, NULL, &err) == -1 &&
             strstr(err.message, "checkpoint is config cpu-small, expected paper-base"),
         "named configs: %s", err.message);
  TAP_OK(sm_checkpoint_load_trainer(small_path, c, NULL, &err) == -1 &&
             strstr(err.message, "expected custom"),
         "resume into another config: %s", err.message);
  mae_model_free(small_model);
  MaeTrainer *d = tiny_trainer(&cfg, volume, VZ, VY, VX, TOTAL, 1);
  MaeModel *plain = NULL;
  mae_model_create(&plain, &cfg, 3, &merr);
  TAP_OK(sm_checkpoint_save(small_path, plain, NULL, &info, &err) == 0, "save model only");
  TAP_OK(sm_checkpoint_load_trainer(small_path, d, NULL, &err) == -1 &&
             strstr(err.message, "cannot resume"),
         "resume from a model-only file: %s", err.message);
  mae_model_free(plain);
  mae_trainer_free(d);

  /* A tensor of the wrong shape, a missing tensor. */
  TAP_OK(rewrite(path, bad, "blocks.0.attn.qkv.weight", 2, (int64_t[]){288, 24}, 0) == 0,
         "wrote a reshaped copy");
  TAP_OK(sm_checkpoint_load_model(bad, NULL, &loaded, NULL, &err) == -1 &&
             strstr(err.message,
                    "tensor 'blocks.0.attn.qkv.weight' has shape (288, 24), expected (144, 48)"),
         "wrong shape: %s", err.message);
  TAP_OK(rewrite(path, bad, "norm.weight", 0, NULL, 0) == 0, "wrote a copy without norm.weight");
  TAP_OK(sm_checkpoint_load_model(bad, NULL, &loaded, NULL, &err) == -1 &&
             strstr(err.message, "tensor 'norm.weight' is missing"),
         "missing tensor: %s", err.message);
  TAP_OK(rewrite(path, bad, NULL, 0, NULL, 1) == 0, "wrote a copy without metadata");
  TAP_OK(sm_checkpoint_load_model(bad, NULL, &loaded, NULL, &err) == -1 &&
             strstr(err.message, "not a semmae MAE checkpoint"),
         "no metadata: %s", err.message);
  /* Without pos tables (as some exporters drop frozen buffers): recomputed. */
  TAP_OK(rewrite(path, bad, "pos_embed", 0, NULL, 0) == 0, "wrote a copy without pos_embed");
  TAP_OK(sm_checkpoint_load_model(bad, NULL, &loaded, NULL, &err) == 0 &&
             models_identical(loaded, mae_trainer_model(b)),
         "missing frozen pos_embed is recomputed: %s", err.message);
  mae_model_free(loaded);
  /* A file from before the sin-cos keys: it holds the reference MAE's table. */
  MaeConfig reference = cfg;
  mae_config_use_reference_init(&reference);
  MaeModel *old = NULL;
  mae_model_create(&old, &reference, 5, &merr);
  TAP_OK(sm_checkpoint_save(small_path, old, NULL, &info, &err) == 0, "saved a reference-table model");
  TAP_OK(rewrite(small_path, bad, "pos_embed", 0, NULL, DROP_NEWER_META) == 0,
         "wrote it as an older file: no sin-cos keys, no pos_embed");
  SmCheckpointInfo old_info;
  TAP_OK(sm_checkpoint_load_model(bad, NULL, &loaded, &old_info, &err) == 0 &&
             models_identical(loaded, old) && old_info.config.pos_max_freq == 1.f &&
             old_info.config.pos_temperature == 10000.f,
         "an older file loads with the reference table: %s", err.message);
  mae_model_free(loaded);
  mae_model_free(old);

  /* Truncated. */
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  TAP_OK(truncate(path, size / 2) == 0, "truncated the checkpoint");
  TAP_OK(sm_checkpoint_load_model(path, NULL, &loaded, NULL, &err) == -1 &&
             strstr(err.message, "truncated") && !strchr(err.message, '\n'),
         "truncated: %s", err.message);

  unlink(path);
  unlink(bad);
  unlink(small_path);
  rmdir(dir);
  mae_trainer_free(a);
  mae_trainer_free(b);
  mae_trainer_free(c);
  free(volume);
  return tap_done();
}
