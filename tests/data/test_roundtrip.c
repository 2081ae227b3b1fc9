/* Write/read round trips for every dtype (values, shape, voxel size, unit),
 * BigTIFF on request, the all-or-nothing write, clean allocation failures,
 * value range and input scaling. */
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "data_test_util.h"
#include "volume_io.h"
#include "tap.h"

static char *dir;

static char *temp_path(const char *name) {
  static char buf[4][4096];
  static int next;
  char *p = buf[next++ % 4];
  snprintf(p, 4096, "%s/%s", dir, name);
  return p;
}

/* A volume whose values reach both ends of the dtype's range. */
static void fill_pattern(SmVolume *v) {
  size_t n = sm_volume_voxels(v);
  for (size_t i = 0; i < n; i++) {
    uint32_t h = (uint32_t)(i * 2654435761u);
    switch (v->dtype) {
    case SM_U8: ((uint8_t *)v->data)[i] = (uint8_t)(i % 3 == 0 ? i : h >> 24); break;
    case SM_I8: ((int8_t *)v->data)[i] = (int8_t)(h >> 24); break;
    case SM_U16: ((uint16_t *)v->data)[i] = (uint16_t)(h >> 16); break;
    case SM_I16: ((int16_t *)v->data)[i] = (int16_t)(h >> 16); break;
    case SM_U32: ((uint32_t *)v->data)[i] = i % 2 ? h : (uint32_t)(i / 7); break;
    case SM_I32: ((int32_t *)v->data)[i] = (int32_t)h; break;
    case SM_F32: ((float *)v->data)[i] = (float)((double)(int32_t)h * 1e-7); break;
    default: break;
    }
  }
  size_t size = sm_dtype_size(v->dtype);
  memset(v->data, 0xff, size);                           /* max (or -1 / NaN) */
  memset((uint8_t *)v->data + size, 0x00, size);         /* zero */
  if (v->dtype == SM_F32) ((float *)v->data)[0] = -FLT_MAX;
}

static bool near(double a, double b) {
  return fabs(a - b) <= 1e-6 * fmax(fabs(a), fabs(b));
}

static void test_dtype(SmDtype t) {
  SmVolume v, back;
  SmError err = {{0}};
  if (!TAP_OK(sm_volume_alloc(&v, t, 5, 37, 53, &err) == 0, "alloc %s", sm_dtype_name(t))) return;
  fill_pattern(&v);
  v.voxel_size[0] = 50;
  v.voxel_size[1] = 4.6;
  v.voxel_size[2] = 4.5;
  snprintf(v.unit, sizeof v.unit, "nm");
  char name[64];
  snprintf(name, sizeof name, "rt-%s.tif", sm_dtype_name(t));
  const char *path = temp_path(name);
  int rc = sm_volume_write(path, &v, &err);
  TAP_OK(rc == 0, "write %s%s%s", sm_dtype_name(t), rc ? ": " : "", rc ? err.message : "");
  rc = rc ? rc : sm_volume_read(path, &back, &err);
  if (TAP_OK(rc == 0, "read back %s %s", sm_dtype_name(t), rc ? err.message : "")) {
    TAP_OK(back.dtype == t && back.nz == 5 && back.ny == 37 && back.nx == 53 &&
               back.bits_per_sample == (int)(8 * sm_dtype_size(t)),
           "%s: dtype and shape survive", sm_dtype_name(t));
    TAP_OK(memcmp(v.data, back.data, sm_volume_bytes(&v)) == 0, "%s: every value survives",
           sm_dtype_name(t));
    TAP_OK(near(back.voxel_size[0], 50) && near(back.voxel_size[1], 4.6) &&
               near(back.voxel_size[2], 4.5) && strcmp(back.unit, "nm") == 0,
           "%s: voxel size %g x %g x %g %s", sm_dtype_name(t), back.voxel_size[0],
           back.voxel_size[1], back.voxel_size[2], back.unit);
    sm_volume_free(&back);
  }
  sm_volume_free(&v);
}

typedef struct ProgressLog {
  int calls;
  double last;
  bool increasing;
} ProgressLog;

static void on_progress(double fraction, void *user) {
  ProgressLog *log = user;
  if (fraction < log->last || fraction > 1.0) log->increasing = false;
  log->last = fraction;
  log->calls++;
}

