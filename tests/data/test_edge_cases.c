/* Edge cases written on the spot with libtiff and libpng: unsupported bit
 * depths and types, mixed pages, multi-sample pages, planar tiles that
 * overhang the image, 12-bit packing, voxel-size metadata, reduced-resolution
 * pages, slice folders (natural order, mismatches) and PNG variants. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include "data_test_util.h"
#include "tap.h"
#include "volume_io.h"

static char *dir;
static char warnings[2048];

static void capture_warning(const char *message, void *user) {
  (void)user;
  strncat(warnings, message, sizeof warnings - strlen(warnings) - 2);
  strcat(warnings, "\n");
}

static char *temp_path(const char *name) {
  static char buf[8][4096];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, 4096, "%s/%s", dir, name);
  return p;
}

/* One page; data is the whole page in the file's layout (contig rows, or
 * planes one after another when planar == SEPARATE), written as one strip or
 * as tiles of tile x tile. */
typedef struct Page {
  uint32_t width, height;
  uint16_t samples, bits, format, planar;
  uint32_t tile;
  uint32_t subfile;
  const void *data;
  const char *description;
  float xres, yres;
  uint16_t resunit;
} Page;

static bool write_page(TIFF *t, const Page *p) {
  uint16_t planar = p->planar ? p->planar : PLANARCONFIG_CONTIG;
  TIFFSetField(t, TIFFTAG_SUBFILETYPE, p->subfile);
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, p->width);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, p->height);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, p->samples);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, p->bits);
  TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, p->format ? p->format : SAMPLEFORMAT_UINT);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, planar);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, p->samples >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  if (p->samples == 2 || p->samples == 4) {
    uint16_t extra = EXTRASAMPLE_UNASSALPHA;
    TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &extra);
  }
  if (p->description) TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, p->description);
  if (p->xres > 0) {
    TIFFSetField(t, TIFFTAG_XRESOLUTION, p->xres);
    TIFFSetField(t, TIFFTAG_YRESOLUTION, p->yres);
    TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, p->resunit);
  }
  size_t plane_samples = planar == PLANARCONFIG_SEPARATE ? 1 : p->samples;
  size_t row_bytes = ((size_t)p->width * plane_samples * p->bits + 7) / 8;
  size_t plane_bytes = row_bytes * p->height;
  unsigned planes = planar == PLANARCONFIG_SEPARATE ? p->samples : 1;
  if (!p->tile) {
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, p->height);
    for (unsigned s = 0; s < planes; s++)
      if (TIFFWriteEncodedStrip(t, s, (uint8_t *)p->data + s * plane_bytes, (tmsize_t)plane_bytes) < 0)
        return false;
  } else {
    TIFFSetField(t, TIFFTAG_TILEWIDTH, p->tile);
    TIFFSetField(t, TIFFTAG_TILELENGTH, p->tile);
    size_t element = p->bits / 8 * plane_samples;
    uint8_t *buf = calloc((size_t)p->tile * p->tile, element);
    for (unsigned s = 0; s < planes; s++)
      for (uint32_t ty = 0; ty < p->height; ty += p->tile)
        for (uint32_t tx = 0; tx < p->width; tx += p->tile) {
          memset(buf, 0xEE, (size_t)p->tile * p->tile * element); /* junk outside the image */
          for (uint32_t y = ty; y < ty + p->tile && y < p->height; y++)
            for (uint32_t x = tx; x < tx + p->tile && x < p->width; x++)
              memcpy(buf + ((y - ty) * p->tile + (x - tx)) * element,
                     (uint8_t *)p->data + s * plane_bytes + y * row_bytes + x * element, element);
          TIFFWriteTile(t, buf, tx, ty, 0, (uint16_t)s);
        }
    free(buf);
  }
  return TIFFWriteDirectory(t);
}

static const char *write_tiff(const char *name, const Page *pages, int n) {
  const char *path = temp_path(name);
  TIFF *t = TIFFOpen(path, "w");
  for (int i = 0; i < n; i++) write_page(t, &pages[i]);
  TIFFClose(t);
  return path;
}

static bool fails_with(const char *path, const char *needle, SmError *err) {
  SmVolume v;
  int rc = sm_volume_read(path, &v, err);
  if (rc == 0) sm_volume_free(&v);
  return rc != 0 && test_is_clean_error(err->message, path) && strstr(err->message, needle);
}

