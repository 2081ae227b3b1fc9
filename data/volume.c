/* SmVolume basics (dtypes, allocation, value range) and the entry points that
 * pick a reader from the path: a file (TIFF or PNG, by its magic bytes), a
 * folder of slices, or a glob. */
#include "volume.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "volume_io.h"

static const struct {
  const char *name;
  size_t size;
  bool integer;
} dtype_table[SM_DTYPE_COUNT] = {
  [SM_U8] = {"uint8", 1, true},    [SM_I8] = {"int8", 1, true},
  [SM_U16] = {"uint16", 2, true},  [SM_I16] = {"int16", 2, true},
  [SM_U32] = {"uint32", 4, true},  [SM_I32] = {"int32", 4, true},
  [SM_F32] = {"float32", 4, false},
};

size_t sm_dtype_size(SmDtype t) {
  return (unsigned)t < SM_DTYPE_COUNT ? dtype_table[t].size : 0;
}

const char *sm_dtype_name(SmDtype t) {
  return (unsigned)t < SM_DTYPE_COUNT ? dtype_table[t].name : "unknown";
}

bool sm_dtype_is_integer(SmDtype t) {
  return (unsigned)t < SM_DTYPE_COUNT && dtype_table[t].integer;
}

int sm_error_prefix(SmError *err, const char *path) {
  if (!err) return -1;
  char inner[sizeof err->message];
  memcpy(inner, err->message, sizeof inner);
  return sm_error_set(err, "%s: %s", path, inner);
}

/* Physical memory in bytes, or 0 when the system does not say. */
static uint64_t physical_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return (uint64_t)pages * (uint64_t)page_size;
}

/* SEMMAE_MAX_VOLUME_BYTES caps volume allocations (0 or unset: no cap):
 * for sandboxes, and for the fuzz test, whose corrupted headers claim
 * volumes of many gigabytes. */
static uint64_t allocation_limit(void) {
  const char *s = getenv("SEMMAE_MAX_VOLUME_BYTES");
  return s && *s ? strtoull(s, NULL, 10) : 0;
}

int sm_volume_alloc(SmVolume *v, SmDtype t, int64_t nz, int64_t ny, int64_t nx,
                    SmError *err) {
  memset(v, 0, sizeof *v);
  if ((unsigned)t >= SM_DTYPE_COUNT)
    return sm_error_set(err, "volume: unknown dtype %d", (int)t);
  if (nz <= 0 || ny <= 0 || nx <= 0)
    return sm_error_set(err, "volume: empty shape %lld x %lld x %lld", (long long)nz,
                        (long long)ny, (long long)nx);
  uint64_t voxels, bytes;
  if (__builtin_mul_overflow((uint64_t)nz, (uint64_t)ny, &voxels) ||
      __builtin_mul_overflow(voxels, (uint64_t)nx, &voxels) ||
      __builtin_mul_overflow(voxels, (uint64_t)sm_dtype_size(t), &bytes) ||
      bytes > (uint64_t)PTRDIFF_MAX)
    return sm_error_set(err, "volume %lld x %lld x %lld %s is too large to address",
                        (long long)nz, (long long)ny, (long long)nx, sm_dtype_name(t));
  /* With overcommit, calloc of more than the machine has may "succeed" and
   * the process be killed later; refuse such sizes up front instead. */
  uint64_t physical = physical_memory();
  uint64_t limit = allocation_limit();
  if (limit && bytes > limit)
    return sm_error_set(err,
                        "volume %lld x %lld x %lld %s needs %llu bytes, more than "
                        "SEMMAE_MAX_VOLUME_BYTES allows (%llu)",
                        (long long)nz, (long long)ny, (long long)nx, sm_dtype_name(t),
                        (unsigned long long)bytes, (unsigned long long)limit);
  if (physical && bytes > physical)
    return sm_error_set(err,
                        "volume %lld x %lld x %lld %s needs %.1f GiB, more than this "
                        "machine's memory (%.1f GiB)",
                        (long long)nz, (long long)ny, (long long)nx, sm_dtype_name(t),
                        bytes / 1073741824.0, physical / 1073741824.0);
  void *data = calloc(1, (size_t)bytes);
  if (!data)
    return sm_error_set(err, "volume %lld x %lld x %lld %s: cannot allocate %.1f GiB",
                        (long long)nz, (long long)ny, (long long)nx, sm_dtype_name(t),
                        bytes / 1073741824.0);
  v->dtype = t;
  v->nz = nz;
  v->ny = ny;
  v->nx = nx;
  v->voxel_size[0] = v->voxel_size[1] = v->voxel_size[2] = 1.0;
  v->bits_per_sample = (int)(8 * sm_dtype_size(t));
  v->data = data;
  return 0;
}

