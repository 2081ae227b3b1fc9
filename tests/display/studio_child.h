/* A studio driven from a real-input test: a temporary folder with a phantom
 * image, its labels and a proofreading script (SEMMAE_PROOFREAD_SCRIPT); the
 * studio started on them with the XY view alone at 1000x700 (under Xvfb
 * without a window manager: at 0,0), its stdout piped so that the test can
 * wait for the lines it prints. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/phantom.h"
#include "data/volume.h"
#include "tap.h"
#include "tmp_dir.h"

typedef struct {
  char *dir;                  /* temporary: removed by studio_child_clear */
  char *image_path, *labels_path, *script_path;
  SmVolume labels;            /* the labels written */
  GPid pid;
  int out_fd;
  GString *out;               /* the studio's stdout so far */
  gboolean running;
} StudioChild;

/* The folder (g_dir_make_tmp template), an nz x ny x nx phantom as image.tif
 * and labels.tif, and script.txt with `script`; reported as a TAP test. */
static inline gboolean
studio_child_prepare (StudioChild *c, const char *dir_template, int64_t nz, int64_t ny, int64_t nx,
                      const char *script)
{
  memset (c, 0, sizeof *c);
  c->dir = g_dir_make_tmp (dir_template, NULL);
  c->image_path = g_build_filename (c->dir, "image.tif", NULL);
  c->labels_path = g_build_filename (c->dir, "labels.tif", NULL);
  c->script_path = g_build_filename (c->dir, "script.txt", NULL);
  c->out = g_string_new (NULL);
  SmPhantomParams params;
  sm_phantom_default_params (&params);
  params.nz = nz, params.ny = ny, params.nx = nx;
  SmVolume image = { 0 };
  SmError err = { { 0 } };
  gboolean ok = sm_phantom_generate (&params, &image, &c->labels, NULL, &err) == 0 &&
                sm_volume_write (c->image_path, &image, &err) == 0 &&
                sm_volume_write (c->labels_path, &c->labels, &err) == 0 &&
                g_file_set_contents (c->script_path, script, -1, NULL);
  sm_volume_free (&image);
  return TAP_OK (ok, "phantom image and labels written %s", err.message);
}

/* Starts `studio` on the files; env: NULL or NULL-terminated name, value
 * pairs added to the environment. Reported as a TAP test. */
static inline gboolean
studio_child_spawn (StudioChild *c, const char *studio, const char *const *env_pairs)
{
  const char *args[] = { studio, c->image_path, "--labels", c->labels_path, "--layout", "xy", "--size",
                         "1000x700", NULL };
  char **env = g_get_environ ();
  env = g_environ_setenv (env, "SEMMAE_PROOFREAD_SCRIPT", c->script_path, TRUE);
  for (int i = 0; env_pairs && env_pairs[i] && env_pairs[i + 1]; i += 2)
    env = g_environ_setenv (env, env_pairs[i], env_pairs[i + 1], TRUE);
  g_autoptr (GError) error = NULL;
  c->running = g_spawn_async_with_pipes (NULL, (char **) args, env, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &c->pid,
                                         NULL, &c->out_fd, NULL, &error);
  g_strfreev (env);
  return TAP_OK (c->running, "studio started %s", error ? error->message : "");
}

/* Reads the studio's stdout until `line` shows up or 60 s pass. */
static inline gboolean
studio_child_wait_for (StudioChild *c, const char *line)
{
  char buf[256];
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!strstr (c->out->str, line) && g_get_monotonic_time () < deadline)
    {
      ssize_t n = read (c->out_fd, buf, sizeof buf);
      if (n <= 0)
        break;
      g_string_append_len (c->out, buf, n);
    }
  return strstr (c->out->str, line) != NULL;
}

/* SIGTERM, and the process reaped. */
static inline void
studio_child_stop (StudioChild *c)
{
  if (!c->running)
    return;
  kill (c->pid, SIGTERM);
  waitpid (c->pid, NULL, 0);
  g_spawn_close_pid (c->pid);
  close (c->out_fd);
  c->running = FALSE;
}

/* Stops it if needed; the folder goes too when remove_dir (with what the
 * session left there: journals, segment tables). */
static inline void
studio_child_clear (StudioChild *c, gboolean remove_dir)
{
  studio_child_stop (c);
  if (remove_dir)
    tmp_dir_remove (c->dir);
  sm_volume_free (&c->labels);
  g_string_free (c->out, TRUE);
  g_free (c->image_path);
  g_free (c->labels_path);
  g_free (c->script_path);
  g_free (c->dir);
}