static void test_unsupported(void) {
  SmError err = {{0}};
  uint8_t bits[64] = {0x5a};
  float rgb[3 * 16] = {0};
  Page one_bit = {.width = 8, .height = 4, .samples = 1, .bits = 1, .data = bits};
  TAP_OK(fails_with(write_tiff("1bit.tif", &one_bit, 1), "1-bit", &err), "1-bit TIFF: %s",
         err.message);
  Page four_bit = {.width = 8, .height = 4, .samples = 1, .bits = 4, .data = bits};
  TAP_OK(fails_with(write_tiff("4bit.tif", &four_bit, 1), "4-bit", &err), "4-bit TIFF: %s",
         err.message);
  Page rgb_float = {.width = 4, .height = 4, .samples = 3, .bits = 32,
                    .format = SAMPLEFORMAT_IEEEFP, .data = rgb};
  TAP_OK(fails_with(write_tiff("rgbf.tif", &rgb_float, 1), "float", &err), "RGB float: %s",
         err.message);
  Page half = {.width = 4, .height = 4, .samples = 1, .bits = 16, .format = SAMPLEFORMAT_IEEEFP,
               .data = rgb};
  TAP_OK(fails_with(write_tiff("half.tif", &half, 1), "float", &err), "16-bit float: %s",
         err.message);

  uint8_t px[16 * 16] = {0};
  uint16_t px16[16 * 16] = {0};
  Page mixed[3] = {
    {.width = 16, .height = 16, .samples = 1, .bits = 8, .data = px},
    {.width = 16, .height = 16, .samples = 1, .bits = 8, .data = px},
    {.width = 16, .height = 8, .samples = 1, .bits = 8, .data = px},
  };
  TAP_OK(fails_with(write_tiff("mixed-size.tif", mixed, 3), "page 3", &err),
         "mixed page sizes name the page: %s", err.message);
  mixed[2] = (Page){.width = 16, .height = 16, .samples = 1, .bits = 16, .data = px16};
  TAP_OK(fails_with(write_tiff("mixed-type.tif", mixed, 3), "page 3", &err),
         "mixed page types name the page: %s", err.message);
}

static void test_samples_and_tiles(void) {
  SmError err = {{0}};
  SmVolume v;
  uint8_t rgb[5 * 3 * 3];
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 5; x++) {
      uint8_t *p = rgb + (y * 5 + x) * 3;
      p[0] = (uint8_t)(x + 10 * y), p[1] = 200, p[2] = 100;
    }
  Page page = {.width = 5, .height = 3, .samples = 3, .bits = 8, .data = rgb};
  warnings[0] = '\0';
  int rc = sm_volume_read(write_tiff("rgb.tif", &page, 1), &v, &err);
  bool red = rc == 0 && v.nz == 1 && v.ny == 3 && v.nx == 5;
  for (int i = 0; red && i < 15; i++) red = ((uint8_t *)v.data)[i] == (i % 5) + 10 * (i / 5);
  TAP_OK(red, "RGB contig: sample 0 read %s", err.message);
  TAP_OK(strstr(warnings, "sample 0") != NULL, "RGB contig: warns (%s)", warnings);
  if (rc == 0) sm_volume_free(&v);

  /* Planar-separate RGB, 16-bit, 16 x 16 tiles over a 20 x 19 image. */
  enum { W = 20, H = 19 };
  uint16_t *planes = malloc(sizeof *planes * W * H * 3);
  for (int s = 0; s < 3; s++)
    for (int i = 0; i < W * H; i++) planes[s * W * H + i] = (uint16_t)(s == 0 ? i * 97 : 7);
  page = (Page){.width = W, .height = H, .samples = 3, .bits = 16,
                .planar = PLANARCONFIG_SEPARATE, .tile = 16, .data = planes};
  rc = sm_volume_read(write_tiff("planar-tiled.tif", &page, 1), &v, &err);
  bool ok = rc == 0 && v.dtype == SM_U16 && v.ny == H && v.nx == W;
  for (int i = 0; ok && i < W * H; i++) ok = ((uint16_t *)v.data)[i] == (uint16_t)(i * 97);
  TAP_OK(ok, "planar-separate tiles overhanging the image: sample 0 exact %s", err.message);
  if (rc == 0) sm_volume_free(&v);

  /* Contig gray+alpha 32-bit tiles, 2 pages. */
  uint32_t *ga = malloc(sizeof *ga * W * H * 2);
  for (int i = 0; i < W * H; i++) ga[2 * i] = 4000000000u - (uint32_t)i, ga[2 * i + 1] = 1;
  Page two[2] = {
    {.width = W, .height = H, .samples = 2, .bits = 32, .tile = 16, .data = ga},
    {.width = W, .height = H, .samples = 2, .bits = 32, .tile = 16, .data = ga},
  };
  rc = sm_volume_read(write_tiff("ga-tiled.tif", two, 2), &v, &err);
  ok = rc == 0 && v.dtype == SM_U32 && v.nz == 2;
  for (int i = 0; ok && i < 2 * W * H; i++)
    ok = ((uint32_t *)v.data)[i] == 4000000000u - (uint32_t)(i % (W * H));
  TAP_OK(ok, "contig 2-sample uint32 tiles, 2 pages: sample 0 exact %s", err.message);
  if (rc == 0) sm_volume_free(&v);
  free(planes);
  free(ga);
}

