/* A minimal TAP producer for meson's `protocol : 'tap'`.
 *
 *   TAP_OK(cond, "what was checked %d", n);
 *   return tap_done();
 *
 * Plan is printed at the end ("1..N"). tap_skip_all() prints "1..0 # SKIP"
 * for tests whose data is absent. It returns 0, not 77: meson counts exit
 * status 77 as a skip only for plain exit-code tests; for TAP tests it is an
 * ERROR, and the "# SKIP" plan is what marks the skip. */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_count_;
static int tap_failed_;

__attribute__((format(printf, 2, 3))) static inline int tap_ok(int cond, const char *fmt, ...) {
  char description[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(description, sizeof description, fmt, ap);
  va_end(ap);
  /* A newline inside a description would start a line that is not TAP. */
  for (char *c = description; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  tap_count_++;
  printf("%sok %d - %s\n", cond ? "" : "not ", tap_count_, description);
  if (!cond) tap_failed_++;
  fflush(stdout);
  return cond;
}

#define TAP_OK(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

__attribute__((format(printf, 1, 2))) static inline void tap_diag(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("# ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
}

static inline int tap_done(void) {
  printf("1..%d\n", tap_count_);
  return tap_failed_ ? 1 : 0;
}

static inline int tap_skip_all(const char *reason) {
  printf("1..0 # SKIP %s\n", reason);
  fflush(stdout);
  return 0;
}

/* ../shared/em-data as passed by meson (SEMMAE_EM_DATA), or NULL if absent. */
#include <sys/stat.h>
static inline const char *tap_em_data(void) {
  const char *d = getenv("SEMMAE_EM_DATA");
  struct stat st;
  if (!d || stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
  return d;
}
