/* semmae finetune: trains the segmentation network (engine/seg_net.h) on one
 * labelled volume, from a pre-trained MAE encoder (--init) or from scratch,
 * validating on a held-out volume and keeping the best checkpoint. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli_common.h"
#include "cli_mae.h"
#include "cpu_budget.h"
#include "finetune_resume.h"
#include "progress.h"
#include "seg_augment.h"
#include "seg_checkpoint.h"
#include "seg_infer.h"
#include "seg_labels.h"
#include "seg_optim.h"
#include "seg_task.h"

static const char usage[] =
    "usage: semmae finetune --data VOLUME --labels LABELS --task neurons|mito|membrane\n"
    "         --out S.safetensors [--init M.safetensors | --scratch] [--steps N]\n"
    "         [--val-data V --val-labels W]\n"
    "\n"
    "Fine-tunes a segmentation network (the MAE's ViT encoder + a UNETR-style decoder) on\n"
    "random crops of VOLUME with LABELS (instance ids, or a 0/255 mask whose instances are\n"
    "its connected components) and writes it to S.safetensors.\n"
    "\n"
    "  --task T           neurons (3 affinities), mito (foreground + contour), membrane\n"
    "                     (1 channel; label 0 = membrane, as ISBI 2012)\n"
    "  --init M           start the encoder from the pre-trained MAE checkpoint M (its config)\n"
    "  --scratch          random encoder (the default without --init)\n"
    "  --config NAME      cpu-small (default) or paper-base; must match --init if both\n"
    "  --steps N          training steps (500)\n"
    "  --cpu-budget S     train for S seconds of process CPU time instead (all threads,\n"
    "                     validation not counted): the step count, and so the cosine\n"
    "                     schedule, is estimated from the first 10 steps' cost and\n"
    "                     re-estimated every 25; the model is saved when it is spent\n"
    "  --batch B          crops per step (2)\n"
    "  --lr X             peak AdamW learning rate (1e-3); warm-up N/20, cosine to 0\n"
    "  --weight-decay D   decoupled weight decay of weight matrices (0.01)\n"
    "  --freeze-encoder   train the decoder only\n"
    "  --layer-decay D    lr of encoder layer i of d: lr * D^(d+1-i) (1 = off)\n"
    "  --base C           decoder width at full resolution (8)\n"
    "  --no-augment       plain random crops (default: flips, rotations, jitter,\n"
    "                     missing section, misalignment)\n"
    "  --val-data V --val-labels W   held-out volume scored every --val-every steps and\n"
    "                     at the end (sliding windows, overlap 0.25): loss and the task's\n"
    "                     metric (neurons: arand; mito: ap75; membrane: arand of cells);\n"
    "                     S.safetensors then holds the best model\n"
    "  --val-every N      (100)\n"
    "  --z-range A:B      train on slices A..B-1 of VOLUME and LABELS only (e.g. 0:24)\n"
    "  --val-z-range A:B  the same for the validation volume (e.g. 24:30); V and W default\n"
    "                     to VOLUME and LABELS when only this is given\n"
    "  --seed S           initialisation and crops (0)\n"
    "  --threads T        BLAS/OpenMP threads (all CPUs)\n"
    "  --log L.csv        append step,loss,lr,val_loss,val_metric,seconds\n"
    "  --stop-at K        stop after step K, saving S.safetensors.resume (as Ctrl+C)\n"
    "  --resume R         continue the run saved in R (S.safetensors.resume): give the\n"
    "                     same options again; the result equals an uninterrupted run\n"
    "\n"
    "Ctrl+C finishes the current step, saves S.resume (network, optimiser, step, random\n"
    "state) and, without validation, the model to S; exit status 130.\n";

typedef struct Args {
  const char *data, *labels, *task, *out, *init, *config, *val_data, *val_labels, *log;
  const char *z_range, *val_z_range, *resume;
  int64_t steps, batch, val_every, threads, base, stop_at;
  double lr, weight_decay, layer_decay, cpu_budget;
  uint64_t seed;
  bool scratch, freeze, no_augment;
} Args;

static int parse(int argc, char **argv, Args *a) {
  *a = (Args){.steps = 500,
              .batch = 2,
              .val_every = 100,
              .base = 8,
              .lr = 1e-3,
              .weight_decay = 0.01,
              .layer_decay = 1.0};
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    bool flag = strcmp(o, "--scratch") == 0 || strcmp(o, "--freeze-encoder") == 0 ||
                strcmp(o, "--no-augment") == 0;
    if (flag) {
      if (o[2] == 's')
        a->scratch = true;
      else if (o[2] == 'f')
        a->freeze = true;
      else
        a->no_augment = true;
      continue;
    }
    if (strncmp(o, "--", 2) != 0)
      return cli_usage_error("finetune", "unexpected argument '%s'", o);
    if (i + 1 >= argc)
      return cli_usage_error("finetune", "%s needs a value", o);
    const char *v = argv[++i];
    const char **s = strcmp(o, "--data") == 0          ? &a->data
                     : strcmp(o, "--labels") == 0      ? &a->labels
                     : strcmp(o, "--task") == 0        ? &a->task
                     : strcmp(o, "--out") == 0         ? &a->out
                     : strcmp(o, "--init") == 0        ? &a->init
                     : strcmp(o, "--config") == 0      ? &a->config
                     : strcmp(o, "--val-data") == 0    ? &a->val_data
                     : strcmp(o, "--val-labels") == 0  ? &a->val_labels
                     : strcmp(o, "--log") == 0         ? &a->log
                     : strcmp(o, "--z-range") == 0     ? &a->z_range
                     : strcmp(o, "--val-z-range") == 0 ? &a->val_z_range
                     : strcmp(o, "--resume") == 0      ? &a->resume
                                                       : NULL;
    if (s) {
      *s = v;
      continue;
    }
    int64_t *n = strcmp(o, "--steps") == 0       ? &a->steps
                 : strcmp(o, "--batch") == 0     ? &a->batch
                 : strcmp(o, "--val-every") == 0 ? &a->val_every
                 : strcmp(o, "--threads") == 0   ? &a->threads
                 : strcmp(o, "--base") == 0      ? &a->base
                 : strcmp(o, "--stop-at") == 0   ? &a->stop_at
                                                 : NULL;
    if (n) {
      if (!cli_parse_i64(v, n) || *n < 1 || *n > 100000000)
        return cli_usage_error("finetune", "%s needs a positive integer, got '%s'", o, v);
      continue;
    }
    double *d = strcmp(o, "--lr") == 0             ? &a->lr
                : strcmp(o, "--weight-decay") == 0 ? &a->weight_decay
                : strcmp(o, "--layer-decay") == 0  ? &a->layer_decay
                : strcmp(o, "--cpu-budget") == 0   ? &a->cpu_budget
                                                   : NULL;
    if (d) {
      if (!cli_parse_double(v, d) || !(*d >= 0))
        return cli_usage_error("finetune", "%s needs a number >= 0, got '%s'", o, v);
      continue;
    }
    if (strcmp(o, "--seed") == 0) {
      if (!cli_parse_u64(v, &a->seed))
        return cli_usage_error("finetune", "--seed needs an integer, got '%s'", v);
      continue;
    }
    return cli_usage_error("finetune", "unknown option '%s'", o);
  }
  if (!a->data || !a->labels || !a->task || !a->out)
    return cli_usage_error("finetune", "--data, --labels, --task and --out are required");
  if (a->init && a->scratch)
    return cli_usage_error("finetune", "--init and --scratch exclude each other");
  if (!!a->val_data != !!a->val_labels)
    return cli_usage_error("finetune", "--val-data and --val-labels go together");
  if (!(a->lr > 0))
    return cli_usage_error("finetune", "--lr must be positive");
  if (a->layer_decay <= 0 || a->layer_decay > 1)
    return cli_usage_error("finetune", "--layer-decay must be in (0, 1]");
  return 0;
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

/* A volume and its instance labels, same shape. */
typedef struct Labelled {
  float *vol;
  uint32_t *ids;
  SmVolume info;
  int64_t dims[3];
  double lo, hi;
  bool binary; /* labels were a 0/max mask */
} Labelled;