/* JPEG-in-TIFF: grey, and YCbCr (libtiff converts to RGB; red is read). */
static void test_jpeg(void) {
  enum { W = 40, H = 24 };
  uint8_t grey[W * H], rgb[W * H * 3];
  for (int i = 0; i < W * H; i++) {
    grey[i] = (uint8_t)(40 + (i % W) * 4);
    rgb[3 * i] = grey[i], rgb[3 * i + 1] = 90, rgb[3 * i + 2] = 200;
  }
  for (int ycbcr = 0; ycbcr < 2; ycbcr++) {
    const char *path = temp_path(ycbcr ? "ycbcr-jpeg.tif" : "grey-jpeg.tif");
    TIFF *t = TIFFOpen(path, "w");
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, W);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, H);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, ycbcr ? 3 : 1);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_JPEG);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, ycbcr ? PHOTOMETRIC_YCBCR : PHOTOMETRIC_MINISBLACK);
    if (ycbcr) TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    TIFFSetField(t, TIFFTAG_JPEGQUALITY, 95);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 16);
    bool written = true;
    for (int s = 0; s < 2; s++) {
      int rows = s == 0 ? 16 : H - 16;
      size_t pixel = ycbcr ? 3 : 1;
      const uint8_t *src = (ycbcr ? rgb : grey) + (size_t)s * 16 * W * pixel;
      written = written && TIFFWriteEncodedStrip(t, s, (void *)src, (tmsize_t)(rows * W * pixel)) >= 0;
    }
    TIFFWriteDirectory(t);
    TIFFClose(t);
    if (!written) {
      TAP_OK(1, "JPEG %s # SKIP libtiff cannot write JPEG here", ycbcr ? "YCbCr" : "grey");
      continue;
    }
    SmVolume v;
    SmError err = {{0}};
    int rc = sm_volume_read(path, &v, &err);
    double worst = 0;
    for (int i = 0; rc == 0 && i < W * H; i++)
      worst = fmax(worst, fabs((double)((uint8_t *)v.data)[i] - grey[i]));
    TAP_OK(rc == 0 && v.dtype == SM_U8 && v.nx == W && v.ny == H && worst <= 12,
           "JPEG %s TIFF decodes (largest error %g) %s", ycbcr ? "YCbCr" : "grey", worst,
           err.message);
    if (rc == 0) sm_volume_free(&v);
  }
}

static void test_twelve_bit(void) {
  enum { W = 5, H = 3, ROW = (W * 12 + 7) / 8 };
  uint16_t want[W * H];
  uint8_t packed[ROW * H];
  memset(packed, 0, sizeof packed);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      unsigned value = (x == 4 && y == 2) ? 4095 : (unsigned)(x * 811 + y * 1013) % 4096;
      want[y * W + x] = (uint16_t)value;
      size_t bit = (size_t)x * 12;
      uint8_t *b = packed + y * ROW + bit / 8;
      if (bit % 8 == 0) b[0] = (uint8_t)(value >> 4), b[1] |= (uint8_t)((value & 15) << 4);
      else b[0] |= (uint8_t)(value >> 8), b[1] = (uint8_t)value;
    }
  Page page = {.width = W, .height = H, .samples = 1, .bits = 12, .data = packed};
  SmVolume v;
  SmError err = {{0}};
  int rc = sm_volume_read(write_tiff("12bit.tif", &page, 1), &v, &err);
  TAP_OK(rc == 0 && v.dtype == SM_U16 && v.bits_per_sample == 12 &&
             memcmp(v.data, want, sizeof want) == 0,
         "12-bit, odd width: unpacked exactly into uint16 %s", err.message);
  if (rc == 0) sm_volume_free(&v);
}

