/* semmae pretrain / reconstruct end to end on a small volume: a run, an exact
 * resume, Ctrl+C, the reconstruction's outputs, and every bad input of the
 * issue (volume smaller than a crop, truncated or foreign checkpoint, a
 * checkpoint of another config, mask ratio outside [0, 1), unwritable
 * output): one line on stderr, non-zero exit, nothing overwritten.
 * usage: pretrain_cli SEMMAE */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cli_run.h"
#include "reference_script.h"
#include "rng.h"
#include "tap.h"
#include "volume.h"

static int same_file(const char *a, const char *b) {
  size_t na, nb;
  char *x = slurp(a, &na), *y = slurp(b, &nb);
  int same = x && y && na == nb && memcmp(x, y, na) == 0;
  free(x);
  free(y);
  return same;
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* The loss column of a CSV log, one string per line. */
static int loss_column(const char *path, char losses[][40], int max) {
  char *text = slurp(path, NULL);
  if (!text) return 0;
  int n = 0;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (strncmp(line, "step", 4) == 0 || n == max) continue;
    char *comma = strchr(line, ',');
    if (!comma) continue;
    char *end = strchr(comma + 1, ',');
    size_t len = end ? (size_t)(end - comma - 1) : strlen(comma + 1);
    snprintf(losses[n++], 40, "%.*s", (int)len, comma + 1);
  }
  free(text);
  return n;
}

static int write_volume(const char *path, int z, int y, int x, uint64_t seed) {
  SmVolume v;
  SmError err;
  if (sm_volume_alloc(&v, SM_U8, z, y, x, &err)) return -1;
  Rng rng;
  rng_seed(&rng, seed);
  uint8_t *d = v.data;
  /* Blobs on a background: something a model can learn to fill in. */
  for (int k = 0; k < z; k++)
    for (int j = 0; j < y; j++)
      for (int i = 0; i < x; i++) {
        double s = 0.5 + 0.25 * __builtin_sin(i * 0.3 + k) * __builtin_cos(j * 0.25);
        d[((size_t)k * y + j) * x + i] = (uint8_t)(255.0 * s * (0.8 + 0.2 * rng_uniform(&rng)));
      }
  int rc = sm_volume_write(path, &v, &err);
  sm_volume_free(&v);
  return rc;
}

static int params_equal(const char *a, const char *b) {
  MaeModel *ma = NULL, *mb = NULL;
  SmError err;
  int ok = sm_checkpoint_load_model(a, NULL, &ma, NULL, &err) == 0 &&
           sm_checkpoint_load_model(b, NULL, &mb, NULL, &err) == 0;
  for (int i = 0; ok && i < mae_model_n_tensors(ma); i++) {
    const MaeTensor *x = mae_model_tensor(ma, i), *y = mae_model_tensor(mb, i);
    ok = x->numel == y->numel && memcmp(x->data, y->data, x->numel * sizeof(float)) == 0;
  }
  mae_model_free(ma);
  mae_model_free(mb);
  return ok;
}

