#include "sm_error.h"

#include <stdio.h>
#include <string.h>

static SmWarningFunc warning_func;
static void *warning_user;

int sm_error_setv(SmError *err, const char *fmt, va_list ap) {
  if (err) {
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    /* Keep the message on one line whatever the formatted parts held. */
    for (char *c = err->message; *c; c++)
      if (*c == '\n' || *c == '\r') *c = ' ';
  }
  return -1;
}

int sm_error_set(SmError *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sm_error_setv(err, fmt, ap);
  va_end(ap);
  return -1;
}

void sm_set_warning_handler(SmWarningFunc func, void *user) {
  warning_func = func;
  warning_user = user;
}

void sm_warn(const char *fmt, ...) {
  char message[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  if (warning_func)
    warning_func(message, warning_user);
  else
    fprintf(stderr, "warning: %s\n", message);
}
