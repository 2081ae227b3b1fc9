#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_hash.h"

__extension__ typedef unsigned __int128 u128;  // sums of squared counts overflow 64 bits past 2^32 voxels

typedef struct Cell {
  uint64_t key;  // truth << 32 | pred
  uint64_t count;
} Cell;

static int cell_order(const void *a, const void *b) {
  const uint64_t x = ((const Cell *)a)->key, y = ((const Cell *)b)->key;
  return (x > y) - (x < y);
}

int metrics_contingency(ContingencyTable *t, const uint32_t *truth, const uint32_t *pred,
                        size_t n, PpError *err) {
  memset(t, 0, sizeof *t);
  t->voxels = n;
  U64Map map;
  if (u64map_init(&map, 4096) != 0) return pp_error_set(err, "metrics.c: out of memory");
  // Neighbouring voxels usually share both labels: count runs, hash once per run.
  uint64_t run_key = 0, run_len = 0;
  for (size_t i = 0; i < n; i++) {
    const uint64_t key = u64map_pair(truth[i], pred[i]);
    if (key == run_key) {
      run_len++;
      continue;
    }
    if (run_len) {
      uint64_t *slot = u64map_upsert(&map, run_key, NULL);
      if (!slot) goto oom;
      *slot += run_len;
    }
    run_key = key;
    run_len = 1;
  }
  if (run_len) {
    uint64_t *slot = u64map_upsert(&map, run_key, NULL);
    if (!slot) goto oom;
    *slot += run_len;
  }
  Cell *cells = malloc((map.count ? map.count : 1) * sizeof *cells);
  t->truth = malloc((map.count ? map.count : 1) * sizeof *t->truth);
  t->pred = malloc((map.count ? map.count : 1) * sizeof *t->pred);
  t->count = malloc((map.count ? map.count : 1) * sizeof *t->count);
  if (!cells || !t->truth || !t->pred || !t->count) {
    free(cells);
    goto oom;
  }
  size_t k = 0;
  uint64_t key, value;
  for (size_t it = 0; u64map_next(&map, &it, &key, &value);) cells[k++] = (Cell){key, value};
  qsort(cells, k, sizeof *cells, cell_order);
  for (size_t j = 0; j < k; j++) {
    t->truth[j] = (uint32_t)(cells[j].key >> 32);
    t->pred[j] = (uint32_t)cells[j].key;
    t->count[j] = cells[j].count;
  }
  t->n_pairs = k;
  free(cells);
  u64map_free(&map);
  return 0;
oom:
  u64map_free(&map);
  metrics_contingency_free(t);
  return pp_error_set(err, "metrics.c: out of memory for the contingency table");
}

void metrics_contingency_free(ContingencyTable *t) {
  free(t->truth);
  free(t->pred);
  free(t->count);
  memset(t, 0, sizeof *t);
}

/* Sums of the prediction marginals over the cells kept by the filter. */
static int pred_marginals(U64Map *sizes, const ContingencyTable *t, bool ignore_truth_zero) {
  if (u64map_init(sizes, 1024) != 0) return -1;
  for (size_t j = 0; j < t->n_pairs; j++) {
    if (ignore_truth_zero && t->truth[j] == 0) continue;
    uint64_t *slot = u64map_upsert(sizes, t->pred[j], NULL);
    if (!slot) return -1;
    *slot += t->count[j];
  }
  return 0;
}

int metrics_adapted_rand(RandScores *out, const ContingencyTable *t, PpError *err) {
  out->error = out->precision = out->recall = NAN;
  u128 total = 0, sum_cells2 = 0, sum_truth2 = 0, sum_pred2 = 0;
  for (size_t j = 0; j < t->n_pairs;) {  // runs of one truth label
    const uint32_t label = t->truth[j];
    u128 size = 0;
    for (; j < t->n_pairs && t->truth[j] == label; j++) {
      if (label == 0) continue;
      size += t->count[j];
      sum_cells2 += (u128)t->count[j] * t->count[j];
    }
    sum_truth2 += size * size;
    total += size;
  }
  U64Map pred;
  if (pred_marginals(&pred, t, true) != 0) {
    u64map_free(&pred);
    return pp_error_set(err, "metrics.c: out of memory");
  }
  uint64_t key, value;
  for (size_t it = 0; u64map_next(&pred, &it, &key, &value);) sum_pred2 += (u128)value * value;
  u64map_free(&pred);
  if (sum_pred2 == total || sum_truth2 == total)
    return pp_error_set(err, "metrics.c: adapted Rand error undefined: no two voxels share a "
                             "non-zero truth label or a predicted label");
  const double pairs = (double)(sum_cells2 - total);
  out->precision = pairs / (double)(sum_pred2 - total);
  out->recall = pairs / (double)(sum_truth2 - total);
  out->error = 1.0 - 2.0 * out->precision * out->recall / (out->precision + out->recall);
  if (pairs == 0) out->error = 1.0;
  return 0;
}

