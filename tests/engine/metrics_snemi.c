/* Metrics on real labels (../shared/em-data/snemi-mini, 32 x 160 x 160):
 * truth = train-labels.tif, prediction = train-fragments.tif (an
 * over-segmentation), against values computed independently:
 *
 * scikit-image 0.19.3, numpy 1.24.2, tifffile 2023.2.3:
 *   /usr/bin/python3 -c "import tifffile as tf; from skimage.metrics import
 *   adapted_rand_error as a, variation_of_information as v;
 *   d='../shared/em-data/snemi-mini/'; t=tf.imread(d+'train-labels.tif');
 *   p=tf.imread(d+'train-fragments.tif'); print(a(t,p), v(t,p))"
 *   -> (0.9374027420789812, 0.03251129959586218, 0.8391059150029027)
 *      [5.656483824385295, 0.550661311540445]   (same with ignore_labels=[0])
 *   skimage's (precision, recall) are our (recall, precision): metrics.h.
 *   For the prediction np.roll(t, 3, axis=2):
 *   -> (0.17013604103915414, 0.829863958960846, 0.829863958960846)
 *      [0.677809211976339, 0.6778092119763386]
 *
 * AP: a numpy port of the MitoEM challenge code (mAP_3Dvolume seg_iou3d +
 * VOL3Deval.accumulate, area "all", score = size, stable order), run as
 * ap3d(pred, truth) with the same volumes:
 *   fragments     -> AP50 4.714757190004715e-05, AP75 0.0
 *   roll 3 in x   -> AP50 0.8856045024792334,   AP75 0.5245167373880244
 *   roll 10 in x  -> AP50 0.4489142191530077,   AP75 0.007920792079207921 */
#include <math.h>

#include "postproc_test_util.h"
#include "tap.h"

static bool close_to(double a, double b, double tol) { return fabs(a - b) <= tol; }

static void ap_of(double ap[2], const uint32_t *truth, const uint32_t *pred, size_t n) {
  ContingencyTable t;
  PpError err;
  const double th[2] = {0.5, 0.75};
  metrics_contingency(&t, truth, pred, n, &err);
  metrics_average_precision(ap, &t, th, 2, NULL, NULL, &err);
  metrics_contingency_free(&t);
}

/* pred(z, y, x) = truth(z, y, (x - shift) mod nx), as np.roll(t, shift, axis=2). */
static uint32_t *rolled(const uint32_t *truth, const int64_t d[3], int64_t shift) {
  uint32_t *p = malloc((size_t)(d[0] * d[1] * d[2]) * sizeof *p);
  for (int64_t zy = 0; zy < d[0] * d[1]; zy++)
    for (int64_t x = 0; x < d[2]; x++) p[zy * d[2] + x] = truth[zy * d[2] + ((x - shift) % d[2] + d[2]) % d[2]];
  return p;
}

int main(void) {
  const char *em = tap_em_data();
  if (!em) return tap_skip_all("../shared/em-data is absent");
  int64_t dt[3], dp[3];
  uint32_t *truth = pp_test_read(em, "snemi-mini/train-labels.tif", SM_U32, dt);
  uint32_t *frag = pp_test_read(em, "snemi-mini/train-fragments.tif", SM_U32, dp);
  if (!truth || !frag) return tap_skip_all("snemi-mini could not be read");
  TAP_OK(dt[0] == 32 && dt[1] == 160 && dt[2] == 160 && memcmp(dt, dp, sizeof dt) == 0,
         "snemi-mini shapes 32 x 160 x 160");
  const size_t n = (size_t)(dt[0] * dt[1] * dt[2]);

  RandScores r = pp_test_arand(truth, frag, n);
  VoiScores v = pp_test_voi(truth, frag, n);
  tap_diag("fragments: arand %.17g precision %.17g recall %.17g voi split %.17g merge %.17g", r.error,
           r.precision, r.recall, v.split, v.merge);
  TAP_OK(close_to(r.error, 0.9374027420789812, 1e-12), "arand = skimage 0.9374027420789812");
  TAP_OK(close_to(r.precision, 0.8391059150029027, 1e-12) && close_to(r.recall, 0.03251129959586218, 1e-12),
         "precision 0.8391, recall 0.0325 (skimage's pair, swapped)");
  TAP_OK(close_to(v.split, 5.656483824385295, 1e-10) && close_to(v.merge, 0.550661311540445, 1e-10),
         "VOI split 5.6565, merge 0.5507 = skimage");

  uint32_t *shift3 = rolled(truth, dt, 3);
  r = pp_test_arand(truth, shift3, n);
  v = pp_test_voi(truth, shift3, n);
  TAP_OK(close_to(r.error, 0.17013604103915414, 1e-12) && close_to(r.precision, 0.829863958960846, 1e-12),
         "rolled by 3: arand %.6f = skimage", r.error);
  TAP_OK(close_to(v.split, 0.677809211976339, 1e-10) && close_to(v.merge, 0.6778092119763386, 1e-10),
         "rolled by 3: VOI = skimage");

  double ap[2];
  ap_of(ap, truth, frag, n);
  TAP_OK(close_to(ap[0], 4.714757190004715e-05, 1e-15) && ap[1] == 0,
         "fragments: AP50 %.17g AP75 %.17g = MitoEM code", ap[0], ap[1]);
  ap_of(ap, truth, shift3, n);
  TAP_OK(close_to(ap[0], 0.8856045024792334, 1e-12) && close_to(ap[1], 0.5245167373880244, 1e-12),
         "rolled by 3: AP50 %.6f AP75 %.6f = MitoEM code", ap[0], ap[1]);
  uint32_t *shift10 = rolled(truth, dt, 10);
  ap_of(ap, truth, shift10, n);
  TAP_OK(close_to(ap[0], 0.4489142191530077, 1e-12) && close_to(ap[1], 0.007920792079207921, 1e-12),
         "rolled by 10: AP50 %.6f AP75 %.6f = MitoEM code", ap[0], ap[1]);

  free(truth), free(frag), free(shift3), free(shift10);
  return tap_done();
}
