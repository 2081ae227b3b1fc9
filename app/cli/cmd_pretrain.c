/* semmae pretrain: masked-autoencoder pre-training on one volume.
 *
 * The run is a pure function of (volume, config, options, seed, thread
 * count): a checkpoint holds parameters, AdamW moments, the step and the RNG
 * state, so that `--steps N` in one go and `--stop-at K` followed by
 * `--resume M --steps N` give the same loss curve bit for bit. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli_common.h"
#include "cli_mae.h"
#include "cpu_budget.h"
#include "pretrain_session.h"
#include "progress.h"

static const char usage[] =
    "usage: semmae pretrain --data VOLUME --out M.safetensors [--config cpu-small|paper-base]\n"
    "         [--mask-ratio R] [--steps N] [--batch B] [--lr X] [--seed S] [--threads T]\n"
    "         [--resume M] [--log L.csv]\n"
    "\n"
    "Pre-trains a 3D ViT masked autoencoder on random crops of VOLUME and writes the model\n"
    "(safetensors, loadable in PyTorch) to M.safetensors.\n"
    "\n"
    "  --config NAME      cpu-small (default; 6x96x96 crops) or paper-base (ViT-Base)\n"
    "  --mask-ratio R     share of tokens hidden from the encoder, in [0, 1) (0.9)\n"
    "  --steps N          train until step N; also the length of the cosine schedule (1000)\n"
    "  --batch B          crops per step (8)\n"
    "  --lr X             peak learning rate (1e-3; the paper's 1e-4 is for 400k GPU steps)\n"
    "  --warmup W         linear warm-up steps (N/20)\n"
    "  --weight-decay D   decoupled AdamW weight decay (0)\n"
    "  --clip C           clip the gradient's global L2 norm to C; 0 = off (1)\n"
    "  --no-augment       no random flips / 90-degree rotations of the crops\n"
    "  --reference-init   start as the reference MAE does (sin-cos tables of frequency 1 and\n"
    "                     temperature 10000, xavier attention) instead of semmae's local\n"
    "                     attention start, which leaves the 'predict the patch mean' plateau\n"
    "                     in hundreds of steps instead of thousands\n"
    "  --seed S           seeds initialisation, crops and masks (0)\n"
    "  --threads T        BLAS/OpenMP threads (all CPUs); a run is reproducible bit for bit\n"
    "                     at a fixed seed and thread count\n"
    "  --resume M         continue the run saved in M (its config, optimizer state, step and\n"
    "                     random state); options given again override the saved ones\n"
    "  --save-every K     also save every K steps (500; 0 = only at the end)\n"
    "  --stop-at K        stop after step K (saving), e.g. to resume later\n"
    "  --cpu-budget S     train for S seconds of process CPU time (all threads): the step\n"
    "                     count (and so the cosine schedule) is estimated from the cost of\n"
    "                     the first 10 steps and re-estimated every 25; replaces --steps\n"
    "  --log L.csv        append step,loss,lr,mask_ratio,seconds per step\n"
    "\n"
    "Ctrl+C saves the model at the current step and exits with status 130.\n";

typedef struct PretrainArgs {
  const char *data, *out, *config, *resume, *log;
  double mask_ratio, lr, weight_decay, clip, cpu_budget;
  int64_t steps, batch, warmup, save_every, stop_at, threads;
  uint64_t seed;
  bool have_mask_ratio, have_lr, have_weight_decay, have_clip, have_steps, have_batch,
      have_warmup, have_seed, have_save_every, have_stop_at, have_threads, no_augment,
      have_cpu_budget, reference_init;
} PretrainArgs;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

/* "--name value" or "--name=value"; NULL (and *bad set) when the value is missing. */
static const char *option_value(int argc, char **argv, int *i, const char *name, bool *matched) {
  size_t len = strlen(name);
  *matched = false;
  if (strncmp(argv[*i], name, len) != 0) return NULL;
  if (argv[*i][len] == '=') {
    *matched = true;
    return argv[*i] + len + 1;
  }
  if (argv[*i][len] != '\0') return NULL;
  *matched = true;
  if (*i + 1 >= argc) return NULL;
  return argv[++*i];
}

