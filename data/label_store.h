/* The label layer of proofreading: a uint32 volume of FRAGMENT ids, a
 * fragment -> segment map and a segment table.
 *
 * The displayed id of a voxel is segment_of(fragment at the voxel). Every
 * segment s owns the fragment s (so painting s writes s) plus the fragments
 * merged into it; merging is therefore a table edit whose cost is the number
 * of fragments moved, never a voxel pass. The map only stores fragments that
 * do not map to themselves, so a freshly loaded volume has an empty map and
 * display needs no lookup at all. Label 0 is background and never a segment.
 *
 * The table is kept up to date by every edit: voxel counts exactly, bounding
 * boxes conservatively (they grow on paint and shrink only when recomputed
 * with sm_label_store_tight_box).
 *
 * Threads: a store is not locked. One thread edits it; other threads may read
 * it (e.g. sm_label_fill_compute) only while no edit runs. Listeners are
 * called on the editing thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sm_error.h"
#include "volume.h"

enum {
  SM_SEGMENT_LOCKED = 1u << 0,    /* no edit may change its voxels, merge, split or delete it */
  SM_SEGMENT_HIDDEN = 1u << 1,    /* view state: not drawn (not an undo step) */
  SM_SEGMENT_COLOR_SET = 1u << 2, /* colour chosen by the user, not hashed from the id */
};

typedef struct SmSegment {
  uint32_t id;
  uint32_t flags;       /* SM_SEGMENT_* */
  uint32_t color;       /* 0xRRGGBB */
  uint32_t n_extra;     /* fragments merged in besides the segment's own id */
  uint64_t voxels;      /* exact */
  int32_t lo[3], hi[3]; /* (z, y, x) box, inclusive-exclusive, conservative; lo == hi when empty */
  char *name;           /* NULL when unnamed */
  uint32_t *extra;      /* (n_extra) fragment ids */
  uint32_t cap_extra;
} SmSegment;

typedef struct SmLabelStore SmLabelStore;

/* What an edit, undo or redo changed, for views and lists. lo/hi is the box
 * where displayed ids changed (inclusive-exclusive, (z, y, x)): voxels
 * written, or fragments re-mapped by a merge or its undo; empty when only
 * table fields (name, colour, lock) changed. A GL view re-uploads only that
 * part (voxels_changed says the box is not empty). ids lists the
 * segments whose record or voxels changed (deduplicated, may be truncated:
 * ids_truncated then says "refresh the whole list"); the struct and ids are
 * valid during the call only. An edit drawn over time (a stroke) is told in
 * pieces while in progress (each piece's box and ids), then once more at its
 * end (in_progress false) with the box and ids of the whole edit. */
typedef struct SmLabelChange {
  const char *what;      /* "paint", "merge", "undo merge", ... */
  int64_t lo[3], hi[3];
  bool voxels_changed;
  bool table_changed;
  const uint32_t *ids;
  size_t n_ids;
  bool ids_truncated;
  bool in_progress;      /* a stroke that is still being drawn */
} SmLabelChange;

typedef void (*SmLabelChangedFunc)(const SmLabelChange *change, void *user);

/* An all-background store of the given shape. */
SmLabelStore *sm_label_store_new(int64_t nz, int64_t ny, int64_t nx, SmError *err);
/* Takes over labels (any integer dtype; converted to uint32 in place or by a
 * copy; its data pointer is moved into the store and set to NULL) and builds
 * the table in one pass. Float or negative labels are refused. `name` is the
 * file for messages. */
SmLabelStore *sm_label_store_adopt(SmVolume *labels, const char *name, SmError *err);
void sm_label_store_free(SmLabelStore *s);

void sm_label_store_shape(const SmLabelStore *s, int64_t shape[3]);
void sm_label_store_set_voxel_size(SmLabelStore *s, const double voxel_size[3], const char *unit);
void sm_label_store_voxel_size(const SmLabelStore *s, double voxel_size[3]);
size_t sm_label_store_voxels(const SmLabelStore *s);

/* The raw fragment ids, (nz, ny, nx). Read-only: edit through label_edit.h. */
const uint32_t *sm_label_store_fragments(const SmLabelStore *s);
/* Displayed id of a fragment; 0 for 0. */
uint32_t sm_label_store_segment_of(const SmLabelStore *s, uint32_t fragment);
uint32_t sm_label_store_id_at(const SmLabelStore *s, int64_t z, int64_t y, int64_t x);
/* True when some fragment maps to another segment (display needs mapping). */
bool sm_label_store_has_merges(const SmLabelStore *s);
/* A borrowed SmVolume (uint32, voxel size) over the fragment ids, for code
 * that takes an SmVolume (e.g. the 3D view). Those are the displayed ids only
 * while sm_label_store_has_merges() is false; otherwise copy with
 * sm_label_store_read_box. Valid until the store is freed; do not free it. */
void sm_label_store_volume_view(const SmLabelStore *s, SmVolume *out);
/* Displayed ids of the box [lo, hi) into out, (hi-lo) row-major: what a view uploads. */
void sm_label_store_read_box(const SmLabelStore *s, const int64_t lo[3], const int64_t hi[3],
                             uint32_t *out);

/* The table. Pointers stay valid until the next edit, undo or redo. */
size_t sm_label_store_n_segments(const SmLabelStore *s);
const SmSegment *sm_label_store_segment_at(const SmLabelStore *s, size_t i); /* any order */
const SmSegment *sm_label_store_segment(const SmLabelStore *s, uint32_t id); /* NULL if absent */
uint64_t sm_label_store_background_voxels(const SmLabelStore *s);
/* An id that no fragment or segment has used yet in this session. */
uint32_t sm_label_store_fresh_id(const SmLabelStore *s);
/* Shrinks the segment's box to the tight one (scans its current box). */
int sm_label_store_tight_box(SmLabelStore *s, uint32_t id, int64_t lo[3], int64_t hi[3],
                             SmError *err);
/* A voxel of the segment near the centre of its box (for "jump to"). */
int sm_label_store_find_voxel(SmLabelStore *s, uint32_t id, int64_t zyx[3], SmError *err);

/* Colour hashed from the id, 0xRRGGBB, bright enough to see on EM. */
uint32_t sm_label_color_for_id(uint32_t id);

/* 64-bit hash of the displayed ids and the shape: identifies a label volume
 * (its file content) for the journal. */
uint64_t sm_label_store_content_hash(const SmLabelStore *s);

/* Edits since the last sm_label_store_mark_saved (undo/redo count as edits). */
bool sm_label_store_is_dirty(const SmLabelStore *s);
void sm_label_store_mark_saved(SmLabelStore *s);
/* Bumped by every edit, undo and redo: results computed off-thread carry it. */
uint64_t sm_label_store_version(const SmLabelStore *s);

/* One listener (the app fans out); NULL to remove. */
void sm_label_store_set_listener(SmLabelStore *s, SmLabelChangedFunc func, void *user);
