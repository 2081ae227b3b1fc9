/* The semmae command line end to end: --help of every subcommand, unknown
 * commands and options, `semmae phantom` and `semmae info`, and the issue's
 * bad inputs through the CLI (missing file, folder without slices, truncated
 * and corrupt TIFFs, mixed slice sizes, unsupported types, unwritable
 * outputs, a phantom larger than memory): each gives one line on stderr
 * naming the file, a non-zero exit, and no partial output.
 * usage: cli_test SEMMAE */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tiffio.h>

#include "phantom.h"
#include "slurp.h"
#include "tap.h"
#include "volume.h"

static const char *semmae;
static char dir[64];
static char *out_text, *err_text; /* stdout and stderr of the last run */

static const char *in_dir(const char *name) {
  static char buf[8][512];
  static int next;
  char *b = buf[next++ % 8];
  snprintf(b, sizeof buf[0], "%s/%s", dir, name);
  return b;
}

/* Runs semmae with the given arguments (NULL-terminated) in the temporary
 * directory, without a shell; returns the exit status. */
static int run(const char *first, ...) {
  const char *argv[32];
  int argc = 0;
  argv[argc++] = semmae;
  va_list ap;
  va_start(ap, first);
  for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *)) argv[argc++] = a;
  va_end(ap);
  argv[argc] = NULL;
  const char *out_path = in_dir(".stdout"), *err_path = in_dir(".stderr");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0 || chdir(dir) != 0) _exit(127);
    dup2(o, 1);
    dup2(e, 2);
    execv(semmae, (char *const *)argv);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  free(out_text);
  free(err_text);
  out_text = slurp(out_path, NULL);
  err_text = slurp(err_path, NULL);
  unlink(out_path);
  unlink(err_path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* stderr of the last run is exactly one line and contains needle. */
static int one_line_error(const char *needle) {
  const char *e = err_text ? err_text : "";
  int lines = 0;
  for (const char *c = e; *c; c++) lines += *c == '\n';
  int ok = lines == 1 && strstr(e, needle) != NULL;
  if (!ok) tap_diag("stderr was: %s", e);
  return ok;
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Files in the temporary directory whose name contains `part`. */
static int count_entries(const char *sub, const char *part) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, sub);
  DIR *d = opendir(path);
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strstr(e->d_name, part)) n++;
  closedir(d);
  return n;
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (f) {
    fwrite(data, 1, n, f);
    fclose(f);
  }
}

static void test_help(void) {
  TAP_OK(run("--help", NULL) == 0 && strstr(out_text, "usage: semmae"), "semmae --help exits 0");
  TAP_OK(run("--version", NULL) == 0 && strstr(out_text, "semmae "), "semmae --version exits 0");
  const char *commands[] = {"info", "phantom", "pretrain", "reconstruct", "finetune",
                            "segment", "eval", "bench", "labels"};
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    char want[64];
    snprintf(want, sizeof want, "usage: semmae %s", commands[i]);
    int rc = run(commands[i], "--help", NULL);
    TAP_OK(rc == 0 && strstr(out_text, want), "semmae %s --help exits 0 and shows its usage",
           commands[i]);
    rc = run("help", commands[i], NULL);
    TAP_OK(rc == 0 && strstr(out_text, want), "semmae help %s", commands[i]);
  }
  TAP_OK(run("frobnicate", NULL) != 0 && one_line_error("frobnicate"),
         "unknown command: non-zero exit, one line naming it");
  TAP_OK(run("phantom", "p.tif", "--bogus", NULL) != 0 && one_line_error("--bogus"),
         "phantom --bogus: non-zero exit, one line naming the option");
  TAP_OK(run("info", "--bogus", "x.tif", NULL) != 0 && one_line_error("--bogus"),
         "info --bogus: non-zero exit, one line naming the option");
  TAP_OK(run("phantom", NULL) != 0 && one_line_error("OUT"), "phantom without OUT: one line");
  TAP_OK(run("info", NULL) != 0 && one_line_error("VOLUME"), "info without VOLUME: one line");
  TAP_OK(run("phantom", "p.tif", "--shape", "0,4,4", NULL) != 0 && one_line_error("--shape"),
         "phantom --shape 0,4,4: one line");
  TAP_OK(run("phantom", "p.tif", "--shape", "4,4", NULL) != 0 && one_line_error("--shape"),
         "phantom --shape 4,4: one line");
  TAP_OK(run("phantom", "p.tif", "--seed", "-3", NULL) != 0 && one_line_error("--seed"),
         "phantom --seed -3: one line");
  TAP_OK(run("phantom", "p.tif", "--anisotropy", "abc", NULL) != 0 &&
             one_line_error("--anisotropy"),
         "phantom --anisotropy abc: one line");
  TAP_OK(run("phantom", "p.tif", "--noise", NULL) != 0 && one_line_error("--noise"),
         "phantom --noise without a value: one line");
  TAP_OK(run("phantom", "p.tif", "q.tif", NULL) != 0 && one_line_error("q.tif"),
         "phantom with two outputs: one line");
  TAP_OK(!exists(in_dir("p.tif")) && !exists(in_dir("q.tif")), "usage errors write nothing");
}

