/* SmSliceView internals shared by sm-slice-view.c (object, camera, input)
 * and sm-slice-view-gl.c (GL resources, drawing, full-resolution slices). */
#pragma once

#include "sm-gl.h"
#include "sm-slice-view.h"

G_BEGIN_DECLS

typedef struct {
  SmLayer *layer; /* owned reference */
  const SmGlVolumeTexture *texture; /* shared (sm-gl-shared.h); NULL when the upload failed */
} OverlayTexture;

struct _SmSliceView {
  GtkGLArea parent_instance;
  SmAxis axis;
  SmViewState *state;
  char *title;
  char *gl_error;

  /* Camera: world = physical units (voxel index * voxel size). */
  double center[2]; /* world position at the view's centre (h, v) */
  double zoom;      /* logical pixels per world unit */
  gboolean auto_fit; /* refit on resize until the user moves the camera */

  /* GL state, created in realize and freed in unrealize. */
  gboolean use_es;
  GLuint vao;
  GLuint image_program, labels_program, map_program, crosshair_program;
  const SmGlVolumeTexture *image_texture; /* shared with the other views */
  SmLayer *image_texture_layer;            /* what image_texture was acquired for */
  guint image_texture_generation; /* 0 = nothing uploaded */
  gboolean image_texture_failed;
  SmGlVolumeTexture slice_texture; /* full-resolution slice for downsampled images */
  gint64 slice_texture_index;
  guint slice_texture_generation;
  GPtrArray *overlays; /* OverlayTexture* */
  gboolean linear_applied;

  /* Full-resolution slice streaming (downsampled images only). */
  GCancellable *fetch_cancellable;
  gint64 fetch_index;
  guint fetch_generation;
  SmVolume *fetched; /* waiting for upload at the next render */
  gint64 fetched_index;
  guint fetched_generation;

  /* Interaction. */
  double pointer[2];
  gboolean pointer_inside;
  double drag_center[2];
  gboolean drag_moved;
  double scroll_accumulated;
  double gesture_zoom_last;

  guint frames;
  guint drawn_generation;
  gboolean measure;      /* benchmarks: finish each frame and add up the time */
  gint64 render_us;
};

/* sm-slice-view.c */
void sm_slice_view_volume_shape (SmSliceView *self, gint64 shape[3], double voxel[3]);
void sm_slice_view_plane_extent (SmSliceView *self, double extent[2], double voxel_hv[2], gint64 n_hv[2]);
gint64 sm_slice_view_cursor_index (SmSliceView *self, int dim);
/* Display-only z exaggeration of XZ/YZ for thin stacks of unknown voxel size (1 = none). */
double sm_slice_view_z_stretch (SmSliceView *self);
void sm_slice_view_set_gl_error (SmSliceView *self, const char *message);
void sm_slice_view_frame_drawn (SmSliceView *self);

/* sm-slice-view-gl.c */
void sm_slice_view_gl_realize (SmSliceView *self);
void sm_slice_view_gl_unrealize (SmSliceView *self);
gboolean sm_slice_view_gl_render (GtkGLArea *area, GdkGLContext *context);
void sm_slice_view_gl_drop_image (SmSliceView *self);
void sm_slice_view_cancel_fetch (SmSliceView *self);
void sm_slice_view_free_volume (SmVolume *v);

G_END_DECLS
