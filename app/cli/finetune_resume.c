#include "finetune_resume.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "safetensors.h"

static const char format_name[] = "semmae-finetune-resume";

int finetune_resume_save(const char *path, SegNet *net, SegOptim *opt, const FinetuneResume *r) {
  SmStWriter *w = sm_st_writer_new();
  if (!w)
    return cli_fail("%s: out of memory", path);
  int bad = 0;
  for (int i = 0; i < seg_net_n_tensors(net); i++) {
    const SegTensor *t = seg_net_tensor(net, i);
    bad |= sm_st_writer_add_f32(w, t->name, t->ndim, t->shape, t->data);
  }
  size_t n;
  const float *moments = seg_optim_moments(opt, &n);
  int64_t shape[1] = {(int64_t)n};
  bad |= sm_st_writer_add_f32(w, "optim.moments", 1, shape, moments);
  char v[96];
#define META(key, fmt, value)                                                                      \
  snprintf(v, sizeof v, fmt, value);                                                               \
  bad |= sm_st_writer_add_meta(w, key, v);
  bad |= sm_st_writer_add_meta(w, "format", format_name);
  META("step", "%" PRId64, r->step)
  META("total_steps", "%" PRId64, r->total_steps)
  META("warmup_steps", "%" PRId64, r->warmup_steps)
  META("best", "%.17g", r->best)
  META("have_best", "%d", r->have_best)
  META("cpu_used", "%.17g", r->cpu_used)
  for (int k = 0; k < 4; k++) {
    char key[16];
    snprintf(key, sizeof key, "rng%d", k);
    META(key, "%" PRIu64, r->rng.s[k])
  }
#undef META
  SmError err;
  int rc = bad ? cli_fail("%s: out of memory", path) : 0;
  if (!rc && sm_st_writer_write(w, path, &err))
    rc = cli_fail("%s", err.message);
  sm_st_writer_free(w);
  return rc ? -1 : 0;
}

int finetune_resume_probe(const char *path) {
  SmSafetensors st;
  SmError err;
  if (sm_safetensors_open(path, &st, &err))
    return cli_fail("%s", err.message), -1;
  const char *format = sm_safetensors_meta(&st, "format");
  int ok = format && strcmp(format, format_name) == 0;
  if (!ok)
    cli_fail("%s: not a fine-tuning resume file (format '%s', expected '%s')", path,
             format ? format : "none", format_name);
  sm_safetensors_close(&st);
  return ok ? 0 : -1;
}

/* Metadata `key` as a number; -1 when absent or malformed. */
static int meta_number(const SmSafetensors *st, const char *key, double *out) {
  const char *s = sm_safetensors_meta(st, key);
  char *end;
  if (!s)
    return -1;
  *out = strtod(s, &end);
  return end == s || *end ? -1 : 0;
}

int finetune_resume_load(const char *path, SegNet *net, SegOptim *opt, FinetuneResume *r) {
  SmSafetensors st;
  SmError err;
  if (sm_safetensors_open(path, &st, &err))
    return cli_fail("%s", err.message), -1;
  int rc = -1;
  const char *format = sm_safetensors_meta(&st, "format");
  if (!format || strcmp(format, format_name) != 0) {
    cli_fail("%s: not a fine-tuning resume file (format '%s', expected '%s')", path,
             format ? format : "none", format_name);
    goto done;
  }
  for (int i = 0; i < seg_net_n_tensors(net); i++) {
    SegTensor *t = seg_net_tensor(net, i);
    if (sm_safetensors_read_f32(&st, t->name, t->data, (int64_t)t->numel, &err)) {
      cli_fail("%s (was it saved by a run with other options?)", err.message);
      goto done;
    }
  }
  size_t n;
  float *moments = seg_optim_moments(opt, &n);
  if (sm_safetensors_read_f32(&st, "optim.moments", moments, (int64_t)n, &err)) {
    cli_fail("%s", err.message);
    goto done;
  }
  double step = 0, total = 0, warmup = 0, have_best = 0;
  int bad = meta_number(&st, "step", &step) | meta_number(&st, "total_steps", &total) |
            meta_number(&st, "warmup_steps", &warmup) | meta_number(&st, "best", &r->best) |
            meta_number(&st, "have_best", &have_best) | meta_number(&st, "cpu_used", &r->cpu_used);
  for (int k = 0; k < 4; k++) {
    char key[16];
    snprintf(key, sizeof key, "rng%d", k);
    const char *s = sm_safetensors_meta(&st, key);
    char *end = NULL;
    r->rng.s[k] = s ? strtoull(s, &end, 10) : 0;
    bad |= !s || end == s || *end;
  }
  if (bad || !(step >= 0)) {
    cli_fail("%s: resume metadata missing or malformed", path);
    goto done;
  }
  r->step = (int64_t)step, r->total_steps = (int64_t)total, r->warmup_steps = (int64_t)warmup;
  r->have_best = have_best != 0;
  seg_optim_set_steps(opt, r->step);
  rc = 0;
done:
  sm_safetensors_close(&st);
  return rc;
}
