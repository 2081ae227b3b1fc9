#include "label_edit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "label_private.h"
#include "label_undo.h"

/* The segment a paint/fill value stands for, creating its record inside the
 * open edit when it is new. Returns the id to write, or 0 with err on failure. */
static int resolve_value(SmLabelStore *s, uint32_t value, uint32_t *out, SmError *err) {
  *out = 0;
  if (value == 0) return 0;
  uint32_t seg_id = sm_label_store_segment_of(s, value);
  const SmSegment *seg = sm_store_find(s, seg_id);
  if (seg) {
    if (seg->flags & SM_SEGMENT_LOCKED) return sm_error_set(err, "labels: segment %u is locked", seg_id);
    *out = seg_id;
    return 0;
  }
  if (value == UINT32_MAX) return sm_error_set(err, "labels: id %u is reserved", value);
  *out = value;
  return 0;
}

static int create_if_missing(SmLabelStore *s, uint32_t id, SmError *err) {
  if (id == 0 || sm_store_find(s, id)) return 0;
  SmSegment rec = {.id = id, .color = sm_label_color_for_id(id)};
  return sm_label_edit_set_record(s, id, &rec, err);
}

/* ---- brush ------------------------------------------------------------------- */

static void brush_radii(const SmLabelStore *s, const SmBrush *b, double r[3]) {
  double radius = b->radius < 0.5 ? 0.5 : b->radius;
  for (int a = 0; a < 3; a++) {
    r[a] = radius * s->voxel_size[2] / s->voxel_size[a];
    if (r[a] < 0.5) r[a] = 0.5;
  }
  if (b->shape >= 0) r[b->shape] = 0;
}

/* Paints the union of brushes centred on the segment a..b (a capsule). */
static void stamp_capsule(SmLabelStore *s, const double a[3], const double b[3]) {
  const double *r = s->stroke_radius;
  int fixed = s->stroke_plane;
  int64_t lo[3], hi[3], dims[3] = {s->nz, s->ny, s->nx};
  double d[3], dd = 0;
  for (int k = 0; k < 3; k++) {
    if (k == fixed) {
      lo[k] = llround(b[k]);
      hi[k] = lo[k] + 1;
      d[k] = 0;
    } else {
      lo[k] = (int64_t)floor(fmin(a[k], b[k]) - r[k]);
      hi[k] = (int64_t)ceil(fmax(a[k], b[k]) + r[k]) + 1;
      d[k] = (b[k] - a[k]) / r[k];
      dd += d[k] * d[k];
    }
    if (lo[k] < 0) lo[k] = 0;
    if (hi[k] > dims[k]) hi[k] = dims[k];
    if (lo[k] >= hi[k]) return;
  }
  const double limit = 1.0 + 1e-9;
  for (int64_t z = lo[0]; z < hi[0]; z++)
    for (int64_t y = lo[1]; y < hi[1]; y++) {
      double q0 = fixed == 0 ? 0 : (z - a[0]) / r[0];
      double q1 = fixed == 1 ? 0 : (y - a[1]) / r[1];
      int64_t first = -1, last = -1;
      for (int64_t x = lo[2]; x < hi[2]; x++) {
        double q2 = fixed == 2 ? 0 : (x - a[2]) / r[2];
        double t = dd > 0 ? (q0 * d[0] + q1 * d[1] + q2 * d[2]) / dd : 0;
        if (t < 0) t = 0;
        if (t > 1) t = 1;
        double e0 = q0 - t * d[0], e1 = q1 - t * d[1], e2 = q2 - t * d[2];
        bool in = e0 * e0 + e1 * e1 + e2 * e2 <= limit;
        if (in) {
          if (first < 0) first = x;
          last = x;
        } else if (first >= 0) {
          break; /* the capsule is convex: one interval per row */
        }
      }
      if (first >= 0)
        sm_edit_write_row_guarded(s, z, y, first, last - first + 1, s->stroke_value, &s->stroke_guard);
    }
}

