/* semmae eval --pred LABELS --truth LABELS: segmentation metrics as
 * "name: value" lines (definitions in engine/metrics.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "connected_components.h"
#include "data/volume.h"
#include "metrics.h"

static const char usage[] =
    "usage: semmae eval --pred LABELS --truth LABELS [--metrics LIST] [--components]\n"
    "                   [--per-slice] [--keep-truth-zero]\n"
    "\n"
    "Scores a predicted label volume against ground truth and prints one\n"
    "\"name: value\" line per number. LABELS are integer label volumes of the same\n"
    "shape (multi-page TIFF, folder of slices, or glob); 0 = background/boundary.\n"
    "\n"
    "metrics (comma-separated LIST; default: all):\n"
    "  arand  adapted Rand error (SNEMI3D; scikit-image's adapted_rand_error), truth 0\n"
    "         ignored: arand, arand_precision, arand_recall (precision: of the voxel\n"
    "         pairs the prediction joins, the share the truth joins too)\n"
    "  voi    variation of information in bits: voi_split = H(pred|truth),\n"
    "         voi_merge = H(truth|pred), truth 0 ignored (see --keep-truth-zero)\n"
    "  ap50, ap75  average precision at IoU 0.5 / 0.75 (MitoEM challenge code:\n"
    "         predictions ranked by size, 101-point interpolated precision)\n"
    "  dice, iou   overlap of the foregrounds (label != 0)\n"
    "\n"
    "options:\n"
    "  --components       split both volumes into connected components (6-connected,\n"
    "                     per label value) first: binary masks (0/255 PNG slices, ...)\n"
    "                     become instances\n"
    "  --per-slice        score serial sections as 2D: split both volumes into their\n"
    "                     4-connected pieces within each z slice first, so nothing\n"
    "                     joins across slices (ISBI 2012 style; implies --components)\n"
    "  --keep-truth-zero  count truth-0 voxels in VOI (scikit-image's default)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Undefined values (e.g. no truth instance for AP) print as nan.\n";

enum { M_ARAND = 1, M_VOI = 2, M_AP50 = 4, M_AP75 = 8, M_DICE = 16, M_IOU = 32, M_ALL = 63 };

static int parse_metrics(const char *text, unsigned *out) {
  static const struct {
    const char *name;
    unsigned bit;
  } known[] = {{"arand", M_ARAND}, {"voi", M_VOI},   {"ap50", M_AP50}, {"ap75", M_AP75},
               {"dice", M_DICE},   {"iou", M_IOU},   {"all", M_ALL}};
  *out = 0;
  const char *p = text;
  while (*p) {
    size_t len = strcspn(p, ",");
    bool found = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
      if (strlen(known[i].name) == len && strncmp(known[i].name, p, len) == 0) {
        *out |= known[i].bit;
        found = true;
      }
    if (!found) {
      fprintf(stderr, "semmae eval: unknown metric '%.*s' (arand, voi, ap50, ap75, dice, iou) (see 'semmae eval --help')\n",
              (int)len, p);
      return -1;
    }
    p += len;
    if (*p == ',') p++;
  }
  if (!*out) {
    cli_usage_error("eval", "--metrics is empty");
    return -1;
  }
  return 0;
}

/* Reads a label volume as uint32, refusing floats and negative ids. */
static uint32_t *read_labels(const char *path, SmVolume *shape) {
  SmError err;
  SmVolume v;
  if (sm_volume_read(path, &v, &err) != 0) {
    cli_fail("%s", err.message);
    return NULL;
  }
  if (!sm_dtype_is_integer(v.dtype)) {
    cli_fail("%s: labels must be integers, not %s", path, sm_dtype_name(v.dtype));
    sm_volume_free(&v);
    return NULL;
  }
  const size_t n = sm_volume_voxels(&v);
  uint32_t *labels = malloc((n ? n : 1) * sizeof *labels);
  if (!labels) {
    cli_fail("%s: out of memory for %zu labels", path, n);
    sm_volume_free(&v);
    return NULL;
  }
  bool negative = false;
  for (size_t i = 0; i < n; i++) {
    int64_t x;
    switch (v.dtype) {
    case SM_U8: x = ((const uint8_t *)v.data)[i]; break;
    case SM_I8: x = ((const int8_t *)v.data)[i]; break;
    case SM_U16: x = ((const uint16_t *)v.data)[i]; break;
    case SM_I16: x = ((const int16_t *)v.data)[i]; break;
    case SM_U32: x = ((const uint32_t *)v.data)[i]; break;
    case SM_I32: x = ((const int32_t *)v.data)[i]; break;
    default: x = 0; break;
    }
    negative |= x < 0;
    labels[i] = (uint32_t)x;
  }
  if (negative) {
    cli_fail("%s: labels must not be negative", path);
    free(labels);
    labels = NULL;
  }
  *shape = v;
  shape->data = NULL;
  sm_volume_free(&v);
  return labels;
}

