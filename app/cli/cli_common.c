#include "cli_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("semmae: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return 1;
}

int cli_usage_error(const char *command, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "semmae %s: ", command);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (see 'semmae %s --help')\n", command);
  va_end(ap);
  return 2;
}

bool cli_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return true;
  }
  return false;
}

bool cli_parse_i64(const char *text, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno || end == text || *end) return false;
  *out = v;
  return true;
}

bool cli_parse_u64(const char *text, uint64_t *out) {
  char *end;
  errno = 0;
  if (*text == '-') return false;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || end == text || *end) return false;
  *out = v;
  return true;
}

bool cli_parse_double(const char *text, double *out) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (errno || end == text || *end) return false;
  *out = v;
  return true;
}

bool cli_parse_shape(const char *text, int64_t shape[3]) {
  char buf[128];
  if (strlen(text) >= sizeof buf) return false;
  strcpy(buf, text);
  char *save = NULL;
  int n = 0;
  for (char *tok = strtok_r(buf, ",x", &save); tok; tok = strtok_r(NULL, ",x", &save)) {
    if (n == 3 || !cli_parse_i64(tok, &shape[n]) || shape[n] <= 0) return false;
    n++;
  }
  return n == 3;
}
