#include "postproc_error.h"

#include <stdarg.h>
#include <stdio.h>

int pp_error_set(PpError *err, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return -1;
}