int main(int argc, char **argv) {
  int begun = cli_begin(argc, argv, "pretrain");
  if (begun >= 0) return begun;
  TAP_OK(write_volume(in_dir("v.tif"), 8, 100, 104, 1) == 0, "wrote an 8x100x104 volume");
  TAP_OK(write_volume(in_dir("small.tif"), 4, 50, 50, 2) == 0, "wrote a 4x50x50 volume");

  /* A run in one go, and the same run stopped at step 3 and resumed. */
  const char *common = "--data v.tif --steps 6 --batch 2 --threads 2 --seed 3 --warmup 2";
  char args[1024];
  snprintf(args, sizeof args, "pretrain %s --out full.safetensors --log full.csv", common);
  TAP_OK(run(args) == 0, "pretrain 6 steps");
  snprintf(args, sizeof args, "pretrain %s --out part.safetensors --log part.csv --stop-at 3",
           common);
  TAP_OK(run(args) == 0, "pretrain stopped at step 3");
  SmCheckpointInfo info = {0};
  SmError err = {{0}};
  int probed = sm_checkpoint_probe(in_dir("part.safetensors"), &info, &err) == 0;
  TAP_OK(probed && info.step == 3, "checkpoint at step 3 (%lld)", (long long)info.step);
  TAP_OK(run("pretrain --data v.tif --resume part.safetensors --out part.safetensors --steps 6 "
             "--log part.csv") == 0,
         "resumed to step 6");
  char full[8][40], part[8][40];
  int nf = loss_column(in_dir("full.csv"), full, 8), np = loss_column(in_dir("part.csv"), part, 8);
  int same = nf == 6 && np == 6;
  for (int i = 0; same && i < 6; i++) same = strcmp(full[i], part[i]) == 0;
  TAP_OK(same, "loss curve of 3 + 3 steps with a resume == 6 steps in one go (%d, %d rows)", nf,
         np);
  TAP_OK(params_equal(in_dir("full.safetensors"), in_dir("part.safetensors")),
         "final parameters bit-identical");

  /* The start: semmae's local one by default, the reference MAE's on request;
   * either is written into the metadata and kept by a resume. */
  TAP_OK(probed && info.config.attn_init == MAE_ATTN_INIT_LOCAL && info.config.pos_max_freq == 2.5f &&
             info.config.pos_temperature == 10.f && strcmp(info.config_name, "cpu-small") == 0,
         "default start: local attention, sin-cos 2.5 / 10, config cpu-small");
  TAP_OK(run("pretrain --data v.tif --steps 1 --batch 1 --threads 1 --reference-init "
             "--out ref.safetensors") == 0 &&
             sm_checkpoint_probe(in_dir("ref.safetensors"), &info, &err) == 0 &&
             info.config.attn_init == MAE_ATTN_INIT_XAVIER && info.config.pos_max_freq == 1.f &&
             info.config.pos_temperature == 10000.f && strcmp(info.config_name, "cpu-small") == 0,
         "--reference-init: xavier attention, sin-cos 1 / 10000, still config cpu-small");
  TAP_OK(run("pretrain --data v.tif --steps 2 --batch 1 --threads 1 --resume ref.safetensors "
             "--out ref.safetensors") == 0 &&
             sm_checkpoint_probe(in_dir("ref.safetensors"), &info, &err) == 0 && info.step == 2 &&
             info.config.pos_temperature == 10000.f,
         "a resume keeps the run's own sin-cos table");
  TAP_OK(run("pretrain --data v.tif --steps 2 --resume ref.safetensors --reference-init "
             "--out ref.safetensors") != 0 && one_line_error("--reference-init"),
         "--reference-init with --resume: usage error");

  /* Reconstruction. */
  TAP_OK(run("reconstruct --model full.safetensors --data v.tif --out r.tif --out-pred p.tif "
             "--out-mask k.tif --error-map e.tif --seed 4") == 0,
         "reconstruct with every output");
  SmVolume v, r, p, k, e;
  int read_all = sm_volume_read(in_dir("v.tif"), &v, &err) == 0 &&
                 sm_volume_read(in_dir("r.tif"), &r, &err) == 0 &&
                 sm_volume_read(in_dir("p.tif"), &p, &err) == 0 &&
                 sm_volume_read(in_dir("k.tif"), &k, &err) == 0 &&
                 sm_volume_read(in_dir("e.tif"), &e, &err) == 0;
  TAP_OK(read_all, "outputs readable");
  if (read_all) {
    TAP_OK(r.dtype == SM_U8 && p.dtype == SM_F32 && k.dtype == SM_U8 && e.dtype == SM_F32,
           "dtypes: reconstruction uint8 like the input, pred float32, mask uint8, error float32");
    TAP_OK(r.nz == v.nz && r.ny == v.ny && r.nx == v.nx && k.nx == v.nx && p.ny == v.ny,
           "shapes match the input");
    size_t n = sm_volume_voxels(&v), masked = 0;
    int visible_pasted = 1, error_consistent = 1, mask_binary = 1, pred_finite = 1;
    const uint8_t *vd = v.data, *rd = r.data, *kd = k.data;
    const float *ed = e.data, *pd = p.data;
    for (size_t i = 0; i < n; i++) {
      if (kd[i] > 1) mask_binary = 0;
      if (!__builtin_isfinite(pd[i])) pred_finite = 0;
      if (kd[i] == 1) {
        masked++;
        if (__builtin_fabs(ed[i] - __builtin_fabs((double)rd[i] - vd[i])) > 0.5001) error_consistent = 0;
      } else {
        if (rd[i] != vd[i]) visible_pasted = 0;
        if (ed[i] != 0.0f) error_consistent = 0;
      }
    }
    double share = (double)masked / (double)n;
    TAP_OK(mask_binary && share > 0.8 && share < 0.97, "mask is 0/1, %.3f of voxels masked", share);
    TAP_OK(visible_pasted, "visible voxels are the input's");
    TAP_OK(error_consistent, "error map = |reconstruction - input| at masked voxels, 0 elsewhere");
    TAP_OK(pred_finite, "raw prediction finite everywhere");
    sm_volume_free(&v);
    sm_volume_free(&r);
    sm_volume_free(&p);
    sm_volume_free(&k);
    sm_volume_free(&e);
  }

  /* PyTorch recomputes --out-pred from the checkpoint, the input and --out-mask
   * alone, and the de-normalisation of --out, on a one-crop volume. */
  TAP_OK(write_volume(in_dir("c.tif"), 6, 96, 96, 5) == 0, "wrote a one-crop volume");
  TAP_OK(run("reconstruct --model full.safetensors --data c.tif --out cr.tif --out-pred cp.tif "
             "--out-mask ck.tif --mask-ratio 0.75 --seed 9") == 0,
         "reconstruct the one-crop volume");
  const char *root = getenv("SEMMAE_SOURCE_ROOT");
  if (!root || system("/usr/bin/python3 -c 'import torch, numpy, PIL' >/dev/null 2>&1") != 0) {
    printf("ok %d - PyTorch check # SKIP /usr/bin/python3 cannot import torch, numpy, PIL\n",
           ++tap_count_);
  } else {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && OMP_NUM_THREADS=1 /usr/bin/python3 '%s/tests/engine/mae_reference.py' "
             "--volume full.safetensors c.tif ck.tif cp.tif cr.tif 2>&1",
             dir, root);
    tap_reference_script(cmd, 4);
  }

  /* Ctrl+C: saves and exits with 130. */
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(dir) != 0) _exit(99);
    if (!freopen(errfile, "w", stderr)) _exit(99);
    execl(semmae, semmae, "pretrain", "--data", "v.tif", "--out", "int.safetensors", "--steps",
          "100000", "--batch", "1", "--threads", "2", "--log", "int.csv", (char *)NULL);
    _exit(99);
  }
  /* Wait for two logged steps (no time limit beyond meson's own). */
  for (int tries = 0; tries < 6000; tries++) {
    char rows[4][40];
    if (loss_column(in_dir("int.csv"), rows, 4) >= 2) break;
    usleep(10000);
  }
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  TAP_OK(WIFEXITED(status) && WEXITSTATUS(status) == 130, "Ctrl+C exits with 130 (status %d)",
         status);
  probed = sm_checkpoint_probe(in_dir("int.safetensors"), &info, &err) == 0;
  TAP_OK(probed && info.step >= 2 && info.has_optimizer,
         "Ctrl+C saved a resumable checkpoint at step %lld", (long long)info.step);

  /* Bad input: one line, non-zero exit, nothing overwritten. */
  char copy[600];
  snprintf(copy, sizeof copy, "cp '%s' '%s'", in_dir("full.safetensors"), in_dir("keep.safetensors"));
  TAP_OK(system(copy) == 0, "kept a copy of the model");

  TAP_OK(run("pretrain --data small.tif --out full.safetensors --steps 2") != 0 &&
             one_line_error("smaller than one 6x96x96 crop"),
         "volume smaller than a crop");
  TAP_OK(same_file(in_dir("full.safetensors"), in_dir("keep.safetensors")), "model untouched");
  TAP_OK(run("reconstruct --model full.safetensors --data small.tif --out small_r.tif") != 0 &&
             one_line_error("smaller than one") && !exists(in_dir("small_r.tif")),
         "reconstruct: volume smaller than a crop");

  snprintf(copy, sizeof copy, "head -c 5000 '%s' > '%s'", in_dir("full.safetensors"),
           in_dir("trunc.safetensors"));
  TAP_OK(system(copy) == 0, "made a truncated checkpoint");
  TAP_OK(run("reconstruct --model trunc.safetensors --data v.tif --out r2.tif") != 0 &&
             one_line_error("trunc.safetensors") && !exists(in_dir("r2.tif")),
         "reconstruct: truncated checkpoint");
  TAP_OK(run("pretrain --data v.tif --resume trunc.safetensors --out full.safetensors --steps 8") != 0 &&
             one_line_error("trunc.safetensors"),
         "pretrain: resume from a truncated checkpoint");
  TAP_OK(run("reconstruct --model v.tif --data v.tif --out r2.tif") != 0 &&
             one_line_error("v.tif") && !exists(in_dir("r2.tif")),
         "reconstruct: a TIFF as checkpoint");
  TAP_OK(run("pretrain --data v.tif --resume full.safetensors --config paper-base "
             "--out full.safetensors --steps 8") != 0 &&
             one_line_error("checkpoint is config cpu-small, expected paper-base"),
         "resume with another config");
  TAP_OK(same_file(in_dir("full.safetensors"), in_dir("keep.safetensors")), "model untouched");

  const char *bad_ratios[] = {"1", "1.5", "-0.1", "nan"};
  for (int i = 0; i < 4; i++) {
    snprintf(args, sizeof args, "pretrain --data v.tif --out full.safetensors --mask-ratio %s",
             bad_ratios[i]);
    int rc1 = run(args);
    int one1 = one_line_error("--mask-ratio");
    snprintf(args, sizeof args,
             "reconstruct --model full.safetensors --data v.tif --out r3.tif --mask-ratio %s",
             bad_ratios[i]);
    int rc2 = run(args);
    int one2 = one_line_error("--mask-ratio");
    TAP_OK(rc1 != 0 && rc2 != 0 && one1 && one2 && !exists(in_dir("r3.tif")),
           "mask ratio %s refused by pretrain and reconstruct", bad_ratios[i]);
  }
  TAP_OK(run("pretrain --data v.tif --out no/such/dir/m.safetensors --steps 1") != 0 &&
             one_line_error("no/such/dir/m.safetensors"),
         "pretrain: unwritable output");
  TAP_OK(run("reconstruct --model full.safetensors --data v.tif --out no/such/r.tif") != 0 &&
             one_line_error("no/such/r.tif"),
         "reconstruct: unwritable output");
  TAP_OK(run("reconstruct --model full.safetensors --data v.tif --out r4.tif --out-mask "
             "no/such/k.tif") != 0 &&
             one_line_error("no/such/k.tif") && !exists(in_dir("r4.tif")),
         "reconstruct: unwritable second output, first not written");
  TAP_OK(run("pretrain --data missing.tif --out full.safetensors --steps 1") != 0 &&
             one_line_error("missing.tif"),
         "pretrain: missing volume");
  TAP_OK(same_file(in_dir("full.safetensors"), in_dir("keep.safetensors")), "model untouched");

  snprintf(copy, sizeof copy, "rm -rf '%s'", dir);
  if (system(copy) != 0) tap_diag("could not remove %s", dir);
  return tap_done();
}
