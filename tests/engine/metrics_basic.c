/* Metrics on hand-made cases with answers worked out by hand, and on a small
 * pseudo-random case against scikit-image 0.19.3. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "tap.h"

static bool close_to(double a, double b, double tol) { return fabs(a - b) <= tol; }

typedef struct Scores {
  RandScores rand;
  VoiScores voi, voi_all;
  OverlapScores overlap;
  double ap[2];
  int rand_status;
} Scores;

static Scores score(const uint32_t *truth, const uint32_t *pred, size_t n) {
  Scores s;
  ContingencyTable t;
  PpError err;
  const double th[2] = {0.5, 0.75};
  metrics_contingency(&t, truth, pred, n, &err);
  s.rand_status = metrics_adapted_rand(&s.rand, &t, &err);
  metrics_voi(&s.voi, &t, true, &err);
  metrics_voi(&s.voi_all, &t, false, &err);
  metrics_foreground_overlap(&s.overlap, &t);
  metrics_average_precision(s.ap, &t, th, 2, NULL, NULL, &err);
  metrics_contingency_free(&t);
  return s;
}

static void test_identical(void) {
  const uint32_t a[8] = {1, 1, 2, 2, 2, 3, 3, 0};
  const uint32_t b[8] = {5, 5, 9, 9, 9, 4, 4, 0};  // same partition, other ids
  Scores s = score(a, b, 8);
  TAP_OK(s.rand.error == 0 && s.rand.precision == 1 && s.rand.recall == 1,
         "identical partitions: arand 0, precision = recall = 1");
  TAP_OK(s.voi.split == 0 && s.voi.merge == 0, "identical partitions: VOI 0 / 0");
  // precision = tp / (tp + fp + eps) as the reference, so "1" is 1 - 2e-16.
  TAP_OK(close_to(s.ap[0], 1, 1e-12) && close_to(s.ap[1], 1, 1e-12), "identical instances: AP50 = AP75 = 1");
  TAP_OK(s.overlap.dice == 1 && s.overlap.iou == 1, "identical foregrounds: dice = iou = 1");
}

/* Truth: two segments of 4 voxels. Full merge (one predicted segment):
 * pairs in both = 2 * (16 - 4) = 24 of the ordered pairs; predicted pairs
 * 64 - 8 = 56, true pairs 32 - 8 = 24: precision 24/56 = 3/7, recall 1,
 * error = 1 - 2 (3/7) / (10/7) = 1 - 0.6 = 0.4. VOI: split 0, merge = H(truth)
 * = 1 bit. Full split (8 singletons): no pair joined: precision 0/0 is
 * undefined, recall 0; VOI split = H(pred | truth) = log2 4 = 2, merge 0. */