static void test_bigtiff_and_strips(void) {
  SmVolume v, back;
  SmSourceInfo info;
  SmError err = {{0}};
  sm_volume_alloc(&v, SM_U16, 2, 1000, 700, &err); /* several strips per page */
  fill_pattern(&v);
  v.voxel_size[0] = 0.05;
  v.voxel_size[1] = v.voxel_size[2] = 0.004;
  snprintf(v.unit, sizeof v.unit, "um");

  const char *classic = temp_path("classic.tif");
  TAP_OK(sm_volume_write(classic, &v, &err) == 0 && sm_volume_probe_ex(classic, &back, &info, &err) == 0 &&
             !info.bigtiff && strcmp(info.compression, "deflate") == 0,
         "small volumes are classic TIFF, deflate");
  TAP_OK(back.voxel_size[0] == 0.05 && near(back.voxel_size[1], 0.004) && strcmp(back.unit, "um") == 0,
         "um written as ImageJ 'micron' reads back as um");

  const char *forced = temp_path("forced.tif");
  SmWriteOptions opts = {.force_bigtiff = true, .deflate_level = 1};
  int rc = sm_volume_write_ex(forced, &v, &opts, &err);
  rc = rc ? rc : sm_volume_probe_ex(forced, &back, &info, &err);
  TAP_OK(rc == 0 && info.bigtiff && strcmp(info.format, "BigTIFF") == 0, "force_bigtiff writes BigTIFF");
  rc = rc ? rc : sm_volume_read(forced, &back, &err);
  if (TAP_OK(rc == 0, "BigTIFF reads back %s", rc ? err.message : "")) {
    TAP_OK(back.nz == 2 && memcmp(back.data, v.data, sm_volume_bytes(&v)) == 0,
           "BigTIFF round trip is exact");
    sm_volume_free(&back);
  }

  /* Progress per page, whether pages are decoded on one thread or several. */
  ProgressLog log = {.increasing = true};
  SmReadOptions read_opts = {.progress = on_progress, .user = &log};
  rc = sm_volume_read_ex(forced, &read_opts, &back, &err);
  TAP_OK(rc == 0 && log.calls >= 2 && log.increasing && log.last == 1.0,
         "progress over pages: %d calls, increasing, ends at 1", log.calls);
  if (rc == 0) sm_volume_free(&back);

  /* One big page: progress also moves inside it (several strips). */
  SmVolume one_page = v;
  one_page.nz = 1;
  const char *single = temp_path("one-page.tif");
  log = (ProgressLog){.increasing = true};
  rc = sm_volume_write(single, &one_page, &err);
  rc = rc ? rc : sm_volume_read_ex(single, &read_opts, &back, &err);
  TAP_OK(rc == 0 && log.calls > 2 && log.increasing && log.last == 1.0,
         "progress within a page: %d calls, increasing, ends at 1", log.calls);
  if (rc == 0) sm_volume_free(&back);

  /* Pages decoded on 1 and on 4 threads give the same volume. */
  SmVolume serial;
  setenv("SEMMAE_READ_THREADS", "1", 1);
  int rc1 = sm_volume_read(forced, &serial, &err);
  setenv("SEMMAE_READ_THREADS", "4", 1);
  rc = sm_volume_read(forced, &back, &err);
  unsetenv("SEMMAE_READ_THREADS");
  TAP_OK(rc1 == 0 && rc == 0 && memcmp(serial.data, back.data, sm_volume_bytes(&serial)) == 0 &&
             memcmp(serial.data, v.data, sm_volume_bytes(&v)) == 0,
         "pages on 1 and 4 threads give the same volume");
  if (rc1 == 0) sm_volume_free(&serial);
  if (rc == 0) sm_volume_free(&back);

  SmVolume shape = {.dtype = SM_U8, .nz = 4000, .ny = 1024, .nx = 1024};
  bool small = sm_tiff_needs_bigtiff(&shape);
  shape.nz = 4200; /* 4.1 GiB */
  bool big = sm_tiff_needs_bigtiff(&shape);
  shape.dtype = SM_U16;
  shape.nz = 2100;
  TAP_OK(!small && big && sm_tiff_needs_bigtiff(&shape),
         "BigTIFF is chosen past 4 GiB (3.9 GiB classic, 4.1 GiB BigTIFF)");

  /* Write progress, and a cancelled write leaves nothing. */
  ProgressLog wlog = {.increasing = true};
  SmWriteOptions wopts = {.progress = on_progress, .user = &wlog};
  const char *with_progress = temp_path("progress.tif");
  rc = sm_volume_write_ex(with_progress, &v, &wopts, &err);
  TAP_OK(rc == 0 && wlog.calls == 2 && wlog.last == 1.0, "write progress: one call per page");
  volatile int stop = 1;
  wopts.cancel = &stop;
  const char *cancelled = temp_path("cancelled.tif");
  rc = sm_volume_write_ex(cancelled, &v, &wopts, &err);
  TAP_OK(rc != 0 && strstr(err.message, "cancelled") && !test_exists(cancelled),
         "cancelled write leaves nothing: %s", err.message);

  setenv("SEMMAE_FORCE_BIGTIFF", "1", 1);
  const char *by_env = temp_path("env.tif");
  rc = sm_volume_write(by_env, &v, &err);
  unsetenv("SEMMAE_FORCE_BIGTIFF");
  rc = rc ? rc : sm_volume_probe_ex(by_env, &back, &info, &err);
  TAP_OK(rc == 0 && info.bigtiff, "SEMMAE_FORCE_BIGTIFF=1 writes BigTIFF");
  sm_volume_free(&v);
}

