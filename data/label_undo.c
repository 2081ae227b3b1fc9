#include "label_undo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "label_journal.h"
#include "label_private.h"

/* ---- varint run encoding --------------------------------------------------- */

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

static const uint8_t *get_varint(const uint8_t *p, const uint8_t *end, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    uint8_t b = *p++;
    r |= (uint64_t)(b & 0x7F) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return p;
    }
  }
  return NULL;
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* Decodes op's runs into a malloc'd array. */
static SmVoxelRun *decode_runs(const SmDeltaOp *op) {
  SmVoxelRun *runs = malloc((op->n_runs ? op->n_runs : 1) * sizeof *runs);
  if (!runs) return NULL;
  const uint8_t *p = op->bytes, *end = op->bytes + op->n_bytes;
  uint64_t prev_end = 0;
  for (uint64_t i = 0; i < op->n_runs; i++) {
    uint64_t d, len, old_value, new_value;
    if (!(p = get_varint(p, end, &d)) || !(p = get_varint(p, end, &len)) ||
        !(p = get_varint(p, end, &old_value)) || !(p = get_varint(p, end, &new_value))) {
      free(runs);
      return NULL;
    }
    runs[i].start = prev_end + (uint64_t)unzigzag(d);
    runs[i].len = (uint32_t)len;
    runs[i].old_value = (uint32_t)old_value;
    runs[i].new_value = (uint32_t)new_value;
    prev_end = runs[i].start + len;
  }
  return runs;
}

/* ---- deltas ------------------------------------------------------------------- */

void sm_delta_free(SmLabelDelta *d) {
  if (!d) return;
  for (size_t i = 0; i < d->n_ops; i++) {
    free(d->ops[i].bytes);
    sm_segment_free(d->ops[i].before);
    sm_segment_free(d->ops[i].after);
  }
  free(d->ops);
  free(d);
}

static SmDeltaOp *delta_add_op(SmLabelDelta *d) {
  if (d->n_ops == d->cap_ops) {
    size_t cap = d->cap_ops ? d->cap_ops * 2 : 4;
    SmDeltaOp *ops = realloc(d->ops, cap * sizeof *ops);
    if (!ops) return NULL;
    d->ops = ops;
    d->cap_ops = cap;
  }
  SmDeltaOp *op = &d->ops[d->n_ops++];
  memset(op, 0, sizeof *op);
  d->bytes += sizeof *op;
  return op;
}

static size_t segment_bytes(const SmSegment *seg) {
  if (!seg) return 0;
  return sizeof *seg + (seg->name ? strlen(seg->name) + 1 : 0) + seg->n_extra * sizeof(uint32_t);
}

static void grow_delta_box(SmLabelDelta *d, const int64_t lo[3], const int64_t hi[3]) {
  bool empty = d->lo[0] >= d->hi[0];
  for (int a = 0; a < 3; a++) {
    if (empty || lo[a] < d->lo[a]) d->lo[a] = lo[a];
    if (empty || hi[a] > d->hi[a]) d->hi[a] = hi[a];
  }
}

/* Encodes the collected runs into one VOXELS op. */
static int flush_runs(SmLabelStore *s) {
  if (s->n_runs == 0) return 0;
  uint8_t *bytes = malloc(s->n_runs * 4 * 10);
  if (!bytes) return -1;
  uint8_t *p = bytes;
  uint64_t prev_end = 0;
  for (size_t i = 0; i < s->n_runs; i++) {
    const SmVoxelRun *r = &s->runs[i];
    p = put_varint(p, zigzag((int64_t)(r->start - prev_end)));
    p = put_varint(p, r->len);
    p = put_varint(p, r->old_value);
    p = put_varint(p, r->new_value);
    prev_end = r->start + r->len;
  }
  size_t n = (size_t)(p - bytes);
  uint8_t *shrunk = realloc(bytes, n ? n : 1);
  if (shrunk) bytes = shrunk;
  SmDeltaOp *op = delta_add_op(s->pending);
  if (!op) {
    free(bytes);
    return -1;
  }
  op->kind = SM_OP_VOXELS;
  op->bytes = bytes;
  op->n_bytes = n;
  op->n_runs = s->n_runs;
  s->pending->bytes += n;
  s->n_runs = 0;
  return 0;
}