int sm_label_stroke_begin(SmLabelStore *s, uint32_t value, const SmBrush *brush, SmError *err) {
  if (brush->shape < SM_BRUSH_BALL || brush->shape > SM_BRUSH_YZ)
    return sm_error_set(err, "labels: unknown brush shape %d", (int)brush->shape);
  if (brush->over > SM_OVER_SEGMENT) return sm_error_set(err, "labels: unknown paint mode %d", (int)brush->over);
  uint32_t id;
  if (resolve_value(s, value, &id, err) != 0) return -1;
  if (sm_label_edit_begin(s, value ? "paint" : "erase", err) != 0) return -1;
  if (create_if_missing(s, id, err) != 0) {
    sm_label_edit_abort(s);
    return -1;
  }
  s->stroke_open = true;
  s->stroke_value = id;
  s->stroke_guard = (SmWriteGuard){
      .honour_locks = true,
      .over = brush->over,
      .segment = sm_label_store_segment_of(s, brush->over_segment),
  };
  s->stroke_plane = brush->shape;
  s->stroke_has_last = false;
  brush_radii(s, brush, s->stroke_radius);
  return 0;
}

int sm_label_stroke_to(SmLabelStore *s, const double p[3], SmError *err) {
  if (!s->stroke_open) return sm_error_set(err, "labels: no stroke in progress");
  const double *from = s->stroke_has_last ? s->stroke_last : p;
  stamp_capsule(s, from, p);
  memcpy(s->stroke_last, p, sizeof s->stroke_last);
  s->stroke_has_last = true;
  sm_label_edit_notify_progress(s);
  return 0;
}

int sm_label_stroke_end(SmLabelStore *s, SmError *err) {
  if (!s->stroke_open) return sm_error_set(err, "labels: no stroke in progress");
  s->stroke_open = false;
  return sm_label_edit_commit(s, err);
}

int sm_label_paint(SmLabelStore *s, uint32_t value, const SmBrush *brush, const double (*points)[3],
                   size_t n_points, SmError *err) {
  if (sm_label_stroke_begin(s, value, brush, err) != 0) return -1;
  for (size_t i = 0; i < n_points; i++) sm_label_stroke_to(s, points[i], NULL);
  return sm_label_stroke_end(s, err);
}

/* ---- flood fill -------------------------------------------------------------- */

void sm_fill_options_default(const SmLabelStore *s, SmBrushShape plane, const int64_t seed[3],
                             SmFillOptions *opts) {
  memset(opts, 0, sizeof *opts);
  int64_t dims[3] = {s->nz, s->ny, s->nx};
  for (int a = 0; a < 3; a++) {
    opts->lo[a] = 0;
    opts->hi[a] = dims[a];
  }
  if (plane >= 0) {
    opts->lo[plane] = seed[plane];
    opts->hi[plane] = seed[plane] + 1;
  }
}

void sm_label_region_free(SmLabelRegion *region) {
  free(region->spans);
  memset(region, 0, sizeof *region);
}

typedef struct FillSeed {
  int32_t z, y, x;
} FillSeed;

/* Visited bits, one row of the fill box at a time, allocated on first visit
 * from big zeroed blocks: a small fill in a huge box costs only the rows it
 * touches (plus one pointer per row), not a bitmap of the whole box. */
typedef struct BitBlock {
  struct BitBlock *next;
  size_t used, size;
  uint8_t bytes[];
} BitBlock;

typedef struct FillState {
  const SmLabelStore *s;
  uint32_t target;
  uint32_t cache_in;
  bool cache_out;
  int64_t lo[3], hi[3], h, w;
  uint8_t **rows;  /* (box z, box y) -> visited bits of that row, or NULL */
  BitBlock *blocks;
  size_t row_bytes;
} FillState;

static inline bool fill_match(FillState *f, uint32_t v) {
  if (!f->s->frag_map.n) return v == f->target;
  if (v != f->cache_in) {
    f->cache_in = v;
    f->cache_out = sm_label_store_segment_of(f->s, v) == f->target;
  }
  return f->cache_out;
}

