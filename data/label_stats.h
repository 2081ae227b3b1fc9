/* Segment statistics of a label store (CLI `semmae labels stats`, the
 * studio's segment list). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "label_store.h"

typedef struct SmLabelStats {
  uint64_t voxels, background, segments;
  uint64_t smallest, largest, median; /* segment sizes in voxels (0 when none) */
  uint32_t max_id;
  uint64_t merged_fragments;          /* fragments mapped to another segment */
} SmLabelStats;

void sm_label_stats(const SmLabelStore *s, SmLabelStats *out);

typedef enum SmSegmentOrder { SM_ORDER_ID, SM_ORDER_SIZE } SmSegmentOrder;

/* Segments sorted by id (ascending) or size (descending, then id): a
 * malloc'd array of n_segments pointers, valid until the next edit. */
const SmSegment **sm_label_sorted_segments(const SmLabelStore *s, SmSegmentOrder order);

/* "id<TAB>voxels<TAB>z0<TAB>y0<TAB>x0<TAB>z1<TAB>y1<TAB>x1<TAB>name" lines with a
 * header, at most limit rows (0 = all). Boxes are tightened first. */
int sm_label_print_segments(SmLabelStore *s, FILE *out, SmSegmentOrder order, uint64_t limit);

/* Segments matching a search as typed in the segment list: a number matches
 * ids starting with it ("12" -> 12, 120, 1234), text matches names
 * case-insensitively anywhere. Results sorted by size (descending), at most
 * max into out; returns the number of matches (may exceed max). */
size_t sm_label_search(const SmLabelStore *s, const char *query, const SmSegment **out, size_t max);
