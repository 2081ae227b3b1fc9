/* Error reporting for the post-processing and metrics code (watershed,
 * agglomeration, connected components, metrics): a one-line message
 * "<file>: <reason>" and a -1 return, never exit() or abort(). */
#pragma once

typedef struct PpError {
  char message[256];
} PpError;

/* Formats the message into err (if not NULL) and returns -1. */
int pp_error_set(PpError *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