static int same_data(const SmVolume *a, const SmVolume *b) {
  return a->dtype == b->dtype && a->nz == b->nz && a->ny == b->ny && a->nx == b->nx &&
         memcmp(a->data, b->data, sm_volume_bytes(a)) == 0;
}

static void test_phantom_and_info(void) {
  int rc = run("phantom", "p.tif", "--labels", "l.tif", "--mito", "m.tif", "--shape", "12,64,80",
               "--seed", "5", "--anisotropy", "5", "--noise", "0.5", NULL);
  TAP_OK(rc == 0, "semmae phantom p.tif --labels --mito --shape 12,64,80 ... exits 0");
  if (rc != 0) tap_diag("stderr: %s", err_text);
  SmVolume img = {0}, lab = {0}, mito = {0};
  SmError err;
  int ok = sm_volume_read(in_dir("p.tif"), &img, &err) == 0;
  TAP_OK(ok && img.dtype == SM_U8 && img.nz == 12 && img.ny == 64 && img.nx == 80,
         "p.tif reads back as 12 x 64 x 80 uint8");
  TAP_OK(ok && img.voxel_size[0] > 19.9 && img.voxel_size[0] < 20.1 && img.voxel_size[2] > 3.9 &&
             img.voxel_size[2] < 4.1,
         "p.tif has 20 x 4 x 4 nm voxels");
  ok = sm_volume_read(in_dir("l.tif"), &lab, &err) == 0;
  double lo = 0, hi = 0;
  if (ok) sm_volume_range(&lab, &lo, &hi);
  TAP_OK(ok && lab.dtype == SM_U32 && lab.nz == 12 && lab.nx == 80 && lo == 0 && hi >= 5,
         "l.tif: uint32 labels, 0 on membranes, several cells (max %g)", hi);
  ok = sm_volume_read(in_dir("m.tif"), &mito, &err) == 0;
  TAP_OK(ok && mito.dtype == SM_U32 && mito.nz == 12, "m.tif: uint32 mitochondria ids");

  /* The CLI passes its options through: equal to the generator in-process. */
  SmPhantomParams p;
  sm_phantom_default_params(&p);
  p.nz = 12;
  p.ny = 64;
  p.nx = 80;
  p.seed = 5;
  p.z_anisotropy = 5;
  p.noise = 0.5;
  SmVolume img2 = {0}, lab2 = {0};
  if (sm_phantom_generate(&p, &img2, &lab2, NULL, &err) == 0) {
    TAP_OK(same_data(&img, &img2) && same_data(&lab, &lab2),
           "the files hold exactly what sm_phantom_generate makes for those options");
    sm_volume_free(&img2);
    sm_volume_free(&lab2);
  } else {
    TAP_OK(0, "in-process phantom: %s", err.message);
  }
  rc = run("phantom", "p2.tif", "--shape", "12,64,80", "--seed", "5", "--anisotropy", "5",
           "--noise", "0.5", NULL);
  if (rc == 0 && sm_volume_read(in_dir("p2.tif"), &img2, &err) == 0) {
    TAP_OK(same_data(&img, &img2), "a rerun with the same seed writes the same voxels");
    sm_volume_free(&img2);
  } else {
    TAP_OK(0, "rerun");
  }
  sm_volume_free(&img);
  sm_volume_free(&lab);
  sm_volume_free(&mito);

  rc = run("info", "p.tif", NULL);
  TAP_OK(rc == 0 && strstr(out_text, "12 x 64 x 80") && strstr(out_text, "uint8"),
         "semmae info p.tif: 12 x 64 x 80 uint8");
  rc = run("info", "l.tif", NULL);
  TAP_OK(rc == 0 && strstr(out_text, "uint32"), "semmae info l.tif: uint32");

  const char *em = tap_em_data();
  const struct {
    const char *sub, *shape;
  } real[] = {{"isbi2012/image", "30 x 512 x 512"}, {"vnc-stack1/raw", "10 x 1024 x 1024"}};
  for (int i = 0; i < 2; i++) {
    if (!em) {
      TAP_OK(1, "info %s # SKIP ../shared/em-data absent", real[i].sub);
      continue;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", em, real[i].sub);
    rc = run("info", path, NULL);
    TAP_OK(rc == 0 && strstr(out_text, real[i].shape) && strstr(out_text, "uint8"),
           "semmae info %s: %s uint8", real[i].sub, real[i].shape);
  }
}

/* An 8 x 8 TIFF of the given sample layout, written with libtiff. */
static void write_tiff(const char *path, int bits, int samples, int format, int photometric) {
  TIFF *t = TIFFOpen(path, "w");
  if (!t) return;
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 8);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, 8);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bits);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, samples);
  TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, format);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, photometric);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 8);
  unsigned char row[8 * 3 * 8];
  memset(row, 0x55, sizeof row);
  for (int y = 0; y < 8; y++) TIFFWriteScanline(t, row, (uint32_t)y, 0);
  TIFFClose(t);
}

