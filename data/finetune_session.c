/* One fine-tuning run (see finetune_session.h): the same step as
 * app/cli/cmd_finetune.c, with the studio's slab prediction. */
#include "finetune_session.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

void sm_finetune_options_default(SmFinetuneOptions *o) {
  memset(o, 0, sizeof *o);
  o->task = SEG_TASK_NEURONS;
  o->config_name = "cpu-small";
  o->steps = 500;
  o->batch = 2;
  o->lr = 1e-3;
  o->augment = 1;
}

void sm_finetune_session_init(SmFinetuneSession *s) { memset(s, 0, sizeof *s); }

static void free_buffers(SmFinetuneSession *s) {
  free(s->x), free(s->target), free(s->logits), free(s->dlogits), free(s->valid),
      free(s->crop_labels);
  s->x = s->target = s->logits = s->dlogits = NULL;
  s->valid = NULL;
  s->crop_labels = NULL;
}

void sm_finetune_session_clear(SmFinetuneSession *s) {
  free_buffers(s);
  seg_infer_acts_free(s->infer_acts);
  free(s->infer_x), free(s->infer_logits);
  seg_optim_free(s->opt);
  seg_net_free(s->net);
  sm_finetune_session_init(s);
}

int sm_finetune_session_create(SmFinetuneSession *s, const SmFinetuneOptions *o, SmError *err) {
  MaeConfig mcfg;
  MaeError me = {{0}};
  sm_finetune_session_clear(s);
  if (o->init_path) {
    SmCheckpointInfo ci;
    if (sm_checkpoint_probe(o->init_path, &ci, err))
      return -1;
    mcfg = ci.config;
  } else if (mae_config_named(&mcfg, o->config_name ? o->config_name : "cpu-small", &me)) {
    return sm_error_set(err, "finetune_session: %s", me.message);
  }
  if (o->batch < 1 || o->steps < 1 || !(o->lr > 0))
    return sm_error_set(err, "finetune_session: batch, steps and lr must be positive");
  seg_config_default(&s->config, &mcfg, seg_task_channels(o->task));
  if (seg_config_validate(&s->config, &me) || seg_net_create(&s->net, &s->config, o->seed, &me))
    return sm_error_set(err, "finetune_session: %s", me.message);
  int init_tensors = o->init_path ? sm_seg_init_from_mae(o->init_path, s->net, err) : 0;
  if (init_tensors < 0) {
    sm_finetune_session_clear(s);
    return -1;
  }
  SegOptimOptions oo;
  seg_optim_options_default(&oo);
  oo.lr = o->lr;
  oo.total_steps = o->steps;
  /* A short warm-up, as the CLI's: the curve must move within seconds in the studio too. */
  oo.warmup_steps = o->steps / 20;
  oo.freeze_encoder = o->freeze_encoder;
  s->optim = oo;
  if (seg_optim_create(&s->opt, s->net, &oo, &me)) {
    sm_finetune_session_clear(s);
    return sm_error_set(err, "finetune_session: %s", me.message);
  }
  s->task = o->task;
  s->init_tensors = init_tensors;
  s->batch = o->batch;
  s->total_steps = o->steps;
  s->freeze_encoder = o->freeze_encoder;
  seg_augment_default(&s->aug);
  s->aug.enabled = o->augment;
  rng_seed(&s->rng, o->seed ^ 0x5e65e6ULL);
  s->want_val_z0 = o->val_z0;
  s->want_val_z1 = o->val_z1;
  s->info.task = o->task;
  const int D = mcfg.input[0], H = mcfg.input[1], W = mcfg.input[2], OUT = s->config.out_channels;
  size_t V = (size_t)D * H * W, B = (size_t)o->batch;
  s->x = malloc(sizeof(float) * B * V);
  s->target = malloc(sizeof(float) * B * OUT * V);
  s->logits = malloc(sizeof(float) * B * OUT * V);
  s->dlogits = malloc(sizeof(float) * B * OUT * V);
  s->valid = malloc(B * OUT * V);
  s->crop_labels = malloc(sizeof(uint32_t) * V);
  if (!s->x || !s->target || !s->logits || !s->dlogits || !s->valid || !s->crop_labels) {
    sm_finetune_session_clear(s);
    return sm_error_set(err, "finetune_session: out of memory");
  }
  return 0;
}

