/* Pieces shared by the MAE subcommands (pretrain, reconstruct, bench). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "mae_train.h"
#include "volume.h"

/* Reads a volume and converts it to the network's input scale (uint8:
 * x/127.5 - 1; others: robust percentiles to [-1, 1]). On success *out holds
 * nz*ny*nx floats (free with free()), *info the shape, dtype and voxel size
 * (data = NULL), lo/hi the values mapped to -1 and 1. Prints the error and
 * returns -1 on failure. */
int cli_read_scaled_volume(const char *path, float **out, SmVolume *info, double *lo, double *hi);

/* Fails (message printed, -1) when the volume cannot hold one crop of cfg. */
int cli_check_volume_fits(const char *path, const SmVolume *v, const MaeConfig *cfg,
                          const char *config_name);

/* Fails when `path` cannot be created (directory missing, no permission),
 * without touching an existing file: tries a temporary file beside it. */
int cli_check_writable(const char *path);

/* Threads: `requested` when > 0, else the number of online CPUs. Applies it
 * to BLAS and OpenMP and returns it. */
int cli_setup_threads(int requested);

/* Mask ratio must lie in [0, 1). */
bool cli_mask_ratio_ok(double r);
