/* Orbit camera of the 3D view (see sm-volume-camera.h). */
#include "sm-volume-camera.h"

#include <math.h>
#include <string.h>

#define FOV_Y (30.0 * M_PI / 180.0)
#define ORBIT_RADIANS_PER_PIXEL 0.01

void
sm_volume_camera_reset (SmVolumeCamera *cam)
{
  memset (cam, 0, sizeof *cam);
  cam->yaw = -30.0 * M_PI / 180.0;
  cam->pitch = 25.0 * M_PI / 180.0;
  cam->zoom = 1.0;
}

/* c = a * b, column-major 4x4. */
static void
mat4_mul (const double a[16], const double b[16], double c[16])
{
  double r[16];
  for (int col = 0; col < 4; col++)
    for (int row = 0; row < 4; row++) {
      double s = 0;
      for (int k = 0; k < 4; k++) s += a[k * 4 + row] * b[col * 4 + k];
      r[col * 4 + row] = s;
    }
  memcpy (c, r, sizeof r);
}

/* General inverse by cofactors; returns 0 when singular. */
static int
mat4_invert (const double m[16], double out[16])
{
  double inv[16];
  inv[0] = m[5] * m[10] * m[15] - m[5] * m[11] * m[14] - m[9] * m[6] * m[15] + m[9] * m[7] * m[14] + m[13] * m[6] * m[11] - m[13] * m[7] * m[10];
  inv[4] = -m[4] * m[10] * m[15] + m[4] * m[11] * m[14] + m[8] * m[6] * m[15] - m[8] * m[7] * m[14] - m[12] * m[6] * m[11] + m[12] * m[7] * m[10];
  inv[8] = m[4] * m[9] * m[15] - m[4] * m[11] * m[13] - m[8] * m[5] * m[15] + m[8] * m[7] * m[13] + m[12] * m[5] * m[11] - m[12] * m[7] * m[9];
  inv[12] = -m[4] * m[9] * m[14] + m[4] * m[10] * m[13] + m[8] * m[5] * m[14] - m[8] * m[6] * m[13] - m[12] * m[5] * m[10] + m[12] * m[6] * m[9];
  inv[1] = -m[1] * m[10] * m[15] + m[1] * m[11] * m[14] + m[9] * m[2] * m[15] - m[9] * m[3] * m[14] - m[13] * m[2] * m[11] + m[13] * m[3] * m[10];
  inv[5] = m[0] * m[10] * m[15] - m[0] * m[11] * m[14] - m[8] * m[2] * m[15] + m[8] * m[3] * m[14] + m[12] * m[2] * m[11] - m[12] * m[3] * m[10];
  inv[9] = -m[0] * m[9] * m[15] + m[0] * m[11] * m[13] + m[8] * m[1] * m[15] - m[8] * m[3] * m[13] - m[12] * m[1] * m[11] + m[12] * m[3] * m[9];
  inv[13] = m[0] * m[9] * m[14] - m[0] * m[10] * m[13] - m[8] * m[1] * m[14] + m[8] * m[2] * m[13] + m[12] * m[1] * m[10] - m[12] * m[2] * m[9];
  inv[2] = m[1] * m[6] * m[15] - m[1] * m[7] * m[14] - m[5] * m[2] * m[15] + m[5] * m[3] * m[14] + m[13] * m[2] * m[7] - m[13] * m[3] * m[6];
  inv[6] = -m[0] * m[6] * m[15] + m[0] * m[7] * m[14] + m[4] * m[2] * m[15] - m[4] * m[3] * m[14] - m[12] * m[2] * m[7] + m[12] * m[3] * m[6];
  inv[10] = m[0] * m[5] * m[15] - m[0] * m[7] * m[13] - m[4] * m[1] * m[15] + m[4] * m[3] * m[13] + m[12] * m[1] * m[7] - m[12] * m[3] * m[5];
  inv[14] = -m[0] * m[5] * m[14] + m[0] * m[6] * m[13] + m[4] * m[1] * m[14] - m[4] * m[2] * m[13] - m[12] * m[1] * m[6] + m[12] * m[2] * m[5];
  inv[3] = -m[1] * m[6] * m[11] + m[1] * m[7] * m[10] + m[5] * m[2] * m[11] - m[5] * m[3] * m[10] - m[9] * m[2] * m[7] + m[9] * m[3] * m[6];
  inv[7] = m[0] * m[6] * m[11] - m[0] * m[7] * m[10] - m[4] * m[2] * m[11] + m[4] * m[3] * m[10] + m[8] * m[2] * m[7] - m[8] * m[3] * m[6];
  inv[11] = -m[0] * m[5] * m[11] + m[0] * m[7] * m[9] + m[4] * m[1] * m[11] - m[4] * m[3] * m[9] - m[8] * m[1] * m[7] + m[8] * m[3] * m[5];
  inv[15] = m[0] * m[5] * m[10] - m[0] * m[6] * m[9] - m[4] * m[1] * m[10] + m[4] * m[2] * m[9] + m[8] * m[1] * m[6] - m[8] * m[2] * m[5];
  double det = m[0] * inv[0] + m[1] * inv[4] + m[2] * inv[8] + m[3] * inv[12];
  if (det == 0) return 0;
  for (int i = 0; i < 16; i++) out[i] = inv[i] / det;
  return 1;
}

