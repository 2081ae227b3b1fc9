/* The studio end to end under Xvfb + llvmpipe: it starts on the phantom, the
 * ISBI stack and the VNC stack (also through the downsampled-level +
 * streamed-slice path), draws each slice view so that its pixels follow the
 * data slice it shows (correlation of grey levels), draws label overlays,
 * compiles every shader, and refuses a missing file with a clear message. */
#include <math.h>
#include <png.h>
#include <string.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "tap.h"
#include "xvfb.h"
#include "screenshot_png.h"
#include "data/phantom.h"
#include "data/volume.h"

static const char *studio;

typedef struct {
  char axis[4];
  double slice;
  double bounds[4]; /* x, y, w, h in the screenshot */
  double plane[4];  /* where the whole slice plane is drawn */
  gboolean has_plane;
} ViewGeometry;


/* Runs the studio under xvfb-run with extra environment; returns its status. */
static int
run_studio (const char *const *args, const char *env_name, const char *env_value, char **out,
            char **err)
{
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, "xvfb-run");
  g_ptr_array_add (argv, "-a");
  g_ptr_array_add (argv, "-s");
  g_ptr_array_add (argv, XVFB_SCREEN);
  g_ptr_array_add (argv, (char *) studio);
  for (int i = 0; args[i]; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  char **env = xvfb_environment ();
  if (env_name)
    env = g_environ_setenv (env, env_name, env_value, TRUE);
  int status = -1;
  g_autoptr (GError) error = NULL;
  if (!g_spawn_sync (NULL, (char **) argv->pdata, env, G_SPAWN_SEARCH_PATH, NULL, NULL, out, err,
                     &status, &error))
    tap_diag ("spawn: %s", error->message);
  else
    status = WIFEXITED (status) ? WEXITSTATUS (status) : 128;
  g_strfreev (env);
  g_ptr_array_free (argv, TRUE);
  return status;
}

static int
parse_views (const char *out, ViewGeometry *views, int max)
{
  int n = 0;
  g_auto (GStrv) lines = g_strsplit (out ? out : "", "\n", -1);
  for (int i = 0; lines[i] && n < max; i++)
    {
      ViewGeometry v = { 0 };
      if (sscanf (lines[i], "view %3s slice %lf bounds %lf %lf %lf %lf plane %lf %lf %lf %lf", v.axis,
                  &v.slice, &v.bounds[0], &v.bounds[1], &v.bounds[2], &v.bounds[3], &v.plane[0],
                  &v.plane[1], &v.plane[2], &v.plane[3]) == 10)
        v.has_plane = TRUE;
      else if (sscanf (lines[i], "view %3s bounds %lf %lf %lf %lf", v.axis, &v.bounds[0],
                       &v.bounds[1], &v.bounds[2], &v.bounds[3]) != 5)
        continue;
      views[n++] = v;
    }
  return n;
}


static double
grey_at (const Shot *s, int x, int y)
{
  const guint8 *p = s->rgb + 3 * ((size_t) y * (size_t) s->width + (size_t) x);
  return (p[0] + p[1] + p[2]) / 3.0;
}

/* Mean and standard deviation of grey levels in a rectangle. */
static void
region_stats (const Shot *s, const double r[4], double *mean, double *sd)
{
  double sum = 0, sum2 = 0;
  long n = 0;
  int m = r[3] > 12 && r[2] > 12 ? 2 : 0; /* stay off the edges, unless the plane is a strip */
  for (int y = (int) ceil (r[1]) + m; y < (int) (r[1] + r[3]) - m && y < s->height; y++)
    for (int x = (int) ceil (r[0]) + m; x < (int) (r[0] + r[2]) - m && x < s->width; x++)
      {
        double g = grey_at (s, x, y);
        sum += g;
        sum2 += g * g;
        n++;
      }
  *mean = n ? sum / n : 0;
  *sd = n ? sqrt (fmax (sum2 / n - *mean * *mean, 0)) : 0;
}

/* Mean colourfulness (max - min channel) in a rectangle. */
static double
region_colour (const Shot *s, const double r[4])
{
  double sum = 0;
  long n = 0;
  for (int y = (int) r[1] + 2; y < (int) (r[1] + r[3]) - 2 && y < s->height; y++)
    for (int x = (int) r[0] + 2; x < (int) (r[0] + r[2]) - 2 && x < s->width; x++)
      {
        const guint8 *p = s->rgb + 3 * ((size_t) y * (size_t) s->width + (size_t) x);
        sum += MAX (MAX (p[0], p[1]), p[2]) - MIN (MIN (p[0], p[1]), p[2]);
        n++;
      }
  return n ? sum / n : 0;
}