int sm_finetune_session_set_data(SmFinetuneSession *s, const float *volume, const uint32_t *ids,
                                 const int64_t dims[3], double scale_lo, double scale_hi,
                                 SmError *err) {
  const int *in = s->config.mae.input;
  int64_t Z = dims[0];
  int64_t v0 = s->want_val_z0, v1 = s->want_val_z1;
  if (v1 > v0 && (v0 < 0 || v1 > Z))
    return sm_error_set(err, "finetune_session: validation slices %lld..%lld outside 0..%lld",
                        (long long)v0, (long long)v1 - 1, (long long)Z - 1);
  int64_t t0 = 0, t1 = Z;
  if (v1 > v0) {
    /* The larger contiguous part outside the held-out slices trains. */
    if (v0 >= Z - v1)
      t1 = v0;
    else
      t0 = v1;
  } else {
    v0 = v1 = 0;
  }
  if (t1 - t0 < in[0] || dims[1] < in[1] || dims[2] < in[2])
    return sm_error_set(err,
                        "finetune_session: the training part (%lld x %lld x %lld) is smaller than "
                        "one %d x %d x %d crop",
                        (long long)(t1 - t0), (long long)dims[1], (long long)dims[2], in[0], in[1],
                        in[2]);
  s->volume = volume;
  s->ids = ids;
  memcpy(s->dims, dims, sizeof s->dims);
  s->train_z0 = t0, s->train_z1 = t1, s->val_z0 = v0, s->val_z1 = v1;
  s->info.scale_lo = scale_lo, s->info.scale_hi = scale_hi;
  return 0;
}

int sm_finetune_session_step(SmFinetuneSession *s, double *loss, SmError *err) {
  if (!s->net || !s->volume)
    return sm_error_set(err, "finetune_session: no network or no data");
  const int D = s->config.mae.input[0], H = s->config.mae.input[1], W = s->config.mae.input[2];
  const int OUT = s->config.out_channels, B = s->batch;
  size_t V = (size_t)D * H * W, plane = (size_t)(s->dims[1] * s->dims[2]);
  int64_t tdims[3] = {s->train_z1 - s->train_z0, s->dims[1], s->dims[2]};
  const float *tv = s->volume + (size_t)s->train_z0 * plane;
  const uint32_t *tl = s->ids + (size_t)s->train_z0 * plane;
  for (int b = 0; b < B; b++) {
    seg_sample_crop(s->x + b * V, s->crop_labels, tv, tl, tdims, D, H, W, &s->aug, &s->rng);
    seg_task_targets(s->task, s->target + (size_t)b * OUT * V, s->valid + (size_t)b * OUT * V,
                     s->crop_labels, D, H, W);
  }
  MaeError me = {{0}};
  double gn;
  seg_net_zero_grad(s->net);
  if (seg_net_forward(s->net, s->x, B, s->logits, &me))
    return sm_error_set(err, "finetune_session: %s", me.message);
  *loss = seg_loss_bce_dice(s->dlogits, s->logits, s->target, s->valid, B, OUT, V);
  if (seg_net_backward(s->net, s->dlogits, !s->freeze_encoder, &me) ||
      seg_optim_step(s->opt, &gn, &me))
    return sm_error_set(err, "finetune_session: step %lld: %s",
                        (long long)seg_optim_steps(s->opt) + 1, me.message);
  s->info.step = seg_optim_steps(s->opt);
  return 0;
}

int64_t sm_finetune_session_step_count(const SmFinetuneSession *s) {
  return s->opt ? seg_optim_steps(s->opt) : 0;
}

/* n window origins covering [0, len) with windows of size w (len >= w),
 * evenly spread, the last flush with the end. */
static int tile_starts(int64_t *starts, int64_t len, int w) {
  int n = (int)((len + w - 1) / w);
  for (int i = 0; i < n; i++)
    starts[i] = n == 1 ? 0 : (int64_t)llround((double)i * (double)(len - w) / (double)(n - 1));
  return n;
}

/* Windows per inference-only forward of a slab (seg_infer's default). */
#define SLAB_BATCH 4

static float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

