/* studio_3d_fps: frames per second of the studio's 3D view (SmVolumeView),
 * and its visual harness.
 *
 *   xvfb-run -a -s "-screen 0 1280x900x24" env LIBGL_ALWAYS_SOFTWARE=1 GDK_BACKEND=x11 \
 *     studio_3d_fps [--volume PATH | --synthetic N] [--labels PATH --top-ids K]
 *                   [--mode mip|composite] [--invert] [--screenshot OUT.png] [--frames N]
 *
 * Opens an 800 x 600 window with only the 3D view, waits for the first full
 * frame, optionally saves it, then orbits the camera for N frames while
 * "dragging" (reduced quality, as during interaction) and N frames at full
 * quality, printing frames per second for each. Without --volume it ray-marches
 * a synthetic N^3 uint8 volume of blobs (default 250^3). Run by hand: the
 * numbers depend on the machine and nothing asserts on them. */
#include <gtk/gtk.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/studio/sm-volume-view-private.h"
#include "semmae-resources.h"
#include "data/volume.h"

static char *opt_voxel, *opt_volume, *opt_labels, *opt_mode, *opt_screenshot, *opt_ids;
static int opt_synthetic = 250, opt_frames = 40, opt_top_ids = 0, opt_width = 800, opt_height = 600;
static gboolean opt_invert, opt_no_fps;
static double opt_scale = 0, opt_opacity = -1, opt_ramp_low = -1, opt_ramp_high = -1, opt_orbit = 0;

static const GOptionEntry entries[] = {
  { "volume", 0, 0, G_OPTION_ARG_FILENAME, &opt_volume, "Image volume (TIFF, folder)", "PATH" },
  { "voxel", 0, 0, G_OPTION_ARG_STRING, &opt_voxel, "Override the voxel size (z,y,x)", "Z,Y,X" },
  { "synthetic", 0, 0, G_OPTION_ARG_INT, &opt_synthetic, "Size of the synthetic cube (default 250)", "N" },
  { "labels", 0, 0, G_OPTION_ARG_FILENAME, &opt_labels, "Label volume (uint32 ids)", "PATH" },
  { "top-ids", 0, 0, G_OPTION_ARG_INT, &opt_top_ids, "Show the K largest segments as surfaces", "K" },
  { "ids", 0, 0, G_OPTION_ARG_STRING, &opt_ids, "Show these segments (comma-separated)", "A,B" },
  { "mode", 0, 0, G_OPTION_ARG_STRING, &opt_mode, "mip or composite (default: the view's, composite)", "MODE" },
  { "invert", 0, 0, G_OPTION_ARG_NONE, &opt_invert, "Invert the contrast", NULL },
  { "opacity", 0, 0, G_OPTION_ARG_DOUBLE, &opt_opacity, "Compositing opacity", "A" },
  { "ramp-low", 0, 0, G_OPTION_ARG_DOUBLE, &opt_ramp_low, "Transfer ramp start", "T" },
  { "ramp-high", 0, 0, G_OPTION_ARG_DOUBLE, &opt_ramp_high, "Transfer ramp end", "T" },
  { "orbit", 0, 0, G_OPTION_ARG_DOUBLE, &opt_orbit, "Orbit by this many pixels before the screenshot", "PX" },
  { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, &opt_screenshot, "Save the first full frame", "OUT.png" },
  { "scale", 0, 0, G_OPTION_ARG_DOUBLE, &opt_scale, "Fix the resolution scale (default: adaptive)", "S" },
  { "frames", 0, 0, G_OPTION_ARG_INT, &opt_frames, "Frames per measurement (default 40)", "N" },
  { "no-fps", 0, 0, G_OPTION_ARG_NONE, &opt_no_fps, "Only the screenshot", NULL },
  { "width", 0, 0, G_OPTION_ARG_INT, &opt_width, "Window width (default 800)", "W" },
  { "height", 0, 0, G_OPTION_ARG_INT, &opt_height, "Window height (default 600)", "H" },
  { NULL },
};

typedef enum { WAIT_FIRST, MEASURE_FAST, MEASURE_FULL, DONE } Phase;

typedef struct {
  GtkWidget *window, *view;
  GMainLoop *loop;
  Phase phase;
  int renders;            /* render signals seen in this phase */
  int ticks;
  gint64 t0;
  double cpu0;            /* process CPU seconds at the phase start */
  int status;
} Bench;

