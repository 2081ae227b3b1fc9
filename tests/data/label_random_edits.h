/* A seeded random proofreading session: every kind of edit with random
 * arguments, some of them invalid on purpose (locked targets, budgets too
 * small). Shared by the undo property test and the journal kill test, which
 * replays the same sequence to know what a recovered state must be. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "label_edit.h"
#include "label_split.h"
#include "label_store.h"
#include "label_undo.h"
#include "rng.h"

/* A store of shape (nz, ny, nx) with n_blobs random balls, ids 1..n_blobs. */
static inline SmLabelStore *lr_initial_store(int64_t nz, int64_t ny, int64_t nx, int n_blobs, uint64_t seed) {
  SmError err;
  SmVolume v = {.dtype = SM_U32, .nz = nz, .ny = ny, .nx = nx};
  v.data = calloc((size_t)(nz * ny * nx), sizeof(uint32_t));
  uint32_t *d = v.data;
  Rng rng;
  rng_seed(&rng, seed);
  for (int b = 1; b <= n_blobs; b++) {
    int64_t cz = (int64_t)rng_below(&rng, (uint64_t)nz), cy = (int64_t)rng_below(&rng, (uint64_t)ny),
            cx = (int64_t)rng_below(&rng, (uint64_t)nx);
    int64_t r = 2 + (int64_t)rng_below(&rng, 6);
    for (int64_t z = 0; z < nz; z++)
      for (int64_t y = 0; y < ny; y++)
        for (int64_t x = 0; x < nx; x++)
          if ((z - cz) * (z - cz) * 9 + (y - cy) * (y - cy) + (x - cx) * (x - cx) <= r * r)
            d[(z * ny + y) * nx + x] = (uint32_t)b;
  }
  SmLabelStore *s = sm_label_store_adopt(&v, "random", &err);
  free(v.data);
  return s;
}

static inline uint32_t lr_pick_segment(const SmLabelStore *s, Rng *rng) {
  size_t n = sm_label_store_n_segments(s);
  return n ? sm_label_store_segment_at(s, rng_below(rng, n))->id : 1;
}

static inline uint32_t lr_pick_value(const SmLabelStore *s, Rng *rng) {
  uint64_t k = rng_below(rng, 10);
  if (k < 2) return 0;                              /* erase / fill with background */
  if (k < 4) return sm_label_store_fresh_id(s);     /* a new segment */
  return lr_pick_segment(s, rng);
}

static inline void lr_pick_point(const SmLabelStore *s, Rng *rng, double p[3]) {
  int64_t sh[3];
  sm_label_store_shape(s, sh);
  for (int a = 0; a < 3; a++) p[a] = (double)rng_below(rng, (uint64_t)sh[a]) + rng_uniform_f64(rng) - 0.5;
}

/* Performs one random edit (which may fail harmlessly). Returns its kind. */
static inline int lr_random_edit(SmLabelStore *s, Rng *rng) {
  SmError err;
  int64_t sh[3];
  sm_label_store_shape(s, sh);
  int kind = (int)rng_below(rng, 100);
  if (kind < 35) { /* paint / erase stroke */
    SmBrush b = {.radius = 0.5 + 3.5 * rng_uniform_f64(rng), .shape = (SmBrushShape)((int)rng_below(rng, 4) - 1)};
    b.over = (SmPaintOver)rng_below(rng, 3);
    b.over_segment = lr_pick_segment(s, rng);
    double pts[4][3];
    size_t n = 1 + rng_below(rng, 4);
    lr_pick_point(s, rng, pts[0]);
    for (size_t i = 1; i < n; i++) {
      for (int a = 0; a < 3; a++) pts[i][a] = pts[i - 1][a] + (rng_uniform_f64(rng) - 0.5) * 12;
      if (b.shape >= 0) pts[i][b.shape] = pts[0][b.shape];
    }
    sm_label_paint(s, lr_pick_value(s, rng), &b, (const double(*)[3])pts, n, &err);
    return 0;
  }
  if (kind < 50) { /* fill */
    double p[3];
    lr_pick_point(s, rng, p);
    int64_t seed[3];
    for (int a = 0; a < 3; a++) {
      seed[a] = (int64_t)(p[a] + 0.5);
      if (seed[a] >= sh[a]) seed[a] = sh[a] - 1;
      if (seed[a] < 0) seed[a] = 0;
    }
    SmFillOptions o;
    sm_fill_options_default(s, (SmBrushShape)((int)rng_below(rng, 4) - 1), seed, &o);
    o.max_voxels = rng_below(rng, 3) ? 0 : 1 + rng_below(rng, 2000);
    sm_label_fill(s, seed, lr_pick_value(s, rng), &o, &err);
    return 1;
  }
  if (kind < 62) { /* merge */
    uint32_t ids[3] = {lr_pick_segment(s, rng), lr_pick_segment(s, rng), lr_pick_segment(s, rng)};
    sm_label_merge(s, ids, 2 + rng_below(rng, 2), &err);
    return 2;
  }
  if (kind < 72) { /* split at two random voxels of a segment */
    uint32_t id = lr_pick_segment(s, rng);
    const SmSegment *seg = sm_label_store_segment(s, id);
    if (!seg || seg->voxels < 2) return 3;
    int64_t seeds[2][3];
    int found = 0;
    for (int tries = 0; tries < 2000 && found < 2; tries++) {
      int64_t c[3];
      for (int a = 0; a < 3; a++)
        c[a] = seg->lo[a] + (int64_t)rng_below(rng, (uint64_t)(seg->hi[a] - seg->lo[a]));
      if (sm_label_store_id_at(s, c[0], c[1], c[2]) != id) continue;
      if (found == 1 && c[0] == seeds[0][0] && c[1] == seeds[0][1] && c[2] == seeds[0][2]) continue;
      for (int a = 0; a < 3; a++) seeds[found][a] = c[a];
      found++;
    }
    if (found < 2) return 3;
    SmLabelSplit sp;
    if (sm_label_split_compute(s, id, (const int64_t(*)[3])seeds, 2, NULL, true, &sp, &err) == 0) {
      sm_label_split_apply(s, &sp, NULL, &err);
      sm_label_split_free(&sp);
    }
    return 3;
  }
  if (kind < 78) {
    sm_label_delete_segment(s, lr_pick_segment(s, rng), &err);
    return 4;
  }
  if (kind < 82) {
    uint32_t id;
    sm_label_new_segment(s, &id, &err);
    return 5;
  }
  if (kind < 90) {
    uint32_t id = lr_pick_segment(s, rng);
    const SmSegment *seg = sm_label_store_segment(s, id);
    sm_label_set_locked(s, id, seg && !(seg->flags & SM_SEGMENT_LOCKED), &err);
    return 6;
  }
  if (kind < 95) {
    char name[32];
    snprintf(name, sizeof name, "n%llu", (unsigned long long)rng_below(rng, 1000));
    sm_label_set_name(s, lr_pick_segment(s, rng), name, &err);
    return 7;
  }
  if (kind < 98) {
    sm_label_set_color(s, lr_pick_segment(s, rng), (uint32_t)rng_below(rng, 1u << 24), rng_below(rng, 2), &err);
    return 8;
  }
  if (kind < 99) {
    sm_label_remove_small(s, 1 + rng_below(rng, 30), NULL, &err);
    return 9;
  }
  sm_label_relabel_consecutive(s, &err);
  return 10;
}
