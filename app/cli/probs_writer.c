#include "probs_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

#include "atomic_file.h"

/* strips of about this many bytes, as data/tiff_write.c */
enum { STRIP_BYTES = 256 * 1024 };

struct ProbsWriter {
  SmAtomicFile af;
  TIFF *tif;
  FILE *spill; /* channels 1.. of every slice so far, (Z, C - 1, Y, X) */
  int C;
  int64_t Z, Y, X, next_z, pages;
  double voxel_size[3];
  char description[512];
  uint8_t *strip;
  uint32_t rows_per_strip;
  float *page; /* one page read back from the spill */
};

static int fail(SmError *err, const ProbsWriter *w, const char *what) {
  if (errno)
    return sm_error_set(err, "%s: %s: %s", w->af.path, what, strerror(errno));
  return sm_error_set(err, "%s: %s", w->af.path, what);
}

static void describe(ProbsWriter *w, const char *unit) {
  /* ImageJ spells micrometres "micron" (data/tiff_write.c does the same) */
  const char *u = strcmp(unit, "um") == 0 ? "micron" : unit;
  long long pages = (long long)w->C * w->Z;
  int n = snprintf(w->description, sizeof w->description, "ImageJ=1.11a\nimages=%lld\n", pages);
  if (pages > 1)
    n += snprintf(w->description + n, sizeof w->description - n, "slices=%lld\n", pages);
  if (u[0] && !strchr(u, '\n') && !strchr(u, '='))
    n += snprintf(w->description + n, sizeof w->description - n, "unit=%s\n", u);
  snprintf(w->description + n, sizeof w->description - n, "spacing=%.17g\nloop=false\n",
           w->voxel_size[0]);
}

static int write_page(ProbsWriter *w, const float *page, SmError *err) {
  TIFF *t = w->tif;
  int pages = w->C * w->Z > 1;
  TIFFSetField(t, TIFFTAG_SUBFILETYPE, pages ? FILETYPE_PAGE : 0);
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)w->X);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)w->Y);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)32);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)1);
  TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, w->rows_per_strip);
  TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
  TIFFSetField(t, TIFFTAG_PREDICTOR, PREDICTOR_FLOATINGPOINT);
  TIFFSetField(t, TIFFTAG_ZIPQUALITY, 6);
  TIFFSetField(t, TIFFTAG_XRESOLUTION, (float)(1.0 / w->voxel_size[2]));
  TIFFSetField(t, TIFFTAG_YRESOLUTION, (float)(1.0 / w->voxel_size[1]));
  TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
  if (w->pages++ == 0)
    TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, w->description);
  size_t row = (size_t)w->X * sizeof(float);
  for (uint32_t y = 0; y < w->Y; y += w->rows_per_strip) {
    uint32_t rows = (uint32_t)w->Y - y < w->rows_per_strip ? (uint32_t)w->Y - y : w->rows_per_strip;
    /* the predictor rewrites the buffer it is given: hand it a copy */
    memcpy(w->strip, (const uint8_t *)page + y * row, rows * row);
    errno = 0;
    if (TIFFWriteEncodedStrip(t, y / w->rows_per_strip, w->strip, (tmsize_t)(rows * row)) < 0)
      return fail(err, w, "cannot write");
  }
  errno = 0;
  if (!TIFFWriteDirectory(t))
    return fail(err, w, "cannot write");
  return 0;
}