/* Visited bits of row (z, y); with create, allocated when missing (NULL on out of memory). */
static uint8_t *fill_row(FillState *f, int64_t z, int64_t y, bool create) {
  uint8_t **slot = &f->rows[(z - f->lo[0]) * f->h + (y - f->lo[1])];
  if (*slot || !create) return *slot;
  BitBlock *b = f->blocks;
  if (!b || b->used + f->row_bytes > b->size) {
    size_t size = f->row_bytes * 512 > ((size_t)1 << 18) ? f->row_bytes * 512 : ((size_t)1 << 18);
    b = calloc(1, sizeof *b + size);
    if (!b) return NULL;
    b->size = size;
    b->next = f->blocks;
    f->blocks = b;
  }
  *slot = b->bytes + b->used;
  b->used += f->row_bytes;
  return *slot;
}

static inline bool bit_is_set(const uint8_t *bits, int64_t i) { return bits[i >> 3] & (1u << (i & 7)); }

int sm_label_fill_compute(const SmLabelStore *s, const int64_t seed[3], const SmFillOptions *opts,
                          SmLabelRegion *region, SmError *err) {
  memset(region, 0, sizeof *region);
  int64_t dims[3] = {s->nz, s->ny, s->nx};
  FillState f = {.s = s};
  for (int a = 0; a < 3; a++) {
    f.lo[a] = opts->lo[a] < 0 ? 0 : opts->lo[a];
    f.hi[a] = opts->hi[a] > dims[a] ? dims[a] : opts->hi[a];
    if (seed[a] < f.lo[a] || seed[a] >= f.hi[a])
      return sm_error_set(err, "labels: fill seed (%lld, %lld, %lld) is outside the fill region",
                          (long long)seed[0], (long long)seed[1], (long long)seed[2]);
  }
  f.h = f.hi[1] - f.lo[1];
  f.w = f.hi[2] - f.lo[2];
  f.row_bytes = (size_t)(f.w + 7) / 8;
  f.rows = calloc((size_t)((f.hi[0] - f.lo[0]) * f.h), sizeof *f.rows);
  if (!f.rows) return sm_error_set(err, "labels: out of memory for the fill region");
  f.target = sm_label_store_id_at(s, seed[0], seed[1], seed[2]);
  f.cache_in = 0; /* fragment 0 is background: it matches only a background fill */
  f.cache_out = f.target == 0;
  region->target = f.target;
  region->store_version = s->version;

  size_t cap_stack = 1024, n_stack = 0, cap_spans = 256;
  FillSeed *stack = malloc(cap_stack * sizeof *stack);
  region->spans = malloc(cap_spans * sizeof *region->spans);
  int rc = 0;
  if (!stack || !region->spans) {
    rc = sm_error_set(err, "labels: out of memory for the fill region");
    goto done;
  }
  stack[n_stack++] = (FillSeed){(int32_t)seed[0], (int32_t)seed[1], (int32_t)seed[2]};
  for (int a = 0; a < 3; a++) region->lo[a] = seed[a], region->hi[a] = seed[a] + 1;
  if (opts->cancel && *opts->cancel) {
    rc = sm_error_set(err, "labels: fill cancelled (nothing changed)");
    goto done;
  }
  static const int dzy[4][2] = {{0, -1}, {0, 1}, {-1, 0}, {1, 0}};
  uint64_t spans_since_check = 0;
  const int64_t xlo = f.lo[2];
  while (n_stack) {
    FillSeed p = stack[--n_stack];
    const uint32_t *row = s->data + ((int64_t)p.z * s->ny + p.y) * s->nx;
    uint8_t *vis = fill_row(&f, p.z, p.y, false);
    if ((vis && bit_is_set(vis, p.x - xlo)) || !fill_match(&f, row[p.x])) continue;
    if (!vis && !(vis = fill_row(&f, p.z, p.y, true))) {
      rc = sm_error_set(err, "labels: out of memory for the fill region");
      goto done;
    }
    int64_t x0 = p.x, x1 = p.x;
    while (x0 - 1 >= xlo && !bit_is_set(vis, x0 - 1 - xlo) && fill_match(&f, row[x0 - 1])) x0--;
    while (x1 + 1 < f.hi[2] && !bit_is_set(vis, x1 + 1 - xlo) && fill_match(&f, row[x1 + 1])) x1++;
    for (int64_t x = x0; x <= x1; x++) vis[(x - xlo) >> 3] |= (uint8_t)(1u << ((x - xlo) & 7));
    if (region->n_spans == cap_spans) {
      cap_spans *= 2;
      SmFillSpan *sp = realloc(region->spans, cap_spans * sizeof *sp);
      if (!sp) {
        rc = sm_error_set(err, "labels: out of memory for the fill region");
        goto done;
      }
      region->spans = sp;
    }
    region->spans[region->n_spans++] = (SmFillSpan){p.z, p.y, (int32_t)x0, (int32_t)(x1 - x0 + 1)};
    region->voxels += (uint64_t)(x1 - x0 + 1);
    if (opts->max_voxels && region->voxels > opts->max_voxels) {
      rc = sm_error_set(err, "labels: fill stopped: the region has more than %llu voxels (nothing changed)",
                        (unsigned long long)opts->max_voxels);
      goto done;
    }
    if (++spans_since_check == 4096) {
      spans_since_check = 0;
      if (opts->cancel && *opts->cancel) {
        rc = sm_error_set(err, "labels: fill cancelled (nothing changed)");
        goto done;
      }
    }
    if (p.z < region->lo[0]) region->lo[0] = p.z;
    if (p.z + 1 > region->hi[0]) region->hi[0] = p.z + 1;
    if (p.y < region->lo[1]) region->lo[1] = p.y;
    if (p.y + 1 > region->hi[1]) region->hi[1] = p.y + 1;
    if (x0 < region->lo[2]) region->lo[2] = x0;
    if (x1 + 1 > region->hi[2]) region->hi[2] = x1 + 1;
    for (int k = 0; k < 4; k++) {
      int64_t nz = p.z + dzy[k][0], ny = p.y + dzy[k][1];
      if (nz < f.lo[0] || nz >= f.hi[0] || ny < f.lo[1] || ny >= f.hi[1]) continue;
      const uint32_t *nrow = s->data + (nz * s->ny + ny) * s->nx;
      const uint8_t *nvis = fill_row(&f, nz, ny, false);
      for (int64_t x = x0; x <= x1; x++) {
        if ((nvis && bit_is_set(nvis, x - xlo)) || !fill_match(&f, nrow[x])) continue;
        if (n_stack == cap_stack) {
          cap_stack *= 2;
          FillSeed *st = realloc(stack, cap_stack * sizeof *st);
          if (!st) {
            rc = sm_error_set(err, "labels: out of memory for the fill region");
            goto done;
          }
          stack = st;
        }
        stack[n_stack++] = (FillSeed){(int32_t)nz, (int32_t)ny, (int32_t)x};
        /* One seed per run of matching voxels is enough. */
        while (x + 1 <= x1 && !(nvis && bit_is_set(nvis, x + 1 - xlo)) && fill_match(&f, nrow[x + 1])) x++;
      }
    }
  }
done:
  free(stack);
  free(f.rows);
  while (f.blocks) {
    BitBlock *next = f.blocks->next;
    free(f.blocks);
    f.blocks = next;
  }
  if (rc != 0) sm_label_region_free(region);
  return rc;
}

