/* Reading (multi-page) TIFF and BigTIFF into volumes.
 *
 * Pages are decoded straight into the volume's buffer when their layout is
 * the volume's (one sample per pixel, or planar-separate, at 8/16/32 bits):
 * libtiff then reads uncompressed strips directly into it, and compressed
 * ones through its small raw-strip buffer. Multi-sample, 12-bit and tiled
 * pages go through one scratch buffer of one strip or tile, reused for every
 * strip, tile and page. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parallel_items.h"
#include "tiff_common.h"
#include "volume_io.h"

/* The layout of one page, as far as decoding it goes. */
typedef struct PageLayout {
  uint32_t width, height;
  uint16_t samples, bits, sample_format, planar, photometric, compression;
  bool tiled;
  uint32_t tile_width, tile_height, rows_per_strip;
  SmDtype dtype;
} PageLayout;

typedef struct TiffReader {
  const char *path;
  TIFF *tif;
  SmTiffSink sink;
  uint8_t *scratch; /* one strip or tile */
  size_t scratch_size;
  /* Progress inside a page, for huge single pages: fraction of the volume
   * done before this page, the page's share, and the last value reported. */
  double progress_base, progress_share, progress_reported;
} TiffReader;

/* Reports progress within the current page, at most every 0.5 %. */
static void page_progress(TiffReader *r, const SmReadOptions *opts, double page_fraction) {
  double fraction = r->progress_base + r->progress_share * page_fraction;
  if (fraction - r->progress_reported < 0.005) return;
  r->progress_reported = fraction;
  sm_read_progress(opts, fraction);
}

static void lowercase_copy(char *out, size_t size, const char *in) {
  size_t i = 0;
  for (; in[i] && i + 1 < size; i++) out[i] = (char)tolower((unsigned char)in[i]);
  out[i] = '\0';
}

static void compression_name(uint16_t compression, char out[24]) {
  const TIFFCodec *codec = TIFFFindCODEC(compression);
  if (compression == COMPRESSION_NONE)
    snprintf(out, 24, "none");
  else if (compression == COMPRESSION_ADOBE_DEFLATE || compression == COMPRESSION_DEFLATE)
    snprintf(out, 24, "deflate");
  else if (codec)
    lowercase_copy(out, 24, codec->name);
  else
    snprintf(out, 24, "compression %u", compression);
}

/* "page 3 of 10: " when the file has several pages, else "". */
static void page_label(char *out, size_t size, int64_t page, int64_t pages) {
  if (pages > 1)
    snprintf(out, size, "page %lld of %lld: ", (long long)page + 1, (long long)pages);
  else if (page > 0)
    snprintf(out, size, "page %lld: ", (long long)page + 1);
  else
    out[0] = '\0';
}

/* Reads and checks the current directory's layout. page is 0-based, for the
 * messages only. */
