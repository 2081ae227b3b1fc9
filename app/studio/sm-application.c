/* SmApplication: command line, actions, accelerators (see sm-application.h). */
#include "sm-application.h"

#include <string.h>

#include "semmae-resources.h"
#include "sm-gl.h"
#include "sm-window.h"

struct _SmApplication {
  GtkApplication parent_instance;
  int exit_status;
  gint64 start_us;
};

G_DEFINE_FINAL_TYPE (SmApplication, sm_application, GTK_TYPE_APPLICATION)

static const GOptionEntry option_entries[] = {
  { "labels", 'l', 0, G_OPTION_ARG_FILENAME, NULL, "Label volume (uint ids) shown over the image", "FILE" },
  { "map", 0, 0, G_OPTION_ARG_FILENAME, NULL, "Float map (probabilities, error) shown over the image", "FILE" },
  { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, NULL, "Save a PNG of the window once it has drawn, then exit", "OUT.png" },
  { "size", 0, 0, G_OPTION_ARG_STRING, NULL, "Window size", "WxH" },
  { "phantom", 0, 0, G_OPTION_ARG_STRING, NULL, "Open the built-in phantom of this shape (default 64x256x256)", "ZxYxX" },
  { "voxel-size", 0, 0, G_OPTION_ARG_STRING, NULL, "Voxel size when the file does not say, e.g. 50,4,4", "Z,Y,X" },
  { "layout", 0, 0, G_OPTION_ARG_STRING, NULL, "View layout: grid, xy-3d or xy", "LAYOUT" },
  { "check-shaders", 0, 0, G_OPTION_ARG_NONE, NULL, "Compile every shader, report, exit", NULL },
  { "bench-scroll", 0, 0, G_OPTION_ARG_INT, NULL, "Scroll N slices in the XY view, print frames per second, exit", "N" },
  { "timing", 0, 0, G_OPTION_ARG_NONE, NULL, "Print the time from start to the first complete frame", NULL },
  { "train-steps", 0, 0, G_OPTION_ARG_INT, NULL, "Start MAE pre-training of N steps on the image at once (with --screenshot: shot after the final preview)", "N" },
  { "preview-every", 0, 0, G_OPTION_ARG_INT, NULL, "With --train-steps: refresh the preview every N steps (10)", "N" },
  { "finetune-steps", 0, 0, G_OPTION_ARG_INT, NULL, "Start fine-tuning of N steps at once (Fine-tune mode; with --screenshot: shot after the run)", "N" },
  { "finetune-task", 0, 0, G_OPTION_ARG_STRING, NULL, "With --finetune-steps: neurons, mito or membrane (neurons)", "TASK" },
  { "finetune-labels", 0, 0, G_OPTION_ARG_FILENAME, NULL, "With --finetune-steps: labels file (default: the first label layer)", "FILE" },
  { "finetune-init", 0, 0, G_OPTION_ARG_FILENAME, NULL, "With --finetune-steps: pre-trained MAE checkpoint, or scratch (default)", "FILE" },
  { "finetune-val", 0, 0, G_OPTION_ARG_STRING, NULL, "With --finetune-steps: held-out validation slices A..B-1", "A:B" },
  { "finetune-val-every", 0, 0, G_OPTION_ARG_INT, NULL, "With --finetune-val: validate every N steps (100)", "N" },
  { "overlay-every", 0, 0, G_OPTION_ARG_INT, NULL, "With --finetune-steps: repaint the prediction overlay every N steps (20)", "N" },
  { "segment-volume", 0, 0, G_OPTION_ARG_NONE, NULL, "With --finetune-steps: segment the volume when the run ends (label layer)", NULL },
  { "version", 0, 0, G_OPTION_ARG_NONE, NULL, "Print the version and exit", NULL },
  { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, NULL, NULL, "[VOLUME]" },
  { NULL },
};

static gboolean
parse_shape (const char *text, gint64 shape[3])
{
  g_auto (GStrv) parts = g_strsplit_set (text, "x,", -1);
  if (g_strv_length (parts) != 3)
    return FALSE;
  for (int i = 0; i < 3; i++)
    {
      char *end;
      shape[i] = g_ascii_strtoll (parts[i], &end, 10);
      if (*end || shape[i] < 1 || shape[i] > 100000)
        return FALSE;
    }
  return TRUE;
}

