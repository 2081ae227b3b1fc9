/* The 3D view's line overlay: the volume's bounding box and one frame per
 * slice plane through the crosshair, as vertices for shaders/volume-lines.vert
 * (each segment two triangles expanded to a pixel width in the shader). */
#pragma once

#include <glib.h>

/* Per vertex: p0 (3), p1 (3), corner (t, side) (2), colour RGBA (4). */
#define SM_LINE_FLOATS 12
#define SM_LINE_VERTICES_PER_SEGMENT 6
/* 12 box edges + 3 frames of 4. */
#define SM_LINE_MAX_SEGMENTS 24

/* Slice-plane frame colours, shared with the slice views' convention:
 * XY blue, XZ green, YZ red. */
extern const float sm_volume_plane_colours[3][4];

/* Fills `vertices` (room for SM_LINE_MAX_SEGMENTS segments) in box space
 * (x, y, z; the box is [-half_extent, half_extent]). shape_zyx is the
 * volume's shape in voxels and cursor_zyx the crosshair in voxels; with
 * shape_zyx NULL only the box is drawn. Returns the number of vertices. */
int sm_volume_lines_build (const double half_extent[3], const gint64 *shape_zyx, const double cursor_zyx[3],
                           float *vertices);
