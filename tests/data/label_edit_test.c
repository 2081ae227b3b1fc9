/* Each proofreading edit's effect on the label volume and the segment table,
 * and the change notifications the views rely on. */
#include <string.h>

#include "label_edit.h"
#include "label_split.h"
#include "label_store.h"
#include "label_test_util.h"
#include "label_undo.h"
#include "tap.h"

typedef struct Heard {
  int calls;
  SmLabelChange last;
  uint32_t ids[64];
} Heard;

static void on_change(const SmLabelChange *c, void *user) {
  Heard *h = user;
  h->calls++;
  h->last = *c;
  size_t n = c->n_ids < 64 ? c->n_ids : 64;
  memcpy(h->ids, c->ids, n * sizeof *c->ids);
  h->last.ids = h->ids;
}

static uint64_t count_id(const SmLabelStore *s, uint32_t id) {
  int64_t sh[3];
  sm_label_store_shape(s, sh);
  uint64_t n = 0;
  for (int64_t z = 0; z < sh[0]; z++)
    for (int64_t y = 0; y < sh[1]; y++)
      for (int64_t x = 0; x < sh[2]; x++) n += sm_label_store_id_at(s, z, y, x) == id;
  return n;
}

static void test_paint(void) {
  SmError err;
  SmLabelStore *s = sm_label_store_new(8, 32, 32, &err);
  Heard heard = {0};
  sm_label_store_set_listener(s, on_change, &heard);

  SmBrush disc = {.radius = 3, .shape = SM_BRUSH_XY};
  double p[1][3] = {{4, 16, 16}};
  TAP_OK(sm_label_paint(s, 5, &disc, p, 1, &err) == 0, "paint a disc");
  const SmSegment *seg = sm_label_store_segment(s, 5);
  /* x^2 + y^2 <= 9 on the integer grid: 29 points. */
  TAP_OK(seg && seg->voxels == 29, "disc of radius 3 has 29 voxels (table says %llu)",
         seg ? (unsigned long long)seg->voxels : 0ull);
  TAP_OK(count_id(s, 5) == 29, "and the volume holds 29");
  TAP_OK(sm_label_store_id_at(s, 3, 16, 16) == 0 && sm_label_store_id_at(s, 5, 16, 16) == 0,
         "a 2D disc stays in its slice");
  TAP_OK(heard.last.voxels_changed && heard.last.lo[0] == 4 && heard.last.hi[0] == 5 &&
             heard.last.lo[1] == 13 && heard.last.hi[1] == 20 && heard.last.lo[2] == 13 &&
             heard.last.hi[2] == 20,
         "the change box is exactly the disc's box");
  TAP_OK(heard.last.n_ids == 1 && heard.last.ids[0] == 5, "the change names segment 5");
  TAP_OK(lt_consistent(s), "table consistent after a disc");

  SmBrush ball = {.radius = 2, .shape = SM_BRUSH_BALL};
  double q[1][3] = {{4, 5, 5}};
  TAP_OK(sm_label_paint(s, 6, &ball, q, 1, &err) == 0, "paint a ball");
  TAP_OK(count_id(s, 6) == 33 && sm_label_store_segment(s, 6)->voxels == 33,
         "ball of radius 2 has 33 voxels");

  /* A fast mouse: two points far apart, nothing skipped in between. */
  SmBrush thin = {.radius = 0.5, .shape = SM_BRUSH_XY};
  double line[2][3] = {{1, 28, 2}, {1, 28, 29}};
  TAP_OK(sm_label_paint(s, 7, &thin, line, 2, &err) == 0, "paint a stroke of two points");
  bool gapless = true;
  for (int x = 2; x <= 29; x++) gapless &= sm_label_store_id_at(s, 1, 28, x) == 7;
  TAP_OK(gapless, "the stroke covers every voxel between the two mouse positions");

  /* Anisotropic voxels: a ball is flatter in z. */
  SmLabelStore *an = sm_label_store_new(9, 21, 21, &err);
  sm_label_store_set_voxel_size(an, (double[3]){4, 1, 1}, "nm");
  SmBrush big = {.radius = 8, .shape = SM_BRUSH_BALL};
  double c[1][3] = {{4, 10, 10}};
  sm_label_paint(an, 1, &big, c, 1, &err);
  TAP_OK(sm_label_store_id_at(an, 6, 10, 10) == 1 && sm_label_store_id_at(an, 7, 10, 10) == 0,
         "ball radius scales with the voxel size (8 nm in xy = 2 slices of 4 nm)");
  sm_label_store_free(an);

  /* Locks: painting over a locked segment leaves it. */
  TAP_OK(sm_label_set_locked(s, 5, true, &err) == 0, "lock segment 5");
  SmBrush wide = {.radius = 6, .shape = SM_BRUSH_XY};
  TAP_OK(sm_label_paint(s, 8, &wide, p, 1, &err) == 0, "paint 8 over locked 5");
  TAP_OK(count_id(s, 5) == 29, "the locked segment kept all its voxels");
  TAP_OK(sm_label_store_segment(s, 8)->voxels == count_id(s, 8) && count_id(s, 8) > 29,
         "8 got the rest of its disc");
  TAP_OK(sm_label_paint(s, 5, &disc, q, 1, &err) != 0 && strstr(err.message, "locked"),
         "painting with a locked id is refused: %s", err.message);
  SmBrush eraser = {.radius = 6, .shape = SM_BRUSH_XY};
  TAP_OK(sm_label_paint(s, 0, &eraser, p, 1, &err) == 0 && count_id(s, 5) == 29 && count_id(s, 8) == 0,
         "erase removes 8 and leaves locked 5");
  /* Paint modes: only background, only one segment. */
  SmBrush gap = {.radius = 6, .shape = SM_BRUSH_XY, .over = SM_OVER_BACKGROUND};
  sm_label_paint(s, 8, &ball, q, 1, &err); /* 8 over part of 6 */
  uint64_t six = count_id(s, 6), eight = count_id(s, 8);
  double q2[1][3] = {{4, 5, 7}};
  TAP_OK(sm_label_paint(s, 9, &gap, q2, 1, &err) == 0 && count_id(s, 6) == six && count_id(s, 8) == eight &&
             count_id(s, 9) > 0,
         "background-only paint leaves other segments alone");
  SmBrush only8 = {.radius = 6, .shape = SM_BRUSH_BALL, .over = SM_OVER_SEGMENT, .over_segment = 8};
  TAP_OK(sm_label_paint(s, 0, &only8, q, 1, &err) == 0 && count_id(s, 8) == 0 && count_id(s, 6) == six &&
             count_id(s, 9) > 0,
         "erase restricted to segment 8 erases only 8");
  TAP_OK(lt_consistent(s), "table consistent after restricted paint");
  sm_label_undo(s, &err);
  sm_label_undo(s, &err);
  sm_label_undo(s, &err);
  TAP_OK(sm_label_delete_segment(s, 5, &err) != 0, "a locked segment cannot be deleted");
  uint32_t pair[2] = {5, 6};
  TAP_OK(sm_label_merge(s, pair, 2, &err) != 0, "nor merged");
  TAP_OK(sm_label_set_locked(s, 5, false, &err) == 0 && sm_label_undo(s, &err) == 0 &&
             (sm_label_store_segment(s, 5)->flags & SM_SEGMENT_LOCKED),
         "unlock is an undo step");
  sm_label_redo(s, &err);
  TAP_OK(lt_consistent(s), "table consistent after locks and erase");
  sm_label_store_free(s);
}

