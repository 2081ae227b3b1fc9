/* Running `semmae` from a CLI test: a temporary folder as the working
 * directory, stderr of the last run kept there (stderr.txt), stdout dropped.
 * usage of a test: cli_begin (argc, argv, "name"), then run ("phantom ...").
 * Arguments go through the shell (sh -c): quote paths with spaces. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "slurp.h"
#include "tap.h"

static const char *semmae;
static char dir[64];                /* the temporary working folder */
static char errfile[128];           /* dir/stderr.txt */

/* Takes SEMMAE from argv[1] and makes /tmp/semmae-<name>-XXXXXX. Returns -1
 * to go on, else what main returns (a skip). */
static inline int cli_begin(int argc, char **argv, const char *name) {
  if (argc < 2) {
    static char usage[256];
    snprintf(usage, sizeof usage, "usage: %s SEMMAE", argv[0]);
    return tap_skip_all(usage);
  }
  semmae = argv[1];
  snprintf(dir, sizeof dir, "/tmp/semmae-%s-XXXXXX", name);
  if (!mkdtemp(dir)) return tap_skip_all("no temporary directory");
  snprintf(errfile, sizeof errfile, "%s/stderr.txt", dir);
  return -1;
}

/* `semmae ARGS` in dir; returns the exit status (128 + signal when killed). */
static inline int run(const char *args) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s 2>'%s' >/dev/null", dir, semmae, args, errfile);
  int status = system(cmd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* dir/name (one of eight rotating buffers: several fit in one call). */
static inline const char *in_dir(const char *name) {
  static char buf[8][512];
  static int next;
  char *b = buf[next++ % 8];
  snprintf(b, sizeof buf[0], "%s/%s", dir, name);
  return b;
}

/* stderr of the last run contains `needle` (else it is shown). */
static inline int stderr_has(const char *needle) {
  char *e = slurp(errfile, NULL);
  int ok = e && strstr(e, needle);
  if (!ok && e) tap_diag("stderr was: %s", e);
  free(e);
  return ok;
}

/* stderr of the last run is exactly one line, containing `needle`. */
static inline int one_line_error(const char *needle) {
  char *e = slurp(errfile, NULL);
  if (!e) return 0;
  int lines = 0;
  for (char *p = e; *p; p++) lines += *p == '\n';
  int ok = lines == 1 && strstr(e, needle) != NULL;
  if (!ok) tap_diag("stderr was: %s", e);
  free(e);
  return ok;
}
