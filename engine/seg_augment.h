/* Training crops for the segmentation network with augmentation applied
 * identically to image and labels: a random origin, flips along z, y, x and
 * a y/x transpose (together: the 90-degree rotations and reflections of the
 * y/x plane; the transpose only for square crops), small misalignment (from
 * a random slice on, the rest of the crop is shifted by up to 4 voxels in y
 * and x, edges replicated), then on the image only an intensity jitter
 * (contrast and brightness +-10 %) and a missing section (one slice set to
 * 0 = mid grey). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

typedef struct SegAugment {
  int enabled;       /* 0: plain random crops */
  double p_misalign; /* 0.1 */
  double p_missing;  /* 0.05 */
  double jitter;     /* 0.1 */
} SegAugment;

void seg_augment_default(SegAugment *a);

/* vol/lab (Z, Y, X) with Z >= D, Y >= H, X >= W. */
void seg_sample_crop(float *img,            // (D, H, W)
                     uint32_t *crop_labels, // (D, H, W)
                     const float *vol,      // (Z, Y, X)
                     const uint32_t *lab,   // (Z, Y, X)
                     const int64_t dims[3], int D, int H, int W, const SegAugment *a, Rng *rng);
