/* Segmentation metrics from a contingency table of (truth, prediction)
 * label pairs. Labels are uint32 ids in volumes of n voxels (any shape, the
 * same for both).
 *
 * Definitions (checked against scikit-image 0.19.3 and the MitoEM
 * evaluation code in the tests):
 *
 * Adapted Rand error (SNEMI3D; skimage.metrics.adapted_rand_error):
 *   voxels whose truth label is 0 are left out; n_ij = voxels with truth i
 *   and prediction j, t_i = sum_j n_ij, p_j = sum_i n_ij, N = sum n_ij;
 *   pairs = sum n_ij^2 - N (ordered pairs of voxels together in both),
 *   precision = pairs / (sum_j p_j^2 - N)  (of the pairs the prediction
 *   joins, the share the truth joins too), recall = pairs / (sum_i t_i^2 - N),
 *   error = 1 - 2 precision recall / (precision + recall).
 *   Prediction label 0 is an ordinary segment, as in skimage. When no pair
 *   agrees (pairs = 0) the error is 1 (skimage: 0/0 = NaN). NOTE: skimage
 *   0.19.3 returns (error, recall, precision) in our terms: its code divides
 *   by the truth pairs for what it calls precision (scikit-image issue
 *   #6485); the error is symmetric and identical. We follow the documented
 *   meaning: an over-segmentation has high precision and low recall.
 *
 * Variation of information (skimage.metrics.variation_of_information(truth,
 * pred)), in bits, with p_ij = n_ij / N:
 *   split = H(pred | truth) = -sum p_ij log2(p_ij / p_i)   (false splits)
 *   merge = H(truth | pred) = -sum p_ij log2(p_ij / p_j)   (false merges)
 *   skimage returns [split, merge] in this order. skimage ignores nothing by
 *   default; metrics_voi takes the choice (`semmae eval` leaves truth 0 out,
 *   like the adapted Rand error and CREMI).
 *
 * Average precision at an IoU threshold (MitoEM; the mAP_3Dvolume code of
 *   the MitoEM challenge, "all" area range): instances are the non-zero
 *   labels; each prediction is matched to the truth instance of highest IoU
 *   (IoU over whole instances, background included); predictions are ranked
 *   by score (default: size in voxels, as the challenge does without score
 *   files; ties: lower id first); a prediction is a true positive when its
 *   best IoU >= threshold. Precision is made monotone from the right and read
 *   at the 101 recall points 0, 0.01, ..., 1 (first rank whose recall reaches
 *   the point; 0 past the last rank); AP is their mean. With no truth
 *   instance AP is -1 (as the reference), with no prediction 0. As in the
 *   reference, matching is not exclusive; above IoU 0.5 it is one-to-one
 *   anyway (two disjoint predictions cannot both cover most of a truth).
 *
 * Dice and IoU of the foregrounds P, T (label != 0): 2 |P and T| / (|P| + |T|)
 *   and |P and T| / |P or T|; both 1 when both foregrounds are empty. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "postproc_error.h"

/* The non-empty cells of the contingency table, sorted by (truth, pred). */
typedef struct ContingencyTable {
  size_t n_pairs;
  uint32_t *truth;   // (n_pairs)
  uint32_t *pred;    // (n_pairs)
  uint64_t *count;   // (n_pairs) voxels with this (truth, pred)
  uint64_t voxels;   // n
} ContingencyTable;

/* Counts every (truth, pred) pair of n voxels with a hash map (runs of equal
 * pairs counted once): O(n) time, memory proportional to the distinct pairs.
 * Returns 0 or -1. */
int metrics_contingency(ContingencyTable *table,
                        const uint32_t *truth,  // (n)
                        const uint32_t *pred,   // (n)
                        size_t n, PpError *err);
void metrics_contingency_free(ContingencyTable *table);

typedef struct RandScores {
  double error, precision, recall;
} RandScores;

typedef struct VoiScores {
  double split, merge;  /* bits */
} VoiScores;

/* Adapted Rand error, truth label 0 ignored. Returns -1 when no pair of
 * voxels is left to count (then the scores are NaN). */
int metrics_adapted_rand(RandScores *out, const ContingencyTable *table, PpError *err);

/* VOI split and merge; ignore_truth_zero leaves out voxels of truth 0.
 * Returns -1 when no voxel is left. */
int metrics_voi(VoiScores *out, const ContingencyTable *table, bool ignore_truth_zero,
                PpError *err);

/* Average precision at each of n_thresholds IoU thresholds (MitoEM).
 * score(pred_id, user) ranks the predictions; NULL ranks by size. */
typedef double (*MetricsScoreFn)(uint32_t pred_id, void *user);
int metrics_average_precision(double *ap,  // (n_thresholds)
                              const ContingencyTable *table, const double *iou_thresholds,
                              int n_thresholds, MetricsScoreFn score, void *user,
                              PpError *err);

typedef struct OverlapScores {
  double dice, iou;
} OverlapScores;

/* Dice and IoU of the foreground masks (label != 0). */
void metrics_foreground_overlap(OverlapScores *out, const ContingencyTable *table);
