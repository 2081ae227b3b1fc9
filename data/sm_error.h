/* Errors and warnings of the data layer.
 *
 * Library code never exits: a failing call returns non-zero and leaves one
 * line in an SmError, "<file>: <reason>", ready to print or to wrap in a
 * GError. Warnings (e.g. "sample 0 of 3 used") go to a handler that the app
 * may replace; by default they are printed to stderr. */
#pragma once

#include <stdarg.h>

typedef struct SmError {
  char message[512];
} SmError;

/* Sets err->message (if err is not NULL) and returns -1, so that callers can
 * write `return sm_error_set(err, "%s: truncated", path);`. */
int sm_error_set(SmError *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int sm_error_setv(SmError *err, const char *fmt, va_list ap);

typedef void (*SmWarningFunc)(const char *message, void *user);

/* Replaces the warning handler (NULL restores the stderr default). Returns
 * nothing; the handler is process-wide, like g_log's default handler. */
void sm_set_warning_handler(SmWarningFunc func, void *user);
void sm_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
