/* display_proofread: the Proofread mode driven through its actions. Writes a
 * small phantom (image + labels) to a temporary folder, runs the studio on it
 * under Xvfb with a script (SEMMAE_PROOFREAD_SCRIPT: select, merge, paint,
 * undo, redo, erase, undo, save; see sm-proofread-controller.c), takes a
 * screenshot of the Proofread mode, then checks the saved label file voxel
 * by voxel against what the edits must give. */
#include <glib.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <math.h>
#include <png.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "data/label_io.h"
#include "data/label_stats.h"
#include "data/phantom.h"
#include "data/volume.h"
#include "tap.h"
#include "tmp_dir.h"
#include "xvfb.h"

#define NZ 12
#define NY 96
#define NX 96

static gboolean
png_size (const char *path, int *w, int *h)
{
  png_image image;
  memset (&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file (&image, path))
    return FALSE;
  *w = (int) image.width;
  *h = (int) image.height;
  png_image_free (&image);
  return TRUE;
}

/* The slice views' colour of an id: shaders/overlay_labels.frag id_colour, of
 * which sm_label_color_for_id is the CPU copy (8 bits a channel). */
static void
id_colour (uint32_t id, double rgb[3])
{
  uint32_t packed = sm_label_color_for_id (id);
  for (int c = 0; c < 3; c++)
    rgb[c] = (double) ((packed >> (16 - 8 * c)) & 0xffu) / 255.0;
}

/* The direction of (R - G, G - B): blending over a grey image and mixing with
 * white (selection) keep it, so it names the label colour under a pixel. */
static void
chroma (const double rgb[3], double d[2])
{
  d[0] = rgb[0] - rgb[1];
  d[1] = rgb[1] - rgb[2];
  double n = hypot (d[0], d[1]);
  if (n > 0.0)
    d[0] /= n, d[1] /= n;
}

/* Screenshot check after the merge: a voxel of b (well inside b, r voxels
 * in y and x, in the XY view's slice and its neighbours) must show
 * want_rgb (a's colour: the one chosen for it), not b's hashed colour nor a's
 * hashed one when a colour was chosen — the shader's label map, no voxel
 * re-upload. (nz, ny, nx) is the volume's shape. FALSE when no such voxel
 * or view was found. */
static gboolean
merged_colour_ok (const char *png_path, const char *out, const uint32_t *orig, const int64_t shape[3], int r,
                  uint32_t a, uint32_t b, const double want_rgb[3], char *why, size_t why_len)
{
  const int NZ_ = (int) shape[0], NY_ = (int) shape[1], NX_ = (int) shape[2];
  double slice, px, py, pw, ph, bx, by, bw, bh;
  const char *line = out ? strstr (out, "view XY slice ") : NULL;
  if (!line || sscanf (line, "view XY slice %lf bounds %lf %lf %lf %lf plane %lf %lf %lf %lf", &slice, &bx, &by,
                       &bw, &bh, &px, &py, &pw, &ph) != 9)
    return snprintf (why, why_len, "no XY view geometry in the output"), FALSE;
  png_image image;
  memset (&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file (&image, png_path))
    return snprintf (why, why_len, "screenshot unreadable"), FALSE;
  image.format = PNG_FORMAT_RGB;
  g_autofree png_byte *pixels = g_malloc (PNG_IMAGE_SIZE (image));
  if (!png_image_finish_read (&image, NULL, pixels, 0, NULL))
    return snprintf (why, why_len, "screenshot unreadable"), FALSE;
  int z = (int) slice;
  for (int y = r; y < NY_ - r; y++)
    for (int x = r; x < NX_ - r; x++)
      {
        gboolean inside = TRUE;
        for (int dz = -1; dz <= 1 && inside; dz++)
          for (int dy = -r; dy <= r && inside; dy++)
            for (int dx = -r; dx <= r && inside; dx++)
              {
                int zz = CLAMP (z + dz, 0, NZ_ - 1);
                inside = orig[((int64_t) zz * NY_ + y + dy) * NX_ + x + dx] == b;
              }
        if (!inside)
          continue;
        int ix = (int) (px + (x + 0.5) / NX_ * pw), iy = (int) (py + (y + 0.5) / NY_ * ph);
        if (ix < 0 || iy < 0 || ix >= (int) image.width || iy >= (int) image.height)
          continue;
        const png_byte *p = pixels + ((size_t) iy * image.width + (size_t) ix) * 3;
        double got[3] = { p[0] / 255.0, p[1] / 255.0, p[2] / 255.0 }, ca[3], cb[3], dg[2], da[2], db[2], dw[2];
        id_colour (a, ca);
        id_colour (b, cb);
        chroma (got, dg);
        chroma (ca, da);
        chroma (cb, db);
        chroma (want_rgb, dw);
        double to_want = hypot (dg[0] - dw[0], dg[1] - dw[1]), to_b = hypot (dg[0] - db[0], dg[1] - db[1]);
        double to_a_hash = hypot (dg[0] - da[0], dg[1] - da[1]);
        gboolean chosen = hypot (dw[0] - da[0], dw[1] - da[1]) > 0.3; /* want is not a's hash */
        snprintf (why, why_len,
                  "voxel (%d, %d, %d) at pixel (%d, %d) rgb %u %u %u: chroma distance to the wanted colour %.2f, "
                  "to %u's hash %.2f, to %u's hash %.2f",
                  z, y, x, ix, iy, p[0], p[1], p[2], to_want, b, to_b, a, to_a_hash);
        return to_want < 0.15 && to_want < to_b && (!chosen || to_want < to_a_hash);
      }
  return snprintf (why, why_len, "no voxel well inside %u on slice %d", b, z), FALSE;
}

