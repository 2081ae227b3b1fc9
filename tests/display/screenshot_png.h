/* Reading a studio screenshot back as 8-bit RGB, for pixel checks. */
#pragma once

#include <glib.h>
#include <png.h>
#include <string.h>

typedef struct {
  int width, height;
  guint8 *rgb;  /* (height, width, 3) */
} Shot;

static inline gboolean
load_png (const char *path, Shot *shot)
{
  png_image image;
  memset (&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file (&image, path))
    return FALSE;
  image.format = PNG_FORMAT_RGB;
  shot->rgb = g_malloc (PNG_IMAGE_SIZE (image));
  if (!png_image_finish_read (&image, NULL, shot->rgb, 0, NULL))
    {
      g_free (shot->rgb);
      return FALSE;
    }
  shot->width = (int) image.width;
  shot->height = (int) image.height;
  return TRUE;
}