/* Blobs of several brightnesses, a hollow shell and a little noise. */
static void
synthesise (SmVolume *v, SmVolume *labels, int n)
{
  SmError err;
  if (sm_volume_alloc (v, SM_U8, n, n, n, &err) != 0 || sm_volume_alloc (labels, SM_U32, n, n, n, &err) != 0) {
    fprintf (stderr, "studio_3d_fps: %s\n", err.message);
    exit (1);
  }
  for (int a = 0; a < 3; a++) v->voxel_size[a] = labels->voxel_size[a] = 1;
  const double blobs[5][5] = { /* x, y, z (fractions), radius, brightness */
    { 0.3, 0.3, 0.3, 0.18, 220 }, { 0.7, 0.35, 0.6, 0.14, 160 }, { 0.5, 0.7, 0.4, 0.2, 120 },
    { 0.25, 0.75, 0.75, 0.1, 250 }, { 0.75, 0.75, 0.2, 0.12, 190 },
  };
  guint8 *img = v->data;
  guint32 *lab = labels->data;
  guint32 state = 12345;
  for (int z = 0; z < n; z++)
    for (int y = 0; y < n; y++)
      for (int x = 0; x < n; x++) {
        const double p[3] = { (x + 0.5) / n, (y + 0.5) / n, (z + 0.5) / n };
        double value = 20;
        guint32 id = 0;
        for (int b = 0; b < 5; b++) {
          double d2 = 0;
          for (int a = 0; a < 3; a++) d2 += (p[a] - blobs[b][a]) * (p[a] - blobs[b][a]);
          const double r = blobs[b][3];
          if (d2 < r * r) {
            value = MAX (value, blobs[b][4] * (1 - 0.5 * d2 / (r * r)));
            id = (guint32) b + 1;
          }
        }
        const double rc = sqrt ((p[0] - 0.5) * (p[0] - 0.5) + (p[1] - 0.5) * (p[1] - 0.5) + (p[2] - 0.5) * (p[2] - 0.5));
        if (fabs (rc - 0.45) < 0.01) value = MAX (value, 90);
        state = state * 1664525u + 1013904223u;
        value += (double) (state >> 28) - 8;
        const gsize i = ((gsize) z * n + y) * n + x;
        img[i] = (guint8) CLAMP (value, 0, 255);
        lab[i] = id;
      }
}

static gint
compare_counts (gconstpointer a, gconstpointer b, gpointer counts)
{
  const guint64 ca = GPOINTER_TO_SIZE (g_hash_table_lookup (counts, a)),
                cb = GPOINTER_TO_SIZE (g_hash_table_lookup (counts, b));
  return ca < cb ? 1 : ca > cb ? -1 : 0;
}

/* The k most frequent non-zero ids. */
static GArray *
top_ids (const SmVolume *labels, int k)
{
  GHashTable *counts = g_hash_table_new (g_direct_hash, g_direct_equal);
  const gsize n = (gsize) labels->nz * labels->ny * labels->nx;
  for (gsize i = 0; i < n; i++) {
    guint32 id = labels->dtype == SM_U32 || labels->dtype == SM_I32 ? ((guint32 *) labels->data)[i]
               : labels->dtype == SM_U16 ? ((guint16 *) labels->data)[i] : ((guint8 *) labels->data)[i];
    if (!id) continue;
    gpointer key = GUINT_TO_POINTER (id);
    g_hash_table_insert (counts, key, GSIZE_TO_POINTER (GPOINTER_TO_SIZE (g_hash_table_lookup (counts, key)) + 1));
  }
  GList *keys = g_list_sort_with_data (g_hash_table_get_keys (counts), compare_counts, counts);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  for (GList *l = keys; l && (int) ids->len < k; l = l->next) {
    guint32 id = GPOINTER_TO_UINT (l->data);
    g_array_append_val (ids, id);
  }
  g_list_free (keys);
  g_hash_table_unref (counts);
  return ids;
}

