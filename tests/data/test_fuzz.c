/* Fuzz-style robustness: real files truncated at many lengths and corrupted
 * byte by byte must each give a clean one-line error or a valid volume,
 * never a crash. Built with AddressSanitizer and UBSan (tests/data/meson.build
 * compiles the data sources into this executable with those flags), so a
 * read out of bounds or undefined behaviour fails the test. The mutation
 * count is bounded so that the test runs in seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_test_util.h"
#include "tap.h"

/* Huge allocations requested by corrupted headers must fail like malloc
 * does, not abort the sanitizer. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
  return "allocator_may_return_null=1:detect_leaks=1:quarantine_size_mb=16";
}

enum { MAX_MUTATIONS_PER_FILE = 2500 };

static char *dir;
static int bad_results;

static void ignore_warning(const char *message, void *user) {
  (void)message, (void)user; /* "255 samples per pixel" and such: expected here */
}

/* Reads path once; counts and describes results that break the contract. */
static void check_once(const char *path, const char *what) {
  SmVolume v;
  SmError err = {{0}};
  int rc = sm_volume_read(path, &v, &err);
  if (rc == 0) {
    bool sane = v.data && v.nz > 0 && v.ny > 0 && v.nx > 0;
    sm_volume_free(&v);
    if (sane) return;
    snprintf(err.message, sizeof err.message, "success without a volume");
  } else if (test_is_clean_error(err.message, path)) {
    return;
  }
  if (bad_results++ < 5) tap_diag("%s: %s", what, err.message);
}

/* A new file each time: rewriting one in place makes ext4 flush it to disk
 * on close (its guard for truncate-and-rewrite), which is slow. */
static void put_file(const char *path, const void *data, size_t size) {
  unlink(path);
  test_write_file(path, data, size);
}

static void mutate_file(const char *name, const unsigned char *data, size_t size) {
  char path[4200], what[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  unsigned char *copy = malloc(size);
  int before = bad_results, runs = 0;

  /* Truncations: every length for small files, evenly spaced for others. */
  size_t step = size / 400 + 1;
  for (size_t n = 0; n < size; n += step, runs++) {
    put_file(path, data, n);
    snprintf(what, sizeof what, "%s truncated to %zu", name, n);
    check_once(path, what);
  }
  TAP_OK(bad_results == before, "%s: %d truncations end cleanly", name, runs);

  /* Corruptions: the header and the end of the file (where writers often
   * put the directories) byte by byte, the rest sparsely. */
  static const int flips[] = {0x00, 0xff, 0x01, 0x80};
  before = bad_results;
  runs = 0;
  size_t head = size < 600 ? size : 600;
  for (size_t i = 0; i < size && runs < MAX_MUTATIONS_PER_FILE; i++) {
    bool dense = i < head || i + 400 >= size;
    if (!dense && i % 61 != 0) continue;
    for (int k = 0; k < 4 && runs < MAX_MUTATIONS_PER_FILE; k++, runs++) {
      memcpy(copy, data, size);
      copy[i] = (unsigned char)(k < 2 ? flips[k] : data[i] ^ flips[k]);
      put_file(path, copy, size);
      snprintf(what, sizeof what, "%s byte %zu set to 0x%02x", name, i, copy[i]);
      check_once(path, what);
    }
  }
  TAP_OK(bad_results == before, "%s: %d corruptions end cleanly", name, runs);
  free(copy);
  unlink(path);
}

static void fuzz_em_file(const char *em, const char *relative, const char *name) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", em, relative);
  size_t size = 0;
  unsigned char *data = test_read_file(path, &size);
  if (!TAP_OK(data != NULL, "read %s", relative)) return;
  mutate_file(name, data, size);
  free(data);
}

/* A file of our own writer: multi-page BigTIFF, deflate + predictor. */
static void fuzz_own_file(void) {
  SmVolume v;
  SmError err;
  if (sm_volume_alloc(&v, SM_U16, 3, 9, 11, &err) != 0) return;
  for (size_t i = 0; i < sm_volume_voxels(&v); i++) ((uint16_t *)v.data)[i] = (uint16_t)(i * 977);
  char path[4200];
  snprintf(path, sizeof path, "%s/own.tif", dir);
  SmWriteOptions opts = {.force_bigtiff = true};
  int rc = sm_volume_write_ex(path, &v, &opts, &err);
  sm_volume_free(&v);
  if (!TAP_OK(rc == 0, "write own BigTIFF")) return;
  size_t size = 0;
  unsigned char *data = test_read_file(path, &size);
  mutate_file("own-bigtiff.tif", data, size);
  free(data);
}

int main(void) {
  /* Corrupted headers claim huge volumes: keep each read small. */
  setenv("SEMMAE_MAX_VOLUME_BYTES", "1048576", 1);
  sm_set_warning_handler(ignore_warning, NULL);
  dir = test_temp_dir("fuzz");
  fuzz_own_file();
  const char *em = tap_em_data();
  if (em) {
    fuzz_em_file(em, "tiff-cases/seq/seq-1c-8b-tiled-lzw-20f3db0c.tiff", "tiled-lzw.tif");
    fuzz_em_file(em, "tiff-cases/seq/seq-1c-32f-deflate-fpredict-390fe673.tiff", "f32-fpredict.tif");
    fuzz_em_file(em, "tiff-cases/seq/seq-1c-8b-multipage-adeefdcc.tiff", "multipage.tif");
    fuzz_em_file(em, "tiff-cases/seq/seq-3c-16b-bigtiff-1b40ca6e.tiff", "rgb16-bigtiff.tif");
    fuzz_em_file(em, "tiff-cases/bigtiff/BigTIFFMotorola.tif", "bigtiff-motorola.tif");
    fuzz_em_file(em, "tiff-cases/12bit.cropped.tiff", "12bit.tif");
    /* Not the zstd case: corrupted frames make libzstd allocate windows of
     * up to 128 MiB, which AddressSanitizer poisons page by page (minutes of
     * system time for nothing of ours). */
    fuzz_em_file(em, "tiff-cases/issue_69_lzw.tiff", "lzw16.tif");
    fuzz_em_file(em, "tiff-cases/issue_69_packbits.tiff", "packbits.tif");
    fuzz_em_file(em, "isbi2012/label/0.png", "label.png");
  } else {
    tap_diag("../shared/em-data is absent: fuzzing our own file only");
  }
  test_remove_dir(dir);
  free(dir);
  return tap_done();
}
