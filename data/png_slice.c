/* PNG slices via libpng: 8/16-bit grey straight into the slice buffer;
 * RGB and grey+alpha give their first channel, palette images their indices
 * (as TIFF palette images do); 1/2/4-bit grey is scaled to 8 bits
 * (1-bit -> 0/255). libpng reports errors by longjmp, so
 * every resource below is owned by one PngReader that the error path frees. */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volume_io.h"

typedef struct PngReader {
  jmp_buf jump;
  char message[256];
  FILE *file;
  png_structp png;
  png_infop info;
  uint8_t *scratch;
  png_bytep *rows;
} PngReader;

static void on_png_error(png_structp png, png_const_charp message) {
  PngReader *r = png_get_error_ptr(png);
  snprintf(r->message, sizeof r->message, "%s", message);
  longjmp(r->jump, 1);
}

static void on_png_warning(png_structp png, png_const_charp message) {
  (void)png, (void)message; /* e.g. "iCCP: known incorrect sRGB profile" */
}

static void close_reader(PngReader *r) {
  if (r->png) png_destroy_read_struct(&r->png, r->info ? &r->info : NULL, NULL);
  if (r->file) fclose(r->file);
  free(r->scratch);
  free(r->rows);
  r->png = NULL;
  r->info = NULL;
  r->file = NULL;
  r->scratch = NULL;
  r->rows = NULL;
}

/* The pixel work, run under setjmp in run(). dst NULL = header only. */
static int read_png(PngReader *r, const char *path, SmSliceFormat *fmt,
                    const SmSliceFormat *expect, void *dst, SmError *err) {
  png_init_io(r->png, r->file);
  png_set_sig_bytes(r->png, 8);
  png_read_info(r->png, r->info);
  png_uint_32 width, height;
  int depth, color_type, interlace;
  png_get_IHDR(r->png, r->info, &width, &height, &depth, &color_type, &interlace, NULL, NULL);
  int source_channels = png_get_channels(r->png, r->info);

  if (color_type == PNG_COLOR_TYPE_PALETTE && depth < 8) png_set_packing(r->png);
  if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(r->png);
  if (depth == 16) png_set_swap(r->png); /* PNG is big-endian; we want host order */
  int passes = png_set_interlace_handling(r->png);
  png_read_update_info(r->png, r->info);
  int channels = png_get_channels(r->png, r->info);
  int out_depth = png_get_bit_depth(r->png, r->info);
  size_t row_bytes = png_get_rowbytes(r->png, r->info);
  if (out_depth != 8 && out_depth != 16)
    return sm_error_set(err, "%s: unsupported PNG bit depth %d", path, out_depth);

  memset(fmt, 0, sizeof *fmt);
  fmt->nx = width;
  fmt->ny = height;
  fmt->pages = 1;
  fmt->dtype = out_depth == 16 ? SM_U16 : SM_U8;
  fmt->bits = out_depth;
  fmt->samples = source_channels;
  fmt->palette = color_type == PNG_COLOR_TYPE_PALETTE;
  fmt->voxel_size[0] = fmt->voxel_size[1] = fmt->voxel_size[2] = 1.0;
  snprintf(fmt->format, sizeof fmt->format, "PNG");
  snprintf(fmt->compression, sizeof fmt->compression, "deflate");
  fmt->big_endian = true;
  png_uint_32 res_x, res_y;
  int res_unit;
  if (png_get_pHYs(r->png, r->info, &res_x, &res_y, &res_unit) && res_unit == PNG_RESOLUTION_METER &&
      res_x > 0 && res_y > 0 &&
      /* 72 and 96 dpi: what image editors write when they know nothing */
      !(res_x == res_y && (res_x == 2834 || res_x == 2835 || res_x == 3779 || res_x == 3780))) {
    fmt->voxel_size[1] = 1e6 / res_y;
    fmt->voxel_size[2] = 1e6 / res_x;
    snprintf(fmt->unit, sizeof fmt->unit, "um");
  }
  if (!dst) return 0;

  if (fmt->nx != expect->nx || fmt->ny != expect->ny || fmt->dtype != expect->dtype)
    return sm_error_set(err, "%s: slice changed while reading", path);
  size_t sample = out_depth / 8, out_row = (size_t)width * sample;
  r->rows = malloc(sizeof *r->rows * height);
  if (!r->rows) return sm_error_set(err, "%s: out of memory", path);
  if (channels == 1) {
    for (png_uint_32 y = 0; y < height; y++) r->rows[y] = (uint8_t *)dst + y * out_row;
    png_read_image(r->png, r->rows);
    return 0;
  }
  /* Several channels: interlaced images need every row at once (libpng
   * fills them pass by pass), others one row at a time. */
  bool interlaced = passes > 1;
  r->scratch = malloc(row_bytes * (interlaced ? height : 1));
  if (!r->scratch) return sm_error_set(err, "%s: out of memory", path);
  if (interlaced) {
    for (png_uint_32 y = 0; y < height; y++) r->rows[y] = r->scratch + y * row_bytes;
    png_read_image(r->png, r->rows);
  }
  for (png_uint_32 y = 0; y < height; y++) {
    const uint8_t *src = interlaced ? r->rows[y] : r->scratch;
    if (!interlaced) png_read_row(r->png, r->scratch, NULL);
    uint8_t *out = (uint8_t *)dst + y * out_row;
    for (png_uint_32 x = 0; x < width; x++)
      memcpy(out + x * sample, src + (size_t)x * channels * sample, sample);
  }
  return 0;
}

static int run(const char *path, SmSliceFormat *fmt, const SmSliceFormat *expect, void *dst,
               SmError *err) {
  PngReader *r = calloc(1, sizeof *r);
  if (!r) return sm_error_set(err, "%s: out of memory", path);
  r->file = fopen(path, "rb");
  if (!r->file) {
    int rc = sm_error_set(err, "%s: %s", path, strerror(errno));
    free(r);
    return rc;
  }
  unsigned char signature[8];
  if (fread(signature, 1, 8, r->file) != 8 || png_sig_cmp(signature, 0, 8) != 0) {
    close_reader(r);
    free(r);
    return sm_error_set(err, "%s: not a PNG file", path);
  }
  r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, on_png_error, on_png_warning);
  if (r->png) r->info = png_create_info_struct(r->png);
  if (!r->png || !r->info) {
    close_reader(r);
    free(r);
    return sm_error_set(err, "%s: out of memory", path);
  }
  int rc;
  if (setjmp(r->jump)) {
    if (feof(r->file))
      rc = sm_error_set(err, "%s: truncated PNG (the file ends early)", path);
    else
      rc = sm_error_set(err, "%s: corrupt PNG: %s", path, r->message);
  } else {
    rc = read_png(r, path, fmt, expect, dst, err);
  }
  close_reader(r);
  free(r);
  return rc;
}

int sm_png_probe(const char *path, SmSliceFormat *fmt, SmError *err) {
  return run(path, fmt, NULL, NULL, err);
}

int sm_png_read_slice(const char *path, const SmSliceFormat *expect, void *dst, SmError *err) {
  SmSliceFormat fmt;
  return run(path, &fmt, expect, dst, err);
}
