/* Edits as transactions, and their undo/redo history.
 *
 * Every edit (label_edit.h) runs between sm_label_edit_begin and
 * sm_label_edit_commit. While it runs, voxel writes are collected as runs
 * (start, length, old, new) and table changes as (record before, record
 * after); commit encodes the runs compactly into one SmLabelDelta, pushes it
 * on the undo stack, appends it to the journal (if one is attached) and tells
 * the listener what changed. Memory therefore grows with the size of the
 * edits, never with the volume; the oldest steps are dropped when the
 * history passes its cap (default 512 MiB). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "label_store.h"
#include "sm_error.h"

typedef struct SmLabelDelta SmLabelDelta;
typedef struct SmLabelJournal SmLabelJournal;

/* ---- Undo / redo (what the app calls) ---------------------------------- */
bool sm_label_can_undo(const SmLabelStore *s);
bool sm_label_can_redo(const SmLabelStore *s);
/* Name of the step that undo/redo would revert ("paint", "merge", ...), or NULL. */
const char *sm_label_undo_name(const SmLabelStore *s);
const char *sm_label_redo_name(const SmLabelStore *s);
/* Names of the undo steps, newest first (for an undo history list); returns
 * how many there are (may exceed max). Pointers valid until the next edit. */
size_t sm_label_undo_history(const SmLabelStore *s, const char **names, size_t max);
int sm_label_undo(SmLabelStore *s, SmError *err);
int sm_label_redo(SmLabelStore *s, SmError *err);

typedef struct SmUndoMemory {
  size_t bytes;       /* held by undo + redo steps */
  size_t cap;         /* oldest steps are dropped past this */
  size_t undo_steps, redo_steps;
} SmUndoMemory;
void sm_label_undo_memory(const SmLabelStore *s, SmUndoMemory *out);
void sm_label_set_undo_cap(SmLabelStore *s, size_t bytes);
/* Off: edits are applied but not recorded (batch tools such as the CLI). */
void sm_label_set_undo_enabled(SmLabelStore *s, bool enabled);
void sm_label_clear_history(SmLabelStore *s);

/* ---- Transactions (for the edit implementations and tests) ------------- */
/* Starts an edit; `what` names it in the undo menu. Fails if one is open. */
int sm_label_edit_begin(SmLabelStore *s, const char *what, SmError *err);
/* Writes value into voxels (z, y, x0 .. x0+len-1). With honour_locks, voxels
 * of locked segments keep their value. Returns how many voxels changed. */
uint64_t sm_label_edit_write_row(SmLabelStore *s, int64_t z, int64_t y, int64_t x0, int64_t len,
                                 uint32_t value, bool honour_locks);
/* Writes per-voxel values (fragment ids) into one row. */
uint64_t sm_label_edit_write_values(SmLabelStore *s, int64_t z, int64_t y, int64_t x0, int64_t len,
                                    const uint32_t *values);
/* Sets the record of id (NULL removes it), recording the old one. */
int sm_label_edit_set_record(SmLabelStore *s, uint32_t id, const SmSegment *rec, SmError *err);
/* Ends the edit. An edit that changed nothing leaves no undo step. */
int sm_label_edit_commit(SmLabelStore *s, SmError *err);
/* Rolls back everything the open edit wrote. */
void sm_label_edit_abort(SmLabelStore *s);
bool sm_label_edit_is_open(const SmLabelStore *s);
/* Tells the listener what the open edit changed so far (live strokes). */
void sm_label_edit_notify_progress(SmLabelStore *s);
