/* Driving a running studio by real X input, for the display tests: XTest
 * through dlopen (libX11.so.6, libXtst.so.6), so the tests need no X
 * development files and skip where the libraries are missing. Under Xvfb
 * without a window manager the studio's window sits at 0,0: screen
 * coordinates are window coordinates. See studio_child.h for the studio. */
#pragma once

#include <dlfcn.h>
#include <glib.h>
#include <stdio.h>

#include "tap.h"
#include "xvfb.h"

typedef struct {
  void *(*open_display) (const char *);
  int (*flush) (void *);
  int (*close_display) (void *);
  unsigned char (*keysym_to_keycode) (void *, unsigned long);
  int (*fake_motion) (void *, int, int, int, unsigned long);
  int (*fake_button) (void *, unsigned int, int, unsigned long);
  int (*fake_key) (void *, unsigned int, int, unsigned long);
  void *display;
} X;

/* FALSE: the libraries or the display ($DISPLAY) are not there. */
static inline gboolean
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
  x->fake_button = (int (*) (void *, unsigned int, int, unsigned long)) dlsym (xtst, "XTestFakeButtonEvent");
  x->fake_key = (int (*) (void *, unsigned int, int, unsigned long)) dlsym (xtst, "XTestFakeKeyEvent");
  if (!x->open_display || !x->flush || !x->close_display || !x->keysym_to_keycode || !x->fake_motion ||
      !x->fake_button || !x->fake_key)
    return FALSE;
  x->display = x->open_display (NULL);
  return x->display != NULL;
}

/* The start of a test's main: usage (argv[1]: the studio), re-run under
 * Xvfb, X input opened. Returns -1 to go on, else what main returns (the
 * Xvfb run's status, or a skip). */
static inline int
x_test_begin (int argc, char **argv, X *x)
{
  int begun = xvfb_studio_test_begin (argc, argv);
  if (begun >= 0)
    return begun;
  gboolean child;
  int status = xvfb_reexec (argc, argv, &child);
  if (!child)
    return status == 77 ? tap_skip_all ("xvfb-run is not installed") : status;
  if (!x_open (x))
    return tap_skip_all ("libX11 / libXtst cannot be loaded or the display opened");
  return -1;
}

static inline void
x_close (X *x)
{
  x->close_display (x->display);
  x->display = NULL;
}

/* The pointer to (px, py) on the screen. */
static inline void
x_move (X *x, int px, int py)
{
  x->fake_motion (x->display, -1, px, py, 0);
  x->flush (x->display);
  g_usleep (40000);
}

/* Presses (pressed TRUE) or releases mouse button `button` (1: left). */
static inline void
x_button (X *x, unsigned int button, gboolean pressed)
{
  x->fake_button (x->display, button, pressed ? 1 : 0, 0);
  x->flush (x->display);
}

/* A key press and release (keysym, e.g. 'p' or 0x20 for Space), with
 * `modifier` (a keysym such as 0xffe3 Control_L, or 0) held meanwhile; then
 * a pause for the studio to handle it. */
static inline void
x_key (X *x, unsigned long keysym, unsigned long modifier)
{
  unsigned int mod = modifier ? x->keysym_to_keycode (x->display, modifier) : 0;
  unsigned int key = x->keysym_to_keycode (x->display, keysym);
  if (mod)
    x->fake_key (x->display, mod, 1, 0);
  x->fake_key (x->display, key, 1, 0);
  x->fake_key (x->display, key, 0, 0);
  if (mod)
    x->fake_key (x->display, mod, 0, 0);
  x->flush (x->display);
  g_usleep (300000);
}