static int
check_shaders (void)
{
  g_autoptr (GError) error = NULL;
  GdkDisplay *display = gdk_display_get_default ();
  g_autoptr (GdkGLContext) context = display ? gdk_display_create_gl_context (display, &error) : NULL;
  if (!context || !gdk_gl_context_realize (context, &error))
    {
      g_printerr ("semmae-studio: no OpenGL context: %s\n", error ? error->message : "no display");
      return 1;
    }
  gdk_gl_context_make_current (context);
  int major, minor, checked = 0;
  gdk_gl_context_get_version (context, &major, &minor);
  gboolean es = gdk_gl_context_get_use_es (context);
  g_print ("OpenGL%s %d.%d: %s\n", es ? " ES" : "", major, minor, (const char *) glGetString (GL_RENDERER));
  int failed = sm_gl_check_all_shaders (es, &checked);
  gdk_gl_context_clear_current ();
  g_print ("%d shaders compiled, %d failed\n", checked - failed, failed);
  return failed == 0 && checked > 0 ? 0 : 1;
}

static int
sm_application_command_line (GApplication *app, GApplicationCommandLine *cmdline)
{
  SmApplication *self = SM_APPLICATION (app);
  GVariantDict *options = g_application_command_line_get_options_dict (cmdline);
  if (g_variant_dict_contains (options, "check-shaders"))
    {
      int status = check_shaders ();
      sm_application_quit_with_status (self, status);
      return status;
    }

  g_autofree char *labels = NULL, *map = NULL, *screenshot = NULL, *size = NULL, *phantom = NULL,
                  *layout = NULL, *voxel_size = NULL;
  g_auto (GStrv) files = NULL;
  int bench_scroll = 0;
  g_variant_dict_lookup (options, "labels", "^ay", &labels);
  g_variant_dict_lookup (options, "map", "^ay", &map);
  g_variant_dict_lookup (options, "screenshot", "^ay", &screenshot);
  g_variant_dict_lookup (options, "size", "s", &size);
  g_variant_dict_lookup (options, "phantom", "s", &phantom);
  g_variant_dict_lookup (options, "layout", "s", &layout);
  g_variant_dict_lookup (options, "voxel-size", "s", &voxel_size);
  g_variant_dict_lookup (options, "bench-scroll", "i", &bench_scroll);
  int train_steps = 0, preview_every = 10;
  g_variant_dict_lookup (options, "train-steps", "i", &train_steps);
  g_variant_dict_lookup (options, "preview-every", "i", &preview_every);
  SmFinetuneAutostart finetune = { .overlay_every = 20, .val_every = 100 };
  g_autofree char *finetune_task = NULL, *finetune_labels = NULL, *finetune_init = NULL, *finetune_val = NULL;
  int finetune_steps = 0;
  g_variant_dict_lookup (options, "finetune-steps", "i", &finetune_steps);
  finetune.steps = finetune_steps;
  g_variant_dict_lookup (options, "finetune-task", "s", &finetune_task);
  g_variant_dict_lookup (options, "finetune-labels", "^ay", &finetune_labels);
  g_variant_dict_lookup (options, "finetune-init", "^ay", &finetune_init);
  g_variant_dict_lookup (options, "finetune-val", "s", &finetune_val);
  g_variant_dict_lookup (options, "overlay-every", "i", &finetune.overlay_every);
  g_variant_dict_lookup (options, "finetune-val-every", "i", &finetune.val_every);
  finetune.segment = g_variant_dict_contains (options, "segment-volume");
  g_variant_dict_lookup (options, G_OPTION_REMAINING, "^aay", &files);

  int width = 0, height = 0;
  if (size && (sscanf (size, "%dx%d", &width, &height) != 2 || width < 200 || height < 150))
    {
      g_application_command_line_printerr (cmdline, "semmae-studio: --size %s: expected WxH, e.g. 1280x800\n", size);
      return 2;
    }
  gint64 shape[3] = { 64, 256, 256 };
  if (phantom && !parse_shape (phantom, shape))
    {
      g_application_command_line_printerr (cmdline, "semmae-studio: --phantom %s: expected ZxYxX, e.g. 64x256x256\n", phantom);
      return 2;
    }
  double voxel[3] = { 0, 0, 0 };
  if (voxel_size)
    {
      char *end = voxel_size;
      for (int i = 0; i < 3; i++)
        {
          voxel[i] = g_ascii_strtod (end, &end);
          if (i < 2 && (*end == ',' || *end == 'x'))
            end++;
        }
      if (*end || !(voxel[0] > 0 && voxel[1] > 0 && voxel[2] > 0))
        {
          g_application_command_line_printerr (cmdline, "semmae-studio: --voxel-size %s: expected three positive numbers Z,Y,X, e.g. 50,4,4\n", voxel_size);
          return 2;
        }
    }
  if (layout && !g_strv_contains ((const char *const[]){ "grid", "xy-3d", "xy", NULL }, layout))
    {
      g_application_command_line_printerr (cmdline, "semmae-studio: --layout %s: expected grid, xy-3d or xy\n", layout);
      return 2;
    }
  if (files && g_strv_length (files) > 1)
    {
      g_application_command_line_printerr (cmdline, "semmae-studio: one volume at a time (got %u)\n",
                                           g_strv_length (files));
      return 2;
    }

  SmWindow *window = sm_window_new (self);
  if (width > 0)
    gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  if (layout)
    sm_window_set_layout (window, layout);
  if (voxel_size)
    sm_window_set_voxel_size_override (window, voxel);
  if (screenshot)
    {
      g_autoptr (GFile) out = g_application_command_line_create_file_for_arg (cmdline, screenshot);
      g_autofree char *out_path = g_file_get_path (out);
      sm_window_set_screenshot (window, out_path);
    }
  if (bench_scroll > 0)
    sm_window_set_bench_scroll (window, bench_scroll);
  if (g_variant_dict_contains (options, "timing"))
    sm_window_set_timing (window, TRUE);
  if (train_steps > 0)
    sm_window_autostart_pretrain (window, train_steps, MAX (preview_every, 0));
  if (finetune.steps > 0)
    {
      long long z0 = 0, z1 = 0;
      if (finetune_val && (sscanf (finetune_val, "%lld:%lld", &z0, &z1) != 2 || z0 < 0 || z1 <= z0))
        {
          g_application_command_line_printerr (cmdline, "semmae-studio: --finetune-val %s: expected A:B with 0 <= A < B\n",
                                               finetune_val);
          return 2;
        }
      /* Relative paths are the caller's (a remote instance's working directory may differ). */
      g_autofree char *labels_path = NULL, *init_path = NULL;
      if (finetune_labels)
        {
          g_autoptr (GFile) f = g_application_command_line_create_file_for_arg (cmdline, finetune_labels);
          labels_path = g_file_get_path (f);
        }
      if (finetune_init && strcmp (finetune_init, "scratch") != 0 && strcmp (finetune_init, "pretrained") != 0)
        {
          g_autoptr (GFile) f = g_application_command_line_create_file_for_arg (cmdline, finetune_init);
          init_path = g_file_get_path (f);
        }
      finetune.labels_path = labels_path;
      finetune.init = init_path ? init_path : finetune_init;
      finetune.after_pretrain = train_steps > 0;
      finetune.val_z0 = z0;
      finetune.val_z1 = z1;
      finetune.task = finetune_task;
      sm_window_autostart_finetune (window, &finetune);
    }
  /* Reading starts before the window is shown: both take a while. */
  if (files && files[0])
    {
      g_autoptr (GFile) file = g_application_command_line_create_file_for_arg (cmdline, files[0]);
      g_autofree char *path = g_file_get_path (file);
      sm_window_open_path (window, path ? path : files[0]);
    }
  else
    sm_window_open_phantom (window, shape[0], shape[1], shape[2]);
  if (labels)
    {
      g_autoptr (GFile) file = g_application_command_line_create_file_for_arg (cmdline, labels);
      g_autofree char *path = g_file_get_path (file);
      sm_window_queue_overlay (window, path, SM_LAYER_LABELS);
    }
  if (map)
    {
      g_autoptr (GFile) file = g_application_command_line_create_file_for_arg (cmdline, map);
      g_autofree char *path = g_file_get_path (file);
      sm_window_queue_overlay (window, path, SM_LAYER_MAP);
    }
  gtk_window_present (GTK_WINDOW (window));
  return 0;
}