static void test_voxel_metadata(void) {
  uint8_t px[16] = {0};
  SmVolume v;
  SmError err = {{0}};
  Page imagej = {.width = 4, .height = 4, .samples = 1, .bits = 8, .data = px,
                 .description = "ImageJ=1.53t\nimages=1\nunit=\\u00B5m\nspacing=0.05\n",
                 .xres = 250.f, .yres = 200.f, .resunit = RESUNIT_NONE};
  int rc = sm_volume_probe(write_tiff("ij.tif", &imagej, 1), &v, &err);
  TAP_OK(rc == 0 && fabs(v.voxel_size[0] - 0.05) < 1e-9 && fabs(v.voxel_size[1] - 0.005) < 1e-9 &&
             fabs(v.voxel_size[2] - 0.004) < 1e-9 && strcmp(v.unit, "um") == 0,
         "ImageJ \\u00B5m + spacing: %g x %g x %g %s", v.voxel_size[0], v.voxel_size[1],
         v.voxel_size[2], v.unit);
  Page cm = {.width = 4, .height = 4, .samples = 1, .bits = 8, .data = px, .xres = 20000.f,
             .yres = 20000.f, .resunit = RESUNIT_CENTIMETER};
  rc = sm_volume_probe(write_tiff("cm.tif", &cm, 1), &v, &err);
  TAP_OK(rc == 0 && fabs(v.voxel_size[2] - 0.5) < 1e-9 && v.voxel_size[0] == 1 &&
             strcmp(v.unit, "um") == 0,
         "resolution in cm: %g um", v.voxel_size[2]);
  Page dpi = {.width = 4, .height = 4, .samples = 1, .bits = 8, .data = px, .xres = 72.f,
              .yres = 72.f, .resunit = RESUNIT_INCH};
  rc = sm_volume_probe(write_tiff("dpi.tif", &dpi, 1), &v, &err);
  TAP_OK(rc == 0 && v.voxel_size[1] == 1 && v.voxel_size[2] == 1 && !v.unit[0],
         "72 dpi means unknown: voxel size 1");

  Page ome = {.width = 4, .height = 4, .samples = 1, .bits = 8, .data = px,
              .description = "<?xml version=\"1.0\"?><OME xmlns=\"x\"><Image ID=\"Image:0\">"
                             "<Pixels DimensionOrder=\"XYZCT\" PhysicalSizeX=\"4.5\" "
                             "PhysicalSizeXUnit=\"nm\" PhysicalSizeY=\"4.25\" "
                             "PhysicalSizeYUnit=\"nm\" PhysicalSizeZ=\"40\" "
                             "PhysicalSizeZUnit=\"nm\" SizeX=\"4\"/></Image></OME>"};
  rc = sm_volume_probe(write_tiff("ome.tif", &ome, 1), &v, &err);
  TAP_OK(rc == 0 && v.voxel_size[0] == 40 && v.voxel_size[1] == 4.25 && v.voxel_size[2] == 4.5 &&
             strcmp(v.unit, "nm") == 0,
         "OME-XML PhysicalSize: %g x %g x %g %s", v.voxel_size[0], v.voxel_size[1],
         v.voxel_size[2], v.unit);
  ome.description = "<OME><Image><Pixels PhysicalSizeX='0.5' PhysicalSizeY='0.5'/></Image></OME>";
  rc = sm_volume_probe(write_tiff("ome-um.tif", &ome, 1), &v, &err);
  TAP_OK(rc == 0 && v.voxel_size[0] == 1 && v.voxel_size[2] == 0.5 && strcmp(v.unit, "um") == 0,
         "OME-XML without units means micrometres");

  SmVolume odd;
  sm_volume_alloc(&odd, SM_U8, 1, 2, 2, &err);
  snprintf(odd.unit, sizeof odd.unit, "n\nm=x");
  const char *odd_path = temp_path("odd-unit.tif");
  rc = sm_volume_write(odd_path, &odd, &err);
  sm_volume_free(&odd);
  rc = rc ? rc : sm_volume_probe(odd_path, &v, &err);
  TAP_OK(rc == 0 && strcmp(v.unit, "nmx") == 0, "a unit with a newline cannot break the "
         "description (read back '%s')", v.unit);

  char unit[16];
  const char *spellings[] = {"micron", "\xC2\xB5m", "um", " microns ", "\\u00b5m"};
  bool all = true;
  for (int i = 0; i < 5; i++) {
    sm_unit_normalize(spellings[i], unit);
    all = all && strcmp(unit, "um") == 0;
  }
  sm_unit_normalize("nanometer", unit);
  TAP_OK(all && strcmp(unit, "nm") == 0, "unit spellings normalise to um / nm");

  uint8_t big[32 * 32] = {0}, small[16 * 16] = {0};
  Page pyramid[2] = {
    {.width = 32, .height = 32, .samples = 1, .bits = 8, .data = big},
    {.width = 16, .height = 16, .samples = 1, .bits = 8, .data = small,
     .subfile = FILETYPE_REDUCEDIMAGE},
  };
  rc = sm_volume_read(write_tiff("pyramid.tif", pyramid, 2), &v, &err);
  TAP_OK(rc == 0 && v.nz == 1 && v.nx == 32, "reduced-resolution pages are skipped %s",
         err.message);
  if (rc == 0) sm_volume_free(&v);
}