static int read_layout(TiffReader *r, int64_t page, int64_t pages, PageLayout *l,
                       SmError *err) {
  TIFF *tif = r->tif;
  char where[64];
  page_label(where, sizeof where, page, pages);
  memset(l, 0, sizeof *l);
  uint32_t image_depth = 1, tile_depth = 1;
  if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &l->width) ||
      !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &l->height))
    return sm_error_set(err, "%s: %simage size missing", r->path, where);
  if (l->width == 0 || l->height == 0)
    return sm_error_set(err, "%s: %sempty image (%u x %u, Y x X)", r->path, where, l->height,
                        l->width);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &l->samples);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &l->bits);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &l->sample_format);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &l->planar);
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &l->compression);
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &l->photometric))
    l->photometric = PHOTOMETRIC_MINISBLACK;
  TIFFGetFieldDefaulted(tif, TIFFTAG_IMAGEDEPTH, &image_depth);
  if (image_depth > 1)
    return sm_error_set(err, "%s: %s3D (ImageDepth %u) TIFF pages are not supported",
                        r->path, where, image_depth);
  if (l->samples == 0)
    return sm_error_set(err, "%s: %szero samples per pixel", r->path, where);

  l->tiled = TIFFIsTiled(tif);
  if (l->tiled) {
    if (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &l->tile_width) ||
        !TIFFGetField(tif, TIFFTAG_TILELENGTH, &l->tile_height) || l->tile_width == 0 ||
        l->tile_height == 0)
      return sm_error_set(err, "%s: %stile size missing", r->path, where);
    TIFFGetFieldDefaulted(tif, TIFFTAG_TILEDEPTH, &tile_depth);
    if (tile_depth > 1)
      return sm_error_set(err, "%s: %s3D tiles are not supported", r->path, where);
  } else {
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &l->rows_per_strip);
    if (l->rows_per_strip == 0 || l->rows_per_strip > l->height) l->rows_per_strip = l->height;
  }

  if (l->photometric == PHOTOMETRIC_YCBCR) {
    if (l->compression == COMPRESSION_JPEG) {
      /* Let libtiff's JPEG codec convert to RGB; sample 0 is then red. */
      TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    } else {
      uint16_t sub_x = 1, sub_y = 1;
      TIFFGetFieldDefaulted(tif, TIFFTAG_YCBCRSUBSAMPLING, &sub_x, &sub_y);
      if (sub_x != 1 || sub_y != 1)
        return sm_error_set(err, "%s: %ssubsampled YCbCr images are not supported", r->path,
                            where);
    }
  }

  bool is_float = l->sample_format == SAMPLEFORMAT_IEEEFP;
  bool is_signed = l->sample_format == SAMPLEFORMAT_INT;
  if (l->sample_format != SAMPLEFORMAT_UINT && l->sample_format != SAMPLEFORMAT_VOID &&
      !is_float && !is_signed)
    return sm_error_set(err, "%s: %scomplex samples (SampleFormat %u) are not supported",
                        r->path, where, l->sample_format);
  if (is_float) {
    if (l->bits != 32)
      return sm_error_set(err, "%s: %s%u-bit floating point is not supported (float32 only)",
                          r->path, where, l->bits);
    if (l->samples > 1)
      return sm_error_set(err,
                          "%s: %s%u-sample float images (e.g. RGB float) are not supported",
                          r->path, where, l->samples);
    l->dtype = SM_F32;
  } else if (l->bits == 8) {
    l->dtype = is_signed ? SM_I8 : SM_U8;
  } else if (l->bits == 12 || l->bits == 16) {
    l->dtype = is_signed ? SM_I16 : SM_U16;
  } else if (l->bits == 32) {
    l->dtype = is_signed ? SM_I32 : SM_U32;
  } else {
    return sm_error_set(err,
                        "%s: %s%u-bit samples are not supported (8, 12, 16 or 32-bit "
                        "integers, or 32-bit float)",
                        r->path, where, l->bits);
  }
  return 0;
}

static bool is_reduced_resolution(TIFF *tif) {
  uint32_t subfile_type = 0;
  return TIFFGetField(tif, TIFFTAG_SUBFILETYPE, &subfile_type) &&
         (subfile_type & FILETYPE_REDUCEDIMAGE);
}

static void describe_layout(const PageLayout *l, int64_t pages, SmSliceFormat *f) {
  f->ny = l->height;
  f->nx = l->width;
  f->pages = pages;
  f->dtype = l->dtype;
  f->bits = l->bits;
  f->samples = l->samples;
  f->palette = l->photometric == PHOTOMETRIC_PALETTE;
  f->tiled = l->tiled;
  compression_name(l->compression, f->compression);
}

static bool same_layout(const PageLayout *a, const PageLayout *b) {
  return a->width == b->width && a->height == b->height && a->dtype == b->dtype &&
         a->bits == b->bits;
}

static void layout_text(const PageLayout *l, char *out, size_t size) {
  if (l->bits == 12)
    snprintf(out, size, "%u x %u (Y x X) 12-bit", l->height, l->width);
  else
    snprintf(out, size, "%u x %u (Y x X) %s", l->height, l->width, sm_dtype_name(l->dtype));
}

/* Voxel size from the first page: ImageJ's description, then the resolution
 * tags, else 1. */
