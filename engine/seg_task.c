#include "seg_task.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agglomerate.h"
#include "connected_components.h"
#include "metrics.h"
#include "watershed.h"

void seg_task_targets(SegTask task, float *target, uint8_t *valid, const uint32_t *lab, int D,
                      int H, int W) {
  size_t V = (size_t)D * H * W, HW = (size_t)H * W;
  memset(valid, 1, task == SEG_TASK_NEURONS ? 3 * V : task == SEG_TASK_MITO ? 2 * V : V);
  for (int z = 0; z < D; z++)
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        size_t v = (size_t)z * HW + (size_t)y * W + x;
        uint32_t l = lab[v];
        if (task == SEG_TASK_NEURONS) {
          const int at[3] = {z, y, x};
          const size_t step[3] = {HW, (size_t)W, 1};
          for (int c = 0; c < 3; c++) {
            size_t o = (size_t)c * V + v;
            if (at[c] == 0) {
              target[o] = 0.f, valid[o] = 0;
              continue;
            }
            target[o] = l != 0 && lab[v - step[c]] == l ? 1.f : 0.f;
          }
        } else if (task == SEG_TASK_MITO) {
          target[v] = l != 0;
          int contour = 0;
          if (l) {
            if (y > 0 && lab[v - W] != l)
              contour = 1;
            if (y + 1 < H && lab[v + W] != l)
              contour = 1;
            if (x > 0 && lab[v - 1] != l)
              contour = 1;
            if (x + 1 < W && lab[v + 1] != l)
              contour = 1;
          }
          target[V + v] = (float)contour;
        } else {
          target[v] = l == 0;
        }
      }
}

static float sigmoidf(float x) { return 1.f / (1.f + expf(-x)); }

double seg_loss_bce_dice(float *dlogits, const float *logits, const float *target,
                         const uint8_t *valid, int B, int OUT, size_t V) {
  double total = 0;
  for (int c = 0; c < OUT; c++) {
    double n = 0, pos = 0, inter = 0, sum_p = 0, sum_t = 0;
    for (int b = 0; b < B; b++) {
      size_t o = ((size_t)b * OUT + c) * V;
      for (size_t i = 0; i < V; i++) {
        if (valid && !valid[o + i])
          continue;
        float p = sigmoidf(logits[o + i]), t = target[o + i];
        n += 1, pos += t, inter += p * t, sum_p += p, sum_t += t;
      }
    }
    if (n == 0)
      continue;
    /* class balance: each class weighs half (clamped so a class of a few
     * voxels cannot dominate) */
    double f = pos / n;
    if (f < 0.01)
      f = 0.01;
    if (f > 0.99)
      f = 0.99;
    double w_pos = 0.5 / f, w_neg = 0.5 / (1 - f);
    double bce = 0;
    double S = sum_p + sum_t + 1, dice = (2 * inter + 1) / S;
    for (int b = 0; b < B; b++) {
      size_t o = ((size_t)b * OUT + c) * V;
      for (size_t i = 0; i < V; i++) {
        if (valid && !valid[o + i]) {
          if (dlogits)
            dlogits[o + i] = 0.f;
          continue;
        }
        float x = logits[o + i], t = target[o + i], p = sigmoidf(x);
        double w = t > 0.5f ? w_pos : w_neg;
        /* log(1 + e^-|x|) form: stable for large |x| */
        double l = fmax(x, 0) - x * t + log1p(exp(-fabs(x)));
        bce += w * l;
        if (dlogits) {
          double g_bce = w * (p - t) / n;
          double ddice_dp = (2 * t * S - (2 * inter + 1)) / (S * S);
          double g_dice = -0.5 * ddice_dp * p * (1 - p);
          dlogits[o + i] = (float)((g_bce + g_dice) / OUT);
        }
      }
    }
    total += bce / n + 0.5 * (1 - dice);
  }
  return total / OUT;
}