/* A big-endian ImageJ "raw stack" as ImageJ writes stacks past 4 GiB: one
 * directory, images=N in the description, N pages of raw data in a row. */
static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static const char *write_imagej_raw_stack(const char *name, int stored_images) {
  enum { W = 6, H = 4, ENTRIES = 10 };
  const char description[] = "ImageJ=1.53t\nimages=3\nslices=3\nunit=nm\nspacing=40\n";
  size_t ifd = 8, ifd_size = 2 + ENTRIES * 12 + 4;
  size_t text = ifd + ifd_size, data = text + sizeof description;
  size_t size = data + (size_t)stored_images * W * H * 2;
  uint8_t *f = calloc(1, size);
  memcpy(f, "MM\0*", 4);
  put32(f + 4, (uint32_t)ifd);
  put16(f + ifd, ENTRIES);
  const uint32_t tags[ENTRIES][4] = {
    /* tag, type (3 short, 4 long, 2 ascii), count, value */
    {256, 3, 1, W}, {257, 3, 1, H}, {258, 3, 1, 16}, {259, 3, 1, 1}, {262, 3, 1, 1},
    {270, 2, sizeof description, (uint32_t)text}, {273, 4, 1, (uint32_t)data},
    {277, 3, 1, 1}, {278, 3, 1, H}, {279, 4, 1, W * H * 2},
  };
  for (int i = 0; i < ENTRIES; i++) {
    uint8_t *e = f + ifd + 2 + 12 * i;
    put16(e, tags[i][0]);
    put16(e + 2, tags[i][1]);
    put32(e + 4, tags[i][2]);
    if (tags[i][1] == 3) put16(e + 8, tags[i][3]);
    else put32(e + 8, tags[i][3]);
  }
  memcpy(f + text, description, sizeof description);
  for (int i = 0; i < stored_images * W * H; i++) put16(f + data + 2 * i, (unsigned)(i * 300));
  const char *path = temp_path(name);
  test_write_file(path, f, size);
  free(f);
  return path;
}

static void test_imagej_raw_stack(void) {
  SmVolume v;
  SmError err = {{0}};
  int rc = sm_volume_read(write_imagej_raw_stack("ij-raw.tif", 3), &v, &err);
  bool ok = rc == 0 && v.nz == 3 && v.ny == 4 && v.nx == 6 && v.dtype == SM_U16 &&
            v.voxel_size[0] == 40 && strcmp(v.unit, "nm") == 0;
  for (int i = 0; ok && i < 3 * 24; i++) ok = ((uint16_t *)v.data)[i] == (uint16_t)(i * 300);
  TAP_OK(ok, "ImageJ raw stack (one directory, images=3, big-endian) reads all 3 pages %s",
         err.message);
  if (rc == 0) sm_volume_free(&v);
  const char *short_file = write_imagej_raw_stack("ij-short.tif", 2);
  TAP_OK(fails_with(short_file, "images", &err), "ImageJ raw stack cut short: %s", err.message);
}

