/* Runs a reference script (PyTorch, numpy) through the shell and turns its output into TAP:
 * a line "RESULT <what> ok|<anything else>" is one check, other lines are diagnostics. */
#pragma once

#include <stdio.h>
#include <string.h>

#include "tap.h"

static inline void tap_reference_script(const char *cmd, int min_results) {
  FILE *p = popen(cmd, "r");
  char line[1024];
  int results = 0;
  while (p && fgets(line, sizeof line, p)) {
    line[strcspn(line, "\n")] = '\0';
    if (strncmp(line, "RESULT ", 7) == 0) {
      char *status = strrchr(line, ' ');
      *status++ = '\0';
      TAP_OK(strcmp(status, "ok") == 0, "pytorch: %s", line + 7);
      results++;
    } else {
      tap_diag("%s", line[0] == '#' ? line + 2 : line);
    }
  }
  int status = p ? pclose(p) : -1;
  TAP_OK(status == 0 && results >= min_results, "reference script ran (status %d, %d results)",
         status, results);
}