/* The 3D view's surfaces of the selected segment: pixels of its rectangle in
 * the screenshot whose chroma is the wanted colour's (shading keeps the
 * direction of (R - G, G - B)) against those with another colour's chroma. */
static void
count_3d_pixels (const char *png_path, const char *out, const double want[3], const double other[3], int *n_want,
                 int *n_other)
{
  *n_want = *n_other = 0;
  double bx, by, bw, bh;
  const char *line = out ? strstr (out, "view 3D bounds ") : NULL;
  if (!line || sscanf (line, "view 3D bounds %lf %lf %lf %lf", &bx, &by, &bw, &bh) != 4)
    return;
  png_image image;
  memset (&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file (&image, png_path))
    return;
  image.format = PNG_FORMAT_RGB;
  g_autofree png_byte *pixels = g_malloc (PNG_IMAGE_SIZE (image));
  if (!png_image_finish_read (&image, NULL, pixels, 0, NULL))
    return;
  double dw[2], dother[2];
  chroma (want, dw);
  chroma (other, dother);
  for (int y = (int) by; y < (int) (by + bh) && y < (int) image.height; y++)
    for (int x = (int) bx; x < (int) (bx + bw) && x < (int) image.width; x++)
      {
        const png_byte *p = pixels + ((size_t) y * image.width + (size_t) x) * 3;
        double rgb[3] = { p[0] / 255.0, p[1] / 255.0, p[2] / 255.0 }, d[2];
        double hi = MAX (rgb[0], MAX (rgb[1], rgb[2])), lo = MIN (rgb[0], MIN (rgb[1], rgb[2]));
        if (hi - lo < 0.15)
          continue; /* grey: the image, the background */
        chroma (rgb, d);
        if (hypot (d[0] - dw[0], d[1] - dw[1]) < 0.15)
          (*n_want)++;
        else if (hypot (d[0] - dother[0], d[1] - dother[1]) < 0.15)
          (*n_other)++;
      }
}

/* Runs the studio on image + labels under Xvfb with a proofreading script;
 * returns the wait status (-1 when it could not start). */