static void test_unsupported_types(void) {
  write_tiff(in_dir("bilevel.tif"), 1, 1, SAMPLEFORMAT_UINT, PHOTOMETRIC_MINISBLACK);
  write_tiff(in_dir("rgbfloat.tif"), 32, 3, SAMPLEFORMAT_IEEEFP, PHOTOMETRIC_RGB);
  write_tiff(in_dir("double.tif"), 64, 1, SAMPLEFORMAT_IEEEFP, PHOTOMETRIC_MINISBLACK);
  write_tiff(in_dir("rgb8.tif"), 8, 3, SAMPLEFORMAT_UINT, PHOTOMETRIC_RGB);
  const char *unsupported[] = {"bilevel.tif", "rgbfloat.tif", "double.tif"};
  for (int i = 0; i < 3; i++)
    TAP_OK(run("info", unsupported[i], NULL) == 1 && one_line_error(unsupported[i]) &&
               strstr(err_text, "not supported"),
           "info on an unsupported type (%s): exit 1, one line naming it and saying so",
           unsupported[i]);
  TAP_OK(run("info", "rgb8.tif", NULL) == 0 && strstr(out_text, "1 x 8 x 8") &&
             one_line_error("sample 0"),
         "info on 8-bit RGB: reads sample 0, with a one-line warning");

  /* A header that claims 200000 x 200000 voxels (40 GB) over one row of
   * data: more than memory here, or truncated where memory is plentiful. */
  TIFF *t = TIFFOpen(in_dir("claims40gb.tif"), "w");
  if (t) {
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 200000);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, 200000);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 1);
    unsigned char *row = calloc(200000, 1);
    if (row) TIFFWriteScanline(t, row, 0, 0);
    free(row);
    TIFFClose(t);
  }
  TAP_OK(run("info", "claims40gb.tif", NULL) == 1 && one_line_error("claims40gb.tif"),
         "info on a TIFF claiming 40 GB: exit 1, one line naming it");
}