int probs_writer_open(ProbsWriter **out, const char *path, int channels, int64_t nz, int64_t ny,
                      int64_t nx, const double voxel_size[3], const char *unit, SmError *err) {
  *out = NULL;
  if (channels < 1 || nz < 1 || ny < 1 || nx < 1 || ny > UINT32_MAX || nx > UINT32_MAX)
    return sm_error_set(err, "%s: cannot write probabilities of shape %d x %lld x %lld x %lld",
                        path, channels, (long long)nz, (long long)ny, (long long)nx);
  ProbsWriter *w = calloc(1, sizeof *w);
  if (!w)
    return sm_error_set(err, "%s: out of memory", path);
  w->C = channels, w->Z = nz, w->Y = ny, w->X = nx;
  memcpy(w->voxel_size, voxel_size, sizeof w->voxel_size);
  describe(w, unit ? unit : "");
  size_t row = (size_t)nx * sizeof(float);
  w->rows_per_strip = (uint32_t)(STRIP_BYTES / row < 1 ? 1 : STRIP_BYTES / row);
  if (w->rows_per_strip > ny)
    w->rows_per_strip = (uint32_t)ny;
  w->strip = malloc(row * w->rows_per_strip);
  w->page = malloc(row * (size_t)ny);
  if (!w->strip || !w->page) {
    free(w->strip), free(w->page), free(w);
    return sm_error_set(err, "%s: out of memory", path);
  }
  if (sm_atomic_begin(&w->af, path, err)) {
    free(w->strip), free(w->page), free(w);
    return -1;
  }
  close(w->af.fd); /* libtiff opens the temporary by name */
  w->af.fd = -1;
  /* classic TIFF addresses 4 GiB; deflate may grow random floats a little */
  uint64_t bytes = (uint64_t)channels * nz * ny * row;
  int big = bytes + bytes / 256 + (uint64_t)channels * nz * 4096 + (1u << 20) >= UINT32_MAX;
  errno = 0;
  w->tif = TIFFOpen(w->af.tmp_path, big ? "w8" : "w");
  if (!w->tif) {
    int rc = fail(err, w, "cannot write");
    probs_writer_abort(w);
    return rc;
  }
  if (channels > 1 && !(w->spill = tmpfile())) {
    int rc = fail(err, w, "cannot make a temporary file for the channels");
    probs_writer_abort(w);
    return rc;
  }
  *out = w;
  return 0;
}

int probs_writer_slice(ProbsWriter *w, int64_t z, const float *probs, SmError *err) {
  if (z != w->next_z)
    return sm_error_set(err, "%s: slice %lld out of order", w->af.path, (long long)z);
  size_t YX = (size_t)(w->Y * w->X);
  if (write_page(w, probs, err))
    return -1;
  errno = 0;
  if (w->C > 1 && fwrite(probs + YX, sizeof(float) * YX, (size_t)w->C - 1, w->spill) !=
                      (size_t)w->C - 1)
    return fail(err, w, "cannot write the temporary channel file");
  w->next_z++;
  return 0;
}

int probs_writer_finish(ProbsWriter *w, SmError *err) {
  int rc = 0;
  size_t YX = (size_t)(w->Y * w->X);
  if (w->next_z != w->Z)
    rc = sm_error_set(err, "%s: %lld of %lld slices written", w->af.path, (long long)w->next_z,
                      (long long)w->Z);
  for (int c = 1; rc == 0 && c < w->C; c++)
    for (int64_t z = 0; rc == 0 && z < w->Z; z++) {
      errno = 0;
      if (fseeko(w->spill, (off_t)((z * (w->C - 1) + c - 1) * YX * sizeof(float)), SEEK_SET) ||
          fread(w->page, sizeof(float), YX, w->spill) != YX)
        rc = fail(err, w, "cannot read back the temporary channel file");
      else
        rc = write_page(w, w->page, err);
    }
  if (rc) {
    probs_writer_abort(w);
    return -1;
  }
  TIFFClose(w->tif);
  w->tif = NULL;
  rc = sm_atomic_commit(&w->af, err);
  w->af.tmp_path[0] = '\0';
  probs_writer_abort(w);
  return rc;
}

void probs_writer_abort(ProbsWriter *w) {
  if (!w)
    return;
  if (w->tif)
    TIFFClose(w->tif);
  if (w->af.tmp_path[0])
    sm_atomic_abort(&w->af);
  if (w->spill)
    fclose(w->spill);
  free(w->strip), free(w->page), free(w);
}