int sm_label_region_apply(SmLabelStore *s, const SmLabelRegion *region, uint32_t value, SmError *err) {
  if (region->store_version != s->version)
    return sm_error_set(err, "labels: the labels changed since the fill region was computed");
  if (region->target) {
    const SmSegment *t = sm_store_find(s, region->target);
    if (t && (t->flags & SM_SEGMENT_LOCKED))
      return sm_error_set(err, "labels: segment %u is locked", region->target);
  }
  uint32_t id;
  if (resolve_value(s, value, &id, err) != 0) return -1;
  if (id == region->target) return sm_error_set(err, "labels: the region already has id %u", id);
  if (sm_label_edit_begin(s, "fill", err) != 0) return -1;
  if (create_if_missing(s, id, err) != 0) {
    sm_label_edit_abort(s);
    return -1;
  }
  for (size_t i = 0; i < region->n_spans; i++) {
    const SmFillSpan *sp = &region->spans[i];
    sm_label_edit_write_row(s, sp->z, sp->y, sp->x0, sp->len, id, true);
  }
  return sm_label_edit_commit(s, err);
}

int sm_label_fill(SmLabelStore *s, const int64_t seed[3], uint32_t value, const SmFillOptions *opts,
                  SmError *err) {
  SmLabelRegion region;
  if (sm_label_fill_compute(s, seed, opts, &region, err) != 0) return -1;
  int rc = sm_label_region_apply(s, &region, value, err);
  sm_label_region_free(&region);
  return rc;
}

