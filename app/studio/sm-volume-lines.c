/* Line overlay of the 3D view (see sm-volume-lines.h). */
#include "sm-volume-lines.h"

#include <string.h>

const float sm_volume_plane_colours[3][4] = {
  { 0.30f, 0.55f, 1.00f, 1.0f }, /* XY: blue */
  { 0.30f, 0.85f, 0.35f, 1.0f }, /* XZ: green */
  { 1.00f, 0.35f, 0.30f, 1.0f }, /* YZ: red */
};
static const float box_colour[4] = { 0.75f, 0.75f, 0.75f, 0.8f };

static float *
push_segment (float *out, const float a[3], const float b[3], const float colour[4])
{
  static const float corners[SM_LINE_VERTICES_PER_SEGMENT][2] = {
    { 0, -1 }, { 1, -1 }, { 1, 1 }, { 0, -1 }, { 1, 1 }, { 0, 1 },
  };
  for (int v = 0; v < SM_LINE_VERTICES_PER_SEGMENT; v++) {
    memcpy (out, a, 3 * sizeof (float));
    memcpy (out + 3, b, 3 * sizeof (float));
    memcpy (out + 6, corners[v], 2 * sizeof (float));
    memcpy (out + 8, colour, 4 * sizeof (float));
    out += SM_LINE_FLOATS;
  }
  return out;
}

int
sm_volume_lines_build (const double half_extent[3], const gint64 *shape_zyx, const double cursor_zyx[3],
                       float *vertices)
{
  const double *h = half_extent;
  float *out = vertices;
  for (int axis = 0; axis < 3; axis++) {
    const int u = (axis + 1) % 3, w = (axis + 2) % 3;
    for (int k = 0; k < 4; k++) {
      float a[3], b[3];
      a[axis] = (float) -h[axis];
      b[axis] = (float) h[axis];
      a[u] = b[u] = (float) ((k & 1) ? h[u] : -h[u]);
      a[w] = b[w] = (float) ((k & 2) ? h[w] : -h[w]);
      out = push_segment (out, a, b, box_colour);
    }
  }
  if (shape_zyx) {
    /* Cursor (z, y, x) in voxels -> box space (x, y, z), through voxel centres. */
    const double n[3] = { (double) shape_zyx[2], (double) shape_zyx[1], (double) shape_zyx[0] };
    const double c[3] = { cursor_zyx[2], cursor_zyx[1], cursor_zyx[0] };
    /* The XY plane is normal to box z (axis 2), XZ to y (1), YZ to x (0). */
    const int normal_axis[3] = { 2, 1, 0 };
    for (int p = 0; p < 3; p++) {
      const int axis = normal_axis[p], u = (axis + 1) % 3, w = (axis + 2) % 3;
      const double pos = CLAMP (((c[axis] + 0.5) / MAX (n[axis], 1) - 0.5) * 2 * h[axis], -h[axis], h[axis]);
      float corners[4][3];
      for (int k = 0; k < 4; k++) {
        corners[k][axis] = (float) pos;
        corners[k][u] = (float) ((k == 1 || k == 2) ? h[u] : -h[u]);
        corners[k][w] = (float) ((k >= 2) ? h[w] : -h[w]);
      }
      for (int k = 0; k < 4; k++)
        out = push_segment (out, corners[k], corners[(k + 1) % 4], sm_volume_plane_colours[p]);
    }
  }
  return (int) ((out - vertices) / SM_LINE_FLOATS);
}
