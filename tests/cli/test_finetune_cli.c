/* semmae finetune / segment end to end on a small phantom: --init loads the
 * pre-trained encoder (frozen encoder: identical tensors in the result),
 * validation keeps the best checkpoint, segment writes labels and the
 * C*Z-page probability TIFF, and bad input gives one line and a non-zero
 * exit. usage: test_finetune_cli SEMMAE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_run.h"
#include "safetensors.h"
#include "tap.h"
#include "volume.h"

/* the same tensor in two safetensors files is bit-identical */
static int same_tensor(const char *a, const char *b, const char *name, int64_t n) {
  SmSafetensors sa, sb;
  SmError err;
  if (sm_safetensors_open(a, &sa, &err))
    return 0;
  if (sm_safetensors_open(b, &sb, &err)) {
    sm_safetensors_close(&sa);
    return 0;
  }
  float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
  int ok = !sm_safetensors_read_f32(&sa, name, x, n, &err) &&
           !sm_safetensors_read_f32(&sb, name, y, n, &err) && memcmp(x, y, sizeof(float) * n) == 0;
  free(x), free(y);
  sm_safetensors_close(&sa), sm_safetensors_close(&sb);
  return ok;
}

int main(int argc, char **argv) {
  int begun = cli_begin(argc, argv, "ft");
  if (begun >= 0)
    return begun;

  TAP_OK(run("phantom img.tif --labels lab.tif --shape 7,100,104 --seed 3") == 0, "phantom");
  TAP_OK(run("phantom small.tif --shape 7,50,104 --seed 3") == 0, "small phantom");
  TAP_OK(run("pretrain --data img.tif --out mae.safetensors --steps 2 --batch 1 --threads 1") == 0,
         "tiny pretrain");

  TAP_OK(run("finetune --data img.tif --labels lab.tif --task neurons --out s.safetensors "
             "--init mae.safetensors --freeze-encoder --steps 2 --batch 1 --threads 1 "
             "--val-data img.tif --val-labels lab.tif --val-every 1 --log ft.csv") == 0 &&
             stderr_has("encoder initialised from mae.safetensors") && stderr_has("arand"),
         "finetune --init with validation runs");
  TAP_OK(
      same_tensor(in_dir("mae.safetensors"), in_dir("s.safetensors"), "blocks.1.attn.qkv.weight",
                  3 * 192 * 192) &&
          same_tensor(in_dir("mae.safetensors"), in_dir("s.safetensors"), "pos_embed", 217 * 192),
      "the pre-trained encoder was loaded (frozen: identical tensors in the result)");
  SmSafetensors st;
  SmError err;
  int meta_ok = 0;
  if (!sm_safetensors_open(in_dir("s.safetensors"), &st, &err)) {
    const char *t = sm_safetensors_meta(&st, "task"), *f = sm_safetensors_meta(&st, "format");
    meta_ok = t && strcmp(t, "neurons") == 0 && f && strcmp(f, "semmae-seg") == 0 &&
              sm_safetensors_find(&st, "seg.head.weight") &&
              sm_safetensors_meta(&st, "embed_dim") &&
              !sm_safetensors_find(&st, "decoder_pred.weight");
    sm_safetensors_close(&st);
  }
  TAP_OK(meta_ok, "checkpoint: MAE encoder names + seg.*, task and config in the metadata");
  char *log = slurp(in_dir("ft.csv"), NULL);
  int rows = 0;
  for (char *p = log; p && *p; p++)
    rows += *p == '\n';
  TAP_OK(rows == 2, "CSV log: one row per step (%d)", rows);
  free(log);

  TAP_OK(run("segment --model s.safetensors --data small.tif --out labels.tif --probs p.tif "
             "--threads 1 --tta") == 0,
         "segment end to end");
  SmVolume lab, pv;
  int shapes = 0;
  if (!sm_volume_read(in_dir("labels.tif"), &lab, &err)) {
    if (!sm_volume_read(in_dir("p.tif"), &pv, &err)) {
      shapes = lab.dtype == SM_U32 && lab.nz == 7 && lab.ny == 50 && lab.nx == 104 &&
               pv.dtype == SM_F32 && pv.nz == 3 * 7 && pv.ny == 50;
      double lo, hi;
      sm_volume_range(&pv, &lo, &hi);
      shapes &= lo >= 0 && hi <= 1;
      sm_volume_free(&pv);
    }
    sm_volume_free(&lab);
  }
  TAP_OK(
      shapes,
      "segment: uint32 labels of the volume's shape, probabilities as 3*Z float pages in [0, 1]");

  TAP_OK(run("finetune --data img.tif --labels lab.tif --task membrane --out z.safetensors "
             "--z-range 0:6 --val-z-range 1:7 --steps 1 --batch 1 --threads 1") == 0 &&
             stderr_has("(6x100x104)") && stderr_has("arand"),
         "--z-range / --val-z-range: train and validate on slice ranges of one volume");
  TAP_OK(run("finetune --data img.tif --labels lab.tif --task membrane --out bad.safetensors "
             "--z-range 3:9 --steps 1") == 1 &&
             one_line_error("bad z range '3:9' for a volume of 7 slices"),
         "z range outside the volume: one-line error");

  /* bad input */
  TAP_OK(run("finetune --data img.tif --labels small.tif --task neurons --out bad.safetensors "
             "--steps 1") == 1 &&
             one_line_error("labels are 7x50x104 but the image img.tif is 7x100x104"),
         "labels of another shape: one-line error");
  TAP_OK(run("finetune --data img.tif --labels lab.tif --task neurons --out bad.safetensors "
             "--init mae.safetensors --config paper-base --steps 1") == 1 &&
             one_line_error("checkpoint is config cpu-small, expected paper-base"),
         "init checkpoint of another config: one-line error");
  TAP_OK(run("finetune --data img.tif --labels lab.tif --task cells --out bad.safetensors") == 2 &&
             one_line_error("unknown task 'cells'"),
         "unknown task: usage error");
  TAP_OK(run("finetune --data img.tif --labels lab.tif --task mito --out bad.safetensors "
             "--init mae.safetensors --scratch") == 2 &&
             one_line_error("exclude each other"),
         "--init with --scratch: usage error");
  TAP_OK(run("finetune --data img.tif --labels img.tif --task mito --out bad.safetensors --init "
             "nothere.safetensors") == 1 &&
             one_line_error("nothere.safetensors"),
         "missing init checkpoint: one-line error");
  TAP_OK(run("segment --model mae.safetensors --data small.tif --out bad.tif") == 1 &&
             one_line_error("not a segmentation checkpoint"),
         "segment with a pre-trained MAE: one-line error");
  struct stat sb;
  TAP_OK(stat(in_dir("bad.safetensors"), &sb) != 0 && stat(in_dir("bad.tif"), &sb) != 0,
         "nothing written by failed runs");
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd))
    tap_diag("could not remove %s", dir);
  return tap_done();
}