/* Keeps slices [z0, z1) of l; "A:B" with 0 <= A < B <= nz. */
static int keep_z_range(Labelled *l, const char *range, const char *what) {
  if (!range)
    return 0;
  long long z0, z1;
  char tail;
  if (sscanf(range, "%lld:%lld%c", &z0, &z1, &tail) != 2 || z0 < 0 || z1 <= z0 || z1 > l->dims[0])
    return cli_fail(
        "%s: bad z range '%s' for a volume of %lld slices (want A:B, 0 <= A < B <= %lld)", what,
        range, (long long)l->dims[0], (long long)l->dims[0]);
  size_t plane = (size_t)(l->dims[1] * l->dims[2]), n = (size_t)(z1 - z0) * plane;
  memmove(l->vol, l->vol + (size_t)z0 * plane, n * sizeof(float));
  memmove(l->ids, l->ids + (size_t)z0 * plane, n * sizeof(uint32_t));
  l->dims[0] = l->info.nz = z1 - z0;
  return 0;
}

static int read_labelled(const char *data, const char *labels, Labelled *out) {
  memset(out, 0, sizeof *out);
  if (cli_read_scaled_volume(data, &out->vol, &out->info, &out->lo, &out->hi))
    return -1;
  SmVolume lab;
  SmError err;
  if (sm_volume_read(labels, &lab, &err))
    return cli_fail("%s", err.message), -1;
  if (lab.nz != out->info.nz || lab.ny != out->info.ny || lab.nx != out->info.nx) {
    cli_fail("%s: labels are %lldx%lldx%lld but the image %s is %lldx%lldx%lld", labels,
             (long long)lab.nz, (long long)lab.ny, (long long)lab.nx, data, (long long)out->info.nz,
             (long long)out->info.ny, (long long)out->info.nx);
    sm_volume_free(&lab);
    return -1;
  }
  bool binary;
  int rc = sm_seg_labels_prepare(labels, &lab, &out->ids, &binary, &err);
  sm_volume_free(&lab);
  if (rc)
    return cli_fail("%s", err.message), -1;
  out->dims[0] = out->info.nz, out->dims[1] = out->info.ny, out->dims[2] = out->info.nx;
  out->binary = binary;
  return 0;
}

