/* The 3D view's CPU-side helpers: uploads (app/studio/sm-volume-texture.c:
 * the downsampling plan respects the limits, the box filter averages, texel
 * conversion keeps values, the label mask pools with "any") and the orbit
 * camera (sm-volume-camera.c: the default view shows the whole box, the
 * inverse is an inverse, zoom/orbit/pan move the picture the right way) and
 * the line overlay (sm-volume-lines.c: frames through the cursor).
 * No display needed. */
#include <math.h>
#include <string.h>

#include "app/studio/sm-volume-camera.h"
#include "app/studio/sm-volume-lines.h"
#include "app/studio/sm-volume-texture.h"
#include "tap.h"

static void
test_plan (void)
{
  int f[3];
  sm_volume_texture_plan (100, 100, 100, 1024, 256 * 256 * 256, f);
  TAP_OK (f[0] == 1 && f[1] == 1 && f[2] == 1, "a small volume is not shrunk (%d %d %d)", f[0], f[1], f[2]);

  sm_volume_texture_plan (1000, 1000, 1000, 2048, 256 * 256 * 256, f);
  const gint64 o[3] = { (1000 + f[0] - 1) / f[0], (1000 + f[1] - 1) / f[1], (1000 + f[2] - 1) / f[2] };
  TAP_OK (o[0] * o[1] * o[2] <= 256 * 256 * 256, "1000^3 fits the texel budget: %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT,
          o[0], o[1], o[2]);
  TAP_OK (o[0] >= 200 && o[1] >= 200 && o[2] >= 200, "... and keeps most of it (isotropic factors %d %d %d)", f[0], f[1], f[2]);

  /* Thin serial sections: z is never shrunk before x and y need it. */
  sm_volume_texture_plan (10, 4096, 4096, 2048, 256 * 256 * 256, f);
  TAP_OK (f[0] == 1 && (4096 + f[1] - 1) / f[1] <= 2048 && 10 * ((4096 + f[1] - 1) / f[1]) * ((4096 + f[2] - 1) / f[2]) <= 256 * 256 * 256,
          "10 x 4096^2 shrinks x and y only (factors %d %d %d)", f[0], f[1], f[2]);

  sm_volume_texture_plan (3000, 8, 8, 512, (gsize) 1 << 30, f);
  TAP_OK ((3000 + f[0] - 1) / f[0] <= 512, "the axis limit holds (z factor %d)", f[0]);
}

static void
test_box_filter (void)
{
  SmVolume v = { .dtype = SM_U16, .nz = 3, .ny = 2, .nx = 5 };
  guint16 data[30];
  for (int i = 0; i < 30; i++) data[i] = (guint16) (i * 1000);
  v.data = data;
  const int f[3] = { 2, 2, 2 };
  SmVolumeTexture t;
  TAP_OK (sm_volume_texture_build (&v, f, TRUE, NULL, &t), "uint16 3x2x5 builds with factors 2");
  TAP_OK (t.type == SM_TEXEL_U16 && t.nz == 2 && t.ny == 1 && t.nx == 3, "R16 texture 2x1x3 (got %d, %dx%dx%d)", t.type,
          t.nz, t.ny, t.nx);
  /* Texel (0,0,0) averages z 0-1, y 0-1, x 0-1: indices 0,1,5,6,10,11,15,16. */
  const double expect000 = (0 + 1 + 5 + 6 + 10 + 11 + 15 + 16) / 8.0 * 1000;
  const guint16 *tex = t.texels;
  TAP_OK (t.scale == 65535.0 && t.offset == 0.0, "uint16: value = texel * 65535");
  TAP_OK (fabs ((double) tex[0] - expect000) <= 1, "box average of a full box: %u vs %.0f", tex[0], expect000);
  /* Texel (1,0,2): only z 2, y 0-1, x 4: indices 24 and 29 (edge boxes are cut short). */
  const double expect102 = (24 + 29) / 2.0 * 1000;
  TAP_OK (fabs ((double) tex[1 * 3 + 2] - expect102) <= 1, "box average of a cut edge box: %u vs %.0f", tex[5], expect102);
  sm_volume_texture_clear (&t);

  /* GLES: 16-bit becomes normalised float, value = texel * scale + offset. */
  TAP_OK (sm_volume_texture_build (&v, f, FALSE, NULL, &t) && t.type == SM_TEXEL_F32, "without R16 it is float");
  const float *ft = t.texels;
  TAP_OK (fabs (ft[0] * t.scale + t.offset - expect000) < 0.5 && fabs (ft[5] * t.scale + t.offset - expect102) < 0.5,
          "float texels map back to the data values (%.1f, %.1f)", ft[0] * t.scale + t.offset, ft[5] * t.scale + t.offset);
  float lo = 1, hi = 0;
  for (int i = 0; i < 6; i++) { lo = MIN (lo, ft[i]); hi = MAX (hi, ft[i]); }
  TAP_OK (lo >= 0 && hi <= 1 && hi - lo > 0.99, "float texels span [0, 1] (%g..%g)", lo, hi);
  sm_volume_texture_clear (&t);

  /* int8: stored shifted into R8, value = texel * 255 + (-128). */
  gint8 s8[2] = { -128, 127 };
  SmVolume v8 = { .dtype = SM_I8, .nz = 1, .ny = 1, .nx = 2, .data = s8 };
  const int one[3] = { 1, 1, 1 };
  TAP_OK (sm_volume_texture_build (&v8, one, TRUE, NULL, &t) && t.type == SM_TEXEL_U8, "int8 builds as R8");
  const guint8 *b = t.texels;
  TAP_OK (fabs (b[0] / 255.0 * t.scale + t.offset + 128) < 1e-9 && fabs (b[1] / 255.0 * t.scale + t.offset - 127) < 1e-9,
          "int8 values come back through scale and offset");
  sm_volume_texture_clear (&t);

  /* A cancelled build leaves nothing behind. */
  gint cancel = 1;
  TAP_OK (!sm_volume_texture_build (&v, f, TRUE, &cancel, &t) && t.texels == NULL, "cancel stops the build");
}