static void read_voxel_size(TIFF *tif, double voxel[3], char unit[16]) {
  voxel[0] = voxel[1] = voxel[2] = 1.0;
  unit[0] = '\0';
  const char *description = NULL;
  double spacing = 0.0;
  int64_t images = 0;
  char ij_unit[16] = "";
  bool imagej = TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &description) &&
                sm_imagej_parse(description, &spacing, ij_unit, &images);

  float xres = 0.f, yres = 0.f;
  uint16_t res_unit = RESUNIT_INCH;
  bool has_res = TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xres) &&
                 TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yres) && isfinite(xres) &&
                 isfinite(yres) && xres > 0 && yres > 0;
  TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &res_unit);

  if (!imagej && description && sm_ome_parse(description, voxel, unit)) return;
  if (imagej) {
    /* ImageJ stores pixels per `unit` in the resolution tags. */
    snprintf(unit, 16, "%s", ij_unit);
    if (has_res) {
      voxel[1] = 1.0 / yres;
      voxel[2] = 1.0 / xres;
    }
    if (spacing > 0) voxel[0] = spacing;
    return;
  }
  if (!has_res) return;
  if (res_unit == RESUNIT_CENTIMETER) {
    voxel[1] = 1e4 / yres;
    voxel[2] = 1e4 / xres;
    snprintf(unit, 16, "um");
  } else if (res_unit == RESUNIT_INCH) {
    /* 72 (and 96) dpi are what writers put when they know nothing. */
    if ((xres == 72.f && yres == 72.f) || (xres == 96.f && yres == 96.f)) return;
    voxel[1] = 25400.0 / yres;
    voxel[2] = 25400.0 / xres;
    snprintf(unit, 16, "um");
  } else {
    voxel[1] = 1.0 / yres;
    voxel[2] = 1.0 / xres;
  }
}

static int ensure_scratch(TiffReader *r, size_t size, SmError *err) {
  if (size <= r->scratch_size) return 0;
  uint8_t *p = realloc(r->scratch, size);
  if (!p) return sm_error_set(err, "%s: cannot allocate %zu bytes for a strip", r->path, size);
  r->scratch = p;
  r->scratch_size = size;
  return 0;
}

/* Copies sample 0 of n pixels from a decoded row to dst (n elements). */
static void extract_row(const uint8_t *src, void *dst, uint32_t n, const PageLayout *l) {
  unsigned stride = l->planar == PLANARCONFIG_SEPARATE ? 1 : l->samples;
  if (l->bits == 12) {
    /* Packed MSB first, rows padded to a byte; unpacked into 16 bits. */
    uint16_t *out = dst;
    for (uint32_t x = 0; x < n; x++) {
      size_t bit = (size_t)x * stride * 12;
      const uint8_t *b = src + bit / 8;
      unsigned v = bit % 8 == 0 ? ((unsigned)b[0] << 4) | (b[1] >> 4)
                                : ((unsigned)(b[0] & 0x0f) << 8) | b[1];
      if (l->dtype == SM_I16 && (v & 0x800)) v |= 0xf000; /* sign-extend */
      out[x] = (uint16_t)v;
    }
    return;
  }
  size_t size = sm_dtype_size(l->dtype);
  uint8_t *out = dst;
  if (stride == 1) {
    memcpy(out, src, (size_t)n * size);
    return;
  }
  for (uint32_t x = 0; x < n; x++) memcpy(out + x * size, src + (size_t)x * stride * size, size);
}

static int decode_strips(TiffReader *r, const PageLayout *l, uint8_t *dst, const char *where,
                         const SmReadOptions *opts, SmError *err) {
  size_t out_row = (size_t)l->width * sm_dtype_size(l->dtype);
  bool direct = (l->samples == 1 || l->planar == PLANARCONFIG_SEPARATE) && l->bits != 12;
  tmsize_t raw_row = direct ? (tmsize_t)out_row : TIFFScanlineSize(r->tif);
  if (raw_row <= 0) return sm_tiff_fail(err, r->path, &r->sink, "bad scanline size");
  if (!direct && ensure_scratch(r, (size_t)raw_row * l->rows_per_strip, err) != 0) return -1;
  for (uint32_t row = 0; row < l->height; row += l->rows_per_strip) {
    if (sm_read_cancelled(opts)) return sm_error_set(err, "%s: cancelled", r->path);
    uint32_t rows = l->height - row < l->rows_per_strip ? l->height - row : l->rows_per_strip;
    tstrip_t strip = TIFFComputeStrip(r->tif, row, 0);
    tmsize_t want = (tmsize_t)rows * raw_row;
    uint8_t *target = direct ? dst + (size_t)row * out_row : r->scratch;
    tmsize_t got = TIFFReadEncodedStrip(r->tif, strip, target, want);
    if (got != want) {
      char what[96];
      snprintf(what, sizeof what, "%sstrip %u cannot be decoded", where, (unsigned)strip);
      return sm_tiff_fail(err, r->path, &r->sink, what);
    }
    if (!direct)
      for (uint32_t i = 0; i < rows; i++)
        extract_row(r->scratch + (size_t)i * raw_row, dst + (size_t)(row + i) * out_row,
                    l->width, l);
    page_progress(r, opts, (double)(row + rows) / l->height);
  }
  return 0;
}