static int pp_fail(MaeError *err, const PpError *pe) {
  return mae_error_set(err, "%s", pe->message);
}

int64_t seg_task_instances(SegTask task, uint32_t *labels, const float *probs,
                           const int64_t dims[3], MaeError *err) {
  PpError pe = {{0}};
  size_t V = (size_t)(dims[0] * dims[1] * dims[2]);
  int64_t k;
  if (task == SEG_TASK_NEURONS) {
    uint32_t *frag = malloc(V * sizeof(uint32_t));
    if (!frag)
      return mae_error_set(err, "seg_task: out of memory");
    k = ws_affinity_fragments(frag, probs, dims, 0.1f, 10, CC_CONN_PLANE4, &pe);
    if (k >= 0)
      k = agglo_mean_affinity(labels, frag, probs, dims, 0.5, &pe);
    free(frag);
  } else if (task == SEG_TASK_MITO) {
    MitoWatershedParams mp;
    ws_mito_default_params(&mp);
    k = ws_mito_instances(labels, probs, probs + V, dims, &mp, &pe);
  } else {
    k = ws_seeds_below_f32(labels, probs, dims, 0.5f, 10, CC_CONN_PLANE4, &pe);
    if (k >= 0 && ws_seeded_f32(labels, probs, NULL, dims, CC_CONN_PLANE4, &pe))
      k = -1;
  }
  if (k < 0)
    return pp_fail(err, &pe);
  return k;
}

int seg_task_score(SegTask task, SegScores *out, const uint32_t *pred, const float *probs,
                   const uint32_t *truth, const int64_t dims[3], MaeError *err) {
  PpError pe = {{0}};
  size_t V = (size_t)(dims[0] * dims[1] * dims[2]);
  memset(out, 0, sizeof *out);
  uint32_t *cells = NULL;
  const uint32_t *t = truth;
  if (task == SEG_TASK_MEMBRANE) {
    uint8_t *fg = malloc(V);
    cells = malloc(V * sizeof(uint32_t));
    if (!fg || !cells) {
      free(fg), free(cells);
      return mae_error_set(err, "seg_task: out of memory");
    }
    for (size_t i = 0; i < V; i++)
      fg[i] = truth[i] != 0;
    int64_t k = cc_label_u8(cells, fg, dims, CC_CONN_PLANE4, &pe);
    free(fg);
    if (k < 0) {
      free(cells);
      return pp_fail(err, &pe);
    }
    t = cells;
  }
  ContingencyTable table;
  if (metrics_contingency(&table, t, pred, V, &pe)) {
    free(cells);
    return pp_fail(err, &pe);
  }
  int rc = 0;
  if (task == SEG_TASK_MITO) {
    double thr = 0.75, ap;
    OverlapScores ov;
    rc = metrics_average_precision(&ap, &table, &thr, 1, NULL, NULL, &pe);
    metrics_foreground_overlap(&ov, &table);
    *out = (SegScores){ap, ov.dice, 0, "ap75", "dice"};
  } else {
    RandScores rs;
    rc = metrics_adapted_rand(&rs, &table, &pe);
    if (task == SEG_TASK_NEURONS) {
      VoiScores vs;
      if (!rc)
        rc = metrics_voi(&vs, &table, true, &pe);
      *out = (SegScores){rs.error, vs.split + vs.merge, 1, "arand", "voi"};
    } else {
      double inter = 0, np = 0, nt = 0;
      for (size_t i = 0; i < V; i++) {
        int p = probs[i] < 0.5f, tr = truth[i] != 0;
        inter += p && tr, np += p, nt += tr;
      }
      double dice = np + nt > 0 ? 2 * inter / (np + nt) : 1;
      *out = (SegScores){rs.error, dice, 1, "arand", "dice"};
    }
  }
  metrics_contingency_free(&table);
  free(cells);
  if (rc)
    return pp_fail(err, &pe);
  return 0;
}
