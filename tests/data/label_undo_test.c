/* Undo/redo restore the exact bytes and table after random sequences of
 * edits (a property test with a seeded RNG), failed edits change nothing,
 * and the history's memory follows the size of the edits, not the volume. */
#include <string.h>

#include "label_random_edits.h"
#include "label_test_util.h"
#include "tap.h"

enum { N_EDITS = 300, N_WALK = 300 };

static void test_random_sequences(uint64_t seed) {
  SmError err;
  SmLabelStore *s = lr_initial_store(10, 40, 40, 16, seed);
  Rng rng;
  rng_seed(&rng, seed * 7919 + 1);
  static LabelSnapshot snaps[N_EDITS + N_WALK + 2];
  int n = 0;
  lt_snapshot(s, &snaps[n++]);
  bool consistent = true, failed_unchanged = true;
  int kinds[11] = {0};
  for (int i = 0; i < N_EDITS; i++) {
    uint64_t v0 = sm_label_store_version(s);
    int kind = lr_random_edit(s, &rng);
    if (sm_label_store_version(s) != v0) {
      kinds[kind]++;
      lt_snapshot(s, &snaps[n++]);
    } else if (!lt_equals(s, &snaps[n - 1])) {
      failed_unchanged = false;
      tap_diag("edit %d of kind %d changed the labels without an undo step", i, kind);
    }
    if (consistent && !lt_consistent(s)) {
      consistent = false;
      tap_diag("inconsistent after edit %d of kind %d", i, kind);
    }
  }
  tap_diag("seed %llu: %d undo steps (paint %d, fill %d, merge %d, split %d, delete %d, new %d, lock %d, "
           "name %d, colour %d, small %d, relabel %d)",
           (unsigned long long)seed, n - 1, kinds[0], kinds[1], kinds[2], kinds[3], kinds[4], kinds[5],
           kinds[6], kinds[7], kinds[8], kinds[9], kinds[10]);
  TAP_OK(consistent, "seed %llu: counts and boxes stay exact through %d random edits", (unsigned long long)seed,
         N_EDITS);
  TAP_OK(failed_unchanged, "seed %llu: edits that fail change nothing", (unsigned long long)seed);
  TAP_OK(kinds[0] && kinds[1] && kinds[2] && kinds[3] && kinds[4], "every main kind of edit happened");

  bool undo_ok = true;
  for (int k = n - 1; k > 0 && undo_ok; k--) {
    if (sm_label_undo(s, &err) != 0 || !lt_equals(s, &snaps[k - 1])) {
      undo_ok = false;
      tap_diag("undo to step %d differs (%s)", k - 1, err.message);
    }
  }
  TAP_OK(undo_ok && !sm_label_can_undo(s), "seed %llu: undoing every step restores each earlier state exactly",
         (unsigned long long)seed);
  TAP_OK(lt_consistent(s), "table consistent after undoing everything");
  bool redo_ok = true;
  for (int k = 1; k < n && redo_ok; k++) {
    if (sm_label_redo(s, &err) != 0 || !lt_equals(s, &snaps[k])) {
      redo_ok = false;
      tap_diag("redo to step %d differs", k);
    }
  }
  TAP_OK(redo_ok && !sm_label_can_redo(s), "seed %llu: redoing every step reproduces each state exactly",
         (unsigned long long)seed);

  /* A random walk of undo, redo and new edits against a model of the history. */
  int pos = n - 1, top = n - 1;
  bool walk_ok = true;
  for (int i = 0; i < N_WALK && walk_ok; i++) {
    uint64_t r = rng_below(&rng, 10);
    if (r < 3 && pos > 0) {
      walk_ok = sm_label_undo(s, &err) == 0;
      pos--;
    } else if (r < 5 && pos < top) {
      walk_ok = sm_label_redo(s, &err) == 0;
      pos++;
    } else {
      uint64_t v0 = sm_label_store_version(s);
      lr_random_edit(s, &rng);
      if (sm_label_store_version(s) != v0) {
        for (int k = pos + 1; k <= top; k++) lt_snapshot_free(&snaps[k]);
        pos = top = pos + 1;
        lt_snapshot(s, &snaps[pos]);
        walk_ok = !sm_label_can_redo(s);
      }
    }
    if (walk_ok && !lt_equals(s, &snaps[pos])) {
      walk_ok = false;
      tap_diag("walk step %d: state differs from the model", i);
    }
  }
  TAP_OK(walk_ok, "seed %llu: %d mixed undo/redo/edit steps match the model", (unsigned long long)seed, N_WALK);
  for (int k = 0; k <= top; k++) lt_snapshot_free(&snaps[k]);
  sm_label_store_free(s);
}

static void test_memory(void) {
  SmError err;
  SmLabelStore *s = sm_label_store_new(64, 512, 512, &err);
  size_t volume_bytes = sm_label_store_voxels(s) * sizeof(uint32_t);
  Rng rng;
  rng_seed(&rng, 42);
  for (int i = 0; i < 100; i++) {
    SmBrush b = {.radius = 4, .shape = i % 2 ? SM_BRUSH_XY : SM_BRUSH_BALL};
    double pts[3][3];
    for (int a = 0; a < 3; a++) pts[0][a] = (double)rng_below(&rng, a ? 500 : 60);
    for (int k = 1; k < 3; k++)
      for (int a = 0; a < 3; a++) pts[k][a] = pts[k - 1][a] + (a ? 6 : 0);
    sm_label_paint(s, 1 + (uint32_t)rng_below(&rng, 20), &b, (const double(*)[3])pts, 3, &err);
  }
  SmUndoMemory m;
  sm_label_undo_memory(s, &m);
  tap_diag("100 strokes on a %zu MiB volume: history %zu bytes in %zu steps", volume_bytes >> 20, m.bytes,
           m.undo_steps);
  TAP_OK(m.undo_steps == 100, "100 undo steps recorded");
  TAP_OK(m.bytes < volume_bytes / 200, "their history (%zu bytes) is far below the volume (%zu bytes)", m.bytes,
         volume_bytes);
  /* A fill of a whole slice is big, and its record is compact (runs). */
  int64_t seed[3] = {10, 0, 0};
  SmFillOptions o;
  sm_fill_options_default(s, SM_BRUSH_XY, seed, &o);
  size_t before = m.bytes;
  TAP_OK(sm_label_fill(s, seed, 99, &o, &err) == 0, "fill a slice");
  sm_label_undo_memory(s, &m);
  TAP_OK(m.bytes - before < 512 * 512 / 8, "a 262144-voxel fill costs %zu bytes of history", m.bytes - before);
  /* The cap drops the oldest steps. */
  sm_label_set_undo_cap(s, m.bytes / 2);
  sm_label_undo_memory(s, &m);
  TAP_OK(m.bytes <= m.cap && m.undo_steps < 101 && m.undo_steps > 0,
         "a lower cap drops old steps (%zu steps, %zu bytes, cap %zu)", m.undo_steps, m.bytes, m.cap);
  TAP_OK(sm_label_undo(s, &err) == 0 && sm_label_store_id_at(s, 10, 0, 0) != 99, "the newest step still undoes");
  sm_label_store_free(s);
}

int main(void) {
  test_random_sequences(1);
  test_random_sequences(2);
  test_random_sequences(3);
  test_memory();
  return tap_done();
}