/* A ring of id 3 in slice z=2 around an empty square, and a 3D blob. */
static SmLabelStore *ring_store(void) {
  SmError err;
  SmLabelStore *s = sm_label_store_new(5, 20, 20, &err);
  sm_label_edit_begin(s, "setup", &err);
  SmSegment rec = {.id = 3, .color = sm_label_color_for_id(3)};
  sm_label_edit_set_record(s, 3, &rec, &err);
  for (int y = 4; y <= 15; y++) {
    if (y == 4 || y == 15)
      sm_label_edit_write_row(s, 2, y, 4, 12, 3, false);
    else {
      sm_label_edit_write_row(s, 2, y, 4, 1, 3, false);
      sm_label_edit_write_row(s, 2, y, 15, 1, 3, false);
    }
  }
  sm_label_edit_commit(s, &err);
  return s;
}

static void test_fill(void) {
  SmError err;
  SmLabelStore *s = ring_store();
  int64_t seed[3] = {2, 10, 10};
  SmFillOptions o;
  sm_fill_options_default(s, SM_BRUSH_XY, seed, &o);
  TAP_OK(sm_label_fill(s, seed, 9, &o, &err) == 0, "2D fill inside a ring");
  TAP_OK(count_id(s, 9) == 100 && sm_label_store_segment(s, 9)->voxels == 100,
         "the ring's inside (10 x 10) is filled");
  TAP_OK(sm_label_store_id_at(s, 1, 10, 10) == 0 && sm_label_store_id_at(s, 2, 2, 2) == 0,
         "nothing outside the ring or the slice");

  /* Fill the background of slice 1 in 3D with a budget too small. */
  int64_t seed0[3] = {0, 0, 0};
  SmFillOptions o3;
  sm_fill_options_default(s, SM_BRUSH_BALL, seed0, &o3);
  o3.max_voxels = 1000;
  uint64_t before = sm_label_store_content_hash(s);
  SmUndoMemory m0, m1;
  sm_label_undo_memory(s, &m0);
  TAP_OK(sm_label_fill(s, seed0, 11, &o3, &err) != 0 && strstr(err.message, "more than 1000"),
         "a fill past its voxel budget fails: %s", err.message);
  sm_label_undo_memory(s, &m1);
  TAP_OK(sm_label_store_content_hash(s) == before && m1.undo_steps == m0.undo_steps &&
             !sm_label_store_segment(s, 11),
         "and changes nothing (labels, table, history)");
  volatile int cancel = 1;
  o3.max_voxels = 0;
  o3.cancel = &cancel;
  SmLabelRegion r;
  TAP_OK(sm_label_fill_compute(s, seed0, &o3, &r, &err) != 0 && strstr(err.message, "cancelled"),
         "a cancelled fill fails: %s", err.message);
  o3.cancel = NULL;
  TAP_OK(sm_label_fill_compute(s, seed0, &o3, &r, &err) == 0, "3D background fill computes");
  TAP_OK(r.voxels == 5 * 400 - 44 - 100, "the 3D background region is everything but ring and inside (%llu)",
         (unsigned long long)r.voxels);
  /* A bounded box: the fill stays inside it. */
  SmFillOptions box = o3;
  box.lo[0] = 0, box.hi[0] = 2, box.lo[1] = 0, box.hi[1] = 5, box.lo[2] = 0, box.hi[2] = 5;
  SmLabelRegion rb;
  TAP_OK(sm_label_fill_compute(s, seed0, &box, &rb, &err) == 0 && rb.voxels == 50,
         "a fill bounded by a box covers only the box");
  sm_label_region_free(&rb);
  /* A region from an older state is refused. */
  SmBrush dot = {.radius = 0.5, .shape = SM_BRUSH_XY};
  double p[1][3] = {{0, 19, 19}};
  sm_label_paint(s, 12, &dot, p, 1, &err);
  TAP_OK(sm_label_region_apply(s, &r, 11, &err) != 0 && strstr(err.message, "changed"),
         "a stale fill region is refused");
  sm_label_region_free(&r);
  /* Filling a segment (not background) in 3D replaces exactly it. */
  int64_t in_ring[3] = {2, 4, 4};
  sm_fill_options_default(s, SM_BRUSH_BALL, in_ring, &o3);
  TAP_OK(sm_label_fill(s, in_ring, 13, &o3, &err) == 0 && count_id(s, 13) == 44 && count_id(s, 3) == 0 &&
             sm_label_store_segment(s, 3)->voxels == 0,
         "3D fill of the ring relabels its 44 voxels");
  TAP_OK(lt_consistent(s), "table consistent after fills");
  sm_label_store_free(s);
}

