/* Write-then-rename, so that a crash never leaves a half-written file under
 * the real name. Begin creates a temporary file beside the target (same
 * directory, hence same filesystem), the caller writes to tmp_path or fd,
 * commit fsyncs and renames over the target, abort removes the temporary. */
#pragma once

#include "sm_error.h"

typedef struct SmAtomicFile {
  char path[4096];     /* final name */
  char tmp_path[4096]; /* where the bytes go until commit */
  int fd;              /* open on tmp_path, or -1 once closed */
} SmAtomicFile;

int sm_atomic_begin(SmAtomicFile *af, const char *path, SmError *err);
/* Closes fd if still open (the caller may close it first, e.g. libtiff). */
int sm_atomic_commit(SmAtomicFile *af, SmError *err);
void sm_atomic_abort(SmAtomicFile *af);