static void
save_screenshot (Bench *b)
{
  const int w = gtk_widget_get_width (b->view), h = gtk_widget_get_height (b->view);
  GdkPaintable *paintable = gtk_widget_paintable_new (b->view);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, w, h);
  GskRenderNode *node = gtk_snapshot_free_to_node (snapshot);
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (b->view));
  GdkTexture *texture = gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
  /* Pixel statistics, to see at a glance that something was drawn. */
  guchar *pixels = g_malloc ((gsize) w * h * 4);
  gdk_texture_download (texture, pixels, (gsize) w * 4);
  double sum = 0;
  gsize lit = 0;
  for (gsize i = 0; i < (gsize) w * h; i++) {
    const guchar *p = pixels + 4 * i; /* B G R A in memory (cairo ARGB32) */
    const int m = MAX (p[0], MAX (p[1], p[2]));
    sum += (p[0] + p[1] + p[2]) / 3.0;
    lit += m > 40;
  }
  printf ("screenshot %s: %d x %d, mean %.1f, %.1f %% of pixels lit\n", opt_screenshot, w, h,
          sum / ((double) w * h), 100.0 * lit / ((double) w * h));
  if (!gdk_texture_save_to_png (texture, opt_screenshot)) {
    fprintf (stderr, "studio_3d_fps: %s: cannot write\n", opt_screenshot);
    b->status = 1;
  }
  g_free (pixels);
  g_object_unref (texture);
  gsk_render_node_unref (node);
  g_object_unref (paintable);
}

/* Runs before the view's own render; FALSE lets it run. */
static gboolean
rendered (GtkGLArea *area, GdkGLContext *context, Bench *b)
{
  b->renders++;
  return FALSE;
}

/* CPU time of the whole process (llvmpipe's threads included): on a shared,
 * loaded machine, frames per CPU-second says more than wall-clock fps. */
static double
cpu_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
start_phase (Bench *b, Phase phase)
{
  b->phase = phase;
  b->renders = 0;
  b->t0 = g_get_monotonic_time ();
  b->cpu0 = cpu_seconds ();
  if (phase == MEASURE_FAST) sm_volume_view_set_interacting (SM_VOLUME_VIEW (b->view), TRUE);
  if (phase == MEASURE_FULL) sm_volume_view_set_interacting (SM_VOLUME_VIEW (b->view), FALSE);
}