static bool only_entry_is(const char *name) {
  DIR *d = opendir(dir);
  int others = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, name)) others++;
  closedir(d);
  return others == 0;
}

static void test_atomic_write(void) {
  test_remove_dir(dir);
  mkdir(dir, 0700);
  SmVolume v;
  SmError err = {{0}};
  sm_volume_alloc(&v, SM_F32, 4, 256, 256, &err);
  fill_pattern(&v); /* noise: deflate cannot shrink it much */
  const char *target = temp_path("keep.tif");
  test_write_file(target, "old", 3);

  /* A file-size limit makes the write fail half-way, as a full disk would. */
  struct rlimit old_limit, limit;
  getrlimit(RLIMIT_FSIZE, &old_limit);
  limit = old_limit;
  limit.rlim_cur = 64 * 1024;
  signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &limit);
  int rc = sm_volume_write(target, &v, &err);
  setrlimit(RLIMIT_FSIZE, &old_limit);
  TAP_OK(rc != 0 && test_is_clean_error(err.message, target), "failed write reports: %s",
         err.message);
  size_t size = 0;
  unsigned char *content = test_read_file(target, &size);
  TAP_OK(content && size == 3 && memcmp(content, "old", 3) == 0,
         "failed write leaves the old file untouched");
  free(content);
  TAP_OK(only_entry_is("keep.tif"), "failed write leaves no temporary file");

  const char *missing_dir = temp_path("no/such/dir/out.tif");
  TAP_OK(sm_volume_write(missing_dir, &v, &err) != 0 &&
             test_is_clean_error(err.message, missing_dir),
         "write into a missing folder: %s", err.message);
  TAP_OK(sm_volume_write(dir, &v, &err) != 0 && test_is_clean_error(err.message, dir),
         "write onto a folder: %s", err.message);
  SmVolume empty = {0};
  TAP_OK(sm_volume_write(temp_path("empty.tif"), &empty, &err) != 0 && !test_exists(temp_path("empty.tif")),
         "empty volume is refused: %s", err.message);
  sm_volume_free(&v);
}

static void test_alloc_limits(void) {
  SmVolume v;
  SmError err = {{0}};
  int rc = sm_volume_alloc(&v, SM_U32, 1 << 20, 1 << 20, 1 << 20, &err);
  TAP_OK(rc != 0 && v.data == NULL && err.message[0], "4 EiB volume fails cleanly: %s", err.message);
  rc = sm_volume_alloc(&v, SM_U8, INT64_MAX, INT64_MAX, 2, &err);
  TAP_OK(rc != 0 && v.data == NULL, "overflowing shape fails cleanly: %s", err.message);
  rc = sm_volume_alloc(&v, SM_U8, 1, 1 << 20, 1 << 20, &err); /* 1 TiB > this machine */
  TAP_OK(rc != 0 && v.data == NULL && strstr(err.message, "memory"),
         "volume larger than memory fails cleanly: %s", err.message);
  rc = sm_volume_alloc(&v, SM_U8, 0, 10, 10, &err);
  TAP_OK(rc != 0, "empty shape is refused: %s", err.message);
  setenv("SEMMAE_MAX_VOLUME_BYTES", "1000", 1);
  rc = sm_volume_alloc(&v, SM_U8, 1, 100, 100, &err);
  unsetenv("SEMMAE_MAX_VOLUME_BYTES");
  TAP_OK(rc != 0, "SEMMAE_MAX_VOLUME_BYTES caps allocations: %s", err.message);
  rc = sm_volume_alloc(&v, SM_I16, 2, 3, 4, &err);
  bool zero = rc == 0;
  for (size_t i = 0; zero && i < sm_volume_voxels(&v); i++) zero = ((int16_t *)v.data)[i] == 0;
  TAP_OK(zero && sm_volume_bytes(&v) == 48 && v.voxel_size[0] == 1, "small alloc is zeroed");
  sm_volume_free(&v);
}

