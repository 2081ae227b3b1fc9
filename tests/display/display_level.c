/* The studio's data side without a display: robust percentiles, texture-level
 * strides and subsampling, slice extraction along each axis, and the shared
 * view state (cursor clamping, contrast, layer order). */
#include <string.h>

#include "tap.h"
#include "sm-loader.h"
#include "sm-view-state.h"
#include "sm-volume-level.h"

static SmVolume
ramp_volume (gint64 nz, gint64 ny, gint64 nx)
{
  SmVolume v = { 0 };
  SmError err = { { 0 } };
  if (sm_volume_alloc (&v, SM_U16, nz, ny, nx, &err) != 0)
    abort ();
  guint16 *d = v.data;
  for (gint64 z = 0; z < nz; z++)
    for (gint64 y = 0; y < ny; y++)
      for (gint64 x = 0; x < nx; x++)
        d[(z * ny + y) * nx + x] = (guint16) (z * 10000 + y * 100 + x);
  v.voxel_size[0] = 50, v.voxel_size[1] = v.voxel_size[2] = 4;
  return v;
}

static SmLayer *
layer_of (SmLayerKind kind, gint64 nz, gint64 ny, gint64 nx)
{
  SmVolume v = ramp_volume (nz, ny, nx);
  int stride[3] = { 1, 1, 1 };
  SmLayer *layer = sm_layer_new (kind, "ramp", &v, NULL, stride);
  sm_layer_set_stats (layer, 0, 60000, 100, 50000);
  return layer;
}

static void
on_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

