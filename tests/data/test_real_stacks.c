/* The real stacks in ../shared/em-data open with the right shapes, types,
 * voxel sizes and values; slice folders come in natural order; progress and
 * cancellation work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_test_util.h"
#include "tap.h"

static const char *em;

static char *em_path(const char *relative) {
  static char buf[8][4096];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, 4096, "%s/%s", em, relative);
  return p;
}

static size_t count_distinct(const SmVolume *v) {
  size_t n = sm_volume_voxels(v), distinct = 0;
  unsigned char *seen = calloc(1u << 24, 1);
  for (size_t i = 0; i < n; i++) {
    double x = sm_volume_value(v, i);
    if (x < 0 || x >= (1u << 24)) continue;
    unsigned k = (unsigned)x;
    if (!seen[k]) seen[k] = 1, distinct++;
  }
  free(seen);
  return distinct;
}

/* Reads path and checks shape and dtype; returns true with v filled. */
static bool open_stack(const char *relative, int64_t nz, int64_t ny, int64_t nx, SmDtype dtype,
                       SmVolume *v) {
  SmError err = {{0}};
  const char *path = em_path(relative);
  if (!TAP_OK(sm_volume_read(path, v, &err) == 0, "%s reads%s%s", relative,
              err.message[0] ? ": " : "", err.message))
    return false;
  bool ok = TAP_OK(v->nz == nz && v->ny == ny && v->nx == nx && v->dtype == dtype,
                   "%s is %lld x %lld x %lld %s", relative, (long long)v->nz, (long long)v->ny,
                   (long long)v->nx, sm_dtype_name(v->dtype));
  if (!ok) sm_volume_free(v);
  return ok;
}

static bool same_slice(const SmVolume *stack, int64_t z, const char *slice_relative) {
  SmVolume slice;
  SmError err;
  if (sm_volume_read(em_path(slice_relative), &slice, &err) != 0) return false;
  size_t bytes = (size_t)stack->ny * stack->nx * sm_dtype_size(stack->dtype);
  bool same = slice.nz == 1 && slice.ny == stack->ny && slice.nx == stack->nx &&
              memcmp((const uint8_t *)stack->data + z * bytes, slice.data, bytes) == 0;
  sm_volume_free(&slice);
  return same;
}

typedef struct ProgressLog {
  int calls;
  double last;
  bool increasing;
  volatile int cancel;
  int cancel_after;
} ProgressLog;

static void on_progress(double fraction, void *user) {
  ProgressLog *log = user;
  if (fraction < log->last) log->increasing = false;
  log->last = fraction;
  if (++log->calls == log->cancel_after) __atomic_store_n(&log->cancel, 1, __ATOMIC_RELAXED);
}

static void test_isbi(void) {
  SmVolume v;
  if (open_stack("isbi2012/image", 30, 512, 512, SM_U8, &v)) {
    TAP_OK(same_slice(&v, 2, "isbi2012/image/2.png") && same_slice(&v, 10, "isbi2012/image/10.png") &&
               same_slice(&v, 29, "isbi2012/image/29.png"),
           "isbi2012/image: slices in natural order (z=2 is 2.png, z=10 is 10.png)");
    double lo, hi;
    sm_volume_range(&v, &lo, &hi);
    TAP_OK(lo >= 0 && hi <= 255 && hi > lo, "isbi2012/image range %g .. %g", lo, hi);
    sm_volume_free(&v);
  }
  if (open_stack("isbi2012/image/*.png", 30, 512, 512, SM_U8, &v)) {
    TAP_OK(same_slice(&v, 10, "isbi2012/image/10.png"), "glob: natural order too");
    sm_volume_free(&v);
  }
  if (open_stack("isbi2012/label", 30, 512, 512, SM_U8, &v)) {
    TAP_OK(count_distinct(&v) == 2, "isbi2012/label is binary (0 and 255)");
    sm_volume_free(&v);
  }
}

