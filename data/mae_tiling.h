/* A whole volume through a masked autoencoder, tile by tile: what
 * `semmae reconstruct` writes and what the studio's reconstruction-error
 * overlay shows.
 *
 * The volume is tiled by the model's input size (the last tile of an axis
 * overlaps its neighbour so that every voxel is covered; where tiles overlap,
 * the later tile's tokens win, consistently in every output). Each tile gets
 * a mask drawn from (seed, tile index). Visible tokens are pasted from the
 * input unchanged; masked tokens are the decoder's prediction, de-normalised
 * with the mean and std of the patch's real voxels (the inverse of the
 * norm-pix target). No GLib. */
#pragma once

#include <stdint.h>

#include "mae.h"
#include "sm_error.h"

typedef struct SmTileOptions {
  double mask_ratio;
  uint64_t seed;
  int batch;                                  /* tiles per forward pass (8) */
  void (*progress)(int64_t done, int64_t total, void *user); /* may be NULL */
  void *user;
  const volatile int *cancel;                 /* non-zero: stop, fail "cancelled" */
} SmTileOptions;

/* Tile origins along one axis: 0, size, 2 size, ... and, if the extent is not
 * a multiple of size, extent - size. Returns the count; out may be NULL. */
int64_t sm_tile_origins(int64_t extent, int64_t size, int64_t *out);

/* scaled: the input in [-1, 1]. recon (same shape): the reconstruction in
 * that scale; masked (may be NULL): 1 at masked-token voxels; pred (may be
 * NULL): the raw decoder output; *loss (may be NULL): mean masked norm-pix
 * loss over tiles. The volume must hold at least one tile. */
int sm_mae_reconstruct_volume(MaeModel *model,
                              const float *scaled,  // (nz, ny, nx)
                              int64_t nz, int64_t ny, int64_t nx, const SmTileOptions *opt,
                              float *recon,         // (nz, ny, nx)
                              uint8_t *masked,      // (nz, ny, nx) or NULL
                              float *pred,          // (nz, ny, nx) or NULL
                              double *loss, SmError *err);