static void test_merge_delete_split(void) {
  SmError err;
  SmLabelStore *s = sm_label_store_new(6, 30, 40, &err);
  /* Two blobs joined by a one-voxel bridge, as segment 1; segment 2 apart. */
  SmBrush ball = {.radius = 4, .shape = SM_BRUSH_BALL};
  double a[1][3] = {{3, 15, 8}}, b[1][3] = {{3, 15, 30}};
  sm_label_paint(s, 1, &ball, a, 1, &err);
  sm_label_paint(s, 1, &ball, b, 1, &err);
  SmBrush thin = {.radius = 0.5, .shape = SM_BRUSH_XY};
  double bridge[2][3] = {{3, 15, 12}, {3, 15, 26}};
  sm_label_paint(s, 1, &thin, bridge, 2, &err);
  SmBrush small = {.radius = 2, .shape = SM_BRUSH_XY};
  double c[1][3] = {{0, 3, 3}};
  sm_label_paint(s, 2, &small, c, 1, &err);
  uint64_t n1 = sm_label_store_segment(s, 1)->voxels, n2 = sm_label_store_segment(s, 2)->voxels;
  LabelSnapshot before;
  lt_snapshot(s, &before);

  uint32_t ids[2] = {2, 1};
  Heard heard = {0};
  sm_label_store_set_listener(s, on_change, &heard);
  TAP_OK(sm_label_merge(s, ids, 2, &err) == 0, "merge 1 into 2");
  TAP_OK(!sm_label_store_segment(s, 1) && sm_label_store_segment(s, 2)->voxels == n1 + n2,
         "one segment left with both counts");
  TAP_OK(count_id(s, 2) == n1 + n2 && count_id(s, 1) == 0, "the display shows 2 everywhere");
  TAP_OK(memcmp(sm_label_store_fragments(s), before.fragments, before.n * 4) == 0,
         "a merge does not touch a voxel");
  TAP_OK(heard.last.table_changed && heard.last.voxels_changed && heard.last.lo[0] <= 0 &&
             heard.last.hi[0] == 6 && heard.last.lo[2] <= 2 && heard.last.hi[2] >= 34,
         "a merge reports a table change and the box whose displayed ids changed (%lld..%lld, %lld..%lld, %lld..%lld)",
         (long long)heard.last.lo[0], (long long)heard.last.hi[0], (long long)heard.last.lo[1],
         (long long)heard.last.hi[1], (long long)heard.last.lo[2], (long long)heard.last.hi[2]);
  int calls = heard.calls;
  sm_label_set_name(s, 2, "big", &err);
  TAP_OK(heard.calls == calls + 1 && heard.last.table_changed && !heard.last.voxels_changed,
         "a rename changes the table only");
  sm_label_undo(s, &err);
  TAP_OK(sm_label_store_has_merges(s), "the map is in use");
  SmVolume view;
  sm_label_store_volume_view(s, &view);
  TAP_OK(view.dtype == SM_U32 && view.nz == 6 && view.nx == 40 && view.data == sm_label_store_fragments(s),
         "a borrowed SmVolume over the fragments");
  TAP_OK(lt_consistent(s), "table consistent after merge");
  /* Delete the merged segment: voxels of both fragments go to 0. */
  TAP_OK(sm_label_delete_segment(s, 2, &err) == 0 && count_id(s, 2) == 0 &&
             !sm_label_store_segment(s, 2) && sm_label_store_background_voxels(s) == 6 * 30 * 40,
         "delete the merged segment clears all its voxels");
  TAP_OK(sm_label_undo(s, &err) == 0 && sm_label_undo(s, &err) == 0 && lt_equals(s, &before),
         "undo delete and merge restore bytes and table");

  /* Split segment 1 at its bridge, without and with a boundary map. */
  int64_t seeds[2][3] = {{3, 15, 8}, {3, 15, 30}};
  SmLabelSplit sp;
  TAP_OK(sm_label_split_compute(s, 1, (const int64_t(*)[3])seeds, 2, NULL, true, &sp, &err) == 0,
         "split computes");
  TAP_OK(sp.voxels[0] + sp.voxels[1] == n1 && sp.voxels[0] > 200 && sp.voxels[1] > 200,
         "both seeds get a blob (%llu + %llu of %llu)", (unsigned long long)sp.voxels[0],
         (unsigned long long)sp.voxels[1], (unsigned long long)n1);
  uint32_t new_ids[2] = {0, 0};
  int applied = sm_label_split_apply(s, &sp, new_ids, &err);
  TAP_OK(applied == 0 && new_ids[0] == 1 && new_ids[1] > 2,
         "split applies: 1 and a new id %u", new_ids[1]);
  TAP_OK(sm_label_store_id_at(s, 3, 15, 8) == 1 && sm_label_store_id_at(s, 3, 15, 30) == new_ids[1],
         "each blob has its own id");
  TAP_OK(lt_consistent(s), "table consistent after split");
  sm_label_split_free(&sp);
  TAP_OK(sm_label_undo(s, &err) == 0 && lt_equals(s, &before), "undo split restores everything");

  SmVolume map = {.dtype = SM_U8, .nz = 6, .ny = 30, .nx = 40};
  map.data = calloc(6 * 30 * 40, 1);
  for (int z = 0; z < 6; z++)
    for (int y = 0; y < 30; y++) ((uint8_t *)map.data)[(z * 30 + y) * 40 + 14] = 255; /* a wall at x = 14 */
  TAP_OK(sm_label_split_compute(s, 1, (const int64_t(*)[3])seeds, 2, &map, true, &sp, &err) == 0,
         "split with a boundary map");
  sm_label_split_apply(s, &sp, new_ids, &err);
  bool at_wall = sm_label_store_id_at(s, 3, 15, 13) == 1 && sm_label_store_id_at(s, 3, 15, 15) == new_ids[1];
  TAP_OK(at_wall, "the cut follows the boundary map (x = 14)");
  sm_label_split_free(&sp);
  int64_t bad[2][3] = {{3, 15, 8}, {0, 0, 39}};
  TAP_OK(sm_label_split_compute(s, 1, (const int64_t(*)[3])bad, 2, &map, true, &sp, &err) != 0 &&
             strstr(err.message, "not in segment"),
         "a seed outside the segment is refused: %s", err.message);
  free(map.data);

  /* New segment, names, colours. */
  uint32_t fresh = 0;
  int created = sm_label_new_segment(s, &fresh, &err);
  TAP_OK(created == 0 && sm_label_store_segment(s, fresh) &&
             sm_label_store_segment(s, fresh)->voxels == 0,
         "new segment %u is empty", fresh);
  TAP_OK(sm_label_set_name(s, fresh, "axon 7", &err) == 0 &&
             !strcmp(sm_label_store_segment(s, fresh)->name, "axon 7"),
         "rename");
  TAP_OK(sm_label_set_color(s, fresh, 0x123456, false, &err) == 0 &&
             sm_label_store_segment(s, fresh)->color == 0x123456,
         "recolour");
  TAP_OK(sm_label_undo(s, &err) == 0 && sm_label_store_segment(s, fresh)->color == sm_label_color_for_id(fresh),
         "undo recolour");
  TAP_OK(sm_label_set_hidden(s, 1, true, &err) == 0 && !strcmp(sm_label_undo_name(s), "rename"),
         "hide is not an undo step");
  const char *names[3] = {"", "", ""};
  size_t depth = sm_label_undo_history(s, names, 3);
  TAP_OK(depth >= 3 && !strcmp(names[0], "rename") &&
             !strcmp(names[1], "new segment") && !strcmp(names[2], "split"),
         "undo history names, newest first: %s, %s, %s", names[0], names[1], names[2]);
  TAP_OK(sm_label_store_segment(s, 1)->flags & SM_SEGMENT_HIDDEN, "hidden flag set");
  const SmSegment *found[8];
  TAP_OK(sm_label_search(s, "AXON", found, 8) == 1 && found[0]->id == fresh, "search by name, any case");
  char idq[16];
  snprintf(idq, sizeof idq, "%u", new_ids[1]);
  TAP_OK(sm_label_search(s, idq, found, 8) >= 1 && found[0]->id == new_ids[1], "search by id");
  TAP_OK(sm_label_search(s, "", found, 8) == sm_label_store_n_segments(s), "an empty search lists all");
  int64_t at[3] = {-1, -1, -1};
  int located = sm_label_store_find_voxel(s, 1, at, &err);
  TAP_OK(located == 0 && sm_label_store_id_at(s, at[0], at[1], at[2]) == 1,
         "find a voxel of a segment to jump to (%lld, %lld, %lld)", (long long)at[0], (long long)at[1],
         (long long)at[2]);
  sm_label_store_free(s);
  lt_snapshot_free(&before);
}

