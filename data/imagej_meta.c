/* Voxel-size metadata: unit names and ImageJ's ImageDescription. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "volume_io.h"

void sm_unit_normalize(const char *in, char out[16]) {
  static const struct {
    const char *spelling, *unit;
  } table[] = {
    {"micron", "um"},      {"microns", "um"},    {"micrometer", "um"},
    {"micrometre", "um"},  {"um", "um"},         {"\\u00B5m", "um"},
    {"\\u00b5m", "um"},    {"\xC2\xB5m", "um"},  {"\xCE\xBCm", "um"},
    {"\xB5m", "um"},       {"nm", "nm"},         {"nanometer", "nm"},
    {"nanometre", "nm"},   {"nanometers", "nm"}, {"mm", "mm"},
    {"millimeter", "mm"},  {"cm", "cm"},         {"m", "m"},
    {"pixel", ""},         {"pixels", ""},       {"", ""},
  };
  char trimmed[64];
  size_t n = strcspn(in, "\r\n");
  while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t')) n--;
  while (n > 0 && (*in == ' ' || *in == '\t')) in++, n--;
  if (n >= sizeof trimmed) n = sizeof trimmed - 1;
  memcpy(trimmed, in, n);
  trimmed[n] = '\0';
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcasecmp(trimmed, table[i].spelling) == 0) {
      snprintf(out, 16, "%s", table[i].unit);
      return;
    }
  snprintf(out, 16, "%.15s", trimmed);
}

bool sm_imagej_parse(const char *description, double *spacing, char unit[16],
                     int64_t *images) {
  *spacing = 0.0;
  unit[0] = '\0';
  *images = 0;
  if (!description || strncmp(description, "ImageJ=", 7) != 0) return false;
  for (const char *line = description; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (len > 8 && strncmp(line, "spacing=", 8) == 0) {
      double s = strtod(line + 8, NULL);
      if (s > 0 && s < 1e30) *spacing = s;
    } else if (len > 5 && strncmp(line, "unit=", 5) == 0) {
      char raw[64];
      size_t n = len - 5 < sizeof raw - 1 ? len - 5 : sizeof raw - 1;
      memcpy(raw, line + 5, n);
      raw[n] = '\0';
      sm_unit_normalize(raw, unit);
    } else if (len > 7 && strncmp(line, "images=", 7) == 0) {
      *images = strtoll(line + 7, NULL, 10);
    }
    line = end ? end + 1 : NULL;
  }
  return true;
}