/* Replaces *labels by its connected components (a new buffer). */
static int split_components(uint32_t **labels, const int64_t dims[3], int connectivity,
                            PpError *err) {
  const size_t n = (size_t)(dims[0] * dims[1] * dims[2]);
  uint32_t *split = malloc((n ? n : 1) * sizeof *split);
  if (!split) return pp_error_set(err, "out of memory for the connected components");
  if (cc_label_u32(split, *labels, dims, connectivity, err) < 0) {
    free(split);
    return -1;
  }
  free(*labels);
  *labels = split;
  return 0;
}

static void print_value(const char *name, double value) {
  if (isnan(value)) printf("%s: nan\n", name);
  else printf("%s: %.6f\n", name, value);
}

int cmd_eval(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("%s", usage);
    return 0;
  }
  const char *pred_path = NULL, *truth_path = NULL;
  unsigned metrics = M_ALL;
  bool keep_truth_zero = false, components = false, per_slice = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--keep-truth-zero") == 0) {
      keep_truth_zero = true;
      continue;
    }
    if (strcmp(a, "--components") == 0) {
      components = true;
      continue;
    }
    if (strcmp(a, "--per-slice") == 0) {
      per_slice = true;
      continue;
    }
    if (strcmp(a, "--pred") != 0 && strcmp(a, "--truth") != 0 && strcmp(a, "--metrics") != 0)
      return cli_usage_error("eval", "unknown argument '%s'", a);
    if (i + 1 >= argc) return cli_usage_error("eval", "%s needs a value", a);
    const char *value = argv[++i];
    if (strcmp(a, "--pred") == 0) pred_path = value;
    else if (strcmp(a, "--truth") == 0) truth_path = value;
    else if (parse_metrics(value, &metrics) != 0) return 2;
  }
  if (!pred_path) return cli_usage_error("eval", "missing --pred LABELS");
  if (!truth_path) return cli_usage_error("eval", "missing --truth LABELS");

  SmVolume ps, ts;
  uint32_t *pred = read_labels(pred_path, &ps);
  if (!pred) return 1;
  uint32_t *truth = read_labels(truth_path, &ts);
  if (!truth) {
    free(pred);
    return 1;
  }
  if (ps.nz != ts.nz || ps.ny != ts.ny || ps.nx != ts.nx) {
    cli_fail("shape mismatch: %s is %lld x %lld x %lld, %s is %lld x %lld x %lld (Z x Y x X)", pred_path,
             (long long)ps.nz, (long long)ps.ny, (long long)ps.nx, truth_path, (long long)ts.nz,
             (long long)ts.ny, (long long)ts.nx);
    free(pred);
    free(truth);
    return 1;
  }
  const size_t n = (size_t)(ps.nz * ps.ny * ps.nx);
  PpError err;
  if (components || per_slice) {
    /* Serial sections scored as 2D (ISBI 2012): pieces never join across z. */
    const int connectivity = per_slice ? CC_CONN_PLANE4 : CC_CONN_FACES;
    const int64_t dims[3] = {ps.nz, ps.ny, ps.nx};
    if (split_components(&pred, dims, connectivity, &err) != 0 ||
        split_components(&truth, dims, connectivity, &err) != 0) {
      free(pred), free(truth);
      return cli_fail("%s", err.message);
    }
  }
  ContingencyTable table;
  int status = metrics_contingency(&table, truth, pred, n, &err);
  free(pred);
  free(truth);
  if (status != 0) return cli_fail("%s", err.message);

  if (metrics & M_ARAND) {
    RandScores r;
    if (metrics_adapted_rand(&r, &table, &err) != 0) fprintf(stderr, "semmae eval: %s\n", err.message);
    print_value("arand", r.error);
    print_value("arand_precision", r.precision);
    print_value("arand_recall", r.recall);
  }
  if (metrics & M_VOI) {
    VoiScores v;
    if (metrics_voi(&v, &table, !keep_truth_zero, &err) != 0) fprintf(stderr, "semmae eval: %s\n", err.message);
    print_value("voi_split", v.split);
    print_value("voi_merge", v.merge);
  }
  if (metrics & (M_AP50 | M_AP75)) {
    const double thresholds[2] = {0.5, 0.75};
    double ap[2] = {NAN, NAN};
    if (metrics_average_precision(ap, &table, thresholds, 2, NULL, NULL, &err) != 0) {
      fprintf(stderr, "semmae eval: %s\n", err.message);
    } else if (ap[0] < 0) {  // the reference's -1
      fprintf(stderr, "semmae eval: AP undefined: the truth has no instance\n");
      ap[0] = ap[1] = NAN;
    }
    if (metrics & M_AP50) print_value("ap50", ap[0]);
    if (metrics & M_AP75) print_value("ap75", ap[1]);
  }
  if (metrics & (M_DICE | M_IOU)) {
    OverlapScores o;
    metrics_foreground_overlap(&o, &table);
    if (metrics & M_DICE) print_value("dice", o.dice);
    if (metrics & M_IOU) print_value("iou", o.iou);
  }
  metrics_contingency_free(&table);
  return 0;
}
