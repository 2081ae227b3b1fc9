#include "cli_mae.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "atomic_file.h"
#include "cli_common.h"

int cli_read_scaled_volume(const char *path, float **out, SmVolume *info, double *lo, double *hi) {
  SmVolume v;
  SmError err;
  *out = NULL;
  if (sm_volume_read(path, &v, &err)) {
    cli_fail("%s", err.message);
    return -1;
  }
  size_t n = sm_volume_voxels(&v);
  float *scaled = malloc(n * sizeof *scaled);
  if (!scaled) {
    sm_volume_free(&v);
    cli_fail("%s: out of memory for %zu voxels", path, n);
    return -1;
  }
  sm_volume_to_float(&v, scaled, lo, hi);
  *info = v;
  info->data = NULL;
  sm_volume_free(&v);
  *out = scaled;
  return 0;
}

int cli_check_volume_fits(const char *path, const SmVolume *v, const MaeConfig *cfg,
                          const char *config_name) {
  if (v->nz >= cfg->input[0] && v->ny >= cfg->input[1] && v->nx >= cfg->input[2]) return 0;
  cli_fail("%s: volume %lldx%lldx%lld is smaller than one %dx%dx%d crop of config %s", path,
           (long long)v->nz, (long long)v->ny, (long long)v->nx, cfg->input[0], cfg->input[1],
           cfg->input[2], config_name);
  return -1;
}

int cli_check_writable(const char *path) {
  SmAtomicFile af;
  SmError err;
  if (sm_atomic_begin(&af, path, &err)) {
    cli_fail("%s", err.message);
    return -1;
  }
  sm_atomic_abort(&af);
  return 0;
}

int cli_setup_threads(int requested) {
  int n = requested;
  if (n <= 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    n = cpus > 0 ? (int)cpus : 1;
  }
  mae_set_threads(n);
  return n;
}

bool cli_mask_ratio_ok(double r) { return r >= 0.0 && r < 1.0; }
