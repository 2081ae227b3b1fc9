/* A phantom image and its labels as the files a studio run opens. */
#pragma once

#include "data/phantom.h"
#include "data/volume.h"

/* Writes an nz x ny x nx phantom to image_path and its labels to
 * labels_path; the volumes stay in image / labels (the caller frees them).
 * -1 with err set when generating or writing fails. */
static inline int
phantom_files_write (const char *image_path, const char *labels_path, int64_t nz, int64_t ny, int64_t nx,
                     SmVolume *image, SmVolume *labels, SmError *err)
{
  SmPhantomParams params;
  sm_phantom_default_params (&params);
  params.nz = nz, params.ny = ny, params.nx = nx;
  if (sm_phantom_generate (&params, image, labels, NULL, err) != 0 || sm_volume_write (image_path, image, err) != 0 ||
      sm_volume_write (labels_path, labels, err) != 0)
    return -1;
  return 0;
}
