#include "label_meta.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "label_private.h"
#include "label_stats.h"

static const char META_MAGIC[] = "# semmae segments v1";

void sm_label_meta_path(const char *labels_path, char *out, size_t size) {
  snprintf(out, size, "%s.segments.tsv", labels_path);
}

static bool has_meta(const SmSegment *seg) {
  return seg->name || seg->voxels == 0 ||
         (seg->flags & (SM_SEGMENT_LOCKED | SM_SEGMENT_HIDDEN | SM_SEGMENT_COLOR_SET));
}

int sm_label_meta_write(const SmLabelStore *s, const char *labels_path, SmError *err) {
  char path[4200];
  sm_label_meta_path(labels_path, path, sizeof path);
  const SmSegment **v = sm_label_sorted_segments(s, SM_ORDER_ID);
  if (!v) return sm_error_set(err, "%s: out of memory", path);
  size_t n = sm_label_store_n_segments(s), listed = 0;
  for (size_t i = 0; i < n; i++) listed += has_meta(v[i]);
  if (!listed) {
    free(v);
    if (unlink(path) != 0 && errno != ENOENT) return sm_error_set(err, "%s: cannot remove: %s", path, strerror(errno));
    return 0;
  }
  SmAtomicFile af;
  if (sm_atomic_begin(&af, path, err) != 0) {
    free(v);
    return -1;
  }
  FILE *f = fdopen(af.fd, "w");
  if (!f) {
    sm_atomic_abort(&af);
    free(v);
    return sm_error_set(err, "%s: cannot write: %s", path, strerror(errno));
  }
  af.fd = -1; /* fclose closes it */
  fprintf(f, "%s\nid\tvoxels\tname\tcolor\tlocked\thidden\n", META_MAGIC);
  for (size_t i = 0; i < n; i++) {
    const SmSegment *seg = v[i];
    if (!has_meta(seg)) continue;
    char name[512] = "";
    if (seg->name) {
      snprintf(name, sizeof name, "%s", seg->name);
      for (char *c = name; *c; c++)
        if (*c == '\t' || *c == '\n' || *c == '\r') *c = ' ';
    }
    char color[16] = "-";
    if (seg->flags & SM_SEGMENT_COLOR_SET) snprintf(color, sizeof color, "#%06x", seg->color & 0xFFFFFF);
    fprintf(f, "%u\t%llu\t%s\t%s\t%d\t%d\n", seg->id, (unsigned long long)seg->voxels, name, color,
            !!(seg->flags & SM_SEGMENT_LOCKED), !!(seg->flags & SM_SEGMENT_HIDDEN));
  }
  free(v);
  bool ok = fflush(f) == 0 && !ferror(f);
  if (fclose(f) != 0) ok = false;
  if (!ok) {
    sm_atomic_abort(&af);
    return sm_error_set(err, "%s: cannot write: %s", path, strerror(errno));
  }
  return sm_atomic_commit(&af, err);
}

/* Splits line at tabs into at most max fields (in place). */
static int split_tabs(char *line, char **fields, int max) {
  int n = 0;
  char *p = line;
  while (n < max) {
    fields[n++] = p;
    char *tab = strchr(p, '\t');
    if (!tab) break;
    *tab = '\0';
    p = tab + 1;
  }
  return n;
}

int sm_label_meta_read(SmLabelStore *s, const char *labels_path, SmError *err) {
  char path[4200];
  sm_label_meta_path(labels_path, path, sizeof path);
  FILE *f = fopen(path, "r");
  if (!f) return errno == ENOENT ? 0 : sm_error_set(err, "%s: cannot read: %s", path, strerror(errno));
  char line[2048];
  int rc = 0, line_no = 0;
  size_t stale = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    line_no++;
    line[strcspn(line, "\r\n")] = '\0';
    if (line_no == 1) {
      if (strcmp(line, META_MAGIC) != 0) rc = sm_error_set(err, "%s: not a semmae segment table", path);
      continue;
    }
    if (line_no == 2 || !line[0]) continue; /* column names */
    char *fld[6];
    char *end;
    if (split_tabs(line, fld, 6) != 6) {
      rc = sm_error_set(err, "%s: line %d: expected 6 tab-separated fields", path, line_no);
      break;
    }
    unsigned long long id = strtoull(fld[0], &end, 10), voxels;
    bool ok = *end == '\0' && id > 0 && id < UINT32_MAX;
    voxels = strtoull(fld[1], &end, 10);
    ok = ok && *end == '\0';
    unsigned long color = 0;
    bool color_set = strcmp(fld[3], "-") != 0;
    if (color_set) {
      color = fld[3][0] == '#' ? strtoul(fld[3] + 1, &end, 16) : 0;
      ok = ok && fld[3][0] == '#' && *end == '\0' && color <= 0xFFFFFF;
    }
    ok = ok && (!strcmp(fld[4], "0") || !strcmp(fld[4], "1")) && (!strcmp(fld[5], "0") || !strcmp(fld[5], "1"));
    if (!ok) {
      rc = sm_error_set(err, "%s: line %d: malformed segment entry", path, line_no);
      break;
    }
    const SmSegment *cur = sm_store_find(s, (uint32_t)id);
    if (!cur && voxels > 0) { /* the labels no longer hold it: a stale entry */
      stale++;
      continue;
    }
    SmSegment rec = cur ? *cur : (SmSegment){.id = (uint32_t)id};
    rec.name = fld[2][0] ? fld[2] : NULL;
    rec.flags = (rec.flags & ~(uint32_t)(SM_SEGMENT_LOCKED | SM_SEGMENT_HIDDEN | SM_SEGMENT_COLOR_SET)) |
                (fld[4][0] == '1' ? SM_SEGMENT_LOCKED : 0) | (fld[5][0] == '1' ? SM_SEGMENT_HIDDEN : 0) |
                (color_set ? SM_SEGMENT_COLOR_SET : 0);
    rec.color = color_set ? (uint32_t)color : sm_label_color_for_id((uint32_t)id);
    if (sm_store_set_record(s, (uint32_t)id, &rec, false) != 0) rc = sm_error_set(err, "%s: out of memory", path);
  }
  fclose(f);
  if (rc == 0 && stale) sm_warn("%s: %zu entr%s for segments the labels do not hold (skipped)", path, stale,
                                stale == 1 ? "y" : "ies");
  return rc;
}
