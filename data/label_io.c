#include "label_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "label_journal.h"
#include "label_meta.h"
#include "label_private.h"
#include "volume.h"

SmLabelStore *sm_label_store_load(const char *path, const int64_t *image_shape, SmError *err) {
  SmVolume v;
  memset(&v, 0, sizeof v);
  if (sm_volume_probe(path, &v, err) != 0) return NULL;
  if (!sm_dtype_is_integer(v.dtype))
    return sm_error_set(err, "%s: labels must be integers, not %s", path, sm_dtype_name(v.dtype)), NULL;
  if (image_shape && (v.nz != image_shape[0] || v.ny != image_shape[1] || v.nx != image_shape[2]))
    return sm_error_set(err, "%s: label shape %lldx%lldx%lld differs from the image's %lldx%lldx%lld",
                        path, (long long)v.nz, (long long)v.ny, (long long)v.nx,
                        (long long)image_shape[0], (long long)image_shape[1],
                        (long long)image_shape[2]),
           NULL;
  if (sm_volume_read(path, &v, err) != 0) return NULL;
  SmLabelStore *s = sm_label_store_adopt(&v, path, err);
  sm_volume_free(&v);
  if (s && sm_label_meta_read(s, path, err) != 0) {
    sm_label_store_free(s);
    return NULL;
  }
  return s;
}

int sm_label_store_save(SmLabelStore *s, const char *path, SmError *err) {
  if (s->pending) return sm_error_set(err, "%s: finish the current edit first", path);
  SmVolume v;
  memset(&v, 0, sizeof v);
  v.dtype = SM_U32;
  v.nz = s->nz, v.ny = s->ny, v.nx = s->nx;
  memcpy(v.voxel_size, s->voxel_size, sizeof v.voxel_size);
  memcpy(v.unit, s->unit, sizeof v.unit);
  v.bits_per_sample = 32;
  uint32_t *copy = NULL;
  if (s->frag_map.n) {
    /* Merges live in the map: the file gets displayed ids. */
    copy = malloc(sm_label_store_voxels(s) * sizeof *copy);
    if (!copy) return sm_error_set(err, "%s: out of memory to save", path);
    int64_t lo[3] = {0, 0, 0}, hi[3] = {s->nz, s->ny, s->nx};
    sm_label_store_read_box(s, lo, hi, copy);
    v.data = copy;
  } else {
    v.data = s->data;
  }
  /* Mark the save in the journal first: a crash right after the file is
   * replaced then recovers to "nothing lost" instead of "foreign journal". */
  uint64_t identity = s->journal ? sm_label_store_content_hash(s) : 0;
  if (s->journal) {
    if (sm_label_journal_mark_saved(s->journal, identity, err) != 0) {
      free(copy);
      return -1;
    }
  }
  /* Segment metadata first: should the TIFF write then fail, the journal
   * (and its base) still rebuild exactly what was on screen. */
  if (sm_label_meta_write(s, path, err) != 0) {
    free(copy);
    return -1;
  }
  int rc = sm_volume_write(path, &v, err);
  free(copy);
  if (rc != 0) return -1;
  sm_label_store_mark_saved(s);
  if (s->journal && sm_label_journal_restart(s->journal, identity, err) != 0) return -1;
  return 0;
}
