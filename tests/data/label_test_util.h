/* Helpers shared by the label tests: snapshots of a store (raw fragment
 * bytes + canonical table) and a consistency check of the table against the
 * voxels. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "label_stats.h"
#include "label_store.h"

typedef struct LabelSnapshot {
  uint32_t *fragments;
  size_t n;
  char *table; /* canonical text: one line per segment, by id */
} LabelSnapshot;

static int lt_cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* Table as text, sorted by id; bounding boxes are left out (conservative by design). */
static inline char *lt_table_text(const SmLabelStore *s) {
  size_t n = sm_label_store_n_segments(s), cap = 256 + n * 96, len = 0;
  const SmSegment **v = sm_label_sorted_segments(s, SM_ORDER_ID);
  char *out = malloc(cap);
  len += (size_t)snprintf(out + len, cap - len, "bg %llu\n",
                          (unsigned long long)sm_label_store_background_voxels(s));
  for (size_t i = 0; i < n; i++) {
    uint32_t extra[64];
    uint32_t ne = v[i]->n_extra < 64 ? v[i]->n_extra : 64;
    if (ne) memcpy(extra, v[i]->extra, ne * sizeof *extra);
    qsort(extra, ne, sizeof *extra, lt_cmp_u32);
    if (len + 96 + ne * 12 + 64 > cap) {
      cap = cap * 2 + ne * 12 + 64;
      out = realloc(out, cap);
    }
    len += (size_t)snprintf(out + len, cap - len, "%u %llu f%x c%06x n=%s x=", v[i]->id,
                            (unsigned long long)v[i]->voxels, v[i]->flags & ~(uint32_t)SM_SEGMENT_HIDDEN,
                            v[i]->color, v[i]->name ? v[i]->name : "");
    for (uint32_t k = 0; k < ne; k++) len += (size_t)snprintf(out + len, cap - len, "%u,", extra[k]);
    len += (size_t)snprintf(out + len, cap - len, "\n");
  }
  free(v);
  return out;
}

static inline void lt_snapshot(const SmLabelStore *s, LabelSnapshot *snap) {
  snap->n = sm_label_store_voxels(s);
  snap->fragments = malloc(snap->n * sizeof *snap->fragments);
  memcpy(snap->fragments, sm_label_store_fragments(s), snap->n * sizeof *snap->fragments);
  snap->table = lt_table_text(s);
}

static inline void lt_snapshot_free(LabelSnapshot *snap) {
  free(snap->fragments);
  free(snap->table);
  memset(snap, 0, sizeof *snap);
}

static inline bool lt_equals(const SmLabelStore *s, const LabelSnapshot *snap) {
  if (memcmp(sm_label_store_fragments(s), snap->fragments, snap->n * sizeof *snap->fragments) != 0)
    return false;
  char *t = lt_table_text(s);
  bool same = strcmp(t, snap->table) == 0;
  if (!same) fprintf(stdout, "# table now:\n# %s\n# expected:\n# %s\n", t, snap->table);
  free(t);
  return same;
}

/* Every count exact, every voxel inside its segment's box, every displayed
 * id a segment. Returns false and prints why otherwise. */
static inline bool lt_consistent(const SmLabelStore *s) {
  int64_t shape[3];
  sm_label_store_shape(s, shape);
  size_t n_segs = sm_label_store_n_segments(s);
  uint64_t *counts = calloc(n_segs + 1, sizeof *counts);
  uint64_t background = 0;
  const uint32_t *f = sm_label_store_fragments(s);
  bool ok = true;
  size_t i = 0;
  for (int64_t z = 0; z < shape[0]; z++)
    for (int64_t y = 0; y < shape[1]; y++)
      for (int64_t x = 0; x < shape[2]; x++, i++) {
        uint32_t id = sm_label_store_segment_of(s, f[i]);
        if (!id) {
          background++;
          continue;
        }
        const SmSegment *seg = sm_label_store_segment(s, id);
        if (!seg) {
          if (ok) printf("# voxel %zu has id %u with no segment\n", i, id);
          ok = false;
          continue;
        }
        counts[seg - sm_label_store_segment_at(s, 0)]++;
        if (z < seg->lo[0] || z >= seg->hi[0] || y < seg->lo[1] || y >= seg->hi[1] ||
            x < seg->lo[2] || x >= seg->hi[2]) {
          if (ok) printf("# voxel (%lld,%lld,%lld) of %u outside its box\n", (long long)z, (long long)y,
                         (long long)x, id);
          ok = false;
        }
      }
  for (size_t k = 0; k < n_segs; k++) {
    const SmSegment *seg = sm_label_store_segment_at(s, k);
    if (seg->voxels != counts[k]) {
      if (ok) printf("# segment %u counts %llu, has %llu\n", seg->id, (unsigned long long)seg->voxels,
                     (unsigned long long)counts[k]);
      ok = false;
    }
  }
  if (background != sm_label_store_background_voxels(s)) {
    printf("# background %llu, counted %llu\n", (unsigned long long)sm_label_store_background_voxels(s),
           (unsigned long long)background);
    ok = false;
  }
  free(counts);
  return ok;
}

/* Temporary directory for a test's files (removed by the caller with lt_rmdir). */
static inline void lt_tempdir(char *buf, size_t n, const char *tag) {
  const char *base = getenv("TMPDIR");
  snprintf(buf, n, "%s/semmae-%s-XXXXXX", base && *base ? base : "/tmp", tag);
  if (!mkdtemp(buf)) buf[0] = '\0';
}

static inline void lt_rmdir(const char *dir) {
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "# could not remove %s\n", dir);
}
