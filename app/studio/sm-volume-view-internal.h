/* Internals of SmVolumeView, shared by its source files:
 *   sm-volume-view.c        the object, GL resources, uploads, rendering, API;
 *   sm-volume-view-jobs.c   texture and label-mask preparation (worker threads
 *                           for large volumes) and the view's geometry;
 *   sm-volume-view-input.c  mouse and keys, picking, fast frames in bursts.
 * Main thread only, except where a job says otherwise. */
#pragma once

#include <epoxy/gl.h>

#include "sm-volume-camera.h"
#include "sm-volume-texture.h"
#include "sm-volume-view.h"

G_BEGIN_DECLS

/* A background job slot: one thread at a time, cancellable, and a generation
 * so that results of stopped jobs are dropped. */
typedef struct {
  GThread *thread;
  gint cancel;
  guint generation;
} SmVolumeWorker;

struct _SmVolumeView {
  GtkGLArea parent_instance;

  /* What to show (borrowed volumes). */
  const SmVolume *volume;
  const SmVolume *labels;
  guint32 *ids;           /* label values drawn as surfaces: the selected segments' fragments */
  guint32 *id_colors;     /* (n_ids) 0xRRGGBB of their segment */
  gsize n_ids;
  guint32 *segment_ids;   /* the selected segments as given */
  gsize n_segment_ids;
  SmLabelMapEntry *label_map; /* sorted by fragment, n_label_map */
  gsize n_label_map;
  double lo, hi, gamma;
  gboolean invert;
  double cursor[3];       /* z, y, x in voxels */
  SmRenderMode mode;
  double opacity, ramp_low, ramp_high;

  SmVolumeCamera camera;
  gboolean interacting;   /* dragging (or the bench): render fast */
  gboolean panning;
  double drag_last[2];
  gboolean transient;     /* a burst of changes (scroll, slider drag, painting): render fast */
  guint settle_id;        /* ends `transient` once the burst is over */
  gint64 last_change_us;  /* of the last contrast/transfer/label change */
  gint64 uploaded_us;     /* when the current volume was uploaded */
  double fast_scale;      /* resolution while interacting, adapted to the march time */
  double still_scale;     /* resolution at rest: 1 unless a march takes too long */
  double pinned_scale;    /* > 0: both scales fixed (bench) */

  /* The last march is kept in an offscreen buffer: when only the cursor moves
   * (slice scrolling), frames are a blit plus lines. */
  gboolean march_dirty;
  gboolean march_was_fast;
  int march_w, march_h;   /* target size it was marched for */

  /* Texture geometry of the current volume (or of the labels when alone). */
  int tex_shape[3];       /* z, y, x */
  int factor[3];
  double tex_scale, tex_offset;
  double tex_median;      /* normalised texel where the bulk of the volume lies */
  double half_extent[3];  /* x, y, z in box space */

  /* Prepared on the CPU, waiting for the next render to upload. */
  SmVolumeTexture pending;
  gboolean pending_ready;
  gboolean volume_clear;  /* the volume texture must go */
  guint8 *mask;           /* RG8 copy of the mask texture */
  int mask_shape[3];      /* its shape: tex_shape when it was built */
  gboolean mask_full_dirty;
  gboolean mask_box_dirty;
  int mask_lo[3], mask_hi[3];
  gboolean palette_dirty;
  /* CPU halves of the brick texture, combined at upload. */
  guint8 *image_bricks;   /* RG per brick: lowest and highest texel */
  int image_brick_shape[3];
  guint8 *mask_bricks;    /* one byte per brick: a selected texel within reach */
  int mask_brick_shape[3];
  gboolean bricks_dirty;

  /* Workers for large volumes: the image conversion and the label mask. */
  SmVolumeWorker image_worker;
  SmVolumeWorker mask_worker;

  /* GL state, valid between realize and unrealize. */
  char *gl_error;         /* why nothing can be drawn, shown in place */
  gboolean gl_ready;
  gboolean use_es;
  GLint max_3d;
  GLuint volume_program, lines_program;
  GLuint empty_vao, lines_vao, lines_vbo;
  GLuint volume_tex, mask_tex, palette_tex;
  GLuint bricks_tex;      /* empty-space skipping, one RGBA8 texel per brick: image min, max, mask near */
  GLuint fbo, fbo_colour, fbo_depth;
  GLuint nearest_sampler; /* interactive frames sample the image without filtering */
  int fbo_w, fbo_h;
  gboolean has_volume_tex, has_mask_tex;
};

/* sm-volume-view.c */
/* Something the ray-march depends on changed: march again at the next render. */
void sm_volume_view_invalidate (SmVolumeView *self);
/* The window (data units), gamma and invert as drawn in 3D. */
void sm_volume_view_display_mapping (SmVolumeView *self, double *lo, double *hi, double *gamma, gboolean *invert);
/* Smallest texel edge in box space: the length opacities and steps refer to. */
double sm_volume_view_texel_length (SmVolumeView *self);

/* sm-volume-view-jobs.c */
void sm_volume_worker_stop (SmVolumeWorker *w);
/* (Re)builds the selected-segment mask at the texture's geometry. */
void sm_volume_view_mask_rebuild (SmVolumeView *self);
/* Texture geometry for the labels alone (no image). */
void sm_volume_view_plan_for_labels (SmVolumeView *self);
/* Converts self->volume for upload (needs a realized context for the limits). */
void sm_volume_view_prepare_volume (SmVolumeView *self);

/* sm-volume-view-input.c */
void sm_volume_view_init_input (SmVolumeView *self);
/* A contrast/transfer/label change: bursts of them render fast. */
void sm_volume_view_note_change (SmVolumeView *self);

G_END_DECLS
