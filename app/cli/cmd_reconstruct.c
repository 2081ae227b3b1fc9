/* semmae reconstruct: passes a whole volume through a pre-trained MAE.
 *
 * The volume is tiled by the model's input size (the last tile of an axis
 * overlaps its neighbour so that every voxel is covered; where tiles overlap,
 * the later tile's tokens win, consistently in every output). Each tile gets
 * a mask drawn from (seed, tile index). Visible tokens are pasted from the
 * input unchanged; masked tokens are the decoder's prediction, de-normalised
 * with the mean and std of the patch's real voxels (the inverse of the
 * norm-pix target), and mapped back to the input's dtype and scale. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli_common.h"
#include "cli_mae.h"
#include "progress.h"

static const char usage[] =
    "usage: semmae reconstruct --model M --data VOLUME --out R.tif [--mask-ratio R] [--seed S]\n"
    "         [--error-map E.tif] [--out-pred P.tif] [--out-mask K.tif]\n"
    "\n"
    "Masks the tokens of every model-sized tile of VOLUME, lets the model M predict them and\n"
    "writes the reconstruction R (input dtype and scale: visible tokens pasted, masked tokens\n"
    "predicted and de-normalised with their patch's statistics).\n"
    "\n"
    "  --mask-ratio R    share of masked tokens per tile, in [0, 1) (the model's training ratio)\n"
    "  --seed S          seeds the masks; tile i uses (S, i) (0)\n"
    "  --error-map E     float32 |reconstruction - input| per voxel (0 at visible tokens)\n"
    "  --out-pred P      float32 raw decoder output (per-patch normalised target space) at\n"
    "                    every token's voxels\n"
    "  --out-mask K      uint8, 1 at the voxels of masked tokens\n"
    "  --batch B         tiles per forward pass (8)\n"
    "  --threads T       BLAS/OpenMP threads (all CPUs)\n";

/* Tile origins along one axis: 0, size, 2 size, ... and, if the extent is not
 * a multiple of size, extent - size. Returns the count. */