/* ---- applying -------------------------------------------------------------------- */

static void apply_runs(SmLabelStore *s, const SmVoxelRun *runs, uint64_t n, bool forward) {
  int64_t plane = s->ny * s->nx;
  for (uint64_t k = 0; k < n; k++) {
    const SmVoxelRun *r = &runs[forward ? k : n - 1 - k];
    uint32_t from = forward ? r->old_value : r->new_value;
    uint32_t to = forward ? r->new_value : r->old_value;
    uint32_t *p = s->data + r->start;
    for (uint32_t i = 0; i < r->len; i++) p[i] = to;
    sm_store_count(s, from, -(int64_t)r->len);
    sm_store_count(s, to, (int64_t)r->len);
    sm_store_changed_id(s, sm_label_store_segment_of(s, from));
    uint32_t to_seg = sm_label_store_segment_of(s, to);
    sm_store_changed_id(s, to_seg);
    SmSegment *seg = to ? sm_store_find(s, to_seg) : NULL;
    if (seg) {
      /* A run may wrap rows; grow by its first and last voxel's rows. */
      uint64_t a = r->start, b = r->start + r->len - 1;
      int64_t za = (int64_t)a / plane, ya = ((int64_t)a % plane) / s->nx, xa = (int64_t)a % s->nx;
      int64_t zb = (int64_t)b / plane, yb = ((int64_t)b % plane) / s->nx, xb = (int64_t)b % s->nx;
      if (za == zb && ya == yb) {
        sm_store_grow_box(seg, za, ya, xa, xb + 1);
      } else {
        sm_store_grow_box(seg, za, ya, 0, s->nx);
        sm_store_grow_box(seg, zb, yb, 0, s->nx);
      }
    }
  }
}

/* A record change that moves fragments between segments (merge, unmerge)
 * changes the displayed ids of their voxels without writing any: the views
 * must re-upload that box too. */
static void note_display_change(SmLabelStore *s, const SmSegment *before, const SmSegment *after) {
  bool remaps = !before || !after || before->n_extra != after->n_extra;
  if (!remaps) return;
  const SmSegment *recs[2] = {before, after};
  for (int k = 0; k < 2; k++) {
    const SmSegment *r = recs[k];
    if (!r || r->voxels == 0 || r->lo[0] >= r->hi[0]) continue;
    int64_t lo[3] = {r->lo[0], r->lo[1], r->lo[2]}, hi[3] = {r->hi[0], r->hi[1], r->hi[2]};
    sm_store_dirty(s, lo, hi);
  }
}

int sm_delta_apply(SmLabelStore *s, const SmLabelDelta *d, bool forward, SmError *err) {
  for (size_t k = 0; k < d->n_ops; k++) {
    const SmDeltaOp *op = &d->ops[forward ? k : d->n_ops - 1 - k];
    if (op->kind == SM_OP_VOXELS) {
      SmVoxelRun *runs = decode_runs(op);
      if (!runs) return sm_error_set(err, "labels: corrupt or unaffordable edit record");
      apply_runs(s, runs, op->n_runs, forward);
      free(runs);
    } else {
      const SmSegment *rec = forward ? op->after : op->before;
      note_display_change(s, op->before, op->after);
      if (sm_store_set_record(s, op->id, rec, true) != 0)
        return sm_error_set(err, "labels: out of memory for the segment table");
      s->table_changed = true;
      sm_store_changed_id(s, op->id);
    }
  }
  if (d->lo[0] < d->hi[0]) sm_store_dirty(s, d->lo, d->hi);
  return 0;
}

/* ---- transactions ------------------------------------------------------------------ */

bool sm_label_edit_is_open(const SmLabelStore *s) { return s->pending != NULL; }

int sm_label_edit_begin(SmLabelStore *s, const char *what, SmError *err) {
  if (s->pending) return sm_error_set(err, "labels: another edit is still open");
  s->pending = calloc(1, sizeof *s->pending);
  if (!s->pending) return sm_error_set(err, "labels: out of memory");
  snprintf(s->pending->what, sizeof s->pending->what, "%s", what);
  s->pending->bytes = sizeof *s->pending;
  s->n_runs = 0;
  return 0;
}