static int
run_studio_env (const char *studio, const char *image, const char *labels, const char *script,
                const char *screenshot, const char *recover, const char *env_name, const char *env_value,
                char **out, char **errs)
{
  const char *args[] = { "xvfb-run", "-a", "-s", XVFB_SCREEN, studio, image, "--labels", labels,
                         screenshot ? "--screenshot" : NULL, screenshot, NULL };
  char **env = xvfb_environment ();
  env = g_environ_setenv (env, "SEMMAE_PROOFREAD_SCRIPT", script, TRUE);
  if (recover)
    env = g_environ_setenv (env, "SEMMAE_PROOFREAD_RECOVER", recover, TRUE);
  if (env_name)
    env = g_environ_setenv (env, env_name, env_value, TRUE);
  int status = -1;
  g_autoptr (GError) error = NULL;
  if (!g_spawn_sync (NULL, (char **) args, env, G_SPAWN_SEARCH_PATH, NULL, NULL, out, errs, &status, &error))
    {
      tap_diag ("spawn: %s", error->message);
      status = -1;
    }
  g_strfreev (env);
  return status;
}

static int
run_studio (const char *studio, const char *image, const char *labels, const char *script,
            const char *screenshot, const char *recover, char **out, char **errs)
{
  return run_studio_env (studio, image, labels, script, screenshot, recover, NULL, NULL, out, errs);
}

/* A voxel of `id` well inside it (r in y and x, one slice either side) on slice z, or FALSE. */
static gboolean
inner_voxel (const uint32_t *v, const int64_t shape[3], int z, int r, uint32_t id, int64_t out[3])
{
  for (int y = r; y < shape[1] - r; y++)
    for (int x = r; x < shape[2] - r; x++)
      {
        gboolean inside = TRUE;
        for (int dz = -1; dz <= 1 && inside; dz++)
          for (int dy = -r; dy <= r && inside; dy++)
            for (int dx = -r; dx <= r && inside; dx++)
              {
                int zz = CLAMP (z + dz, 0, (int) shape[0] - 1);
                inside = v[((int64_t) zz * shape[1] + y + dy) * shape[2] + x + dx] == id;
              }
        if (inside)
          {
            out[0] = z, out[1] = y, out[2] = x;
            return TRUE;
          }
      }
  return FALSE;
}

/* Downsampled label levels (SEMMAE_STUDIO_TEXTURE_MB=1) hold fragment ids
 * too: after a merge the merged segment draws in the kept one's colour there
 * as well. */
static void
check_downsampled (const char *studio, const char *dir)
{
  SmPhantomParams params;
  sm_phantom_default_params (&params);
  params.nz = 24, params.ny = 256, params.nx = 256; /* 6 MB of uint32 labels: over a 1 MB budget */
  SmVolume image = { 0 }, labels = { 0 };
  SmError err = { { 0 } };
  g_autofree char *image_path = g_build_filename (dir, "big-image.tif", NULL);
  g_autofree char *labels_path = g_build_filename (dir, "big-labels.tif", NULL);
  g_autofree char *script_path = g_build_filename (dir, "big-script.txt", NULL);
  g_autofree char *png = g_build_filename (dir, "big.png", NULL);
  if (sm_phantom_generate (&params, &image, &labels, NULL, &err) != 0 || sm_volume_write (image_path, &image, &err) != 0 ||
      sm_volume_write (labels_path, &labels, &err) != 0)
    {
      TAP_OK (FALSE, "big phantom written %s", err.message);
      return;
    }
  int64_t shape[3] = { params.nz, params.ny, params.nx };
  SmLabelStore *st = sm_label_store_load (labels_path, shape, &err);
  const SmSegment **sorted = sm_label_sorted_segments (st, SM_ORDER_SIZE);
  uint32_t a = sorted[0]->id, b = sorted[1]->id;
  free (sorted);
  sm_label_store_free (st);
  int64_t inner[3];
  gboolean have_inner = inner_voxel (labels.data, shape, (int) params.nz / 2, 8, b, inner);
  /* Ctrl+S saves on a worker; edits wait meanwhile (the file is what was shown). */
  g_autofree char *script = g_strdup_printf ("mode proofread\nselect %u\nadd %u\nmerge\nexpect-id %" PRId64 " %" PRId64
                                             " %" PRId64 " %u\nsave-nowait\ntry undo\nwait\n",
                                             a, b, inner[0], inner[1], inner[2], a);
  g_file_set_contents (script_path, script, -1, NULL);
  g_autofree char *out = NULL, *errs = NULL;
  int status = run_studio_env (studio, image_path, labels_path, script_path, png, NULL, "SEMMAE_STUDIO_TEXTURE_MB", "1",
                               &out, &errs);
  TAP_OK (status == 0 && have_inner, "downsampled labels (1 MB texture budget): merge %u into %u, status bar id %u", b, a, a);
  TAP_OK (out && strstr (out, "undo -> refused: undo: Busy: saving"),
          "an edit while Ctrl+S saves on its worker is refused (edits wait for the save)");
  SmLabelStore *saved = sm_label_store_load (labels_path, shape, &err);
  TAP_OK (saved && sm_label_store_segment (saved, b) == NULL, "and the save holds the merge (%u gone)", b);
  if (saved)
    sm_label_store_free (saved);
  if (status != 0)
    tap_diag ("stdout: %s\nstderr: %s", out ? out : "", errs ? errs : "");
  char why[320] = "";
  double want[3];
  id_colour (a, want);
  TAP_OK (status == 0 && merged_colour_ok (png, out, labels.data, shape, 8, a, b, want, why, sizeof why),
          "downsampled: segment %u's voxels show %u's colour (%s)", b, a, why);
  sm_volume_free (&image);
  sm_volume_free (&labels);
}