static int decode_tiles(TiffReader *r, const PageLayout *l, uint8_t *dst, const char *where,
                        const SmReadOptions *opts, SmError *err) {
  size_t size = sm_dtype_size(l->dtype);
  tmsize_t tile_bytes = TIFFTileSize(r->tif), tile_row = TIFFTileRowSize(r->tif);
  if (tile_bytes <= 0 || tile_row <= 0 || (uint64_t)tile_row * l->tile_height > (uint64_t)tile_bytes)
    return sm_tiff_fail(err, r->path, &r->sink, "bad tile size");
  if (ensure_scratch(r, (size_t)tile_bytes, err) != 0) return -1;
  for (uint32_t ty = 0; ty < l->height; ty += l->tile_height) {
    if (sm_read_cancelled(opts)) return sm_error_set(err, "%s: cancelled", r->path);
    for (uint32_t tx = 0; tx < l->width; tx += l->tile_width) {
      ttile_t tile = TIFFComputeTile(r->tif, tx, ty, 0, 0);
      tmsize_t got = TIFFReadEncodedTile(r->tif, tile, r->scratch, tile_bytes);
      if (got != tile_bytes) {
        char what[96];
        snprintf(what, sizeof what, "%stile %u cannot be decoded", where, (unsigned)tile);
        return sm_tiff_fail(err, r->path, &r->sink, what);
      }
      /* Edge tiles overhang the image: copy only the part inside it. */
      uint32_t rows = l->height - ty < l->tile_height ? l->height - ty : l->tile_height;
      uint32_t cols = l->width - tx < l->tile_width ? l->width - tx : l->tile_width;
      for (uint32_t i = 0; i < rows; i++)
        extract_row(r->scratch + (size_t)i * tile_row,
                    dst + ((size_t)(ty + i) * l->width + tx) * size, cols, l);
    }
    page_progress(r, opts, (double)(ty + l->tile_height < l->height ? ty + l->tile_height : l->height) / l->height);
  }
  return 0;
}

static int decode_page(TiffReader *r, const PageLayout *l, int64_t page, int64_t pages,
                       void *dst, const SmReadOptions *opts, SmError *err) {
  r->progress_base = (double)page / (double)pages;
  r->progress_share = 1.0 / (double)pages;
  char where[64];
  page_label(where, sizeof where, page, pages);
  return l->tiled ? decode_tiles(r, l, dst, where, opts, err)
                  : decode_strips(r, l, dst, where, opts, err);
}

static int open_reader(TiffReader *r, const char *path, SmError *err) {
  memset(r, 0, sizeof *r);
  r->path = path;
  r->tif = sm_tiff_open(path, "r", &r->sink, err);
  return r->tif ? 0 : -1;
}

static void close_reader(TiffReader *r) {
  if (r->tif) TIFFClose(r->tif);
  free(r->scratch);
  r->tif = NULL;
  r->scratch = NULL;
}

/* Moves to the next directory; 1 if there is one, 0 at the end, -1 if the
 * chain is broken. */
static int next_directory(TiffReader *r, int64_t next_page, SmError *err) {
  int errors_before = r->sink.errors;
  if (TIFFReadDirectory(r->tif)) return 1;
  if (r->sink.errors == errors_before) return 0;
  char what[64];
  snprintf(what, sizeof what, "page %lld cannot be read", (long long)next_page + 1);
  return sm_tiff_fail(err, r->path, &r->sink, what);
}

/* Directory numbers of the main pages (reduced-resolution ones skipped). */
typedef struct PageDirectories {
  tdir_t *index;
  size_t count, capacity;
} PageDirectories;