void sm_volume_free(SmVolume *v) {
  if (!v) return;
  free(v->data);
  v->data = NULL;
}

size_t sm_volume_voxels(const SmVolume *v) {
  return (size_t)v->nz * (size_t)v->ny * (size_t)v->nx;
}

size_t sm_volume_bytes(const SmVolume *v) {
  return sm_volume_voxels(v) * sm_dtype_size(v->dtype);
}

SmFileKind sm_file_kind(const char *path, SmError *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    sm_error_set(err, "%s: %s", path, strerror(errno));
    return SM_FILE_ERROR;
  }
  unsigned char magic[8] = {0};
  ssize_t n = read(fd, magic, sizeof magic);
  int read_errno = errno;
  close(fd);
  if (n < 0) {
    sm_error_set(err, "%s: %s", path, strerror(read_errno));
    return SM_FILE_ERROR;
  }
  if (n == 0) {
    sm_error_set(err, "%s: empty file", path);
    return SM_FILE_ERROR;
  }
  static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n == 8 && memcmp(magic, png_magic, 8) == 0) return SM_FILE_PNG;
  if (n >= 4 && ((magic[0] == 'I' && magic[1] == 'I' && (magic[2] == 42 || magic[2] == 43) &&
                  magic[3] == 0) ||
                 (magic[0] == 'M' && magic[1] == 'M' && magic[2] == 0 &&
                  (magic[3] == 42 || magic[3] == 43))))
    return SM_FILE_TIFF;
  return SM_FILE_OTHER;
}

void sm_warn_sample_zero(const char *path, const SmSliceFormat *f) {
  if (f->samples > 1)
    sm_warn("%s: %d samples per pixel; sample 0 used", path, f->samples);
  else if (f->palette)
    sm_warn("%s: palette image; colour-map indices used as values", path);
}

static bool has_glob_chars(const char *path) {
  return strpbrk(path, "*?[") != NULL;
}

static void copy_format(SmVolume *v, const SmSliceFormat *f) {
  v->dtype = f->dtype;
  v->ny = f->ny;
  v->nx = f->nx;
  v->nz = f->pages;
  memcpy(v->voxel_size, f->voxel_size, sizeof v->voxel_size);
  memcpy(v->unit, f->unit, sizeof v->unit);
  v->bits_per_sample = f->bits;
  v->data = NULL;
}

static void describe_file(SmSourceInfo *info, const SmSliceFormat *f, SmSourceKind kind,
                          int64_t file_bytes) {
  memset(info, 0, sizeof *info);
  info->kind = kind;
  info->files = 1;
  info->pages = f->pages;
  info->file_bytes = file_bytes;
  info->samples_per_pixel = f->samples;
  info->bigtiff = f->bigtiff;
  info->big_endian = f->big_endian;
  info->tiled = f->tiled;
  snprintf(info->format, sizeof info->format, "%s", f->format);
  snprintf(info->compression, sizeof info->compression, "%s", f->compression);
}

/* Which kind of source path names; -1 with err set when it names nothing. */
static int classify(const char *path, struct stat *st, SmError *err) {
  if (!path || !*path) return sm_error_set(err, "(empty path): no volume given");
  if (stat(path, st) == 0) {
    if (S_ISDIR(st->st_mode)) return SM_SOURCE_SLICE_FOLDER;
    if (!S_ISREG(st->st_mode)) return sm_error_set(err, "%s: not a regular file", path);
    return SM_SOURCE_TIFF; /* refined by the magic bytes */
  }
  int e = errno;
  if (e == ENOENT && has_glob_chars(path)) return SM_SOURCE_GLOB;
  return sm_error_set(err, "%s: %s", path, strerror(e));
}