/* Room for `extra` more runs, reserved before any voxel of a row is written
 * so that every write can be recorded (and therefore undone or rolled back). */
static bool reserve_runs(SmLabelStore *s, size_t extra) {
  if (s->n_runs + extra <= s->cap_runs) return true;
  size_t cap = s->cap_runs ? s->cap_runs : 1024;
  while (cap < s->n_runs + extra) cap *= 2;
  SmVoxelRun *runs = realloc(s->runs, cap * sizeof *runs);
  if (!runs) {
    s->pending->failed = true;
    return false;
  }
  s->runs = runs;
  s->cap_runs = cap;
  return true;
}

static void add_run(SmLabelStore *s, int64_t z, int64_t y, int64_t x0, int64_t len, uint32_t old_value,
                    uint32_t new_value) {
  if (len <= 0) return;
  uint64_t start = (uint64_t)((z * s->ny + y) * s->nx + x0);
  /* The runs are needed for undo, and for abort (a failed edit leaves
   * nothing changed), so they are kept even with undo off. The caller has
   * reserved room (reserve_runs). */
  SmVoxelRun *last = s->n_runs ? &s->runs[s->n_runs - 1] : NULL;
  if (last && last->start + last->len == start && last->old_value == old_value &&
      last->new_value == new_value && (uint64_t)last->len + (uint64_t)len <= UINT32_MAX)
    last->len += (uint32_t)len;
  else
    s->runs[s->n_runs++] = (SmVoxelRun){start, (uint32_t)len, old_value, new_value};
  sm_store_count(s, old_value, -len);
  sm_store_count(s, new_value, len);
  sm_store_changed_id(s, sm_label_store_segment_of(s, old_value));
  uint32_t new_seg = sm_label_store_segment_of(s, new_value);
  sm_store_changed_id(s, new_seg);
  if (new_value) {
    SmSegment *seg = sm_store_find(s, new_seg);
    if (seg) sm_store_grow_box(seg, z, y, x0, x0 + len);
  }
  int64_t lo[3] = {z, y, x0}, hi[3] = {z + 1, y + 1, x0 + len};
  sm_store_dirty(s, lo, hi);
  grow_delta_box(s->pending, lo, hi);
}

/* Whether a voxel holding `fragment` must keep it under guard g. */
static bool guarded(const SmLabelStore *s, uint32_t fragment, const SmWriteGuard *g) {
  if (g->over == SM_OVER_BACKGROUND && fragment != 0) return true;
  if (fragment == 0) return g->over == SM_OVER_SEGMENT;
  uint32_t seg_id = sm_label_store_segment_of(s, fragment);
  if (g->over == SM_OVER_SEGMENT && seg_id != g->segment) return true;
  if (!g->honour_locks) return false;
  const SmSegment *seg = sm_store_find(s, seg_id);
  return seg && (seg->flags & SM_SEGMENT_LOCKED);
}

uint64_t sm_edit_write_row_guarded(SmLabelStore *s, int64_t z, int64_t y, int64_t x0, int64_t len,
                                   uint32_t value, const SmWriteGuard *g) {
  if (!s->pending || z < 0 || z >= s->nz || y < 0 || y >= s->ny) return 0;
  if (x0 < 0) len += x0, x0 = 0;
  if (x0 + len > s->nx) len = s->nx - x0;
  if (len <= 0 || !reserve_runs(s, (size_t)len + 1)) return 0;
  uint32_t *row = s->data + (z * s->ny + y) * s->nx;
  uint64_t changed = 0;
  int64_t run_start = -1;
  uint32_t run_old = 0, cached_fragment = 0;
  bool cache_valid = false, cached_skip = false;
  bool any_guard = g->honour_locks || g->over != SM_OVER_ALL;
  int64_t x = x0;
  for (; x < x0 + len; x++) {
    uint32_t old_value = row[x];
    bool skip = old_value == value;
    if (!skip && any_guard) {
      if (!cache_valid || old_value != cached_fragment) {
        cached_fragment = old_value;
        cached_skip = guarded(s, old_value, g);
        cache_valid = true;
      }
      skip = cached_skip;
    }
    if (skip || (run_start >= 0 && old_value != run_old)) {
      if (run_start >= 0) add_run(s, z, y, run_start, x - run_start, run_old, value);
      run_start = -1;
    }
    if (skip) continue;
    if (run_start < 0) run_start = x, run_old = old_value;
    row[x] = value;
    changed++;
  }
  if (run_start >= 0) add_run(s, z, y, run_start, x - run_start, run_old, value);
  return changed;
}

