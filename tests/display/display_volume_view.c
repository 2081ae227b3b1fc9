/* SmVolumeView under Xvfb + Mesa's software GL (re-run under xvfb-run): the
 * volume shaders compile and link, MIP and compositing draw the synthetic
 * volume (not black, brighter where the bright ball is), selected segments
 * appear as coloured surfaces and go away when their labels are erased, and
 * invert changes the picture. With --no-gl (run with GDK_DEBUG=gl-disable)
 * (GTK's GL disabled) the view must say in place that GL is missing instead
 * of crashing; --gles runs everything on OpenGL ES. Skips (77) without
 * xvfb-run. */
#include <gtk/gtk.h>
#include <math.h>
#include <string.h>

#include "app/studio/sm-volume-texture.h"
#include "app/studio/sm-volume-view-private.h"
#include "semmae-resources.h"
#include "tap.h"
#include "xvfb.h"

#define N 48
#define W 320
#define H 240
/* The big ball's segment id: its hashed colour (magenta-pink) is far from the
 * slice frames' red, green and blue. */
#define SEGMENT_ID 7
#define OTHER_ID 6 /* green: a hue far from SEGMENT_ID's */
#define BACKGROUND_GREY 20.4 /* the view's background, 0.08 * 255 */

typedef struct {
  GtkWidget *window, *view;
  int renders;
  int ticks_since_render;
} Harness;

static gboolean
counted (GtkGLArea *area, GdkGLContext *context, Harness *h)
{
  h->renders++;
  h->ticks_since_render = 0;
  return FALSE; /* let the view's own render run */
}

static gboolean
tick (GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
  ((Harness *) data)->ticks_since_render++;
  return G_SOURCE_CONTINUE;
}

/* Iterates the main loop until the view has rendered and settled. */
static void
settle (Harness *h)
{
  const int before = h->renders;
  const gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline) {
    g_main_context_iteration (NULL, FALSE);
    if (h->renders > before && h->ticks_since_render > 2) return;
    if (sm_volume_view_get_gl_error (SM_VOLUME_VIEW (h->view)) && h->ticks_since_render > 5) return;
    g_usleep (2000);
  }
}

typedef struct {
  double mean;          /* mean grey level, 0..255 */
  double lit;           /* fraction of pixels brighter than the background */
  double segment;       /* fraction of pixels with the hue of segment SEGMENT_ID */
  double centre;        /* grey level of the centre 20 x 20 block */
} Stats;

static Stats
capture (Harness *h)
{
  Stats s = { 0 };
  const int w = gtk_widget_get_width (h->view), hh = gtk_widget_get_height (h->view);
  GdkPaintable *paintable = gtk_widget_paintable_new (h->view);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, w, hh);
  GskRenderNode *node = gtk_snapshot_free_to_node (snapshot);
  if (!node) {
    g_object_unref (paintable);
    return s;
  }
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (h->view));
  GdkTexture *texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, hh));
  guchar *px = g_malloc ((gsize) w * hh * 4);
  gdk_texture_download (texture, px, (gsize) w * 4);
  float target[3];
  sm_segment_color (SEGMENT_ID, target);
  const double target_norm = sqrt (target[0] * target[0] + target[1] * target[1] + target[2] * target[2]);
  gsize lit = 0, segment = 0, centre_n = 0;
  double sum = 0, centre = 0;
  for (int y = 0; y < hh; y++)
    for (int x = 0; x < w; x++) {
      const guchar *p = px + 4 * ((gsize) y * w + x);
      /* Memory order B G R A (cairo ARGB32). */
      const double rgb[3] = { p[2], p[1], p[0] };
      const double mx = MAX (rgb[0], MAX (rgb[1], rgb[2])), mn = MIN (rgb[0], MIN (rgb[1], rgb[2]));
      const double grey = (rgb[0] + rgb[1] + rgb[2]) / 3.0;
      const double norm = sqrt (rgb[0] * rgb[0] + rgb[1] * rgb[1] + rgb[2] * rgb[2]);
      const double cosine = (rgb[0] * target[0] + rgb[1] * target[1] + rgb[2] * target[2]) / (norm * target_norm + 1e-9);
      sum += grey;
      lit += grey > BACKGROUND_GREY + 6;
      segment += mx - mn > 40 && cosine > 0.98;
      if (abs (x - w / 2) < 10 && abs (y - hh / 2) < 10) {
        centre += grey;
        centre_n++;
      }
    }
  s.mean = sum / ((double) w * hh);
  s.lit = (double) lit / ((double) w * hh);
  s.segment = (double) segment / ((double) w * hh);
  s.centre = centre / MAX (centre_n, 1);
  g_free (px);
  g_object_unref (texture);
  gsk_render_node_unref (node);
  g_object_unref (paintable);
  return s;
}

