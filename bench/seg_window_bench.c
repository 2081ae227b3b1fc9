/* Seconds per window of the segmentation network's forward pass: the
 * training forward (seg_net_forward, batch 1) against the inference forward
 * (seg_net_infer) at batches 1, 4 and 8, all on one thread, on a randomly
 * initialised cpu-small net; also the largest logit difference between them.
 *   seg_window_bench [--windows N] [--config NAME] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rng.h"
#include "seg_infer_net.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); /* CPU seconds: the machine is shared */
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  int windows = 16;
  const char *config = "cpu-small";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--windows") == 0)
      windows = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--config") == 0)
      config = argv[i + 1];
  }
  mae_set_threads(1);
  MaeConfig m;
  MaeError err;
  SegConfig c;
  SegNet *net;
  if (mae_config_named(&m, config, &err))
    return fprintf(stderr, "%s\n", err.message), 1;
  seg_config_default(&c, &m, 1);
  if (seg_net_create(&net, &c, 1, &err))
    return fprintf(stderr, "%s\n", err.message), 1;
  size_t V = (size_t)mae_config_crop_voxels(&m);
  float *x = malloc(sizeof(float) * V * 8), *ref = malloc(sizeof(float) * V * 8),
        *out = malloc(sizeof(float) * V * 8);
  Rng rng;
  rng_seed(&rng, 7);
  for (size_t i = 0; i < V * 8; i++)
    x[i] = 2.f * rng_uniform(&rng) - 1.f;
  for (int b = 0; b < 8; b++)
    seg_net_forward(net, x + b * V, 1, ref + b * V, &err);
  double t0 = now();
  for (int w = 0; w < windows; w++)
    seg_net_forward(net, x + (w % 8) * V, 1, out, &err);
  printf("seg_net_forward   batch 1: %.4f CPU-s/window\n", (now() - t0) / windows);
  const int batches[3] = {1, 4, 8};
  for (int k = 0; k < 3; k++) {
    int B = batches[k];
    SegInferActs *a;
    if (seg_infer_acts_create(&a, net, B, &err))
      return fprintf(stderr, "%s\n", err.message), 1;
    seg_net_infer(net, a, x, B, out, &err);
    double diff = 0;
    for (size_t i = 0; i < V * B; i++)
      diff = fmax(diff, fabs(out[i] - ref[i]));
    t0 = now();
    int done = 0;
    while (done < windows) {
      seg_net_infer(net, a, x, B, out, &err);
      done += B;
    }
    printf("seg_net_infer     batch %d: %.4f CPU-s/window  max|diff| %.2g  %.0f MB\n", B,
           (now() - t0) / done, diff, seg_infer_acts_bytes(a) / 1e6);
    seg_infer_acts_free(a);
  }
  seg_net_free(net);
  free(x), free(ref), free(out);
  return 0;
}
