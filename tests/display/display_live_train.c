/* Live pre-training in the studio under Xvfb: --train-steps starts a run on
 * the phantom, the screenshot waits for the run's final preview, and the
 * three preview panes are not blank: the original shows tissue, the masked
 * input shows both tissue and the grey of masked tokens, the reconstruction
 * fills every token (no mask grey left). The loss went down. Quitting in the
 * middle of a long run joins the engine thread: a clean exit, no crash in
 * OpenBLAS as the process unloads it. */
#include <math.h>
#include <png.h>
#include <string.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "phantom.h"
#include "tap.h"
#include "xvfb.h"
#include "screenshot_png.h"



typedef struct {
  double sd;        /* of grey levels */
  double mask_share;/* pixels in the masked-token colours (blue-grey, B > R + 20) */
} Pane;

static Pane
pane_stats (const Shot *s, const double r[4])
{
  double sum = 0, sum2 = 0;
  long n = 0, mask = 0;
  for (int y = (int) ceil (r[1]) + 1; y < (int) (r[1] + r[3]) - 1 && y < s->height; y++)
    for (int x = (int) ceil (r[0]) + 1; x < (int) (r[0] + r[2]) - 1 && x < s->width; x++)
      {
        const guint8 *p = s->rgb + 3 * ((size_t) y * s->width + x);
        double g = (p[0] + p[1] + p[2]) / 3.0;
        sum += g;
        sum2 += g * g;
        mask += p[2] > p[0] + 20;
        n++;
      }
  Pane out = { 0, 0 };
  if (n > 0)
    {
      double mean = sum / n;
      out.sd = sqrt (fmax (sum2 / n - mean * mean, 0));
      out.mask_share = (double) mask / n;
    }
  return out;
}

