/* Writing volumes as multi-page TIFF: one page per z, deflate with a
 * predictor (horizontal for integers, floating-point for float32), ImageJ's
 * description and resolution tags for the voxel size, BigTIFF when the file
 * could pass 4 GiB. Bytes go to a temporary file that is renamed over the
 * target only when everything was written (atomic_file.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "tiff_common.h"
#include "volume_io.h"

/* Aim for strips of about this many bytes: large enough for deflate to do
 * well, small enough that the strip copy stays cheap. */
enum { TARGET_STRIP_BYTES = 256 * 1024 };

static bool env_forces_bigtiff(void) {
  const char *s = getenv("SEMMAE_FORCE_BIGTIFF");
  return s && *s && strcmp(s, "0") != 0;
}

/* Classic TIFF addresses 4 GiB. Deflate can grow incompressible data a
 * little, and every page adds a directory: count generously. */
bool sm_tiff_needs_bigtiff(const SmVolume *v) {
  uint64_t bytes = sm_volume_bytes(v);
  uint64_t worst = bytes + bytes / 256 + (uint64_t)v->nz * 4096 + (1u << 20);
  return worst >= UINT32_MAX;
}

static void imagej_description(const SmVolume *v, char *out, size_t size) {
  /* ImageJ spells micrometres "micron"; our reader maps it back to "um". */
  char clean_unit[sizeof v->unit];
  size_t n_unit = 0;
  for (const char *c = v->unit; *c && n_unit + 1 < sizeof clean_unit; c++)
    if ((unsigned char)*c >= ' ' && *c != '=') clean_unit[n_unit++] = *c; /* one line each */
  clean_unit[n_unit] = '\0';
  const char *unit = strcmp(clean_unit, "um") == 0 ? "micron" : clean_unit;
  int n = snprintf(out, size, "ImageJ=1.11a\nimages=%lld\n", (long long)v->nz);
  if (v->nz > 1 && n > 0 && (size_t)n < size)
    n += snprintf(out + n, size - n, "slices=%lld\n", (long long)v->nz);
  if (unit[0] && n > 0 && (size_t)n < size) n += snprintf(out + n, size - n, "unit=%s\n", unit);
  if (n > 0 && (size_t)n < size)
    n += snprintf(out + n, size - n, "spacing=%.17g\nloop=false\n", v->voxel_size[0]);
}

/* The system's reason (disk full, file too large) says more than libtiff's
 * "Write error at scanline 0". */
static int write_failed(SmError *err, const char *path, const SmTiffSink *sink, int e) {
  if (e) return sm_error_set(err, "%s: cannot write: %s", path, strerror(e));
  return sm_tiff_fail(err, path, sink, "cannot write");
}

