#include "progress.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_begin(CliProgress *p, const char *unit, int64_t first, int64_t total,
                        int64_t plain_every) {
  memset(p, 0, sizeof *p);
  p->out = stderr;
  p->unit = unit;
  p->first = first;
  p->total = total;
  p->plain_every = plain_every > 0 ? plain_every : 1;
  p->tty = isatty(fileno(stderr));
  p->t0 = cli_now();
  p->last_draw = -1.0;
}

static void format_duration(char *buf, size_t n, double seconds) {
  if (!isfinite(seconds) || seconds < 0) {
    snprintf(buf, n, "?");
    return;
  }
  long s = lround(seconds);
  if (s >= 3600) snprintf(buf, n, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60) snprintf(buf, n, "%ldm%02lds", s / 60, s % 60);
  else snprintf(buf, n, "%lds", s);
}

void cli_progress_update(CliProgress *p, int64_t done, double loss) {
  double now = cli_now();
  bool last = done >= p->total;
  if (p->tty) {
    if (!last && p->last_draw >= 0 && now - p->last_draw < 0.1) return;
  } else if (!last && (done - p->first) % p->plain_every != 0) {
    return;
  }
  p->last_draw = now;
  double elapsed = now - p->t0;
  double rate = elapsed > 0 ? (double)(done - p->first) / elapsed : 0.0;
  char eta[32], loss_text[48] = "";
  format_duration(eta, sizeof eta, rate > 0 ? (double)(p->total - done) / rate : NAN);
  if (!isnan(loss)) snprintf(loss_text, sizeof loss_text, "  loss %.5f", loss);
  if (p->tty) {
    enum { BAR = 24 };
    char bar[BAR + 1];
    int filled = p->total > 0 ? (int)((double)BAR * (double)done / (double)p->total) : BAR;
    for (int i = 0; i < BAR; i++) bar[i] = i < filled ? '#' : '.';
    bar[BAR] = '\0';
    fprintf(p->out, "\r\033[K[%s] %s %lld/%lld%s  %.2f %s/s  ETA %s", bar, p->unit,
            (long long)done, (long long)p->total, loss_text, rate, p->unit, eta);
    p->drawn = true;
  } else {
    fprintf(p->out, "%s %lld/%lld%s  %.2f %s/s  eta %s\n", p->unit, (long long)done,
            (long long)p->total, loss_text, rate, p->unit, eta);
  }
  fflush(p->out);
}

void cli_progress_end(CliProgress *p) {
  if (p->tty && p->drawn) {
    fprintf(p->out, "\r\033[K");
    fflush(p->out);
  }
  p->drawn = false;
}
