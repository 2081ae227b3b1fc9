#include "cpu_budget.h"

#include <math.h>
#include <time.h>

double cli_process_cpu_seconds(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts))
    return 0;
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_cpu_budget_begin(CliCpuBudget *b, double seconds, int64_t steps_done) {
  *b = (CliCpuBudget){
      .seconds = seconds, .cpu0 = cli_process_cpu_seconds(), .first_step = steps_done};
}

double cli_cpu_budget_used(const CliCpuBudget *b) {
  return cli_process_cpu_seconds() - b->cpu0 - b->excluded;
}

int64_t cli_cpu_budget_estimate(const CliCpuBudget *b, int64_t step) {
  int64_t done = step - b->first_step;
  if (b->seconds <= 0 || done < CLI_CPU_BUDGET_CALIBRATION)
    return 0;
  if (done != CLI_CPU_BUDGET_CALIBRATION && done % CLI_CPU_BUDGET_REESTIMATE != 0)
    return 0;
  double used = cli_cpu_budget_used(b);
  double per_step = used / (double)done;
  if (!(per_step > 0))
    return 0;
  double more = floor((b->seconds - used) / per_step);
  return more > 0 ? step + (int64_t)more : step;
}

bool cli_cpu_budget_spent(const CliCpuBudget *b) {
  return b->seconds > 0 && cli_cpu_budget_used(b) >= b->seconds;
}