static gboolean
tick (GtkWidget *widget, GdkFrameClock *clock, gpointer data)
{
  Bench *b = data;
  SmVolumeView *view = SM_VOLUME_VIEW (b->view);
  b->ticks++;
  if (sm_volume_view_get_gl_error (view) && b->ticks > 4) {
    fprintf (stderr, "studio_3d_fps: %s\n", sm_volume_view_get_gl_error (view));
    if (opt_screenshot) save_screenshot (b);
    b->status = 1;
    g_main_loop_quit (b->loop);
    return G_SOURCE_REMOVE;
  }
  switch (b->phase) {
  case WAIT_FIRST:
    /* A couple of frames after the first render, everything has been uploaded. */
    if (sm_volume_view_is_busy (view)) b->renders = 0;
    if (b->renders >= 2 && b->ticks > 4) {
      if (opt_screenshot) save_screenshot (b);
      if (opt_no_fps) {
        b->phase = DONE;
        g_main_loop_quit (b->loop);
        return G_SOURCE_REMOVE;
      }
      start_phase (b, MEASURE_FAST);
    }
    gtk_gl_area_queue_render (GTK_GL_AREA (view));
    return G_SOURCE_CONTINUE;
  case MEASURE_FAST:
  case MEASURE_FULL:
    if (b->renders >= opt_frames) {
      const double seconds = (g_get_monotonic_time () - b->t0) / 1e6;
      double fast_scale, still_scale;
      sm_volume_view_get_resolution_scales (view, &fast_scale, &still_scale);
      if (b->phase == MEASURE_FAST)
        printf ("orbiting, interactive quality (resolution x%.2f at the end, 2-texel steps): ", fast_scale);
      else
        printf ("orbiting, still quality (resolution x%.2f at the end, 1-texel steps): ", still_scale);
      const double cpu = cpu_seconds () - b->cpu0;
      printf ("%d frames in %.2f s = %.1f fps; %.2f CPU-s per frame (%.1f fps if %u idle cores scaled perfectly)\n",
              b->renders, seconds, b->renders / seconds, cpu / b->renders, b->renders / (cpu / g_get_num_processors ()),
              g_get_num_processors ());
      if (b->phase == MEASURE_FAST) {
        start_phase (b, MEASURE_FULL);
      } else {
        b->phase = DONE;
        g_main_loop_quit (b->loop);
        return G_SOURCE_REMOVE;
      }
    }
    sm_volume_view_orbit (view, 4, 0.5);
    return G_SOURCE_CONTINUE;
  case DONE:
    break;
  }
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  GOptionContext *context = g_option_context_new ("- fps of the studio's 3D view");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    fprintf (stderr, "studio_3d_fps: %s\n", error->message);
    return 2;
  }
  g_option_context_free (context);
  gtk_init ();
  semmae_register_resource (); /* the shaders; the application does this itself */

  SmVolume volume = { 0 }, labels = { 0 };
  SmError err;
  if (opt_volume) {
    if (sm_volume_read (opt_volume, &volume, &err) != 0) {
      fprintf (stderr, "studio_3d_fps: %s\n", err.message);
      return 1;
    }
    if (opt_labels && sm_volume_read (opt_labels, &labels, &err) != 0) {
      fprintf (stderr, "studio_3d_fps: %s\n", err.message);
      return 1;
    }
  } else {
    synthesise (&volume, &labels, opt_synthetic);
  }
  if (opt_voxel && sscanf (opt_voxel, "%lf,%lf,%lf", &volume.voxel_size[0], &volume.voxel_size[1],
                           &volume.voxel_size[2]) != 3) {
    fprintf (stderr, "studio_3d_fps: --voxel wants Z,Y,X\n");
    return 2;
  }
  printf ("volume %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT " %s, voxel %g x %g x %g\n",
          volume.nz, volume.ny, volume.nx, sm_dtype_name (volume.dtype), volume.voxel_size[0],
          volume.voxel_size[1], volume.voxel_size[2]);

  Bench b = { 0 };
  b.loop = g_main_loop_new (NULL, FALSE);
  b.window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (b.window), opt_width, opt_height);
  b.view = sm_volume_view_new ();
  gtk_window_set_child (GTK_WINDOW (b.window), b.view);
  SmVolumeView *view = SM_VOLUME_VIEW (b.view);
  sm_volume_view_set_volume (view, &volume);
  double lo, hi;
  sm_volume_scaling (&volume, &lo, &hi);
  sm_volume_view_set_contrast (view, lo, hi, 1.0, opt_invert);
  if (opt_mode)
    sm_volume_view_set_render_mode (view, strcmp (opt_mode, "mip") == 0 ? SM_RENDER_MIP : SM_RENDER_COMPOSITE);
  if (opt_opacity >= 0 || opt_ramp_low >= 0 || opt_ramp_high >= 0)
    sm_volume_view_set_transfer (view, opt_opacity >= 0 ? opt_opacity : 0.3, opt_ramp_low >= 0 ? opt_ramp_low : 0.6,
                                 opt_ramp_high >= 0 ? opt_ramp_high : 0.9);
  sm_volume_view_set_cursor (view, volume.nz / 2.0, volume.ny / 2.0, volume.nx / 2.0);
  if (labels.data) {
    sm_volume_view_set_labels (view, &labels);
    GArray *ids = NULL;
    if (opt_ids) {
      ids = g_array_new (FALSE, FALSE, sizeof (guint32));
      char **parts = g_strsplit (opt_ids, ",", -1);
      for (char **p = parts; *p; p++) {
        guint32 id = (guint32) g_ascii_strtoull (*p, NULL, 10);
        g_array_append_val (ids, id);
      }
      g_strfreev (parts);
    } else if (opt_top_ids > 0) {
      ids = top_ids (&labels, opt_top_ids);
    }
    if (ids) {
      printf ("surfaces of %u segments:", ids->len);
      for (guint i = 0; i < ids->len; i++) printf (" %u", g_array_index (ids, guint32, i));
      printf ("\n");
      sm_volume_view_set_selected_segments (view, (guint32 *) ids->data, ids->len);
      g_array_unref (ids);
    }
  }
  if (opt_orbit != 0) sm_volume_view_orbit (view, opt_orbit, 0);
  if (opt_scale > 0) sm_volume_view_pin_resolution (view, opt_scale);

  g_signal_connect (b.view, "render", G_CALLBACK (rendered), &b);
  gtk_widget_add_tick_callback (b.view, tick, &b, NULL);
  g_signal_connect_swapped (b.window, "close-request", G_CALLBACK (g_main_loop_quit), b.loop);
  gtk_window_present (GTK_WINDOW (b.window));
  g_main_loop_run (b.loop);

  gtk_window_destroy (GTK_WINDOW (b.window));
  sm_volume_free (&volume);
  sm_volume_free (&labels);
  g_main_loop_unref (b.loop);
  return b.status;
}