static void
test_mask (void)
{
  /* 4x4x4 labels, factor 2: one voxel of id 7 in the box of texel (1,1,1). */
  guint32 labels_data[64] = { 0 };
  labels_data[(3 * 4 + 2) * 4 + 3] = 7;
  labels_data[0] = 9;
  labels_data[1] = 5;
  SmVolume labels = { .dtype = SM_U32, .nz = 4, .ny = 4, .nx = 4, .data = labels_data };
  const int f[3] = { 2, 2, 2 }, shape[3] = { 2, 2, 2 }, lo[3] = { 0, 0, 0 };
  const guint32 ids[2] = { 7, 5 };
  guint8 mask[16];
  memset (mask, 0xaa, sizeof mask);
  TAP_OK (sm_volume_mask_build (&labels, f, shape, ids, 2, lo, shape, NULL, mask), "mask builds");
  TAP_OK (mask[2 * 7] == 255 && mask[2 * 7 + 1] == 1, "one selected voxel marks its whole texel (any pooling), index 1");
  TAP_OK (mask[0] == 255 && mask[1] == 2, "texel 0 holds id 5 (index 2) though id 9 is there too");
  int others = 0;
  for (int i = 1; i < 7; i++) others += mask[2 * i] != 0;
  TAP_OK (others == 0, "texels without selected ids stay empty");

  /* An edit inside texel (1,1,1) only: rebuild that box. */
  labels_data[(3 * 4 + 2) * 4 + 3] = 0;
  const int blo[3] = { 1, 1, 1 }, bhi[3] = { 2, 2, 2 };
  sm_volume_mask_build (&labels, f, shape, ids, 2, blo, bhi, NULL, mask);
  TAP_OK (mask[2 * 7] == 0 && mask[0] == 255, "a box rebuild clears the edited texel and leaves the rest");

  /* Smoothing: a 12^3 mask with a solid 6^3 block and a one-texel line. */
  enum { S = 12 };
  guint8 *m = g_new0 (guint8, 2 * S * S * S);
  for (int z = 0; z < S; z++)
    for (int y = 0; y < S; y++)
      for (int x = 0; x < S; x++) {
        const gboolean block = z >= 3 && z < 9 && y >= 3 && y < 9 && x >= 3 && x < 9;
        const gboolean line = y == 10 && z == 1;
        if (block || line) {
          m[2 * ((z * S + y) * S + x)] = 255;
          m[2 * ((z * S + y) * S + x) + 1] = 1;
        }
      }
  const int s3[3] = { S, S, S }, zero[3] = { 0, 0, 0 };
  sm_volume_mask_smooth (m, s3, zero, s3);
  int wrong_side = 0, line_kept = 0;
  for (int i = 0; i < S * S * S; i++) wrong_side += (m[2 * i] >= 128) != (m[2 * i + 1] != 0);
  for (int x = 0; x < S; x++) line_kept += m[2 * ((1 * S + 10) * S + x)] >= 128;
  TAP_OK (wrong_side == 0, "smoothing keeps every texel on its side of the surface (%d moved)", wrong_side);
  TAP_OK (line_kept == S, "a one-texel line survives smoothing (%d of %d)", line_kept, S);
  TAP_OK (m[2 * ((6 * S + 6) * S + 6)] == 255 && m[2 * ((6 * S + 6) * S + 3)] < 255 && m[2 * ((6 * S + 6) * S + 2)] > 0,
          "the block's core stays full and its face becomes a ramp (%u %u %u)", m[2 * ((6 * S + 6) * S + 6)],
          m[2 * ((6 * S + 6) * S + 3)], m[2 * ((6 * S + 6) * S + 2)]);
  g_free (m);

  float a[3], b[3];
  sm_segment_color (7, a);
  sm_segment_color (7, b);
  gboolean in_range = TRUE;
  for (int c = 0; c < 3; c++) in_range &= a[c] >= 0.2f && a[c] <= 1.0f && a[c] == b[c];
  TAP_OK (in_range, "segment colours are stable and bright (%.2f %.2f %.2f)", a[0], a[1], a[2]);
}