static void write_slice(const char *folder, const char *name, SmDtype t, int64_t ny, int64_t nx,
                        int64_t nz, int value) {
  SmVolume v;
  SmError err;
  sm_volume_alloc(&v, t, nz, ny, nx, &err);
  memset(v.data, value, sm_volume_bytes(&v));
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", folder, name);
  if (sm_volume_write(path, &v, &err) != 0) tap_diag("%s", err.message);
  sm_volume_free(&v);
}

static void test_slice_folders(void) {
  SmVolume v;
  SmError err = {{0}};
  char *folder = test_temp_dir("slices");
  write_slice(folder, "s10.tif", SM_U8, 4, 6, 1, 10);
  write_slice(folder, "s2.tif", SM_U8, 4, 6, 1, 2);
  write_slice(folder, "s1.tif", SM_U8, 4, 6, 1, 1);
  write_slice(folder, ".hidden.tif", SM_U8, 9, 9, 1, 99);
  char notes[4200];
  snprintf(notes, sizeof notes, "%s/notes.txt", folder);
  test_write_file(notes, "not a slice", 11);
  int rc = sm_volume_read(folder, &v, &err);
  const uint8_t *b = v.data;
  TAP_OK(rc == 0 && v.nz == 3 && b[0] == 1 && b[24] == 2 && b[48] == 10,
         "folder in natural order s1, s2, s10; other files ignored %s", err.message);
  if (rc == 0) sm_volume_free(&v);
  char pattern[4200];
  snprintf(pattern, sizeof pattern, "%s/s?.tif", folder);
  rc = sm_volume_read(pattern, &v, &err);
  TAP_OK(rc == 0 && v.nz == 2, "glob s?.tif picks 2 slices");
  if (rc == 0) sm_volume_free(&v);

  write_slice(folder, "s3.tif", SM_U8, 5, 6, 1, 3); /* wrong size */
  char bad[4200];
  snprintf(bad, sizeof bad, "%s/s3.tif", folder);
  TAP_OK(sm_volume_read(folder, &v, &err) != 0 && test_is_clean_error(err.message, bad) &&
             strstr(err.message, "s1.tif"),
         "mixed sizes name the first odd slice: %s", err.message);
  write_slice(folder, "s3.tif", SM_U16, 4, 6, 1, 3); /* wrong type */
  TAP_OK(sm_volume_probe(folder, &v, &err) != 0 && test_is_clean_error(err.message, bad) &&
             strstr(err.message, "uint16"),
         "mixed types name the first odd slice: %s", err.message);
  write_slice(folder, "s3.tif", SM_U8, 4, 6, 3, 3); /* a stack among slices */
  TAP_OK(sm_volume_probe(folder, &v, &err) != 0 && test_is_clean_error(err.message, bad) &&
             strstr(err.message, "3 pages"),
         "multi-page file among slices: %s", err.message);
  test_remove_dir(folder);
  free(folder);

  folder = test_temp_dir("one-stack");
  write_slice(folder, "stack.tif", SM_I16, 4, 6, 7, 0);
  rc = sm_volume_read(folder, &v, &err);
  TAP_OK(rc == 0 && v.nz == 7 && v.dtype == SM_I16, "folder with one stack reads that stack");
  if (rc == 0) sm_volume_free(&v);
  test_remove_dir(folder);
  free(folder);
}