int
main (int argc, char **argv)
{
  int begun = xvfb_studio_test_begin (argc, argv);
  if (begun >= 0)
    return begun;

  g_autofree char *dir = g_dir_make_tmp ("semmae-proofread-XXXXXX", NULL);
  g_autofree char *image_path = g_build_filename (dir, "image.tif", NULL);
  g_autofree char *labels_path = g_build_filename (dir, "labels.tif", NULL);
  g_autofree char *script_path = g_build_filename (dir, "script.txt", NULL);
  g_autofree char *png = g_build_filename (dir, "proofread.png", NULL);

  SmPhantomParams params;
  sm_phantom_default_params (&params);
  params.nz = NZ, params.ny = NY, params.nx = NX;
  SmVolume image = { 0 }, labels = { 0 };
  SmError err = { { 0 } };
  int rc = sm_phantom_generate (&params, &image, &labels, NULL, &err);
  TAP_OK (rc == 0, "phantom %dx%dx%d %s", NZ, NY, NX, err.message);
  if (rc != 0)
    return tap_done ();
  TAP_OK (sm_volume_write (image_path, &image, &err) == 0 && sm_volume_write (labels_path, &labels, &err) == 0,
          "image and labels written %s", err.message);
  const uint32_t *orig = labels.data;

  /* The two largest segments: merge the second into the first. */
  int64_t shape[3] = { NZ, NY, NX };
  SmLabelStore *before = sm_label_store_load (labels_path, shape, &err);
  const SmSegment **sorted = sm_label_sorted_segments (before, SM_ORDER_SIZE);
  uint32_t a = sorted[0]->id, b = sorted[1]->id;
  uint64_t voxels_a = sorted[0]->voxels, voxels_b = sorted[1]->voxels;
  free (sorted);
  sm_label_store_free (before);

  /* Paint a with radius 2 along y = 20 from x = 10 to 80 on slice z = 6; erase a
   * line on z = 3 and undo it, so it must stay as it was. */
  const int pz = 6, py = 20, ex_z = 3, ex_y = 60;
  /* A chosen colour for a: drawn in the views (and the merged b with it). */
  const uint32_t chosen = 0x2050FF;
  int64_t inner[3] = { 0, 0, 0 };
  gboolean have_inner = inner_voxel (orig, shape, 6, 3, b, inner);
  g_autofree char *script = g_strdup_printf (
      "mode proofread\nselect %u\nadd %u\nmerge\nexpect-id %" PRId64 " %" PRId64 " %" PRId64 " %u\ncolor %u %06X\n"
      "tool paint\nradius 2\nselect %u\nstroke %d %d 10 %d %d 80\nundo\nredo\n"
      "tool erase\nstroke %d %d 5 %d %d 90\nundo\ntool select\nsave\n",
      a, b, inner[0], inner[1], inner[2], a, a, chosen, a, pz, py, pz, py, ex_z, ex_y, ex_z, ex_y);
  g_file_set_contents (script_path, script, -1, NULL);

  g_autofree char *out = NULL, *errs = NULL;
  int status = run_studio (argv[1], image_path, labels_path, script_path, png, NULL, &out, &errs);
  TAP_OK (status == 0, "studio ran the script and exited 0");
  if (status != 0)
    tap_diag ("stdout: %s\nstderr: %s", out ? out : "", errs ? errs : "");
  TAP_OK (out && strstr (out, "merge -> Merged"), "merge through proof.merge");
  TAP_OK (have_inner && out && strstr (out, "expect-id") && strstr (out, "-> status bar id"),
          "after the merge the status bar reads %u at (%" PRId64 ", %" PRId64 ", %" PRId64 "), a voxel of %u, "
          "through the label map (no volume rewrite)", a, inner[0], inner[1], inner[2], b);
  TAP_OK (out && strstr (out, "-> Colour set"), "colour chosen for %u", a);
  TAP_OK (out && strstr (out, "undo -> Undid paint") && strstr (out, "redo -> Redid paint"),
          "paint stroke undone and redone");
  TAP_OK (out && strstr (out, "undo -> Undid erase"), "erase stroke undone");
  TAP_OK (out && strstr (out, "save -> Saved"), "saved with proof.save");
  int w = 0, h = 0;
  gboolean shot = png_size (png, &w, &h);
  TAP_OK (shot && w > 600 && h > 400, "screenshot of the Proofread mode (%dx%d)", w, h);

  char why[320] = "";
  const double chosen_rgb[3] = { ((chosen >> 16) & 255) / 255.0, ((chosen >> 8) & 255) / 255.0, (chosen & 255) / 255.0 };
  TAP_OK (shot && merged_colour_ok (png, out, orig, shape, 3, a, b, chosen_rgb, why, sizeof why),
          "after the merge, segment %u's voxels show the colour chosen for %u (%s)", b, a, why);

  /* The 3D view draws the selected (merged) segment in the chosen colour too. */
  int n_want = 0, n_other = 0;
  double a_hash[3];
  id_colour (a, a_hash);
  if (shot)
    count_3d_pixels (png, out, chosen_rgb, a_hash, &n_want, &n_other);
  TAP_OK (n_want > 200 && n_want > 4 * n_other,
          "the 3D view's surface of %u is in the chosen colour (%d pixels; %d in its hashed colour)", a, n_want,
          n_other);

  /* One colour function: the C one (segment list, 3D surfaces) is the shader's. */
  int colour_off = 0;
  for (uint32_t id = 1; id <= 5000; id++)
    {
      double rgb[3];
      id_colour (id, rgb);
      uint32_t c = sm_label_color_for_id (id);
      for (int k = 0; k < 3; k++)
        colour_off += fabs (rgb[k] * 255.0 - (double) ((c >> (16 - 8 * k)) & 255u)) > 0.51;
    }
  TAP_OK (colour_off == 0, "sm_label_color_for_id equals the label shader's id_colour for ids 1..5000 (%d off)",
          colour_off);

  g_autofree char *journal = g_strconcat (labels_path, ".journal", NULL);
  TAP_OK (!g_file_test (journal, G_FILE_TEST_EXISTS), "saved and quit: no journal left to recover");

  /* The saved file: b merged into a, the stroke painted, the erase undone. */
  SmLabelStore *saved = sm_label_store_load (labels_path, shape, &err);
  TAP_OK (saved != NULL, "saved labels load %s", err.message);
  if (saved)
    {
      TAP_OK (sm_label_store_segment (saved, b) == NULL, "segment %u is gone (merged)", b);
      const SmSegment *sa = sm_label_store_segment (saved, a);
      TAP_OK (sa && sa->voxels >= voxels_a + voxels_b, "segment %u holds both (%" PRIu64 " >= %" PRIu64 ")", a,
              sa ? sa->voxels : 0, voxels_a + voxels_b);
      size_t wrong = 0, painted_wrong = 0;
      for (int64_t z = 0; z < NZ; z++)
        for (int64_t y = 0; y < NY; y++)
          for (int64_t x = 0; x < NX; x++)
            {
              uint32_t o = orig[(z * NY + y) * NX + x];
              uint32_t expect = o == b ? a : o;
              uint32_t got = sm_label_store_id_at (saved, z, y, x);
              gboolean near_stroke = z == pz && fabs ((double) y - py) <= 3 && x >= 7 && x <= 83;
              gboolean on_stroke = z == pz && y == py && x >= 10 && x <= 80;
              if (on_stroke && got != a)
                painted_wrong++;
              else if (!near_stroke && got != expect)
                wrong++;
            }
      TAP_OK (painted_wrong == 0, "every voxel on the stroke is %u (%zu wrong)", a, painted_wrong);
      TAP_OK (wrong == 0, "every other voxel is the original with %u -> %u (%zu differ)", b, a, wrong);
      TAP_OK (!sm_label_store_is_dirty (saved), "loaded file is clean");
      sm_label_store_free (saved);
    }

  /* The same edits, then a crash (SIGKILL); the next start recovers them and
   * saves: the file must equal the one saved above, byte for byte. */
  g_autofree char *crash_labels = g_build_filename (dir, "crash.tif", NULL);
  g_autofree char *crash_script = g_build_filename (dir, "crash.txt", NULL);
  g_autofree char *save_script = g_build_filename (dir, "save.txt", NULL);
  TAP_OK (sm_volume_write (crash_labels, &labels, &err) == 0, "second copy of the labels %s", err.message);
  g_autofree char *edits = g_strndup (script, strlen (script) - strlen ("save\n"));
  g_autofree char *crashing = g_strconcat (edits, "crash\n", NULL);
  g_file_set_contents (crash_script, crashing, -1, NULL);
  g_file_set_contents (save_script, "save\nquit\n", -1, NULL);
  g_autofree char *out2 = NULL, *errs2 = NULL, *out3 = NULL, *errs3 = NULL;
  status = run_studio (argv[1], image_path, crash_labels, crash_script, NULL, NULL, &out2, &errs2);
  /* xvfb-run passes on the child's status: 128 + 9 for SIGKILL. */
  gboolean killed = status != -1 && ((WIFEXITED (status) && WEXITSTATUS (status) == 128 + SIGKILL) ||
                                     (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL));
  TAP_OK (killed && out2 && strstr (out2, "redo -> Redid paint"), "the studio was killed mid-session after the edits");
  g_autofree char *crash_journal = g_strconcat (crash_labels, ".journal", NULL);
  TAP_OK (g_file_test (crash_journal, G_FILE_TEST_EXISTS), "its journal is left behind");
  status = run_studio (argv[1], image_path, crash_labels, save_script, NULL, "yes", &out3, &errs3);
  TAP_OK (status == 0 && out3 && strstr (out3, "save -> Saved"), "next start recovered and saved");
  if (status != 0)
    tap_diag ("stdout: %s\nstderr: %s", out3 ? out3 : "", errs3 ? errs3 : "");
  g_autofree char *saved_bytes = NULL, *recovered_bytes = NULL;
  gsize saved_len = 0, recovered_len = 0;
  g_file_get_contents (labels_path, &saved_bytes, &saved_len, NULL);
  g_file_get_contents (crash_labels, &recovered_bytes, &recovered_len, NULL);
  TAP_OK (saved_len > 0 && saved_len == recovered_len && memcmp (saved_bytes, recovered_bytes, saved_len) == 0,
          "recovered-and-saved TIFF equals the one saved without a crash (%zu bytes)", recovered_len);

  /* A second label layer while the first has unsaved edits: Cancel keeps the
   * first (its edits in the journal, the file untouched); Save and replace
   * writes the first, then proofreads the second. */
  g_autofree char *first = g_build_filename (dir, "first.tif", NULL);
  g_autofree char *second = g_build_filename (dir, "second.tif", NULL);
  g_autofree char *replace_script = g_build_filename (dir, "replace.txt", NULL);
  sm_volume_write (first, &labels, &err);
  sm_volume_write (second, &labels, &err);
  /* Before that, hide the merged segment: the views show 0 there, the status bar still names it. */
  g_autofree char *hidden_dump = g_build_filename (dir, "hidden-shown.tif", NULL);
  g_autofree char *rs = g_strdup_printf ("mode proofread\nselect %u\nadd %u\nmerge\nhide\nexpect-id %" PRId64 " %" PRId64
                                         " %" PRId64 " %u\ndump-shown %s\nopen-labels %s\nexpect-labels %s\nquit\n",
                                         a, b, inner[0], inner[1], inner[2], a, hidden_dump, second, first);
  g_file_set_contents (replace_script, rs, -1, NULL);
  g_autofree char *out4 = NULL, *errs4 = NULL, *out5 = NULL, *errs5 = NULL;
  status = run_studio_env (argv[1], image_path, first, replace_script, NULL, NULL, "SEMMAE_PROOFREAD_REPLACE", "cancel",
                           &out4, &errs4);
  g_autofree char *first_bytes = NULL;
  gsize first_len = 0;
  g_file_get_contents (first, &first_bytes, &first_len, NULL);
  g_autofree char *orig_bytes = NULL;
  gsize orig_len = 0;
  g_file_get_contents (second, &orig_bytes, &orig_len, NULL);
  TAP_OK (status == 0 && first_len == orig_len && memcmp (first_bytes, orig_bytes, orig_len) == 0,
          "second label layer, answer Cancel: still proofreading the first, its file untouched");
  if (status != 0)
    tap_diag ("stdout: %s\nstderr: %s", out4 ? out4 : "", errs4 ? errs4 : "");
  SmVolume shown_hidden = { 0 };
  size_t hidden_wrong = 0;
  gboolean dumped = sm_volume_read (hidden_dump, &shown_hidden, &err) == 0 && shown_hidden.dtype == SM_U32;
  for (size_t i = 0; dumped && i < sm_volume_voxels (&labels); i++)
    {
      uint32_t o = orig[i], got = ((const uint32_t *) shown_hidden.data)[i];
      hidden_wrong += got != ((o == a || o == b) ? 0u : o);
    }
  TAP_OK (dumped && hidden_wrong == 0,
          "hidden merged segment: the views show 0 for both parts, the rest as it was (%zu voxels differ); "
          "the status bar still reads %u there", hidden_wrong, a);
  sm_volume_free (&shown_hidden);
  g_autofree char *first_journal = g_strconcat (first, ".journal", NULL);
  g_unlink (first_journal);
  g_autofree char *rs2 = g_strdup_printf ("mode proofread\nselect %u\nadd %u\nmerge\nopen-labels %s\nexpect-labels %s\n"
                                          "expect-id %" PRId64 " %" PRId64 " %" PRId64 " %u\nquit\n",
                                          a, b, second, second, inner[0], inner[1], inner[2], b);
  g_file_set_contents (replace_script, rs2, -1, NULL);
  status = run_studio_env (argv[1], image_path, first, replace_script, NULL, NULL, "SEMMAE_PROOFREAD_REPLACE", "save",
                           &out5, &errs5);
  SmLabelStore *first_saved = sm_label_store_load (first, shape, &err);
  TAP_OK (status == 0 && first_saved && sm_label_store_segment (first_saved, b) == NULL,
          "answer Save and replace: the first labels were saved (%u merged away), the second is proofread "
          "(%u there again)", b, b);
  if (status != 0)
    tap_diag ("stdout: %s\nstderr: %s", out5 ? out5 : "", errs5 ? errs5 : "");
  if (first_saved)
    sm_label_store_free (first_saved);

  check_downsampled (argv[1], dir);

  sm_volume_free (&image);
  sm_volume_free (&labels);
  /* Keep the folder when something failed, for a look at the screenshot. */
  if (tap_done () == 0)
    {
      tmp_dir_remove (dir);
      return 0;
    }
  tap_diag ("kept %s", dir);
  return 1;
}
