#include "checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

#define FORMAT_NAME "semmae-mae"

#ifndef SEMMAE_VERSION
#define SEMMAE_VERSION "unknown"
#endif

const char *sm_config_name(const MaeConfig *cfg) {
  static const char *const names[] = {"cpu-small", "paper-base"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    MaeConfig named;
    if (mae_config_named(&named, names[i], NULL)) continue;
    /* a name is a shape: the sin-cos table (reference or semmae's) is in the
     * metadata beside it */
    named.pos_max_freq = cfg->pos_max_freq;
    named.pos_temperature = cfg->pos_temperature;
    if (mae_config_equal(&named, cfg)) return names[i];
  }
  return "custom";
}

static void format_shape(char *buf, size_t n, int ndim, const int64_t *shape) {
  size_t k = (size_t)snprintf(buf, n, "(");
  for (int i = 0; i < ndim && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)shape[i]);
  if (ndim == 1 && k < n) k += (size_t)snprintf(buf + k, n - k, ",");
  if (k < n) snprintf(buf + k, n - k, ")");
}

/* ------------------------------------------------------------------ save */

static int emit_meta(void *user, const char *key, const char *value) {
  return sm_st_writer_add_meta(user, key, value) ? -1 : 0;
}

static void add_meta_double(SmStWriter *w, const char *key, double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.17g", v);
  sm_st_writer_add_meta(w, key, buf);
}

static void add_meta_int(SmStWriter *w, const char *key, long long v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", v);
  sm_st_writer_add_meta(w, key, buf);
}

static void add_tensor(SmStWriter *w, const MaeTensor *t) {
  sm_st_writer_add_f32(w, t->name, t->ndim, t->shape, t->data);
}

int sm_checkpoint_save(const char *path, const MaeModel *model, const MaeTrainer *trainer,
                       const SmCheckpointInfo *info, SmError *err) {
  SmStWriter *w = sm_st_writer_new();
  if (!w) return sm_error_set(err, "%s: out of memory", path);
  const MaeConfig *cfg = mae_model_config(model);
  sm_st_writer_add_meta(w, "format", FORMAT_NAME);
  sm_st_writer_add_meta(w, "semmae_version", SEMMAE_VERSION);
  sm_st_writer_add_meta(w, "config", sm_config_name(cfg));
  mae_config_to_kv(cfg, emit_meta, w);
  if (trainer) mae_trainer_to_kv(trainer, emit_meta, w);
  if (info) {
    add_meta_double(w, "mask_ratio", info->mask_ratio);
    if (info->batch > 0) add_meta_int(w, "batch", info->batch);
    if (info->threads > 0) add_meta_int(w, "threads", info->threads);
    if (info->scale_lo != info->scale_hi) {
      add_meta_double(w, "scale_lo", info->scale_lo);
      add_meta_double(w, "scale_hi", info->scale_hi);
    }
  }
  for (int i = 0; i < mae_model_n_tensors(model); i++) add_tensor(w, mae_model_tensor(model, i));
  if (trainer)
    for (int i = 0; i < mae_trainer_n_state_tensors(trainer); i++)
      add_tensor(w, mae_trainer_state_tensor(trainer, i));
  int rc = sm_st_writer_write(w, path, err);
  sm_st_writer_free(w);
  return rc;
}

/* ------------------------------------------------------------------ load */

static int parse_meta_double(const SmSafetensors *st, const char *key, double *out, SmError *err) {
  const char *v = sm_safetensors_meta(st, key);
  if (!v) return 0;
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || end == v || *end)
    return sm_error_set(err, "%s: bad metadata %s=\"%.60s\"", st->path, key, v);
  *out = d;
  return 0;
}

/* Config and run info from an open file's metadata. */
static int read_info(const SmSafetensors *st, SmCheckpointInfo *info, SmError *err) {
  memset(info, 0, sizeof *info);
  info->mask_ratio = 0.9;
  const char *format = sm_safetensors_meta(st, "format");
  if (!format || strcmp(format, FORMAT_NAME) != 0 || !sm_safetensors_meta(st, "embed_dim"))
    return sm_error_set(err, "%s: not a semmae MAE checkpoint (no model config in its metadata)",
                        st->path);
  MaeError merr = {{0}};
  mae_config_named(&info->config, "cpu-small", &merr);
  mae_config_use_reference_init(&info->config); /* files from before the keys existed */
  for (int i = 0; i < st->n_meta; i++) {
    if (mae_config_set_kv(&info->config, st->meta[i].key, st->meta[i].value, &merr) < 0)
      return sm_error_set(err, "%s: bad metadata %s=\"%.60s\": %s", st->path, st->meta[i].key,
                          st->meta[i].value, merr.message);
  }
  if (mae_config_validate(&info->config, &merr))
    return sm_error_set(err, "%s: invalid model config: %s", st->path, merr.message);
  snprintf(info->config_name, sizeof info->config_name, "%s", sm_config_name(&info->config));
  double step = 0, batch = 0, threads = 0;
  if (parse_meta_double(st, "step", &step, err) ||
      parse_meta_double(st, "mask_ratio", &info->mask_ratio, err) ||
      parse_meta_double(st, "batch", &batch, err) ||
      parse_meta_double(st, "threads", &threads, err) ||
      parse_meta_double(st, "scale_lo", &info->scale_lo, err) ||
      parse_meta_double(st, "scale_hi", &info->scale_hi, err))
    return -1;
  info->step = (int64_t)step;
  info->batch = (int)batch;
  info->threads = (int)threads;
  info->has_optimizer = 0;
  for (int i = 0; i < st->n_tensors && !info->has_optimizer; i++)
    info->has_optimizer = strncmp(st->tensors[i].name, "optim.", 6) == 0;
  return 0;
}

