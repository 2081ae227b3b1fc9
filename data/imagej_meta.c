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

/* The value of attribute name="..." in the first element that has it. */
static bool xml_attribute(const char *xml, const char *name, char *out, size_t size) {
  size_t n = strlen(name);
  for (const char *p = strstr(xml, name); p; p = strstr(p + 1, name)) {
    if (p > xml && (p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n') && p[n] == '=' &&
        (p[n + 1] == '"' || p[n + 1] == '\'')) {
      char quote = p[n + 1];
      const char *start = p + n + 2, *end = strchr(start, quote);
      if (!end) return false;
      size_t len = (size_t)(end - start) < size - 1 ? (size_t)(end - start) : size - 1;
      memcpy(out, start, len);
      out[len] = '\0';
      return true;
    }
  }
  return false;
}

bool sm_ome_parse(const char *description, double voxel[3], char unit[16]) {
  if (!description || !strstr(description, "<OME")) return false;
  static const char *sizes[3] = {"PhysicalSizeZ", "PhysicalSizeY", "PhysicalSizeX"};
  char value[64], unit_name[64];
  bool any = false;
  unit[0] = '\0';
  for (int axis = 2; axis >= 0; axis--) {
    if (!xml_attribute(description, sizes[axis], value, sizeof value)) continue;
    double size = strtod(value, NULL);
    if (!(size > 0 && size < 1e30)) continue;
    voxel[axis] = size;
    any = true;
    /* OME's default unit is the micrometre; X's unit names the volume's. */
    char attribute[32];
    snprintf(attribute, sizeof attribute, "%sUnit", sizes[axis]);
    if (!unit[0]) {
      if (xml_attribute(description, attribute, unit_name, sizeof unit_name))
        sm_unit_normalize(unit_name, unit);
      else
        snprintf(unit, 16, "um");
    }
  }
  return any;
}
