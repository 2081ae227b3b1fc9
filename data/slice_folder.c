/* Volumes made of 2D slices: every TIFF/PNG file in a folder, or every file a
 * glob matches, in natural order (2 < 10). All slices are probed first so
 * that a slice of another size or type is named before anything is read. */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "parallel_items.h"
#include "volume_io.h"

typedef struct SliceList {
  char **paths;
  size_t count, capacity;
} SliceList;

static void free_list(SliceList *l) {
  for (size_t i = 0; i < l->count; i++) free(l->paths[i]);
  free(l->paths);
  memset(l, 0, sizeof *l);
}

static int add_path(SliceList *l, const char *dir, const char *name, SmError *err) {
  if (l->count == l->capacity) {
    size_t capacity = l->capacity ? 2 * l->capacity : 64;
    char **p = realloc(l->paths, capacity * sizeof *p);
    if (!p) return sm_error_set(err, "%s: out of memory", dir ? dir : name);
    l->paths = p;
    l->capacity = capacity;
  }
  size_t n = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
  char *path = malloc(n);
  if (!path) return sm_error_set(err, "%s: out of memory", dir ? dir : name);
  if (dir) snprintf(path, n, "%s/%s", dir, name);
  else snprintf(path, n, "%s", name);
  l->paths[l->count++] = path;
  return 0;
}

static bool is_slice_name(const char *name) {
  if (name[0] == '.') return false; /* hidden files, editors' temporaries */
  const char *dot = strrchr(name, '.');
  return dot && (strcasecmp(dot, ".tif") == 0 || strcasecmp(dot, ".tiff") == 0 ||
                 strcasecmp(dot, ".png") == 0);
}

static int list_folder(const char *dir, SliceList *l, SmError *err) {
  DIR *d = opendir(dir);
  if (!d) return sm_error_set(err, "%s: %s", dir, strerror(errno));
  /* Keep "folder/" readable in messages: no doubled slash. */
  char base[4096];
  snprintf(base, sizeof base, "%s", dir);
  size_t n = strlen(base);
  while (n > 1 && base[n - 1] == '/') base[--n] = '\0';
  int rc = 0;
  for (struct dirent *e; rc == 0 && (e = readdir(d));) {
    if (!is_slice_name(e->d_name)) continue;
    rc = add_path(l, base, e->d_name, err);
  }
  closedir(d);
  if (rc == 0 && l->count == 0)
    rc = sm_error_set(err, "%s: no TIFF or PNG slices in this folder", dir);
  return rc;
}

static int list_glob(const char *pattern, SliceList *l, SmError *err) {
  glob_t g;
  int status = glob(pattern, 0, NULL, &g);
  if (status == GLOB_NOMATCH) return sm_error_set(err, "%s: no files match", pattern);
  if (status != 0) {
    globfree(&g);
    return sm_error_set(err, "%s: cannot expand the pattern", pattern);
  }
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
    struct stat st;
    if (stat(g.gl_pathv[i], &st) != 0 || !S_ISREG(st.st_mode)) continue;
    rc = add_path(l, NULL, g.gl_pathv[i], err);
  }
  globfree(&g);
  if (rc == 0 && l->count == 0) rc = sm_error_set(err, "%s: no files match", pattern);
  return rc;
}

static int list_slices(const char *path, bool is_glob, SliceList *l, SmError *err) {
  memset(l, 0, sizeof *l);
  int rc = is_glob ? list_glob(path, l, err) : list_folder(path, l, err);
  if (rc != 0) {
    free_list(l);
    return -1;
  }
  sm_natural_sort(l->paths, l->count);
  return 0;
}

static int probe_slice(const char *path, SmSliceFormat *f, SmError *err) {
  SmFileKind kind = sm_file_kind(path, err);
  if (kind == SM_FILE_ERROR) return -1;
  if (kind == SM_FILE_TIFF) return sm_tiff_probe(path, f, err);
  if (kind == SM_FILE_PNG) return sm_png_probe(path, f, err);
  return sm_error_set(err, "%s: not a TIFF or PNG file", path);
}

static void format_text(const SmSliceFormat *f, char *out, size_t size) {
  snprintf(out, size, "%lld x %lld (Y x X) %s%s", (long long)f->ny, (long long)f->nx,
           f->bits == 12 ? "12-bit " : "", sm_dtype_name(f->dtype));
}

/* Probes every slice; *first receives the first one's format, *bytes the
 * total file size. */