/* A dim cube with a bright ball in the middle (SEGMENT_ID in the labels) and a
 * smaller ball off-centre (OTHER_ID). */
static void
synthesise (SmVolume *image, SmVolume *labels)
{
  SmError err;
  if (sm_volume_alloc (image, SM_U8, N, N, N, &err) != 0 || sm_volume_alloc (labels, SM_U32, N, N, N, &err) != 0) {
    printf ("Bail out! %s\n", err.message);
    exit (1);
  }
  guint8 *img = image->data;
  guint32 *lab = labels->data;
  for (int z = 0; z < N; z++)
    for (int y = 0; y < N; y++)
      for (int x = 0; x < N; x++) {
        const double dx = x - N / 2.0 + 0.5, dy = y - N / 2.0 + 0.5, dz = z - N / 2.0 + 0.5;
        const double r = sqrt (dx * dx + dy * dy + dz * dz);
        const double r2 = sqrt ((x - 10.0) * (x - 10.0) + (y - 10.0) * (y - 10.0) + (z - 10.0) * (z - 10.0));
        const gsize i = ((gsize) z * N + y) * N + x;
        img[i] = r < N / 4.0 ? 230 : 30;
        lab[i] = r < N / 4.0 ? SEGMENT_ID : r2 < 5 ? OTHER_ID : 0;
      }
}

/* Inside the big ball of synthesise()? */
static gboolean
in_ball (const double zyx[3])
{
  double r2 = 0;
  for (int a = 0; a < 3; a++) r2 += (zyx[a] + 0.5 - N / 2.0) * (zyx[a] + 0.5 - N / 2.0);
  return r2 < (N / 4.0 + 1) * (N / 4.0 + 1);
}

static int
run_no_gl (void)
{
  Harness h = { 0 };
  h.window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (h.window), W, H);
  h.view = sm_volume_view_new ();
  gtk_window_set_child (GTK_WINDOW (h.window), h.view);
  g_signal_connect (h.view, "render", G_CALLBACK (counted), &h);
  gtk_widget_add_tick_callback (h.view, tick, &h, NULL);
  SmVolume image = { 0 }, labels = { 0 };
  synthesise (&image, &labels);
  sm_volume_view_set_volume (SM_VOLUME_VIEW (h.view), &image);
  gtk_window_present (GTK_WINDOW (h.window));
  settle (&h);
  const char *message = sm_volume_view_get_gl_error (SM_VOLUME_VIEW (h.view));
  TAP_OK (message != NULL, "without GL the view reports why: %s", message ? message : "(nothing)");
  Stats s = capture (&h);
  TAP_OK (s.lit > 0.001 && s.lit < 0.2, "the message is drawn in place (%.2f %% lit)", 100 * s.lit);
  sm_volume_view_set_volume (SM_VOLUME_VIEW (h.view), NULL);
  gtk_window_destroy (GTK_WINDOW (h.window));
  sm_volume_free (&image);
  sm_volume_free (&labels);
  return tap_done ();
}