int sm_finetune_session_predict_slab(SmFinetuneSession *s, int64_t z, float *probs, int64_t *z0,
                                     SmError *err) {
  if (!s->net || !s->volume)
    return sm_error_set(err, "finetune_session: no network or no data");
  const int D = s->config.mae.input[0], H = s->config.mae.input[1], W = s->config.mae.input[2];
  const int OUT = s->config.out_channels, B = SLAB_BATCH;
  const int64_t Z = s->dims[0], Y = s->dims[1], X = s->dims[2];
  size_t V = (size_t)D * H * W, slab = (size_t)D * Y * X;
  int64_t zs = z - D / 2;
  zs = zs < 0 ? 0 : zs;
  zs = zs > Z - D ? Z - D : zs;
  if (zs < 0)
    return sm_error_set(err, "finetune_session: the volume has fewer slices than a crop");
  *z0 = zs;
  MaeError me = {{0}};
  if (!s->infer_acts) {
    if (seg_infer_acts_create(&s->infer_acts, s->net, B, &me))
      return sm_error_set(err, "finetune_session: %s", me.message);
    s->infer_x = malloc(sizeof(float) * B * V);
    s->infer_logits = malloc(sizeof(float) * B * OUT * V);
    if (!s->infer_x || !s->infer_logits)
      return sm_error_set(err, "finetune_session: out of memory");
  }
  int64_t *ys = malloc(sizeof(int64_t) * (size_t)(Y / H + 2));
  int64_t *xs = malloc(sizeof(int64_t) * (size_t)(X / W + 2));
  float *count = calloc((size_t)Y * X, sizeof(float));
  if (!ys || !xs || !count) {
    free(ys), free(xs), free(count);
    return sm_error_set(err, "finetune_session: out of memory");
  }
  int ny = tile_starts(ys, Y, H), nx = tile_starts(xs, X, W), n = ny * nx;
  memset(probs, 0, sizeof(float) * OUT * slab);
  int rc = 0;
  for (int first = 0; first < n && !rc; first += B) {
    int nb = n - first < B ? n - first : B;
    for (int b = 0; b < nb; b++) {
      int64_t oy = ys[(first + b) / nx], ox = xs[(first + b) % nx];
      for (int d = 0; d < D; d++)
        for (int h = 0; h < H; h++)
          memcpy(s->infer_x + b * V + ((size_t)d * H + h) * W,
                 s->volume + ((size_t)(zs + d) * Y + oy + h) * X + ox, sizeof(float) * W);
    }
    if (seg_net_infer(s->net, s->infer_acts, s->infer_x, nb, s->infer_logits, &me)) {
      rc = sm_error_set(err, "finetune_session: %s", me.message);
      break;
    }
    for (int b = 0; b < nb; b++) {
      int64_t oy = ys[(first + b) / nx], ox = xs[(first + b) % nx];
      for (int h = 0; h < H; h++)
        for (int w = 0; w < W; w++)
          count[(oy + h) * X + ox + w] += 1.0f;
      for (int c = 0; c < OUT; c++)
        for (int d = 0; d < D; d++)
          for (int h = 0; h < H; h++) {
            const float *src =
                s->infer_logits + (((size_t)b * OUT + c) * D + d) * H * W + (size_t)h * W;
            float *dst = probs + (size_t)c * slab + ((size_t)d * Y + oy + h) * X + ox;
            for (int w = 0; w < W; w++)
              dst[w] += sigmoidf(src[w]);
          }
    }
  }
  /* Every voxel of the plane is covered at least once (the last window is flush). */
  for (int c = 0; c < OUT && !rc; c++)
    for (int d = 0; d < D; d++)
      for (size_t i = 0; i < (size_t)Y * X; i++)
        probs[(size_t)c * slab + (size_t)d * Y * X + i] /= count[i];
  free(ys), free(xs), free(count);
  return rc;
}

/* seg_infer_volume (the same windows, batch and threads), stoppable through s->cancel. */
typedef struct {
  const float *vol;
  float *probs;
  int64_t Z, YX;
  int OUT;
  const volatile int *cancel;
} InferIo;

static int infer_read(void *user, int64_t z0, int64_t nz, float *dst) {
  const InferIo *m = user;
  memcpy(dst, m->vol + z0 * m->YX, sizeof(float) * (size_t)(nz * m->YX));
  return m->cancel && *m->cancel;
}

static int infer_emit(void *user, int64_t z, const float *p) {
  const InferIo *m = user;
  for (int c = 0; c < m->OUT; c++)
    memcpy(m->probs + (c * m->Z + z) * m->YX, p + c * m->YX, sizeof(float) * (size_t)m->YX);
  return m->cancel && *m->cancel;
}

static int infer_probs(SmFinetuneSession *s, float *probs, const float *vol, const int64_t dims[3],
                       double overlap, SegInferProgress progress, void *user, SmError *err) {
  SegInferOptions o;
  seg_infer_options_default(&o);
  o.overlap = overlap;
  InferIo m = {vol, probs, dims[0], dims[1] * dims[2], s->config.out_channels, s->cancel};
  MaeError me = {{0}};
  if (seg_infer_stream(s->net, s->task, dims, &o, infer_read, &m, infer_emit, &m, progress, user,
                       &me) == 0)
    return 0;
  if (s->cancel && *s->cancel)
    return sm_error_set(err, "finetune_session: cancelled");
  return sm_error_set(err, "finetune_session: %s", me.message);
}

