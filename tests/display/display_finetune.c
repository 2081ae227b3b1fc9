/* The studio's Fine-tune mode under Xvfb, on the built-in phantom (its
 * neurite labels are the training labels):
 *   1. the plain studio: the XY view shows grey tissue (no colour);
 *   2. --train-steps, then --finetune-steps from that model (init
 *      "pretrained") with held-out slices: the run reaches its last step,
 *      the validation metric curve has points, the prediction overlay was
 *      repainted (step 0, every N, the end) and colours the XY view;
 *   3. --segment-volume (task membrane): "Segment volume" adds a label layer
 *      with more than one segment, and the proofreading tools work on it (a
 *      script merges segments 1 and 2 and saves: segment 2 is gone from the
 *      file). */
#include <math.h>
#include <string.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "screenshot_png.h"
#include "tap.h"
#include "volume.h"
#include "xvfb.h"

/* The studio writes segmentations into the user's cache: a private one per test. */
static char *cache_home;

typedef struct {
  char *out, *err;
  int status;
  double xy_plane[4];
  gboolean have_plane;
} Run;

static gboolean
run_studio (const char *studio, const char *const *extra, const char *script, const char *png, Run *r)
{
  GPtrArray *args = g_ptr_array_new ();
  const char *head[] = { "xvfb-run", "-a", "-s", XVFB_SCREEN, studio, "--phantom", "16x128x128",
                         "--size", "1280x860", "--screenshot", png };
  for (guint i = 0; i < G_N_ELEMENTS (head); i++)
    g_ptr_array_add (args, (gpointer) head[i]);
  for (int i = 0; extra && extra[i]; i++)
    g_ptr_array_add (args, (gpointer) extra[i]);
  g_ptr_array_add (args, NULL);
  char **env = xvfb_environment ();
  env = g_environ_setenv (env, "SEMMAE_STUDIO_HEADLESS", "1", TRUE);
  env = g_environ_setenv (env, "OMP_NUM_THREADS", "1", TRUE);
  env = g_environ_setenv (env, "XDG_CACHE_HOME", cache_home, TRUE);
  if (script)
    env = g_environ_setenv (env, "SEMMAE_PROOFREAD_SCRIPT", script, TRUE);
  g_autoptr (GError) error = NULL;
  memset (r, 0, sizeof *r);
  r->status = -1;
  gboolean spawned = g_spawn_sync (NULL, (char **) args->pdata, env, G_SPAWN_SEARCH_PATH, NULL, NULL, &r->out,
                                   &r->err, &r->status, &error);
  g_strfreev (env);
  g_ptr_array_free (args, TRUE);
  if (r->err && *r->err)
    tap_diag ("stderr: %s", r->err);
  g_auto (GStrv) lines = g_strsplit (r->out ? r->out : "", "\n", -1);
  for (int i = 0; lines[i]; i++)
    {
      double b[4];
      if (sscanf (lines[i], "view XY slice %*f bounds %*f %*f %*f %*f plane %lf %lf %lf %lf", &b[0], &b[1], &b[2],
                  &b[3]) == 4)
        {
          memcpy (r->xy_plane, b, sizeof b);
          r->have_plane = TRUE;
        }
    }
  return spawned && WIFEXITED (r->status) && WEXITSTATUS (r->status) == 0;
}

static const char *
find_line (const Run *r, const char *prefix)
{
  const char *p = r->out ? strstr (r->out, prefix) : NULL;
  return p;
}

/* Share of the XY plane's pixels that are coloured (the phantom is grey). */
static double
coloured_share (const char *png, const Run *r)
{
  Shot shot = { 0 };
  if (!r->have_plane || !load_png (png, &shot))
    return -1;
  const double *b = r->xy_plane;
  long n = 0, coloured = 0;
  for (int y = (int) ceil (b[1]) + 1; y < (int) (b[1] + b[3]) - 1 && y < shot.height; y++)
    for (int x = (int) ceil (b[0]) + 1; x < (int) (b[0] + b[2]) - 1 && x < shot.width; x++)
      {
        const guint8 *p = shot.rgb + 3 * ((size_t) y * shot.width + x);
        int hi = MAX (p[0], MAX (p[1], p[2])), lo = MIN (p[0], MIN (p[1], p[2]));
        coloured += hi - lo > 40;
        n++;
      }
  g_free (shot.rgb);
  return n ? (double) coloured / n : -1;
}

static void
remove_tree (const char *path)
{
  GDir *d = g_file_test (path, G_FILE_TEST_IS_DIR) ? g_dir_open (path, 0, NULL) : NULL;
  for (const char *name; d && (name = g_dir_read_name (d));)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      remove_tree (child);
    }
  if (d)
    g_dir_close (d);
  g_remove (path);
}

static void
run_free (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}