static int64_t tile_origins(int64_t extent, int64_t size, int64_t *out) {
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

static double raw_get(const SmVolume *v, size_t i) {
  switch (v->dtype) {
  case SM_U8: return ((const uint8_t *)v->data)[i];
  case SM_I8: return ((const int8_t *)v->data)[i];
  case SM_U16: return ((const uint16_t *)v->data)[i];
  case SM_I16: return ((const int16_t *)v->data)[i];
  case SM_U32: return ((const uint32_t *)v->data)[i];
  case SM_I32: return ((const int32_t *)v->data)[i];
  case SM_F32: return ((const float *)v->data)[i];
  default: return 0;
  }
}

static double clamp_round(double x, double lo, double hi) {
  x = nearbyint(x);
  return x < lo ? lo : x > hi ? hi : x;
}

static void raw_set(SmVolume *v, size_t i, double x) {
  if (isnan(x)) x = 0;
  switch (v->dtype) {
  case SM_U8: ((uint8_t *)v->data)[i] = (uint8_t)clamp_round(x, 0, UINT8_MAX); break;
  case SM_I8: ((int8_t *)v->data)[i] = (int8_t)clamp_round(x, INT8_MIN, INT8_MAX); break;
  case SM_U16: ((uint16_t *)v->data)[i] = (uint16_t)clamp_round(x, 0, UINT16_MAX); break;
  case SM_I16: ((int16_t *)v->data)[i] = (int16_t)clamp_round(x, INT16_MIN, INT16_MAX); break;
  case SM_U32: ((uint32_t *)v->data)[i] = (uint32_t)clamp_round(x, 0, UINT32_MAX); break;
  case SM_I32: ((int32_t *)v->data)[i] = (int32_t)clamp_round(x, INT32_MIN, INT32_MAX); break;
  case SM_F32: ((float *)v->data)[i] = (float)x; break;
  default: break;
  }
}

typedef struct ReconArgs {
  const char *model, *data, *out, *error_map, *out_pred, *out_mask;
  double mask_ratio;
  bool have_mask_ratio;
  uint64_t seed;
  int64_t batch, threads;
} ReconArgs;

static int parse_args(int argc, char **argv, ReconArgs *a) {
  memset(a, 0, sizeof *a);
  a->batch = 8;
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    if (i + 1 >= argc)
      return cli_usage_error("reconstruct", "unknown option or missing value '%s'", opt);
    const char *v = argv[++i];
    if (strcmp(opt, "--model") == 0) a->model = v;
    else if (strcmp(opt, "--data") == 0) a->data = v;
    else if (strcmp(opt, "--out") == 0) a->out = v;
    else if (strcmp(opt, "--error-map") == 0) a->error_map = v;
    else if (strcmp(opt, "--out-pred") == 0) a->out_pred = v;
    else if (strcmp(opt, "--out-mask") == 0) a->out_mask = v;
    else if (strcmp(opt, "--mask-ratio") == 0) {
      if (!cli_parse_double(v, &a->mask_ratio) || !cli_mask_ratio_ok(a->mask_ratio))
        return cli_usage_error("reconstruct", "--mask-ratio %s is outside [0, 1)", v);
      a->have_mask_ratio = true;
    } else if (strcmp(opt, "--seed") == 0) {
      if (!cli_parse_u64(v, &a->seed))
        return cli_usage_error("reconstruct", "--seed needs a non-negative integer");
    } else if (strcmp(opt, "--batch") == 0) {
      if (!cli_parse_i64(v, &a->batch) || a->batch < 1 || a->batch > 1024)
        return cli_usage_error("reconstruct", "--batch needs an integer in [1, 1024]");
    } else if (strcmp(opt, "--threads") == 0) {
      if (!cli_parse_i64(v, &a->threads) || a->threads < 1 || a->threads > 1024)
        return cli_usage_error("reconstruct", "--threads needs a positive integer");
    } else {
      return cli_usage_error("reconstruct", "unknown option '%s'", opt);
    }
  }
  if (!a->model) return cli_usage_error("reconstruct", "--model M is required");
  if (!a->data) return cli_usage_error("reconstruct", "--data VOLUME is required");
  if (!a->out) return cli_usage_error("reconstruct", "--out R.tif is required");
  return 0;
}

/* Per-voxel results of all tiles, in the scaled float space of the input. */
typedef struct ReconState {
  const MaeConfig *cfg;
  int64_t nz, ny, nx;
  float *recon;     /* prediction de-normalised (masked voxels) or input */
  float *pred;      /* raw decoder output, or NULL */
  uint8_t *masked;  /* 1 at masked-token voxels */
} ReconState;

/* Writes one tile's tokens into the volumes at origin (oz, oy, ox). */
static void scatter_tile(ReconState *s, const int64_t origin[3],
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
              s->masked[idx] = mask[token];
              if (s->pred) s->pred[idx] = pred[at];
            }
      }
}

static int write_float_volume(const char *path, const SmVolume *like, float *data) {
  SmVolume v = *like;
  v.dtype = SM_F32;
  v.bits_per_sample = 32;
  v.data = data;
  SmError err;
  if (sm_volume_write(path, &v, &err)) return cli_fail("%s", err.message);
  return 0;
}