static double
radius_of (const double half_extent[3])
{
  return sqrt (half_extent[0] * half_extent[0] + half_extent[1] * half_extent[1] +
               half_extent[2] * half_extent[2]);
}

/* Distance at which a sphere of the box's radius just fits the vertical field. */
static double
distance_of (const double half_extent[3])
{
  return radius_of (half_extent) / sin (FOV_Y / 2) * 1.02;
}

/* World -> eye rotation (pitch about x after yaw about y). */
static void
rotation (const SmVolumeCamera *cam, double r[16])
{
  const double cy = cos (cam->yaw), sy = sin (cam->yaw), cp = cos (cam->pitch), sp = sin (cam->pitch);
  const double ry[16] = { cy, 0, -sy, 0, 0, 1, 0, 0, sy, 0, cy, 0, 0, 0, 0, 1 };
  const double rx[16] = { 1, 0, 0, 0, 0, cp, sp, 0, 0, -sp, cp, 0, 0, 0, 0, 1 };
  mat4_mul (rx, ry, r);
}

void
sm_volume_camera_matrices (const SmVolumeCamera *cam, const double half_extent[3], double aspect,
                           float mvp[16], float inv_mvp[16])
{
  const double radius = radius_of (half_extent), dist = distance_of (half_extent);
  const double model[16] = { 1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1 };
  const double to_target[16] = { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0,
                                 -cam->target[0], -cam->target[1], -cam->target[2], 1 };
  const double back[16] = { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, -dist, 1 };
  double rot[16], view[16], m[16];
  rotation (cam, rot);
  mat4_mul (rot, to_target, view);
  mat4_mul (back, view, view);

  /* Near/far bracket the box even when panned: the target stays within a few radii. */
  const double pan = sqrt (cam->target[0] * cam->target[0] + cam->target[1] * cam->target[1] +
                           cam->target[2] * cam->target[2]);
  const double znear = fmax (dist - radius - pan, dist * 0.01) * 0.9, zfar = dist + radius + pan + 1e-6;
  /* In a tall viewport the horizontal field is the narrower one: fit to it. */
  const double f = 1.0 / tan (FOV_Y / 2) * cam->zoom * fmin (1.0, aspect);
  const double proj[16] = { f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (zfar + znear) / (znear - zfar), -1,
                            0, 0, 2 * zfar * znear / (znear - zfar), 0 };
  mat4_mul (view, model, m);
  mat4_mul (proj, m, m);
  double inv[16];
  if (!mat4_invert (m, inv)) memset (inv, 0, sizeof inv);
  for (int i = 0; i < 16; i++) {
    mvp[i] = (float) m[i];
    inv_mvp[i] = (float) inv[i];
  }
}

void
sm_volume_camera_orbit (SmVolumeCamera *cam, double dx, double dy)
{
  cam->yaw += dx * ORBIT_RADIANS_PER_PIXEL;
  cam->yaw = remainder (cam->yaw, 2 * M_PI);
  cam->pitch += dy * ORBIT_RADIANS_PER_PIXEL;
  const double limit = M_PI / 2 - 0.01;
  cam->pitch = fmax (-limit, fmin (limit, cam->pitch));
}

void
sm_volume_camera_pan (SmVolumeCamera *cam, const double half_extent[3], double dx, double dy,
                      double width_px, double height_px)
{
  /* World length of one pixel at the target's depth (see the projection's fit). */
  const double aspect = fmax (width_px, 1) / fmax (height_px, 1);
  const double per_pixel = 2 * distance_of (half_extent) * tan (FOV_Y / 2) / (cam->zoom * fmin (1.0, aspect)) /
                           fmax (height_px, 1);
  double rot[16];
  rotation (cam, rot);
  /* Rows 0 and 1 of the rotation are the eye's right and up in world space. */
  for (int a = 0; a < 3; a++)
    cam->target[a] += (-dx * rot[a * 4 + 0] + dy * rot[a * 4 + 1]) * per_pixel;
  /* Keep the volume reachable: the target stays within two radii. */
  const double r = 2 * radius_of (half_extent);
  for (int a = 0; a < 3; a++) cam->target[a] = fmax (-r, fmin (r, cam->target[a]));
}

void
sm_volume_camera_zoom (SmVolumeCamera *cam, double factor)
{
  cam->zoom = fmax (0.2, fmin (50.0, cam->zoom * factor));
}