static double
voxel (const SmVolume *v, gint64 z, gint64 y, gint64 x)
{
  size_t i = ((size_t) z * (size_t) v->ny + (size_t) y) * (size_t) v->nx + (size_t) x;
  return v->dtype == SM_U8 ? ((const guint8 *) v->data)[i] : 0;
}

/* Pearson correlation between the screenshot and the data slice the view
 * claims to show, over the part of the plane inside the view (without the
 * coloured crosshair when skip_colour); -2 when there are too few pixels. */
static double
view_correlation (const Shot *s, const ViewGeometry *g, const SmVolume *v, gboolean skip_colour)
{
  gint64 shape[3] = { v->nz, v->ny, v->nx };
  int dh, dv, dw;
  if (!strcmp (g->axis, "XY")) dh = 2, dv = 1, dw = 0;
  else if (!strcmp (g->axis, "XZ")) dh = 2, dv = 0, dw = 1;
  else dh = 1, dv = 0, dw = 2;
  double x0 = fmax (g->plane[0], g->bounds[0]) + 1, x1 = fmin (g->plane[0] + g->plane[2], g->bounds[0] + g->bounds[2]) - 1;
  double y0 = fmax (g->plane[1], g->bounds[1]) + 1, y1 = fmin (g->plane[1] + g->plane[3], g->bounds[1] + g->bounds[3]) - 1;
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  long n = 0;
  for (int py = (int) ceil (y0); py < (int) y1 && py < s->height; py++)
    for (int px = (int) ceil (x0); px < (int) x1 && px < s->width; px++)
      {
        double u = (px + 0.5 - g->plane[0]) / g->plane[2], w = (py + 0.5 - g->plane[1]) / g->plane[3];
        gint64 idx[3];
        idx[dh] = CLAMP ((gint64) floor (u * shape[dh]), 0, shape[dh] - 1);
        idx[dv] = CLAMP ((gint64) floor (w * shape[dv]), 0, shape[dv] - 1);
        idx[dw] = (gint64) g->slice;
        const guint8 *p = s->rgb + 3 * ((size_t) py * (size_t) s->width + (size_t) px);
        if (skip_colour && MAX (MAX (p[0], p[1]), p[2]) - MIN (MIN (p[0], p[1]), p[2]) > 30)
          continue; /* the crosshair */
        double a = grey_at (s, px, py), b = voxel (v, idx[0], idx[1], idx[2]);
        sa += a, sb += b, saa += a * a, sbb += b * b, sab += a * b;
        n++;
      }
  if (n < 200)
    return -2;
  double cov = sab / n - (sa / n) * (sb / n);
  double va = saa / n - (sa / n) * (sa / n), vb = sbb / n - (sb / n) * (sb / n);
  return va > 0 && vb > 0 ? cov / sqrt (va * vb) : 0;
}

/* One studio run and the checks on its screenshot. */
static void
check_run (const char *name, const char *const *args, const char *env_name, const char *env_value,
           const SmVolume *data, gboolean expect_colour)
{
  g_autofree char *out = NULL, *err = NULL;
  int status = run_studio (args, env_name, env_value, &out, &err);
  const char *png = NULL;
  for (int i = 0; args[i]; i++)
    if (!strcmp (args[i], "--screenshot"))
      png = args[i + 1];
  if (!TAP_OK (status == 0, "%s: studio exits 0 after the screenshot", name))
    {
      tap_diag ("stderr: %s", err ? err : "");
      return;
    }
  ViewGeometry views[4];
  int n = parse_views (out, views, 4);
  Shot shot = { 0 };
  TAP_OK (load_png (png, &shot), "%s: screenshot is a PNG", name);
  TAP_OK (n == 4, "%s: the studio reports four views (got %d)", name, n);
  if (!shot.rgb)
    return;
  for (int i = 0; i < n; i++)
    {
      double mean, sd;
      const double *r = views[i].has_plane ? views[i].plane : views[i].bounds;
      double clipped[4] = { fmax (r[0], views[i].bounds[0]), fmax (r[1], views[i].bounds[1]), 0, 0 };
      clipped[2] = fmin (r[0] + r[2], views[i].bounds[0] + views[i].bounds[2]) - clipped[0];
      clipped[3] = fmin (r[1] + r[3], views[i].bounds[1] + views[i].bounds[3]) - clipped[1];
      region_stats (&shot, clipped, &mean, &sd);
      TAP_OK (mean > 20 && sd > 8, "%s: %s view shows an image (mean %.1f, sd %.1f)", name,
              views[i].axis, mean, sd);
      if (data && views[i].has_plane)
        {
          double r_corr = view_correlation (&shot, &views[i], data, !expect_colour);
          if (r_corr > -2)
            TAP_OK (r_corr > (expect_colour ? 0.5 : 0.8),
                    "%s: %s view follows data slice %.0f (r = %.3f)", name, views[i].axis,
                    views[i].slice, r_corr);
        }
      if (expect_colour && !strcmp (views[i].axis, "XY"))
        TAP_OK (region_colour (&shot, clipped) > 15, "%s: labels are drawn in colour over XY (%.1f)",
                name, region_colour (&shot, clipped));
    }
  g_free (shot.rgb);
}