static int add_directory(PageDirectories *d, tdir_t directory) {
  if (d->count == d->capacity) {
    size_t capacity = d->capacity ? 2 * d->capacity : 256;
    tdir_t *p = realloc(d->index, capacity * sizeof *p);
    if (!p) return -1;
    d->index = p;
    d->capacity = capacity;
  }
  d->index[d->count++] = directory;
  return 0;
}

/* Walks every directory: checks that the main pages share one layout and
 * counts them (and lists their directories if dirs is not NULL). Leaves the
 * reader on the last directory. */
static int scan_pages(TiffReader *r, PageLayout *first, int64_t *pages, PageDirectories *dirs,
                      SmError *err) {
  *pages = 0;
  int64_t directory = 0;
  for (;;) {
    if (!is_reduced_resolution(r->tif) || directory == 0) {
      PageLayout l;
      if (read_layout(r, *pages, 0, &l, err) != 0) return -1;
      if (dirs && add_directory(dirs, TIFFCurrentDirectory(r->tif)) != 0)
        return sm_error_set(err, "%s: out of memory", r->path);
      if (*pages == 0) {
        *first = l;
      } else if (!same_layout(&l, first)) {
        char got[64], want[64];
        layout_text(&l, got, sizeof got);
        layout_text(first, want, sizeof want);
        return sm_error_set(err, "%s: page %lld is %s, but page 1 is %s (all pages must match)",
                            r->path, (long long)*pages + 1, got, want);
      }
      ++*pages;
    }
    directory++;
    int more = next_directory(r, *pages, err);
    if (more < 0) return -1;
    if (!more) return 0;
  }
}

static void fill_format(TiffReader *r, const PageLayout *first, int64_t pages,
                        SmSliceFormat *f) {
  memset(f, 0, sizeof *f);
  describe_layout(first, pages, f);
  f->bigtiff = TIFFIsBigTIFF(r->tif);
  f->big_endian = TIFFIsBigEndian(r->tif);
  snprintf(f->format, sizeof f->format, "%s", f->bigtiff ? "BigTIFF" : "TIFF");
}

/* ImageJ saves stacks past 4 GiB as a classic TIFF with a single directory:
 * the description says images=N and the N pages follow the first one, raw.
 * Returns N (> 1) for such a file, 1 otherwise, -1 if the file is shorter
 * than its description says. The reader must be on directory 0. */
static int64_t imagej_raw_images(TiffReader *r, const PageLayout *l, int64_t pages,
                                 uint64_t *offset, SmError *err) {
  const char *description = NULL;
  double spacing;
  char unit[16];
  int64_t images = 0;
  if (pages != 1 || !TIFFGetField(r->tif, TIFFTAG_IMAGEDESCRIPTION, &description) ||
      !sm_imagej_parse(description, &spacing, unit, &images) || images <= 1)
    return 1;
  if (l->compression != COMPRESSION_NONE || l->samples != 1 || l->tiled || l->bits == 12)
    return 1;
  uint64_t *offsets = NULL, *counts = NULL;
  uint32_t strips = TIFFNumberOfStrips(r->tif);
  if (strips == 0 || !TIFFGetField(r->tif, TIFFTAG_STRIPOFFSETS, &offsets) ||
      !TIFFGetField(r->tif, TIFFTAG_STRIPBYTECOUNTS, &counts))
    return 1;
  for (uint32_t i = 1; i < strips; i++)
    if (offsets[i] != offsets[i - 1] + counts[i - 1]) return 1; /* not one raw block */
  uint64_t page_bytes = (uint64_t)l->width * l->height * sm_dtype_size(l->dtype);
  struct stat st;
  if (fstat(TIFFFileno(r->tif), &st) != 0) return 1;
  uint64_t stack_bytes;
  if (__builtin_mul_overflow(page_bytes, (uint64_t)images, &stack_bytes) ||
      offsets[0] + stack_bytes < stack_bytes || offsets[0] + stack_bytes > (uint64_t)st.st_size)
    return sm_error_set(err, "%s: ImageJ says %lld images, but the file ends after %lld", r->path,
                        (long long)images,
                        (long long)((st.st_size - (int64_t)offsets[0]) / (int64_t)page_bytes));
  *offset = offsets[0];
  return images;
}

