#include "label_store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "label_journal.h"
#include "label_private.h"

/* ---- uint32 hash map ----------------------------------------------------- */

static size_t hash_slot(uint32_t key, size_t cap) {
  uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 32) & (cap - 1);
}

bool sm_u32map_get(const SmU32Map *m, uint32_t key, uint32_t *val) {
  if (m->n == 0 || key == 0) return false;
  for (size_t i = hash_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == key) {
      *val = m->vals[i];
      return true;
    }
    if (m->keys[i] == 0) return false;
  }
}

static int u32map_grow(SmU32Map *m) {
  size_t cap = m->cap ? m->cap * 2 : 64;
  uint32_t *keys = calloc(cap, sizeof *keys);
  uint32_t *vals = malloc(cap * sizeof *vals);
  if (!keys || !vals) {
    free(keys);
    free(vals);
    return -1;
  }
  for (size_t j = 0; j < m->cap; j++) {
    if (!m->keys[j]) continue;
    size_t i = hash_slot(m->keys[j], cap);
    while (keys[i]) i = (i + 1) & (cap - 1);
    keys[i] = m->keys[j];
    vals[i] = m->vals[j];
  }
  free(m->keys);
  free(m->vals);
  m->keys = keys;
  m->vals = vals;
  m->cap = cap;
  return 0;
}

int sm_u32map_put(SmU32Map *m, uint32_t key, uint32_t val) {
  if ((m->n + 1) * 4 > m->cap * 3 && u32map_grow(m) != 0) return -1;
  size_t i = hash_slot(key, m->cap);
  while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
  if (!m->keys[i]) m->n++;
  m->keys[i] = key;
  m->vals[i] = val;
  return 0;
}

void sm_u32map_del(SmU32Map *m, uint32_t key) {
  if (m->n == 0 || key == 0) return;
  size_t mask = m->cap - 1, i = hash_slot(key, m->cap);
  while (m->keys[i] != key) {
    if (!m->keys[i]) return;
    i = (i + 1) & mask;
  }
  /* Backward-shift deletion keeps probe chains intact without tombstones. */
  for (size_t j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
    size_t home = hash_slot(m->keys[j], m->cap);
    if (((j - home) & mask) >= ((j - i) & mask)) {
      m->keys[i] = m->keys[j];
      m->vals[i] = m->vals[j];
      i = j;
    }
  }
  m->keys[i] = 0;
  m->n--;
}

