/* MaeConfig: named configs, validation, key/value strings, FLOP counts. */
#include "mae_config.h"

#include "nn.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenBLAS's own thread control (declared in its cblas.h on Debian, but not
 * in every cblas.h). */
void openblas_set_num_threads(int num_threads);

int mae_error_set(MaeError *err, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return -1;
}

int mae_config_named(MaeConfig *cfg, const char *name, MaeError *err) {
  MaeConfig c = {
      .input = {6, 96, 96},
      .patch = {1, 16, 16},
      .enc_dim = 192, .enc_depth = 6, .enc_heads = 3,
      .dec_dim = 128, .dec_depth = 2, .dec_heads = 4,
      .mlp_ratio = 4, .ln_eps = 1e-6f, .norm_pix_loss = 1,
      .pos_max_freq = 2.5f, .pos_temperature = 10.f, .attn_init = MAE_ATTN_INIT_LOCAL,
  };
  if (strcmp(name, "cpu-small") == 0) {
  } else if (strcmp(name, "paper-base") == 0) {
    c.enc_dim = 768, c.enc_depth = 12, c.enc_heads = 12;
    c.dec_dim = 384, c.dec_depth = 8, c.dec_heads = 16;
  } else {
    return mae_error_set(err, "mae_config: unknown config '%s' (known: cpu-small, paper-base)",
                         name);
  }
  *cfg = c;
  return 0;
}

void mae_config_use_reference_init(MaeConfig *c) {
  c->pos_max_freq = 1.f;
  c->pos_temperature = 10000.f;
  c->attn_init = MAE_ATTN_INIT_XAVIER;
}

int mae_config_validate(const MaeConfig *c, MaeError *err) {
  for (int a = 0; a < 3; a++) {
    if (c->input[a] < 1 || c->patch[a] < 1 || c->input[a] > 65536 || c->patch[a] > 4096)
      return mae_error_set(err, "mae_config: input and patch sizes must be positive");
    if (c->input[a] % c->patch[a])
      return mae_error_set(err, "mae_config: patch size %d does not divide input size %d",
                           c->patch[a], c->input[a]);
  }
  if (c->enc_dim < 1 || c->enc_depth < 0 || c->enc_heads < 1 || c->dec_dim < 1 ||
      c->dec_depth < 0 || c->dec_heads < 1 || c->mlp_ratio < 1 || c->enc_dim > 65536 ||
      c->dec_dim > 65536 || c->enc_depth > 1024 || c->dec_depth > 1024 || c->mlp_ratio > 64)
    return mae_error_set(err, "mae_config: widths, depths, heads and mlp ratio must be positive");
  if (c->enc_dim % c->enc_heads)
    return mae_error_set(err, "mae_config: %d heads do not divide encoder width %d", c->enc_heads,
                         c->enc_dim);
  if (c->dec_dim % c->dec_heads)
    return mae_error_set(err, "mae_config: %d heads do not divide decoder width %d", c->dec_heads,
                         c->dec_dim);
  if (!(c->ln_eps > 0.f) || !isfinite(c->ln_eps))
    return mae_error_set(err, "mae_config: ln_eps must be positive");
  if (!(c->pos_max_freq > 0.f) || !isfinite(c->pos_max_freq) || !(c->pos_temperature >= 1.f) ||
      !isfinite(c->pos_temperature))
    return mae_error_set(err, "mae_config: need pos_embed_max_freq > 0 and pos_embed_temperature >= 1");
  if (c->attn_init != MAE_ATTN_INIT_XAVIER && c->attn_init != MAE_ATTN_INIT_LOCAL)
    return mae_error_set(err, "mae_config: unknown attention initialisation %d", c->attn_init);
  if (c->norm_pix_loss != 1)
    return mae_error_set(err, "mae_config: only norm_pix_loss=1 is implemented");
  if ((long long)mae_config_tokens(c) > 1 << 20)
    return mae_error_set(err, "mae_config: too many tokens");
  return 0;
}

int mae_config_equal(const MaeConfig *a, const MaeConfig *b) {
  for (int i = 0; i < 3; i++)
    if (a->input[i] != b->input[i] || a->patch[i] != b->patch[i]) return 0;
  return a->enc_dim == b->enc_dim && a->enc_depth == b->enc_depth &&
         a->enc_heads == b->enc_heads && a->dec_dim == b->dec_dim &&
         a->dec_depth == b->dec_depth && a->dec_heads == b->dec_heads &&
         a->mlp_ratio == b->mlp_ratio && a->ln_eps == b->ln_eps &&
         a->norm_pix_loss == b->norm_pix_loss && a->pos_max_freq == b->pos_max_freq &&
         a->pos_temperature == b->pos_temperature;
}

void mae_config_grid(const MaeConfig *c, int grid[3]) {
  for (int a = 0; a < 3; a++) grid[a] = c->input[a] / c->patch[a];
}
int mae_config_tokens(const MaeConfig *c) {
  int g[3];
  mae_config_grid(c, g);
  return g[0] * g[1] * g[2];
}
int mae_config_patch_voxels(const MaeConfig *c) { return c->patch[0] * c->patch[1] * c->patch[2]; }
int mae_config_crop_voxels(const MaeConfig *c) { return c->input[0] * c->input[1] * c->input[2]; }

int mae_keep_count(int tokens, float mask_ratio) {
  /* float arithmetic as Python's int(L * (1 - ratio)) does in double */
  int keep = (int)floor((double)tokens * (1.0 - (double)mask_ratio) + 1e-9);
  if (keep < 1) keep = 1;
  if (keep > tokens) keep = tokens;
  return keep;
}