/* Page k (>= 1) of an ImageJ raw stack, straight into dst. */
static int read_imagej_raw_page(TiffReader *r, const PageLayout *l, uint64_t offset, int64_t k,
                                void *dst, SmError *err) {
  size_t page_bytes = (size_t)l->width * l->height * sm_dtype_size(l->dtype);
  uint64_t at = offset + (uint64_t)k * page_bytes;
  int fd = TIFFFileno(r->tif);
  for (size_t done = 0; done < page_bytes;) {
    ssize_t n = pread(fd, (uint8_t *)dst + done, page_bytes - done, (off_t)(at + done));
    if (n <= 0)
      return sm_error_set(err, "%s: page %lld: %s", r->path, (long long)k + 1,
                          n < 0 ? strerror(errno) : "file ends early");
    done += (size_t)n;
  }
  if (TIFFIsByteSwapped(r->tif)) {
    if (l->bits == 16) TIFFSwabArrayOfShort(dst, (tmsize_t)(page_bytes / 2));
    if (l->bits == 32) TIFFSwabArrayOfLong(dst, (tmsize_t)(page_bytes / 4));
  }
  return 0;
}

int sm_tiff_probe(const char *path, SmSliceFormat *fmt, SmError *err) {
  TiffReader r;
  if (open_reader(&r, path, err) != 0) return -1;
  PageLayout first;
  int64_t pages;
  int rc = scan_pages(&r, &first, &pages, NULL, err);
  if (rc == 0) {
    rc = TIFFSetDirectory(r.tif, 0) ? 0 : sm_tiff_fail(err, path, &r.sink, "cannot rewind");
    uint64_t offset;
    int64_t images = rc == 0 ? imagej_raw_images(&r, &first, pages, &offset, err) : -1;
    if (images < 0) rc = -1;
    if (rc == 0) {
      fill_format(&r, &first, images > 1 ? images : pages, fmt);
      read_voxel_size(r.tif, fmt->voxel_size, fmt->unit);
    }
  }
  close_reader(&r);
  return rc;
}

/* Serial decoding: every page in directory order, or an ImageJ raw stack. */
static int read_pages_serial(TiffReader *r, const PageLayout *first, int64_t pages,
                             int64_t raw_images, uint64_t raw_offset, SmVolume *out,
                             const SmReadOptions *opts, SmError *err) {
  size_t page_bytes = (size_t)first->width * first->height * sm_dtype_size(first->dtype);
  int rc = 0;
  int64_t page = 0, directory = 0;
  while (rc == 0 && page < pages) {
    if (directory == 0 || !is_reduced_resolution(r->tif)) {
      PageLayout l;
      rc = read_layout(r, page, pages, &l, err);
      if (rc == 0 && !same_layout(&l, first))
        rc = sm_error_set(err, "%s: page %lld changed while reading", r->path, (long long)page + 1);
      if (rc == 0)
        rc = decode_page(r, &l, page, pages, (uint8_t *)out->data + page * page_bytes, opts, err);
      if (rc == 0) sm_read_progress(opts, (double)(page + 1) / (double)pages);
      page++;
    }
    directory++;
    for (; rc == 0 && raw_images > 1 && page < pages; page++) {
      if (sm_read_cancelled(opts)) rc = sm_error_set(err, "%s: cancelled", r->path);
      if (rc == 0)
        rc = read_imagej_raw_page(r, first, raw_offset, page,
                                  (uint8_t *)out->data + page * page_bytes, err);
      if (rc == 0) sm_read_progress(opts, (double)(page + 1) / (double)pages);
    }
    if (rc == 0 && page < pages) {
      int more = next_directory(r, page, err);
      if (more < 0) rc = -1;
      else if (!more) rc = sm_error_set(err, "%s: page %lld vanished while reading", r->path,
                                        (long long)page + 1);
    }
  }
  return rc;
}

/* Parallel decoding: each worker opens the file once and walks forward to
 * the pages it is handed (in order, so it only ever moves forward). */
typedef struct PageJob {
  const char *path;
  const PageDirectories *dirs;
  const PageLayout *first;
  uint8_t *data;
  size_t page_bytes;
  const SmReadOptions *opts;
} PageJob;