static void test_bad_input(void) {
  /* Missing file. */
  TAP_OK(run("info", "missing.tif", NULL) != 0 && one_line_error("missing.tif"),
         "info on a missing file: non-zero, one line naming it");

  /* A folder without slices. */
  mkdir(in_dir("empty"), 0755);
  write_bytes(in_dir("empty/notes.txt"), "not an image\n", 13);
  TAP_OK(run("info", "empty", NULL) != 0 && one_line_error("empty"),
         "info on a folder without slices: non-zero, one line naming it");

  /* Truncated and corrupt TIFFs, made from a phantom. */
  if (run("phantom", "whole.tif", "--shape", "4,48,48", NULL) != 0) tap_diag("phantom failed");
  size_t n = 0;
  char *whole = slurp(in_dir("whole.tif"), &n);
  if (whole && n > 200) {
    write_bytes(in_dir("trunc.tif"), whole, n / 2);
    TAP_OK(run("info", "trunc.tif", NULL) != 0 && one_line_error("trunc.tif"),
           "info on a TIFF cut in half: non-zero, one line naming it");
    write_bytes(in_dir("head.tif"), whole, 12);
    TAP_OK(run("info", "head.tif", NULL) != 0 && one_line_error("head.tif"),
           "info on a TIFF cut after 12 bytes: non-zero, one line naming it");
    char *bad = malloc(n);
    memcpy(bad, whole, n);
    memset(bad + 4, 0xff, 4); /* first IFD offset far past the end */
    write_bytes(in_dir("badifd.tif"), bad, n);
    TAP_OK(run("info", "badifd.tif", NULL) != 0 && one_line_error("badifd.tif"),
           "info on a TIFF whose IFD offset points past the end: one line naming it");
    memcpy(bad, whole, n);
    for (size_t i = 8; i < n; i += 7) bad[i] = (char)(bad[i] ^ 0x5a); /* scramble everything */
    write_bytes(in_dir("scrambled.tif"), bad, n);
    int rc = run("info", "scrambled.tif", NULL);
    TAP_OK(rc == 1 && one_line_error("scrambled.tif"),
           "info on a scrambled TIFF: exit 1 (no crash), one line naming it");
    free(bad);
    write_bytes(in_dir("text.tif"), "hello, not a TIFF\n", 18);
    TAP_OK(run("info", "text.tif", NULL) != 0 && one_line_error("text.tif"),
           "info on a text file named .tif: one line naming it");
  } else {
    TAP_OK(0, "could not make a TIFF to damage");
  }
  free(whole);

  /* Slices of different sizes: the error names the first that differs. */
  mkdir(in_dir("mixed"), 0755);
  run("phantom", "mixed/01.tif", "--shape", "1,32,32", NULL);
  run("phantom", "mixed/02.tif", "--shape", "1,32,32", "--seed", "2", NULL);
  run("phantom", "mixed/10.tif", "--shape", "1,40,32", NULL);
  TAP_OK(run("info", "mixed", NULL) != 0 && one_line_error("10.tif"),
         "info on slices of mixed sizes: non-zero, one line naming the odd slice");

  /* Unwritable outputs: one line naming the file, nothing left behind. */
  TAP_OK(run("phantom", "nodir/x.tif", "--shape", "2,16,16", NULL) != 0 &&
             one_line_error("nodir/x.tif"),
         "phantom into a missing folder: non-zero, one line naming the file");
  write_bytes(in_dir("plain"), "x", 1);
  TAP_OK(run("phantom", "plain/x.tif", "--shape", "2,16,16", NULL) != 0 &&
             one_line_error("plain/x.tif"),
         "phantom below a regular file: non-zero, one line naming the file");
  TAP_OK(run("phantom", "empty", "--shape", "2,16,16", NULL) != 0 && one_line_error("empty"),
         "phantom onto a folder: non-zero, one line naming it");
  TAP_OK(run("phantom", "ok.tif", "--labels", "nodir/l.tif", "--shape", "2,16,16", NULL) != 0 &&
             one_line_error("nodir/l.tif"),
         "unwritable --labels: non-zero, one line naming it");
  TAP_OK(!exists(in_dir("ok.tif")), "... and the image was not written either");
  if (geteuid() != 0) {
    mkdir(in_dir("ro"), 0555);
    chmod(in_dir("ro"), 0555);
    TAP_OK(run("phantom", "ro/x.tif", "--shape", "2,16,16", NULL) != 0 &&
               one_line_error("ro/x.tif"),
           "phantom into a read-only folder: non-zero, one line naming the file");
    TAP_OK(count_entries("ro", "x.tif") == 0, "... and nothing in the folder");
    chmod(in_dir("ro"), 0755);
  } else {
    TAP_OK(1, "read-only folder # SKIP running as root, which may write anywhere");
    TAP_OK(1, "nothing left in the read-only folder # SKIP running as root");
  }
  /* A phantom larger than memory: refused up front (3.9e9 voxels need ~66 GB;
   * skipped on machines that have that much, where it would really run). */
  double physical = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
  if (physical > 0 && physical < 60e9) {
    TAP_OK(run("phantom", "huge.tif", "--shape", "1000,1400,2800", NULL) != 0 &&
               one_line_error("memory") && !exists(in_dir("huge.tif")),
           "phantom larger than memory: non-zero, one line, no file");
  } else {
    TAP_OK(1, "phantom larger than memory # SKIP this machine has %.0f GB", physical / 1e9);
  }
  TAP_OK(count_entries(".", ".tmp") == 0 && count_entries("mixed", ".tmp") == 0,
         "no temporary files left anywhere");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cli_test SEMMAE\n");
    return 2;
  }
  semmae = argv[1];
  snprintf(dir, sizeof dir, "/tmp/semmae-cli-XXXXXX");
  if (!mkdtemp(dir)) return tap_skip_all("cannot make a temporary directory");
  test_help();
  test_phantom_and_info();
  test_bad_input();
  test_unsupported_types();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) tap_diag("could not remove %s", dir);
  free(out_text);
  free(err_text);
  return tap_done();
}