uint64_t sm_label_edit_write_row(SmLabelStore *s, int64_t z, int64_t y, int64_t x0, int64_t len,
                                 uint32_t value, bool honour_locks) {
  SmWriteGuard g = {.honour_locks = honour_locks};
  return sm_edit_write_row_guarded(s, z, y, x0, len, value, &g);
}

uint64_t sm_label_edit_write_values(SmLabelStore *s, int64_t z, int64_t y, int64_t x0, int64_t len,
                                    const uint32_t *values) {
  if (!s->pending || z < 0 || z >= s->nz || y < 0 || y >= s->ny || x0 < 0 || x0 + len > s->nx ||
      len <= 0 || !reserve_runs(s, (size_t)len + 1))
    return 0;
  uint32_t *row = s->data + (z * s->ny + y) * s->nx;
  uint64_t changed = 0;
  int64_t i = 0;
  while (i < len) {
    uint32_t old_value = row[x0 + i], new_value = values[i];
    int64_t j = i + 1;
    while (j < len && row[x0 + j] == old_value && values[j] == new_value) j++;
    if (old_value != new_value) {
      for (int64_t k = i; k < j; k++) row[x0 + k] = new_value;
      add_run(s, z, y, x0 + i, j - i, old_value, new_value);
      changed += (uint64_t)(j - i);
    }
    i = j;
  }
  return changed;
}

int sm_label_edit_set_record(SmLabelStore *s, uint32_t id, const SmSegment *rec, SmError *err) {
  if (!s->pending) return sm_error_set(err, "labels: no edit open");
  if (id == 0) return sm_error_set(err, "labels: 0 is background, not a segment");
  /* Voxel runs so far must stay before this table change in the history. */
  if (flush_runs(s) != 0) return sm_error_set(err, "labels: out of memory");
  const SmSegment *cur = sm_store_find(s, id);
  SmSegment *before = cur ? sm_segment_clone(cur) : NULL;
  SmSegment *after = rec ? sm_segment_clone(rec) : NULL;
  SmDeltaOp *op = ((cur && !before) || (rec && !after)) ? NULL : delta_add_op(s->pending);
  if (!op || sm_store_set_record(s, id, rec, false) != 0) {
    if (op) s->pending->n_ops--;
    sm_segment_free(before);
    sm_segment_free(after);
    return sm_error_set(err, "labels: out of memory for the segment table");
  }
  if (after) after->id = id;
  op->kind = SM_OP_RECORD;
  op->id = id;
  op->before = before;
  op->after = after;
  note_display_change(s, before, after);
  s->pending->bytes += segment_bytes(before) + segment_bytes(after);
  s->table_changed = true;
  sm_store_changed_id(s, id);
  return 0;
}

void sm_label_edit_abort(SmLabelStore *s) {
  if (!s->pending) return;
  /* The latest writes are the runs not yet encoded: undo them straight from
   * the run array (no allocation), then the encoded ops before them. */
  apply_runs(s, s->runs, s->n_runs, false);
  s->n_runs = 0;
  sm_delta_apply(s, s->pending, false, NULL);
  sm_delta_free(s->pending);
  s->pending = NULL;
  s->stroke_open = false;
  sm_store_notify(s, "cancelled edit", false);
}

/* ---- history ---------------------------------------------------------------------- */

static int stack_push(SmLabelDelta ***stack, size_t *n, size_t *cap, SmLabelDelta *d) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 64;
    SmLabelDelta **p = realloc(*stack, c * sizeof *p);
    if (!p) return -1;
    *stack = p;
    *cap = c;
  }
  (*stack)[(*n)++] = d;
  return 0;
}