static int parse_args(int argc, char **argv, PretrainArgs *a) {
  memset(a, 0, sizeof *a);
  a->mask_ratio = 0.9;
  a->steps = 1000;
  a->batch = 8;
  a->save_every = 500;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    bool m;
    const char *v;
#define STRING_OPT(flag, field)                                                  \
  v = option_value(argc, argv, &i, flag, &m);                                    \
  if (m) {                                                                       \
    if (!v) return cli_usage_error("pretrain", "%s needs a value", flag);        \
    a->field = v;                                                                \
    continue;                                                                    \
  }
#define DOUBLE_OPT(flag, field, have)                                            \
  v = option_value(argc, argv, &i, flag, &m);                                    \
  if (m) {                                                                       \
    if (!v || !cli_parse_double(v, &a->field) || !isfinite(a->field))            \
      return cli_usage_error("pretrain", "%s needs a number", flag);             \
    a->have = true;                                                              \
    continue;                                                                    \
  }
#define INT_OPT(flag, field, min, have)                                          \
  v = option_value(argc, argv, &i, flag, &m);                                    \
  if (m) {                                                                       \
    if (!v || !cli_parse_i64(v, &a->field) || a->field < (min))                  \
      return cli_usage_error("pretrain", "%s needs an integer >= %d", flag, min); \
    a->have = true;                                                              \
    continue;                                                                    \
  }
    STRING_OPT("--data", data)
    STRING_OPT("--out", out)
    STRING_OPT("--config", config)
    STRING_OPT("--resume", resume)
    STRING_OPT("--log", log)
    DOUBLE_OPT("--mask-ratio", mask_ratio, have_mask_ratio)
    DOUBLE_OPT("--lr", lr, have_lr)
    DOUBLE_OPT("--weight-decay", weight_decay, have_weight_decay)
    DOUBLE_OPT("--clip", clip, have_clip)
    DOUBLE_OPT("--cpu-budget", cpu_budget, have_cpu_budget)
    INT_OPT("--steps", steps, 1, have_steps)
    INT_OPT("--batch", batch, 1, have_batch)
    INT_OPT("--warmup", warmup, 0, have_warmup)
    INT_OPT("--save-every", save_every, 0, have_save_every)
    INT_OPT("--stop-at", stop_at, 1, have_stop_at)
    INT_OPT("--threads", threads, 1, have_threads)
#undef STRING_OPT
#undef DOUBLE_OPT
#undef INT_OPT
    v = option_value(argc, argv, &i, "--seed", &m);
    if (m) {
      if (!v || !cli_parse_u64(v, &a->seed))
        return cli_usage_error("pretrain", "--seed needs a non-negative integer");
      a->have_seed = true;
      continue;
    }
    if (strcmp(arg, "--no-augment") == 0) {
      a->no_augment = true;
      continue;
    }
    if (strcmp(arg, "--reference-init") == 0) {
      a->reference_init = true;
      continue;
    }
    return cli_usage_error("pretrain", "unknown option '%s'", arg);
  }
  if (!a->data) return cli_usage_error("pretrain", "--data VOLUME is required");
  if (!a->out) return cli_usage_error("pretrain", "--out M.safetensors is required");
  if (a->have_mask_ratio && !cli_mask_ratio_ok(a->mask_ratio))
    return cli_usage_error("pretrain", "--mask-ratio %g is outside [0, 1)", a->mask_ratio);
  if (a->have_lr && !(a->lr > 0)) return cli_usage_error("pretrain", "--lr must be positive");
  if (a->have_cpu_budget && !(a->cpu_budget > 0))
    return cli_usage_error("pretrain", "--cpu-budget must be positive");
  if (a->have_weight_decay && a->weight_decay < 0)
    return cli_usage_error("pretrain", "--weight-decay must not be negative");
  if (a->batch > 4096) return cli_usage_error("pretrain", "--batch %lld is too large", (long long)a->batch);
  return 0;
}

/* Options given on the command line override the resumed run's. */
static int apply_overrides(MaeTrainer *t, const PretrainArgs *a, const char *path) {
  char value[64];
  MaeError merr = {{0}};
  struct {
    bool given;
    const char *key;
    double v;
    bool integer;
  } o[] = {
      {a->have_steps, "total_steps", (double)a->steps, true},
      {a->have_lr, "lr", a->lr, false},
      {a->have_warmup, "warmup_steps", (double)a->warmup, true},
      {a->have_weight_decay, "weight_decay", a->weight_decay, false},
      {a->have_clip, "clip_grad", a->clip, false},
      {a->no_augment, "augment", 0, true},
  };
  for (size_t i = 0; i < sizeof o / sizeof o[0]; i++) {
    if (!o[i].given) continue;
    if (o[i].integer) snprintf(value, sizeof value, "%lld", (long long)o[i].v);
    else snprintf(value, sizeof value, "%.17g", o[i].v);
    if (mae_trainer_set_kv(t, o[i].key, value, &merr) != 1)
      return cli_fail("%s: cannot set %s: %s", path, o[i].key, merr.message);
  }
  return 0;
}