int sm_volume_probe_ex(const char *path, SmVolume *out, SmSourceInfo *info, SmError *err) {
  memset(out, 0, sizeof *out);
  SmSourceInfo scratch_info;
  if (!info) info = &scratch_info;
  memset(info, 0, sizeof *info);
  struct stat st;
  int kind = classify(path, &st, err);
  if (kind < 0) return -1;
  if (kind == SM_SOURCE_SLICE_FOLDER || kind == SM_SOURCE_GLOB)
    return sm_slices_probe(path, kind == SM_SOURCE_GLOB, out, info, err);

  SmSliceFormat f;
  SmFileKind file_kind = sm_file_kind(path, err);
  if (file_kind == SM_FILE_ERROR) return -1;
  if (file_kind == SM_FILE_TIFF) {
    if (sm_tiff_probe(path, &f, err) != 0) return -1;
    describe_file(info, &f, SM_SOURCE_TIFF, st.st_size);
  } else if (file_kind == SM_FILE_PNG) {
    if (sm_png_probe(path, &f, err) != 0) return -1;
    describe_file(info, &f, SM_SOURCE_PNG, st.st_size);
  } else {
    return sm_error_set(err, "%s: not a TIFF or PNG file", path);
  }
  copy_format(out, &f);
  return 0;
}

int sm_volume_probe(const char *path, SmVolume *out, SmError *err) {
  return sm_volume_probe_ex(path, out, NULL, err);
}

int sm_volume_read_ex(const char *path, const SmReadOptions *opts, SmVolume *out,
                      SmError *err) {
  memset(out, 0, sizeof *out);
  struct stat st;
  int kind = classify(path, &st, err);
  if (kind < 0) return -1;
  if (kind == SM_SOURCE_SLICE_FOLDER || kind == SM_SOURCE_GLOB)
    return sm_slices_read(path, kind == SM_SOURCE_GLOB, opts, out, err);

  SmFileKind file_kind = sm_file_kind(path, err);
  if (file_kind == SM_FILE_ERROR) return -1;
  if (file_kind == SM_FILE_TIFF) return sm_tiff_read_volume(path, opts, out, err);
  if (file_kind != SM_FILE_PNG) return sm_error_set(err, "%s: not a TIFF or PNG file", path);

  SmSliceFormat f;
  if (sm_png_probe(path, &f, err) != 0) return -1;
  if (sm_volume_alloc(out, f.dtype, 1, f.ny, f.nx, err) != 0) return sm_error_prefix(err, path);
  void *data = out->data;
  copy_format(out, &f);
  out->data = data;
  if (sm_png_read_slice(path, &f, out->data, err) != 0) {
    sm_volume_free(out);
    return -1;
  }
  sm_warn_sample_zero(path, &f);
  sm_read_progress(opts, 1.0);
  return 0;
}

int sm_volume_read(const char *path, SmVolume *out, SmError *err) {
  return sm_volume_read_ex(path, NULL, out, err);
}

#define RANGE_LOOP(type)                                 \
  do {                                                   \
    const type *p = v->data;                             \
    type lo = p[0], hi = p[0];                           \
    for (size_t i = 1; i < n; i++) {                     \
      if (p[i] < lo) lo = p[i];                          \
      if (p[i] > hi) hi = p[i];                          \
    }                                                    \
    *min = (double)lo;                                   \
    *max = (double)hi;                                   \
  } while (0)

void sm_volume_range(const SmVolume *v, double *min, double *max) {
  *min = *max = 0.0;
  size_t n = v->data ? sm_volume_voxels(v) : 0;
  if (n == 0) return;
  switch (v->dtype) {
  case SM_U8: RANGE_LOOP(uint8_t); break;
  case SM_I8: RANGE_LOOP(int8_t); break;
  case SM_U16: RANGE_LOOP(uint16_t); break;
  case SM_I16: RANGE_LOOP(int16_t); break;
  case SM_U32: RANGE_LOOP(uint32_t); break;
  case SM_I32: RANGE_LOOP(int32_t); break;
  case SM_F32: {
    /* NaNs say nothing about the range; an all-NaN volume reports NaN. */
    const float *p = v->data;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
      if (p[i] < lo) lo = p[i];
      if (p[i] > hi) hi = p[i];
    }
    *min = lo > hi ? NAN : lo;
    *max = lo > hi ? NAN : hi;
    break;
  }
  default: break;
  }
}
