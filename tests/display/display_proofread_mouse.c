/* display_proofread_mouse: the Proofread mode driven by real input. Under
 * Xvfb (no window manager: the window sits at 0,0 with the default layout),
 * XTest moves the pointer, presses P (paint) and N (new id), drags a stroke
 * across the XY view and presses Ctrl+S; the saved labels must then hold a new
 * segment on the XY view's slice along the dragged line. libX11 / libXtst are
 * loaded with dlopen, so the test needs no X development files and skips
 * where they are missing. */
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/label_io.h"
#include "data/label_stats.h"
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

  g_autofree char *dir = g_dir_make_tmp ("semmae-proofread-mouse-XXXXXX", NULL);
  g_autofree char *image_path = g_build_filename (dir, "image.tif", NULL);
  g_autofree char *labels_path = g_build_filename (dir, "labels.tif", NULL);
  g_autofree char *script_path = g_build_filename (dir, "script.txt", NULL);
  SmVolume image = { 0 }, labels = { 0 };
  SmError err = { { 0 } };
  TAP_OK (phantom_files_write (image_path, labels_path, 16, 128, 128, &image, &labels, &err) == 0,
          "phantom image and labels written %s", err.message);
  g_file_set_contents (script_path, "mode proofread\n", -1, NULL);

  /* XY view alone fills the left of the window: a long stroke stays inside it. */
  const char *args[] = { argv[1], image_path, "--labels", labels_path, "--layout", "xy", "--size", "1000x700",
                         NULL };
  char **env = g_get_environ ();
  env = g_environ_setenv (env, "SEMMAE_PROOFREAD_SCRIPT", script_path, TRUE);
  GPid pid;
  int out_fd;
  g_autoptr (GError) error = NULL;
  gboolean started = g_spawn_async_with_pipes (NULL, (char **) args, env, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                               NULL, &pid, NULL, &out_fd, NULL, &error);
  g_strfreev (env);
  TAP_OK (started, "studio started %s", error ? error->message : "");
  if (!started)
    return tap_done ();
  /* Wait for the script's line: the labels are open and the panel shown. */
  GString *out = g_string_new (NULL);
  TAP_OK (x_wait_for_output (out_fd, out, "mode proofread"), "labels open in the Proofread mode");
  g_usleep (1500000); /* first frames */

  GStatBuf before;
  g_stat (labels_path, &before);
  x_move (&x, 300, 300);
  x_key (&x, 'p', 0); /* paint */
  x_key (&x, 'n', 0); /* new segment id */
  const int x0 = 150, y0 = 250, steps = 25;
  x_move (&x, x0, y0);
  x_button (&x, 1, TRUE);
  g_usleep (100000);
  for (int i = 1; i <= steps; i++)
    x_move (&x, x0 + i * 12, y0 + i * 4);
  x_button (&x, 1, FALSE);
  g_usleep (400000);
  x_key (&x, 's', 0xffe3 /* Control_L */);

  gboolean saved = FALSE;
  for (int i = 0; i < 100 && !saved; i++)
    {
      GStatBuf now;
      saved = g_stat (labels_path, &now) == 0 && (now.st_mtime != before.st_mtime || now.st_size != before.st_size ||
                                                  now.st_ino != before.st_ino);
      if (!saved)
        g_usleep (100000);
    }
  TAP_OK (saved, "Ctrl+S rewrote the labels");
  kill (pid, SIGTERM);
  waitpid (pid, NULL, 0);
  g_spawn_close_pid (pid);
  x_close (&x);

  int64_t shape[3] = { image.nz, image.ny, image.nx };
  SmLabelStore *store = sm_label_store_load (labels_path, shape, &err);
  TAP_OK (store != NULL, "saved labels load %s", err.message);
  if (store)
    {
      SmLabelStats stats;
      sm_label_stats (store, &stats);
      const SmSegment *painted = sm_label_store_segment (store, stats.max_id);
      gboolean is_new = painted && painted->id > 0;
      uint32_t old_max = 0;
      for (size_t i = 0; i < sm_volume_voxels (&labels); i++)
        old_max = MAX (old_max, ((const uint32_t *) labels.data)[i]);
      TAP_OK (is_new && painted->id > old_max, "a new segment %u (labels went up to %u)", is_new ? painted->id : 0,
              old_max);
      /* One slice thick (2D brush on the XY view), long along x: the drag. */
      TAP_OK (is_new && painted->hi[0] - painted->lo[0] == 1 && painted->hi[2] - painted->lo[2] > 40 &&
                  painted->voxels > 200,
              "the stroke: z %d..%d, x %d..%d, %" G_GUINT64_FORMAT " voxels", is_new ? painted->lo[0] : 0,
              is_new ? painted->hi[0] : 0, is_new ? painted->lo[2] : 0, is_new ? painted->hi[2] : 0,
              is_new ? painted->voxels : 0);
      sm_label_store_free (store);
    }
  sm_volume_free (&image);
  sm_volume_free (&labels);
  g_string_free (out, TRUE);
  int rc = tap_done ();
  if (rc == 0)
    tmp_dir_remove (dir);
  return rc;
}
