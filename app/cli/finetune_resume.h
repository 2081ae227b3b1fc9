/* The resumable state of `semmae finetune`: what Ctrl+C (or --stop-at) saves
 * and --resume continues from, so that N steps in one go and k steps + a
 * resume to N give the same model bit for bit (same thread count). One
 * safetensors file: every tensor of the segmentation network under its name,
 * the AdamW moments as "optim.moments", and in the metadata the step, the
 * schedule, the crop sampler's random state, the best validation score so far
 * and the CPU time already spent (for --cpu-budget). Written atomically. */
#pragma once

#include <stdint.h>

#include "rng.h"
#include "seg_net.h"
#include "seg_optim.h"

typedef struct FinetuneResume {
  int64_t step, total_steps, warmup_steps;
  Rng rng;
  double best; /* best validation score so far (when have_best) */
  int have_best;
  double cpu_used; /* CPU seconds of training spent before (budget) */
} FinetuneResume;

/* Both print a one-line error naming the file and return -1 on failure. */
int finetune_resume_save(const char *path, SegNet *net, SegOptim *opt, const FinetuneResume *r);
/* Fails (one line, -1) unless path is a resume file; checks before the long part. */
int finetune_resume_probe(const char *path);
/* net and opt must have been created with the same configuration (the same
 * command line): a tensor of another shape is an error. */
int finetune_resume_load(const char *path, SegNet *net, SegOptim *opt, FinetuneResume *r);
