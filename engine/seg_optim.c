#include "seg_optim.h"

#include <math.h>
#include <stdlib.h>

struct SegOptim {
  SegNet *net;
  SegOptimOptions o;
  float *moments; /* per tensor: m then v, numel each */
  size_t *offset; /* (n_tensors) */
  int64_t step;
};

void seg_optim_options_default(SegOptimOptions *o) {
  *o = (SegOptimOptions){.lr = 1e-3,
                         .beta1 = 0.9,
                         .beta2 = 0.999,
                         .eps = 1e-8,
                         .weight_decay = 0.01,
                         .clip = 1.0,
                         .layer_decay = 1.0};
}

static int moves(const SegOptim *opt, const SegTensor *t) {
  return t->trainable && !(opt->o.freeze_encoder && t->group != SEG_G_DECODER);
}

int seg_optim_create(SegOptim **out, SegNet *net, const SegOptimOptions *o, MaeError *err) {
  *out = NULL;
  if (!(o->lr > 0) || o->layer_decay <= 0 || o->layer_decay > 1 || o->weight_decay < 0)
    return mae_error_set(err, "seg_optim: lr must be > 0 and layer decay in (0, 1]");
  SegOptim *opt = calloc(1, sizeof *opt);
  int nt = seg_net_n_tensors(net);
  if (opt)
    opt->offset = calloc((size_t)nt, sizeof(size_t));
  size_t total = 0;
  for (int i = 0; opt && opt->offset && i < nt; i++) {
    opt->offset[i] = total;
    total += 2 * seg_net_tensor(net, i)->numel;
  }
  if (opt && opt->offset)
    opt->moments = calloc(total ? total : 1, sizeof(float));
  if (!opt || !opt->offset || !opt->moments) {
    seg_optim_free(opt);
    return mae_error_set(err, "seg_optim: out of memory");
  }
  opt->net = net;
  opt->o = *o;
  *out = opt;
  return 0;
}

void seg_optim_free(SegOptim *opt) {
  if (!opt)
    return;
  free(opt->moments), free(opt->offset), free(opt);
}

int64_t seg_optim_steps(const SegOptim *opt) { return opt->step; }

void seg_optim_set_schedule(SegOptim *opt, int64_t warmup_steps, int64_t total_steps) {
  opt->o.warmup_steps = warmup_steps;
  opt->o.total_steps = total_steps;
}

float *seg_optim_moments(SegOptim *opt, size_t *n) {
  int nt = seg_net_n_tensors(opt->net);
  *n = nt ? opt->offset[nt - 1] + 2 * seg_net_tensor(opt->net, nt - 1)->numel : 0;
  return opt->moments;
}

void seg_optim_set_steps(SegOptim *opt, int64_t steps) { opt->step = steps; }

double seg_optim_lr(const SegOptimOptions *o, int64_t step) {
  if (o->warmup_steps > 0 && step <= o->warmup_steps)
    return o->lr * (double)step / (double)o->warmup_steps;
  if (o->total_steps <= o->warmup_steps)
    return o->lr;
  double t = (double)(step - o->warmup_steps) / (double)(o->total_steps - o->warmup_steps);
  if (t > 1)
    t = 1;
  return o->min_lr + (o->lr - o->min_lr) * 0.5 * (1 + cos(M_PI * t));
}

int seg_optim_step(SegOptim *opt, double *grad_norm, MaeError *err) {
  SegNet *net = opt->net;
  int nt = seg_net_n_tensors(net);
  int depth = seg_net_config(net)->mae.enc_depth;
  double ss = 0;
  for (int i = 0; i < nt; i++) {
    SegTensor *t = seg_net_tensor(net, i);
    if (!moves(opt, t))
      continue;
    for (size_t k = 0; k < t->numel; k++)
      ss += (double)t->grad[k] * t->grad[k];
  }
  double norm = sqrt(ss);
  if (grad_norm)
    *grad_norm = norm;
  if (!isfinite(norm))
    return mae_error_set(err, "seg_optim: non-finite gradient");
  double scale = opt->o.clip > 0 && norm > opt->o.clip ? opt->o.clip / norm : 1.0;
  int64_t step = ++opt->step;
  double lr = seg_optim_lr(&opt->o, step);
  double b1 = opt->o.beta1, b2 = opt->o.beta2;
  double c1 = 1 - pow(b1, (double)step), c2 = 1 - pow(b2, (double)step);
  for (int i = 0; i < nt; i++) {
    SegTensor *t = seg_net_tensor(net, i);
    if (!moves(opt, t))
      continue;
    double tl = lr;
    if (opt->o.layer_decay < 1 && t->group != SEG_G_DECODER)
      tl *= pow(opt->o.layer_decay, depth + 1 - t->layer);
    float wd = t->ndim >= 2 ? (float)(tl * opt->o.weight_decay) : 0.f;
    float *m = opt->moments + opt->offset[i], *v = m + t->numel;
    for (size_t k = 0; k < t->numel; k++) {
      float g = (float)(t->grad[k] * scale);
      m[k] = (float)(b1 * m[k] + (1 - b1) * g);
      v[k] = (float)(b2 * v[k] + (1 - b2) * g * g);
      double mh = m[k] / c1, vh = v[k] / c2;
      t->data[k] -= wd * t->data[k] + (float)(tl * mh / (sqrt(vh) + opt->o.eps));
    }
  }
  return 0;
}
