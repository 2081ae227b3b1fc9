#include "seg_checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "safetensors.h"

static int add_meta(void *user, const char *key, const char *value) {
  return sm_st_writer_add_meta(user, key, value);
}

int sm_seg_checkpoint_save(const char *path, SegNet *net, const SmSegInfo *info, SmError *err) {
  SmStWriter *w = sm_st_writer_new();
  if (!w)
    return sm_error_set(err, "%s: out of memory", path);
  const SegConfig *cfg = seg_net_config(net);
  char v[64];
  int bad = sm_st_writer_add_meta(w, "format", "semmae-seg");
  bad |= sm_st_writer_add_meta(w, "task", seg_task_name(info->task));
  bad |= sm_st_writer_add_meta(w, "config", sm_config_name(&cfg->mae));
  bad |= mae_config_to_kv(&cfg->mae, add_meta, w) != 0;
  bad |= seg_config_to_kv(cfg, add_meta, w) != 0;
  snprintf(v, sizeof v, "%.17g", info->scale_lo);
  bad |= sm_st_writer_add_meta(w, "scale_lo", v);
  snprintf(v, sizeof v, "%.17g", info->scale_hi);
  bad |= sm_st_writer_add_meta(w, "scale_hi", v);
  snprintf(v, sizeof v, "%lld", (long long)info->step);
  bad |= sm_st_writer_add_meta(w, "step", v);
  if (info->score[0])
    bad |= sm_st_writer_add_meta(w, "val_score", info->score);
  for (int i = 0; i < seg_net_n_tensors(net) && !bad; i++) {
    const SegTensor *t = seg_net_tensor(net, i);
    bad |= sm_st_writer_add_f32(w, t->name, t->ndim, t->shape, t->data);
  }
  if (bad) {
    sm_st_writer_free(w);
    return sm_error_set(err, "%s: out of memory", path);
  }
  int rc = sm_st_writer_write(w, path, err);
  sm_st_writer_free(w);
  return rc;
}

int sm_seg_checkpoint_load(const char *path, SegNet **out, SmSegInfo *info, SmError *err) {
  *out = NULL;
  SmSafetensors st;
  if (sm_safetensors_open(path, &st, err))
    return -1;
  int rc = -1;
  const char *fmt = sm_safetensors_meta(&st, "format");
  const char *task = sm_safetensors_meta(&st, "task");
  SmSegInfo inf = {0};
  if (!fmt || strcmp(fmt, "semmae-seg") != 0 || !task || seg_task_parse(task, &inf.task)) {
    sm_error_set(err,
                 "%s: not a segmentation checkpoint (format %s; pre-trained MAEs go to "
                 "finetune --init)",
                 path, fmt ? fmt : "missing");
    goto done;
  }
  MaeConfig m;
  MaeError me;
  mae_config_named(&m, "cpu-small", NULL);
  mae_config_use_reference_init(&m); /* files from before the keys existed */
  SegConfig cfg;
  seg_config_default(&cfg, &m, seg_task_channels(inf.task));
  for (int i = 0; i < st.n_meta; i++) {
    int r = mae_config_set_kv(&cfg.mae, st.meta[i].key, st.meta[i].value, &me);
    if (r == 0)
      r = seg_config_set_kv(&cfg, st.meta[i].key, st.meta[i].value, &me);
    if (r < 0) {
      sm_error_set(err, "%s: %s", path, me.message);
      goto done;
    }
  }
  const char *s;
  if ((s = sm_safetensors_meta(&st, "scale_lo")))
    inf.scale_lo = atof(s);
  if ((s = sm_safetensors_meta(&st, "scale_hi")))
    inf.scale_hi = atof(s);
  if ((s = sm_safetensors_meta(&st, "step")))
    inf.step = atoll(s);
  if ((s = sm_safetensors_meta(&st, "val_score")))
    snprintf(inf.score, sizeof inf.score, "%s", s);
  SegNet *net;
  if (seg_net_create(&net, &cfg, 0, &me)) {
    sm_error_set(err, "%s: %s", path, me.message);
    goto done;
  }
  for (int i = 0; i < seg_net_n_tensors(net); i++) {
    SegTensor *t = seg_net_tensor(net, i);
    if (sm_safetensors_read_f32(&st, t->name, t->data, (int64_t)t->numel, err)) {
      seg_net_free(net);
      goto done;
    }
  }
  *out = net;
  if (info)
    *info = inf;
  rc = 0;
done:
  sm_safetensors_close(&st);
  return rc;
}

int sm_seg_init_from_mae(const char *path, SegNet *net, SmError *err) {
  SmCheckpointInfo ci;
  if (sm_checkpoint_probe(path, &ci, err))
    return -1;
  const MaeConfig *want = &seg_net_config(net)->mae;
  if (!mae_config_equal(&ci.config, want))
    return sm_error_set(err,
                        "%s: checkpoint is config %s (embed_dim %d, depth %d), expected %s "
                        "(embed_dim %d, depth %d)",
                        path, ci.config_name, ci.config.enc_dim, ci.config.enc_depth,
                        sm_config_name(want), want->enc_dim, want->enc_depth);
  SmSafetensors st;
  if (sm_safetensors_open(path, &st, err))
    return -1;
  int loaded = 0;
  for (int i = 0; i < seg_net_n_tensors(net); i++) {
    SegTensor *t = seg_net_tensor(net, i);
    if (t->group == SEG_G_DECODER)
      continue;
    if (sm_safetensors_read_f32(&st, t->name, t->data, (int64_t)t->numel, err)) {
      sm_safetensors_close(&st);
      return -1;
    }
    loaded++;
  }
  sm_safetensors_close(&st);
  return loaded;
}
