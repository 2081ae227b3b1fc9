/* semmae eval end to end: small label volumes written to a temporary folder
 * (hand-made answers), the snemi-mini labels vs fragments (scikit-image's
 * numbers, see tests/engine/metrics_snemi.c), --metrics selection, and bad
 * input: shape mismatch, float labels, negative labels, unknown metric,
 * missing option; one line on stderr and a non-zero exit each.
 * usage: eval_cli SEMMAE */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slurp.h"
#include "tap.h"
#include "volume.h"

static const char *semmae;
static char dir[64];
static char out_file[128], err_file[128];

static const char *in_dir(const char *name) {
  static char buf[8][256];
  static int next;
  char *b = buf[next++ % 8];
  snprintf(b, 256, "%s/%s", dir, name);
  return b;
}

static int run(const char *args) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "'%s' eval %s >'%s' 2>'%s'", semmae, args, out_file, err_file);
  int status = system(cmd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The contents of a file the last run wrote, "" when it did not. */
static char *text_of(const char *path) {
  char *s = slurp(path, NULL);
  return s ? s : calloc(1, 1);
}

/* The value printed on the line "name: value" of the last run, NAN if absent. */
static double value_of(const char *name) {
  char *out = text_of(out_file);
  char key[64];
  snprintf(key, sizeof key, "\n%s: ", name);
  char *text = malloc(strlen(out) + 2);
  text[0] = '\n';
  strcpy(text + 1, out);
  char *hit = strstr(text, key);
  double v = hit ? strtod(hit + strlen(key), NULL) : NAN;
  free(out);
  free(text);
  return v;
}

static int count_lines(const char *path) {
  char *s = text_of(path);
  int lines = 0;
  for (char *p = s; *p; p++) lines += *p == '\n';
  free(s);
  return lines;
}

static bool one_line_error(const char *needle) {
  char *e = text_of(err_file);
  bool ok = count_lines(err_file) == 1 && strstr(e, needle) != NULL;
  if (!ok) tap_diag("stderr was: %s", e);
  free(e);
  return ok;
}

static void write_volume(const char *name, SmDtype t, int64_t nz, int64_t ny, int64_t nx, const void *data) {
  SmVolume v;
  SmError err;
  sm_volume_alloc(&v, t, nz, ny, nx, &err);
  memcpy(v.data, data, sm_volume_bytes(&v));
  if (sm_volume_write(in_dir(name), &v, &err) != 0) tap_diag("%s", err.message);
  sm_volume_free(&v);
}

int main(int argc, char **argv) {
  if (argc < 2) return tap_skip_all("usage: eval_cli SEMMAE");
  semmae = argv[1];
  snprintf(dir, sizeof dir, "/tmp/semmae-eval-XXXXXX");
  if (!mkdtemp(dir)) return tap_skip_all("no temporary folder");
  snprintf(out_file, sizeof out_file, "%s/out.txt", dir);
  snprintf(err_file, sizeof err_file, "%s/err.txt", dir);

  // The worked example of tests/engine/metrics_basic.c as 1 x 2 x 3 volumes:
  // arand 0.5, VOI 0.459148 / 0.459148, AP50 1, AP75 34/303.
  const uint16_t truth[6] = {1, 1, 1, 2, 2, 3}, pred[6] = {1, 1, 2, 2, 2, 3};
  write_volume("truth.tif", SM_U16, 1, 2, 3, truth);
  write_volume("pred.tif", SM_U16, 1, 2, 3, pred);
  char args[2048];
  snprintf(args, sizeof args, "--pred '%s' --truth '%s'", in_dir("pred.tif"), in_dir("truth.tif"));
  int rc = run(args);
  TAP_OK(rc == 0 && count_lines(out_file) == 9, "all metrics by default: 9 lines, exit 0 (rc %d)", rc);
  TAP_OK(fabs(value_of("arand") - 0.5) < 1e-6 && fabs(value_of("arand_precision") - 0.5) < 1e-6 &&
             fabs(value_of("arand_recall") - 0.5) < 1e-6,
         "arand 0.5, precision 0.5, recall 0.5");
  TAP_OK(fabs(value_of("voi_split") - 0.459148) < 2e-6 && fabs(value_of("voi_merge") - 0.459148) < 2e-6,
         "voi_split = voi_merge = 0.459148");
  TAP_OK(fabs(value_of("ap50") - 1) < 1e-6 && fabs(value_of("ap75") - 34.0 / 303) < 1e-6, "ap50 1, ap75 34/303");
  TAP_OK(value_of("dice") == 1 && value_of("iou") == 1, "dice = iou = 1 (same foreground)");

  snprintf(args, sizeof args, "--pred '%s' --truth '%s' --metrics voi,dice", in_dir("pred.tif"), in_dir("truth.tif"));
  rc = run(args);
  TAP_OK(rc == 0 && count_lines(out_file) == 3 && isnan(value_of("arand")) && !isnan(value_of("dice")),
         "--metrics voi,dice prints only voi_split, voi_merge, dice");

  // --components: a binary mask with two separate blobs is two instances.
  // truth: blobs {0,1} and {4,5} of one value; pred: only the first blob.
  const uint8_t mask_truth[6] = {255, 255, 0, 0, 255, 255}, mask_pred[6] = {255, 255, 0, 0, 0, 0};
  write_volume("mask_truth.tif", SM_U8, 1, 1, 6, mask_truth);
  write_volume("mask_pred.tif", SM_U8, 1, 1, 6, mask_pred);
  snprintf(args, sizeof args, "--pred '%s' --truth '%s' --metrics ap50", in_dir("mask_pred.tif"), in_dir("mask_truth.tif"));
  run(args);
  const double ap_mask = value_of("ap50");
  snprintf(args, sizeof args, "--pred '%s' --truth '%s' --metrics ap50 --components", in_dir("mask_pred.tif"),
           in_dir("mask_truth.tif"));
  rc = run(args);
  // Without: one truth instance of 4 voxels, IoU 2/4 = 0.5 -> AP 1. With: two
  // instances, one found -> precision 1 up to recall 0.5: 51/101.
  TAP_OK(fabs(ap_mask - 1) < 1e-6 && rc == 0 && fabs(value_of("ap50") - 51.0 / 101) < 1e-6,
         "--components turns mask blobs into instances (AP50 %.4f -> %.4f)", ap_mask, value_of("ap50"));

  // --per-slice: serial sections scored as 2D. The truth mask is one blob
  // through both slices; the prediction gives each slice its own id.
  const uint8_t column_truth[4] = {255, 255, 255, 255};
  const uint16_t column_pred[4] = {1, 1, 2, 2};
  write_volume("column_truth.tif", SM_U8, 2, 1, 2, column_truth);
  write_volume("column_pred.tif", SM_U16, 2, 1, 2, column_pred);
  snprintf(args, sizeof args, "--pred '%s' --truth '%s' --metrics arand --components", in_dir("column_pred.tif"),
           in_dir("column_truth.tif"));
  run(args);
  const double arand_3d = value_of("arand");
  snprintf(args, sizeof args, "--pred '%s' --truth '%s' --metrics arand --per-slice", in_dir("column_pred.tif"),
           in_dir("column_truth.tif"));
  rc = run(args);
  TAP_OK(rc == 0 && arand_3d > 0.1 && fabs(value_of("arand")) < 1e-9,
         "--per-slice keeps slices apart (arand 3D %.4f -> per slice %.4f)", arand_3d, value_of("arand"));

  // Bad input.
  const uint16_t small[4] = {1, 1, 2, 2};
  write_volume("small.tif", SM_U16, 1, 2, 2, small);
  snprintf(args, sizeof args, "--pred '%s' --truth '%s'", in_dir("small.tif"), in_dir("truth.tif"));
  TAP_OK(run(args) == 1 && one_line_error("shape mismatch"), "shape mismatch: one line, exit 1");
  const float floats[6] = {1, 1, 1, 2, 2, 3};
  write_volume("float.tif", SM_F32, 1, 2, 3, floats);
  snprintf(args, sizeof args, "--pred '%s' --truth '%s'", in_dir("float.tif"), in_dir("truth.tif"));
  TAP_OK(run(args) == 1 && one_line_error("labels must be integers, not float32"), "float labels refused");
  const int16_t negative[6] = {1, 1, -1, 2, 2, 3};
  write_volume("negative.tif", SM_I16, 1, 2, 3, negative);
  snprintf(args, sizeof args, "--pred '%s' --truth '%s'", in_dir("negative.tif"), in_dir("truth.tif"));
  TAP_OK(run(args) == 1 && one_line_error("must not be negative"), "negative labels refused");
  snprintf(args, sizeof args, "--pred '%s' --truth '%s' --metrics arand,rand", in_dir("pred.tif"),
           in_dir("truth.tif"));
  TAP_OK(run(args) == 2 && one_line_error("unknown metric 'rand'"), "unknown metric refused, exit 2");
  snprintf(args, sizeof args, "--pred '%s'", in_dir("pred.tif"));
  TAP_OK(run(args) == 2 && one_line_error("missing --truth"), "missing --truth, exit 2");
  snprintf(args, sizeof args, "--pred '%s' --truth '%s'", in_dir("absent.tif"), in_dir("truth.tif"));
  TAP_OK(run(args) == 1 && one_line_error("absent.tif"), "missing file named in the error");
  TAP_OK(run("--help") == 0 && count_lines(out_file) > 10, "--help prints the usage");

  // Real labels: snemi-mini fragments vs truth, scikit-image's values.
  const char *em = tap_em_data();
  if (em) {
    snprintf(args, sizeof args, "--pred '%s/snemi-mini/train-fragments.tif' --truth '%s/snemi-mini/train-labels.tif'",
             em, em);
    rc = run(args);
    TAP_OK(rc == 0 && fabs(value_of("arand") - 0.9374027420789812) < 1e-6 &&
               fabs(value_of("voi_split") - 5.656483824385295) < 1e-6 &&
               fabs(value_of("voi_merge") - 0.550661311540445) < 1e-6,
           "snemi-mini fragments: arand 0.937403, VOI 5.656484 / 0.550661 (scikit-image)");
  } else {
    printf("ok %d - # SKIP ../shared/em-data absent\n", ++tap_count_);
  }

  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) tap_diag("could not remove %s", dir);
  return tap_done();
}
