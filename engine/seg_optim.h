/* AdamW over the segmentation network's tensor table, with a frozen encoder
 * or layer-wise lr decay (BEiT/MAE fine-tuning: a tensor of encoder layer
 * i of depth d gets lr * decay^(d + 1 - i); the decoder gets lr), global
 * gradient-norm clipping, linear warm-up and a cosine schedule. Weight decay
 * applies to weights of 2+ dimensions only (not biases, norms, tokens). The
 * moments live in one allocation. */
#pragma once

#include <stdint.h>

#include "seg_net.h"

typedef struct SegOptimOptions {
  double lr;                /* peak learning rate (1e-3) */
  double min_lr;            /* cosine floor (0) */
  int64_t warmup_steps;     /* linear warm-up (0) */
  int64_t total_steps;      /* cosine length; 0 = constant after warm-up */
  double beta1, beta2, eps; /* 0.9, 0.999, 1e-8 */
  double weight_decay;      /* decoupled (0.01) */
  double clip;              /* global L2 norm; 0 = off (1) */
  double layer_decay;       /* 1 = off */
  int freeze_encoder;       /* encoder tensors never move */
} SegOptimOptions;

void seg_optim_options_default(SegOptimOptions *o);

typedef struct SegOptim SegOptim;

int seg_optim_create(SegOptim **out, SegNet *net, const SegOptimOptions *o, MaeError *err);
void seg_optim_free(SegOptim *opt);
/* Learning rate at step (1-based). */
double seg_optim_lr(const SegOptimOptions *o, int64_t step);
/* One update from the net's gradients (which it does not zero). Fails,
 * leaving the parameters untouched, on a non-finite gradient. */
int seg_optim_step(SegOptim *opt, double *grad_norm, MaeError *err);
int64_t seg_optim_steps(const SegOptim *opt);
/* Changes the schedule of a running optimiser (semmae finetune --cpu-budget
 * re-estimates the run's length as it goes). */
void seg_optim_set_schedule(SegOptim *opt, int64_t warmup_steps, int64_t total_steps);
/* The AdamW state, for resumable checkpoints: the first and second moments of
 * every tensor in one block of *n floats (in tensor-table order), and the
 * step count that drives bias correction and the schedule. */
float *seg_optim_moments(SegOptim *opt, size_t *n);
void seg_optim_set_steps(SegOptim *opt, int64_t steps);
