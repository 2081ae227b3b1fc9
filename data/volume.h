/* Volumes: one typed 3D array (z, y, x), x fastest, plus its voxel size.
 *
 * Reading accepts a multi-page TIFF/BigTIFF, a folder of 2D TIFF/PNG slices
 * (natural order: 2 < 10), or a glob; writing produces a deflate-compressed
 * TIFF (BigTIFF past 4 GiB) through write-then-rename. Every call returns 0 on
 * success or -1 with a one-line "<file>: <reason>" in err. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sm_error.h"

typedef enum SmDtype {
  SM_U8,
  SM_I8,
  SM_U16,
  SM_I16,
  SM_U32,
  SM_I32,
  SM_F32,
  SM_DTYPE_COUNT,
} SmDtype;

size_t sm_dtype_size(SmDtype t);
const char *sm_dtype_name(SmDtype t); /* "uint8", "int16", "float32", ... */
bool sm_dtype_is_integer(SmDtype t);

typedef struct SmVolume {
  SmDtype dtype;
  int64_t nz, ny, nx;     /* shape, (z, y, x) */
  double voxel_size[3];   /* (z, y, x) in unit; 1 when the file does not say */
  char unit[16];          /* "nm", "um", ... or "" when unknown */
  int bits_per_sample;    /* significant bits as stored (12 for 12-bit data) */
  void *data;             /* nz*ny*nx elements of dtype; NULL after a probe */
} SmVolume;

/* Element i of the volume's data as a double, whatever its dtype. */
static inline double sm_volume_value(const SmVolume *v, size_t i) {
  switch (v->dtype) {
  case SM_U8: return ((const uint8_t *)v->data)[i];
  case SM_I8: return ((const int8_t *)v->data)[i];
  case SM_U16: return ((const uint16_t *)v->data)[i];
  case SM_I16: return ((const int16_t *)v->data)[i];
  case SM_U32: return ((const uint32_t *)v->data)[i];
  case SM_I32: return ((const int32_t *)v->data)[i];
  case SM_F32: return ((const float *)v->data)[i];
  default: return 0.0;
  }
}

/* Progress and cancellation for long reads (may be NULL). progress is called
 * from the reading thread with a fraction in [0, 1]; a non-zero *cancel makes
 * the read stop and fail with "<file>: cancelled". Reader threads poll
 * *cancel with an atomic load; set it from another thread with
 * __atomic_store_n(&flag, 1, __ATOMIC_RELAXED) (or g_atomic_int_set). */
typedef struct SmReadOptions {
  void (*progress)(double fraction, void *user);
  void *user;
  const volatile int *cancel;
} SmReadOptions;

/* Zero-filled allocation; fails cleanly (no abort) when it cannot be had:
 * on overflow, above physical memory, above SEMMAE_MAX_VOLUME_BYTES (if set
 * in the environment), or when calloc fails. */
int sm_volume_alloc(SmVolume *v, SmDtype t, int64_t nz, int64_t ny, int64_t nx,
                    SmError *err);
void sm_volume_free(SmVolume *v);
size_t sm_volume_voxels(const SmVolume *v);
size_t sm_volume_bytes(const SmVolume *v);

/* Shape, dtype and voxel size without reading the pixels (data = NULL). */
int sm_volume_probe(const char *path, SmVolume *out, SmError *err);

/* Reads the whole volume; costs about one copy of the data in memory.
 * Slices of a folder and pages of a multi-page TIFF are decoded by several
 * threads (SEMMAE_READ_THREADS, default the processors online, at most 8);
 * progress still comes from the caller's thread: one call per slice or page,
 * and within a single-page TIFF at most every 0.5 %. Voxel size comes from
 * ImageJ's description, OME-XML, or the resolution tags (PNG: pHYs). */
int sm_volume_read(const char *path, SmVolume *out, SmError *err);
int sm_volume_read_ex(const char *path, const SmReadOptions *opts, SmVolume *out,
                      SmError *err);

/* Writes a multi-page TIFF (deflate, BigTIFF when needed, ImageJ-style
 * description with spacing/unit) via a temporary file and rename. */
int sm_volume_write(const char *path, const SmVolume *v, SmError *err);

/* Value range (min, max) over all voxels, in double. */
void sm_volume_range(const SmVolume *v, double *min, double *max);

/* Network input scaling (ARCHITECTURE.md): uint8 -> x/127.5 - 1; other types
 * map their robust percentiles (0.5 % -> -1, 99.5 % -> 1), estimated from a
 * sample. *lo and *hi receive the values mapped to -1 and 1. out holds
 * nz*ny*nx floats; NaN and infinite float voxels map to 0. */
void sm_volume_to_float(const SmVolume *v, float *out, double *lo, double *hi);
/* The (lo, hi) that sm_volume_to_float would use, without converting. */
void sm_volume_scaling(const SmVolume *v, double *lo, double *hi);

/* ---- Extensions (additive; everything above keeps its meaning) ---------- */

/* Where a volume comes from, as `semmae info` and the studio report it. */
typedef enum SmSourceKind {
  SM_SOURCE_TIFF,         /* one (multi-page) TIFF or BigTIFF file */
  SM_SOURCE_PNG,          /* one PNG file: a single slice */
  SM_SOURCE_SLICE_FOLDER, /* a folder of 2D TIFF/PNG slices */
  SM_SOURCE_GLOB,         /* a glob pattern matching 2D slices */
} SmSourceKind;

typedef struct SmSourceInfo {
  SmSourceKind kind;
  int64_t files;          /* files that make up the volume */
  int64_t pages;          /* TIFF pages or slices read into z */
  int64_t file_bytes;     /* their total size on disk */
  int samples_per_pixel;  /* of the first page; > 1 means sample 0 was taken */
  bool bigtiff;           /* first file is a BigTIFF */
  bool big_endian;        /* first file is big-endian (Motorola) */
  bool tiled;             /* first page is stored in tiles, not strips */
  char format[16];        /* "TIFF", "BigTIFF" or "PNG" (first file) */
  char compression[24];   /* "none", "deflate", "lzw", ... (first page) */
} SmSourceInfo;

/* sm_volume_probe plus a description of the source (info may be NULL). */
int sm_volume_probe_ex(const char *path, SmVolume *out, SmSourceInfo *info, SmError *err);

typedef struct SmWriteOptions {
  bool force_bigtiff; /* BigTIFF even when the file stays under 4 GiB (tests) */
  int deflate_level;  /* 1 (fast) .. 9 (small); 0 = default (6) */
  /* As in SmReadOptions: progress once per page written, from the calling
   * thread; a non-zero *cancel stops the write, leaving nothing behind, and
   * fails with "<file>: cancelled". Both may be NULL. */
  void (*progress)(double fraction, void *user);
  void *user;
  const volatile int *cancel;
} SmWriteOptions;

/* sm_volume_write with options (opts may be NULL). sm_volume_write also
 * honours SEMMAE_FORCE_BIGTIFF=1 in the environment. */
int sm_volume_write_ex(const char *path, const SmVolume *v, const SmWriteOptions *opts,
                       SmError *err);
