/* semmae segment writes its probability TIFF slice by slice (probs_writer.c):
 * the streamed file of a 3-channel (neurons) model equals, page for page,
 * the probabilities computed in memory by seg_infer_volume on the same
 * checkpoint; --probs alone (no instances) gives the same file; 1 and 2
 * workers agree; a target in a missing directory fails with one line and
 * leaves nothing. usage: segment_stream_cli SEMMAE */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_run.h"
#include "seg_checkpoint.h"
#include "seg_infer.h"
#include "tap.h"
#include "volume.h"

/* largest difference between two float TIFFs of the same shape, or -1 */
static double tiff_diff(const char *a, const char *b) {
  SmVolume va, vb;
  SmError err;
  double worst = -1;
  if (sm_volume_read(a, &va, &err))
    return -1;
  if (!sm_volume_read(b, &vb, &err)) {
    if (va.dtype == SM_F32 && vb.dtype == SM_F32 && va.nz == vb.nz && va.ny == vb.ny &&
        va.nx == vb.nx) {
      worst = 0;
      for (size_t i = 0; i < sm_volume_voxels(&va); i++)
        worst = fmax(worst, fabs(((float *)va.data)[i] - ((float *)vb.data)[i]));
    }
    sm_volume_free(&vb);
  }
  sm_volume_free(&va);
  return worst;
}

int main(int argc, char **argv) {
  int begun = cli_begin(argc, argv, "segs");
  if (begun >= 0)
    return begun;

  TAP_OK(run("phantom img.tif --labels lab.tif --shape 7,100,104 --seed 3") == 0, "phantom");
  TAP_OK(run("finetune --data img.tif --labels lab.tif --task neurons --out s.safetensors "
             "--scratch --steps 1 --batch 1 --threads 1") == 0,
         "a 1-step neurons model");
  TAP_OK(run("segment --model s.safetensors --data img.tif --out l1.tif --probs p1.tif "
             "--threads 1") == 0,
         "segment --out --probs, 1 worker");
  TAP_OK(run("segment --model s.safetensors --data img.tif --probs p2.tif --threads 2 "
             "--batch 3") == 0,
         "segment --probs only, 2 workers, batch 3");

  /* the same checkpoint in memory */
  SegNet *net;
  SmSegInfo info;
  SmError se;
  MaeError me;
  SmVolume img;
  double worst = -1;
  if (!sm_seg_checkpoint_load(in_dir("s.safetensors"), &net, &info, &se) &&
      !sm_volume_read(in_dir("img.tif"), &img, &se)) {
    size_t NV = sm_volume_voxels(&img);
    float *vol = malloc(sizeof(float) * NV), *probs = malloc(sizeof(float) * 3 * NV);
    sm_volume_to_float(&img, vol, NULL, NULL);
    const int64_t dims[3] = {img.nz, img.ny, img.nx};
    SmVolume pv;
    if (!seg_infer_volume(net, info.task, probs, vol, dims, 0.5, 0, NULL, NULL, &me) &&
        !sm_volume_read(in_dir("p1.tif"), &pv, &se)) {
      if (pv.dtype == SM_F32 && pv.nz == 3 * img.nz && pv.ny == img.ny && pv.nx == img.nx) {
        worst = 0;
        for (size_t i = 0; i < 3 * NV; i++)
          worst = fmax(worst, fabs(((float *)pv.data)[i] - probs[i]));
      }
      sm_volume_free(&pv);
    }
    free(vol), free(probs);
    sm_volume_free(&img);
    seg_net_free(net);
  }
  TAP_OK(worst >= 0 && worst < 1e-5,
         "streamed 3*Z pages, channel-major, = seg_infer_volume in memory (worst %.2g)", worst);
  double d12 = tiff_diff(in_dir("p1.tif"), in_dir("p2.tif"));
  TAP_OK(d12 >= 0 && d12 < 1e-5, "--probs only with 2 workers gives the same file (%.2g)", d12);

  TAP_OK(run("segment --model s.safetensors --data img.tif --probs nodir/p.tif") == 1,
         "a target in a missing directory fails");
  struct stat st;
  TAP_OK(stat(in_dir("nodir"), &st) != 0, "and leaves nothing");
  TAP_OK(run("segment --model s.safetensors --data img.tif") == 2,
         "neither --out nor --probs: a usage error");

  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    tap_diag("could not remove %s", dir);
  return tap_done();
}