int metrics_voi(VoiScores *out, const ContingencyTable *t, bool ignore_truth_zero, PpError *err) {
  out->split = out->merge = NAN;
  uint64_t total = 0;
  for (size_t j = 0; j < t->n_pairs; j++)
    if (!(ignore_truth_zero && t->truth[j] == 0)) total += t->count[j];
  if (total == 0) return pp_error_set(err, "metrics.c: no voxel left to compare");
  U64Map pred;
  if (pred_marginals(&pred, t, ignore_truth_zero) != 0) {
    u64map_free(&pred);
    return pp_error_set(err, "metrics.c: out of memory");
  }
  double split = 0, merge = 0;
  for (size_t j = 0; j < t->n_pairs;) {
    const uint32_t label = t->truth[j];
    size_t end = j;
    uint64_t size = 0;
    for (; end < t->n_pairs && t->truth[end] == label; end++) size += t->count[end];
    if (!(ignore_truth_zero && label == 0))
      for (; j < end; j++) {
        const double c = (double)t->count[j];
        const double p = (double)*u64map_find(&pred, t->pred[j]);
        split += c * log2((double)size / c);
        merge += c * log2(p / c);
      }
    j = end;
  }
  u64map_free(&pred);
  out->split = split / (double)total;
  out->merge = merge / (double)total;
  return 0;
}

typedef struct Detection {
  uint32_t id;
  double score;
  double best_iou;
} Detection;

static int detection_order(const void *a, const void *b) {
  const Detection *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

int metrics_average_precision(double *ap, const ContingencyTable *t,
                              const double *iou_thresholds, int n_thresholds,
                              MetricsScoreFn score, void *user, PpError *err) {
  U64Map pred_size, pred_index;
  Detection *det = NULL;
  double *precision = NULL, *recall = NULL;
  int status = 0;
  if (u64map_init(&pred_size, 1024) != 0 || u64map_init(&pred_index, 1024) != 0) {
    u64map_free(&pred_size);
    return pp_error_set(err, "metrics.c: out of memory");
  }
  // Whole-instance sizes, background of the other side included.
  size_t n_det = 0, n_truth = 0;
  for (size_t j = 0; j < t->n_pairs; j++) {
    if (t->pred[j] == 0) continue;
    bool inserted;
    uint64_t *slot = u64map_upsert(&pred_size, t->pred[j], &inserted);
    if (!slot) goto oom;
    *slot += t->count[j];
    if (inserted) {
      uint64_t *index = u64map_upsert(&pred_index, t->pred[j], NULL);
      if (!index) goto oom;
      *index = n_det++;
    }
  }
  det = malloc((n_det ? n_det : 1) * sizeof *det);
  precision = malloc((n_det ? n_det : 1) * sizeof *precision);
  recall = malloc((n_det ? n_det : 1) * sizeof *recall);
  if (!det || !precision || !recall) goto oom;
  {
    uint64_t key, value;
    for (size_t it = 0; u64map_next(&pred_size, &it, &key, &value);) {
      Detection *d = &det[*u64map_find(&pred_index, key)];
      d->id = (uint32_t)key;
      d->score = score ? score((uint32_t)key, user) : (double)value;
      d->best_iou = 0;
    }
  }
  // Best IoU per prediction; the table runs by increasing truth id and only a
  // strictly better IoU replaces, so ties go to the lowest truth id.
  for (size_t j = 0; j < t->n_pairs;) {
    const uint32_t label = t->truth[j];
    size_t end = j;
    uint64_t size = 0;
    for (; end < t->n_pairs && t->truth[end] == label; end++) size += t->count[end];
    if (label != 0) {
      n_truth++;
      for (; j < end; j++) {
        if (t->pred[j] == 0) continue;
        const double inter = (double)t->count[j];
        const double p = (double)*u64map_find(&pred_size, t->pred[j]);
        const double iou = inter / (p + (double)size - inter);
        Detection *d = &det[*u64map_find(&pred_index, t->pred[j])];
        if (iou > d->best_iou) d->best_iou = iou;
      }
    }
    j = end;
  }
  qsort(det, n_det, sizeof *det, detection_order);
  for (int th = 0; th < n_thresholds; th++) {
    if (n_truth == 0) {
      ap[th] = -1;
      continue;
    }
    double tp = 0, fp = 0;
    for (size_t r = 0; r < n_det; r++) {
      if (det[r].best_iou >= iou_thresholds[th]) tp++;
      else fp++;
      recall[r] = tp / (double)n_truth;
      precision[r] = tp / (fp + tp + 2.220446049250313e-16);  // numpy's spacing(1)
    }
    for (size_t r = n_det; r-- > 1;)
      if (precision[r] > precision[r - 1]) precision[r - 1] = precision[r];
    double sum = 0;
    size_t r = 0;
    for (int k = 0; k <= 100; k++) {
      const double point = 0.01 * k;
      while (r < n_det && recall[r] < point) r++;
      if (r == n_det) break;
      sum += precision[r];
    }
    ap[th] = sum / 101.0;
  }
  goto done;
oom:
  status = pp_error_set(err, "metrics.c: out of memory");
done:
  free(det);
  free(precision);
  free(recall);
  u64map_free(&pred_size);
  u64map_free(&pred_index);
  return status;
}

void metrics_foreground_overlap(OverlapScores *out, const ContingencyTable *t) {
  uint64_t both = 0, in_pred = 0, in_truth = 0;
  for (size_t j = 0; j < t->n_pairs; j++) {
    const bool p = t->pred[j] != 0, q = t->truth[j] != 0;
    if (p) in_pred += t->count[j];
    if (q) in_truth += t->count[j];
    if (p && q) both += t->count[j];
  }
  const uint64_t either = in_pred + in_truth - both;
  out->dice = in_pred + in_truth ? 2.0 * (double)both / (double)(in_pred + in_truth) : 1.0;
  out->iou = either ? (double)both / (double)either : 1.0;
}
