/* semmae labels merge|relabel|filter|stats: batch edits of label volumes,
 * through the same label store and edit code as the studio's proofreading. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "data/label_edit.h"
#include "data/label_io.h"
#include "data/label_stats.h"
#include "data/label_undo.h"
#include "data/volume.h"

static const char usage[] =
    "usage: semmae labels <command> LABELS [options]\n"
    "\n"
    "Batch edits of a label volume (uint32 ids, 0 = background; any integer type is\n"
    "read), with the same code as the studio's proofreading tools. Results are\n"
    "written as uint32 TIFF via a temporary file and rename: a failing command\n"
    "never leaves a half-written OUT, and OUT may be LABELS itself. Segment names,\n"
    "colours and locks kept by the studio in LABELS.segments.tsv follow the segments.\n"
    "\n"
    "commands:\n"
    "  stats LABELS [--top N] [--by size|id] [--tsv]\n"
    "        summary (segments, background, sizes) and the N largest segments with\n"
    "        their voxel counts and bounding boxes (z0 y0 x0 z1 y1 x1, end exclusive);\n"
    "        --tsv prints every segment as tab-separated lines only\n"
    "  merge LABELS --ids A,B[,C...] [--ids ...] --out OUT\n"
    "        merges each group into its first id\n"
    "  relabel LABELS --out OUT\n"
    "        renumbers the segments 1..N in increasing id order\n"
    "  filter LABELS --min-size N --out OUT\n"
    "        sets every segment smaller than N voxels to 0 (background)\n"
    "\n"
    "common options:\n"
    "  --image IMAGE  refuse LABELS unless its shape equals this image's\n"
    "  -h, --help     show this help\n";

typedef struct LabelsArgs {
  const char *command, *labels, *out, *image;
  char **id_groups;
  int n_groups;
  uint64_t top, min_size;
  bool have_min_size, tsv, by_id;
} LabelsArgs;

static int parse(int argc, char **argv, LabelsArgs *a) {
  memset(a, 0, sizeof *a);
  a->top = 10;
  a->id_groups = calloc((size_t)argc, sizeof *a->id_groups);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    bool has_value = i + 1 < argc;
    if (!strcmp(arg, "--out") || !strcmp(arg, "--image") || !strcmp(arg, "--ids") ||
        !strcmp(arg, "--top") || !strcmp(arg, "--min-size") || !strcmp(arg, "--by")) {
      if (!has_value) return cli_usage_error("labels", "%s needs a value", arg);
      const char *v = argv[++i];
      if (!strcmp(arg, "--out")) a->out = v;
      else if (!strcmp(arg, "--image")) a->image = v;
      else if (!strcmp(arg, "--ids")) a->id_groups[a->n_groups++] = (char *)v;
      else if (!strcmp(arg, "--top")) {
        if (!cli_parse_u64(v, &a->top)) return cli_usage_error("labels", "--top wants a count, not '%s'", v);
      } else if (!strcmp(arg, "--min-size")) {
        if (!cli_parse_u64(v, &a->min_size))
          return cli_usage_error("labels", "--min-size wants a voxel count, not '%s'", v);
        a->have_min_size = true;
      } else {
        if (strcmp(v, "size") && strcmp(v, "id")) return cli_usage_error("labels", "--by wants size or id");
        a->by_id = !strcmp(v, "id");
      }
    } else if (!strcmp(arg, "--tsv")) {
      a->tsv = true;
    } else if (arg[0] == '-' && arg[1]) {
      return cli_usage_error("labels", "unknown option '%s'", arg);
    } else if (!a->command) {
      a->command = arg;
    } else if (!a->labels) {
      a->labels = arg;
    } else {
      return cli_usage_error("labels", "unexpected argument '%s'", arg);
    }
  }
  if (!a->command) return cli_usage_error("labels", "missing command (merge, relabel, filter or stats)");
  if (strcmp(a->command, "merge") && strcmp(a->command, "relabel") && strcmp(a->command, "filter") &&
      strcmp(a->command, "stats"))
    return cli_usage_error("labels", "unknown command '%s'", a->command);
  if (!a->labels) return cli_usage_error("labels", "missing LABELS");
  bool writes = strcmp(a->command, "stats") != 0;
  if (writes && !a->out) return cli_usage_error("labels", "%s needs --out OUT", a->command);
  if (!strcmp(a->command, "merge") && !a->n_groups) return cli_usage_error("labels", "merge needs --ids A,B");
  if (!strcmp(a->command, "filter") && !a->have_min_size)
    return cli_usage_error("labels", "filter needs --min-size N");
  return 0;
}

/* "A,B,C" -> ids; false on anything else. */
static bool parse_ids(const char *text, uint32_t **ids, size_t *n) {
  size_t cap = 1;
  for (const char *c = text; *c; c++) cap += *c == ',';
  *ids = malloc(cap * sizeof **ids);
  *n = 0;
  char *copy = strdup(text), *save = NULL;
  bool ok = *ids && copy;
  for (char *tok = ok ? strtok_r(copy, ",", &save) : NULL; tok && ok; tok = strtok_r(NULL, ",", &save)) {
    uint64_t v;
    ok = cli_parse_u64(tok, &v) && v > 0 && v < UINT32_MAX;
    if (ok) (*ids)[(*n)++] = (uint32_t)v;
  }
  free(copy);
  return ok && *n >= 2;
}

