/* display_finetune_space: Space in the Fine-tune mode, by real input. Under
 * Xvfb (no window manager: the window at 0,0), the studio opens a phantom
 * with its labels; a proofreading script switches to the Fine-tune page;
 * XTest presses Space over the XY view -> the fine-tuning run starts, Space
 * again -> it pauses (SEMMAE_FINETUNE_TRACE prints the states). The
 * Pre-train panel's window-wide Space must not take the key meanwhile.
 * libX11 / libXtst are loaded with dlopen (skips without them). */
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "phantom_files.h"
#include "tap.h"
#include "tmp_dir.h"
#include "xtest.h"
#include "xvfb.h"

int
main (int argc, char **argv)
{
  X x = { 0 };
  int begun = x_test_begin (argc, argv, &x);
  if (begun >= 0)
    return begun;

  g_autofree char *dir = g_dir_make_tmp ("semmae-finetune-space-XXXXXX", NULL);
  g_autofree char *image_path = g_build_filename (dir, "image.tif", NULL);
  g_autofree char *labels_path = g_build_filename (dir, "labels.tif", NULL);
  g_autofree char *script_path = g_build_filename (dir, "script.txt", NULL);
  SmVolume image = { 0 }, labels = { 0 };
  SmError err = { { 0 } };
  TAP_OK (phantom_files_write (image_path, labels_path, 12, 96, 96, &image, &labels, &err) == 0,
          "phantom image and labels written %s", err.message);
  sm_volume_free (&image);
  sm_volume_free (&labels);
  g_file_set_contents (script_path, "mode finetune\n", -1, NULL);

  const char *args[] = { argv[1], image_path, "--labels", labels_path, "--layout", "xy", "--size", "1000x700",
                         NULL };
  char **env = g_get_environ ();
  env = g_environ_setenv (env, "SEMMAE_PROOFREAD_SCRIPT", script_path, TRUE);
  env = g_environ_setenv (env, "SEMMAE_FINETUNE_TRACE", "1", TRUE);
  env = g_environ_setenv (env, "OMP_NUM_THREADS", "1", TRUE);
  env = g_environ_setenv (env, "XDG_CACHE_HOME", dir, TRUE);
  GPid pid;
  int out_fd;
  g_autoptr (GError) error = NULL;
  gboolean started = g_spawn_async_with_pipes (NULL, (char **) args, env, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                               &pid, NULL, &out_fd, NULL, &error);
  g_strfreev (env);
  TAP_OK (started, "studio started %s", error ? error->message : "");
  if (!started)
    return tap_done ();
  GString *out = g_string_new (NULL);
  TAP_OK (x_wait_for_output (out_fd, out, "mode finetune"), "the Fine-tune page is shown");
  g_usleep (1500000); /* first frames */
  x_move (&x, 300, 300); /* over the XY view: the key goes to the window */
  g_usleep (260000);
  x_key (&x, 0x20 /* space */, 0);
  TAP_OK (x_wait_for_output (out_fd, out, "finetune state running"), "Space started fine-tuning");
  x_key (&x, 0x20, 0);
  TAP_OK (x_wait_for_output (out_fd, out, "finetune state paused"), "Space again paused it");
  kill (pid, SIGTERM);
  waitpid (pid, NULL, 0);
  g_spawn_close_pid (pid);
  close (out_fd);
  x_close (&x);
  g_string_free (out, TRUE);
  /* With the journals or segment tables the session may have left. */
  tmp_dir_remove (dir);
  return tap_done ();
}
