/* Network input scaling (ARCHITECTURE.md, "Data conventions"): uint8 maps
 * x/127.5 - 1; every other type maps its robust percentiles, 0.5 % -> -1 and
 * 99.5 % -> 1, estimated from a fixed pseudo-random sample so that the same
 * volume always gets the same scaling. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/rng.h"
#include "volume.h"

enum { SAMPLE_COUNT = 1 << 18 };
#define SAMPLE_SEED 0x5e3a1e5ca1eULL

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Value at fraction q of the sorted sample (linear interpolation). */
static double quantile(const double *sorted, size_t n, double q) {
  double position = q * (double)(n - 1);
  size_t below = (size_t)position;
  if (below + 1 >= n) return sorted[n - 1];
  double t = position - (double)below;
  return sorted[below] * (1.0 - t) + sorted[below + 1] * t;
}

void sm_volume_scaling(const SmVolume *v, double *lo, double *hi) {
  *lo = -1.0;
  *hi = 1.0;
  size_t n = v->data ? sm_volume_voxels(v) : 0;
  if (v->dtype == SM_U8) {
    *lo = 0.0;
    *hi = 255.0;
    return;
  }
  if (n == 0) return;
  size_t count = n < SAMPLE_COUNT ? n : SAMPLE_COUNT;
  double *sample = malloc(count * sizeof *sample);
  size_t kept = 0;
  if (sample) {
    Rng rng;
    rng_seed(&rng, SAMPLE_SEED);
    for (size_t i = 0; i < count; i++) {
      size_t index = count == n ? i : (size_t)rng_below(&rng, n);
      double x = sm_volume_value(v, index);
      if (isfinite(x)) sample[kept++] = x;
    }
  }
  if (kept > 0) {
    qsort(sample, kept, sizeof *sample, compare_doubles);
    *lo = quantile(sample, kept, 0.005);
    *hi = quantile(sample, kept, 0.995);
  }
  free(sample);
  /* A constant volume (or one constant past the tails) still needs a slope. */
  if (!(*hi > *lo)) *hi = *lo + 1.0;
}

void sm_volume_to_float(const SmVolume *v, float *out, double *lo, double *hi) {
  double l, h;
  sm_volume_scaling(v, &l, &h);
  if (lo) *lo = l;
  if (hi) *hi = h;
  size_t n = v->data ? sm_volume_voxels(v) : 0;
  if (v->dtype == SM_U8) {
    const uint8_t *p = v->data;
    for (size_t i = 0; i < n; i++) out[i] = (float)p[i] / 127.5f - 1.0f;
    return;
  }
  /* out = x * scale + offset, one typed loop per dtype (volumes are large). */
  double scale = 2.0 / (h - l), offset = -l * scale - 1.0;
#define TO_FLOAT(type)                                                   \
  do {                                                                   \
    const type *p = v->data;                                             \
    for (size_t i = 0; i < n; i++) out[i] = (float)(p[i] * scale + offset); \
  } while (0)
  switch (v->dtype) {
  case SM_I8: TO_FLOAT(int8_t); break;
  case SM_U16: TO_FLOAT(uint16_t); break;
  case SM_I16: TO_FLOAT(int16_t); break;
  case SM_U32: TO_FLOAT(uint32_t); break;
  case SM_I32: TO_FLOAT(int32_t); break;
  case SM_F32: {
    /* NaN and infinities would poison a network: they map to 0, the centre. */
    const float *p = v->data;
    for (size_t i = 0; i < n; i++)
      out[i] = isfinite(p[i]) ? (float)(p[i] * scale + offset) : 0.0f;
    break;
  }
  default: break;
  }
#undef TO_FLOAT
}
