#include "tiff_common.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int on_tiff_error(TIFF *tif, void *user, const char *module, const char *fmt,
                         va_list ap) {
  (void)tif;
  (void)module;
  SmTiffSink *sink = user;
  if (sink && sink->errors++ == 0) vsnprintf(sink->message, sizeof sink->message, fmt, ap);
  return 1; /* handled: libtiff must not call its global handler */
}

static int on_tiff_warning(TIFF *tif, void *user, const char *module, const char *fmt,
                           va_list ap) {
  /* Unknown private tags (ImageJ's, ScanImage's, ...) are routine: ignore. */
  (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
  return 1;
}

static pthread_once_t silence_once = PTHREAD_ONCE_INIT;

static void silence_global_handlers(void) {
  TIFFSetErrorHandler(NULL);
  TIFFSetWarningHandler(NULL);
}

TIFF *sm_tiff_open(const char *path, const char *mode, SmTiffSink *sink, SmError *err) {
  pthread_once(&silence_once, silence_global_handlers);
  memset(sink, 0, sizeof *sink);
  TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
  if (!options) {
    sm_error_set(err, "%s: out of memory", path);
    return NULL;
  }
  TIFFOpenOptionsSetErrorHandlerExtR(options, on_tiff_error, sink);
  TIFFOpenOptionsSetWarningHandlerExtR(options, on_tiff_warning, sink);
  char full_mode[8];
  snprintf(full_mode, sizeof full_mode, "%s%s", mode, mode[0] == 'r' ? "m" : "");
  TIFF *tif = TIFFOpenExt(path, full_mode, options);
  TIFFOpenOptionsFree(options);
  if (!tif) sm_tiff_fail(err, path, sink, mode[0] == 'r' ? "cannot read TIFF" : "cannot write");
  return tif;
}

int sm_tiff_fail(SmError *err, const char *path, const SmTiffSink *sink, const char *what) {
  if (!sink || !sink->message[0]) return sm_error_set(err, "%s: %s", path, what);
  /* libtiff often starts its message with the file name; drop the repeat. */
  const char *reason = sink->message;
  size_t n = strlen(path);
  if (strncmp(reason, path, n) == 0 && reason[n] == ':') reason += n + 1;
  while (*reason == ' ') reason++;
  return sm_error_set(err, "%s: %s: %s", path, what, reason);
}
