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
#include "mae_tiling.h"
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
  float *recon;     /* prediction de-normalised (masked voxels) or input */
  float *pred;      /* raw decoder output, or NULL */
  uint8_t *masked;  /* 1 at masked-token voxels */
} ReconState;

static void on_tiles(int64_t done, int64_t total, void *user) {
  (void)total;
  cli_progress_update(user, done, NAN);
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
  float *scaled = NULL;
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
  s.recon = malloc(n * sizeof *s.recon);
  s.masked = calloc(n, 1);
  if (a.out_pred) s.pred = calloc(n, sizeof *s.pred);
  if (!scaled || !s.recon || !s.masked || (a.out_pred && !s.pred)) {
    cli_fail("%s: out of memory", a.data);
    goto done;
  }
  sm_volume_to_float(&raw, scaled, &lo, &hi);

  /* The tiling is data/mae_tiling.h, shared with the studio's error overlay. */
  int64_t tiles = sm_tile_origins(raw.nz, cfg->input[0], NULL) *
                  sm_tile_origins(raw.ny, cfg->input[1], NULL) *
                  sm_tile_origins(raw.nx, cfg->input[2], NULL);
  fprintf(stderr,
          "semmae: reconstruct %s (%lldx%lldx%lld) with %s (config %s, step %lld): %lld tiles, "
          "mask %.2f, seed %llu, %d threads\n",
          a.data, (long long)raw.nz, (long long)raw.ny, (long long)raw.nx, a.model,
          info.config_name, (long long)info.step, (long long)tiles, ratio,
          (unsigned long long)a.seed, threads);
  CliProgress progress;
  cli_progress_begin(&progress, "tile", 0, tiles, 64);
  SmTileOptions topt = {.mask_ratio = ratio, .seed = a.seed, .batch = (int)a.batch,
                        .progress = on_tiles, .user = &progress};
  double mean_loss = NAN;
  int failed = sm_mae_reconstruct_volume(model, scaled, raw.nz, raw.ny, raw.nx, &topt, s.recon,
                                         s.masked, s.pred, &mean_loss, &err);
  cli_progress_end(&progress);
  if (failed) {
    cli_fail("%s: %s", a.model, err.message);
    goto done;
  }

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
    double original = sm_volume_value(&raw, i);
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
          mean_loss,
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
  return rc;
}
