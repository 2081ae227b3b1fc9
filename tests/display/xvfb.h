/* Running GTK under a private X server for the display suite: Xvfb through
 * xvfb-run with Mesa's software GL. Tests skip (77) where xvfb-run is absent. */
#pragma once

#include <glib.h>
#include <stdio.h>

#include "tap.h"

#define XVFB_SCREEN "-screen 0 1280x900x24"

/* The start of a test that runs the studio (argv[1]) under xvfb-run itself:
 * -1 to go on, else what main returns (usage: 2; no xvfb-run: a skip). */
static inline int
xvfb_studio_test_begin (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: %s SEMMAE-STUDIO\n", argv[0]);
      return 2;
    }
  g_autofree char *xvfb = g_find_program_in_path ("xvfb-run");
  return xvfb ? -1 : tap_skip_all ("xvfb-run is not installed");
}

/* Environment for GTK under Xvfb: X11 backend, llvmpipe, no accessibility bus. */
static inline char **
xvfb_environment (void)
{
  char **env = g_get_environ ();
  env = g_environ_setenv (env, "LIBGL_ALWAYS_SOFTWARE", "1", TRUE);
  env = g_environ_setenv (env, "GDK_BACKEND", "x11", TRUE);
  env = g_environ_setenv (env, "NO_AT_BRIDGE", "1", TRUE);
  env = g_environ_setenv (env, "GTK_A11Y", "none", TRUE);
  return env;
}

/* Re-runs this program under xvfb-run unless it already is. Returns only in
 * the child (under X), or with 77 when xvfb-run is missing (the caller skips),
 * or with the child's status in the parent (the caller returns it). */
static inline int
xvfb_reexec (int argc, char **argv, gboolean *is_child)
{
  *is_child = g_getenv ("SEMMAE_UNDER_XVFB") != NULL;
  if (*is_child)
    return 0;
  g_autofree char *xvfb = g_find_program_in_path ("xvfb-run");
  if (!xvfb)
    return 77;
  GPtrArray *args = g_ptr_array_new ();
  g_ptr_array_add (args, xvfb);
  g_ptr_array_add (args, "-a");
  g_ptr_array_add (args, "-s");
  g_ptr_array_add (args, XVFB_SCREEN);
  for (int i = 0; i < argc; i++)
    g_ptr_array_add (args, argv[i]);
  g_ptr_array_add (args, NULL);
  char **env = xvfb_environment ();
  env = g_environ_setenv (env, "SEMMAE_UNDER_XVFB", "1", TRUE);
  int status = 1;
  g_autoptr (GError) error = NULL;
  /* Output goes straight through: the child speaks TAP. */
  if (!g_spawn_sync (NULL, (char **) args->pdata, env, G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL,
                     NULL, NULL, &status, &error))
    {
      g_printerr ("xvfb-run: %s\n", error->message);
      status = 1;
    }
  else
    status = g_spawn_check_wait_status (status, NULL) ? 0 : (WIFEXITED (status) ? WEXITSTATUS (status) : 1);
  g_strfreev (env);
  g_ptr_array_free (args, TRUE);
  return status;
}
