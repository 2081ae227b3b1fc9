/* Throughput of the post-processing and metrics on a large synthetic volume
 * (default 100 x 1024 x 1024): contingency table + metrics, connected
 * components, watershed (uint8 buckets, float heap), affinity boundary, and
 * mean-affinity agglomeration, in voxels per second of CPU time (one thread;
 * CPU time rather than wall clock because the build machine is shared).
 * usage: postproc_throughput [Z Y X] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agglomerate.h"
#include "connected_components.h"
#include "metrics.h"
#include "watershed.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);  // CPU time: the machine is shared
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void report(const char *what, double seconds, size_t voxels, const char *extra) {
  printf("%-34s %7.2f s  %7.1f Mvoxel/s  %s\n", what, seconds, (double)voxels / seconds / 1e6, extra);
  fflush(stdout);
}

int main(int argc, char **argv) {
  int64_t d[3] = {100, 1024, 1024};
  if (argc == 4)
    for (int i = 0; i < 3; i++) d[i] = atoll(argv[i + 1]);
  const size_t n = (size_t)(d[0] * d[1] * d[2]);
  uint32_t *truth = malloc(n * sizeof *truth), *pred = malloc(n * sizeof *pred);
  uint32_t *labels = malloc(n * sizeof *labels);
  uint8_t *boundary = malloc(n), *mask = malloc(n);
  if (!truth || !pred || !labels || !boundary || !mask) {
    fprintf(stderr, "postproc_throughput: out of memory for %zu voxels\n", n);
    return 1;
  }
  // Truth: boxes of 4 x 32 x 32; prediction: an offset grid of 2 x 12 x 12
  // boxes, so that the table holds millions of distinct (truth, pred) pairs.
  // Boundary: a smooth periodic field with basins every ~14 voxels in y/x.
  size_t i = 0;
  for (int64_t z = 0; z < d[0]; z++)
    for (int64_t y = 0; y < d[1]; y++)
      for (int64_t x = 0; x < d[2]; x++, i++) {
        truth[i] = (uint32_t)(((z / 4) * ((d[1] + 31) / 32) + y / 32) * ((d[2] + 31) / 32) + x / 32 + 1);
        pred[i] = (uint32_t)((((z + 1) / 2) * ((d[1] + 20) / 12) + (y + 7) / 12) * ((d[2] + 20) / 12) + (x + 5) / 12 + 1);
        const double f = sin(0.23 * (double)x) * sin(0.21 * (double)y) * cos(0.9 * (double)z + 0.1 * (double)x);
        boundary[i] = (uint8_t)(127.5 + 127.0 * f);
        mask[i] = boundary[i] < 100;
      }
  printf("volume %lld x %lld x %lld = %.1f Mvoxel\n", (long long)d[0], (long long)d[1], (long long)d[2], n / 1e6);
  PpError err;
  char extra[128];

  double t0 = now();
  ContingencyTable table;
  if (metrics_contingency(&table, truth, pred, n, &err) != 0) return fprintf(stderr, "%s\n", err.message), 1;
  double t1 = now();
  snprintf(extra, sizeof extra, "%zu distinct pairs", table.n_pairs);
  report("contingency table (hash map)", t1 - t0, n, extra);
  RandScores r;
  VoiScores v;
  double ap[2];
  const double th[2] = {0.5, 0.75};
  metrics_adapted_rand(&r, &table, &err);
  metrics_voi(&v, &table, true, &err);
  metrics_average_precision(ap, &table, th, 2, NULL, NULL, &err);
  double t2 = now();
  snprintf(extra, sizeof extra, "arand %.4f voi %.3f/%.3f ap50 %.3f", r.error, v.split, v.merge, ap[0]);
  report("arand + voi + ap from the table", t2 - t1, n, extra);
  metrics_contingency_free(&table);

  t0 = now();
  int64_t k = cc_label_u8(labels, mask, d, CC_CONN_FACES, &err);
  t1 = now();
  snprintf(extra, sizeof extra, "%lld components", (long long)k);
  report("connected components (6)", t1 - t0, n, extra);
  k = cc_label_u8(labels, mask, d, CC_CONN_FULL, &err);
  t2 = now();
  snprintf(extra, sizeof extra, "%lld components", (long long)k);
  report("connected components (26)", t2 - t1, n, extra);
  k = cc_remove_small(labels, n, 100, &err);
  t0 = now();
  snprintf(extra, sizeof extra, "%lld kept", (long long)k);
  report("size filter (>= 100) + relabel", t0 - t2, n, extra);

  int64_t seeds = ws_seeds_below_u8(labels, boundary, d, 20, 10, CC_CONN_FACES, &err);
  t1 = now();
  snprintf(extra, sizeof extra, "%lld seeds", (long long)seeds);
  report("seeds: boundary < 20, size >= 10", t1 - t0, n, extra);
  memcpy(pred, labels, n * sizeof *pred);  // keep the seeds
  ws_seeded_u8(labels, boundary, NULL, d, CC_CONN_FACES, &err);
  t2 = now();
  report("watershed uint8 (bucket queue)", t2 - t1, n, "");
  float *bf = malloc(n * sizeof *bf);
  for (size_t j = 0; j < n; j++) bf[j] = boundary[j] / 255.0f;
  memcpy(truth, pred, n * sizeof *truth);
  t0 = now();
  ws_seeded_f32(truth, bf, NULL, d, CC_CONN_FACES, &err);
  t1 = now();
  report("watershed float (radix heap)", t1 - t0, n, memcmp(truth, labels, n * 4) == 0 ? "same labels as uint8" : "DIFFERS from uint8");
  free(bf);
  free(pred);
  free(mask);

  float *aff = malloc(3 * n * sizeof *aff);
  if (!aff) return fprintf(stderr, "postproc_throughput: no memory for affinities\n"), 1;
  agglo_affinities_from_boundary_u8(aff, boundary, d);
  t0 = now();
  k = agglo_mean_affinity(truth, labels, aff, d, 0.5, &err);
  t1 = now();
  snprintf(extra, sizeof extra, "%lld fragments -> %lld segments", (long long)seeds, (long long)k);
  report("agglomeration (mean affinity 0.5)", t1 - t0, n, extra);
  free(aff), free(truth), free(labels), free(boundary);
  return 0;
}