int
main (int argc, char **argv)
{
  int begun = xvfb_studio_test_begin (argc, argv);
  if (begun >= 0)
    return begun;
  g_autofree char *dir = g_dir_make_tmp ("finetune-XXXXXX", NULL);
  g_autofree char *png = g_build_filename (dir, "shot.png", NULL);
  cache_home = g_build_filename (dir, "cache", NULL);

  /* 1. No fine-tuning: the control. */
  Run plain;
  gboolean ran = run_studio (argv[1], NULL, NULL, png, &plain);
  TAP_OK (ran, "plain studio: screenshot (status %d)", plain.status);
  double plain_share = coloured_share (png, &plain);
  TAP_OK (plain_share >= 0 && plain_share < 0.05, "plain XY view is grey (%.1f%% coloured)", 100 * plain_share);
  run_free (&plain);

  /* 2. Pre-training, then fine-tuning from that model, with validation on the last 6 slices. */
  const char *train[] = { "--train-steps", "6", "--preview-every", "3", "--finetune-init", "pretrained",
                          "--finetune-steps", "8", "--finetune-task", "neurons", "--finetune-val", "10:16",
                          "--overlay-every", "4", NULL };
  Run ft;
  ran = run_studio (argv[1], train, NULL, png, &ft);
  TAP_OK (ran, "fine-tuning run: screenshot (status %d)", ft.status);
  gint64 step = 0;
  double loss = NAN, metric = NAN;
  guint loss_points = 0, metric_points = 0, overlays = 0;
  gint64 overlay_step = -1;
  char metric_name[32] = "";
  const char *line;
  if ((line = find_line (&ft, "finetune step ")))
    sscanf (line, "finetune step %" G_GINT64_FORMAT " loss %lf steps/s %*f step-ms %*f loss-points %u", &step, &loss,
            &loss_points);
  int init_tensors = -1;
  if ((line = find_line (&ft, "finetune init-tensors ")))
    sscanf (line, "finetune init-tensors %d", &init_tensors);
  TAP_OK (init_tensors > 0, "the encoder started from the model pre-trained in the studio (%d tensors)",
          init_tensors);
  if ((line = find_line (&ft, "finetune metric-points ")))
    sscanf (line, "finetune metric-points %u %31s %lf", &metric_points, metric_name, &metric);
  if ((line = find_line (&ft, "finetune overlays ")))
    sscanf (line, "finetune overlays %u last-step %" G_GINT64_FORMAT, &overlays, &overlay_step);
  TAP_OK (step == 8 && loss_points == 8 && isfinite (loss), "the run reached step 8, 8 loss points (loss %.4f)",
          loss);
  TAP_OK (metric_points >= 2 && strcmp (metric_name, "arand") == 0 && metric >= 0 && metric <= 1,
          "validation metric curve has %u points (step 0 and the end): %s %.4f", metric_points, metric_name, metric);
  TAP_OK (overlays >= 3 && overlay_step == 8, "prediction overlay repainted %u times (at 0, 4, 8), last at step %"
          G_GINT64_FORMAT, overlays, overlay_step);
  double ft_share = coloured_share (png, &ft);
  TAP_OK (ft_share > 0.3, "the prediction overlay colours the XY view (%.1f%% coloured vs %.1f%% without)",
          100 * ft_share, 100 * plain_share);
  run_free (&ft);

  /* 3. Segment volume, then proofread the result. */
  g_autofree char *script = g_build_filename (dir, "merge.txt", NULL);
  g_autofree char *saved = g_build_filename (dir, "merged.tif", NULL);
  g_autofree char *script_text = g_strdup_printf ("select 1\nadd 2\nmerge\nsave %s\n", saved);
  g_file_set_contents (script, script_text, -1, NULL);
  /* membrane (label 0 of the phantom): its instances (cells between membranes) come from a
   * few steps already, where neurons' affinities need a long run to pass the seed threshold. */
  const char *segment[] = { "--finetune-steps", "4", "--finetune-task", "membrane", "--overlay-every", "0",
                            "--segment-volume", NULL };
  Run seg;
  ran = run_studio (argv[1], segment, script, png, &seg);
  TAP_OK (ran, "segment-volume run: screenshot (status %d)", seg.status);
  gint64 segments = 0;
  if ((line = find_line (&seg, "finetune segments ")))
    sscanf (line, "finetune segments %" G_GINT64_FORMAT, &segments);
  TAP_OK (segments > 1, "Segment volume made a label layer of %" G_GINT64_FORMAT " segments", segments);
  TAP_OK (seg.out && strstr (seg.out, "proofread: merge"), "the proofreading script ran on that layer");
  g_autofree char *layer_file = g_build_filename (cache_home, "semmae", "segmentations",
                                                  "phantom-membrane-step4.tif", NULL);
  TAP_OK (g_file_test (layer_file, G_FILE_TEST_IS_REGULAR),
          "the label layer has a file (Ctrl+S saves edits there): $XDG_CACHE_HOME/semmae/segmentations/");
  SmVolume merged;
  SmError err;
  gboolean read = sm_volume_read (saved, &merged, &err) == 0;
  TAP_OK (read, "the proofread labels were saved (%s)", read ? "ok" : err.message);
  if (read)
    {
      gsize n = sm_volume_voxels (&merged), ones = 0, twos = 0;
      for (gsize i = 0; i < n; i++)
        {
          double v = merged.dtype == SM_U32 ? ((guint32 *) merged.data)[i]
                     : merged.dtype == SM_U16 ? ((guint16 *) merged.data)[i]
                                               : ((guint8 *) merged.data)[i];
          ones += v == 1;
          twos += v == 2;
        }
      TAP_OK (ones > 0 && twos == 0, "segments 1 and 2 merged: %zu voxels of 1, %zu of 2", ones, twos);
      sm_volume_free (&merged);
    }
  run_free (&seg);
  /* Saved labels come with segment tables and journals: the whole directory goes. */
  remove_tree (dir);
  g_free (cache_home);
  return tap_done ();
}
