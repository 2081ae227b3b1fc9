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
#include "studio_child.h"
#include "tap.h"
#include "xtest.h"
#include "xvfb.h"

int
main (int argc, char **argv)
{
  X x = { 0 };
  int begun = x_test_begin (argc, argv, &x);
  if (begun >= 0)
    return begun;

  /* XY view alone fills the left of the window: a long stroke stays inside it. */
  StudioChild studio;
  studio_child_prepare (&studio, "semmae-proofread-mouse-XXXXXX", 16, 128, 128, "mode proofread\n");
  if (!studio_child_spawn (&studio, argv[1], NULL))
    return tap_done ();
  /* Wait for the script's line: the labels are open and the panel shown. */
  TAP_OK (studio_child_wait_for (&studio, "mode proofread"), "labels open in the Proofread mode");
  g_usleep (1500000); /* first frames */
  const char *labels_path = studio.labels_path;
  const SmVolume labels = studio.labels;

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
  studio_child_stop (&studio);
  x_close (&x);

  int64_t shape[3] = { labels.nz, labels.ny, labels.nx };
  SmError err = { { 0 } };
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
  int rc = tap_done ();
  /* Kept when something failed, for a look. */
  studio_child_clear (&studio, rc == 0);
  return rc;
}