static void clear_redo(SmLabelStore *s) {
  for (size_t i = 0; i < s->n_redo; i++) {
    s->history_bytes -= s->redo[i]->bytes;
    sm_delta_free(s->redo[i]);
  }
  s->n_redo = 0;
}

static void enforce_cap(SmLabelStore *s) {
  /* Drop the oldest undo steps; the newest one is always kept so that the
   * last edit can be undone even when it alone is past the cap. */
  size_t drop = 0;
  while (s->history_bytes > s->history_cap && s->n_undo - drop > 1) {
    s->history_bytes -= s->undo[drop]->bytes;
    sm_delta_free(s->undo[drop]);
    drop++;
  }
  if (drop) {
    memmove(s->undo, s->undo + drop, (s->n_undo - drop) * sizeof *s->undo);
    s->n_undo -= drop;
  }
}

static void push_undo(SmLabelStore *s, SmLabelDelta *d) {
  if (!s->undo_enabled || stack_push(&s->undo, &s->n_undo, &s->cap_undo, d) != 0) {
    sm_delta_free(d);
    return;
  }
  s->history_bytes += d->bytes;
  enforce_cap(s);
}

void sm_history_push_replayed(SmLabelStore *s, SmLabelDelta *d) {
  clear_redo(s);
  if (d->serial >= s->next_serial) s->next_serial = d->serial + 1;
  push_undo(s, d);
}

int sm_label_edit_commit(SmLabelStore *s, SmError *err) {
  if (!s->pending) return sm_error_set(err, "labels: no edit open");
  if (s->pending->failed || flush_runs(s) != 0) {
    sm_label_edit_abort(s);
    return sm_error_set(err, "labels: out of memory recording the edit (nothing changed)");
  }
  SmLabelDelta *d = s->pending;
  s->pending = NULL;
  char what[32];
  snprintf(what, sizeof what, "%s", d->what);
  if (d->n_ops == 0) {
    sm_delta_free(d);
    sm_store_notify(s, what, false);
    return 0;
  }
  d->serial = s->next_serial++;
  s->version++;
  int rc = 0;
  if (s->journal) rc = sm_label_journal_append(s->journal, SM_JOURNAL_EDIT, d, err);
  clear_redo(s);
  push_undo(s, d);
  sm_store_notify(s, what, false);
  return rc;
}

void sm_label_edit_notify_progress(SmLabelStore *s) {
  if (s->pending) sm_store_notify(s, s->pending->what, true);
}

bool sm_label_can_undo(const SmLabelStore *s) { return s->n_undo > 0 && !s->pending; }
bool sm_label_can_redo(const SmLabelStore *s) { return s->n_redo > 0 && !s->pending; }
const char *sm_label_undo_name(const SmLabelStore *s) {
  return s->n_undo ? s->undo[s->n_undo - 1]->what : NULL;
}
const char *sm_label_redo_name(const SmLabelStore *s) {
  return s->n_redo ? s->redo[s->n_redo - 1]->what : NULL;
}

size_t sm_label_undo_history(const SmLabelStore *s, const char **names, size_t max) {
  for (size_t i = 0; i < s->n_undo && i < max; i++) names[i] = s->undo[s->n_undo - 1 - i]->what;
  return s->n_undo;
}

static int undo_or_redo(SmLabelStore *s, bool redo, SmError *err) {
  if (s->pending) return sm_error_set(err, "labels: finish the current edit first");
  SmLabelDelta ***from = redo ? &s->redo : &s->undo;
  size_t *n_from = redo ? &s->n_redo : &s->n_undo;
  if (*n_from == 0) return sm_error_set(err, "labels: nothing to %s", redo ? "redo" : "undo");
  SmLabelDelta *d = (*from)[*n_from - 1];
  if (sm_delta_apply(s, d, redo, err) != 0) return -1;
  (*n_from)--;
  if (redo)
    stack_push(&s->undo, &s->n_undo, &s->cap_undo, d);
  else
    stack_push(&s->redo, &s->n_redo, &s->cap_redo, d);
  s->version++;
  int rc = 0;
  if (s->journal) rc = sm_label_journal_append(s->journal, redo ? SM_JOURNAL_REDO : SM_JOURNAL_UNDO, d, err);
  char what[48];
  snprintf(what, sizeof what, "%s %s", redo ? "redo" : "undo", d->what);
  sm_store_notify(s, what, false);
  return rc;
}

