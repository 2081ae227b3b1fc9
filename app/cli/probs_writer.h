/* The probability maps of `semmae segment`, written slice by slice as they
 * come out of the sliding windows: one float32 multi-page TIFF of C*Z pages,
 * channel-major (all Z pages of channel 0, then channel 1, ...), deflate with
 * the floating-point predictor and ImageJ's description, the same file
 * sm_volume_write makes of the (C*Z, Y, X) volume. Channel 0 goes straight
 * into the TIFF; channels 1.. wait in an unlinked temporary file until the
 * last slice. The TIFF is written beside the target and renamed over it
 * only by probs_writer_finish (data/atomic_file.h). Memory: one slice. */
#pragma once

#include <stdint.h>

#include "sm_error.h"

typedef struct ProbsWriter ProbsWriter;

int probs_writer_open(ProbsWriter **out, const char *path, int channels, int64_t nz, int64_t ny,
                      int64_t nx, const double voxel_size[3], const char *unit, SmError *err);
/* slice z (0, 1, 2, ... in order) of every channel */
int probs_writer_slice(ProbsWriter *w, int64_t z,
                       const float *probs, // (C, Y, X)
                       SmError *err);
/* after slice Z - 1: the remaining channels, then the rename; frees w */
int probs_writer_finish(ProbsWriter *w, SmError *err);
/* removes the temporary and frees w (NULL is fine) */
void probs_writer_abort(ProbsWriter *w);