static void test_range_and_scaling(void) {
  SmVolume v;
  SmError err = {{0}};
  double lo, hi;
  sm_volume_alloc(&v, SM_U8, 1, 2, 2, &err);
  uint8_t *b = v.data;
  b[0] = 0, b[1] = 255, b[2] = 10, b[3] = 128;
  float f[4];
  sm_volume_to_float(&v, f, &lo, &hi);
  TAP_OK(lo == 0 && hi == 255 && f[0] == -1.0f && f[1] == 1.0f && fabsf(f[2] - (10 / 127.5f - 1)) < 1e-6f,
         "uint8 scales x/127.5 - 1");
  sm_volume_range(&v, &lo, &hi);
  TAP_OK(lo == 0 && hi == 255, "uint8 range");
  sm_volume_free(&v);

  sm_volume_alloc(&v, SM_U16, 10, 100, 100, &err);
  uint16_t *w = v.data;
  for (size_t i = 0; i < sm_volume_voxels(&v); i++) w[i] = (uint16_t)(i % 10000);
  w[5] = 65535; /* one outlier must not move the percentiles */
  double lo2, hi2;
  sm_volume_scaling(&v, &lo, &hi);
  sm_volume_scaling(&v, &lo2, &hi2);
  TAP_OK(fabs(lo - 50) < 30 && fabs(hi - 9950) < 30, "uint16 percentiles %g .. %g", lo, hi);
  TAP_OK(lo == lo2 && hi == hi2, "scaling is deterministic");
  float *out = malloc(sm_volume_voxels(&v) * sizeof *out);
  sm_volume_to_float(&v, out, &lo2, &hi2);
  double expect = (9950.0 - lo) / (hi - lo) * 2 - 1;
  TAP_OK(lo2 == lo && fabs(out[9950] - expect) < 1e-5, "to_float maps with the same scaling");
  free(out);
  sm_volume_range(&v, &lo, &hi);
  TAP_OK(lo == 0 && hi == 65535, "uint16 range 0 .. 65535");
  sm_volume_free(&v);

  sm_volume_alloc(&v, SM_F32, 1, 1, 4, &err);
  float *p = v.data;
  p[0] = NAN, p[1] = -2.5f, p[2] = 7.0f, p[3] = NAN;
  sm_volume_range(&v, &lo, &hi);
  TAP_OK(lo == -2.5 && hi == 7.0, "float range skips NaN");
  float mapped[4];
  sm_volume_to_float(&v, mapped, &lo, &hi);
  TAP_OK(mapped[0] == 0.0f && mapped[3] == 0.0f && isfinite(mapped[1]) && mapped[1] < mapped[2],
         "NaN maps to 0, finite values keep their order");
  p[0] = p[1] = p[2] = p[3] = 3.0f;
  sm_volume_scaling(&v, &lo, &hi);
  TAP_OK(lo == 3.0 && hi == 4.0, "constant volume still gets a slope");
  sm_volume_free(&v);
}

static void test_bad_paths(void) {
  SmVolume v;
  SmError err = {{0}};
  const char *missing = temp_path("missing.tif");
  TAP_OK(sm_volume_read(missing, &v, &err) != 0 && test_is_clean_error(err.message, missing) &&
             strstr(err.message, "No such file"),
         "missing file: %s", err.message);
  const char *empty = temp_path("empty.tif");
  test_write_file(empty, "", 0);
  TAP_OK(sm_volume_read(empty, &v, &err) != 0 && test_is_clean_error(err.message, empty),
         "empty file: %s", err.message);
  const char *text = temp_path("notes.tif");
  test_write_file(text, "hello, world\n", 13);
  TAP_OK(sm_volume_probe(text, &v, &err) != 0 && test_is_clean_error(err.message, text) &&
             strstr(err.message, "not a TIFF"),
         "text file: %s", err.message);
  char *empty_dir = test_temp_dir("empty");
  TAP_OK(sm_volume_read(empty_dir, &v, &err) != 0 && test_is_clean_error(err.message, empty_dir) &&
             strstr(err.message, "no TIFF or PNG slices"),
         "empty folder: %s", err.message);
  test_remove_dir(empty_dir);
  free(empty_dir);
  const char *pattern = temp_path("nothing-*.png");
  TAP_OK(sm_volume_read(pattern, &v, &err) != 0 && test_is_clean_error(err.message, pattern),
         "glob matching nothing: %s", err.message);
}

int main(void) {
  dir = test_temp_dir("roundtrip");
  for (SmDtype t = 0; t < SM_DTYPE_COUNT; t++) test_dtype(t);
  test_bigtiff_and_strips();
  test_range_and_scaling();
  test_alloc_limits();
  test_bad_paths();
  test_atomic_write();
  test_remove_dir(dir);
  free(dir);
  return tap_done();
}