int sm_label_undo(SmLabelStore *s, SmError *err) { return undo_or_redo(s, false, err); }
int sm_label_redo(SmLabelStore *s, SmError *err) { return undo_or_redo(s, true, err); }

/* Replays an undo/redo record from a journal: when the delta is the one on
 * top of the matching stack this is an ordinary undo/redo; otherwise (a step
 * from before the journal started) it is applied directly. */
int sm_history_replay(SmLabelStore *s, SmLabelDelta *d, bool redo, SmError *err) {
  SmLabelDelta **stack = redo ? s->redo : s->undo;
  size_t n = redo ? s->n_redo : s->n_undo;
  if (n && stack[n - 1]->serial == d->serial) {
    SmLabelJournal *j = s->journal;
    s->journal = NULL;
    int rc = undo_or_redo(s, redo, err);
    s->journal = j;
    sm_delta_free(d);
    return rc;
  }
  int rc = sm_delta_apply(s, d, redo, err);
  s->version++;
  sm_store_notify(s, redo ? "redo" : "undo", false);
  sm_delta_free(d);
  return rc;
}

void sm_label_undo_memory(const SmLabelStore *s, SmUndoMemory *out) {
  out->bytes = s->history_bytes;
  out->cap = s->history_cap;
  out->undo_steps = s->n_undo;
  out->redo_steps = s->n_redo;
}

void sm_label_set_undo_cap(SmLabelStore *s, size_t bytes) {
  s->history_cap = bytes;
  enforce_cap(s);
}

void sm_label_set_undo_enabled(SmLabelStore *s, bool enabled) {
  s->undo_enabled = enabled;
  if (!enabled) sm_label_clear_history(s);
}

void sm_label_clear_history(SmLabelStore *s) {
  clear_redo(s);
  for (size_t i = 0; i < s->n_undo; i++) sm_delta_free(s->undo[i]);
  s->n_undo = 0;
  s->history_bytes = 0;
  free(s->undo);
  free(s->redo);
  s->undo = s->redo = NULL;
  s->cap_undo = s->cap_redo = 0;
}

/* ---- serialisation (journal payloads) ------------------------------------------------ */

typedef struct Buf {
  uint8_t *p;
  size_t n, cap;
  bool failed;
} Buf;

static void buf_put(Buf *b, const void *src, size_t n) {
  if (b->failed || n == 0) return;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
      b->failed = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, src, n);
  b->n += n;
}

#define PUT(b, v) buf_put((b), &(v), sizeof(v))

static void put_segment(Buf *b, const SmSegment *seg) {
  uint8_t present = seg != NULL;
  PUT(b, present);
  if (!seg) return;
  PUT(b, seg->id);
  PUT(b, seg->flags);
  PUT(b, seg->color);
  PUT(b, seg->voxels);
  buf_put(b, seg->lo, sizeof seg->lo);
  buf_put(b, seg->hi, sizeof seg->hi);
  uint32_t name_len = seg->name ? (uint32_t)strlen(seg->name) : 0;
  PUT(b, name_len);
  buf_put(b, seg->name, name_len);
  PUT(b, seg->n_extra);
  buf_put(b, seg->extra, seg->n_extra * sizeof *seg->extra);
}

int sm_delta_serialize(const SmLabelDelta *d, uint8_t **out, size_t *n_out) {
  Buf b = {0};
  PUT(&b, d->serial);
  buf_put(&b, d->what, sizeof d->what);
  buf_put(&b, d->lo, sizeof d->lo);
  buf_put(&b, d->hi, sizeof d->hi);
  uint64_t n_ops = d->n_ops;
  PUT(&b, n_ops);
  for (size_t i = 0; i < d->n_ops; i++) {
    const SmDeltaOp *op = &d->ops[i];
    uint8_t kind = (uint8_t)op->kind;
    PUT(&b, kind);
    if (op->kind == SM_OP_VOXELS) {
      uint64_t n_bytes = op->n_bytes;
      PUT(&b, n_bytes);
      PUT(&b, op->n_runs);
      buf_put(&b, op->bytes, op->n_bytes);
    } else {
      PUT(&b, op->id);
      put_segment(&b, op->before);
      put_segment(&b, op->after);
    }
  }
  if (b.failed) {
    free(b.p);
    return -1;
  }
  *out = b.p;
  *n_out = b.n;
  return 0;
}