static int
sm_application_handle_local_options (GApplication *app, GVariantDict *options)
{
  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("semmae-studio %s\n", SEMMAE_VERSION);
      return 0;
    }
  return -1; /* go on: command_line */
}

/* Destroying a window stops and joins its engine and fine-tune threads. */
static void
destroy_windows (GtkApplication *app)
{
  GList *windows = gtk_application_get_windows (app);
  for (GList *l = windows; l;)
    {
      GList *next = l->next;
      gtk_window_destroy (GTK_WINDOW (l->data));
      l = next;
    }
}

static void
on_quit (GSimpleAction *action, GVariant *parameter, gpointer app)
{
  destroy_windows (GTK_APPLICATION (app));
}

/* g_application_quit (a screenshot taken, a time-out, an error) leaves the
 * windows alive: without this, main returned while a training step was
 * still inside OpenBLAS, and the library's unloading crashed that thread. */
static void
sm_application_shutdown (GApplication *app)
{
  destroy_windows (GTK_APPLICATION (app));
  G_APPLICATION_CLASS (sm_application_parent_class)->shutdown (app);
}

static void
on_about (GSimpleAction *action, GVariant *parameter, gpointer app)
{
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (app));
  const char *authors[] = { "The semmae authors", NULL };
  gtk_show_about_dialog (parent, "program-name", "semmae studio", "version", SEMMAE_VERSION,
                         "logo-icon-name", "org.semmae.Studio", "license-type", GTK_LICENSE_MIT_X11,
                         "comments", "Masked-autoencoder pre-training, segmentation and proofreading "
                                     "for serial electron-microscopy stacks",
                         "authors", authors, NULL);
}

