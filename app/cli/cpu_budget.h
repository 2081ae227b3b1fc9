/* Stopping a training run after a budget of process CPU time while its
 * warm-up + cosine schedule still ends at the last step.
 *
 * The schedule is defined over steps, so the run's length in steps is
 * estimated from the CPU cost of the steps done so far: first after
 * CLI_CPU_BUDGET_CALIBRATION steps, then again every CLI_CPU_BUDGET_REESTIMATE
 * steps, so that the schedule stretches or shrinks with the cost per step
 * (which drifts with cache contention from other work on the machine). The
 * run stops at the estimated last step, or as soon as the budget is spent,
 * whichever comes first. CPU time is the whole process's (all threads), from
 * the first step on; work the caller excludes (validation) is not counted. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum { CLI_CPU_BUDGET_CALIBRATION = 10, CLI_CPU_BUDGET_REESTIMATE = 25 };

typedef struct CliCpuBudget {
  double seconds;     /* the budget; <= 0 = none */
  double cpu0;        /* process CPU seconds when the run began */
  double excluded;    /* CPU seconds the caller excluded (e.g. validation) */
  int64_t first_step; /* steps already done when the run began (resume) */
} CliCpuBudget;

/* Process CPU time (all threads) in seconds. */
double cli_process_cpu_seconds(void);

void cli_cpu_budget_begin(CliCpuBudget *b, double seconds, int64_t steps_done);

/* CPU seconds spent by the run so far (without the excluded ones). */
double cli_cpu_budget_used(const CliCpuBudget *b);

/* After step `step` (steps done so far, counting a resumed run's): when the
 * total should be (re-)estimated now, returns the estimated number of steps
 * that fit the budget (never less than `step`); otherwise 0. */
int64_t cli_cpu_budget_estimate(const CliCpuBudget *b, int64_t step);

/* True when a budget is set and spent. */
bool cli_cpu_budget_spent(const CliCpuBudget *b);