void sm_u32map_free(SmU32Map *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

/* ---- segments -------------------------------------------------------------- */

uint32_t sm_label_color_for_id(uint32_t id) {
  if (id == 0) return 0;
  /* id_colour() of shaders/overlay_labels.frag, bit for bit up to rounding:
   * the slice views compute it on the GPU, the segment list and the 3D view
   * here, so a segment has one colour everywhere. A well-mixed hash picks any
   * hue and a high saturation/value, bright enough over grey EM (saturation
   * at most 0.74 and value at least 0.8: no channel below 0.2). */
  uint32_t h = id * 2654435761u;
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  h ^= h >> 12;
  h *= 0x297a2d39u;
  h ^= h >> 15;
  double hue = (double)(h & 0xffffu) / 65535.0;
  double sat = 0.55 + 0.19 * (double)((h >> 16) & 0xffu) / 255.0;
  double val = 0.8 + 0.2 * (double)(h >> 24) / 255.0;
  const double offset[3] = {0.0, 4.0, 2.0};
  uint32_t rgb = 0;
  for (int c = 0; c < 3; c++) {
    double k = fabs(fmod(hue * 6.0 + offset[c], 6.0) - 3.0) - 1.0;
    k = k < 0.0 ? 0.0 : k > 1.0 ? 1.0 : k;
    double v = val * (1.0 + (k - 1.0) * sat);
    rgb = (rgb << 8) | (uint32_t)(v * 255.0 + 0.5);
  }
  return rgb;
}

void sm_segment_clear(SmSegment *seg) {
  free(seg->name);
  free(seg->extra);
  seg->name = NULL;
  seg->extra = NULL;
  seg->n_extra = seg->cap_extra = 0;
}

void sm_segment_free(SmSegment *seg) {
  if (!seg) return;
  sm_segment_clear(seg);
  free(seg);
}

static int segment_copy_into(SmSegment *dst, const SmSegment *src) {
  *dst = *src;
  dst->name = NULL;
  dst->extra = NULL;
  dst->cap_extra = dst->n_extra = 0;
  if (src->name && !(dst->name = strdup(src->name))) return -1;
  if (src->n_extra) {
    dst->extra = malloc(src->n_extra * sizeof *dst->extra);
    if (!dst->extra) {
      free(dst->name);
      dst->name = NULL;
      return -1;
    }
    memcpy(dst->extra, src->extra, src->n_extra * sizeof *dst->extra);
    dst->n_extra = dst->cap_extra = src->n_extra;
  }
  return 0;
}

SmSegment *sm_segment_clone(const SmSegment *src) {
  SmSegment *seg = malloc(sizeof *seg);
  if (!seg) return NULL;
  if (segment_copy_into(seg, src) != 0) {
    free(seg);
    return NULL;
  }
  return seg;
}

SmSegment *sm_store_find(const SmLabelStore *s, uint32_t id) {
  uint32_t i;
  if (!sm_u32map_get(&s->seg_index, id, &i)) return NULL;
  return &s->segs[i];
}

void sm_store_note_id(SmLabelStore *s, uint32_t id) {
  if (id != UINT32_MAX && id >= s->fresh_id) s->fresh_id = id + 1;
}

static void map_fragment(SmLabelStore *s, uint32_t fragment, uint32_t segment) {
  if (fragment == segment)
    sm_u32map_del(&s->frag_map, fragment);
  else
    sm_u32map_put(&s->frag_map, fragment, segment);
}

int sm_store_set_record(SmLabelStore *s, uint32_t id, const SmSegment *rec, bool keep_hidden) {
  SmSegment *cur = sm_store_find(s, id);
  if (!rec) {
    if (!cur) return 0;
    /* Fragments that still point here go back to themselves (unused ids). */
    for (uint32_t k = 0; k < cur->n_extra; k++) {
      uint32_t seg;
      if (sm_u32map_get(&s->frag_map, cur->extra[k], &seg) && seg == id)
        sm_u32map_del(&s->frag_map, cur->extra[k]);
    }
    sm_segment_clear(cur);
    size_t i = (size_t)(cur - s->segs), last = s->n_segs - 1;
    sm_u32map_del(&s->seg_index, id);
    if (i != last) {
      s->segs[i] = s->segs[last];
      sm_u32map_put(&s->seg_index, s->segs[i].id, (uint32_t)i);
    }
    s->n_segs--;
    return 0;
  }
  SmSegment copy;
  if (segment_copy_into(&copy, rec) != 0) return -1;
  copy.id = id;
  if (cur) {
    if (keep_hidden)
      copy.flags = (copy.flags & ~(uint32_t)SM_SEGMENT_HIDDEN) | (cur->flags & SM_SEGMENT_HIDDEN);
    sm_segment_clear(cur);
    *cur = copy;
  } else {
    if (s->n_segs == s->cap_segs) {
      size_t cap = s->cap_segs ? s->cap_segs * 2 : 256;
      SmSegment *segs = realloc(s->segs, cap * sizeof *segs);
      if (!segs) {
        sm_segment_clear(&copy);
        return -1;
      }
      s->segs = segs;
      s->cap_segs = cap;
    }
    if (sm_u32map_put(&s->seg_index, id, (uint32_t)s->n_segs) != 0) {
      sm_segment_clear(&copy);
      return -1;
    }
    s->segs[s->n_segs++] = copy;
  }
  map_fragment(s, id, id);
  for (uint32_t k = 0; k < copy.n_extra; k++) map_fragment(s, copy.extra[k], id);
  sm_store_note_id(s, id);
  for (uint32_t k = 0; k < copy.n_extra; k++) sm_store_note_id(s, copy.extra[k]);
  return 0;
}

void sm_store_grow_box(SmSegment *seg, int64_t z, int64_t y, int64_t x0, int64_t x1) {
  if (seg->lo[0] >= seg->hi[0]) {
    seg->lo[0] = (int32_t)z, seg->hi[0] = (int32_t)z + 1;
    seg->lo[1] = (int32_t)y, seg->hi[1] = (int32_t)y + 1;
    seg->lo[2] = (int32_t)x0, seg->hi[2] = (int32_t)x1;
    return;
  }
  if (z < seg->lo[0]) seg->lo[0] = (int32_t)z;
  if (z >= seg->hi[0]) seg->hi[0] = (int32_t)z + 1;
  if (y < seg->lo[1]) seg->lo[1] = (int32_t)y;
  if (y >= seg->hi[1]) seg->hi[1] = (int32_t)y + 1;
  if (x0 < seg->lo[2]) seg->lo[2] = (int32_t)x0;
  if (x1 > seg->hi[2]) seg->hi[2] = (int32_t)x1;
}

void sm_store_count(SmLabelStore *s, uint32_t fragment, int64_t delta) {
  if (fragment == 0) {
    s->background += (uint64_t)delta;
    return;
  }
  SmSegment *seg = sm_store_find(s, sm_label_store_segment_of(s, fragment));
  if (seg) seg->voxels += (uint64_t)delta;
}

void sm_store_dirty(SmLabelStore *s, const int64_t lo[3], const int64_t hi[3]) {
  bool empty = s->dirty_lo[0] >= s->dirty_hi[0];
  for (int a = 0; a < 3; a++) {
    if (empty || lo[a] < s->dirty_lo[a]) s->dirty_lo[a] = lo[a];
    if (empty || hi[a] > s->dirty_hi[a]) s->dirty_hi[a] = hi[a];
  }
}

void sm_store_changed_id(SmLabelStore *s, uint32_t id) {
  if (id == 0) return;
  /* Edits touch few segments; a short linear check over the most recent
   * entries keeps the list deduplicated in practice without a hash. */
  size_t from = s->n_changed_ids > 16 ? s->n_changed_ids - 16 : 0;
  for (size_t i = from; i < s->n_changed_ids; i++)
    if (s->changed_ids[i] == id) return;
  if (s->n_changed_ids == SM_CHANGED_IDS_MAX) {
    s->changed_ids_truncated = true;
    return;
  }
  s->changed_ids[s->n_changed_ids++] = id;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* Sorts and deduplicates ids[0..n); returns the new count. */
static size_t unique_ids(uint32_t *ids, size_t n) {
  qsort(ids, n, sizeof *ids, cmp_u32);
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (m == 0 || ids[m - 1] != ids[i]) ids[m++] = ids[i];
  return m;
}

/* Adds box and ids of `from` (lo/hi, ids) into `to` (box, ids). */
static void fold_change(int64_t to_lo[3], int64_t to_hi[3], uint32_t *to_ids, size_t *to_n, bool *to_trunc,
                        const int64_t lo[3], const int64_t hi[3], const uint32_t *ids, size_t n, bool trunc) {
  bool to_empty = to_lo[0] >= to_hi[0], from_empty = lo[0] >= hi[0];
  if (!from_empty)
    for (int a = 0; a < 3; a++) {
      to_lo[a] = to_empty || lo[a] < to_lo[a] ? lo[a] : to_lo[a];
      to_hi[a] = to_empty || hi[a] > to_hi[a] ? hi[a] : to_hi[a];
    }
  for (size_t i = 0; i < n; i++) {
    if (*to_n == SM_CHANGED_IDS_MAX) {
      *to_trunc = true;
      break;
    }
    to_ids[(*to_n)++] = ids[i];
  }
  *to_n = unique_ids(to_ids, *to_n);
  *to_trunc |= trunc;
}

void sm_store_notify(SmLabelStore *s, const char *what, bool in_progress) {
  if (!in_progress) {
    /* The end of an edit tells everything it changed, including what its
     * in-progress notifications already told: listeners finish a stroke here
     * (segment list rows, 3D surfaces) without keeping sums of their own. */
    fold_change(s->dirty_lo, s->dirty_hi, s->changed_ids, &s->n_changed_ids, &s->changed_ids_truncated,
                s->edit_lo, s->edit_hi, s->edit_ids, s->n_edit_ids, s->edit_ids_truncated);
    s->table_changed |= s->edit_table_changed;
  }
  bool voxels = s->dirty_lo[0] < s->dirty_hi[0];
  s->n_changed_ids = unique_ids(s->changed_ids, s->n_changed_ids);
  if (s->listener && (voxels || s->table_changed || s->n_changed_ids)) {
    SmLabelChange c = {
      .what = what,
      .voxels_changed = voxels,
      .table_changed = s->table_changed,
      .ids = s->changed_ids,
      .n_ids = s->n_changed_ids,
      .ids_truncated = s->changed_ids_truncated,
      .in_progress = in_progress,
    };
    for (int a = 0; a < 3; a++) {
      c.lo[a] = voxels ? s->dirty_lo[a] : 0;
      c.hi[a] = voxels ? s->dirty_hi[a] : 0;
    }
    s->listener(&c, s->listener_user);
  }
  if (in_progress) {
    fold_change(s->edit_lo, s->edit_hi, s->edit_ids, &s->n_edit_ids, &s->edit_ids_truncated, s->dirty_lo,
                s->dirty_hi, s->changed_ids, s->n_changed_ids, s->changed_ids_truncated);
    s->edit_table_changed |= s->table_changed;
  } else {
    for (int a = 0; a < 3; a++) s->edit_lo[a] = s->edit_hi[a] = 0;
    s->n_edit_ids = 0;
    s->edit_ids_truncated = s->edit_table_changed = false;
  }
  for (int a = 0; a < 3; a++) s->dirty_lo[a] = s->dirty_hi[a] = 0;
  s->n_changed_ids = 0;
  s->changed_ids_truncated = false;
  s->table_changed = false;
}

/* ---- construction ---------------------------------------------------------- */

static SmLabelStore *store_alloc(int64_t nz, int64_t ny, int64_t nx, SmError *err) {
  if (nz <= 0 || ny <= 0 || nx <= 0 || nz > INT32_MAX || ny > INT32_MAX || nx > INT32_MAX)
    return sm_error_set(err, "labels: bad shape %lldx%lldx%lld", (long long)nz, (long long)ny,
                        (long long)nx),
           NULL;
  SmLabelStore *s = calloc(1, sizeof *s);
  if (!s) return sm_error_set(err, "labels: out of memory"), NULL;
  s->nz = nz, s->ny = ny, s->nx = nx;
  for (int a = 0; a < 3; a++) s->voxel_size[a] = 1.0;
  s->fresh_id = 1;
  s->undo_enabled = true;
  s->history_cap = (size_t)512 << 20;
  s->next_serial = 1;
  return s;
}

SmLabelStore *sm_label_store_new(int64_t nz, int64_t ny, int64_t nx, SmError *err) {
  SmLabelStore *s = store_alloc(nz, ny, nx, err);
  if (!s) return NULL;
  s->data = calloc((size_t)(nz * ny * nx), sizeof *s->data);
  if (!s->data) {
    free(s);
    return sm_error_set(err, "labels: out of memory for %lldx%lldx%lld", (long long)nz,
                        (long long)ny, (long long)nx),
           NULL;
  }
  s->background = (uint64_t)(nz * ny * nx);
  return s;
}

int sm_store_rebuild_table(SmLabelStore *s, SmError *err) {
  for (size_t i = 0; i < s->n_segs; i++) sm_segment_clear(&s->segs[i]);
  s->n_segs = 0;
  sm_u32map_free(&s->seg_index);
  sm_u32map_free(&s->frag_map);
  s->background = 0;
  const uint32_t *p = s->data;
  uint32_t last = 0;
  SmSegment *seg = NULL;
  for (int64_t z = 0; z < s->nz; z++)
    for (int64_t y = 0; y < s->ny; y++, p += s->nx) {
      int64_t x = 0;
      while (x < s->nx) {
        uint32_t v = p[x];
        int64_t x1 = x + 1;
        while (x1 < s->nx && p[x1] == v) x1++;
        if (v == 0) {
          s->background += (uint64_t)(x1 - x);
        } else {
          if (!seg || v != last) {
            seg = sm_store_find(s, v);
            if (!seg) {
              SmSegment rec = {.id = v, .color = sm_label_color_for_id(v)};
              if (sm_store_set_record(s, v, &rec, false) != 0)
                return sm_error_set(err, "labels: out of memory for the segment table");
              seg = sm_store_find(s, v);
            }
            last = v;
          }
          seg->voxels += (uint64_t)(x1 - x);
          sm_store_grow_box(seg, z, y, x, x1);
        }
        x = x1;
      }
    }
  return 0;
}

SmLabelStore *sm_label_store_adopt(SmVolume *labels, const char *name, SmError *err) {
  if (!name) name = "labels";
  if (!labels->data) return sm_error_set(err, "%s: no voxel data", name), NULL;
  if (!sm_dtype_is_integer(labels->dtype))
    return sm_error_set(err, "%s: labels must be integers, not %s", name,
                        sm_dtype_name(labels->dtype)),
           NULL;
  SmLabelStore *s = store_alloc(labels->nz, labels->ny, labels->nx, err);
  if (!s) return NULL;
  size_t n = sm_volume_voxels(labels);
  if (labels->dtype == SM_U32) {
    s->data = labels->data;
  } else {
    uint32_t *out = malloc(n * sizeof *out);
    if (!out) {
      free(s);
      return sm_error_set(err, "%s: out of memory", name), NULL;
    }
    for (size_t i = 0; i < n; i++) {
      int64_t v;
      switch (labels->dtype) {
        case SM_U8: v = ((const uint8_t *)labels->data)[i]; break;
        case SM_I8: v = ((const int8_t *)labels->data)[i]; break;
        case SM_U16: v = ((const uint16_t *)labels->data)[i]; break;
        case SM_I16: v = ((const int16_t *)labels->data)[i]; break;
        default: v = ((const int32_t *)labels->data)[i]; break;
      }
      if (v < 0) {
        free(out);
        free(s);
        return sm_error_set(err, "%s: negative label %lld at voxel %zu", name, (long long)v, i),
               NULL;
      }
      out[i] = (uint32_t)v;
    }
    s->data = out;
    free(labels->data);
  }
  labels->data = NULL;
  for (int a = 0; a < 3; a++) s->voxel_size[a] = labels->voxel_size[a] > 0 ? labels->voxel_size[a] : 1.0;
  memcpy(s->unit, labels->unit, sizeof s->unit);
  if (sm_store_rebuild_table(s, err) != 0) {
    sm_label_store_free(s);
    return NULL;
  }
  return s;
}

void sm_label_store_free(SmLabelStore *s) {
  if (!s) return;
  /* The journal file stays: it is the record of edits not yet saved. */
  if (s->journal) sm_label_journal_close(s->journal);
  sm_label_clear_history(s);
  if (s->pending) sm_delta_free(s->pending);
  for (size_t i = 0; i < s->n_segs; i++) sm_segment_clear(&s->segs[i]);
  free(s->segs);
  free(s->runs);
  sm_u32map_free(&s->seg_index);
  sm_u32map_free(&s->frag_map);
  free(s->data);
  free(s);
}

/* ---- queries ----------------------------------------------------------------- */

void sm_label_store_shape(const SmLabelStore *s, int64_t shape[3]) {
  shape[0] = s->nz, shape[1] = s->ny, shape[2] = s->nx;
}

void sm_label_store_set_voxel_size(SmLabelStore *s, const double voxel_size[3], const char *unit) {
  for (int a = 0; a < 3; a++) s->voxel_size[a] = voxel_size[a] > 0 ? voxel_size[a] : 1.0;
  if (unit) snprintf(s->unit, sizeof s->unit, "%s", unit);
}

void sm_label_store_voxel_size(const SmLabelStore *s, double voxel_size[3]) {
  for (int a = 0; a < 3; a++) voxel_size[a] = s->voxel_size[a];
}

size_t sm_label_store_voxels(const SmLabelStore *s) { return (size_t)(s->nz * s->ny * s->nx); }

const uint32_t *sm_label_store_fragments(const SmLabelStore *s) { return s->data; }

uint32_t sm_label_store_segment_of(const SmLabelStore *s, uint32_t fragment) {
  uint32_t seg;
  if (s->frag_map.n && sm_u32map_get(&s->frag_map, fragment, &seg)) return seg;
  return fragment;
}

uint32_t sm_label_store_id_at(const SmLabelStore *s, int64_t z, int64_t y, int64_t x) {
  if (z < 0 || y < 0 || x < 0 || z >= s->nz || y >= s->ny || x >= s->nx) return 0;
  return sm_label_store_segment_of(s, s->data[(z * s->ny + y) * s->nx + x]);
}

bool sm_label_store_has_merges(const SmLabelStore *s) { return s->frag_map.n > 0; }

void sm_label_store_volume_view(const SmLabelStore *s, SmVolume *out) {
  memset(out, 0, sizeof *out);
  out->dtype = SM_U32;
  out->nz = s->nz, out->ny = s->ny, out->nx = s->nx;
  memcpy(out->voxel_size, s->voxel_size, sizeof out->voxel_size);
  memcpy(out->unit, s->unit, sizeof out->unit);
  out->bits_per_sample = 32;
  out->data = s->data;
}

void sm_label_store_read_box(const SmLabelStore *s, const int64_t lo[3], const int64_t hi[3],
                             uint32_t *out) {
  int64_t w = hi[2] - lo[2];
  for (int64_t z = lo[0]; z < hi[0]; z++)
    for (int64_t y = lo[1]; y < hi[1]; y++, out += w) {
      const uint32_t *row = s->data + (z * s->ny + y) * s->nx + lo[2];
      if (!s->frag_map.n) {
        memcpy(out, row, (size_t)w * sizeof *out);
        continue;
      }
      uint32_t last_in = 0, last_out = 0;
      for (int64_t i = 0; i < w; i++) {
        if (row[i] != last_in) {
          last_in = row[i];
          last_out = sm_label_store_segment_of(s, last_in);
        }
        out[i] = last_out;
      }
    }
}

size_t sm_label_store_n_segments(const SmLabelStore *s) { return s->n_segs; }
const SmSegment *sm_label_store_segment_at(const SmLabelStore *s, size_t i) {
  return i < s->n_segs ? &s->segs[i] : NULL;
}
const SmSegment *sm_label_store_segment(const SmLabelStore *s, uint32_t id) {
  return sm_store_find(s, id);
}
uint64_t sm_label_store_background_voxels(const SmLabelStore *s) { return s->background; }
uint32_t sm_label_store_fresh_id(const SmLabelStore *s) { return s->fresh_id; }

int sm_label_store_tight_box(SmLabelStore *s, uint32_t id, int64_t lo[3], int64_t hi[3],
                             SmError *err) {
  SmSegment *seg = sm_store_find(s, id);
  if (!seg) return sm_error_set(err, "labels: no segment %u", id);
  int64_t tlo[3] = {INT64_MAX, INT64_MAX, INT64_MAX}, thi[3] = {0, 0, 0};
  for (int64_t z = seg->lo[0]; z < seg->hi[0]; z++)
    for (int64_t y = seg->lo[1]; y < seg->hi[1]; y++) {
      const uint32_t *row = s->data + (z * s->ny + y) * s->nx;
      uint32_t last_in = 0;
      bool last_hit = false;
      for (int64_t x = seg->lo[2]; x < seg->hi[2]; x++) {
        if (row[x] != last_in) {
          last_in = row[x];
          last_hit = last_in && sm_label_store_segment_of(s, last_in) == id;
        }
        if (!last_hit) continue;
        int64_t c[3] = {z, y, x};
        for (int a = 0; a < 3; a++) {
          if (c[a] < tlo[a]) tlo[a] = c[a];
          if (c[a] + 1 > thi[a]) thi[a] = c[a] + 1;
        }
      }
    }
  if (tlo[0] == INT64_MAX)
    for (int a = 0; a < 3; a++) tlo[a] = thi[a] = 0;
  for (int a = 0; a < 3; a++) {
    seg->lo[a] = (int32_t)tlo[a], seg->hi[a] = (int32_t)thi[a];
    if (lo) lo[a] = tlo[a];
    if (hi) hi[a] = thi[a];
  }
  return 0;
}

int sm_label_store_find_voxel(SmLabelStore *s, uint32_t id, int64_t zyx[3], SmError *err) {
  int64_t lo[3], hi[3];
  if (sm_label_store_tight_box(s, id, lo, hi, err) != 0) return -1;
  if (lo[0] >= hi[0]) return sm_error_set(err, "labels: segment %u is empty", id);
  /* Closest voxel of the segment to the box centre, searching the central
   * slice first (usually a hit), then the others outwards. */
  int64_t cz = (lo[0] + hi[0]) / 2, cy = (lo[1] + hi[1]) / 2, cx = (lo[2] + hi[2]) / 2;
  for (int64_t dz = 0; dz <= hi[0] - lo[0]; dz++)
    for (int sign = 0; sign < 2; sign++) {
      int64_t z = sign ? cz - dz : cz + dz;
      if (z < lo[0] || z >= hi[0] || (sign && dz == 0)) continue;
      int64_t best = INT64_MAX;
      for (int64_t y = lo[1]; y < hi[1]; y++)
        for (int64_t x = lo[2]; x < hi[2]; x++) {
          uint32_t f = s->data[(z * s->ny + y) * s->nx + x];
          if (!f || sm_label_store_segment_of(s, f) != id) continue;
          int64_t d = (y - cy) * (y - cy) + (x - cx) * (x - cx);
          if (d < best) best = d, zyx[0] = z, zyx[1] = y, zyx[2] = x;
        }
      if (best != INT64_MAX) return 0;
    }
  return sm_error_set(err, "labels: segment %u is empty", id);
}

/* Displayed ids of voxels [i, i+8) as four 64-bit words (two ids each). */
static inline void hash_words(const SmLabelStore *s, size_t i, bool mapped, uint32_t *last_in,
                              uint32_t *last_out, uint64_t w[4]) {
  if (!mapped) {
    memcpy(w, s->data + i, 4 * sizeof *w);
    return;
  }
  uint32_t v[8];
  for (int l = 0; l < 8; l++) {
    uint32_t f = s->data[i + (size_t)l];
    if (f != *last_in) *last_in = f, *last_out = sm_label_store_segment_of(s, f);
    v[l] = *last_out;
  }
  memcpy(w, v, sizeof v);
}

uint64_t sm_label_store_content_hash(const SmLabelStore *s) {
  /* Four independent multiply-xorshift lanes over the displayed ids, two ids
   * per 64-bit word, so the CPU overlaps them (memory bound), folded with the
   * shape. Identical on every little-endian machine. */
  const uint64_t k = 0x9E3779B97F4A7C15ull;
  uint64_t lane[4] = {0x243F6A8885A308D3ull, 0x13198A2E03707344ull, 0xA4093822299F31D0ull,
                      0x082EFA98EC4E6C89ull};
  size_t n = sm_label_store_voxels(s), i = 0;
  uint32_t last_in = 0, last_out = 0;
  bool mapped = s->frag_map.n > 0;
  uint64_t w[4];
  for (; i + 8 <= n; i += 8) {
    hash_words(s, i, mapped, &last_in, &last_out, w);
    for (int l = 0; l < 4; l++) {
      lane[l] = (lane[l] ^ w[l]) * k;
      lane[l] ^= lane[l] >> 31;
    }
  }
  for (; i < n; i++) {
    uint32_t v = mapped ? sm_label_store_segment_of(s, s->data[i]) : s->data[i];
    lane[0] = (lane[0] ^ v) * k;
    lane[0] ^= lane[0] >> 31;
  }
  uint64_t h = (uint64_t)s->nz * 0x100000001B3ull ^ (uint64_t)s->ny << 21 ^ (uint64_t)s->nx << 42;
  for (int l = 0; l < 4; l++) {
    h = (h ^ lane[l]) * k;
    h ^= h >> 29;
  }
  return h;
}

bool sm_label_store_is_dirty(const SmLabelStore *s) { return s->version != s->saved_version; }
void sm_label_store_mark_saved(SmLabelStore *s) { s->saved_version = s->version; }
uint64_t sm_label_store_version(const SmLabelStore *s) { return s->version; }

void sm_label_store_set_listener(SmLabelStore *s, SmLabelChangedFunc func, void *user) {
  s->listener = func;
  s->listener_user = user;
}
