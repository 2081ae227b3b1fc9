/* Labels for fine-tuning: any label volume -> uint32 instance ids.
 *
 * Binary masks (uint8/uint16 volumes whose voxels are at least 99 % either 0
 * or the type's maximum, e.g. 0/255 PNG or TIFF slices; 1-bit PNGs read as
 * 0/255) are thresholded at half range (>= 128 / >= 32768 is foreground)
 * and their instances are the 6-connected components of the foreground
 * (ISBI 2012: cell interiors 255, membranes 0 -> cells, membrane = 0).
 * Otherwise integer values are instance ids (0 = boundary/background);
 * float or negative labels are refused. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "sm_error.h"
#include "volume.h"

/* *out: nz*ny*nx ids (free with free()); *binary tells which rule applied.
 * path only names the file in messages. */
int sm_seg_labels_prepare(const char *path, const SmVolume *labels, uint32_t **out, bool *binary,
                          SmError *err);
