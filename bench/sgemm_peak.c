/* The machine's practical single-precision peak: GFLOP/s of a large square
 * cblas_sgemm on T threads (median of several runs), so that the training
 * step's achieved GFLOP/s (semmae bench) can be read as a share of it.
 * Usage: sgemm_peak [--threads T] [--size N] [--reps R] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of the process (all threads), steadier than wall time on a
 * shared machine when run on one thread. */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int threads = 2, n = 2048, reps = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--size") == 0) n = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "usage: sgemm_peak [--threads T] [--size N] [--reps R]\n");
      return 2;
    }
  }
  if (threads < 1 || n < 16 || reps < 1 || reps > 100) {
    fprintf(stderr, "sgemm_peak: bad arguments\n");
    return 2;
  }
  openblas_set_num_threads(threads);
  size_t nn = (size_t)n * (size_t)n;
  float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
  if (!a || !b || !c) {
    fprintf(stderr, "sgemm_peak: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < nn; i++) {
    a[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
    b[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
    c[i] = 0.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
  double *gflops = malloc((size_t)reps * sizeof *gflops);
  double *gflops_cpu = malloc((size_t)reps * sizeof *gflops_cpu);
  double flop = 2.0 * (double)n * (double)n * (double)n;
  for (int r = 0; r < reps; r++) {
    double t = now(), c0 = cpu_now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                n);
    gflops[r] = flop / (now() - t) * 1e-9;
    gflops_cpu[r] = flop / (cpu_now() - c0) * 1e-9 * threads; /* per CPU-second, x threads */
  }
  qsort(gflops, (size_t)reps, sizeof *gflops, cmp_double);
  qsort(gflops_cpu, (size_t)reps, sizeof *gflops_cpu, cmp_double);
  printf("sgemm_gflops=%.2f\n", gflops[reps / 2]);
  printf("sgemm_gflops_cpu=%.2f\n", gflops_cpu[reps / 2]);
  printf("size=%d threads=%d reps=%d min=%.2f max=%.2f checksum=%g\n", n, threads, reps,
         gflops[0], gflops[reps - 1], (double)c[nn / 2]);
  free(gflops);
  free(gflops_cpu);
  free(a);
  free(b);
  free(c);
  return 0;
}
