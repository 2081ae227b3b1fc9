/* Split a segment by a seeded watershed restricted to its voxels.
 *
 * Two phases, so the studio can preview before committing: compute (reads
 * the store, may run on a worker thread while nothing edits) gives the
 * per-voxel assignment to seeds inside the segment's box; apply writes it as
 * one undo step. The flooding itself is engine/watershed.h's ws_seeded_f32
 * (6-connected) over the boundary map, masked to the segment. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "label_store.h"
#include "sm_error.h"
#include "volume.h"

enum { SM_SPLIT_MAX_SEEDS = 64 };

typedef struct SmLabelSplit {
  uint32_t segment;
  int64_t lo[3], hi[3];     /* the segment's box */
  uint32_t *assign;         /* (hi - lo) row-major: 0 = not in the segment, k = seed k (1-based) */
  int n_seeds;
  uint64_t voxels[SM_SPLIT_MAX_SEEDS]; /* per seed (index k - 1) */
  uint64_t store_version;
} SmLabelSplit;

/* map: same shape as the labels, any dtype, or NULL (then the split is by
 * distance inside the segment). map_is_boundary: high values are boundaries
 * (a probability map); false for an EM image (dark membranes: inverted).
 * Voxels no seed reaches (other connected pieces) go to seed 1. */
int sm_label_split_compute(const SmLabelStore *s, uint32_t segment, const int64_t (*seeds)[3],
                           int n_seeds, const SmVolume *map, bool map_is_boundary,
                           SmLabelSplit *out, SmError *err);
/* Seed 1 keeps the segment's id; seeds 2..n get fresh ids, returned in
 * new_ids[0..n) (new_ids[0] = the segment; may be NULL). One undo step. */
int sm_label_split_apply(SmLabelStore *s, const SmLabelSplit *split, uint32_t *new_ids, SmError *err);
void sm_label_split_free(SmLabelSplit *split);