/* Box-space point -> NDC through mvp; returns w. */
static float
project (const float mvp[16], const double p[3], double ndc[2])
{
  float c[4];
  for (int r = 0; r < 4; r++)
    c[r] = mvp[0 * 4 + r] * (float) p[0] + mvp[1 * 4 + r] * (float) p[1] + mvp[2 * 4 + r] * (float) p[2] + mvp[12 + r];
  ndc[0] = c[0] / c[3];
  ndc[1] = c[1] / c[3];
  return c[3];
}

/* Largest |ndc| over the box's corners, or 99 when one is behind the eye. */
static double
corner_extent (const float mvp[16], const double h[3])
{
  double extent = 0;
  for (int k = 0; k < 8; k++) {
    const double p[3] = { (k & 1) ? h[0] : -h[0], (k & 2) ? h[1] : -h[1], (k & 4) ? h[2] : -h[2] };
    double ndc[2];
    if (project (mvp, p, ndc) <= 0) return 99;
    extent = MAX (extent, MAX (fabs (ndc[0]), fabs (ndc[1])));
  }
  return extent;
}

static void
test_camera (void)
{
  const double shapes[3][3] = { { 0.5, 0.5, 0.5 }, { 0.5, 0.5, 0.05 }, { 0.1, 0.5, 0.2 } };
  const double aspects[2] = { 4.0 / 3.0, 0.6 };
  SmVolumeCamera cam;
  float mvp[16], inv[16];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 2; j++) {
      sm_volume_camera_reset (&cam);
      sm_volume_camera_matrices (&cam, shapes[i], aspects[j], mvp, inv);
      const double e = corner_extent (mvp, shapes[i]);
      TAP_OK (e < 1.0 && e > 0.3, "default view shows box %d whole at aspect %.2f (corners within %.2f)", i, aspects[j], e);
    }

  /* inv * mvp = identity. */
  sm_volume_camera_reset (&cam);
  sm_volume_camera_orbit (&cam, 37, -12);
  sm_volume_camera_matrices (&cam, shapes[2], 1.5, mvp, inv);
  double worst = 0;
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++) {
      double sum = 0;
      for (int k = 0; k < 4; k++) sum += (double) inv[k * 4 + r] * mvp[c * 4 + k];
      worst = MAX (worst, fabs (sum - (r == c)));
    }
  TAP_OK (worst < 1e-4, "inv_mvp inverts mvp (max error %.1e)", worst);

  /* Zoom 2: the picture doubles about the centre. */
  sm_volume_camera_reset (&cam);
  sm_volume_camera_matrices (&cam, shapes[0], 1.0, mvp, inv);
  const double e1 = corner_extent (mvp, shapes[0]);
  sm_volume_camera_zoom (&cam, 2.0);
  sm_volume_camera_matrices (&cam, shapes[0], 1.0, mvp, inv);
  const double e2 = corner_extent (mvp, shapes[0]);
  TAP_OK (fabs (e2 / e1 - 2.0) < 1e-3, "zoom 2 doubles the picture (%.3f -> %.3f)", e1, e2);

  /* Pan: dragging right moves the box's centre right, dragging down moves it down. */
  sm_volume_camera_reset (&cam);
  sm_volume_camera_pan (&cam, shapes[0], 50, 0, 500, 500);
  sm_volume_camera_matrices (&cam, shapes[0], 1.0, mvp, inv);
  const double centre[3] = { 0, 0, 0 };
  double ndc[2];
  project (mvp, centre, ndc);
  TAP_OK (ndc[0] > 0.1 && fabs (ndc[1]) < 1e-6, "pan right moves the centre right (ndc %.3f, %.3f)", ndc[0], ndc[1]);
  sm_volume_camera_reset (&cam);
  sm_volume_camera_pan (&cam, shapes[0], 0, 50, 500, 500);
  sm_volume_camera_matrices (&cam, shapes[0], 1.0, mvp, inv);
  project (mvp, centre, ndc);
  TAP_OK (ndc[1] < -0.1 && fabs (ndc[0]) < 1e-6, "pan down moves the centre down (ndc y %.3f)", ndc[1]);

  /* Orbit: dragging right turns the front (z = 0 face, box -z) to the right. */
  sm_volume_camera_reset (&cam);
  cam.yaw = cam.pitch = 0;
  const double front[3] = { 0, 0, -0.5 };
  sm_volume_camera_orbit (&cam, 30, 0);
  sm_volume_camera_matrices (&cam, shapes[0], 1.0, mvp, inv);
  project (mvp, front, ndc);
  TAP_OK (ndc[0] > 0.05, "orbit right turns the front face right (ndc x %.3f)", ndc[0]);
  for (int k = 0; k < 100; k++) sm_volume_camera_orbit (&cam, 0, 50);
  TAP_OK (cam.pitch < M_PI / 2 && cam.pitch > 1.5, "pitch stops short of the pole (%.3f rad)", cam.pitch);
}