static int decode_page_item(void *ctx, size_t page, void **state, SmError *err) {
  PageJob *job = ctx;
  TiffReader *r = *state;
  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r) return sm_error_set(err, "%s: out of memory", job->path);
    if (open_reader(r, job->path, err) != 0) {
      free(r);
      return -1;
    }
    *state = r;
  }
  tdir_t target = job->dirs->index[page];
  if (TIFFCurrentDirectory(r->tif) > target && !TIFFSetDirectory(r->tif, target))
    return sm_tiff_fail(err, job->path, &r->sink, "cannot rewind");
  while (TIFFCurrentDirectory(r->tif) < target) {
    if (!TIFFReadDirectory(r->tif)) {
      char what[64];
      snprintf(what, sizeof what, "page %zu cannot be read", page + 1);
      return sm_tiff_fail(err, job->path, &r->sink, what);
    }
  }
  int64_t pages = (int64_t)job->dirs->count;
  PageLayout l;
  if (read_layout(r, (int64_t)page, pages, &l, err) != 0) return -1;
  if (!same_layout(&l, job->first))
    return sm_error_set(err, "%s: page %zu changed while reading", job->path, page + 1);
  SmReadOptions cancel_only = {.cancel = job->opts ? job->opts->cancel : NULL};
  return decode_page(r, &l, (int64_t)page, pages, job->data + page * job->page_bytes,
                     &cancel_only, err);
}

static void close_page_worker(void *ctx, void *state) {
  (void)ctx;
  if (!state) return;
  close_reader(state);
  free(state);
}

int sm_tiff_read_volume(const char *path, const SmReadOptions *opts, SmVolume *out,
                        SmError *err) {
  memset(out, 0, sizeof *out);
  TiffReader r;
  if (open_reader(&r, path, err) != 0) return -1;
  PageLayout first;
  PageDirectories dirs = {0};
  int64_t pages = 0;
  int rc = scan_pages(&r, &first, &pages, &dirs, err);
  if (rc == 0 && !TIFFSetDirectory(r.tif, 0))
    rc = sm_tiff_fail(err, path, &r.sink, "cannot rewind");
  uint64_t raw_offset = 0;
  int64_t raw_images = rc == 0 ? imagej_raw_images(&r, &first, pages, &raw_offset, err) : 1;
  if (raw_images < 0) rc = -1;
  if (raw_images > 1) pages = raw_images;
  if (rc == 0 && sm_volume_alloc(out, first.dtype, pages, first.height, first.width, err) != 0)
    rc = sm_error_prefix(err, path);
  if (rc == 0) {
    read_voxel_size(r.tif, out->voxel_size, out->unit);
    out->bits_per_sample = first.bits;
    SmSliceFormat described = {0};
    describe_layout(&first, pages, &described);
    sm_warn_sample_zero(path, &described);
    if (raw_images <= 1 && pages > 1 && sm_reader_threads((size_t)pages) > 1) {
      PageJob job = {
        .path = path,
        .dirs = &dirs,
        .first = &first,
        .data = out->data,
        .page_bytes = (size_t)first.width * first.height * sm_dtype_size(first.dtype),
        .opts = opts,
      };
      SmParallelItems items = {.count = (size_t)pages, .ctx = &job, .run = decode_page_item,
                               .finish = close_page_worker, .opts = opts, .path = path};
      rc = sm_parallel_items(&items, err);
    } else {
      rc = read_pages_serial(&r, &first, pages, raw_images, raw_offset, out, opts, err);
    }
  }
  close_reader(&r);
  free(dirs.index);
  if (rc != 0) sm_volume_free(out);
  return rc;
}

int sm_tiff_read_slice(const char *path, const SmSliceFormat *expect, void *dst,
                       const SmReadOptions *opts, SmError *err) {
  TiffReader r;
  if (open_reader(&r, path, err) != 0) return -1;
  PageLayout l;
  int rc = read_layout(&r, 0, 1, &l, err);
  if (rc == 0 && (l.width != expect->nx || l.height != expect->ny || l.dtype != expect->dtype ||
                  l.bits != expect->bits))
    rc = sm_error_set(err, "%s: slice changed while reading", path);
  if (rc == 0) rc = decode_page(&r, &l, 0, 1, dst, opts, err);
  close_reader(&r);
  return rc;
}