static int check_config(const char *path, const SmCheckpointInfo *info,
                        const MaeConfig *expect, SmError *err) {
  if (!expect || mae_config_equal(&info->config, expect)) return 0;
  const char *want = sm_config_name(expect);
  if (strcmp(info->config_name, want) != 0)
    return sm_error_set(err, "%s: checkpoint is config %s, expected %s", path, info->config_name,
                        want);
  return sm_error_set(err, "%s: checkpoint's %s config differs from the expected one (shape or "
                      "sin-cos table)", path, want);
}

/* Is the file's tensor present with the model's shape? Missing frozen tensors
 * (the sin-cos tables) are allowed: the model recomputes them. */
static int check_tensor(const SmSafetensors *st, const MaeTensor *t, SmError *err) {
  const SmStTensor *f = sm_safetensors_find(st, t->name);
  if (!f) {
    if (!t->trainable) return 0;
    return sm_error_set(err, "%s: tensor '%s' is missing", st->path, t->name);
  }
  if (strcmp(f->dtype, "F32") != 0)
    return sm_error_set(err, "%s: tensor '%s' is %s, expected F32", st->path, t->name, f->dtype);
  int same = f->ndim == t->ndim;
  for (int d = 0; same && d < t->ndim; d++) same = f->shape[d] == t->shape[d];
  if (!same) {
    char got[96], want[96];
    format_shape(got, sizeof got, f->ndim, f->shape);
    format_shape(want, sizeof want, t->ndim, t->shape);
    return sm_error_set(err, "%s: tensor '%s' has shape %s, expected %s", st->path, t->name, got,
                        want);
  }
  return 0;
}

static int read_tensor(const SmSafetensors *st, const MaeTensor *t, SmError *err) {
  if (!sm_safetensors_find(st, t->name)) return 0; /* allowed by check_tensor */
  return sm_safetensors_read_f32(st, t->name, t->data, (int64_t)t->numel, err);
}

/* All shapes first, then the data: a bad file leaves the model as it was
 * unless the read itself fails midway. */
static int load_model_tensors(const SmSafetensors *st, const MaeModel *model, SmError *err) {
  int n = mae_model_n_tensors(model);
  for (int i = 0; i < n; i++)
    if (check_tensor(st, mae_model_tensor(model, i), err)) return -1;
  for (int i = 0; i < n; i++)
    if (read_tensor(st, mae_model_tensor(model, i), err)) return -1;
  return 0;
}

int sm_checkpoint_probe(const char *path, SmCheckpointInfo *info, SmError *err) {
  SmSafetensors st;
  if (sm_safetensors_open(path, &st, err)) return -1;
  int rc = read_info(&st, info, err);
  sm_safetensors_close(&st);
  return rc;
}

int sm_checkpoint_load_model(const char *path, const MaeConfig *expect_config,
                             MaeModel **out, SmCheckpointInfo *info, SmError *err) {
  *out = NULL;
  SmCheckpointInfo local;
  if (!info) info = &local;
  SmSafetensors st;
  if (sm_safetensors_open(path, &st, err)) return -1;
  int rc = read_info(&st, info, err);
  if (!rc) rc = check_config(path, info, expect_config, err);
  MaeModel *model = NULL;
  if (!rc) {
    MaeError merr = {{0}};
    rc = mae_model_create(&model, &info->config, 0, &merr);
    if (rc) sm_error_set(err, "%s: %s", path, merr.message);
  }
  if (!rc) rc = load_model_tensors(&st, model, err);
  sm_safetensors_close(&st);
  if (rc) {
    mae_model_free(model);
    return -1;
  }
  *out = model;
  return 0;
}

int sm_checkpoint_load_trainer(const char *path, MaeTrainer *trainer, SmCheckpointInfo *info,
                               SmError *err) {
  SmCheckpointInfo local;
  if (!info) info = &local;
  SmSafetensors st;
  if (sm_safetensors_open(path, &st, err)) return -1;
  MaeModel *model = mae_trainer_model(trainer);
  int rc = read_info(&st, info, err);
  if (!rc) rc = check_config(path, info, mae_model_config(model), err);
  if (!rc && (!info->has_optimizer || !sm_safetensors_meta(&st, "rng_state")))
    rc = sm_error_set(err, "%s: holds no optimizer and training state: cannot resume from it",
                      path);
  int n_state = mae_trainer_n_state_tensors(trainer);
  for (int i = 0; i < n_state && !rc; i++) {
    const MaeTensor *t = mae_trainer_state_tensor(trainer, i);
    if (!sm_safetensors_find(&st, t->name))
      rc = sm_error_set(err, "%s: tensor '%s' is missing", path, t->name);
    else
      rc = check_tensor(&st, t, err);
  }
  /* Metadata values are checked (set_kv) before any tensor is copied. */
  MaeError merr = {{0}};
  for (int i = 0; i < st.n_meta && !rc; i++)
    if (mae_trainer_set_kv(trainer, st.meta[i].key, st.meta[i].value, &merr) < 0)
      rc = sm_error_set(err, "%s: bad metadata %s=\"%.60s\": %s", path, st.meta[i].key,
                        st.meta[i].value, merr.message);
  if (!rc) rc = load_model_tensors(&st, model, err);
  for (int i = 0; i < n_state && !rc; i++)
    rc = read_tensor(&st, mae_trainer_state_tensor(trainer, i), err);
  sm_safetensors_close(&st);
  return rc;
}
