/* Tasks of the segmentation network: training targets from instance labels,
 * the loss, and instances from predicted probabilities.
 *
 * Targets (channels of OUT at every voxel, valid = 0 where undefined):
 *   neurons  - 3 nearest-neighbour affinities; channel c at voxel v is 1 when
 *              v and its neighbour one step back along axis c (z, y, x) carry
 *              the same non-zero label (watershed.h's convention); boundary
 *              voxels (label 0) have affinity 0 to everything; invalid at the
 *              crop's first plane along c.
 *   mito     - foreground (label != 0) and instance contour (foreground voxels
 *              with an in-slice 4-neighbour of another label, 1 voxel wide).
 *   membrane - 1 channel, membrane = label 0 (ISBI 2012: 0 = membrane).
 * Loss per channel: class-balanced BCE (positives and negatives weigh half
 * each) + 0.5 * soft Dice (smooth 1), averaged over channels. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mae_config.h"
#include "seg_net.h"

void seg_task_targets(SegTask task,
                      float *target,          // (OUT, D, H, W) in {0, 1}
                      uint8_t *valid,         // (OUT, D, H, W) 1 = counts in the loss
                      const uint32_t *labels, // (D, H, W) instance ids, 0 = boundary/background
                      int D, int H, int W);

/* Returns the loss of B samples; dlogits (may be NULL) gets its gradient
 * (overwritten). */
double seg_loss_bce_dice(float *dlogits,       // (B, OUT, V) or NULL
                         const float *logits,  // (B, OUT, V)
                         const float *target,  // (B, OUT, V)
                         const uint8_t *valid, // (B, OUT, V) or NULL (all valid)
                         int B, int OUT, size_t V);

/* Instances from probabilities of the task's channels (sigmoids of the
 * logits) over a whole volume; labels 1..K, 0 = boundary/background.
 *   neurons  - 2D fragments (watershed on 1 - mean affinity from seeds below
 *              0.1 of >= 10 voxels per slice), then mean-affinity
 *              agglomeration down to 0.5;
 *   mito     - the MitoEM seeded watershed (watershed.h defaults);
 *   membrane - per slice: seeds = 4-connected regions of membrane
 *              probability < 0.5 of >= 10 voxels, grown by watershed over the
 *              membrane probability (every voxel labelled).
 * Returns K or -1 with err set. */
int64_t seg_task_instances(SegTask task,
                           uint32_t *labels,   // (Z, Y, X)
                           const float *probs, // (OUT, Z, Y, X)
                           const int64_t dims[3], MaeError *err);

/* The task's validation scores of predicted instances (and probabilities)
 * against truth instance labels:
 *   neurons  - primary = adapted Rand error (lower is better); second = VOI
 *              split + merge;
 *   mito     - primary = AP at IoU 0.75 (higher); second = foreground Dice;
 *   membrane - primary = adapted Rand error of the cells (truth: 4-connected
 *              regions of label != 0 in each slice); second = Dice of the
 *              cell interiors (membrane probability < 0.5 vs label != 0). */
typedef struct SegScores {
  double primary, second;
  int lower_is_better;
  const char *primary_name, *second_name;
} SegScores;
int seg_task_score(SegTask task, SegScores *out,
                   const uint32_t *pred,  // (Z, Y, X)
                   const float *probs,    // (OUT, Z, Y, X)
                   const uint32_t *truth, // (Z, Y, X)
                   const int64_t dims[3], MaeError *err);
