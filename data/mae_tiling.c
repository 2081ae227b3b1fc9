#include "mae_tiling.h"

#include <stdlib.h>
#include <string.h>

int64_t sm_tile_origins(int64_t extent, int64_t size, int64_t *out) {
  int64_t n = 0;
  for (int64_t o = 0; o + size <= extent; o += size) {
    if (out) out[n] = o;
    n++;
  }
  if (n * size < extent) {
    if (out) out[n] = extent - size;
    n++;
  }
  return n;
}

typedef struct TileOutputs {
  const MaeConfig *cfg;
  int64_t ny, nx;
  float *recon, *pred;
  uint8_t *masked;
} TileOutputs;

/* Writes one tile's tokens into the volumes at origin (oz, oy, ox). */
static void scatter_tile(const TileOutputs *s, const int64_t origin[3],
                         const uint8_t *mask,      // (L)
                         const float *pred,        // (L, P)
                         const float *denorm,      // (L, P)
                         const float *patches) {   // (L, P)
  int grid[3];
  mae_config_grid(s->cfg, grid);
  const int *p = s->cfg->patch;
  int voxels = mae_config_patch_voxels(s->cfg);
  for (int gd = 0; gd < grid[0]; gd++)
    for (int gh = 0; gh < grid[1]; gh++)
      for (int gw = 0; gw < grid[2]; gw++) {
        int token = (gd * grid[1] + gh) * grid[2] + gw;
        const float *src = mask[token] ? denorm : patches;
        for (int a = 0; a < p[0]; a++)
          for (int b = 0; b < p[1]; b++)
            for (int c = 0; c < p[2]; c++) {
              int k = (a * p[1] + b) * p[2] + c;
              int64_t z = origin[0] + gd * p[0] + a, y = origin[1] + gh * p[1] + b,
                      x = origin[2] + gw * p[2] + c;
              size_t idx = (size_t)((z * s->ny + y) * s->nx + x);
              size_t at = (size_t)token * (size_t)voxels + (size_t)k;
              s->recon[idx] = src[at];
              if (s->masked) s->masked[idx] = mask[token];
              if (s->pred) s->pred[idx] = pred[at];
            }
      }
}

int sm_mae_reconstruct_volume(MaeModel *model, const float *scaled, int64_t nz, int64_t ny,
                              int64_t nx, const SmTileOptions *opt, float *recon,
                              uint8_t *masked, float *pred_out, double *loss_out,
                              SmError *err) {
  const MaeConfig *cfg = mae_model_config(model);
  if (nz < cfg->input[0] || ny < cfg->input[1] || nx < cfg->input[2])
    return sm_error_set(err, "reconstruct: volume %lldx%lldx%lld is smaller than one %dx%dx%d tile",
                        (long long)nz, (long long)ny, (long long)nx, cfg->input[0],
                        cfg->input[1], cfg->input[2]);
  int L = mae_config_tokens(cfg), P = mae_config_patch_voxels(cfg);
  int64_t crop = mae_config_crop_voxels(cfg);
  int64_t batch = opt->batch > 0 ? opt->batch : 8;
  int64_t tz = sm_tile_origins(nz, cfg->input[0], NULL);
  int64_t ty = sm_tile_origins(ny, cfg->input[1], NULL);
  int64_t tx = sm_tile_origins(nx, cfg->input[2], NULL);
  float *crops = malloc((size_t)(batch * crop) * sizeof *crops);
  float *pred = malloc((size_t)(batch * L * P) * sizeof *pred);
  float *patches = malloc((size_t)L * (size_t)P * sizeof *patches);
  float *denorm = malloc((size_t)L * (size_t)P * sizeof *denorm);
  uint8_t *mask = malloc((size_t)(batch * L));
  int64_t *oz = malloc((size_t)tz * sizeof *oz), *oy = malloc((size_t)ty * sizeof *oy),
          *ox = malloc((size_t)tx * sizeof *ox);
  int rc = -1;
  if (!crops || !pred || !patches || !denorm || !mask || !oz || !oy || !ox) {
    sm_error_set(err, "reconstruct: out of memory");
    goto done;
  }
  sm_tile_origins(nz, cfg->input[0], oz);
  sm_tile_origins(ny, cfg->input[1], oy);
  sm_tile_origins(nx, cfg->input[2], ox);
  TileOutputs s = {cfg, ny, nx, recon, pred_out, masked};
  int64_t tiles = tz * ty * tx;
  double loss_sum = 0;
  for (int64_t first = 0; first < tiles; first += batch) {
    if (opt->cancel && __atomic_load_n(opt->cancel, __ATOMIC_RELAXED)) {
      sm_error_set(err, "reconstruct: cancelled");
      goto done;
    }
    int64_t count = tiles - first < batch ? tiles - first : batch;
    int64_t origin[3];
    for (int64_t b = 0; b < count; b++) {
      int64_t tile = first + b;
      origin[0] = oz[tile / (ty * tx)];
      origin[1] = oy[(tile / tx) % ty];
      origin[2] = ox[tile % tx];
      float *dst = crops + b * crop;
      for (int d = 0; d < cfg->input[0]; d++)
        for (int h = 0; h < cfg->input[1]; h++)
          memcpy(dst + ((size_t)d * (size_t)cfg->input[1] + (size_t)h) * (size_t)cfg->input[2],
                 scaled + (size_t)(((origin[0] + d) * ny + origin[1] + h) * nx + origin[2]),
                 (size_t)cfg->input[2] * sizeof *dst);
      mae_mask_from_seed(mask + b * L, L, (float)opt->mask_ratio, opt->seed, (uint64_t)tile);
    }
    double loss = 0;
    MaeError merr = {{0}};
    if (mae_model_forward(model, crops, mask, (int)count, pred, &loss, &merr)) {
      sm_error_set(err, "%s", merr.message);
      goto done;
    }
    loss_sum += loss * (double)count;
    for (int64_t b = 0; b < count; b++) {
      int64_t tile = first + b;
      origin[0] = oz[tile / (ty * tx)];
      origin[1] = oy[(tile / tx) % ty];
      origin[2] = ox[tile % tx];
      const float *tile_pred = pred + (size_t)(b * L * P);
      mae_patchify(cfg, crops + b * crop, patches);
      mae_denormalize(tile_pred, patches, L, P, denorm);
      scatter_tile(&s, origin, mask + b * L, tile_pred, denorm, patches);
    }
    if (opt->progress) opt->progress(first + count, tiles, opt->user);
  }
  if (loss_out) *loss_out = loss_sum / (double)tiles;
  rc = 0;
done:
  free(crops);
  free(pred);
  free(patches);
  free(denorm);
  free(mask);
  free(oz);
  free(oy);
  free(ox);
  return rc;
}