/* ---- table edits ------------------------------------------------------------- */

static const SmSegment *editable(SmLabelStore *s, uint32_t id, SmError *err) {
  const SmSegment *seg = id ? sm_store_find(s, id) : NULL;
  if (!seg) return sm_error_set(err, "labels: no segment %u", id), NULL;
  if (seg->flags & SM_SEGMENT_LOCKED) return sm_error_set(err, "labels: segment %u is locked", id), NULL;
  return seg;
}

int sm_label_merge(SmLabelStore *s, const uint32_t *ids, size_t n, SmError *err) {
  if (n < 2) return sm_error_set(err, "labels: merge needs at least two segments");
  uint32_t into = sm_label_store_segment_of(s, ids[0]);
  const SmSegment *target = editable(s, into, err);
  if (!target) return -1;
  for (size_t i = 1; i < n; i++)
    if (!editable(s, sm_label_store_segment_of(s, ids[i]), err)) return -1;
  SmSegment merged;
  memset(&merged, 0, sizeof merged);
  if (sm_label_edit_begin(s, "merge", err) != 0) return -1;
  int rc = 0;
  for (size_t i = 1; i < n && rc == 0; i++) {
    uint32_t id = sm_label_store_segment_of(s, ids[i]);
    if (id == into) continue;
    const SmSegment *t = sm_store_find(s, into), *b = sm_store_find(s, id);
    if (!b) continue; /* listed twice */
    /* The merged record: target's fields, b's fragments appended. */
    merged = *t;
    merged.name = t->name;
    uint32_t n_extra = t->n_extra + 1 + b->n_extra;
    merged.extra = malloc(n_extra * sizeof *merged.extra);
    if (!merged.extra) {
      rc = sm_error_set(err, "labels: out of memory");
      break;
    }
    if (t->n_extra) memcpy(merged.extra, t->extra, t->n_extra * sizeof *merged.extra);
    merged.extra[t->n_extra] = id;
    if (b->n_extra) memcpy(merged.extra + t->n_extra + 1, b->extra, b->n_extra * sizeof *merged.extra);
    merged.n_extra = merged.cap_extra = n_extra;
    merged.voxels = t->voxels + b->voxels;
    if (b->lo[0] < b->hi[0]) {
      if (merged.lo[0] >= merged.hi[0]) {
        memcpy(merged.lo, b->lo, sizeof merged.lo);
        memcpy(merged.hi, b->hi, sizeof merged.hi);
      } else {
        for (int a = 0; a < 3; a++) {
          if (b->lo[a] < merged.lo[a]) merged.lo[a] = b->lo[a];
          if (b->hi[a] > merged.hi[a]) merged.hi[a] = b->hi[a];
        }
      }
    }
    char *name = merged.name ? strdup(merged.name) : NULL;
    merged.name = name;
    rc = sm_label_edit_set_record(s, id, NULL, err);
    if (rc == 0) rc = sm_label_edit_set_record(s, into, &merged, err);
    free(merged.extra);
    free(name);
  }
  if (rc != 0) {
    sm_label_edit_abort(s);
    return -1;
  }
  return sm_label_edit_commit(s, err);
}

/* Sets every voxel of segment id inside its box to value (in the open edit). */
static void clear_segment_voxels(SmLabelStore *s, const SmSegment *seg, uint32_t value) {
  uint32_t id = seg->id;
  int64_t lo[3] = {seg->lo[0], seg->lo[1], seg->lo[2]}, hi[3] = {seg->hi[0], seg->hi[1], seg->hi[2]};
  bool direct = seg->n_extra == 0;
  for (int64_t z = lo[0]; z < hi[0]; z++)
    for (int64_t y = lo[1]; y < hi[1]; y++) {
      const uint32_t *row = s->data + (z * s->ny + y) * s->nx;
      int64_t x = lo[2];
      while (x < hi[2]) {
        bool hit = direct ? row[x] == id : (row[x] && sm_label_store_segment_of(s, row[x]) == id);
        if (!hit) {
          x++;
          continue;
        }
        int64_t x1 = x + 1;
        while (x1 < hi[2] &&
               (direct ? row[x1] == id : (row[x1] && sm_label_store_segment_of(s, row[x1]) == id)))
          x1++;
        sm_label_edit_write_row(s, z, y, x, x1 - x, value, false);
        x = x1;
      }
    }
}