int
main (void)
{
  /* Percentiles: u16 values 0..999 each once -> 0.5 % ~ 5, 99.5 % ~ 994. */
  SmVolume flat = { 0 };
  SmError err = { { 0 } };
  sm_volume_alloc (&flat, SM_U16, 1, 1, 1000, &err);
  for (int i = 0; i < 1000; i++)
    ((guint16 *) flat.data)[i] = (guint16) (999 - i);
  double lo, hi;
  sm_volume_sample_percentiles (&flat, 0.005, 0.995, &lo, &hi);
  TAP_OK (lo >= 4 && lo <= 5 && hi >= 993 && hi <= 995, "u16 percentiles (%g, %g)", lo, hi);
  SmVolume f = { 0 };
  sm_volume_alloc (&f, SM_F32, 1, 10, 100, &err);
  for (int i = 0; i < 1000; i++)
    ((float *) f.data)[i] = (float) i / 1000.0f;
  sm_volume_sample_percentiles (&f, 0.005, 0.995, &lo, &hi);
  TAP_OK (lo > 0.003 && lo < 0.006 && hi > 0.993 && hi < 0.996, "float percentiles (%g, %g)", lo, hi);
  sm_volume_free (&flat);
  sm_volume_free (&f);

  /* Strides: 4 x 64 x 64 u16 = 32 KiB; with an 8 KiB budget x and y halve. */
  SmVolume v = ramp_volume (4, 64, 64);
  int stride[3];
  TAP_OK (!sm_volume_level_strides (&v, 2048, 1 << 20, 2, stride), "a small volume needs no level");
  TAP_OK (sm_volume_level_strides (&v, 2048, 8192, 2, stride) && stride[0] == 1 && stride[1] == 2 &&
          stride[2] == 2, "8 KiB budget: strides (%d, %d, %d)", stride[0], stride[1], stride[2]);
  TAP_OK (sm_volume_level_strides (&v, 16, 1 << 20, 2, stride) && stride[1] == 4 && stride[2] == 4 &&
          stride[0] == 1, "max side 16: strides (%d, %d, %d)", stride[0], stride[1], stride[2]);

  SmVolume level = { 0 };
  int s2[3] = { 1, 2, 4 };
  TAP_OK (sm_volume_subsample (&v, s2, &level, &err) == 0 && level.nz == 4 && level.ny == 32 &&
          level.nx == 16, "subsampled shape %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT,
          level.nz, level.ny, level.nx);
  TAP_OK (((guint16 *) level.data)[(2 * 32 + 3) * 16 + 5] == 2 * 10000 + 6 * 100 + 20,
          "subsampling picks voxel (z, 2y, 4x)");
  TAP_OK (level.voxel_size[1] == 8 && level.voxel_size[2] == 16, "level voxel size scales with stride");
  sm_volume_free (&level);

  /* Slices: rows are the view's vertical axis, columns its horizontal one. */
  SmVolume slice = { 0 };
  sm_volume_extract_slice (&v, SM_AXIS_XY, 2, &slice, &err);
  TAP_OK (slice.ny == 64 && slice.nx == 64 && ((guint16 *) slice.data)[7 * 64 + 9] == 20709,
          "XY slice z=2 holds (2, 7, 9)");
  sm_volume_free (&slice);
  sm_volume_extract_slice (&v, SM_AXIS_XZ, 5, &slice, &err);
  TAP_OK (slice.ny == 4 && slice.nx == 64 && ((guint16 *) slice.data)[3 * 64 + 9] == 30509,
          "XZ slice y=5 holds (3, 5, 9)");
  sm_volume_free (&slice);
  sm_volume_extract_slice (&v, SM_AXIS_YZ, 11, &slice, &err);
  TAP_OK (slice.ny == 4 && slice.nx == 64 && ((guint16 *) slice.data)[1 * 64 + 40] == 14011,
          "YZ slice x=11 holds (1, 40, 11)");
  sm_volume_free (&slice);
  sm_volume_free (&v);

  /* Background loading: a missing file names itself; a cancelled read says so. */
  {
    const char *em = tap_em_data ();
    g_autoptr (GAsyncResult) result = NULL;
    sm_load_layer_async ("/nonexistent/stack.tif", SM_LAYER_IMAGE, NULL, NULL, NULL, on_loaded, &result);
    while (!result)
      g_main_context_iteration (NULL, TRUE);
    g_autoptr (GError) error = NULL;
    SmLayer *none = sm_load_layer_finish (result, &error);
    TAP_OK (!none && error && strstr (error->message, "/nonexistent/stack.tif"), "missing file: %s",
            error ? error->message : "no error");
    if (em)
      {
        g_autofree char *isbi = g_build_filename (em, "isbi2012", "image", NULL);
        g_clear_object (&result);
        g_clear_error (&error);
        g_autoptr (GCancellable) cancel = g_cancellable_new ();
        g_cancellable_cancel (cancel);
        sm_load_layer_async (isbi, SM_LAYER_IMAGE, cancel, NULL, NULL, on_loaded, &result);
        while (!result)
          g_main_context_iteration (NULL, TRUE);
        SmLayer *cancelled = sm_load_layer_finish (result, &error);
        TAP_OK (!cancelled && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED),
                "a cancelled read reports cancellation (%s)", error ? error->message : "no error");
        g_clear_object (&result);
        g_clear_error (&error);
        sm_load_layer_async (isbi, SM_LAYER_IMAGE, NULL, NULL, NULL, on_loaded, &result);
        while (!result)
          g_main_context_iteration (NULL, TRUE);
        g_autoptr (SmLayer) layer = sm_load_layer_finish (result, &error);
        const SmVolume *loaded = layer ? sm_layer_get_volume (layer) : NULL;
        double mn = 0, mx = 0, p_lo = 0, p_hi = 0;
        if (layer)
          sm_layer_get_stats (layer, &mn, &mx, &p_lo, &p_hi);
        TAP_OK (loaded && loaded->nz == 30 && loaded->ny == 512 && loaded->nx == 512 &&
                !sm_layer_is_downsampled (layer) && p_lo > mn && p_hi < mx && p_lo < p_hi,
                "ISBI loads as 30 x 512 x 512 with robust contrast (%g..%g within %g..%g)", p_lo, p_hi, mn, mx);
      }
  }

  /* View state. */
  SmViewState *state = sm_view_state_new ();
  SmLayer *image = layer_of (SM_LAYER_IMAGE, 5, 20, 30);
  sm_view_state_set_image (state, image);
  double z, y, x;
  sm_view_state_get_cursor (state, &z, &y, &x);
  TAP_OK (z == 2 && y == 10 && x == 15, "cursor starts in the middle (%g, %g, %g)", z, y, x);
  sm_view_state_set_cursor (state, 99, -3, 12);
  sm_view_state_get_cursor (state, &z, &y, &x);
  TAP_OK (z == 4 && y == 0 && x == 12, "cursor is clamped to the volume (%g, %g, %g)", z, y, x);
  double c_lo, c_hi, gamma;
  gboolean invert;
  sm_view_state_get_contrast (state, &c_lo, &c_hi, &gamma, &invert);
  TAP_OK (c_lo == 100 && c_hi == 50000 && gamma == 1 && !invert, "contrast starts at the robust percentiles");
  sm_view_state_set_contrast (state, 0, 10, 2, TRUE);
  sm_view_state_auto_contrast (state);
  sm_view_state_get_contrast (state, &c_lo, &c_hi, &gamma, &invert);
  TAP_OK (c_lo == 100 && c_hi == 50000 && gamma == 2 && invert, "auto contrast keeps gamma and invert");

  SmLayer *a = layer_of (SM_LAYER_LABELS, 5, 20, 30), *b = layer_of (SM_LAYER_MAP, 5, 20, 30);
  SmLayer *other = layer_of (SM_LAYER_LABELS, 3, 20, 30);
  sm_view_state_add_layer (state, a);
  sm_view_state_add_layer (state, b);
  sm_view_state_add_layer (state, other);
  GListModel *layers = sm_view_state_get_layers (state);
  sm_view_state_move_layer (state, b, -1);
  SmLayer *first = g_list_model_get_item (layers, 0);
  TAP_OK (first == b, "moving a layer up puts it first");
  g_object_unref (first);
  TAP_OK (sm_view_state_get_label_layer (state) == a, "the first visible label layer is found");
  sm_layer_set_visible (a, FALSE);
  TAP_OK (sm_view_state_get_label_layer (state) == other, "hidden label layers are skipped");
  sm_view_state_set_voxel_size (state, 45, 4.5, 4.5);
  TAP_OK (sm_layer_get_volume (image)->voxel_size[0] == 45 && sm_layer_get_volume (b)->voxel_size[2] == 4.5,
          "a voxel size override reaches the image and its overlays");
  SmLayer *image2 = layer_of (SM_LAYER_IMAGE, 5, 20, 30);
  sm_view_state_set_image (state, image2);
  TAP_OK (g_list_model_get_n_items (layers) == 2, "a new image drops overlays of another shape");
  TAP_OK (sm_view_state_get_image_generation (state) == 2, "image generation counts replacements");
  g_object_unref (a);
  g_object_unref (b);
  g_object_unref (other);
  g_object_unref (image);
  g_object_unref (image2);
  g_object_unref (state);
  return tap_done ();
}