static void test_vnc(void) {
  SmVolume v;
  SmSourceInfo info;
  SmError err = {{0}};
  int rc = sm_volume_probe_ex(em_path("vnc-stack1/raw"), &v, &info, &err);
  TAP_OK(rc == 0 && v.data == NULL && v.nz == 10 && v.ny == 1024 && v.nx == 1024 &&
             v.dtype == SM_U8,
         "vnc-stack1/raw probes as 10 x 1024 x 1024 uint8 without pixels %s", err.message);
  TAP_OK(rc == 0 && info.kind == SM_SOURCE_SLICE_FOLDER && info.files == 10 && info.big_endian &&
             strcmp(info.format, "TIFF") == 0 && info.file_bytes > 10 * 1024 * 1024,
         "vnc-stack1/raw: folder of 10 big-endian TIFFs, %lld bytes", (long long)info.file_bytes);

  ProgressLog log = {.increasing = true};
  SmReadOptions opts = {.progress = on_progress, .user = &log};
  rc = sm_volume_read_ex(em_path("vnc-stack1/raw"), &opts, &v, &err);
  if (TAP_OK(rc == 0 && v.nz == 10 && v.ny == 1024 && v.nx == 1024 && v.dtype == SM_U8,
             "vnc-stack1/raw reads as 10 x 1024 x 1024 uint8")) {
    /* ImageJ wrote these without calibration: the file says nothing. */
    TAP_OK(v.voxel_size[0] == 1 && v.voxel_size[1] == 1 && v.voxel_size[2] == 1 && !v.unit[0],
           "vnc-stack1/raw voxel size 1 x 1 x 1 (uncalibrated ImageJ files)");
    TAP_OK(same_slice(&v, 9, "vnc-stack1/raw/09.tif"), "vnc-stack1/raw z=9 is 09.tif");
    sm_volume_free(&v);
  }
  TAP_OK(log.calls >= 10 && log.increasing && log.last == 1.0,
         "progress: %d calls, increasing, ends at 1", log.calls);

  ProgressLog stop = {.increasing = true, .cancel_after = 3};
  opts = (SmReadOptions){.progress = on_progress, .user = &stop, .cancel = &stop.cancel};
  rc = sm_volume_read_ex(em_path("vnc-stack1/raw"), &opts, &v, &err);
  TAP_OK(rc != 0 && v.data == NULL && strstr(err.message, "cancelled") &&
             test_is_clean_error(err.message, em_path("vnc-stack1/raw")),
         "cancel stops the read: %s", err.message);

  if (open_stack("vnc-stack1/membranes", 10, 1024, 1024, SM_U8, &v)) {
    double lo, hi;
    sm_volume_range(&v, &lo, &hi);
    TAP_OK(count_distinct(&v) == 2 && lo == 0 && hi == 255, "1-bit membranes expand to 0/255");
    sm_volume_free(&v);
  }
  if (open_stack("vnc-stack1/labels", 10, 1024, 1024, SM_U8, &v)) {
    TAP_OK(count_distinct(&v) == 9, "vnc-stack1/labels: 9 classes");
    sm_volume_free(&v);
  }
  if (open_stack("vnc-stack1/mitochondria", 10, 1024, 1024, SM_U8, &v)) sm_volume_free(&v);
}

static void test_fibsem_snemi(void) {
  SmVolume v;
  if (open_stack("fibsem-mini/train-image.tif", 50, 100, 200, SM_U8, &v)) sm_volume_free(&v);
  if (open_stack("fibsem-mini/test-image.tif", 50, 100, 200, SM_U8, &v)) sm_volume_free(&v);
  if (open_stack("fibsem-mini/train-labels.tif", 50, 100, 200, SM_U32, &v)) {
    TAP_OK(count_distinct(&v) == 88, "fibsem train labels: 88 ids (with 0)");
    sm_volume_free(&v);
  }
  if (open_stack("fibsem-mini/test-labels.tif", 50, 100, 200, SM_U32, &v)) {
    TAP_OK(count_distinct(&v) == 133, "fibsem test labels: 133 ids (with 0)");
    sm_volume_free(&v);
  }
  if (open_stack("snemi-mini/train-labels.tif", 32, 160, 160, SM_U8, &v)) sm_volume_free(&v);
  if (open_stack("snemi-mini/train-fragments.tif", 32, 160, 160, SM_U16, &v)) {
    TAP_OK(count_distinct(&v) > 1000, "snemi fragments: many ids");
    sm_volume_free(&v);
  }
  if (open_stack("snemi-mini/train-probabilities.tif", 32, 160, 160, SM_U8, &v)) sm_volume_free(&v);
}

int main(void) {
  em = tap_em_data();
  if (!em) return tap_skip_all("../shared/em-data is absent");
  test_isbi();
  test_vnc();
  test_fibsem_snemi();
  return tap_done();
}
