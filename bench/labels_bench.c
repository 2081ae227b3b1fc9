/* Proofreading speed on a 100 x 1024 x 1024 uint32 label volume (by hand,
 * not a test): brush latency (one stroke segment applied + its undo delta
 * recorded), merge of two 10^6-voxel segments, undo of a large edit, and
 * flood-fill throughput. Aims (issue 8): brush < 16 ms, merge < 1 ms,
 * undo < 50 ms.
 *
 *   build-DIR/bench/labels_bench [--journal JOURNAL_DIR [--async]]
 *
 * With --journal, every edit is also appended + fdatasync'ed to a journal in
 * JOURNAL_DIR before the call returns (latency then includes the disk
 * flush); with --async too, a writer thread does that (the studio's mode). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/label_edit.h"
#include "data/label_journal.h"
#include "data/label_store.h"
#include "data/label_undo.h"

enum { NZ = 100, NY = 1024, NX = 1024, BLOCK_Z = 10, BLOCK_Y = 100 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

static double maximum(const double *v, int n) {
  double m = v[0];
  for (int i = 1; i < n; i++)
    if (v[i] > m) m = v[i];
  return m;
}

/* Segments are slabs of 10 x 100 x 1024 = 1 024 000 voxels (last row of
 * slabs shorter): about 1000 segments of ~10^6 voxels. */
static uint32_t slab_id(int64_t z, int64_t y) { return (uint32_t)((z / BLOCK_Z) * 11 + y / BLOCK_Y + 1); }