typedef struct Reader {
  const uint8_t *p, *end;
  bool failed;
} Reader;

static void get(Reader *r, void *dst, size_t n) {
  if (n == 0) return;
  if (r->failed || (size_t)(r->end - r->p) < n) {
    r->failed = true;
    memset(dst, 0, n);
    return;
  }
  memcpy(dst, r->p, n);
  r->p += n;
}

#define GET(r, v) get((r), &(v), sizeof(v))

static SmSegment *get_segment(Reader *r) {
  uint8_t present = 0;
  GET(r, present);
  if (!present || r->failed) return NULL;
  SmSegment *seg = calloc(1, sizeof *seg);
  if (!seg) {
    r->failed = true;
    return NULL;
  }
  GET(r, seg->id);
  GET(r, seg->flags);
  GET(r, seg->color);
  GET(r, seg->voxels);
  get(r, seg->lo, sizeof seg->lo);
  get(r, seg->hi, sizeof seg->hi);
  uint32_t name_len = 0;
  GET(r, name_len);
  if (!r->failed && name_len) {
    if ((size_t)(r->end - r->p) < name_len || !(seg->name = malloc(name_len + 1))) {
      r->failed = true;
    } else {
      get(r, seg->name, name_len);
      seg->name[name_len] = '\0';
    }
  }
  uint32_t n_extra = 0;
  GET(r, n_extra);
  if (!r->failed && n_extra) {
    if ((size_t)(r->end - r->p) / 4 < n_extra ||
        !(seg->extra = malloc(n_extra * sizeof *seg->extra))) {
      r->failed = true;
    } else {
      get(r, seg->extra, n_extra * sizeof *seg->extra);
      seg->n_extra = seg->cap_extra = n_extra;
    }
  }
  if (r->failed) {
    sm_segment_free(seg);
    return NULL;
  }
  return seg;
}

SmLabelDelta *sm_delta_deserialize(const uint8_t *bytes, size_t n, SmError *err) {
  Reader r = {bytes, bytes + n, false};
  SmLabelDelta *d = calloc(1, sizeof *d);
  if (!d) return sm_error_set(err, "labels: out of memory"), NULL;
  d->bytes = sizeof *d;
  GET(&r, d->serial);
  get(&r, d->what, sizeof d->what);
  d->what[sizeof d->what - 1] = '\0';
  get(&r, d->lo, sizeof d->lo);
  get(&r, d->hi, sizeof d->hi);
  uint64_t n_ops = 0;
  GET(&r, n_ops);
  if (n_ops > n) r.failed = true;
  for (uint64_t i = 0; i < n_ops && !r.failed; i++) {
    uint8_t kind = 0;
    GET(&r, kind);
    SmDeltaOp *op = delta_add_op(d);
    if (!op) {
      r.failed = true;
      break;
    }
    op->kind = (SmDeltaOpKind)kind;
    if (kind == SM_OP_VOXELS) {
      uint64_t n_bytes = 0;
      GET(&r, n_bytes);
      GET(&r, op->n_runs);
      if (r.failed || n_bytes > (uint64_t)(r.end - r.p) || op->n_runs > n_bytes ||
          !(op->bytes = malloc(n_bytes ? n_bytes : 1))) {
        r.failed = true;
        break;
      }
      get(&r, op->bytes, n_bytes);
      op->n_bytes = n_bytes;
      d->bytes += n_bytes;
    } else if (kind == SM_OP_RECORD) {
      GET(&r, op->id);
      op->before = get_segment(&r);
      op->after = get_segment(&r);
      d->bytes += segment_bytes(op->before) + segment_bytes(op->after);
    } else {
      r.failed = true;
    }
  }
  if (r.failed || r.p != r.end) {
    sm_delta_free(d);
    return sm_error_set(err, "labels: malformed edit record"), NULL;
  }
  return d;
}
