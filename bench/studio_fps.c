/* studio_fps: how fast the studio's slice views scroll, and how soon the
 * studio shows a stack. Run by hand (numbers depend on the machine):
 *
 *   build/bench/studio_fps [--studio PATH] [--slices N] [--em-data DIR]
 *
 * Starts build/app/studio/semmae-studio under xvfb-run with Mesa's llvmpipe
 * (LIBGL_ALWAYS_SOFTWARE=1) and
 *  - scrolls N slices in the XY view (one per frame-clock tick, --bench-scroll)
 *    of the VNC stack (10 x 1024 x 1024) and of a 250^3 uint8 volume written
 *    to a temporary TIFF, in the 2 x 2 layout (the 3D view redraws its slice
 *    planes too) and in the XY-only layout; the studio prints frames per second;
 *  - opens the VNC stack three times with --timing: milliseconds from main()
 *    to the first frame in which every slice view shows the data, and the
 *    wall-clock time of the whole run (including X server start-up). */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "data/volume.h"

static char *opt_studio, *opt_em_data;
static int opt_slices = 300;

static const GOptionEntry entries[] = {
  { "studio", 0, 0, G_OPTION_ARG_FILENAME, &opt_studio, "semmae-studio to run", "PATH" },
  { "slices", 0, 0, G_OPTION_ARG_INT, &opt_slices, "Slices to scroll per run (default 300)", "N" },
  { "em-data", 0, 0, G_OPTION_ARG_FILENAME, &opt_em_data, "Real data folder (default ../shared/em-data)", "DIR" },
  { NULL },
};

/* Runs the studio under xvfb-run; returns its stdout (NULL on failure). */
static char *
run_studio (const char *const *args, double *wall_seconds)
{
  GPtrArray *argv = g_ptr_array_new ();
  const char *prefix[] = { "xvfb-run", "-a", "-s", "-screen 0 1280x900x24", opt_studio };
  for (guint i = 0; i < G_N_ELEMENTS (prefix); i++)
    g_ptr_array_add (argv, (char *) prefix[i]);
  for (int i = 0; args[i]; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  char **env = g_get_environ ();
  env = g_environ_setenv (env, "LIBGL_ALWAYS_SOFTWARE", "1", TRUE);
  env = g_environ_setenv (env, "GDK_BACKEND", "x11", TRUE);
  env = g_environ_setenv (env, "NO_AT_BRIDGE", "1", TRUE);
  char *out = NULL, *err = NULL;
  int status = 0;
  GError *error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = g_spawn_sync (NULL, (char **) argv->pdata, env, G_SPAWN_SEARCH_PATH, NULL, NULL,
                              &out, &err, &status, &error);
  if (wall_seconds)
    *wall_seconds = (g_get_monotonic_time () - t0) / 1e6;
  if (!ok || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      fprintf (stderr, "studio_fps: run failed: %s%s\n", error ? error->message : "", err ? err : "");
      g_clear_pointer (&out, g_free);
    }
  g_clear_error (&error);
  g_free (err);
  g_strfreev (env);
  g_ptr_array_free (argv, TRUE);
  return out;
}

static void
scroll (const char *label, const char *volume, const char *layout)
{
  g_autofree char *n = g_strdup_printf ("%d", opt_slices);
  const char *args[] = { volume, "--bench-scroll", n, "--layout", layout, "--size", "1280x860", NULL };
  g_autofree char *out = run_studio (args, NULL);
  const char *line = out ? strstr (out, "bench-scroll:") : NULL;
  if (line)
    printf ("%-28s %-6s %.*s\n", label, layout, (int) strcspn (line, "\n"), line);
  else
    printf ("%-28s %-6s failed\n", label, layout);
  fflush (stdout);
}

/* A 250^3 uint8 volume with structure at several scales (not a constant). */
static gboolean
write_cube (const char *path)
{
  SmVolume v = { 0 };
  SmError err = { { 0 } };
  if (sm_volume_alloc (&v, SM_U8, 250, 250, 250, &err) != 0)
    return FALSE;
  guint8 *d = v.data;
  for (int z = 0; z < 250; z++)
    for (int y = 0; y < 250; y++)
      for (int x = 0; x < 250; x++)
        d[((size_t) z * 250 + y) * 250 + x] =
            (guint8) (127 + 60 * sin (x * 0.11 + z * 0.05) * cos (y * 0.13) + 40 * sin ((x + y + z) * 0.7));
  int rc = sm_volume_write (path, &v, &err);
  sm_volume_free (&v);
  if (rc != 0)
    fprintf (stderr, "studio_fps: %s\n", err.message);
  return rc == 0;
}

int
main (int argc, char **argv)
{
  GOptionContext *context = g_option_context_new ("- slice scrolling fps and time to first frame");
  g_option_context_add_main_entries (context, entries, NULL);
  GError *error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "studio_fps: %s\n", error->message);
      return 2;
    }
  g_option_context_free (context);
  g_autofree char *self_dir = g_path_get_dirname (argv[0]);
  if (!opt_studio)
    opt_studio = g_build_filename (self_dir, "..", "app", "studio", "semmae-studio", NULL);
  if (!opt_em_data)
    opt_em_data = g_strdup ("../shared/em-data");
  g_autofree char *vnc = g_build_filename (opt_em_data, "vnc-stack1", "raw", NULL);
  if (!g_find_program_in_path ("xvfb-run"))
    {
      fprintf (stderr, "studio_fps: needs xvfb-run\n");
      return 77;
    }

  printf ("# slice scrolling under Xvfb + llvmpipe, %d slices per run (one per frame-clock tick)\n",
          opt_slices);
  fflush (stdout);
  if (g_file_test (vnc, G_FILE_TEST_IS_DIR))
    {
      scroll ("vnc-stack1 10x1024x1024", vnc, "grid");
      scroll ("vnc-stack1 10x1024x1024", vnc, "xy");
    }
  else
    printf ("# %s absent: VNC runs skipped\n", vnc);
  g_autofree char *dir = g_dir_make_tmp ("studio-fps-XXXXXX", NULL);
  g_autofree char *cube = g_build_filename (dir, "cube250.tif", NULL);
  if (write_cube (cube))
    {
      scroll ("synthetic 250^3 uint8", cube, "grid");
      scroll ("synthetic 250^3 uint8", cube, "xy");
      g_unlink (cube);
    }
  g_rmdir (dir);

  if (g_file_test (vnc, G_FILE_TEST_IS_DIR))
    {
      printf ("# launch to first complete frame, VNC stack (3 runs)\n");
      for (int i = 0; i < 3; i++)
        {
          double wall = 0;
          g_autofree char *shot = g_build_filename (g_get_tmp_dir (), "studio-fps-shot.png", NULL);
          const char *args[] = { vnc, "--timing", "--screenshot", shot, NULL };
          g_autofree char *out = run_studio (args, &wall);
          const char *line = out ? strstr (out, "first complete frame:") : NULL;
          printf ("run %d: %.*s (whole run incl. Xvfb start and exit: %.2f s)\n", i + 1,
                  line ? (int) strcspn (line, "\n") : 6, line ? line : "failed", wall);
          fflush (stdout);
          g_unlink (shot);
        }
    }
  return 0;
}