/* --cpu-budget: the schedule ends at the estimated last step `fit`; warm-up
 * stays 1/20 of the run unless --warmup fixed it. */
static int budget_reschedule(MaeTrainer *t, const PretrainArgs *a, int64_t fit) {
  char value[32];
  MaeError merr = {{0}};
  snprintf(value, sizeof value, "%lld", (long long)fit);
  if (mae_trainer_set_kv(t, "total_steps", value, &merr) != 1)
    return cli_fail("pretrain: cannot set total_steps: %s", merr.message);
  snprintf(value, sizeof value, "%lld", (long long)(fit / 20));
  if (!a->have_warmup && mae_trainer_set_kv(t, "warmup_steps", value, &merr) != 1)
    return cli_fail("pretrain: cannot set warmup_steps: %s", merr.message);
  return 0;
}

/* The loop body (step, log row, periodic save) is data/pretrain_session.h,
 * shared with the studio's live training. */
static int save(const char *path, SmPretrainSession *session) {
  SmError err;
  if (sm_pretrain_session_save(session, path, &err)) return cli_fail("%s", err.message);
  return 0;
}

/* Mean of a window of recent losses, for the start/end summary. */
typedef struct LossWindow {
  double sum_first, sum_last[50];
  int n_first, n_last, next;
} LossWindow;

static void window_add(LossWindow *w, double loss) {
  if (w->n_first < 50) {
    w->sum_first += loss;
    w->n_first++;
  }
  w->sum_last[w->next] = loss;
  w->next = (w->next + 1) % 50;
  if (w->n_last < 50) w->n_last++;
}

static double window_last_mean(const LossWindow *w) {
  double s = 0;
  for (int i = 0; i < w->n_last; i++) s += w->sum_last[i];
  return w->n_last ? s / w->n_last : NAN;
}

