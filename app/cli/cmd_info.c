/* semmae info VOLUME: what a volume holds, from its header and its voxels. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli_common.h"
#include "data/volume.h"

static const char usage[] =
    "usage: semmae info [--header] VOLUME\n"
    "\n"
    "Prints the shape (Z x Y x X), data type, voxel size, value range and source\n"
    "(format, pages or slices, size on disk) of a volume. VOLUME is a multi-page\n"
    "TIFF/BigTIFF, a PNG, a folder of TIFF/PNG slices (natural order), or a glob\n"
    "such as 'stack/*.png' (quoted).\n"
    "\n"
    "options:\n"
    "  --header   read only the headers: no value range, but instant on huge volumes\n"
    "  -h, --help show this help\n"
    "\n"
    "Reading costs about one copy of the volume in memory.\n";

static void print_bytes(const char *label, double bytes) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) bytes /= 1024, u++;
  printf("%-12s%.*f %s\n", label, u ? 1 : 0, bytes, units[u]);
}

static const char *compression_text(const char *compression) {
  return strcmp(compression, "none") == 0 ? "uncompressed" : compression;
}

static const char *source_text(const SmSourceInfo *s, char *buf, size_t size) {
  switch (s->kind) {
  case SM_SOURCE_TIFF:
    snprintf(buf, size, "%s, %lld page%s, %s, %s, %s", s->format, (long long)s->pages,
             s->pages == 1 ? "" : "s", s->big_endian ? "big-endian" : "little-endian",
             s->tiled ? "tiled" : "strips", compression_text(s->compression));
    break;
  case SM_SOURCE_PNG: snprintf(buf, size, "PNG, 1 slice"); break;
  case SM_SOURCE_SLICE_FOLDER:
  case SM_SOURCE_GLOB:
    if (s->files == 1 && s->pages > 1) {
      snprintf(buf, size, "%s with one %s file of %lld pages, %s",
               s->kind == SM_SOURCE_GLOB ? "glob" : "folder", s->format, (long long)s->pages,
               compression_text(s->compression));
      break;
    }
    snprintf(buf, size, "%s of %lld %s slice%s, %s",
             s->kind == SM_SOURCE_GLOB ? "glob" : "folder", (long long)s->files, s->format,
             s->files == 1 ? "" : "s", compression_text(s->compression));
    break;
  }
  return buf;
}

int cmd_info(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("%s", usage);
    return 0;
  }
  const char *path = NULL;
  bool header_only = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--header") == 0) header_only = true;
    else if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "--") != 0)
      return cli_usage_error("info", "unknown option '%s'", argv[i]);
    else if (strcmp(argv[i], "--") == 0 && i + 1 < argc && !path) path = argv[++i];
    else if (!path) path = argv[i];
    else
      return cli_usage_error("info", "one VOLUME at a time ('%s' is extra; quote a glob: "
                             "'stack/*.png')", argv[i]);
  }
  if (!path) return cli_usage_error("info", "missing VOLUME");

  SmError err;
  SmVolume v;
  SmSourceInfo source;
  if (sm_volume_probe_ex(path, &v, &source, &err) != 0) return cli_fail("%s", err.message);
  if (!header_only) {
    sm_volume_free(&v);
    if (sm_volume_read(path, &v, &err) != 0) return cli_fail("%s", err.message);
  }

  char buf[256];
  printf("%-12s%s\n", "volume:", path);
  printf("%-12s%s\n", "source:", source_text(&source, buf, sizeof buf));
  print_bytes("on disk:", (double)source.file_bytes);
  printf("%-12s%lld x %lld x %lld (Z x Y x X)\n", "shape:", (long long)v.nz, (long long)v.ny,
         (long long)v.nx);
  if (v.bits_per_sample == 12)
    printf("%-12s12-bit in %s\n", "dtype:", sm_dtype_name(v.dtype));
  else
    printf("%-12s%s\n", "dtype:", sm_dtype_name(v.dtype));
  if (source.samples_per_pixel > 1)
    printf("%-12s%d per pixel; sample 0 read\n", "samples:", source.samples_per_pixel);
  bool uncalibrated = !v.unit[0] && v.voxel_size[0] == 1 && v.voxel_size[1] == 1 &&
                      v.voxel_size[2] == 1;
  printf("%-12s%g x %g x %g%s%s (Z x Y x X)%s\n", "voxel size:", v.voxel_size[0],
         v.voxel_size[1], v.voxel_size[2], v.unit[0] ? " " : "", v.unit[0] ? v.unit : "",
         uncalibrated ? ", not given by the file" : "");
  size_t bytes = (size_t)v.nz * v.ny * v.nx * sm_dtype_size(v.dtype);
  print_bytes("in memory:", (double)bytes);
  if (!header_only) {
    double lo, hi;
    sm_volume_range(&v, &lo, &hi);
    printf("%-12s%.9g .. %.9g\n", "range:", lo, hi);
  }
  sm_volume_free(&v);
  return 0;
}
