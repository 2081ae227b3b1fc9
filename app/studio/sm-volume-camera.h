/* The 3D view's orbit camera and the 4x4 matrices it needs (column-major,
 * as GL takes them). Box space is the volume's: physical units, centred,
 * axes (x, y, z); world space flips y and z so that the default view shows
 * the XY plane as the slice view does (x right, y down) with z going away. */
#pragma once

typedef struct SmVolumeCamera {
  double yaw, pitch;     /* radians; pitch > 0 looks from above */
  double zoom;           /* focal-length factor, 1 = whole volume in view */
  double target[3];      /* world point the camera orbits */
} SmVolumeCamera;

void sm_volume_camera_reset (SmVolumeCamera *cam);

/* mvp maps box space to clip space for a viewport of the given aspect
 * (width / height); inv_mvp is its inverse. half_extent is (x, y, z). */
void sm_volume_camera_matrices (const SmVolumeCamera *cam, const double half_extent[3], double aspect,
                                float mvp[16], float inv_mvp[16]);

/* Mouse motion in pixels (dx right, dy down) in a viewport of width_px x height_px. */
void sm_volume_camera_orbit (SmVolumeCamera *cam, double dx, double dy);
void sm_volume_camera_pan (SmVolumeCamera *cam, const double half_extent[3], double dx, double dy,
                           double width_px, double height_px);
void sm_volume_camera_zoom (SmVolumeCamera *cam, double factor);