static void test_merge_and_split(void) {
  const uint32_t truth[8] = {1, 1, 1, 1, 2, 2, 2, 2};
  const uint32_t merged[8] = {3, 3, 3, 3, 3, 3, 3, 3};
  Scores s = score(truth, merged, 8);
  TAP_OK(close_to(s.rand.precision, 3.0 / 7.0, 1e-15) && s.rand.recall == 1 &&
             close_to(s.rand.error, 0.4, 1e-15),
         "full merge: precision 3/7, recall 1, arand 0.4 (got %.17g %.17g %.17g)", s.rand.precision,
         s.rand.recall, s.rand.error);
  TAP_OK(s.voi.split == 0 && close_to(s.voi.merge, 1.0, 1e-15), "full merge: VOI split 0, merge 1 bit");
  // AP: one prediction of IoU 4/8 = 0.5 with truth 1 (ties go to the lower id):
  // TP at 0.5, recall 1/2 -> precision 1 for recall points 0..0.5 (51 of 101).
  TAP_OK(close_to(s.ap[0], 51.0 / 101.0, 1e-15) && s.ap[1] == 0, "full merge: AP50 = 51/101, AP75 = 0");

  const uint32_t split[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  s = score(truth, split, 8);
  TAP_OK(s.rand_status == -1, "full split: adapted Rand precision undefined, reported as an error");
  TAP_OK(close_to(s.voi.split, 2.0, 1e-15) && s.voi.merge == 0, "full split: VOI split 2 bits, merge 0");
  TAP_OK(s.ap[0] == 0 && s.ap[1] == 0, "full split: AP 0 (every IoU 1/4)");
}

/* Three truth segments {A: 3 voxels, B: 2, C: 1}; the prediction moves one
 * voxel of A into B's segment:
 *   truth 1 1 1 2 2 3    pred 1 1 2 2 2 3
 * cells: (1,1) 2, (1,2) 1, (2,2) 2, (3,3) 1; N = 6.
 * sum n^2 - N = 4+1+4+1-6 = 4; truth sizes 3,2,1 -> 9+4+1-6 = 8;
 * pred sizes 2,3,1 -> 4+9+1-6 = 8. precision = recall = 1/2, arand 1/2.
 * VOI split = 3/6 * H(2/3, 1/3) = 0.5 * 0.918295834 = 0.459147917;
 * merge = 3/6 * H(1/3, 2/3) (pred 2 holds 1 of A and 2 of B) = 0.459147917. */
static void test_small_worked(void) {
  const uint32_t truth[6] = {1, 1, 1, 2, 2, 3};
  const uint32_t pred[6] = {1, 1, 2, 2, 2, 3};
  Scores s = score(truth, pred, 6);
  const double h = -(2.0 / 3) * log2(2.0 / 3) - (1.0 / 3) * log2(1.0 / 3);
  TAP_OK(close_to(s.rand.error, 0.5, 1e-15) && close_to(s.rand.precision, 0.5, 1e-15),
         "worked example: arand 0.5");
  TAP_OK(close_to(s.voi.split, 0.5 * h, 1e-15) && close_to(s.voi.merge, 0.5 * h, 1e-15),
         "worked example: VOI split = merge = 0.5 H(1/3) = %.9f", 0.5 * h);
  // AP: sizes pred 2 (3 voxels) > pred 1 (2) > pred 3 (1). IoUs: pred 2 best
  // with B: 2/(3+2-2) = 2/3; pred 1 with A: 2/3; pred 3 with C: 1. All >= 0.5:
  // 3 TPs of 3 -> AP50 = 1. At 0.75 only pred 3 (ranked last): precision
  // after the envelope 1/3 at recall 1/3 -> points 0..0.33 (34 of 101) get 1/3.
  TAP_OK(close_to(s.ap[0], 1, 1e-12) && close_to(s.ap[1], 34.0 / 3.0 / 101.0, 1e-12),
         "worked example: AP50 1, AP75 = 34/303 (got %.17g)", s.ap[1]);

  // Foreground overlap: truth fg 4 voxels, pred fg 3, overlap 2.
  const uint32_t t2[6] = {1, 1, 1, 1, 0, 0}, p2[6] = {0, 0, 5, 5, 5, 0};
  s = score(t2, p2, 6);
  TAP_OK(close_to(s.overlap.dice, 4.0 / 7.0, 1e-15) && close_to(s.overlap.iou, 2.0 / 5.0, 1e-15),
         "foreground overlap: dice 4/7, iou 2/5");
}

/* Truth label 0 is ignored by arand (and by VOI when asked); prediction 0 is
 * an ordinary segment. Values from scikit-image 0.19.3:
 *   /usr/bin/python3 -c "import numpy as np; from skimage.metrics import
 *   adapted_rand_error as a, variation_of_information as v;
 *   i=np.arange(120); t=((i*7919)%13)%5; p=((i*104729)%17)%6;
 *   print(a(t,p), v(t,p), v(t,p,ignore_labels=[0]))"
 * -> (0.7993197278911565, 0.16809116809116809, 0.2489451476793249)
 *    [2.379720564334702, 2.1047373731448156] [2.3790943137330975, 1.8232176481500684]
 * skimage's second and third values are our recall and precision (see
 * metrics.h). */
static void test_skimage_pseudo_random(void) {
  uint32_t truth[120], pred[120];
  for (int64_t i = 0; i < 120; i++) {
    truth[i] = (uint32_t)(((i * 7919) % 13) % 5);
    pred[i] = (uint32_t)(((i * 104729) % 17) % 6);
  }
  Scores s = score(truth, pred, 120);
  TAP_OK(close_to(s.rand.error, 0.7993197278911565, 1e-14), "arand = skimage (%.17g)", s.rand.error);
  TAP_OK(close_to(s.rand.recall, 0.16809116809116809, 1e-14) &&
             close_to(s.rand.precision, 0.2489451476793249, 1e-14),
         "precision/recall = skimage's (recall, precision)");
  TAP_OK(close_to(s.voi_all.split, 2.379720564334702, 1e-12) &&
             close_to(s.voi_all.merge, 2.1047373731448156, 1e-12),
         "VOI keeping truth 0 = skimage default (%.17g, %.17g)", s.voi_all.split, s.voi_all.merge);
  TAP_OK(close_to(s.voi.split, 2.3790943137330975, 1e-12) &&
             close_to(s.voi.merge, 1.8232176481500684, 1e-12),
         "VOI ignoring truth 0 = skimage ignore_labels=[0] (%.17g, %.17g)", s.voi.split, s.voi.merge);
}

static void test_large_ids_and_errors(void) {
  // Ids near 2^32 - 1 go through the hash map's side slot.
  const uint32_t truth[4] = {UINT32_MAX, UINT32_MAX, 1, 1};
  const uint32_t pred[4] = {UINT32_MAX, UINT32_MAX, 0, 0};
  Scores s = score(truth, pred, 4);
  TAP_OK(s.rand.error == 0 && s.voi.split == 0 && s.voi.merge == 0, "ids up to 2^32-1 work");
  PpError err;
  ContingencyTable t;
  const uint32_t zeros[3] = {0, 0, 0};
  metrics_contingency(&t, zeros, zeros, 3, &err);
  RandScores r;
  VoiScores v;
  TAP_OK(metrics_adapted_rand(&r, &t, &err) == -1 && metrics_voi(&v, &t, true, &err) == -1,
         "all-background truth: clear error (%s)", err.message);
  double ap[1];
  const double th = 0.5;
  metrics_average_precision(ap, &t, &th, 1, NULL, NULL, &err);
  TAP_OK(ap[0] == -1, "AP with no truth instance is -1 (as the MitoEM code)");
  metrics_contingency_free(&t);
}

int main(void) {
  test_identical();
  test_merge_and_split();
  test_small_worked();
  test_skimage_pseudo_random();
  test_large_ids_and_errors();
  return tap_done();
}
