/* Every file in ../shared/em-data/tiff-cases against EXPECTED.tsv: shape,
 * pages, samples, type, and min/max/sum of sample 0 of page 0. Rows with `?`
 * must decode or fail with a clean one-line error. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_test_util.h"
#include "tap.h"

static SmDtype expected_dtype(int bits, int sample_format) {
  bool is_signed = sample_format == 2, is_float = sample_format == 3;
  if (is_float) return SM_F32;
  if (bits == 8) return is_signed ? SM_I8 : SM_U8;
  if (bits == 12 || bits == 16) return is_signed ? SM_I16 : SM_U16;
  return is_signed ? SM_I32 : SM_U32;
}

static bool close_to(double got, double want) {
  return fabs(got - want) <= 1e-6 * fmax(1.0, fabs(want));
}

static int count_tiffs(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  char path[4096];
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) n += count_tiffs(path);
    else if (strstr(e->d_name, ".tif")) n++;
  }
  closedir(d);
  return n;
}

static void check_row(const char *dir, char *line) {
  char *fields[16];
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(line, "\t\n", &save); tok && n < 16;
       tok = strtok_r(NULL, "\t\n", &save))
    fields[n++] = tok;
  if (n < 10) {
    TAP_OK(0, "EXPECTED.tsv row has %d fields", n);
    return;
  }
  char path[8192];
  snprintf(path, sizeof path, "%s/%s", dir, fields[0]);
  long width = atol(fields[1]), height = atol(fields[2]), pages = atol(fields[3]);
  int samples = atoi(fields[4]), bits = atoi(fields[5]), sample_format = atoi(fields[6]);
  bool unknown = strcmp(fields[7], "?") == 0;

  SmVolume v;
  SmSourceInfo info;
  SmError err = {{0}};
  int probe_rc = sm_volume_probe_ex(path, &v, &info, &err);
  SmVolume probed = v;
  int rc = probe_rc == 0 ? sm_volume_read(path, &v, &err) : -1;
  if (rc == 0)
    TAP_OK(probed.nz == v.nz && probed.ny == v.ny && probed.nx == v.nx &&
               probed.dtype == v.dtype && probed.bits_per_sample == v.bits_per_sample,
           "%s: probe agrees with the read", fields[0]);
  if (unknown) {
    TAP_OK(rc == 0 || test_is_clean_error(err.message, path), "%s: decodes or fails cleanly%s%s",
           fields[0], rc ? ": " : "", rc ? err.message : "");
    if (rc == 0) {
      TAP_OK(v.nx == width && v.ny == height && v.nz == pages, "%s: shape %lld x %lld x %lld",
             fields[0], (long long)v.nz, (long long)v.ny, (long long)v.nx);
      sm_volume_free(&v);
    }
    return;
  }
  if (!TAP_OK(rc == 0, "%s: reads%s%s", fields[0], rc ? ": " : "", rc ? err.message : ""))
    return;
  TAP_OK(v.nx == width && v.ny == height && v.nz == pages,
         "%s: shape %lld x %lld x %lld, expected %ld x %ld x %ld", fields[0], (long long)v.nz,
         (long long)v.ny, (long long)v.nx, pages, height, width);
  TAP_OK(info.pages == pages && info.samples_per_pixel == samples,
         "%s: %lld pages, %d samples per pixel", fields[0], (long long)info.pages,
         info.samples_per_pixel);
  TAP_OK(v.dtype == expected_dtype(bits, sample_format) && v.bits_per_sample == bits,
         "%s: %s with %d bits (expected %d bits, format %d)", fields[0], sm_dtype_name(v.dtype),
         v.bits_per_sample, bits, sample_format);
  double min, max, sum;
  test_page_stats(&v, 0, &min, &max, &sum);
  double want_min = atof(fields[7]), want_max = atof(fields[8]), want_sum = atof(fields[9]);
  TAP_OK(close_to(min, want_min) && close_to(max, want_max) && close_to(sum, want_sum),
         "%s: page 0 min %g max %g sum %.10g (expected %g %g %.10g)", fields[0], min, max, sum,
         want_min, want_max, want_sum);
  sm_volume_free(&v);
}

int main(void) {
  const char *em = tap_em_data();
  if (!em) return tap_skip_all("../shared/em-data is absent");
  sm_set_warning_handler(NULL, NULL);
  char dir[4096], tsv[4200];
  snprintf(dir, sizeof dir, "%s/tiff-cases", em);
  snprintf(tsv, sizeof tsv, "%s/EXPECTED.tsv", dir);
  FILE *f = fopen(tsv, "r");
  if (!TAP_OK(f != NULL, "open %s", tsv)) return tap_done();
  char line[2048];
  int rows = 0;
  bool header = true;
  while (fgets(line, sizeof line, f)) {
    if (header) {
      header = false;
      continue;
    }
    if (line[0] == '\n' || line[0] == '\0') continue;
    rows++;
    check_row(dir, line);
  }
  fclose(f);
  int files = count_tiffs(dir);
  TAP_OK(rows == files && rows > 0, "EXPECTED.tsv lists all %d TIFF files (%d rows)", files,
         rows);
  return tap_done();
}