int sm_label_delete_segment(SmLabelStore *s, uint32_t id, SmError *err) {
  id = sm_label_store_segment_of(s, id);
  const SmSegment *seg = editable(s, id, err);
  if (!seg) return -1;
  if (sm_label_edit_begin(s, "delete", err) != 0) return -1;
  SmSegment copy = *seg; /* the box and fragments as they are now */
  clear_segment_voxels(s, &copy, 0);
  if (sm_label_edit_set_record(s, id, NULL, err) != 0) {
    sm_label_edit_abort(s);
    return -1;
  }
  return sm_label_edit_commit(s, err);
}

int sm_label_new_segment(SmLabelStore *s, uint32_t *id, SmError *err) {
  uint32_t fresh = s->fresh_id;
  if (fresh == 0 || fresh == UINT32_MAX) return sm_error_set(err, "labels: no ids left");
  if (sm_label_edit_begin(s, "new segment", err) != 0) return -1;
  if (create_if_missing(s, fresh, err) != 0) {
    sm_label_edit_abort(s);
    return -1;
  }
  if (sm_label_edit_commit(s, err) != 0) return -1;
  *id = fresh;
  return 0;
}

/* Runs one record change as an undo step. */
static int edit_record(SmLabelStore *s, const char *what, const SmSegment *rec, SmError *err) {
  if (sm_label_edit_begin(s, what, err) != 0) return -1;
  if (sm_label_edit_set_record(s, rec->id, rec, err) != 0) {
    sm_label_edit_abort(s);
    return -1;
  }
  return sm_label_edit_commit(s, err);
}

int sm_label_set_locked(SmLabelStore *s, uint32_t id, bool locked, SmError *err) {
  const SmSegment *seg = sm_store_find(s, sm_label_store_segment_of(s, id));
  if (!seg) return sm_error_set(err, "labels: no segment %u", id);
  if (!!(seg->flags & SM_SEGMENT_LOCKED) == locked) return 0;
  SmSegment rec = *seg;
  rec.flags ^= SM_SEGMENT_LOCKED;
  return edit_record(s, locked ? "lock" : "unlock", &rec, err);
}

int sm_label_set_hidden(SmLabelStore *s, uint32_t id, bool hidden, SmError *err) {
  SmSegment *seg = sm_store_find(s, sm_label_store_segment_of(s, id));
  if (!seg) return sm_error_set(err, "labels: no segment %u", id);
  if (hidden)
    seg->flags |= SM_SEGMENT_HIDDEN;
  else
    seg->flags &= ~(uint32_t)SM_SEGMENT_HIDDEN;
  s->table_changed = true;
  sm_store_changed_id(s, seg->id);
  sm_store_notify(s, hidden ? "hide" : "show", false);
  return 0;
}

int sm_label_set_name(SmLabelStore *s, uint32_t id, const char *name, SmError *err) {
  const SmSegment *seg = editable(s, sm_label_store_segment_of(s, id), err);
  if (!seg) return -1;
  SmSegment rec = *seg;
  rec.name = name && *name ? (char *)name : NULL;
  return edit_record(s, "rename", &rec, err);
}

int sm_label_set_color(SmLabelStore *s, uint32_t id, uint32_t color, bool reset, SmError *err) {
  const SmSegment *seg = editable(s, sm_label_store_segment_of(s, id), err);
  if (!seg) return -1;
  SmSegment rec = *seg;
  if (reset) {
    rec.flags &= ~(uint32_t)SM_SEGMENT_COLOR_SET;
    rec.color = sm_label_color_for_id(rec.id);
  } else {
    rec.flags |= SM_SEGMENT_COLOR_SET;
    rec.color = color & 0xFFFFFF;
  }
  return edit_record(s, "recolour", &rec, err);
}

