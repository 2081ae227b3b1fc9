#include "seg_labels.h"

#include <stdlib.h>

#include "connected_components.h"

int sm_seg_labels_prepare(const char *path, const SmVolume *v, uint32_t **out, bool *binary,
                          SmError *err) {
  size_t n = sm_volume_voxels(v);
  *out = NULL;
  if (binary)
    *binary = false;
  if (!sm_dtype_is_integer(v->dtype))
    return sm_error_set(err, "%s: labels must be integers (instance ids or a 0/255 mask), not %s",
                        path, sm_dtype_name(v->dtype));
  uint32_t *ids = malloc(n * sizeof(uint32_t) + 1);
  if (!ids)
    return sm_error_set(err, "%s: out of memory for the labels", path);
  if (v->dtype == SM_U8 || v->dtype == SM_U16) {
    uint32_t top = v->dtype == SM_U8 ? 255 : 65535;
    size_t extreme = 0;
    for (size_t i = 0; i < n; i++) {
      uint32_t x =
          v->dtype == SM_U8 ? ((const uint8_t *)v->data)[i] : ((const uint16_t *)v->data)[i];
      extreme += x == 0 || x == top;
    }
    if (n && extreme >= n - n / 100) {
      uint8_t *fg = malloc(n + 1);
      if (!fg) {
        free(ids);
        return sm_error_set(err, "%s: out of memory for the labels", path);
      }
      uint32_t half = (top + 1) / 2;
      for (size_t i = 0; i < n; i++) {
        uint32_t x =
            v->dtype == SM_U8 ? ((const uint8_t *)v->data)[i] : ((const uint16_t *)v->data)[i];
        fg[i] = x >= half;
      }
      PpError pe;
      const int64_t dims[3] = {v->nz, v->ny, v->nx};
      int64_t k = cc_label_u8(ids, fg, dims, CC_CONN_FACES, &pe);
      free(fg);
      if (k < 0) {
        free(ids);
        return sm_error_set(err, "%s: %s", path, pe.message);
      }
      if (binary)
        *binary = true;
      *out = ids;
      return 0;
    }
  }
  for (size_t i = 0; i < n; i++) {
    int64_t x;
    switch (v->dtype) {
    case SM_U8:
      x = ((const uint8_t *)v->data)[i];
      break;
    case SM_I8:
      x = ((const int8_t *)v->data)[i];
      break;
    case SM_U16:
      x = ((const uint16_t *)v->data)[i];
      break;
    case SM_I16:
      x = ((const int16_t *)v->data)[i];
      break;
    case SM_U32:
      x = ((const uint32_t *)v->data)[i];
      break;
    default:
      x = ((const int32_t *)v->data)[i];
      break;
    }
    if (x < 0) {
      free(ids);
      return sm_error_set(err, "%s: negative label %lld", path, (long long)x);
    }
    ids[i] = (uint32_t)x;
  }
  *out = ids;
  return 0;
}
