/* Progress of long CLI work (training steps, reconstruction tiles).
 *
 * On a terminal (stderr is a tty) one line is redrawn in place, at most ten
 * times a second: a bar, step/total, the loss, steps per second and the time
 * left. Into a pipe or file, a plain line is printed every `plain_every`
 * steps and at the end, so that logs stay readable. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct CliProgress {
  FILE *out;
  const char *unit;      /* "step", "tile", ... */
  int64_t first, total;  /* counts done at begin, and the count at the end */
  int64_t plain_every;
  bool tty;
  double t0, last_draw;  /* monotonic seconds */
  bool drawn;            /* a tty line is on screen and needs clearing */
} CliProgress;

void cli_progress_begin(CliProgress *p, const char *unit, int64_t first, int64_t total,
                        int64_t plain_every);
/* `done` units are complete; loss may be NAN when there is none to show. */
void cli_progress_update(CliProgress *p, int64_t done, double loss);
/* Clears the tty line (the caller prints its own summary). */
void cli_progress_end(CliProgress *p);
/* Seconds on the monotonic clock. */
double cli_now(void);