static void test_batch(void) {
  SmError err;
  SmLabelStore *s = sm_label_store_new(4, 16, 16, &err);
  SmBrush d = {.radius = 2, .shape = SM_BRUSH_XY};
  double p5[1][3] = {{1, 4, 4}}, p9[1][3] = {{1, 10, 10}}, p100[1][3] = {{2, 4, 12}}, tiny[1][3] = {{3, 14, 2}};
  sm_label_paint(s, 5, &d, p5, 1, &err);
  sm_label_paint(s, 9, &d, p9, 1, &err);
  sm_label_paint(s, 100, &d, p100, 1, &err);
  SmBrush dot = {.radius = 0.5, .shape = SM_BRUSH_XY};
  sm_label_paint(s, 40, &dot, tiny, 1, &err);
  uint32_t ids[2] = {9, 100};
  sm_label_merge(s, ids, 2, &err);
  size_t removed = 0;
  TAP_OK(sm_label_remove_small(s, 2, &removed, &err) == 0 && removed == 1 && !sm_label_store_segment(s, 40) &&
             sm_label_store_id_at(s, 3, 14, 2) == 0,
         "remove small segments drops the one-voxel segment");
  TAP_OK(sm_label_relabel_consecutive(s, &err) == 0, "relabel");
  TAP_OK(sm_label_store_n_segments(s) == 2 && sm_label_store_id_at(s, 1, 4, 4) == 1 &&
             sm_label_store_id_at(s, 1, 10, 10) == 2 && sm_label_store_id_at(s, 2, 4, 12) == 2,
         "relabel gives 1..N in id order, merges included");
  TAP_OK(!sm_label_store_has_merges(s) && sm_label_store_fragments(s)[(2 * 16 + 4) * 16 + 12] == 2,
         "relabel flattens the merge into the voxels");
  TAP_OK(lt_consistent(s), "table consistent after relabel");
  TAP_OK(sm_label_undo(s, &err) == 0 && sm_label_store_segment(s, 9) && sm_label_store_id_at(s, 2, 4, 12) == 9 &&
             lt_consistent(s),
         "relabel is undoable");
  SmLabelStats st;
  sm_label_stats(s, &st);
  TAP_OK(st.segments == 2 && st.merged_fragments == 1 && st.max_id == 9, "stats: 2 segments, 1 merged fragment");
  sm_label_store_free(s);

  /* Adopting volumes: integer types convert, floats and negatives are refused. */
  SmVolume v = {.dtype = SM_U16, .nz = 1, .ny = 2, .nx = 2};
  uint16_t *d16 = malloc(4 * sizeof *d16);
  d16[0] = 0, d16[1] = 7, d16[2] = 7, d16[3] = 65535;
  v.data = d16;
  s = sm_label_store_adopt(&v, "u16.tif", &err);
  TAP_OK(s && sm_label_store_segment(s, 7)->voxels == 2 && sm_label_store_segment(s, 65535), "uint16 labels adopted");
  sm_label_store_free(s);
  SmVolume fv = {.dtype = SM_F32, .nz = 1, .ny = 1, .nx = 1};
  float one = 1;
  fv.data = &one;
  TAP_OK(!sm_label_store_adopt(&fv, "f.tif", &err) && strstr(err.message, "f.tif: labels must be integers"),
         "float labels refused: %s", err.message);
  SmVolume iv = {.dtype = SM_I32, .nz = 1, .ny = 1, .nx = 2};
  int32_t *di = malloc(2 * sizeof *di);
  di[0] = 3, di[1] = -4;
  iv.data = di;
  TAP_OK(!sm_label_store_adopt(&iv, "neg.tif", &err) && strstr(err.message, "negative"),
         "negative labels refused: %s", err.message);
  free(iv.data);
}

