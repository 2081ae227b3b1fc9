/* semmae labels end to end: stats, merge, relabel, filter on generated labels
 * and on the FIB-SEM crop's labels; bad input gives a clear message and
 * writes nothing. argv[1] = the semmae executable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../data/label_test_util.h"
#include "tap.h"
#include "volume.h"

static const char *semmae;
static char dir[4096];
static char out_text[65536], err_text[4096];

static void slurp(const char *path, char *buf, size_t n) {
  FILE *f = fopen(path, "r");
  size_t got = f ? fread(buf, 1, n - 1, f) : 0;
  buf[got] = '\0';
  if (f) fclose(f);
}

/* Runs "semmae labels ARGS"; returns the exit status. */
static int run(const char *args) {
  char cmd[16384];
  snprintf(cmd, sizeof cmd, "'%s' labels %s >'%s/stdout' 2>'%s/stderr'", semmae, args, dir, dir);
  int st = system(cmd);
  char path[4200];
  snprintf(path, sizeof path, "%s/stdout", dir);
  slurp(path, out_text, sizeof out_text);
  snprintf(path, sizeof path, "%s/stderr", dir);
  slurp(path, err_text, sizeof err_text);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *in_dir(const char *name) {
  static char bufs[8][4200];
  static int k;
  char *b = bufs[k++ % 8];
  snprintf(b, 4200, "%s/%s", dir, name);
  return b;
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static uint32_t *read_u32(const char *path, SmVolume *v) {
  SmError err;
  if (sm_volume_read(path, v, &err) != 0 || v->dtype != SM_U32) return NULL;
  return v->data;
}

/* 6 x 20 x 30: boxes 5 (big), 9, 100 (2 voxels) and 7 (1 voxel). */
static void write_generated(const char *path) {
  SmVolume v = {.dtype = SM_U32, .nz = 6, .ny = 20, .nx = 30, .voxel_size = {1, 1, 1}};
  uint32_t *d = calloc(6 * 20 * 30, sizeof *d);
  for (int z = 0; z < 6; z++)
    for (int y = 0; y < 20; y++)
      for (int x = 0; x < 30; x++) {
        uint32_t id = 0;
        if (y < 10 && x < 15) id = 5;
        else if (y >= 10 && x >= 15) id = 9;
        d[(z * 20 + y) * 30 + x] = id;
      }
  d[(0 * 20 + 15) * 30 + 2] = 100;
  d[(0 * 20 + 15) * 30 + 3] = 100;
  d[(5 * 20 + 2) * 30 + 25] = 7;
  v.data = d;
  SmError err;
  if (sm_volume_write(path, &v, &err) != 0) tap_diag("%s", err.message);
  free(d);
}

static void test_generated(void) {
  char *gen = in_dir("gen.tif");
  write_generated(gen);
  char args[8192];
  snprintf(args, sizeof args, "stats '%s'", gen);
  TAP_OK(run(args) == 0 && strstr(out_text, "segments:     4") && strstr(out_text, "max id:       100"),
         "stats on generated labels");
  TAP_OK(strstr(out_text, "5\t900\t0\t0\t0\t6\t10\t15"), "stats lists segment 5: 900 voxels and its box");
  snprintf(args, sizeof args, "stats '%s' --tsv --by id", gen);
  TAP_OK(run(args) == 0 && !strncmp(out_text, "id\tvoxels", 9) && strstr(out_text, "\n5\t") < strstr(out_text, "\n7\t"),
         "stats --tsv --by id");

  char *merged = in_dir("merged.tif");
  snprintf(args, sizeof args, "merge '%s' --ids 5,9 --ids 100,7 --out '%s'", gen, merged);
  TAP_OK(run(args) == 0, "merge two groups");
  SmVolume a = {0}, b = {0};
  uint32_t *in = read_u32(gen, &a), *m = read_u32(merged, &b);
  bool ok = in && m;
  for (size_t i = 0; ok && i < 6 * 20 * 30; i++) {
    uint32_t want = in[i] == 9 ? 5 : in[i] == 7 ? 100 : in[i];
    ok = m[i] == want;
  }
  TAP_OK(ok, "merged file: 9 -> 5 and 7 -> 100, all else unchanged");
  sm_volume_free(&b);

  char *relabelled = in_dir("relabel.tif");
  snprintf(args, sizeof args, "relabel '%s' --out '%s'", gen, relabelled);
  TAP_OK(run(args) == 0, "relabel");
  uint32_t *r = read_u32(relabelled, &b);
  ok = r != NULL;
  for (size_t i = 0; ok && i < 6 * 20 * 30; i++) {
    uint32_t want = in[i] == 5 ? 1 : in[i] == 7 ? 2 : in[i] == 9 ? 3 : in[i] == 100 ? 4 : 0;
    ok = r[i] == want;
  }
  TAP_OK(ok, "relabelled file: 5,7,9,100 -> 1,2,3,4");
  sm_volume_free(&b);

  char *filtered = in_dir("filter.tif");
  snprintf(args, sizeof args, "filter '%s' --min-size 3 --out '%s'", gen, filtered);
  TAP_OK(run(args) == 0 && strstr(err_text, "removed 2 segments"), "filter --min-size 3 removes 2 segments");
  uint32_t *f = read_u32(filtered, &b);
  ok = f != NULL;
  for (size_t i = 0; ok && i < 6 * 20 * 30; i++) ok = f[i] == ((in[i] == 7 || in[i] == 100) ? 0 : in[i]);
  TAP_OK(ok, "filtered file: the small segments are background");
  sm_volume_free(&b);
  sm_volume_free(&a);

  /* In place: OUT may be LABELS. */
  char *copy = in_dir("inplace.tif");
  write_generated(copy);
  snprintf(args, sizeof args, "merge '%s' --ids 9,5 --out '%s'", copy, copy);
  TAP_OK(run(args) == 0, "merge in place");
  snprintf(args, sizeof args, "stats '%s'", copy);
  TAP_OK(run(args) == 0 && strstr(out_text, "segments:     3"), "in-place result has 3 segments");
}

static void test_bad_input(void) {
  char args[8192];
  char *gen = in_dir("gen.tif");
  /* Float labels. */
  char *flt = in_dir("float.tif");
  SmVolume v = {.dtype = SM_F32, .nz = 2, .ny = 3, .nx = 4, .voxel_size = {1, 1, 1}};
  v.data = calloc(24, sizeof(float));
  SmError err;
  sm_volume_write(flt, &v, &err);
  free(v.data);
  char *out = in_dir("never.tif");
  snprintf(args, sizeof args, "relabel '%s' --out '%s'", flt, out);
  int rc = run(args);
  int lines = 0;
  for (const char *c = err_text; *c; c++) lines += *c == '\n';
  bool clear = strstr(err_text, "float.tif: labels must be integers, not float32") != NULL;
  err_text[strcspn(err_text, "\n")] = '\0';
  TAP_OK(rc == 1 && clear && lines == 1, "float labels: one clear line (%s)", err_text);
  TAP_OK(!exists(out), "and no output file");
  /* Shape differs from the image: an existing OUT stays as it was. */
  char *img = in_dir("image.tif");
  SmVolume im = {.dtype = SM_U8, .nz = 6, .ny = 20, .nx = 31, .voxel_size = {1, 1, 1}};
  im.data = calloc(6 * 20 * 31, 1);
  sm_volume_write(img, &im, &err);
  free(im.data);
  char *keep = in_dir("keep.tif");
  write_generated(keep);
  SmVolume before = {0};
  read_u32(keep, &before);
  snprintf(args, sizeof args, "merge '%s' --image '%s' --ids 5,9 --out '%s'", gen, img, keep);
  rc = run(args);
  clear = strstr(err_text, "label shape 6x20x30 differs from the image's 6x20x31") != NULL;
  err_text[strcspn(err_text, "\n")] = '\0';
  TAP_OK(rc == 1 && clear, "label shape differs from the image: %s", err_text);
  SmVolume after = {0};
  read_u32(keep, &after);
  TAP_OK(before.data && after.data && !memcmp(before.data, after.data, 6 * 20 * 30 * 4), "the existing OUT is untouched");
  sm_volume_free(&before);
  sm_volume_free(&after);
  snprintf(args, sizeof args, "merge '%s' --ids 5,12345 --out '%s'", gen, out);
  TAP_OK(run(args) == 1 && strstr(err_text, "no segment 12345") && !exists(out), "merging an absent id fails, nothing written");
  snprintf(args, sizeof args, "merge '%s' --ids 5 --out '%s'", gen, out);
  TAP_OK(run(args) == 2 && strstr(err_text, "two or more"), "--ids with one id is a usage error");
  snprintf(args, sizeof args, "relabel '%s'", gen);
  TAP_OK(run(args) == 2 && strstr(err_text, "needs --out"), "missing --out is a usage error");
  snprintf(args, sizeof args, "frobnicate '%s'", gen);
  TAP_OK(run(args) == 2 && strstr(err_text, "unknown command"), "unknown command");
  snprintf(args, sizeof args, "stats '%s'", in_dir("missing.tif"));
  TAP_OK(run(args) == 1 && strstr(err_text, "missing.tif"), "missing file names the file");
  TAP_OK(run("--help") == 0 && strstr(out_text, "usage: semmae labels"), "--help");
}

static void test_fibsem(void) {
  const char *em = tap_em_data();
  if (!em) {
    tap_diag("SKIP ../shared/em-data absent: no FIB-SEM checks");
    return;
  }
  char labels[4200], image[4200], args[16384];
  snprintf(labels, sizeof labels, "%s/fibsem-mini/train-labels.tif", em);
  snprintf(image, sizeof image, "%s/fibsem-mini/train-image.tif", em);
  snprintf(args, sizeof args, "stats '%s' --image '%s'", labels, image);
  TAP_OK(run(args) == 0 && strstr(out_text, "50 x 100 x 200") && strstr(out_text, "segments:     87"),
         "FIB-SEM train labels: 87 segments, shape matches the image");
  char *merged = in_dir("fib-merged.tif");
  snprintf(args, sizeof args, "merge '%s' --image '%s' --ids 6,28 --out '%s'", labels, image, merged);
  TAP_OK(run(args) == 0, "merge the two largest FIB-SEM segments");
  SmVolume a = {0}, b = {0};
  uint32_t *in = read_u32(labels, &a), *m = read_u32(merged, &b);
  bool ok = in && m;
  uint64_t moved = 0;
  for (size_t i = 0; ok && i < 1000000; i++) {
    ok = m[i] == (in[i] == 28 ? 6 : in[i]);
    moved += in[i] == 28;
  }
  TAP_OK(ok && moved == 88643, "every voxel of 28 (%llu) is now 6, nothing else changed", (unsigned long long)moved);
  sm_volume_free(&a);
  sm_volume_free(&b);
  char *filtered = in_dir("fib-filter.tif");
  snprintf(args, sizeof args, "filter '%s' --min-size 1000 --out '%s'", merged, filtered);
  TAP_OK(run(args) == 0, "filter small segments");
  char *relabelled = in_dir("fib-relabel.tif");
  snprintf(args, sizeof args, "relabel '%s' --out '%s'", filtered, relabelled);
  TAP_OK(run(args) == 0, "relabel");
  snprintf(args, sizeof args, "stats '%s' --top 0", filtered);
  run(args);
  char *p = strstr(out_text, "segments:");
  unsigned long n_filtered = p ? strtoul(p + 9, NULL, 10) : 0;
  snprintf(args, sizeof args, "stats '%s' --top 0", relabelled);
  run(args);
  char want[64];
  snprintf(want, sizeof want, "max id:       %lu\n", n_filtered);
  p = strstr(out_text, "segments:");
  TAP_OK(n_filtered > 10 && p && strtoul(p + 9, NULL, 10) == n_filtered && strstr(out_text, want),
         "relabelled: %lu segments numbered 1..%lu", n_filtered, n_filtered);
}

int main(int argc, char **argv) {
  if (argc < 2) return tap_skip_all("usage: labels_cli SEMMAE");
  semmae = argv[1];
  lt_tempdir(dir, sizeof dir, "labels-cli");
  if (!dir[0]) return tap_skip_all("no temporary directory");
  test_generated();
  test_bad_input();
  test_fibsem();
  lt_rmdir(dir);
  return tap_done();
}
