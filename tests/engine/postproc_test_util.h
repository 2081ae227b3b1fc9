/* Helpers of the post-processing and metrics tests: reading the snemi-mini
 * volumes of ../shared/em-data as uint32 labels or uint8 maps, scoring. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "volume.h"

/* Reads em-data/<rel> and converts integer voxels to uint32 (labels) or
 * keeps uint8 maps as they are. Returns NULL (with a TAP diagnostic) on error. */
static inline void *pp_test_read(const char *em_data, const char *rel, SmDtype want,
                                 int64_t dims[3]) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", em_data, rel);
  SmVolume v;
  SmError err;
  if (sm_volume_read(path, &v, &err) != 0) {
    printf("# %s\n", err.message);
    return NULL;
  }
  dims[0] = v.nz, dims[1] = v.ny, dims[2] = v.nx;
  const size_t n = sm_volume_voxels(&v);
  void *out = NULL;
  if (want == SM_U8 && v.dtype == SM_U8) {
    out = malloc(n);
    memcpy(out, v.data, n);
  } else if (want == SM_U32) {
    uint32_t *o = malloc(n * sizeof *o);
    for (size_t i = 0; i < n; i++)
      o[i] = v.dtype == SM_U8    ? ((const uint8_t *)v.data)[i]
             : v.dtype == SM_U16 ? ((const uint16_t *)v.data)[i]
                                 : ((const uint32_t *)v.data)[i];
    out = o;
  }
  sm_volume_free(&v);
  return out;
}

static inline RandScores pp_test_arand(const uint32_t *truth, const uint32_t *pred, size_t n) {
  ContingencyTable t;
  PpError err;
  RandScores r = {1, 0, 0};
  if (metrics_contingency(&t, truth, pred, n, &err) == 0) {
    if (metrics_adapted_rand(&r, &t, &err) != 0) r.error = 1;
    metrics_contingency_free(&t);
  }
  return r;
}

static inline VoiScores pp_test_voi(const uint32_t *truth, const uint32_t *pred, size_t n) {
  ContingencyTable t;
  PpError err;
  VoiScores v = {0, 0};
  if (metrics_contingency(&t, truth, pred, n, &err) == 0) {
    metrics_voi(&v, &t, true, &err);
    metrics_contingency_free(&t);
  }
  return v;
}