int
main (int argc, char **argv)
{
  gboolean child;
  int status = xvfb_reexec (argc, argv, &child);
  if (!child) return status == 77 ? tap_skip_all ("xvfb-run is not installed") : status;
  const gboolean no_gl = argc > 1 && strcmp (argv[1], "--no-gl") == 0;
  if (no_gl) g_setenv ("GDK_DEBUG", "gl-disable", TRUE);
  /* --gles: the same checks on an OpenGL ES context (#version 300 es shaders). */
  if (argc > 1 && strcmp (argv[1], "--gles") == 0) g_setenv ("GDK_DEBUG", "gl-gles", TRUE);
  if (!gtk_init_check ()) return tap_skip_all ("no display");
  semmae_register_resource (); /* the shaders; the application does this itself */
  if (no_gl) return run_no_gl ();

  Harness h = { 0 };
  h.window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (h.window), W, H);
  h.view = sm_volume_view_new ();
  gtk_window_set_child (GTK_WINDOW (h.window), h.view);
  g_signal_connect (h.view, "render", G_CALLBACK (counted), &h);
  gtk_widget_add_tick_callback (h.view, tick, &h, NULL);
  SmVolumeView *view = SM_VOLUME_VIEW (h.view);

  /* Nothing set: the background only. */
  gtk_window_present (GTK_WINDOW (h.window));
  settle (&h);
  const char *error = sm_volume_view_get_gl_error (view);
  if (error) {
    TAP_OK (FALSE, "GL context and volume shaders: %s", error);
    return tap_done ();
  }
  TAP_OK (sm_volume_view_is_gl_ready (view), "volume shaders compile and link");
  Stats empty = capture (&h);
  TAP_OK (empty.mean < 30 && empty.lit < 0.01, "without a volume the view is background (mean %.1f)", empty.mean);

  SmVolume image = { 0 }, labels = { 0 };
  synthesise (&image, &labels);
  sm_volume_view_set_volume (view, &image);
  sm_volume_view_set_render_mode (view, SM_RENDER_MIP);
  sm_volume_view_set_contrast (view, 0, 255, 1.0, FALSE);
  sm_volume_view_set_cursor (view, N / 2.0, N / 2.0, N / 2.0);
  settle (&h);
  Stats mip = capture (&h);
  tap_diag ("MIP: mean %.1f, lit %.2f, centre %.1f", mip.mean, mip.lit, mip.centre);
  TAP_OK (mip.lit > 0.2, "MIP draws the volume (%.0f %% of pixels lit)", 100 * mip.lit);
  TAP_OK (mip.centre > 180, "MIP shows the bright ball in the middle (centre %.0f of 230)", mip.centre);
  TAP_OK (mip.mean > empty.mean + 10, "MIP is brighter than the empty view (%.1f vs %.1f)", mip.mean, empty.mean);
  double zyx[3];
  const double cx = gtk_widget_get_width (h.view) / 2.0, cy = gtk_widget_get_height (h.view) / 2.0;
  gboolean picked = sm_volume_view_pick (view, cx, cy, zyx);
  TAP_OK (picked && in_ball (zyx), "MIP: a double-click in the middle picks the bright ball (%.0f, %.0f, %.0f)", zyx[0],
          zyx[1], zyx[2]);
  TAP_OK (!sm_volume_view_pick (view, 2, 2, zyx), "a click beside the box picks nothing");

  sm_volume_view_set_render_mode (view, SM_RENDER_COMPOSITE);
  sm_volume_view_set_transfer (view, 0.3, 0.2, 0.9);
  settle (&h);
  Stats comp = capture (&h);
  tap_diag ("composite: mean %.1f, lit %.2f, centre %.1f", comp.mean, comp.lit, comp.centre);
  TAP_OK (comp.lit > 0.05 && comp.centre > 100, "compositing draws the ball (centre %.0f)", comp.centre);
  picked = sm_volume_view_pick (view, cx, cy, zyx);
  TAP_OK (picked && in_ball (zyx), "compositing: the pick is on the ball (%.0f, %.0f, %.0f)", zyx[0], zyx[1], zyx[2]);

  /* Inverted, the dim cube (30) becomes bright and rises above the ramp. */
  sm_volume_view_set_contrast (view, 0, 255, 1.0, TRUE);
  settle (&h);
  Stats inverted = capture (&h);
  TAP_OK (inverted.mean > comp.mean + 15, "invert brightens the dim cube (mean %.0f -> %.0f)", comp.mean,
          inverted.mean);
  sm_volume_view_set_contrast (view, 0, 255, 1.0, FALSE);

  TAP_OK (comp.segment < 0.002, "no segment colour before segments are selected (%.2f %%)", 100 * comp.segment);
  sm_volume_view_set_labels (view, &labels);
  const guint32 ids[2] = { SEGMENT_ID, OTHER_ID };
  sm_volume_view_set_selected_segments (view, ids, 2);
  settle (&h);
  Stats surf = capture (&h);
  TAP_OK (surf.segment > 0.03, "the selected ball is drawn as a surface in its colour (%.1f %% of pixels)",
          100 * surf.segment);
  picked = sm_volume_view_pick (view, cx, cy, zyx);
  TAP_OK (picked && ((guint32 *) labels.data)[((gsize) zyx[0] * N + (gsize) zyx[1]) * N + (gsize) zyx[2]] == SEGMENT_ID,
          "with surfaces the pick lands in the selected segment");

  /* Erase the ball's segment in the labels and report the edited box. */
  guint32 *lab = labels.data;
  for (gsize i = 0; i < (gsize) N * N * N; i++)
    if (lab[i] == SEGMENT_ID) lab[i] = 0;
  const gint64 lo[3] = { N / 4 - 1, N / 4 - 1, N / 4 - 1 }, hi[3] = { 3 * N / 4 + 1, 3 * N / 4 + 1, 3 * N / 4 + 1 };
  sm_volume_view_labels_changed (view, lo, hi);
  settle (&h);
  Stats erased = capture (&h);
  TAP_OK (erased.segment < surf.segment / 10, "erasing a segment removes its surface (%.1f %% -> %.2f %%)",
          100 * surf.segment, 100 * erased.segment);

  /* Orbiting and interactive quality still draw. */
  sm_volume_view_set_interacting (view, TRUE);
  sm_volume_view_orbit (view, 80, 30);
  settle (&h);
  Stats moving = capture (&h);
  TAP_OK (moving.lit > 0.05, "an interactive frame after orbiting draws (%.0f %% lit)", 100 * moving.lit);
  sm_volume_view_set_interacting (view, FALSE);
  sm_volume_view_reset_camera (view);

  /* Volumes of other types go through the same path. */
  SmVolume f32 = { 0 };
  SmError err;
  if (sm_volume_alloc (&f32, SM_F32, 16, 16, 16, &err) == 0) {
    float *f = f32.data;
    for (int i = 0; i < 16 * 16 * 16; i++) f[i] = (float) (i % 16) * 10.0f - 50.0f;
    sm_volume_view_set_labels (view, NULL);
    sm_volume_view_set_volume (view, &f32);
    sm_volume_view_set_render_mode (view, SM_RENDER_MIP);
    sm_volume_view_set_contrast (view, -50, 100, 1.0, FALSE);
    settle (&h);
    Stats fs = capture (&h);
    TAP_OK (fs.lit > 0.05, "a float32 volume draws (%.0f %% lit)", 100 * fs.lit);
  }
  /* 16-bit: R16 on desktop GL, normalised half floats on GLES. */
  SmVolume u16 = { 0 };
  if (sm_volume_alloc (&u16, SM_U16, 16, 16, 16, &err) == 0) {
    guint16 *w = u16.data;
    for (int i = 0; i < 16 * 16 * 16; i++) w[i] = (guint16) ((i % 16) * 4000);
    sm_volume_view_set_volume (view, &u16);
    sm_volume_view_set_contrast (view, 0, 60000, 1.0, FALSE);
    settle (&h);
    Stats us = capture (&h);
    TAP_OK (us.lit > 0.05, "a uint16 volume draws (%.0f %% lit)", 100 * us.lit);
    sm_volume_view_set_volume (view, NULL);
    sm_volume_free (&u16);
  }

  /* Past the main-thread limit (lowered here) the conversion runs on a worker:
   * replacing the volume mid-way cancels it, and the last one set is drawn. */
  SmVolume big = { 0 }, big2 = { 0 };
  sm_volume_view_set_sync_limit (1000);
  if (sm_volume_alloc (&big, SM_U8, 130, 256, 256, &err) == 0 && sm_volume_alloc (&big2, SM_U8, 130, 256, 256, &err) == 0) {
    memset (big.data, 200, sm_volume_bytes (&big));
    memset (big2.data, 30, sm_volume_bytes (&big2));
    /* A bright block in the middle of the second. */
    guint8 *b2 = big2.data;
    for (int z = 40; z < 90; z++)
      for (int y = 75; y < 175; y++) memset (b2 + ((gsize) z * 256 + y) * 256 + 75, 250, 100);
    sm_volume_view_set_contrast (view, 0, 255, 1.0, FALSE);
    sm_volume_view_set_volume (view, &big);
    TAP_OK (sm_volume_view_is_busy (view), "a volume past the limit converts in the background");
    sm_volume_view_set_volume (view, &big2);
    sm_volume_free (&big); /* allowed: the view no longer borrows it */
    const gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
    while (sm_volume_view_is_busy (view) && g_get_monotonic_time () < deadline) g_main_context_iteration (NULL, TRUE);
    TAP_OK (!sm_volume_view_is_busy (view), "the conversion finishes");
    gtk_gl_area_queue_render (GTK_GL_AREA (view)); /* it may have rendered while we waited */
    settle (&h);
    Stats bs = capture (&h);
    TAP_OK (bs.centre > 200, "the volume set last is drawn (centre %.0f)", bs.centre);
    /* Dropping a volume while it converts. */
    sm_volume_view_set_volume (view, &big2);
    sm_volume_view_set_volume (view, NULL);
    TAP_OK (!sm_volume_view_is_busy (view), "setting NULL stops the conversion");

    /* The label mask goes through its own worker too. */
    sm_volume_free (&image);
    sm_volume_free (&labels);
    synthesise (&image, &labels);
    sm_volume_view_set_volume (view, &image);
    sm_volume_view_set_labels (view, &labels);
    const guint32 one[1] = { SEGMENT_ID };
    sm_volume_view_set_selected_segments (view, one, 1);
    while (sm_volume_view_is_busy (view) && g_get_monotonic_time () < deadline) g_main_context_iteration (NULL, TRUE);
    gtk_gl_area_queue_render (GTK_GL_AREA (view));
    settle (&h);
    Stats ms = capture (&h);
    TAP_OK (ms.segment > 0.03, "a mask built on the worker is drawn (%.1f %% of pixels)", 100 * ms.segment);
    sm_volume_view_set_labels (view, NULL);
  }

  sm_volume_view_set_volume (view, NULL);
  settle (&h);
  sm_volume_free (&big2);
  gtk_window_destroy (GTK_WINDOW (h.window));
  sm_volume_free (&image);
  sm_volume_free (&labels);
  sm_volume_free (&f32);
  return tap_done ();
}