/* An edit rolled back (abort) leaves labels, table and history as they were. */
static void test_abort(void) {
  SmError err;
  SmLabelStore *s = sm_label_store_new(3, 8, 8, &err);
  SmBrush d = {.radius = 2, .shape = SM_BRUSH_XY};
  double p[1][3] = {{1, 4, 4}};
  sm_label_paint(s, 3, &d, p, 1, &err);
  LabelSnapshot before;
  lt_snapshot(s, &before);
  sm_label_edit_begin(s, "test", &err);
  sm_label_edit_write_row(s, 1, 4, 0, 8, 9, false);
  SmSegment rec = {.id = 9, .color = 1};
  sm_label_edit_set_record(s, 9, &rec, &err);
  sm_label_edit_write_row(s, 0, 0, 0, 8, 9, false);
  sm_label_edit_set_record(s, 3, NULL, &err);
  sm_label_edit_write_row(s, 2, 7, 2, 3, 9, false);
  sm_label_edit_abort(s);
  SmUndoMemory m;
  sm_label_undo_memory(s, &m);
  TAP_OK(lt_equals(s, &before) && m.undo_steps == 1 && !sm_label_edit_is_open(s),
         "abort rolls back voxel writes and table changes of the open edit");
  lt_snapshot_free(&before);
  sm_label_store_free(s);
}