static int probe_all(const SliceList *l, SmSliceFormat *first, int64_t *bytes, SmError *err) {
  *bytes = 0;
  for (size_t i = 0; i < l->count; i++) {
    SmSliceFormat f;
    if (probe_slice(l->paths[i], &f, err) != 0) return -1;
    struct stat st;
    if (stat(l->paths[i], &st) == 0) *bytes += st.st_size;
    if (f.pages != 1)
      return sm_error_set(err, "%s: has %lld pages, but a slice must have one", l->paths[i],
                          (long long)f.pages);
    if (i == 0) {
      *first = f;
      continue;
    }
    if (f.nx != first->nx || f.ny != first->ny || f.dtype != first->dtype ||
        f.bits != first->bits) {
      char got[64], want[64];
      format_text(&f, got, sizeof got);
      format_text(first, want, sizeof want);
      return sm_error_set(err, "%s: slice is %s, but %s is %s (all slices must match)",
                          l->paths[i], got, l->paths[0], want);
    }
  }
  return 0;
}

static void fill_volume(SmVolume *v, const SmSliceFormat *f, int64_t slices) {
  v->dtype = f->dtype;
  v->nz = slices;
  v->ny = f->ny;
  v->nx = f->nx;
  memcpy(v->voxel_size, f->voxel_size, sizeof v->voxel_size);
  memcpy(v->unit, f->unit, sizeof v->unit);
  v->bits_per_sample = f->bits;
}

int sm_slices_probe(const char *path, bool is_glob, SmVolume *out, SmSourceInfo *info,
                    SmError *err) {
  SliceList l;
  if (list_slices(path, is_glob, &l, err) != 0) return -1;
  int rc;
  if (l.count == 1) {
    /* One file, e.g. a folder holding one multi-page stack: that file. */
    rc = sm_volume_probe_ex(l.paths[0], out, info, err);
    if (rc == 0) info->kind = is_glob ? SM_SOURCE_GLOB : SM_SOURCE_SLICE_FOLDER;
    free_list(&l);
    return rc;
  }
  SmSliceFormat first;
  int64_t bytes;
  rc = probe_all(&l, &first, &bytes, err);
  if (rc == 0) {
    memset(out, 0, sizeof *out);
    fill_volume(out, &first, (int64_t)l.count);
    memset(info, 0, sizeof *info);
    info->kind = is_glob ? SM_SOURCE_GLOB : SM_SOURCE_SLICE_FOLDER;
    info->files = info->pages = (int64_t)l.count;
    info->file_bytes = bytes;
    info->samples_per_pixel = first.samples;
    info->bigtiff = first.bigtiff;
    info->big_endian = first.big_endian;
    info->tiled = first.tiled;
    snprintf(info->format, sizeof info->format, "%s", first.format);
    snprintf(info->compression, sizeof info->compression, "%s", first.compression);
  }
  free_list(&l);
  return rc;
}

/* Reading the slices: independent files, decoded on several threads into
 * their own z-planes (parallel_items.h). */
typedef struct SliceJob {
  const SliceList *list;
  const SmSliceFormat *format;
  uint8_t *data;
  size_t slice_bytes;
  const SmReadOptions *opts;
  const char *path;
} SliceJob;

static int read_one(void *ctx, size_t i, void **state, SmError *err) {
  (void)state;
  SliceJob *job = ctx;
  SmReadOptions cancel_only = {.cancel = job->opts ? job->opts->cancel : NULL};
  uint8_t *dst = job->data + i * job->slice_bytes;
  const char *slice = job->list->paths[i];
  SmFileKind kind = sm_file_kind(slice, err);
  if (kind == SM_FILE_TIFF) return sm_tiff_read_slice(slice, job->format, dst, &cancel_only, err);
  if (kind == SM_FILE_PNG) return sm_png_read_slice(slice, job->format, dst, err);
  return kind == SM_FILE_ERROR ? -1 : sm_error_set(err, "%s: not a TIFF or PNG file", slice);
}

int sm_slices_read(const char *path, bool is_glob, const SmReadOptions *opts, SmVolume *out,
                   SmError *err) {
  memset(out, 0, sizeof *out);
  SliceList l;
  if (list_slices(path, is_glob, &l, err) != 0) return -1;
  if (l.count == 1) {
    int rc = sm_volume_read_ex(l.paths[0], opts, out, err);
    free_list(&l);
    return rc;
  }
  SmSliceFormat first;
  int64_t bytes;
  int rc = probe_all(&l, &first, &bytes, err);
  if (rc == 0 && sm_volume_alloc(out, first.dtype, (int64_t)l.count, first.ny, first.nx, err) != 0)
    rc = sm_error_prefix(err, path);
  if (rc == 0) {
    void *data = out->data;
    fill_volume(out, &first, (int64_t)l.count);
    out->data = data;
    sm_warn_sample_zero(path, &first);
    SliceJob job = {
      .list = &l,
      .format = &first,
      .data = out->data,
      .slice_bytes = (size_t)first.nx * first.ny * sm_dtype_size(first.dtype),
      .opts = opts,
      .path = path,
    };
    SmParallelItems items = {
      .count = l.count, .ctx = &job, .run = read_one, .opts = opts, .path = path};
    rc = sm_parallel_items(&items, err);
    if (rc != 0) sm_volume_free(out);
  }
  free_list(&l);
  return rc;
}