/* GSK's GL renderer redraws the whole window for each frame on a software
 * rasteriser (no buffer-age damage tracking there): with Mesa llvmpipe it
 * caps slice scrolling at a few frames per second, while the cairo renderer
 * composites only what changed. So on software GL, unless the user chose a
 * renderer, use cairo. The GL areas render with GL either way. */
static void
prefer_cairo_on_software_gl (void)
{
  if (g_getenv ("GSK_RENDERER"))
    return;
  GdkDisplay *display = gdk_display_get_default ();
  g_autoptr (GdkGLContext) context = display ? gdk_display_create_gl_context (display, NULL) : NULL;
  if (!context || !gdk_gl_context_realize (context, NULL))
    return;
  gdk_gl_context_make_current (context);
  const char *renderer = (const char *) glGetString (GL_RENDERER);
  gboolean software = renderer && (strstr (renderer, "llvmpipe") || strstr (renderer, "softpipe") ||
                                   strstr (renderer, "swrast"));
  gdk_gl_context_clear_current ();
  if (software)
    g_setenv ("GSK_RENDERER", "cairo", FALSE);
}

static void
sm_application_startup (GApplication *app)
{
  G_APPLICATION_CLASS (sm_application_parent_class)->startup (app);
  prefer_cairo_on_software_gl ();
  static const GActionEntry actions[] = {
    { "quit", on_quit, NULL, NULL, NULL, { 0 } },
    { "about", on_about, NULL, NULL, NULL, { 0 } },
  };
  g_action_map_add_action_entries (G_ACTION_MAP (app), actions, G_N_ELEMENTS (actions), app);
  struct { const char *action; const char *accels[3]; } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "win.open", { "<Control>o", NULL } },
    /* Plain keys (L, 1-4, Esc) are SmWindow's own bubble-phase shortcuts, so
     * that text fields still receive them. */
  };
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (app), accels[i].action, accels[i].accels);

  g_autoptr (GtkCssProvider) css = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (css, "/org/semmae/Studio/ui/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  gtk_icon_theme_add_resource_path (gtk_icon_theme_get_for_display (gdk_display_get_default ()),
                                    "/org/semmae/Studio/icons");
}

static void
sm_application_class_init (SmApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);
  app_class->command_line = sm_application_command_line;
  app_class->handle_local_options = sm_application_handle_local_options;
  app_class->startup = sm_application_startup;
  app_class->shutdown = sm_application_shutdown;
}

static void
sm_application_init (SmApplication *self)
{
  g_application_add_main_option_entries (G_APPLICATION (self), option_entries);
  g_application_set_option_context_summary (
      G_APPLICATION (self),
      "VOLUME: a multi-page TIFF, a folder of TIFF/PNG slices, or a glob.\n"
      "Without one, the studio opens the built-in synthetic phantom.");
}

SmApplication *
sm_application_new (void)
{
  /* Manual registration: a static library would drop an unreferenced constructor. */
  static gsize registered;
  if (g_once_init_enter (&registered))
    {
      /* Recent files are filed under these names (GtkRecentManager needs a
       * program name for the entry's command line). */
      if (!g_get_prgname ())
        g_set_prgname ("semmae-studio");
      if (!g_get_application_name () || g_strcmp0 (g_get_application_name (), g_get_prgname ()) == 0)
        g_set_application_name ("semmae studio");
      semmae_register_resource ();
      g_once_init_leave (&registered, 1);
    }
  return g_object_new (SM_TYPE_APPLICATION, "application-id", "org.semmae.Studio",
                       "flags", G_APPLICATION_HANDLES_COMMAND_LINE | G_APPLICATION_NON_UNIQUE,
                       "resource-base-path", "/org/semmae/Studio", NULL);
}

void
sm_application_quit_with_status (SmApplication *self, int status)
{
  self->exit_status = status;
  g_application_quit (G_APPLICATION (self));
}

int sm_application_get_exit_status (SmApplication *self) { return self->exit_status; }
void sm_application_set_start_time (SmApplication *self, gint64 start_us) { self->start_us = start_us; }
gint64 sm_application_get_start_time (SmApplication *self) { return self->start_us; }