/* A stroke tells its pieces while drawn (in_progress) and, at its end, all of
 * it once more: the box of every piece and every segment it touched, so a
 * list or a 3D view can follow once per edit. */
static void test_stroke_end_sums_up(void) {
  SmError err;
  SmLabelStore *s = sm_label_store_new(8, 64, 64, &err);
  SmBrush disc = {.radius = 2, .shape = SM_BRUSH_XY};
  double a[1][3] = {{2, 10, 10}}, b[1][3] = {{2, 40, 40}};
  sm_label_paint(s, 7, &disc, a, 1, &err);
  sm_label_paint(s, 8, &disc, b, 1, &err);
  Heard heard = {0};
  sm_label_store_set_listener(s, on_change, &heard);
  TAP_OK(sm_label_stroke_begin(s, 9, &(SmBrush){.radius = 3, .shape = SM_BRUSH_XY}, &err) == 0 &&
             sm_label_stroke_to(s, (double[3]){2, 10, 10}, &err) == 0 &&
             sm_label_stroke_to(s, (double[3]){2, 40, 40}, &err) == 0,
         "a stroke from segment 7 to segment 8");
  int during = heard.calls;
  TAP_OK(during >= 2 && heard.last.in_progress, "told while drawn (%d calls)", during);
  TAP_OK(sm_label_stroke_end(s, &err) == 0 && heard.calls == during + 1 && !heard.last.in_progress,
         "told once more at its end");
  bool ids7 = false, ids8 = false, ids9 = false;
  for (size_t i = 0; i < heard.last.n_ids; i++) {
    ids7 |= heard.ids[i] == 7;
    ids8 |= heard.ids[i] == 8;
    ids9 |= heard.ids[i] == 9;
  }
  TAP_OK(heard.last.voxels_changed && heard.last.lo[1] <= 7 && heard.last.hi[1] >= 44 && heard.last.lo[2] <= 7 &&
             heard.last.hi[2] >= 44,
         "the end's box covers the whole stroke (y %lld..%lld, x %lld..%lld)", (long long)heard.last.lo[1],
         (long long)heard.last.hi[1], (long long)heard.last.lo[2], (long long)heard.last.hi[2]);
  TAP_OK(ids7 && ids8 && ids9, "the end names 7, 8 (painted over) and 9 (painted)");
  sm_label_store_free(s);
}

int main(void) {
  test_abort();
  test_stroke_end_sums_up();
  test_paint();
  test_fill();
  test_merge_delete_split();
  test_batch();
  return tap_done();
}
