/* Internal to data/: the pieces the volume readers and writers share.
 * Not for use outside data/ (the public API is volume.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "volume.h"

/* What a 2D image file (or a TIFF's first page) holds, from its header. */
typedef struct SmSliceFormat {
  int64_t ny, nx;         /* page size */
  int64_t pages;          /* main pages (reduced-resolution pages skipped) */
  SmDtype dtype;
  int bits;               /* significant bits per sample (8, 12, 16, 32) */
  int samples;            /* samples per pixel; sample 0 is read */
  bool palette;           /* values are colour-map indices (as stored) */
  double voxel_size[3];   /* (z, y, x) */
  char unit[16];
  bool bigtiff, big_endian, tiled;
  char format[16];        /* "TIFF", "BigTIFF", "PNG" */
  char compression[24];
} SmSliceFormat;

/* TIFF (tiff_read.c). probe reads every page's header and checks that all
 * pages agree; read_volume allocates and fills out; read_slice decodes page 0
 * of a one-page file into dst (ny*nx of expect->dtype) after checking that it
 * matches expect. */
int sm_tiff_probe(const char *path, SmSliceFormat *fmt, SmError *err);
int sm_tiff_read_volume(const char *path, const SmReadOptions *opts, SmVolume *out,
                        SmError *err);
int sm_tiff_read_slice(const char *path, const SmSliceFormat *expect, void *dst,
                       const SmReadOptions *opts, SmError *err);

/* PNG (png_slice.c): 8/16-bit grey; RGB and grey+alpha give their first
 * channel; palette images their indices, as stored (like ImageJ's LUT
 * images); 1/2/4-bit grey is scaled to 8 bits (1-bit -> 0/255). */
int sm_png_probe(const char *path, SmSliceFormat *fmt, SmError *err);
int sm_png_read_slice(const char *path, const SmSliceFormat *expect, void *dst,
                      SmError *err);

/* Folders and globs of 2D slices (slice_folder.c). */
int sm_slices_probe(const char *path, bool is_glob, SmVolume *out, SmSourceInfo *info,
                    SmError *err);
int sm_slices_read(const char *path, bool is_glob, const SmReadOptions *opts,
                   SmVolume *out, SmError *err);

/* Whether a volume written as classic TIFF could pass 4 GiB (tiff_write.c);
 * looks only at the shape and dtype. */
bool sm_tiff_needs_bigtiff(const SmVolume *v);

/* Which reader a file needs, from its first bytes. */
typedef enum SmFileKind { SM_FILE_TIFF, SM_FILE_PNG, SM_FILE_OTHER } SmFileKind;
SmFileKind sm_file_kind(const char *path, SmError *err); /* -1 cast on I/O error */
#define SM_FILE_ERROR ((SmFileKind) - 1)

/* Natural order: digit runs compare as numbers ("2" < "10"). natural_sort.c */
int sm_natural_compare(const char *a, const char *b);
void sm_natural_sort(char **names, size_t n);

/* Units: "micron", "\u00B5m", "µm" -> "um"; "nanometer" -> "nm"; "pixel" -> "".
 * Parses ImageJ's ImageDescription ("ImageJ=...\nspacing=...\nunit=..."). */
void sm_unit_normalize(const char *in, char out[16]);
bool sm_imagej_parse(const char *description, double *spacing, char unit[16],
                     int64_t *images);

/* OME-TIFF: PhysicalSize{X,Y,Z} (and their units, default um) from the
 * OME-XML description; fills the axes it finds. */
bool sm_ome_parse(const char *description, double voxel[3], char unit[16]);

/* Warns once that sample 0 of several, or colour-map indices, are used. */
void sm_warn_sample_zero(const char *path, const SmSliceFormat *f);

/* Progress and cancellation helpers (opts may be NULL). */
static inline bool sm_read_cancelled(const SmReadOptions *o) {
  /* Read atomically: reader threads poll the flag the caller sets. */
  return o && o->cancel && __atomic_load_n(o->cancel, __ATOMIC_RELAXED);
}
static inline void sm_read_progress(const SmReadOptions *o, double fraction) {
  if (o && o->progress) o->progress(fraction, o->user);
}

/* Copies err's message to "<path>: <message>" without overlapping buffers. */
int sm_error_prefix(SmError *err, const char *path);