static void labelled_free(Labelled *l) { free(l->vol), free(l->ids); }

/* Validation: sliding-window probabilities, loss, instances, the metric. */
static int validate(SegNet *net, SegTask task, const Labelled *v, double *loss, SegScores *sc) {
  const int OUT = seg_net_config(net)->out_channels;
  size_t NV = (size_t)(v->dims[0] * v->dims[1] * v->dims[2]);
  float *probs = malloc(sizeof(float) * OUT * NV), *target = malloc(sizeof(float) * OUT * NV);
  uint8_t *valid = malloc((size_t)OUT * NV);
  uint32_t *pred = malloc(sizeof(uint32_t) * NV);
  MaeError err;
  int rc = -1;
  if (!probs || !target || !valid || !pred) {
    cli_fail("validation: out of memory");
    goto done;
  }
  if (seg_infer_volume(net, task, probs, v->vol, v->dims, 0.25, 0, NULL, NULL, &err)) {
    cli_fail("%s", err.message);
    goto done;
  }
  seg_task_targets(task, target, valid, v->ids, (int)v->dims[0], (int)v->dims[1], (int)v->dims[2]);
  /* loss of the blended probabilities, as logits */
  float *lg = malloc(sizeof(float) * OUT * NV);
  if (!lg) {
    cli_fail("validation: out of memory");
    goto done;
  }
  for (size_t i = 0; i < (size_t)OUT * NV; i++) {
    double p = fmin(fmax(probs[i], 1e-6), 1 - 1e-6);
    lg[i] = (float)log(p / (1 - p));
  }
  *loss = seg_loss_bce_dice(NULL, lg, target, valid, 1, OUT, NV);
  free(lg);
  if (seg_task_instances(task, pred, probs, v->dims, &err) < 0 ||
      seg_task_score(task, sc, pred, probs, v->ids, v->dims, &err)) {
    cli_fail("validation: %s", err.message);
    goto done;
  }
  rc = 0;
done:
  free(probs), free(target), free(valid), free(pred);
  return rc;
}