static gboolean
read_volume (const char *path, SmVolume *v)
{
  SmError err = { { 0 } };
  if (sm_volume_read (path, v, &err) != 0)
    {
      tap_diag ("%s", err.message);
      return FALSE;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  int begun = xvfb_studio_test_begin (argc, argv);
  if (begun >= 0)
    return begun;
  studio = argv[1];
  g_autofree char *dir = g_dir_make_tmp ("semmae-display-XXXXXX", NULL);
  g_autofree char *png = g_build_filename (dir, "shot.png", NULL);

  /* Shaders first: everything else depends on them. */
  {
    g_autofree char *out = NULL, *err = NULL;
    const char *args[] = { "--check-shaders", NULL };
    int status = run_studio (args, NULL, NULL, &out, &err);
    TAP_OK (status == 0 && out && strstr (out, " 0 failed"), "every shader compiles");
    if (status != 0)
      tap_diag ("%s%s", out ? out : "", err ? err : "");
  }

  /* The phantom, compared with the same phantom generated here. */
  {
    SmPhantomParams p;
    sm_phantom_default_params (&p);
    p.nz = 16, p.ny = 128, p.nx = 128;
    SmVolume image = { 0 };
    SmError err = { { 0 } };
    gboolean have = sm_phantom_generate (&p, &image, NULL, NULL, &err) == 0;
    const char *args[] = { "--phantom", "16x128x128", "--size", "1000x700", "--screenshot", png, NULL };
    check_run ("phantom", args, NULL, NULL, have ? &image : NULL, FALSE);
    sm_volume_free (&image);
  }

  /* Without GL the views say why in place; the studio neither crashes nor hangs. */
  {
    g_autofree char *out = NULL, *err = NULL;
    const char *args[] = { "--phantom", "8x64x64", "--screenshot", png, NULL };
    int status = run_studio (args, "GDK_DEBUG", "gl-disable", &out, &err);
    TAP_OK (status == 0 && g_file_test (png, G_FILE_TEST_EXISTS), "without GL: a screenshot, exit 0 (status %d)", status);
    g_unlink (png);
  }

  /* A missing file: a one-line error naming it, non-zero status. */
  {
    g_autofree char *missing = g_build_filename (dir, "no-such-stack.tif", NULL);
    g_autofree char *out = NULL, *err = NULL;
    const char *args[] = { missing, "--screenshot", png, NULL };
    int status = run_studio (args, NULL, NULL, &out, &err);
    TAP_OK (status != 0 && err && strstr (err, "no-such-stack.tif"),
            "a missing file fails with a message naming it (status %d)", status);
  }

  const char *em = tap_em_data ();
  if (!em)
    tap_diag ("../shared/em-data is absent: real-data runs skipped");
  else
    {
      g_autofree char *isbi = g_build_filename (em, "isbi2012", "image", NULL);
      g_autofree char *isbi_labels = g_build_filename (em, "isbi2012", "label", NULL);
      g_autofree char *vnc = g_build_filename (em, "vnc-stack1", "raw", NULL);
      SmVolume isbi_v = { 0 }, vnc_v = { 0 };
      if (read_volume (isbi, &isbi_v))
        {
          const char *args[] = { isbi, "--screenshot", png, NULL };
          check_run ("isbi", args, NULL, NULL, &isbi_v, FALSE);
          const char *with_labels[] = { isbi, "--labels", isbi_labels, "--screenshot", png, NULL };
          check_run ("isbi+labels", with_labels, NULL, NULL, &isbi_v, TRUE);
          /* The same on OpenGL ES 3 (#version 300 es shaders, no R16 textures). */
          check_run ("isbi-gles", with_labels, "GDK_DEBUG", "gl-gles", &isbi_v, TRUE);
        }
      if (read_volume (vnc, &vnc_v))
        {
          const char *args[] = { vnc, "--screenshot", png, NULL };
          check_run ("vnc", args, NULL, NULL, &vnc_v, FALSE);
          /* 1 MiB texture budget: a subsampled level plus streamed full-resolution
           * slices; with the real voxel size XZ and YZ are tall enough to compare. */
          const char *streamed[] = { vnc, "--voxel-size", "50,4.6,4.6", "--screenshot", png, NULL };
          check_run ("vnc-streamed", streamed, "SEMMAE_STUDIO_TEXTURE_MB", "1", &vnc_v, FALSE);
        }
      sm_volume_free (&isbi_v);
      sm_volume_free (&vnc_v);
    }
  g_unlink (png);
  g_rmdir (dir);
  return tap_done ();
}
