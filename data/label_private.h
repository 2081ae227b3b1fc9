/* Internals shared by the label_*.c files; not for the app. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "label_edit.h"
#include "label_store.h"
#include "label_undo.h"

/* uint32 -> uint32 open-addressing hash (linear probing, backward-shift
 * deletion). Key 0 is the empty marker, which suits labels (0 = background). */
typedef struct SmU32Map {
  uint32_t *keys;
  uint32_t *vals;
  size_t cap; /* power of two, or 0 */
  size_t n;
} SmU32Map;

bool sm_u32map_get(const SmU32Map *m, uint32_t key, uint32_t *val);
int sm_u32map_put(SmU32Map *m, uint32_t key, uint32_t val); /* -1 on out of memory */
void sm_u32map_del(SmU32Map *m, uint32_t key);
void sm_u32map_free(SmU32Map *m);

/* Which voxels a write may change (label_undo.c). */
typedef struct SmWriteGuard {
  bool honour_locks;  /* keep voxels of locked segments */
  SmPaintOver over;   /* and, beyond that, only background / one segment */
  uint32_t segment;   /* for SM_OVER_SEGMENT */
} SmWriteGuard;

/* One run of changed voxels: indices [start, start+len) went from old to new. */
typedef struct SmVoxelRun {
  uint64_t start;
  uint32_t len;
  uint32_t old_value, new_value;
} SmVoxelRun;

typedef enum SmDeltaOpKind { SM_OP_VOXELS = 1, SM_OP_RECORD = 2 } SmDeltaOpKind;

typedef struct SmDeltaOp {
  SmDeltaOpKind kind;
  /* SM_OP_VOXELS: runs, varint-encoded (start as zigzag delta from the
   * previous run's end, then len, old, new). Applied forwards for redo and
   * backwards for undo, so overlapping runs are fine. */
  uint8_t *bytes;
  size_t n_bytes;
  uint64_t n_runs;
  /* SM_OP_RECORD: the segment record before and after (NULL = absent). */
  uint32_t id;
  SmSegment *before, *after;
} SmDeltaOp;

struct SmLabelDelta {
  uint64_t serial;
  char what[32];
  int64_t lo[3], hi[3]; /* box of the voxel changes (empty if none) */
  SmDeltaOp *ops;
  size_t n_ops, cap_ops;
  size_t bytes; /* memory held, for the undo cap */
  bool failed;  /* a write could not be recorded: commit rolls back */
};

/* Changed-id set collected during an edit or undo (for the notification). */
enum { SM_CHANGED_IDS_MAX = 4096 };

struct SmLabelStore {
  int64_t nz, ny, nx;
  double voxel_size[3];
  char unit[16];
  uint32_t *data; /* (nz, ny, nx) fragment ids */

  SmSegment *segs; /* table, any order */
  size_t n_segs, cap_segs;
  SmU32Map seg_index; /* id -> index in segs */
  SmU32Map frag_map;  /* fragment -> segment, only where they differ */
  uint64_t background;
  uint32_t fresh_id;

  uint64_t version, saved_version;
  SmLabelChangedFunc listener;
  void *listener_user;

  /* The open edit (between sm_label_edit_begin and commit/abort). */
  SmLabelDelta *pending;
  SmVoxelRun *runs; /* runs of the current voxel batch, not yet encoded */
  size_t n_runs, cap_runs;
  int64_t dirty_lo[3], dirty_hi[3]; /* since the last notification */
  uint32_t changed_ids[SM_CHANGED_IDS_MAX];
  size_t n_changed_ids;
  bool changed_ids_truncated, table_changed;
  /* What the in-progress notifications of the open edit (a stroke) told,
   * told again in sum by its final notification. */
  int64_t edit_lo[3], edit_hi[3];
  uint32_t edit_ids[SM_CHANGED_IDS_MAX];
  size_t n_edit_ids;
  bool edit_ids_truncated, edit_table_changed;

  /* History. */
  bool undo_enabled;
  SmLabelDelta **undo, **redo; /* stacks, oldest first */
  size_t n_undo, cap_undo, n_redo, cap_redo;
  size_t history_bytes, history_cap;
  uint64_t next_serial;

  SmLabelJournal *journal; /* appended to at every commit, undo and redo */

  /* The open stroke (label_edit.c). */
  bool stroke_open;
  uint32_t stroke_value;
  SmWriteGuard stroke_guard;
  double stroke_radius[3];
  int stroke_plane;
  double stroke_last[3];
  bool stroke_has_last;
};

/* sm_label_edit_write_row with a guard (label_undo.c). */
uint64_t sm_edit_write_row_guarded(SmLabelStore *s, int64_t z, int64_t y, int64_t x0, int64_t len,
                                   uint32_t value, const SmWriteGuard *g);

/* Table primitives (label_store.c). */
SmSegment *sm_store_find(const SmLabelStore *s, uint32_t id);
/* Replaces (or creates, or removes when rec is NULL) the record of id and
 * keeps the fragment map in step; rec is deep-copied. Not recorded. */
int sm_store_set_record(SmLabelStore *s, uint32_t id, const SmSegment *rec, bool keep_hidden);
SmSegment *sm_segment_clone(const SmSegment *src); /* NULL on out of memory */
void sm_segment_free(SmSegment *seg);
void sm_segment_clear(SmSegment *seg); /* frees name/extra, keeps the struct */
void sm_store_note_id(SmLabelStore *s, uint32_t id);
void sm_store_grow_box(SmSegment *seg, int64_t z, int64_t y, int64_t x0, int64_t x1);
/* Adds len voxels to the count of fragment f's segment (or background). */
void sm_store_count(SmLabelStore *s, uint32_t fragment, int64_t delta);
void sm_store_dirty(SmLabelStore *s, const int64_t lo[3], const int64_t hi[3]);
void sm_store_changed_id(SmLabelStore *s, uint32_t id);
/* Sends the accumulated change to the listener and resets it. */
void sm_store_notify(SmLabelStore *s, const char *what, bool in_progress);
/* Rebuilds the table from the voxels (every fragment its own segment). */
int sm_store_rebuild_table(SmLabelStore *s, SmError *err);

/* Delta encoding (label_undo.c). */
void sm_delta_free(SmLabelDelta *d);
/* Applies d forwards (redo) or backwards (undo) to s without recording. */
int sm_delta_apply(SmLabelStore *s, const SmLabelDelta *d, bool forward, SmError *err);
/* Serialises for the journal; *out is malloc'd. */
int sm_delta_serialize(const SmLabelDelta *d, uint8_t **out, size_t *n_out);
SmLabelDelta *sm_delta_deserialize(const uint8_t *bytes, size_t n, SmError *err);
/* Pushes a delta replayed from a journal onto the history, as if it had just been committed. */
void sm_history_push_replayed(SmLabelStore *s, SmLabelDelta *d);
/* Replays a journal undo/redo record (takes d). */
int sm_history_replay(SmLabelStore *s, SmLabelDelta *d, bool redo, SmError *err);
