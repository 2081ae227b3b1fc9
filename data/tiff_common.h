/* Internal to data/: opening TIFF files with libtiff's messages captured.
 *
 * libtiff reports problems through handlers, by default to stderr. Each file
 * we open gets its own sink (libtiff >= 4.5 per-handle handlers), so a read
 * fails with libtiff's own first error as the one-line reason and nothing is
 * printed; the process-wide handlers are silenced once as a backstop. */
#pragma once

#include <tiffio.h>

#include "sm_error.h"

typedef struct SmTiffSink {
  char message[400]; /* first error libtiff reported, "" if none */
  int errors;
} SmTiffSink;

/* mode as for TIFFOpen ("r", "w", "w8"); memory mapping is turned off for
 * reading so that uncompressed strips are read straight into the caller's
 * buffer. On failure returns NULL with "<path>: <reason>" in err. */
TIFF *sm_tiff_open(const char *path, const char *mode, SmTiffSink *sink, SmError *err);

/* "<path>: <what>: <libtiff's reason>" (or without the reason if none). */
int sm_tiff_fail(SmError *err, const char *path, const SmTiffSink *sink, const char *what);
