/* A checkpoint written by semmae loads in PyTorch (model.load_state_dict,
 * strict, of the reference MAE layout with a Conv3d patch embedding) and
 * gives the same decoder output and loss for the same input and mask; and
 * one training step (gradients, clipping, AdamW) from a saved state gives
 * the same parameters in PyTorch as in semmae.
 * Skips (77) where /usr/bin/python3 cannot import torch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "checkpoint_common.h"
#include "reference_script.h"
#include "tap.h"

static int dump(const char *dir, const char *name, const void *data, size_t bytes) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t put = fwrite(data, 1, bytes, f);
  return fclose(f) == 0 && put == bytes ? 0 : -1;
}

/* Runs mae_reference.py (plain form, or --step with `after`) and turns its
 * RESULT lines into TAP. */
static void run_reference(const char *root, const char *ckpt, const char *dir, const char *after,
                          int min_results) {
  char cmd[2048];
  if (after[0])
    snprintf(cmd, sizeof cmd,
             "OMP_NUM_THREADS=1 /usr/bin/python3 %s/tests/engine/mae_reference.py --step %s %s %s "
             "2>&1",
             root, ckpt, dir, after);
  else
    snprintf(cmd, sizeof cmd,
             "OMP_NUM_THREADS=1 /usr/bin/python3 %s/tests/engine/mae_reference.py %s %s 2>&1", root,
             ckpt, dir);
  tap_reference_script(cmd, min_results);
}

int main(void) {
  if (system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") != 0)
    return tap_skip_all("/usr/bin/python3 cannot import torch");
  const char *root = getenv("SEMMAE_SOURCE_ROOT");
  if (!root) return tap_skip_all("SEMMAE_SOURCE_ROOT not set");
  char dir[] = "/tmp/semmae-parity-XXXXXX";
  if (!mkdtemp(dir)) return tap_skip_all("cannot make a temporary directory");
  mae_set_threads(2);

  MaeConfig cfg;
  TAP_OK(tiny_config(&cfg) == 0, "tiny config");
  int vz = 8, vy = 40, vx = 40;
  float *volume = random_volume(vz, vy, vx, 3);
  MaeTrainer *t = tiny_trainer(&cfg, volume, vz, vy, vx, 10, 5);
  TAP_OK(t != NULL, "trainer");
  if (!t) return tap_done();
  /* A few steps, so that biases, tokens and LayerNorms are no longer at init. */
  MaeError merr = {{0}};
  MaeStepResult r;
  for (int i = 0; i < 4; i++) mae_trainer_step(t, 2, 0.75f, &r, &merr);
  MaeModel *model = mae_trainer_model(t);

  char ckpt[512];
  snprintf(ckpt, sizeof ckpt, "%s/tiny.safetensors", dir);
  SmCheckpointInfo info = {.mask_ratio = 0.75, .batch = 2, .threads = 2};
  SmError err = {{0}};
  TAP_OK(sm_checkpoint_save(ckpt, model, t, &info, &err) == 0, "save: %s", err.message);

  /* Two samples, a mask each (same ratio), through the C forward. */
  enum { B = 2 };
  int L = mae_config_tokens(&cfg), P = mae_config_patch_voxels(&cfg);
  int crop = mae_config_crop_voxels(&cfg);
  float *crops = malloc((size_t)(B * crop) * sizeof *crops);
  uint8_t *mask = malloc((size_t)(B * L));
  float *pred = malloc((size_t)(B * L * P) * sizeof *pred);
  TAP_OK(mae_trainer_sample(t, B, 0.75f, crops, mask, &merr) == 0, "sample a batch: %s",
         merr.message);
  mae_mask_from_seed(mask, L, 0.6f, 11, 0);
  mae_mask_from_seed(mask + L, L, 0.6f, 11, 1);
  double loss = 0;
  TAP_OK(mae_model_forward(model, crops, mask, B, pred, &loss, &merr) == 0, "forward: %s",
         merr.message);
  char loss_text[64];
  snprintf(loss_text, sizeof loss_text, "%.9g\n", loss);
  TAP_OK(dump(dir, "input.f32", crops, (size_t)(B * crop) * sizeof *crops) == 0 &&
             dump(dir, "mask.u8", mask, (size_t)(B * L)) == 0 &&
             dump(dir, "pred.f32", pred, (size_t)(B * L * P) * sizeof *pred) == 0 &&
             dump(dir, "loss.txt", loss_text, strlen(loss_text)) == 0,
         "dumped input, mask, prediction");

  run_reference(root, ckpt, dir, "", 3);

  /* One training step: semmae's from the saved state, PyTorch's from the
   * same checkpoint and the same batch (drawn by a second trainer restored
   * from the same file, whose RNG is in the same state). */
  char step_dir[600], after[600];
  snprintf(step_dir, sizeof step_dir, "%s/step", dir);
  snprintf(after, sizeof after, "%s/after.safetensors", dir);
  TAP_OK(mkdir(step_dir, 0700) == 0, "step directory");
  MaeTrainer *sampler = tiny_trainer(&cfg, volume, vz, vy, vx, 10, 77);
  MaeTrainer *stepper = tiny_trainer(&cfg, volume, vz, vy, vx, 10, 78);
  TAP_OK(sampler && stepper && sm_checkpoint_load_trainer(ckpt, sampler, NULL, &err) == 0 &&
             sm_checkpoint_load_trainer(ckpt, stepper, NULL, &err) == 0,
         "two trainers restored: %s", err.message);
  TAP_OK(mae_trainer_sample(sampler, B, 0.75f, crops, mask, &merr) == 0, "the next batch: %s",
         merr.message);
  TAP_OK(mae_trainer_step(stepper, B, 0.75f, &r, &merr) == 0, "one step: %s", merr.message);
  TAP_OK(sm_checkpoint_save(after, mae_trainer_model(stepper), stepper, &info, &err) == 0,
         "save after the step: %s", err.message);
  char step_text[96];
  snprintf(step_text, sizeof step_text, "%.17g %.17g\n", r.lr, r.loss);
  TAP_OK(dump(step_dir, "input.f32", crops, (size_t)(B * crop) * sizeof *crops) == 0 &&
             dump(step_dir, "mask.u8", mask, (size_t)(B * L)) == 0 &&
             dump(step_dir, "step.txt", step_text, strlen(step_text)) == 0,
         "dumped the step's batch");
  run_reference(root, ckpt, step_dir, after, 4);
  mae_trainer_free(sampler);
  mae_trainer_free(stepper);

  char rm[600];
  snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
  if (system(rm) != 0) tap_diag("could not remove %s", dir);
  free(crops);
  free(mask);
  free(pred);
  free(volume);
  mae_trainer_free(t);
  return tap_done();
}
