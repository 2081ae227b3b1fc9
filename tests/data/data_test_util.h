/* Helpers shared by the data-suite tests: temporary folders, whole files,
 * and page statistics. Header-only, static functions. */
#pragma once

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/volume.h"

/* A fresh folder under $TMPDIR (or /tmp); the caller removes it. */
static inline char *test_temp_dir(const char *tag) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  char *path = malloc(4096);
  snprintf(path, 4096, "%s/semmae-%s-XXXXXX", base, tag);
  if (!mkdtemp(path)) {
    perror("mkdtemp");
    exit(1);
  }
  return path;
}

/* Removes a folder and the files directly inside it. */
static inline void test_remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    char path[4096];
    for (struct dirent *e; (e = readdir(d));) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
    closedir(d);
  }
  rmdir(dir);
}

static inline unsigned char *test_read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *data = malloc(n > 0 ? (size_t)n : 1);
  if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
    free(data);
    data = NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return data;
}

static inline bool test_write_file(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f) return false;
  bool ok = fwrite(data, 1, size, f) == size;
  return fclose(f) == 0 && ok;
}

static inline bool test_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* min, max and sum over z = page. */
static inline void test_page_stats(const SmVolume *v, int64_t page, double *min, double *max,
                                   double *sum) {
  size_t n = (size_t)v->ny * v->nx, first = (size_t)page * n;
  *min = *max = sm_volume_value(v, first);
  *sum = 0;
  for (size_t i = first; i < first + n; i++) {
    double x = sm_volume_value(v, i);
    if (x < *min) *min = x;
    if (x > *max) *max = x;
    *sum += x;
  }
}

/* An error message in the contract's form: one line, "<path>: <reason>". */
static inline bool test_is_clean_error(const char *message, const char *path) {
  size_t n = strlen(path);
  return strncmp(message, path, n) == 0 && message[n] == ':' && message[n + 1] == ' ' &&
         message[n + 2] != '\0' && !strchr(message, '\n');
}