int main(int argc, char **argv) {
  const char *journal_dir = NULL;
  bool async = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--journal") && i + 1 < argc) journal_dir = argv[++i];
    if (!strcmp(argv[i], "--async")) async = true;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  SmError err;
  SmVolume v = {.dtype = SM_U32, .nz = NZ, .ny = NY, .nx = NX, .voxel_size = {1, 1, 1}};
  v.data = malloc((size_t)NZ * NY * NX * sizeof(uint32_t));
  if (!v.data) return fprintf(stderr, "out of memory\n"), 1;
  uint32_t *d = v.data;
  for (int64_t z = 0; z < NZ; z++)
    for (int64_t y = 0; y < NY; y++) {
      uint32_t id = slab_id(z, y);
      for (int64_t x = 0; x < NX; x++) d[(z * NY + y) * NX + x] = id;
    }
  double t0 = now();
  SmLabelStore *s = sm_label_store_adopt(&v, "bench", &err);
  if (!s) return fprintf(stderr, "%s\n", err.message), 1;
  printf("volume %d x %d x %d uint32 (%.0f MiB), %zu segments; table built in %.0f ms\n", NZ, NY, NX,
         (double)NZ * NY * NX * 4 / 1048576.0, sm_label_store_n_segments(s), 1e3 * (now() - t0));
  SmLabelJournal *j = NULL;
  if (journal_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/labels_bench.journal", journal_dir);
    t0 = now();
    j = sm_label_journal_create(path, s, sm_label_store_content_hash(s), &err);
    if (!j) return fprintf(stderr, "%s\n", err.message), 1;
    printf("journal %s created (content hash included) in %.0f ms%s\n", path, 1e3 * (now() - t0),
           async ? "; asynchronous writer" : "; every edit flushed before returning");
    if (async && sm_label_journal_set_async(j, true, &err) != 0) return fprintf(stderr, "%s\n", err.message), 1;
  }

  /* Brush: one stroke segment (two mouse positions 8 px apart), applied and
   * its delta recorded, as the studio does per motion event + release. */
  enum { STROKES = 60 };
  double t_disc[STROKES], t_ball[STROKES];
  for (int k = 0; k < 2; k++) {
    double *t = k ? t_ball : t_disc;
    SmBrush b = {.radius = k ? 8 : 12, .shape = k ? SM_BRUSH_BALL : SM_BRUSH_XY};
    for (int i = 0; i < STROKES; i++) {
      double p0[3] = {5 + i, 100 + 13 * i, 200 + 7 * i}, p1[3] = {p0[0], p0[1] + 5, p0[2] + 6};
      uint32_t value = 5000 + (uint32_t)i;
      double a = now();
      sm_label_stroke_begin(s, value, &b, &err);
      sm_label_stroke_to(s, p0, &err);
      sm_label_stroke_to(s, p1, &err);
      sm_label_stroke_end(s, &err);
      t[i] = 1e3 * (now() - a);
    }
  }
  printf("brush, 2D disc r=12, stroke of 2 positions: median %.3f ms, max %.3f ms%s  (aim < 16 ms)\n",
         median(t_disc, STROKES), maximum(t_disc, STROKES), j && !async ? " incl. fdatasync" : "");
  printf("brush, 3D ball r=8,  stroke of 2 positions: median %.3f ms, max %.3f ms%s\n", median(t_ball, STROKES),
         maximum(t_ball, STROKES), j && !async ? " incl. fdatasync" : "");

  /* Merge two ~10^6-voxel segments (table edit), and its undo. */
  enum { MERGES = 40 };
  double t_merge[MERGES], t_unmerge[MERGES];
  for (int i = 0; i < MERGES; i++) {
    uint32_t ids[2] = {slab_id(10 * (i / 10), 100 * (i % 10)), slab_id(50 + 10 * (i / 10), 100 * (i % 10))};
    uint64_t n0 = sm_label_store_segment(s, ids[0])->voxels, n1 = sm_label_store_segment(s, ids[1])->voxels;
    if (i == 0) printf("merging segments of %llu and %llu voxels\n", (unsigned long long)n0, (unsigned long long)n1);
    double a = now();
    if (sm_label_merge(s, ids, 2, &err) != 0) return fprintf(stderr, "%s\n", err.message), 1;
    t_merge[i] = 1e3 * (now() - a);
    a = now();
    sm_label_undo(s, &err);
    t_unmerge[i] = 1e3 * (now() - a);
  }
  printf("merge of two 10^6-voxel segments: median %.4f ms, max %.4f ms  (aim < 1 ms); undo median %.4f ms\n",
         median(t_merge, MERGES), maximum(t_merge, MERGES), median(t_unmerge, MERGES));

  /* Flood fill: a 3D fill of one slab (10^6 voxels), then of ten merged slabs
   * (10^7 voxels); compute and apply timed apart; then undo and redo. */
  for (int big = 0; big < 2; big++) {
    int64_t seed[3] = {20, 350, 512};
    if (big) {
      uint32_t ids[10];
      for (int k = 0; k < 10; k++) ids[k] = slab_id(60, 100 * k);
      sm_label_merge(s, ids, 10, &err);
      seed[0] = 65, seed[1] = 50;
    }
    SmFillOptions o;
    sm_fill_options_default(s, SM_BRUSH_BALL, seed, &o);
    SmLabelRegion r;
    double a = now(), c = cpu_now();
    if (sm_label_fill_compute(s, seed, &o, &r, &err) != 0) return fprintf(stderr, "%s\n", err.message), 1;
    double t_compute = now() - a, c_compute = cpu_now() - c;
    a = now(), c = cpu_now();
    if (sm_label_region_apply(s, &r, 900000 + (uint32_t)big, &err) != 0)
      return fprintf(stderr, "%s\n", err.message), 1;
    double t_apply = now() - a, c_apply = cpu_now() - c;
    SmUndoMemory m;
    sm_label_undo_memory(s, &m);
    a = now();
    sm_label_undo(s, &err);
    double t_undo = now() - a;
    a = now();
    sm_label_redo(s, &err);
    double t_redo = now() - a;
    printf("3D fill of %llu voxels: compute %.1f ms (%.0f Mvoxel/s), apply+record %.1f ms (%.0f Mvoxel/s), "
           "total %.0f Mvoxel/s\n",
           (unsigned long long)r.voxels, 1e3 * t_compute, (double)r.voxels / t_compute / 1e6, 1e3 * t_apply,
           (double)r.voxels / t_apply / 1e6, (double)r.voxels / (t_compute + t_apply) / 1e6);
    printf("  (CPU time: compute %.1f ms, apply %.1f ms: %.0f Mvoxel/s on an idle core)\n", 1e3 * c_compute,
           1e3 * c_apply, (double)r.voxels / (c_compute + c_apply) / 1e6);
    printf("  undo of that fill %.1f ms, redo %.1f ms  (aim < 50 ms); history now %.1f KiB in %zu steps\n",
           1e3 * t_undo, 1e3 * t_redo, (double)m.bytes / 1024.0, m.undo_steps);
    sm_label_region_free(&r);
  }

  /* Fill budget: a fill that would exceed it stops early and changes nothing. */
  int64_t seed[3] = {90, 900, 10};
  SmFillOptions o;
  sm_fill_options_default(s, SM_BRUSH_BALL, seed, &o);
  o.max_voxels = 100000;
  double a = now(), c = cpu_now();
  int rc = sm_label_fill(s, seed, 77, &o, &err);
  printf("fill with a 10^5-voxel budget on a 10^6 region: %s after %.2f ms (CPU %.2f ms)\n",
         rc ? "refused" : "DONE?!", 1e3 * (now() - a), 1e3 * (cpu_now() - c));
  SmUndoMemory m;
  sm_label_undo_memory(s, &m);
  printf("undo history: %.1f KiB in %zu steps (cap %.0f MiB)\n", (double)m.bytes / 1024.0, m.undo_steps,
         (double)m.cap / 1048576.0);
  if (j) {
    a = now();
    sm_label_journal_sync(j, &err);
    printf("journal: %llu records on disk (final sync %.1f ms)\n",
           (unsigned long long)sm_label_journal_durable_records(j), 1e3 * (now() - a));
    sm_label_journal_discard(j);
  }
  sm_label_store_free(s);
  return 0;
}
