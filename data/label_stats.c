#include "label_stats.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "label_private.h"

static int by_id(const void *a, const void *b) {
  uint32_t x = (*(const SmSegment *const *)a)->id, y = (*(const SmSegment *const *)b)->id;
  return (x > y) - (x < y);
}

static int by_size(const void *a, const void *b) {
  const SmSegment *x = *(const SmSegment *const *)a, *y = *(const SmSegment *const *)b;
  if (x->voxels != y->voxels) return x->voxels < y->voxels ? 1 : -1;
  return (x->id > y->id) - (x->id < y->id);
}

const SmSegment **sm_label_sorted_segments(const SmLabelStore *s, SmSegmentOrder order) {
  size_t n = sm_label_store_n_segments(s);
  const SmSegment **v = malloc((n ? n : 1) * sizeof *v);
  if (!v) return NULL;
  for (size_t i = 0; i < n; i++) v[i] = sm_label_store_segment_at(s, i);
  qsort(v, n, sizeof *v, order == SM_ORDER_SIZE ? by_size : by_id);
  return v;
}

void sm_label_stats(const SmLabelStore *s, SmLabelStats *out) {
  *out = (SmLabelStats){0};
  out->voxels = sm_label_store_voxels(s);
  out->background = sm_label_store_background_voxels(s);
  out->segments = sm_label_store_n_segments(s);
  const SmSegment **v = sm_label_sorted_segments(s, SM_ORDER_SIZE);
  if (v && out->segments) {
    out->largest = v[0]->voxels;
    out->smallest = v[out->segments - 1]->voxels;
    out->median = v[out->segments / 2]->voxels;
  }
  for (size_t i = 0; i < out->segments; i++) {
    const SmSegment *seg = sm_label_store_segment_at(s, i);
    if (seg->id > out->max_id) out->max_id = seg->id;
    out->merged_fragments += seg->n_extra;
  }
  free(v);
}

int sm_label_print_segments(SmLabelStore *s, FILE *out, SmSegmentOrder order, uint64_t limit) {
  size_t n = sm_label_store_n_segments(s);
  for (size_t i = 0; i < n; i++) {
    const SmSegment *seg = sm_label_store_segment_at(s, i);
    sm_label_store_tight_box(s, seg->id, NULL, NULL, NULL);
  }
  const SmSegment **v = sm_label_sorted_segments(s, order);
  if (!v) return -1;
  fprintf(out, "id\tvoxels\tz0\ty0\tx0\tz1\ty1\tx1\tname\n");
  for (size_t i = 0; i < n && (!limit || i < limit); i++)
    fprintf(out, "%u\t%llu\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", v[i]->id, (unsigned long long)v[i]->voxels,
            v[i]->lo[0], v[i]->lo[1], v[i]->lo[2], v[i]->hi[0], v[i]->hi[1], v[i]->hi[2],
            v[i]->name ? v[i]->name : "");
  free(v);
  return 0;
}

static bool id_has_prefix(uint32_t id, const char *digits) {
  char text[16];
  snprintf(text, sizeof text, "%u", id);
  return strncmp(text, digits, strlen(digits)) == 0;
}

size_t sm_label_search(const SmLabelStore *s, const char *query, const SmSegment **out, size_t max) {
  while (query && isspace((unsigned char)*query)) query++;
  bool numeric = query && *query;
  for (const char *c = query; c && *c; c++) numeric &= isdigit((unsigned char)*c) != 0;
  const SmSegment **v = sm_label_sorted_segments(s, SM_ORDER_SIZE);
  if (!v) return 0;
  size_t n = sm_label_store_n_segments(s), hits = 0;
  for (size_t i = 0; i < n; i++) {
    bool match = !query || !*query;
    if (!match && numeric) match = id_has_prefix(v[i]->id, query);
    if (!match && v[i]->name) match = strcasestr(v[i]->name, query) != NULL;
    if (!match) continue;
    if (hits < max) out[hits] = v[i];
    hits++;
  }
  free(v);
  return hits;
}