static const char *write_png(const char *name, int width, int height, int depth, int color,
                             int interlace, const uint8_t *pixels, size_t row_bytes) {
  const char *path = temp_path(name);
  FILE *f = fopen(path, "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  png_init_io(png, f);
  png_set_IHDR(png, info, width, height, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (color == PNG_COLOR_TYPE_PALETTE) {
    png_color palette[16];
    for (int i = 0; i < 16; i++)
      palette[i] = (png_color){(png_byte)(i * 16), (png_byte)(255 - i), 7};
    png_set_PLTE(png, info, palette, 16);
  }
  png_set_pHYs(png, info, 250000, 250000, PNG_RESOLUTION_METER);
  png_write_info(png, info);
  png_bytep *rows = malloc(sizeof *rows * height);
  for (int y = 0; y < height; y++) rows[y] = (png_bytep)pixels + y * row_bytes;
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  fclose(f);
  free(rows);
  return path;
}

static void test_png_variants(void) {
  SmVolume v;
  SmError err = {{0}};
  enum { W = 7, H = 5 };
  uint8_t buf[W * H * 8];
  /* 16-bit grey: big-endian in the file, host order in the volume. */
  for (int i = 0; i < W * H; i++) buf[2 * i] = (uint8_t)(i * 7), buf[2 * i + 1] = (uint8_t)i;
  buf[0] = buf[1] = 0xff;
  int rc = sm_volume_read(write_png("g16.png", W, H, 16, PNG_COLOR_TYPE_GRAY, 0, buf, 2 * W), &v, &err);
  bool ok = rc == 0 && v.dtype == SM_U16 && ((uint16_t *)v.data)[0] == 65535;
  for (int i = 1; ok && i < W * H; i++) ok = ((uint16_t *)v.data)[i] == (uint16_t)((i * 7 % 256) << 8 | i);
  TAP_OK(ok, "16-bit grey PNG exact %s", err.message);
  TAP_OK(rc == 0 && fabs(v.voxel_size[2] - 4.0) < 1e-9 && strcmp(v.unit, "um") == 0,
         "PNG pHYs gives the voxel size (%g %s)", v.voxel_size[2], v.unit);
  if (rc == 0) sm_volume_free(&v);

  for (int i = 0; i < W * H; i++) buf[2 * i] = (uint8_t)(i * 5), buf[2 * i + 1] = 128;
  rc = sm_volume_read(write_png("ga.png", W, H, 8, PNG_COLOR_TYPE_GRAY_ALPHA, 0, buf, 2 * W), &v, &err);
  ok = rc == 0 && v.dtype == SM_U8;
  for (int i = 0; ok && i < W * H; i++) ok = ((uint8_t *)v.data)[i] == (uint8_t)(i * 5);
  TAP_OK(ok, "grey+alpha PNG: grey channel %s", err.message);
  if (rc == 0) sm_volume_free(&v);

  for (int i = 0; i < W * H; i++)
    buf[3 * i] = (uint8_t)(i * 3), buf[3 * i + 1] = 1, buf[3 * i + 2] = 2;
  rc = sm_volume_read(write_png("rgb-adam7.png", W, H, 8, PNG_COLOR_TYPE_RGB,
                                PNG_INTERLACE_ADAM7, buf, 3 * W), &v, &err);
  ok = rc == 0;
  for (int i = 0; ok && i < W * H; i++) ok = ((uint8_t *)v.data)[i] == (uint8_t)(i * 3);
  TAP_OK(ok, "interlaced RGB PNG: first channel %s", err.message);
  if (rc == 0) sm_volume_free(&v);

  /* 4-bit palette: the indices are the values (as in ImageJ's LUT images). */
  size_t row = (W * 4 + 7) / 8;
  memset(buf, 0, sizeof buf);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      int index = (x + y) % 16;
      buf[y * row + x / 2] |= (uint8_t)(x % 2 ? index : index << 4);
    }
  warnings[0] = '\0';
  rc = sm_volume_read(write_png("pal.png", W, H, 4, PNG_COLOR_TYPE_PALETTE, 0, buf, row), &v, &err);
  ok = rc == 0 && v.dtype == SM_U8;
  for (int y = 0; ok && y < H; y++)
    for (int x = 0; ok && x < W; x++) ok = ((uint8_t *)v.data)[y * W + x] == (x + y) % 16;
  TAP_OK(ok && strstr(warnings, "palette"), "4-bit palette PNG: indices, with a warning %s",
         err.message);
  if (rc == 0) sm_volume_free(&v);

  row = (W + 7) / 8;
  memset(buf, 0, sizeof buf);
  for (int y = 0; y < H; y++) buf[y * row] = 0xA5;
  rc = sm_volume_read(write_png("g1.png", W, H, 1, PNG_COLOR_TYPE_GRAY, 0, buf, row), &v, &err);
  ok = rc == 0 && v.dtype == SM_U8;
  for (int x = 0; ok && x < W; x++) ok = ((uint8_t *)v.data)[x] == ((0xA5 >> (7 - x)) & 1) * 255;
  TAP_OK(ok, "1-bit PNG expands to 0/255 %s", err.message);
  if (rc == 0) sm_volume_free(&v);

  size_t size = 0;
  unsigned char *png = test_read_file(temp_path("g16.png"), &size);
  const char *cut = temp_path("cut.png");
  test_write_file(cut, png, size / 2);
  TAP_OK(fails_with(cut, "PNG", &err), "truncated PNG: %s", err.message);
  free(png);
}

/* Slices are decoded by several threads: the result and the error must be
 * those of a serial read (the first bad slice is named). */
static void test_threaded_slices(void) {
  char *folder = test_temp_dir("threads");
  enum { W = 64, H = 48, N = 9 };
  uint8_t pixels[W * H];
  char name[64], path[4300];
  for (int z = 0; z < N; z++) {
    for (int i = 0; i < W * H; i++) pixels[i] = (uint8_t)(i * 31 + z * 7);
    snprintf(name, sizeof name, "threads-%d.png", z);
    const char *made = write_png(name, W, H, 8, PNG_COLOR_TYPE_GRAY, 0, pixels, W);
    snprintf(path, sizeof path, "%s/%d.png", folder, z);
    rename(made, path);
  }
  SmVolume serial, parallel;
  SmError err = {{0}};
  setenv("SEMMAE_READ_THREADS", "1", 1);
  int rc1 = sm_volume_read(folder, &serial, &err);
  setenv("SEMMAE_READ_THREADS", "4", 1);
  int rc4 = sm_volume_read(folder, &parallel, &err);
  TAP_OK(rc1 == 0 && rc4 == 0 && serial.nz == N &&
             memcmp(serial.data, parallel.data, sm_volume_bytes(&serial)) == 0,
         "4 reader threads give the serial result");
  if (rc1 == 0) sm_volume_free(&serial);
  if (rc4 == 0) sm_volume_free(&parallel);

  /* Cut the pixel data of slices 3 and 6: headers still probe fine. */
  for (int z = 3; z < N; z += 3) {
    snprintf(path, sizeof path, "%s/%d.png", folder, z);
    size_t size = 0;
    unsigned char *bytes = test_read_file(path, &size);
    test_write_file(path, bytes, size - 40);
    free(bytes);
  }
  snprintf(path, sizeof path, "%s/3.png", folder);
  bool named = true;
  for (int round = 0; round < 5; round++) {
    SmVolume v;
    if (sm_volume_read(folder, &v, &err) == 0) {
      sm_volume_free(&v);
      named = false;
    } else {
      named = named && test_is_clean_error(err.message, path);
    }
  }
  TAP_OK(named, "with 4 threads the first bad slice is named: %s", err.message);
  unsetenv("SEMMAE_READ_THREADS");
  test_remove_dir(folder);
  free(folder);
}

static void test_natural_compare(void) {
  const char *ordered[] = {"a", "a1", "a2", "a02x", "a2x", "a10", "a010b", "b", "slice9.png",
                           "slice10.png", "slice100.png", "z"};
  bool ok = true;
  int n = sizeof ordered / sizeof ordered[0];
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      int c = sm_natural_compare(ordered[i], ordered[j]);
      int want = (i > j) - (i < j);
      if (c != want) {
        tap_diag("compare(%s, %s) = %d, expected %d", ordered[i], ordered[j], c, want);
        ok = false;
      }
    }
  TAP_OK(ok, "natural compare: 2 < 10, leading zeros, text");
  char *names[] = {"10.png", "9.png", "100.png", "1.png", "0.png"};
  sm_natural_sort(names, 5);
  TAP_OK(strcmp(names[0], "0.png") == 0 && strcmp(names[1], "1.png") == 0 &&
             strcmp(names[2], "9.png") == 0 && strcmp(names[3], "10.png") == 0 &&
             strcmp(names[4], "100.png") == 0,
         "natural sort of slice names");
}

int main(void) {
  dir = test_temp_dir("edge");
  sm_set_warning_handler(capture_warning, NULL);
  test_natural_compare();
  test_unsupported();
  test_samples_and_tiles();
  test_twelve_bit();
  test_jpeg();
  test_voxel_metadata();
  test_imagej_raw_stack();
  test_slice_folders();
  test_png_variants();
  test_threaded_slices();
  test_remove_dir(dir);
  free(dir);
  return tap_done();
}
