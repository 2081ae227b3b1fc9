/* A whole file as a NUL-terminated string (tests). */
#pragma once

#include <stdio.h>
#include <stdlib.h>

/* The contents of `path` (free them), or NULL when it cannot be opened;
 * `size` (may be NULL) gets the byte count. */
static inline char *slurp(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  size_t got = fread(b, 1, (size_t)n, f);
  b[got] = '\0';
  if (size) *size = got;
  fclose(f);
  return b;
}
