/* Natural order for slice file names: "slice2.png" before "slice10.png". */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "volume_io.h"

/* Compares two digit runs by value: leading zeros skipped, then the longer
 * run is larger, then digit by digit. */
static int compare_numbers(const char *a, size_t na, const char *b, size_t nb) {
  while (na > 1 && *a == '0') a++, na--;
  while (nb > 1 && *b == '0') b++, nb--;
  if (na != nb) return na < nb ? -1 : 1;
  int c = memcmp(a, b, na);
  return c < 0 ? -1 : c > 0;
}

int sm_natural_compare(const char *a, const char *b) {
  const char *pa = a, *pb = b;
  while (*pa && *pb) {
    if (isdigit((unsigned char)*pa) && isdigit((unsigned char)*pb)) {
      size_t na = strspn(pa, "0123456789"), nb = strspn(pb, "0123456789");
      int c = compare_numbers(pa, na, pb, nb);
      if (c) return c;
      pa += na;
      pb += nb;
      continue;
    }
    int ca = tolower((unsigned char)*pa), cb = tolower((unsigned char)*pb);
    if (ca != cb) return ca < cb ? -1 : 1;
    pa++, pb++;
  }
  if (*pa || *pb) return *pa ? 1 : -1;
  /* Equal up to case and leading zeros: fall back to bytes, so that the
   * order is total and the same on every machine. */
  int c = strcmp(a, b);
  return c < 0 ? -1 : c > 0;
}

static int compare_entries(const void *a, const void *b) {
  return sm_natural_compare(*(char *const *)a, *(char *const *)b);
}

void sm_natural_sort(char **names, size_t n) {
  qsort(names, n, sizeof *names, compare_entries);
}
