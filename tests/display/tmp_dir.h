/* Removing a test's temporary folder with whatever the run left in it
 * (journals, segment tables, caches: files only, no subfolders). */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>

static inline void
tmp_dir_remove (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *p = g_build_filename (dir, name, NULL);
      g_unlink (p);
    }
  g_rmdir (dir);
}