/* At a validation point: with a validation volume, scores the net and saves
 * it when it is the best so far; without one, saves it. */
static int checkpoint(SegNet *net, SegTask task, const Labelled *va, const char *out,
                      SmSegInfo *info, int64_t step, double *best, int *have_best, double *vloss,
                      SegScores *sc) {
  SmError se;
  int better = 1;
  if (va->vol) {
    if (validate(net, task, va, vloss, sc))
      return -1;
    better = !*have_best || (sc->lower_is_better ? sc->primary < *best : sc->primary > *best);
    fprintf(stderr, "semmae: step %lld  val loss %.4f  %s %.4f  %s %.4f%s\n", (long long)step,
            *vloss, sc->primary_name, sc->primary, sc->second_name, sc->second,
            better ? "  (best, saved)" : "");
    if (better) {
      *best = sc->primary, *have_best = 1;
      snprintf(info->score, sizeof info->score, "%s=%.6f", sc->primary_name, sc->primary);
    }
  }
  if (!better)
    return 0;
  info->step = step;
  if (sm_seg_checkpoint_save(out, net, info, &se))
    return cli_fail("%s", se.message), -1;
  return 0;
}

int cmd_finetune(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("%s", usage);
    return 0;
  }
  Args a;
  int rc = parse(argc, argv, &a);
  if (rc)
    return rc;
  SegTask task;
  if (seg_task_parse(a.task, &task))
    return cli_usage_error("finetune", "unknown task '%s' (neurons, mito, membrane)", a.task);
  MaeConfig mcfg;
  MaeError me;
  SmError se;
  if (a.config && mae_config_named(&mcfg, a.config, &me))
    return cli_fail("%s", me.message);
  if (a.init) {
    SmCheckpointInfo ci;
    if (sm_checkpoint_probe(a.init, &ci, &se))
      return cli_fail("%s", se.message);
    if (a.config && !mae_config_equal(&ci.config, &mcfg))
      return cli_fail("%s: checkpoint is config %s, expected %s", a.init, ci.config_name, a.config);
    mcfg = ci.config;
  } else if (!a.config) {
    mae_config_named(&mcfg, "cpu-small", NULL);
  }
  SegConfig cfg;
  seg_config_default(&cfg, &mcfg, seg_task_channels(task));
  cfg.base = (int)a.base;
  if (cfg.base % cfg.norm_groups)
    cfg.norm_groups = 1;
  if (seg_config_validate(&cfg, &me))
    return cli_fail("%s", me.message);
  if (cli_check_writable(a.out) || (a.resume && finetune_resume_probe(a.resume)))
    return 1;
  int threads = cli_setup_threads((int)a.threads);

  Labelled tr, va = {0};
  if (a.val_z_range && !a.val_data)
    a.val_data = a.data, a.val_labels = a.labels;
  if (read_labelled(a.data, a.labels, &tr) || keep_z_range(&tr, a.z_range, a.data))
    return 1;
  if (cli_check_volume_fits(a.data, &tr.info, &mcfg, sm_config_name(&mcfg)) ||
      (a.val_data && (read_labelled(a.val_data, a.val_labels, &va) ||
                      keep_z_range(&va, a.val_z_range, a.val_data)))) {
    labelled_free(&tr);
    return 1;
  }
  for (int k = 0; k < (va.vol ? 2 : 1); k++)
    fprintf(stderr, "semmae: %s: %s\n", k ? a.val_labels : a.labels,
            (k ? va.binary : tr.binary)
                ? "binary mask (thresholded at half range, 6-connected components)"
                : "instance ids");
  SegNet *net = NULL;
  SegOptim *opt = NULL;
  FILE *log = NULL;
  float *x = NULL, *t = NULL, *lg = NULL, *dl = NULL;
  uint8_t *valid = NULL;
  uint32_t *clab = NULL;
  rc = 1;
  if (seg_net_create(&net, &cfg, a.seed, &me)) {
    cli_fail("%s", me.message);
    goto done;
  }
  if (a.init) {
    int n = sm_seg_init_from_mae(a.init, net, &se);
    if (n < 0) {
      cli_fail("%s", se.message);
      goto done;
    }
    fprintf(stderr, "semmae: encoder initialised from %s (%d tensors)\n", a.init, n);
  }
  SegOptimOptions oo;
  seg_optim_options_default(&oo);
  oo.lr = a.lr, oo.weight_decay = a.weight_decay, oo.layer_decay = a.layer_decay;
  oo.freeze_encoder = a.freeze, oo.total_steps = a.steps, oo.warmup_steps = a.steps / 20;
  if (seg_optim_create(&opt, net, &oo, &me)) {
    cli_fail("%s", me.message);
    goto done;
  }
  FinetuneResume state = {.best = NAN};
  rng_seed(&state.rng, a.seed ^ 0x5e65e6ULL);
  if (a.resume) {
    if (finetune_resume_load(a.resume, net, opt, &state))
      goto done;
    if (a.cpu_budget > 0) /* the budget's estimate of the run's length goes on */
      oo.total_steps = state.total_steps, oo.warmup_steps = state.warmup_steps;
    seg_optim_set_schedule(opt, oo.warmup_steps, oo.total_steps);
    fprintf(stderr, "semmae: resuming %s at step %lld\n", a.resume, (long long)state.step);
  }
  if (a.log && !(log = fopen(a.log, "a"))) {
    cli_fail("%s: cannot open the log for appending", a.log);
    goto done;
  }
  const int D = mcfg.input[0], H = mcfg.input[1], W = mcfg.input[2], OUT = cfg.out_channels;
  const int B = (int)a.batch;
  size_t V = (size_t)D * H * W;
  x = malloc(sizeof(float) * B * V), t = malloc(sizeof(float) * B * OUT * V);
  lg = malloc(sizeof(float) * B * OUT * V), dl = malloc(sizeof(float) * B * OUT * V);
  valid = malloc((size_t)B * OUT * V), clab = malloc(sizeof(uint32_t) * V);
  if (!x || !t || !lg || !dl || !valid || !clab) {
    cli_fail("finetune: out of memory");
    goto done;
  }
  fprintf(
      stderr,
      "semmae: finetune %s %s on %s (%lldx%lldx%lld), %s, batch %d, %zu parameters, %d threads\n",
      seg_task_name(task), sm_config_name(&mcfg), a.data, (long long)tr.dims[0],
      (long long)tr.dims[1], (long long)tr.dims[2], a.init ? "pre-trained encoder" : "from scratch",
      B, seg_net_n_params(net), threads);
  SegAugment aug;
  seg_augment_default(&aug);
  aug.enabled = !a.no_augment;
  Rng rng = state.rng;
  SmSegInfo info = {.task = task, .scale_lo = tr.lo, .scale_hi = tr.hi};
  double best = state.best, t0 = cli_now();
  int have_best = state.have_best;
  int64_t total = oo.total_steps, step = state.step, saved_step = -1;
  CliCpuBudget budget;
  cli_cpu_budget_begin(&budget, a.cpu_budget > 0 ? fmax(a.cpu_budget - state.cpu_used, 1e-9) : 0,
                       step);
  struct sigaction sa = {0}, old_sa;
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_sa);
  interrupted = 0;
  CliProgress prog;
  cli_progress_begin(&prog, "step", step, total, 50);
  int stopping = 0; /* Ctrl+C or --stop-at: save the resume state, not a final model */
  while (step < total && !cli_cpu_budget_spent(&budget)) {
    if (interrupted || (a.stop_at > 0 && step >= a.stop_at)) {
      stopping = 1;
      break;
    }
    step++;
    for (int b = 0; b < B; b++) {
      seg_sample_crop(x + b * V, clab, tr.vol, tr.ids, tr.dims, D, H, W, &aug, &rng);
      seg_task_targets(task, t + (size_t)b * OUT * V, valid + (size_t)b * OUT * V, clab, D, H, W);
    }
    seg_net_zero_grad(net);
    if (seg_net_forward(net, x, B, lg, &me)) {
      cli_progress_end(&prog);
      cli_fail("%s", me.message);
      goto done;
    }
    double loss = seg_loss_bce_dice(dl, lg, t, valid, B, OUT, V);
    double gn;
    if (seg_net_backward(net, dl, !a.freeze, &me) || seg_optim_step(opt, &gn, &me)) {
      cli_progress_end(&prog);
      cli_fail("step %lld: %s", (long long)step, me.message);
      goto done;
    }
    cli_progress_update(&prog, step, loss);
    int64_t fit = cli_cpu_budget_estimate(&budget, step);
    if (fit > 0) {
      total = prog.total = fit;
      oo.total_steps = fit, oo.warmup_steps = fit / 20;
      seg_optim_set_schedule(opt, oo.warmup_steps, oo.total_steps);
    }
    /* The last step is validated/saved after the loop (a budget may end the run early). */
    double vloss = NAN;
    SegScores sc = {.primary = NAN};
    if (step % a.val_every == 0 && step < total && !cli_cpu_budget_spent(&budget)) {
      cli_progress_end(&prog);
      double c0 = cli_process_cpu_seconds();
      if (checkpoint(net, task, &va, a.out, &info, step, &best, &have_best, &vloss, &sc))
        goto done;
      budget.excluded += cli_process_cpu_seconds() - c0;
      saved_step = step;
    }
    if (log)
      fprintf(log, "%lld,%.8g,%.6g,%.8g,%.8g,%.3f\n", (long long)step, loss,
              seg_optim_lr(&oo, step), vloss, sc.primary, cli_now() - t0);
    if (log)
      fflush(log);
  }
  cli_progress_end(&prog);
  sigaction(SIGINT, &old_sa, NULL);
  if (stopping) {
    state = (FinetuneResume){.step = step,
                             .total_steps = oo.total_steps,
                             .warmup_steps = oo.warmup_steps,
                             .rng = rng,
                             .best = best,
                             .have_best = have_best,
                             .cpu_used = state.cpu_used + cli_cpu_budget_used(&budget)};
    char resume_path[4096];
    snprintf(resume_path, sizeof resume_path, "%s.resume", a.out);
    if (finetune_resume_save(resume_path, net, opt, &state))
      goto done;
    info.step = step;
    if (!va.vol && sm_seg_checkpoint_save(a.out, net, &info, &se)) {
      cli_fail("%s", se.message);
      goto done;
    }
    fprintf(stderr, "semmae: %s at step %lld; continue with --resume %s\n",
            interrupted ? "interrupted" : "stopped", (long long)step, resume_path);
    rc = interrupted ? 130 : 0;
    goto done;
  }
  if (step > 0 && saved_step != step) {
    double vloss = NAN;
    SegScores sc = {.primary = NAN};
    if (checkpoint(net, task, &va, a.out, &info, step, &best, &have_best, &vloss, &sc))
      goto done;
  }
  if (a.cpu_budget > 0)
    fprintf(stderr,
            "semmae: cpu budget %.1f s: used %.1f CPU-s for %lld steps (validation excluded)\n",
            a.cpu_budget, cli_cpu_budget_used(&budget), (long long)step);
  fprintf(stderr, "semmae: wrote %s%s (%.1f s)\n", a.out, have_best ? " (best validation)" : "",
          cli_now() - t0);
  rc = 0;
done:
  if (log)
    fclose(log);
  free(x), free(t), free(lg), free(dl), free(valid), free(clab);
  seg_optim_free(opt);
  seg_net_free(net);
  labelled_free(&tr), labelled_free(&va);
  return rc;
}