static void print_summary(SmLabelStore *s, const char *path) {
  SmLabelStats st;
  sm_label_stats(s, &st);
  int64_t sh[3];
  sm_label_store_shape(s, sh);
  printf("%-14s%s\n", "labels:", path);
  printf("%-14s%lld x %lld x %lld (Z x Y x X), %llu voxels\n", "shape:", (long long)sh[0], (long long)sh[1],
         (long long)sh[2], (unsigned long long)st.voxels);
  printf("%-14s%llu\n", "segments:", (unsigned long long)st.segments);
  printf("%-14s%llu voxels (%.2f %%)\n", "background:", (unsigned long long)st.background,
         st.voxels ? 100.0 * (double)st.background / (double)st.voxels : 0.0);
  printf("%-14smin %llu, median %llu, max %llu voxels\n", "segment size:", (unsigned long long)st.smallest,
         (unsigned long long)st.median, (unsigned long long)st.largest);
  printf("%-14s%u\n", "max id:", st.max_id);
}

int cmd_labels(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("%s", usage);
    return 0;
  }
  LabelsArgs a;
  int rc = parse(argc, argv, &a);
  if (rc != 0) {
    free(a.id_groups);
    return rc;
  }
  SmError err;
  int64_t image_shape[3], *want = NULL;
  if (a.image) {
    SmVolume probe;
    if (sm_volume_probe(a.image, &probe, &err) != 0) {
      free(a.id_groups);
      return cli_fail("%s", err.message);
    }
    image_shape[0] = probe.nz, image_shape[1] = probe.ny, image_shape[2] = probe.nx;
    want = image_shape;
  }
  SmLabelStore *s = sm_label_store_load(a.labels, want, &err);
  if (!s) {
    free(a.id_groups);
    return cli_fail("%s", err.message);
  }
  sm_label_set_undo_enabled(s, false); /* batch: no history to keep */

  if (!strcmp(a.command, "stats")) {
    if (a.tsv) {
      rc = sm_label_print_segments(s, stdout, a.by_id ? SM_ORDER_ID : SM_ORDER_SIZE, 0);
    } else {
      print_summary(s, a.labels);
      if (a.top && sm_label_store_n_segments(s)) {
        printf("\n%s segments by %s:\n", a.top >= sm_label_store_n_segments(s) ? "all" : "top",
               a.by_id ? "id" : "size");
        rc = sm_label_print_segments(s, stdout, a.by_id ? SM_ORDER_ID : SM_ORDER_SIZE, a.top);
      }
    }
    sm_label_store_free(s);
    free(a.id_groups);
    return rc ? cli_fail("labels: out of memory") : 0;
  }

  rc = 0;
  if (!strcmp(a.command, "merge")) {
    for (int g = 0; g < a.n_groups && rc == 0; g++) {
      uint32_t *ids = NULL;
      size_t n = 0;
      if (!parse_ids(a.id_groups[g], &ids, &n)) {
        rc = cli_usage_error("labels", "--ids wants two or more positive ids like 3,17, not '%s'", a.id_groups[g]);
      } else {
        for (size_t i = 0; i < n && rc == 0; i++)
          if (!sm_label_store_segment(s, ids[i]))
            rc = cli_fail("%s: no segment %u (from --ids %s)", a.labels, ids[i], a.id_groups[g]);
        if (rc == 0 && sm_label_merge(s, ids, n, &err) != 0) rc = cli_fail("%s: %s", a.labels, err.message);
      }
      free(ids);
    }
    if (rc == 0) fprintf(stderr, "merged %d group%s\n", a.n_groups, a.n_groups == 1 ? "" : "s");
  } else if (!strcmp(a.command, "relabel")) {
    if (sm_label_relabel_consecutive(s, &err) != 0) rc = cli_fail("%s: %s", a.labels, err.message);
    else fprintf(stderr, "relabelled %zu segments as 1..%zu\n", sm_label_store_n_segments(s), sm_label_store_n_segments(s));
  } else {
    size_t removed = 0;
    if (sm_label_remove_small(s, a.min_size, &removed, &err) != 0) rc = cli_fail("%s: %s", a.labels, err.message);
    else fprintf(stderr, "removed %zu segment%s smaller than %llu voxels, %zu left\n", removed,
                 removed == 1 ? "" : "s", (unsigned long long)a.min_size, sm_label_store_n_segments(s));
  }
  if (rc == 0 && sm_label_store_save(s, a.out, &err) != 0) rc = cli_fail("%s", err.message);
  sm_label_store_free(s);
  free(a.id_groups);
  return rc;
}