static void
test_lines (void)
{
  float v[SM_LINE_MAX_SEGMENTS * SM_LINE_VERTICES_PER_SEGMENT * SM_LINE_FLOATS];
  const double h[3] = { 0.5, 0.25, 0.05 };
  TAP_OK (sm_volume_lines_build (h, NULL, NULL, v) == 12 * SM_LINE_VERTICES_PER_SEGMENT, "without a shape: the box only");
  const gint64 shape[3] = { 10, 100, 200 };
  const double cursor[3] = { 0, 50, 199 };
  const int n = sm_volume_lines_build (h, shape, cursor, v);
  TAP_OK (n == 24 * SM_LINE_VERTICES_PER_SEGMENT, "box and three frames: %d vertices", n);
  /* First vertex of each frame (segments 12, 16, 20): XY at slice 0, XZ at row 50, YZ at column 199. */
  const float *xy = v + 12 * SM_LINE_VERTICES_PER_SEGMENT * SM_LINE_FLOATS;
  const float *xz = v + 16 * SM_LINE_VERTICES_PER_SEGMENT * SM_LINE_FLOATS;
  const float *yz = v + 20 * SM_LINE_VERTICES_PER_SEGMENT * SM_LINE_FLOATS;
  TAP_OK (fabs (xy[2] - (0.5 / 10 - 0.5) * 0.1) < 1e-6 && fabs (xz[1] - (50.5 / 100 - 0.5) * 0.5) < 1e-6 &&
          fabs (yz[0] - (199.5 / 200 - 0.5) * 1.0) < 1e-6,
          "frames pass through the voxel centres of the cursor (z %.4f, y %.4f, x %.4f)", xy[2], xz[1], yz[0]);
  TAP_OK (xy[10] == sm_volume_plane_colours[0][2] && xy[10] == 1.0f && xz[9] > xz[8] && yz[8] == 1.0f,
          "XY blue, XZ green, YZ red");
}

int
main (void)
{
  test_lines ();
  test_camera ();
  test_plan ();
  test_box_filter ();
  test_mask ();
  return tap_done ();
}
