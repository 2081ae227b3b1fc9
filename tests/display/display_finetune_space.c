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

  StudioChild studio;
  studio_child_prepare (&studio, "semmae-finetune-space-XXXXXX", 12, 96, 96, "mode finetune\n");
  const char *env[] = { "SEMMAE_FINETUNE_TRACE", "1", "OMP_NUM_THREADS", "1", "XDG_CACHE_HOME", studio.dir, NULL };
  if (!studio_child_spawn (&studio, argv[1], env))
    return tap_done ();
  TAP_OK (studio_child_wait_for (&studio, "mode finetune"), "the Fine-tune page is shown");
  g_usleep (1500000); /* first frames */
  x_move (&x, 300, 300); /* over the XY view: the key goes to the window */
  g_usleep (260000);
  x_key (&x, 0x20 /* space */, 0);
  TAP_OK (studio_child_wait_for (&studio, "finetune state running"), "Space started fine-tuning");
  x_key (&x, 0x20, 0);
  TAP_OK (studio_child_wait_for (&studio, "finetune state paused"), "Space again paused it");
  x_close (&x);
  studio_child_clear (&studio, TRUE);
  return tap_done ();
}