int cmd_pretrain(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("%s", usage);
    return 0;
  }
  PretrainArgs a;
  int rc = parse_args(argc, argv, &a);
  if (rc) return rc;

  /* Everything that can fail fast does so before the long part. */
  SmError err;
  MaeError merr = {{0}};
  MaeConfig cfg;
  const char *config_name = a.config ? a.config : "cpu-small";
  if (mae_config_named(&cfg, config_name, &merr))
    return cli_usage_error("pretrain", "unknown --config '%s' (cpu-small or paper-base)",
                           config_name);
  if (a.reference_init && a.resume)
    return cli_usage_error("pretrain", "--reference-init starts a new run; --resume continues "
                           "the saved one as it began");
  if (a.reference_init) mae_config_use_reference_init(&cfg);
  if (a.resume) {
    SmCheckpointInfo saved;
    if (sm_checkpoint_probe(a.resume, &saved, &err)) return cli_fail("%s", err.message);
    if (a.config && !mae_config_equal(&saved.config, &cfg))
      return cli_fail("%s: checkpoint is config %s, expected %s", a.resume, saved.config_name,
                      config_name);
    cfg = saved.config;
    config_name = saved.config_name;
    if (!a.have_mask_ratio) a.mask_ratio = saved.mask_ratio;
    if (!a.have_batch && saved.batch > 0) a.batch = saved.batch;
    if (saved.threads > 0 && a.threads > 0 && saved.threads != a.threads)
      fprintf(stderr, "semmae: note: %s was trained on %d threads; resuming on %lld changes "
              "the rounding, so the run will not repeat bit for bit\n",
              a.resume, saved.threads, (long long)a.threads);
    if (!a.threads && saved.threads > 0) a.threads = saved.threads;
  }
  if (cli_check_writable(a.out)) return 1;
  if (a.log && cli_check_writable(a.log)) return 1;

  float *volume = NULL;
  SmVolume shape;
  double lo, hi;
  rc = 1;
  MaeTrainer *t = NULL;
  SmPretrainSession session;
  sm_pretrain_session_init(&session);
  if (cli_read_scaled_volume(a.data, &volume, &shape, &lo, &hi)) goto done;
  if (cli_check_volume_fits(a.data, &shape, &cfg, config_name)) goto done;
  int threads = cli_setup_threads((int)a.threads);

  MaeTrainOptions opt;
  mae_train_options_default(&opt);
  opt.total_steps = a.steps;
  opt.warmup_steps = a.have_warmup ? a.warmup : a.steps / 20;
  if (a.have_seed) opt.seed = a.seed;
  if (a.have_lr) opt.lr = a.lr;
  if (a.have_weight_decay) opt.weight_decay = a.weight_decay;
  if (a.have_clip) opt.clip_grad = a.clip;
  if (a.no_augment) opt.augment = 0;
  if (sm_pretrain_session_create(&session, &cfg, &opt, &err)) {
    cli_fail("%s", err.message);
    goto done;
  }
  t = session.trainer;
  if (a.resume) {
    if (sm_pretrain_session_resume(&session, a.resume, NULL, &err)) {
      cli_fail("%s", err.message);
      goto done;
    }
    if (apply_overrides(t, &a, a.resume)) goto done;
  }
  if (sm_pretrain_session_set_volume(&session, volume, shape.nz, shape.ny, shape.nx, lo, hi, &err)) {
    cli_fail("%s: %s", a.data, err.message);
    goto done;
  }

  /* The log is opened last, so that a run that cannot start leaves it alone;
   * a resumed run appends to it. */
  if (a.log && sm_pretrain_session_open_log(&session, a.log, a.resume != NULL, &err)) {
    cli_fail("%s", err.message);
    goto done;
  }
  session.info.mask_ratio = a.mask_ratio;
  session.info.batch = (int)a.batch;
  session.info.threads = threads;
  int64_t total = mae_trainer_options(t)->total_steps;
  int64_t end = a.stop_at > 0 && a.stop_at < total ? a.stop_at : total;
  int64_t first = mae_trainer_step_count(t);
  fprintf(stderr,
          "semmae: pretrain %s on %s (%lldx%lldx%lld %s), batch %lld, mask %.2f, %lld "
          "parameters, %d threads, steps %lld..%lld of %lld\n",
          config_name, a.data, (long long)shape.nz, (long long)shape.ny, (long long)shape.nx,
          sm_dtype_name(shape.dtype), (long long)a.batch, a.mask_ratio,
          (long long)mae_model_n_params(mae_trainer_model(t)), threads, (long long)first + 1,
          (long long)end, (long long)total);

  struct sigaction sa = {0}, old_sa;
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_sa);
  interrupted = 0;

  CliProgress progress;
  cli_progress_begin(&progress, "step", first, end, 50);
  LossWindow window = {0};
  double t0 = cli_now();
  session.t0 = sm_monotonic_seconds(); /* the log's seconds count from the first step */
  session.save_path = a.out;
  session.save_every = a.save_every;
  session.end_step = end;
  int failed = 0;
  CliCpuBudget budget;
  cli_cpu_budget_begin(&budget, a.have_cpu_budget ? a.cpu_budget : 0, first);
  while (mae_trainer_step_count(t) < end && !interrupted && !cli_cpu_budget_spent(&budget)) {
    MaeStepResult r;
    int64_t before = mae_trainer_step_count(t);
    if (sm_pretrain_session_step(&session, (int)a.batch, a.mask_ratio, &r, &err)) {
      cli_progress_end(&progress);
      /* A failed periodic save happens after the step; a failed step names the data. */
      if (mae_trainer_step_count(t) > before) cli_fail("%s", err.message);
      else cli_fail("%s: %s", a.data, err.message);
      failed = 1;
      break;
    }
    window_add(&window, r.loss);
    cli_progress_update(&progress, r.step, r.loss);
    int64_t fit = cli_cpu_budget_estimate(&budget, r.step);
    if (fit > 0 && budget_reschedule(t, &a, fit)) {
      failed = 1;
      break;
    }
    if (fit > 0)
      end = session.end_step = progress.total = a.stop_at > 0 && a.stop_at < fit ? a.stop_at : fit;
  }
  cli_progress_end(&progress);
  sigaction(SIGINT, &old_sa, NULL);
  if (failed) goto done;
  if (save(a.out, &session)) goto done;
  int64_t done_steps = mae_trainer_step_count(t);
  fprintf(stderr,
          "semmae: step %lld: loss %.5f (mean of the first %d steps of this run %.5f, of the "
          "last %d %.5f); %.1f s; saved %s\n",
          (long long)done_steps, window.n_last ? window.sum_last[(window.next + 49) % 50] : NAN,
          window.n_first, window.n_first ? window.sum_first / window.n_first : NAN,
          window.n_last, window_last_mean(&window), cli_now() - t0, a.out);
  if (a.have_cpu_budget)
    fprintf(stderr, "semmae: cpu budget %.1f s: used %.1f CPU-s for %lld steps\n", a.cpu_budget,
            cli_cpu_budget_used(&budget), (long long)(done_steps - first));
  if (interrupted) {
    fprintf(stderr, "semmae: interrupted; resume with --resume %s\n", a.out);
    rc = 130;
  } else {
    rc = 0;
  }

done:
  sm_pretrain_session_clear(&session);
  free(volume);
  return rc;
}