int cmd_reconstruct(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("%s", usage);
    return 0;
  }
  ReconArgs a;
  int rc = parse_args(argc, argv, &a);
  if (rc) return rc;

  SmError err;
  SmCheckpointInfo info;
  MaeModel *model = NULL;
  SmVolume raw = {0}, out = {0};
  float *scaled = NULL, *crops = NULL, *pred = NULL, *patches = NULL, *denorm = NULL;
  uint8_t *mask = NULL;
  int64_t *oz = NULL, *oy = NULL, *ox = NULL;
  ReconState s = {0};
  rc = 1;

  if (sm_checkpoint_load_model(a.model, NULL, &model, &info, &err)) {
    cli_fail("%s", err.message);
    goto done;
  }
  const char *outputs[] = {a.out, a.error_map, a.out_pred, a.out_mask};
  for (size_t i = 0; i < 4; i++)
    if (outputs[i] && cli_check_writable(outputs[i])) goto done;
  if (sm_volume_read(a.data, &raw, &err)) {
    cli_fail("%s", err.message);
    goto done;
  }
  const MaeConfig *cfg = mae_model_config(model);
  if (cli_check_volume_fits(a.data, &raw, cfg, info.config_name)) goto done;
  double ratio = a.have_mask_ratio ? a.mask_ratio : info.mask_ratio;
  if (!cli_mask_ratio_ok(ratio)) ratio = 0.9;
  int threads = cli_setup_threads((int)a.threads);

  size_t n = sm_volume_voxels(&raw);
  double lo, hi;
  scaled = malloc(n * sizeof *scaled);
  s.cfg = cfg;
  s.nz = raw.nz;
  s.ny = raw.ny;
  s.nx = raw.nx;
  s.recon = malloc(n * sizeof *s.recon);
  s.masked = calloc(n, 1);
  if (a.out_pred) s.pred = calloc(n, sizeof *s.pred);
  int L = mae_config_tokens(cfg), P = mae_config_patch_voxels(cfg);
  int64_t crop = mae_config_crop_voxels(cfg);
  int64_t batch = a.batch;
  crops = malloc((size_t)(batch * crop) * sizeof *crops);
  pred = malloc((size_t)(batch * L * P) * sizeof *pred);
  patches = malloc((size_t)L * (size_t)P * sizeof *patches);
  denorm = malloc((size_t)L * (size_t)P * sizeof *denorm);
  mask = malloc((size_t)(batch * L));
  int64_t nz = tile_origins(raw.nz, cfg->input[0], NULL);
  int64_t ny = tile_origins(raw.ny, cfg->input[1], NULL);
  int64_t nx = tile_origins(raw.nx, cfg->input[2], NULL);
  oz = malloc((size_t)nz * sizeof *oz);
  oy = malloc((size_t)ny * sizeof *oy);
  ox = malloc((size_t)nx * sizeof *ox);
  if (!scaled || !s.recon || !s.masked || (a.out_pred && !s.pred) || !crops || !pred ||
      !patches || !denorm || !mask || !oz || !oy || !ox) {
    cli_fail("%s: out of memory", a.data);
    goto done;
  }
  tile_origins(raw.nz, cfg->input[0], oz);
  tile_origins(raw.ny, cfg->input[1], oy);
  tile_origins(raw.nx, cfg->input[2], ox);
  sm_volume_to_float(&raw, scaled, &lo, &hi);

  int64_t tiles = nz * ny * nx;
  fprintf(stderr,
          "semmae: reconstruct %s (%lldx%lldx%lld) with %s (config %s, step %lld): %lld tiles, "
          "mask %.2f, seed %llu, %d threads\n",
          a.data, (long long)raw.nz, (long long)raw.ny, (long long)raw.nx, a.model,
          info.config_name, (long long)info.step, (long long)tiles, ratio,
          (unsigned long long)a.seed, threads);
  CliProgress progress;
  cli_progress_begin(&progress, "tile", 0, tiles, 64);
  double loss_sum = 0;
  int64_t loss_tiles = 0;
  for (int64_t first = 0; first < tiles; first += batch) {
    int64_t count = tiles - first < batch ? tiles - first : batch;
    int64_t origin[3];
    for (int64_t b = 0; b < count; b++) {
      int64_t tile = first + b;
      origin[0] = oz[tile / (ny * nx)];
      origin[1] = oy[(tile / nx) % ny];
      origin[2] = ox[tile % nx];
      float *dst = crops + b * crop;
      for (int d = 0; d < cfg->input[0]; d++)
        for (int h = 0; h < cfg->input[1]; h++)
          memcpy(dst + ((size_t)d * (size_t)cfg->input[1] + (size_t)h) * (size_t)cfg->input[2],
                 scaled + (size_t)(((origin[0] + d) * raw.ny + origin[1] + h) * raw.nx +
                                   origin[2]),
                 (size_t)cfg->input[2] * sizeof *dst);
      mae_mask_from_seed(mask + b * L, L, (float)ratio, a.seed, (uint64_t)tile);
    }
    double loss = 0;
    MaeError merr = {{0}};
    if (mae_model_forward(model, crops, mask, (int)count, pred, &loss, &merr)) {
      cli_progress_end(&progress);
      cli_fail("%s: %s", a.model, merr.message);
      goto done;
    }
    loss_sum += loss * (double)count;
    loss_tiles += count;
    for (int64_t b = 0; b < count; b++) {
      int64_t tile = first + b;
      origin[0] = oz[tile / (ny * nx)];
      origin[1] = oy[(tile / nx) % ny];
      origin[2] = ox[tile % nx];
      const float *tile_pred = pred + (size_t)(b * L * P);
      mae_patchify(cfg, crops + b * crop, patches);
      mae_denormalize(tile_pred, patches, L, P, denorm);
      scatter_tile(&s, origin, mask + b * L, tile_pred, denorm, patches);
    }
    cli_progress_update(&progress, first + count, NAN);
  }
  cli_progress_end(&progress);

  /* Back to the input's dtype and scale; visible voxels are the input's own. */
  if (sm_volume_alloc(&out, raw.dtype, raw.nz, raw.ny, raw.nx, &err)) {
    cli_fail("%s", err.message);
    goto done;
  }
  memcpy(out.voxel_size, raw.voxel_size, sizeof out.voxel_size);
  memcpy(out.unit, raw.unit, sizeof out.unit);
  out.bits_per_sample = raw.bits_per_sample;
  double half_range = 0.5 * (hi - lo);
  double abs_err_sum = 0;
  size_t masked_voxels = 0;
  for (size_t i = 0; i < n; i++) {
    double original = raw_get(&raw, i);
    if (!s.masked[i]) {
      raw_set(&out, i, original);
      s.recon[i] = 0.0f; /* reused below as the error map */
      continue;
    }
    double value = lo + ((double)s.recon[i] + 1.0) * half_range;
    raw_set(&out, i, value);
    double e = fabs(value - original);
    abs_err_sum += e;
    masked_voxels++;
    s.recon[i] = (float)e;
  }
  if (sm_volume_write(a.out, &out, &err)) {
    cli_fail("%s", err.message);
    goto done;
  }
  if (a.error_map && write_float_volume(a.error_map, &raw, s.recon)) goto done;
  if (a.out_pred && write_float_volume(a.out_pred, &raw, s.pred)) goto done;
  if (a.out_mask) {
    SmVolume m = raw;
    m.dtype = SM_U8;
    m.bits_per_sample = 8;
    m.data = s.masked;
    if (sm_volume_write(a.out_mask, &m, &err)) {
      cli_fail("%s", err.message);
      goto done;
    }
  }
  fprintf(stderr,
          "semmae: masked norm-pix loss %.5f; mean |error| at masked voxels %.4g (input units, "
          "%zu voxels); wrote %s\n",
          loss_tiles ? loss_sum / (double)loss_tiles : NAN,
          masked_voxels ? abs_err_sum / (double)masked_voxels : 0.0, masked_voxels, a.out);
  rc = 0;

done:
  mae_model_free(model);
  sm_volume_free(&raw);
  sm_volume_free(&out);
  free(scaled);
  free(s.recon);
  free(s.pred);
  free(s.masked);
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