/* ---- batch edits ------------------------------------------------------------- */

int sm_label_remove_small(SmLabelStore *s, uint64_t min_voxels, size_t *removed, SmError *err) {
  size_t n = 0;
  uint32_t *ids = malloc((s->n_segs ? s->n_segs : 1) * sizeof *ids);
  if (!ids) return sm_error_set(err, "labels: out of memory");
  for (size_t i = 0; i < s->n_segs; i++)
    if (s->segs[i].voxels < min_voxels && !(s->segs[i].flags & SM_SEGMENT_LOCKED)) ids[n++] = s->segs[i].id;
  if (sm_label_edit_begin(s, "remove small segments", err) != 0) {
    free(ids);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    const SmSegment *seg = sm_store_find(s, ids[i]);
    SmSegment copy = *seg;
    clear_segment_voxels(s, &copy, 0);
    if (sm_label_edit_set_record(s, ids[i], NULL, err) != 0) {
      free(ids);
      sm_label_edit_abort(s);
      return -1;
    }
  }
  free(ids);
  if (removed) *removed = n;
  return sm_label_edit_commit(s, err);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

int sm_label_relabel_consecutive(SmLabelStore *s, SmError *err) {
  size_t n = s->n_segs;
  uint32_t *ids = malloc((n ? n : 1) * sizeof *ids);
  SmSegment *recs = calloc(n ? n : 1, sizeof *recs);
  uint32_t *row = malloc((size_t)s->nx * sizeof *row);
  SmU32Map renumber = {0};
  int rc = -1;
  if (!ids || !recs || !row) {
    sm_error_set(err, "labels: out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) ids[i] = s->segs[i].id;
  qsort(ids, n, sizeof *ids, cmp_u32);
  for (size_t i = 0; i < n; i++) {
    const SmSegment *seg = sm_store_find(s, ids[i]);
    recs[i] = *seg;
    recs[i].id = (uint32_t)(i + 1);
    recs[i].n_extra = recs[i].cap_extra = 0;
    recs[i].extra = NULL;
    recs[i].name = seg->name ? strdup(seg->name) : NULL;
    if (!(recs[i].flags & SM_SEGMENT_COLOR_SET)) recs[i].color = sm_label_color_for_id(recs[i].id);
    /* Fragment -> new id, for the segment's own fragment and merged ones:
     * built before the old records (and their merges) are removed. */
    bool ok = sm_u32map_put(&renumber, ids[i], (uint32_t)(i + 1)) == 0;
    for (uint32_t k = 0; k < seg->n_extra && ok; k++)
      ok = sm_u32map_put(&renumber, seg->extra[k], (uint32_t)(i + 1)) == 0;
    if (!ok) {
      sm_error_set(err, "labels: out of memory");
      goto done;
    }
  }
  if (sm_label_edit_begin(s, "relabel", err) != 0) goto done;
  /* Old records go first, so that the voxel rewrite counts into nothing and
   * the new records arrive with their final counts. */
  for (size_t i = 0; i < n; i++)
    if (sm_label_edit_set_record(s, ids[i], NULL, err) != 0) goto abort;
  for (int64_t z = 0; z < s->nz; z++)
    for (int64_t y = 0; y < s->ny; y++) {
      const uint32_t *src = s->data + (z * s->ny + y) * s->nx;
      uint32_t last_in = 0, last_out = 0;
      for (int64_t x = 0; x < s->nx; x++) {
        if (src[x] != last_in) {
          last_in = src[x];
          last_out = 0;
          sm_u32map_get(&renumber, last_in, &last_out);
        }
        row[x] = last_out;
      }
      sm_label_edit_write_values(s, z, y, 0, s->nx, row);
    }
  for (size_t i = 0; i < n; i++)
    if (sm_label_edit_set_record(s, recs[i].id, &recs[i], err) != 0) goto abort;
  rc = sm_label_edit_commit(s, err);
  goto done;
abort:
  sm_label_edit_abort(s);
done:
  for (size_t i = 0; i < n && recs; i++) free(recs[i].name);
  free(recs);
  free(ids);
  free(row);
  sm_u32map_free(&renumber);
  return rc;
}
