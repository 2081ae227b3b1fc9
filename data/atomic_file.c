#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sm_atomic_begin(SmAtomicFile *af, const char *path, SmError *err) {
  af->fd = -1;
  af->tmp_path[0] = '\0';
  if (strlen(path) + 16 >= sizeof af->path)
    return sm_error_set(err, "%s: path too long", path);
  snprintf(af->path, sizeof af->path, "%s", path);

  char dir_buf[4096], base_buf[4096];
  snprintf(dir_buf, sizeof dir_buf, "%s", path);
  snprintf(base_buf, sizeof base_buf, "%s", path);
  const char *dir = dirname(dir_buf);
  const char *base = basename(base_buf);
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return sm_error_set(err, "%s: is a directory", path);
  int n = snprintf(af->tmp_path, sizeof af->tmp_path, "%s/.%s.tmp-XXXXXX", dir, base);
  if (n < 0 || (size_t)n >= sizeof af->tmp_path)
    return sm_error_set(err, "%s: path too long", path);
  af->fd = mkstemp(af->tmp_path);
  if (af->fd < 0) {
    int e = errno;
    af->tmp_path[0] = '\0';
    return sm_error_set(err, "%s: cannot write: %s", path, strerror(e));
  }
  /* mkstemp makes 0600; a result file should get the usual umask mode. */
  mode_t mask = umask(0);
  umask(mask);
  fchmod(af->fd, 0666 & ~mask);
  return 0;
}

int sm_atomic_commit(SmAtomicFile *af, SmError *err) {
  int fd = af->fd;
  if (fd < 0) fd = open(af->tmp_path, O_RDONLY);
  if (fd >= 0) {
    if (fsync(fd) != 0 && errno != EINVAL) {
      int e = errno;
      close(fd);
      af->fd = -1;
      sm_atomic_abort(af);
      return sm_error_set(err, "%s: cannot write: %s", af->path, strerror(e));
    }
    close(fd);
  }
  af->fd = -1;
  if (rename(af->tmp_path, af->path) != 0) {
    int e = errno;
    sm_atomic_abort(af);
    return sm_error_set(err, "%s: cannot write: %s", af->path, strerror(e));
  }
  af->tmp_path[0] = '\0';
  return 0;
}

void sm_atomic_abort(SmAtomicFile *af) {
  if (af->fd >= 0) close(af->fd);
  af->fd = -1;
  if (af->tmp_path[0]) unlink(af->tmp_path);
  af->tmp_path[0] = '\0';
}
