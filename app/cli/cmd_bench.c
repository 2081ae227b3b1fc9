/* semmae bench: median seconds of one full training step (sampling, forward,
 * backward, clipping, AdamW) for a config, on a synthetic volume. The first
 * line, median_step_s=<seconds>, is the contract scripts read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "checkpoint.h"
#include "cli_common.h"
#include "cli_mae.h"
#include "progress.h"

static const char usage[] =
    "usage: semmae bench --config C [--batch B] [--mask-ratio R] [--steps N] [--threads T]\n"
    "\n"
    "Times N training steps (after 2 untimed warm-up steps) of config C (cpu-small or\n"
    "paper-base) on a synthetic volume and prints, first, median_step_s=<seconds>, then\n"
    "key=value lines: min/max step time, the step's FLOP count and GFLOP/s, the parameter\n"
    "count, the median CPU seconds per step (all threads) and the peak resident memory.\n"
    "\n"
    "  --batch B        crops per step (8)\n"
    "  --mask-ratio R   in [0, 1) (0.9)\n"
    "  --steps N        timed steps (10)\n"
    "  --threads T      BLAS/OpenMP threads (all CPUs)\n";

/* CPU seconds of this process (all threads): on a shared, oversubscribed
 * machine a single-threaded step's CPU time is a steadier measure than its
 * wall time. */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int cmd_bench(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("%s", usage);
    return 0;
  }
  const char *config_name = NULL;
  int64_t batch = 8, steps = 10, threads = 0;
  double mask_ratio = 0.9;
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    if (i + 1 >= argc) return cli_usage_error("bench", "unknown option or missing value '%s'", opt);
    const char *v = argv[++i];
    if (strcmp(opt, "--config") == 0) config_name = v;
    else if (strcmp(opt, "--batch") == 0) {
      if (!cli_parse_i64(v, &batch) || batch < 1 || batch > 4096)
        return cli_usage_error("bench", "--batch needs an integer in [1, 4096]");
    } else if (strcmp(opt, "--steps") == 0) {
      if (!cli_parse_i64(v, &steps) || steps < 1 || steps > 100000)
        return cli_usage_error("bench", "--steps needs a positive integer");
    } else if (strcmp(opt, "--threads") == 0) {
      if (!cli_parse_i64(v, &threads) || threads < 1 || threads > 1024)
        return cli_usage_error("bench", "--threads needs a positive integer");
    } else if (strcmp(opt, "--mask-ratio") == 0) {
      if (!cli_parse_double(v, &mask_ratio) || !cli_mask_ratio_ok(mask_ratio))
        return cli_usage_error("bench", "--mask-ratio must lie in [0, 1)");
    } else {
      return cli_usage_error("bench", "unknown option '%s'", opt);
    }
  }
  if (!config_name) return cli_usage_error("bench", "--config C is required");
  MaeConfig cfg;
  MaeError merr = {{0}};
  if (mae_config_named(&cfg, config_name, &merr))
    return cli_usage_error("bench", "unknown --config '%s' (cpu-small or paper-base)",
                           config_name);
  int n_threads = cli_setup_threads((int)threads);

  /* A volume of smooth-ish noise, twice the crop in y and x, so that the
   * sampler does its real work. Content does not change the cost. */
  int z = cfg.input[0], y = 2 * cfg.input[1], x = 2 * cfg.input[2];
  size_t n = (size_t)z * (size_t)y * (size_t)x;
  float *volume = malloc(n * sizeof *volume);
  double *times = malloc((size_t)steps * sizeof *times);
  double *cpu_times = malloc((size_t)steps * sizeof *cpu_times);
  MaeTrainer *t = NULL;
  int rc = 1;
  if (!volume || !times || !cpu_times) {
    cli_fail("bench: out of memory");
    goto done;
  }
  Rng rng;
  rng_seed(&rng, 1);
  for (size_t i = 0; i < n; i++) volume[i] = 2.0f * rng_uniform(&rng) - 1.0f;

  MaeTrainOptions opt;
  mae_train_options_default(&opt);
  opt.total_steps = steps + 2;
  opt.warmup_steps = 1;
  if (mae_trainer_create(&t, &cfg, &opt, &merr) ||
      mae_trainer_set_volume(t, volume, z, y, x, &merr)) {
    cli_fail("bench: %s", merr.message);
    goto done;
  }
  MaeStepResult r;
  for (int64_t i = 0; i < steps + 2; i++) {
    double t0 = cli_now(), c0 = cpu_now();
    if (mae_trainer_step(t, (int)batch, (float)mask_ratio, &r, &merr)) {
      cli_fail("bench: %s", merr.message);
      goto done;
    }
    if (i >= 2) {
      times[i - 2] = cli_now() - t0;
      cpu_times[i - 2] = cpu_now() - c0;
    }
  }
  qsort(times, (size_t)steps, sizeof *times, cmp_double);
  qsort(cpu_times, (size_t)steps, sizeof *cpu_times, cmp_double);
  double median = steps % 2 ? times[steps / 2] : 0.5 * (times[steps / 2 - 1] + times[steps / 2]);
  double cpu_median = steps % 2 ? cpu_times[steps / 2]
                                : 0.5 * (cpu_times[steps / 2 - 1] + cpu_times[steps / 2]);
  double flops = mae_config_train_flops(&cfg, (int)batch, (float)mask_ratio);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("median_step_s=%.6f\n", median);
  printf("config=%s batch=%lld mask_ratio=%g threads=%d steps=%lld\n", config_name,
         (long long)batch, mask_ratio, n_threads, (long long)steps);
  printf("min_step_s=%.6f max_step_s=%.6f\n", times[0], times[steps - 1]);
  printf("median_step_cpu_s=%.6f\n", cpu_median);
  printf("gflop_per_step=%.3f gflops=%.2f\n", flops * 1e-9, flops * 1e-9 / median);
  printf("params=%zu visible_tokens=%d tokens=%d\n", mae_model_n_params(mae_trainer_model(t)),
         mae_keep_count(mae_config_tokens(&cfg), (float)mask_ratio), mae_config_tokens(&cfg));
  printf("peak_rss_mb=%.1f\n", (double)ru.ru_maxrss / 1024.0);
  printf("last_loss=%.5f\n", r.loss);
  rc = 0;

done:
  mae_trainer_free(t);
  free(volume);
  free(times);
  free(cpu_times);
  return rc;
}
