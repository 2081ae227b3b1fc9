#include "label_split.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "label_private.h"
#include "label_undo.h"
#include "watershed.h"

static double map_value(const SmVolume *m, size_t i) {
  switch (m->dtype) {
    case SM_U8: return ((const uint8_t *)m->data)[i];
    case SM_I8: return ((const int8_t *)m->data)[i];
    case SM_U16: return ((const uint16_t *)m->data)[i];
    case SM_I16: return ((const int16_t *)m->data)[i];
    case SM_U32: return ((const uint32_t *)m->data)[i];
    case SM_I32: return ((const int32_t *)m->data)[i];
    default: return ((const float *)m->data)[i];
  }
}

void sm_label_split_free(SmLabelSplit *split) {
  free(split->assign);
  memset(split, 0, sizeof *split);
}

int sm_label_split_compute(const SmLabelStore *s, uint32_t segment, const int64_t (*seeds)[3],
                           int n_seeds, const SmVolume *map, bool map_is_boundary,
                           SmLabelSplit *out, SmError *err) {
  memset(out, 0, sizeof *out);
  segment = sm_label_store_segment_of(s, segment);
  const SmSegment *seg = segment ? sm_label_store_segment(s, segment) : NULL;
  if (!seg) return sm_error_set(err, "labels: no segment %u to split", segment);
  if (seg->flags & SM_SEGMENT_LOCKED) return sm_error_set(err, "labels: segment %u is locked", segment);
  if (n_seeds < 2 || n_seeds > SM_SPLIT_MAX_SEEDS)
    return sm_error_set(err, "labels: a split needs 2 to %d seeds, got %d", SM_SPLIT_MAX_SEEDS, n_seeds);
  if (map && (map->nz != s->nz || map->ny != s->ny || map->nx != s->nx || !map->data))
    return sm_error_set(err, "labels: the boundary map's shape differs from the labels");
  for (int k = 0; k < n_seeds; k++) {
    if (sm_label_store_id_at(s, seeds[k][0], seeds[k][1], seeds[k][2]) != segment)
      return sm_error_set(err, "labels: split seed %d (%lld, %lld, %lld) is not in segment %u", k + 1,
                          (long long)seeds[k][0], (long long)seeds[k][1], (long long)seeds[k][2], segment);
    for (int j = 0; j < k; j++)
      if (!memcmp(seeds[j], seeds[k], sizeof seeds[k]))
        return sm_error_set(err, "labels: split seeds %d and %d are the same voxel", j + 1, k + 1);
  }
  int64_t lo[3] = {seg->lo[0], seg->lo[1], seg->lo[2]}, hi[3] = {seg->hi[0], seg->hi[1], seg->hi[2]};
  int64_t dims[3] = {hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]};
  size_t n = (size_t)(dims[0] * dims[1] * dims[2]);
  uint32_t *labels = calloc(n, sizeof *labels);
  uint8_t *mask = malloc(n);
  float *boundary = malloc(n * sizeof *boundary);
  if (!labels || !mask || !boundary) {
    free(labels), free(mask), free(boundary);
    return sm_error_set(err, "labels: out of memory for the split of segment %u", segment);
  }
  double vmax = -DBL_MAX;
  size_t i = 0;
  for (int64_t z = lo[0]; z < hi[0]; z++)
    for (int64_t y = lo[1]; y < hi[1]; y++) {
      size_t base = (size_t)((z * s->ny + y) * s->nx);
      for (int64_t x = lo[2]; x < hi[2]; x++, i++) {
        uint32_t f = s->data[base + (size_t)x];
        mask[i] = f && sm_label_store_segment_of(s, f) == segment;
        double v = map ? map_value(map, base + (size_t)x) : 0.0;
        boundary[i] = (float)v;
        if (mask[i] && v > vmax) vmax = v;
      }
    }
  if (map && !map_is_boundary)
    for (i = 0; i < n; i++) boundary[i] = (float)(vmax - boundary[i]);
  float floor_value = 0;
  for (i = 0; i < n; i++)
    if (mask[i] && boundary[i] < floor_value) floor_value = boundary[i];
  for (int k = 0; k < n_seeds; k++) {
    size_t j = (size_t)(((seeds[k][0] - lo[0]) * dims[1] + (seeds[k][1] - lo[1])) * dims[2] +
                        (seeds[k][2] - lo[2]));
    labels[j] = (uint32_t)(k + 1);
    /* A click may land on a dark (membrane) voxel; every seed still starts
     * flooding at the lowest level, so no basin is swallowed before it grows. */
    boundary[j] = floor_value;
  }
  PpError pe;
  int rc = ws_seeded_f32(labels, boundary, mask, dims, CC_CONN_FACES, &pe);
  free(boundary);
  if (rc != 0) {
    free(labels), free(mask);
    return sm_error_set(err, "labels: split: %s", pe.message);
  }
  for (i = 0; i < n; i++) {
    if (mask[i] && labels[i] == 0) labels[i] = 1; /* pieces no seed reaches */
    if (labels[i]) out->voxels[labels[i] - 1]++;
  }
  free(mask);
  out->segment = segment;
  memcpy(out->lo, lo, sizeof lo);
  memcpy(out->hi, hi, sizeof hi);
  out->assign = labels;
  out->n_seeds = n_seeds;
  out->store_version = sm_label_store_version(s);
  return 0;
}

int sm_label_split_apply(SmLabelStore *s, const SmLabelSplit *split, uint32_t *new_ids, SmError *err) {
  if (split->store_version != s->version)
    return sm_error_set(err, "labels: the labels changed since the split was computed");
  uint32_t ids[SM_SPLIT_MAX_SEEDS];
  ids[0] = split->segment;
  if (sm_label_edit_begin(s, "split", err) != 0) return -1;
  for (int k = 1; k < split->n_seeds; k++) {
    ids[k] = s->fresh_id;
    SmSegment rec = {.id = ids[k], .color = sm_label_color_for_id(ids[k])};
    if (ids[k] == UINT32_MAX || sm_label_edit_set_record(s, ids[k], &rec, err) != 0) {
      sm_label_edit_abort(s);
      return ids[k] == UINT32_MAX ? sm_error_set(err, "labels: no ids left") : -1;
    }
  }
  int64_t w = split->hi[2] - split->lo[2];
  uint32_t *row = malloc((size_t)w * sizeof *row);
  if (!row) {
    sm_label_edit_abort(s);
    return sm_error_set(err, "labels: out of memory");
  }
  const uint32_t *a = split->assign;
  for (int64_t z = split->lo[0]; z < split->hi[0]; z++)
    for (int64_t y = split->lo[1]; y < split->hi[1]; y++, a += w) {
      const uint32_t *cur = s->data + (z * s->ny + y) * s->nx + split->lo[2];
      bool any = false;
      for (int64_t x = 0; x < w; x++) {
        row[x] = a[x] >= 2 ? ids[a[x] - 1] : cur[x];
        any |= a[x] >= 2;
      }
      if (any) sm_label_edit_write_values(s, z, y, split->lo[2], w, row);
    }
  free(row);
  if (sm_label_edit_commit(s, err) != 0) return -1;
  if (new_ids) memcpy(new_ids, ids, (size_t)split->n_seeds * sizeof *ids);
  return 0;
}