static int write_pages(TIFF *tif, const SmVolume *v, const SmWriteOptions *opts,
                       const char *path, SmTiffSink *sink, SmError *err) {
  size_t sample = sm_dtype_size(v->dtype);
  size_t row_bytes = (size_t)v->nx * sample;
  uint32_t rows_per_strip = (uint32_t)(TARGET_STRIP_BYTES / row_bytes);
  if (rows_per_strip < 1) rows_per_strip = 1;
  if (rows_per_strip > v->ny) rows_per_strip = (uint32_t)v->ny;
  /* libtiff's predictor rewrites the buffer it is given: hand it a copy. */
  uint8_t *strip = malloc(row_bytes * rows_per_strip);
  if (!strip) return sm_error_set(err, "%s: out of memory", path);
  uint16_t sample_format = v->dtype == SM_F32                          ? SAMPLEFORMAT_IEEEFP
                           : (v->dtype == SM_I8 || v->dtype == SM_I16 || v->dtype == SM_I32)
                               ? SAMPLEFORMAT_INT
                               : SAMPLEFORMAT_UINT;
  uint16_t predictor = v->dtype == SM_F32 ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL;
  int level = opts && opts->deflate_level >= 1 && opts->deflate_level <= 9 ? opts->deflate_level : 6;
  char description[512];
  imagej_description(v, description, sizeof description);
  size_t page_bytes = row_bytes * (size_t)v->ny;
  int rc = 0;
  for (int64_t z = 0; rc == 0 && z < v->nz; z++) {
    TIFFSetField(tif, TIFFTAG_SUBFILETYPE, v->nz > 1 ? FILETYPE_PAGE : 0);
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)v->nx);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)v->ny);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)(8 * sample));
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)1);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, sample_format);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rows_per_strip);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(tif, TIFFTAG_PREDICTOR, predictor);
    TIFFSetField(tif, TIFFTAG_ZIPQUALITY, level);
    TIFFSetField(tif, TIFFTAG_XRESOLUTION, (float)(1.0 / v->voxel_size[2]));
    TIFFSetField(tif, TIFFTAG_YRESOLUTION, (float)(1.0 / v->voxel_size[1]));
    TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
    if (z == 0) TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, description);
    const uint8_t *page = (const uint8_t *)v->data + (size_t)z * page_bytes;
    for (uint32_t row = 0; rc == 0 && row < v->ny; row += rows_per_strip) {
      uint32_t rows = (uint32_t)v->ny - row < rows_per_strip ? (uint32_t)v->ny - row : rows_per_strip;
      size_t bytes = rows * row_bytes;
      memcpy(strip, page + row * row_bytes, bytes);
      errno = 0;
      if (TIFFWriteEncodedStrip(tif, row / rows_per_strip, strip, (tmsize_t)bytes) < 0)
        rc = write_failed(err, path, sink, errno);
    }
    errno = 0;
    if (rc == 0 && !TIFFWriteDirectory(tif)) rc = write_failed(err, path, sink, errno);
    if (rc == 0 && opts && opts->progress) opts->progress((double)(z + 1) / (double)v->nz, opts->user);
    if (rc == 0 && opts && opts->cancel && __atomic_load_n(opts->cancel, __ATOMIC_RELAXED))
      rc = sm_error_set(err, "%s: cancelled", path);
  }
  free(strip);
  return rc;
}

int sm_volume_write_ex(const char *path, const SmVolume *v, const SmWriteOptions *opts,
                       SmError *err) {
  if (!v || !v->data || (unsigned)v->dtype >= SM_DTYPE_COUNT)
    return sm_error_set(err, "%s: nothing to write (empty volume)", path);
  if (v->nz <= 0 || v->ny <= 0 || v->nx <= 0 || v->ny > UINT32_MAX || v->nx > UINT32_MAX)
    return sm_error_set(err, "%s: cannot write a volume of shape %lld x %lld x %lld", path,
                        (long long)v->nz, (long long)v->ny, (long long)v->nx);
  for (int i = 0; i < 3; i++)
    if (!(v->voxel_size[i] > 0) || v->voxel_size[i] > 1e30)
      return sm_error_set(err, "%s: invalid voxel size %g", path, v->voxel_size[i]);
  bool bigtiff = (opts && opts->force_bigtiff) || env_forces_bigtiff() || sm_tiff_needs_bigtiff(v);

  SmAtomicFile af;
  if (sm_atomic_begin(&af, path, err) != 0) return -1;
  /* libtiff opens the temporary by name; our descriptor is not needed. */
  close(af.fd);
  af.fd = -1;
  SmTiffSink sink;
  SmError open_err;
  TIFF *tif = sm_tiff_open(af.tmp_path, bigtiff ? "w8" : "w", &sink, &open_err);
  if (!tif) {
    sm_atomic_abort(&af);
    return sm_tiff_fail(err, path, &sink, "cannot write");
  }
  int rc = write_pages(tif, v, opts, path, &sink, err);
  TIFFClose(tif);
  if (rc == 0 && sink.errors) rc = sm_tiff_fail(err, path, &sink, "cannot write");
  if (rc != 0) {
    sm_atomic_abort(&af);
    return -1;
  }
  return sm_atomic_commit(&af, err);
}

int sm_volume_write(const char *path, const SmVolume *v, SmError *err) {
  return sm_volume_write_ex(path, v, NULL, err);
}
