/* display_finetune_space: Space in the Fine-tune mode, by real input. Under
 * Xvfb (no window manager: the window at 0,0), the studio opens a phantom
 * with its labels; a proofreading script switches to the Fine-tune page;
 * XTest presses Space over the XY view -> the fine-tuning run starts, Space
 * again -> it pauses (SEMMAE_FINETUNE_TRACE prints the states). The
 * Pre-train panel's window-wide Space must not take the key meanwhile.
 * libX11 / libXtst are loaded with dlopen (skips without them). */
#include <dlfcn.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/phantom.h"
#include "data/volume.h"
#include "tap.h"
#include "xvfb.h"

typedef struct {
  void *(*open_display) (const char *);
  int (*flush) (void *);
  int (*close_display) (void *);
  unsigned char (*keysym_to_keycode) (void *, unsigned long);
  int (*fake_motion) (void *, int, int, int, unsigned long);
  int (*fake_key) (void *, unsigned int, int, unsigned long);
  void *display;
} X;

static gboolean
x_open (X *x)
{
  void *xlib = dlopen ("libX11.so.6", RTLD_NOW), *xtst = dlopen ("libXtst.so.6", RTLD_NOW);
  if (!xlib || !xtst)
    return FALSE;
  x->open_display = (void *(*) (const char *)) dlsym (xlib, "XOpenDisplay");
  x->flush = (int (*) (void *)) dlsym (xlib, "XFlush");
  x->close_display = (int (*) (void *)) dlsym (xlib, "XCloseDisplay");
  x->keysym_to_keycode = (unsigned char (*) (void *, unsigned long)) dlsym (xlib, "XKeysymToKeycode");
  x->fake_motion = (int (*) (void *, int, int, int, unsigned long)) dlsym (xtst, "XTestFakeMotionEvent");
  x->fake_key = (int (*) (void *, unsigned int, int, unsigned long)) dlsym (xtst, "XTestFakeKeyEvent");
  if (!x->open_display || !x->flush || !x->close_display || !x->keysym_to_keycode || !x->fake_motion ||
      !x->fake_key)
    return FALSE;
  x->display = x->open_display (NULL);
  return x->display != NULL;
}

static void
x_space (X *x)
{
  unsigned int key = x->keysym_to_keycode (x->display, 0x20);
  x->fake_key (x->display, key, 1, 0);
  x->fake_key (x->display, key, 0, 0);
  x->flush (x->display);
}

/* Reads the studio's stdout until `line` shows up (or 60 s pass). */
static gboolean
wait_for (int fd, GString *out, const char *line)
{
  char buf[256];
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!strstr (out->str, line) && g_get_monotonic_time () < deadline)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n <= 0)
        break;
      g_string_append_len (out, buf, n);
    }
  return strstr (out->str, line) != NULL;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: %s SEMMAE-STUDIO\n", argv[0]);
      return 2;
    }
  gboolean child;
  int status = xvfb_reexec (argc, argv, &child);
  if (!child)
    return status == 77 ? tap_skip_all ("xvfb-run is not installed") : status;
  X x = { 0 };
  if (!x_open (&x))
    return tap_skip_all ("libX11 / libXtst cannot be loaded or the display opened");

  g_autofree char *dir = g_dir_make_tmp ("semmae-finetune-space-XXXXXX", NULL);
  g_autofree char *image_path = g_build_filename (dir, "image.tif", NULL);
  g_autofree char *labels_path = g_build_filename (dir, "labels.tif", NULL);
  g_autofree char *script_path = g_build_filename (dir, "script.txt", NULL);
  SmPhantomParams params;
  sm_phantom_default_params (&params);
  params.nz = 12, params.ny = 96, params.nx = 96;
  SmVolume image = { 0 }, labels = { 0 };
  SmError err = { { 0 } };
  TAP_OK (sm_phantom_generate (&params, &image, &labels, NULL, &err) == 0 &&
              sm_volume_write (image_path, &image, &err) == 0 && sm_volume_write (labels_path, &labels, &err) == 0,
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
  TAP_OK (wait_for (out_fd, out, "mode finetune"), "the Fine-tune page is shown");
  g_usleep (1500000); /* first frames */
  x.fake_motion (x.display, -1, 300, 300, 0); /* over the XY view: the key goes to the window */
  x.flush (x.display);
  g_usleep (300000);
  x_space (&x);
  TAP_OK (wait_for (out_fd, out, "finetune state running"), "Space started fine-tuning");
  x_space (&x);
  TAP_OK (wait_for (out_fd, out, "finetune state paused"), "Space again paused it");
  kill (pid, SIGTERM);
  waitpid (pid, NULL, 0);
  g_spawn_close_pid (pid);
  close (out_fd);
  x.close_display (x.display);
  g_string_free (out, TRUE);
  const char *names[] = { "image.tif", "labels.tif", "script.txt", NULL };
  for (int i = 0; names[i]; i++)
    {
      g_autofree char *p = g_build_filename (dir, names[i], NULL);
      g_unlink (p);
    }
  /* Journals or segment tables the session may have left. */
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *p = g_build_filename (dir, name, NULL);
      g_unlink (p);
    }
  g_rmdir (dir);
  return tap_done ();
}