int
main (int argc, char **argv)
{
  int begun = xvfb_studio_test_begin (argc, argv);
  if (begun >= 0)
    return begun;
  g_autofree char *dir = g_dir_make_tmp ("live-train-XXXXXX", NULL);
  g_autofree char *png = g_build_filename (dir, "shot.png", NULL);
  const char *args[] = { "xvfb-run", "-a", "-s", XVFB_SCREEN, argv[1], "--phantom", "16x128x128",
                         "--train-steps", "20", "--preview-every", "5", "--size", "1280x860",
                         "--screenshot", png, NULL };
  char **env = xvfb_environment ();
  env = g_environ_setenv (env, "SEMMAE_STUDIO_HEADLESS", "1", TRUE);
  env = g_environ_setenv (env, "OMP_NUM_THREADS", "1", TRUE);
  g_autofree char *out = NULL, *err = NULL;
  int status = -1;
  g_autoptr (GError) error = NULL;
  gboolean spawned = g_spawn_sync (NULL, (char **) args, env, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                                   &status, &error);
  g_strfreev (env);
  TAP_OK (spawned && WIFEXITED (status) && WEXITSTATUS (status) == 0, "studio trains and saves a screenshot (status %d)",
          spawned ? status : -1);
  if (err && *err)
    tap_diag ("stderr: %s", err);

  double panes[3][4] = { { 0 } };
  int found = 0;
  gint64 step = 0;
  double loss = NAN, first = NAN;
  g_auto (GStrv) lines = g_strsplit (out ? out : "", "\n", -1);
  static const char *names[] = { "original", "masked", "reconstruction" };
  for (int i = 0; lines[i]; i++)
    {
      char name[32];
      double r[4];
      if (sscanf (lines[i], "preview %31s bounds %lf %lf %lf %lf", name, &r[0], &r[1], &r[2], &r[3]) == 5)
        for (int k = 0; k < 3; k++)
          if (g_str_equal (name, names[k]))
            {
              memcpy (panes[k], r, sizeof r);
              found |= 1 << k;
            }
      sscanf (lines[i], "training step %" G_GINT64_FORMAT " loss %lf first-smoothed %lf", &step, &loss, &first);
    }
  TAP_OK (found == 7, "the three preview panes are on screen");
  TAP_OK (step == 20, "the run reached step 20 (step %" G_GINT64_FORMAT ")", step);
  TAP_OK (loss < first, "the loss went down: %.4f -> %.4f", first, loss);

  Shot shot = { 0 };
  gboolean loaded = found == 7 && load_png (png, &shot);
  TAP_OK (loaded, "screenshot readable");
  if (loaded)
    {
      Pane p[3];
      for (int k = 0; k < 3; k++)
        p[k] = pane_stats (&shot, panes[k]);
      TAP_OK (p[0].sd > 10 && p[0].mask_share < 0.02, "original shows tissue (grey sd %.1f)", p[0].sd);
      TAP_OK (p[1].mask_share > 0.4 && p[1].mask_share < 0.95 && p[1].sd > 5,
              "masked input: %.0f%% masked-token grey, the rest tissue", 100 * p[1].mask_share);
      TAP_OK (p[2].sd > 5 && p[2].mask_share < 0.02, "reconstruction fills every token (grey sd %.1f)", p[2].sd);
      g_free (shot.rgb);
    }

  /* A volume smaller than one crop: a one-line reason, and the shot is taken anyway. */
  const char *small[] = { "xvfb-run", "-a", "-s", XVFB_SCREEN, argv[1], "--phantom", "4x64x64", "--train-steps", "5",
                          "--screenshot", png, NULL };
  char **env2 = xvfb_environment ();
  env2 = g_environ_setenv (env2, "SEMMAE_STUDIO_HEADLESS", "1", TRUE);
  g_autofree char *out2 = NULL, *err2 = NULL;
  g_clear_error (&error);
  spawned = g_spawn_sync (NULL, (char **) small, env2, G_SPAWN_SEARCH_PATH, NULL, NULL, &out2, &err2, &status, &error);
  g_strfreev (env2);
  TAP_OK (spawned && WIFEXITED (status) && WEXITSTATUS (status) == 0 && err2 &&
          strstr (err2, "is smaller than one 6 x 96 x 96 crop"),
          "too small a volume: the reason is reported, the studio does not hang");
  /* Quit (a script's quit is g_application_quit, like a screenshot's end)
   * while a 100000-step run is inside its training steps. Before the fix
   * this crashed in two runs of three. */
  g_autofree char *image_path = g_build_filename (dir, "image.tif", NULL);
  g_autofree char *labels_path = g_build_filename (dir, "labels.tif", NULL);
  g_autofree char *script_path = g_build_filename (dir, "quit.txt", NULL);
  SmPhantomParams params;
  sm_phantom_default_params (&params);
  params.nz = 16, params.ny = 128, params.nx = 128;
  SmVolume image = { 0 }, labels = { 0 };
  SmError verr = { 0 };
  gboolean written = sm_phantom_generate (&params, &image, &labels, NULL, &verr) == 0 &&
                     sm_volume_write (image_path, &image, &verr) == 0 && sm_volume_write (labels_path, &labels, &verr) == 0 &&
                     g_file_set_contents (script_path, "settle\nsettle\nquit\n", -1, NULL);
  sm_volume_free (&image);
  sm_volume_free (&labels);
  TAP_OK (written, "phantom and its labels written %s", verr.message);
  const char *quitting[] = { "xvfb-run", "-a", "-s", XVFB_SCREEN, argv[1], image_path, "--labels", labels_path,
                             "--train-steps", "100000", NULL };
  char **env3 = xvfb_environment ();
  env3 = g_environ_setenv (env3, "SEMMAE_STUDIO_HEADLESS", "1", TRUE);
  env3 = g_environ_setenv (env3, "SEMMAE_PROOFREAD_SCRIPT", script_path, TRUE);
  g_autofree char *out3 = NULL, *err3 = NULL;
  g_clear_error (&error);
  spawned = g_spawn_sync (NULL, (char **) quitting, env3, G_SPAWN_SEARCH_PATH, NULL, NULL, &out3, &err3, &status, &error);
  g_strfreev (env3);
  TAP_OK (spawned && WIFEXITED (status) && WEXITSTATUS (status) == 0 && out3 && strstr (out3, "quit -> ok"),
          "quit in the middle of a long pre-training run: clean exit (status %d)", spawned ? status : -1);
  if (err3 && *err3)
    tap_diag ("stderr: %s", err3);
  g_unlink (image_path);
  g_unlink (labels_path);
  g_unlink (script_path);
  g_unlink (png);
  g_rmdir (dir);
  return tap_done ();
}