int sm_finetune_session_has_validation(const SmFinetuneSession *s) {
  return s->val_z1 > s->val_z0;
}

int sm_finetune_session_validate(SmFinetuneSession *s, double *loss, SegScores *scores,
                                 SmError *err) {
  if (!s->net || !sm_finetune_session_has_validation(s))
    return sm_error_set(err, "finetune_session: no validation slices");
  const int OUT = s->config.out_channels;
  size_t plane = (size_t)(s->dims[1] * s->dims[2]);
  int64_t vd[3] = {s->val_z1 - s->val_z0, s->dims[1], s->dims[2]};
  size_t NV = (size_t)vd[0] * plane;
  const float *vol = s->volume + (size_t)s->val_z0 * plane;
  const uint32_t *truth = s->ids + (size_t)s->val_z0 * plane;
  float *probs = malloc(sizeof(float) * OUT * NV), *target = malloc(sizeof(float) * OUT * NV);
  float *lg = malloc(sizeof(float) * OUT * NV);
  uint8_t *valid = malloc((size_t)OUT * NV);
  uint32_t *pred = malloc(sizeof(uint32_t) * NV);
  MaeError me = {{0}};
  int rc = -1;
  if (!probs || !target || !lg || !valid || !pred) {
    sm_error_set(err, "finetune_session: validation: out of memory");
    goto done;
  }
  if (infer_probs(s, probs, vol, vd, 0.25, NULL, NULL, err))
    goto done;
  seg_task_targets(s->task, target, valid, truth, (int)vd[0], (int)vd[1], (int)vd[2]);
  /* The loss of the blended probabilities, taken back to logits (as the CLI). */
  for (size_t i = 0; i < (size_t)OUT * NV; i++) {
    double p = fmin(fmax(probs[i], 1e-6), 1 - 1e-6);
    lg[i] = (float)log(p / (1 - p));
  }
  *loss = seg_loss_bce_dice(NULL, lg, target, valid, 1, OUT, NV);
  if (seg_task_instances(s->task, pred, probs, vd, &me) < 0 ||
      seg_task_score(s->task, scores, pred, probs, truth, vd, &me)) {
    sm_error_set(err, "finetune_session: validation: %s", me.message);
    goto done;
  }
  rc = 0;
done:
  free(probs), free(target), free(lg), free(valid), free(pred);
  return rc;
}

/* Ids 1..K in order of first appearance (agglomeration keeps fragment ids):
 * what a person proofreading expects, and K is the segment count. */
static int64_t compact_ids(uint32_t *labels, size_t n, SmError *err) {
  uint32_t top = 0;
  for (size_t i = 0; i < n; i++)
    top = labels[i] > top ? labels[i] : top;
  uint32_t *map = calloc((size_t)top + 1, sizeof *map);
  if (!map)
    return sm_error_set(err, "finetune_session: out of memory");
  uint32_t next = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t v = labels[i];
    if (v && !map[v])
      map[v] = ++next;
    labels[i] = map[v];
  }
  free(map);
  return next;
}

int64_t sm_finetune_session_segment(SmFinetuneSession *s, float *probs, uint32_t *labels,
                                    SegInferProgress progress, void *user, SmError *err) {
  if (!s->net || !s->volume)
    return sm_error_set(err, "finetune_session: no network or no data");
  MaeError me = {{0}};
  if (infer_probs(s, probs, s->volume, s->dims, 0.5, progress, user, err))
    return -1;
  int64_t k = seg_task_instances(s->task, labels, probs, s->dims, &me);
  if (k < 0)
    return sm_error_set(err, "finetune_session: %s", me.message);
  return compact_ids(labels, (size_t)(s->dims[0] * s->dims[1] * s->dims[2]), err);
}

int sm_finetune_session_save(SmFinetuneSession *s, const char *path, SmError *err) {
  if (!s->net)
    return sm_error_set(err, "%s: no fine-tuned network to save", path);
  s->info.step = sm_finetune_session_step_count(s);
  return sm_seg_checkpoint_save(path, s->net, &s->info, err);
}

void sm_finetune_display_map(SegTask task, float *out, const float *probs, size_t n) {
  switch (task) {
  case SEG_TASK_NEURONS:
    for (size_t i = 0; i < n; i++)
      out[i] = 1.0f - (probs[i] + probs[n + i] + probs[2 * n + i]) / 3.0f;
    break;
  case SEG_TASK_MITO:
  case SEG_TASK_MEMBRANE:
    memcpy(out, probs, sizeof(float) * n);
    break;
  }
}