void mae_set_threads(int n) {
  if (n < 1) n = 1;
  /* OpenBLAS single-threaded: the engine splits its GEMMs over OpenMP threads
   * (gemm.c), so that two thread pools never spin against each other. */
  openblas_set_num_threads(1);
#ifdef _OPENMP
  omp_set_num_threads(n);
  /* the layers inside a batch share must stay single-threaded */
  omp_set_max_active_levels(1);
  /* the pool's threads persist: set their denormal mode once */
#pragma omp parallel
  nn_flush_denormals();
#endif
  nn_flush_denormals();
}

/* ---- key/value ---- */

static int parse_int(const char *s, int lo, int hi, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = (int)v;
  return 0;
}

static int parse_triple(const char *s, int out[3]) {
  int v[3];
  const char *p = s;
  for (int i = 0; i < 3; i++) {
    char *end;
    errno = 0;
    long x = strtol(p, &end, 10);
    if (errno || end == p || x < 1 || x > 65536) return -1;
    v[i] = (int)x;
    if (i < 2) {
      if (*end != ',') return -1;
      p = end + 1;
    } else if (*end) {
      return -1;
    }
  }
  memcpy(out, v, sizeof v);
  return 0;
}

int mae_config_to_kv(const MaeConfig *c, MaeKvFunc emit, void *user) {
  char buf[64];
  int rc;
#define EMIT(key, ...)                              \
  snprintf(buf, sizeof buf, __VA_ARGS__);           \
  if ((rc = emit(user, key, buf)) != 0) return rc;
  EMIT("input_size", "%d,%d,%d", c->input[0], c->input[1], c->input[2]);
  EMIT("patch_size", "%d,%d,%d", c->patch[0], c->patch[1], c->patch[2]);
  EMIT("embed_dim", "%d", c->enc_dim);
  EMIT("depth", "%d", c->enc_depth);
  EMIT("num_heads", "%d", c->enc_heads);
  EMIT("decoder_embed_dim", "%d", c->dec_dim);
  EMIT("decoder_depth", "%d", c->dec_depth);
  EMIT("decoder_num_heads", "%d", c->dec_heads);
  EMIT("mlp_ratio", "%d", c->mlp_ratio);
  EMIT("ln_eps", "%.9g", (double)c->ln_eps);
  EMIT("norm_pix_loss", "%d", c->norm_pix_loss);
  EMIT("pos_embed_max_freq", "%.9g", (double)c->pos_max_freq);
  EMIT("pos_embed_temperature", "%.9g", (double)c->pos_temperature);
  EMIT("attn_init", "%s", c->attn_init == MAE_ATTN_INIT_LOCAL ? "local" : "xavier");
#undef EMIT
  return 0;
}

int mae_config_set_kv(MaeConfig *c, const char *key, const char *value, MaeError *err) {
  struct {
    const char *key;
    int *field;
  } ints[] = {
      {"embed_dim", &c->enc_dim},         {"depth", &c->enc_depth},
      {"num_heads", &c->enc_heads},       {"decoder_embed_dim", &c->dec_dim},
      {"decoder_depth", &c->dec_depth},   {"decoder_num_heads", &c->dec_heads},
      {"mlp_ratio", &c->mlp_ratio},       {"norm_pix_loss", &c->norm_pix_loss},
  };
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    if (strcmp(key, ints[i].key) == 0) {
      if (parse_int(value, 0, 65536, ints[i].field))
        return mae_error_set(err, "mae_config: bad value '%s' for %s", value, key);
      return 1;
    }
  if (strcmp(key, "input_size") == 0 || strcmp(key, "patch_size") == 0) {
    if (parse_triple(value, key[0] == 'i' ? c->input : c->patch))
      return mae_error_set(err, "mae_config: bad value '%s' for %s (want D,H,W)", value, key);
    return 1;
  }
  struct {
    const char *key;
    float *field;
  } reals[] = {
      {"ln_eps", &c->ln_eps},
      {"pos_embed_max_freq", &c->pos_max_freq},
      {"pos_embed_temperature", &c->pos_temperature},
  };
  for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++)
    if (strcmp(key, reals[i].key) == 0) {
      char *end;
      errno = 0;
      float v = strtof(value, &end);
      if (errno || end == value || *end || !(v > 0.f) || !isfinite(v))
        return mae_error_set(err, "mae_config: bad value '%s' for %s", value, key);
      *reals[i].field = v;
      return 1;
    }
  if (strcmp(key, "attn_init") == 0) {
    if (strcmp(value, "xavier") == 0)
      c->attn_init = MAE_ATTN_INIT_XAVIER;
    else if (strcmp(value, "local") == 0)
      c->attn_init = MAE_ATTN_INIT_LOCAL;
    else
      return mae_error_set(err, "mae_config: bad value '%s' for attn_init (xavier or local)", value);
    return 1;
  }
  return 0;
}

double mae_config_train_flops(const MaeConfig *c, int batch, float mask_ratio) {
  double L = mae_config_tokens(c), P = mae_config_patch_voxels(c);
  double K = mae_keep_count((int)L, mask_ratio);
  double N = K + 1, Nd = L + 1, C = c->enc_dim, Cd = c->dec_dim, r = c->mlp_ratio;
  /* multiply-adds of one forward pass per sample */
  double enc = c->enc_depth * (N * C * C * (4 + 2 * r) + 2 * N * N * C);
  double dec = c->dec_depth * (Nd * Cd * Cd * (4 + 2 * r) + 2 * Nd * Nd * Cd);
  double fwd = K * P * C + enc + N * C * Cd + dec + Nd * Cd * P;
  return 2.0 * 3.0 * fwd * batch; /* forward + backward (2x), 2 flops per multiply-add */
}
