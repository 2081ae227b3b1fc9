/* SmVolumeView: the 3D view (see sm-volume-view.h); this file holds the
 * object, its GL resources, uploads, rendering and API (preparation and input
 * live in sm-volume-view-jobs.c and sm-volume-view-input.c).
 *
 * The image is uploaded as one 3D texture, shrunk by a box filter to fit
 * GL_MAX_3D_TEXTURE_SIZE and a texel budget that llvmpipe can march at
 * interactive rates; large volumes are shrunk on a worker thread. A full-screen
 * triangle ray-marches it (shaders/volume.frag); the selected label segments
 * are a second, RG8 texture (mask + palette index) rendered as shaded
 * iso-surfaces in the same march; rays jump over 8^3 bricks that cannot
 * change the picture. While the user drags or scrolls, frames are marched at a
 * reduced resolution (adapted to the measured march time) with longer steps,
 * then once more at full quality; the last march is cached, so cursor moves
 * only redraw the lines (bounding box, slice-plane frames) on top. Dense
 * matter is drawn bright: EM volumes (bright cytoplasm) are inverted in 3D. */
#include "sm-volume-view-internal.h"
#include "sm-volume-view-private.h"

#include <math.h>
#include <string.h>

#include "sm-gl.h"
#include "sm-volume-lines.h"

/* Quality levels: ray step in texels, and the range of resolution scales
 * with the march times they aim for (see adapt_resolution). */
#define FAST_STEP_VOXELS 2.0
#define STILL_STEP_VOXELS 1.0
#define FAST_SCALE_MIN 0.25
#define FAST_SCALE_MAX 1.0
#define FAST_MARCH_SECONDS_LOW (1.0 / 40)
#define FAST_MARCH_SECONDS_HIGH (1.0 / 25)
#define STILL_SCALE_MIN 0.5
#define STILL_MARCH_SECONDS_HIGH 0.5

#define LINE_WIDTH_PX 1.5f

static const float background[3] = { 0.08f, 0.08f, 0.10f };

G_DEFINE_FINAL_TYPE (SmVolumeView, sm_volume_view, GTK_TYPE_GL_AREA)

/* Something the ray-march depends on changed: march again at the next render. */
void
sm_volume_view_invalidate (SmVolumeView *self)
{
  self->march_dirty = TRUE;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

/* ------------------------------------------------------------------ GL */

static void
set_gl_error (SmVolumeView *self, const char *message)
{
  g_free (self->gl_error);
  self->gl_error = g_strdup_printf ("3D view unavailable: %s", message);
  g_message ("sm-volume-view: %s", message);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
sm_volume_view_realize (GtkWidget *widget)
{
  SmVolumeView *self = SM_VOLUME_VIEW (widget);
  GTK_WIDGET_CLASS (sm_volume_view_parent_class)->realize (widget);
  GtkGLArea *area = GTK_GL_AREA (widget);
  gtk_gl_area_make_current (area);
  GError *area_error = gtk_gl_area_get_error (area);
  if (area_error) {
    set_gl_error (self, area_error->message);
    return;
  }
  GdkGLContext *context = gtk_gl_area_get_context (area);
  self->use_es = gdk_gl_context_get_use_es (context);
  int major = 0, minor = 0;
  gdk_gl_context_get_version (context, &major, &minor);
  if ((self->use_es && major < 3) || (!self->use_es && (major * 10 + minor) < 33)) {
    g_autofree char *msg = g_strdup_printf ("needs OpenGL 3.3 or OpenGL ES 3.0, got %s %d.%d",
                                            self->use_es ? "OpenGL ES" : "OpenGL", major, minor);
    set_gl_error (self, msg);
    return;
  }

  g_autoptr (GError) error = NULL;
  self->volume_program = sm_gl_program_new ("volume.vert", "volume.frag", self->use_es, &error);
  if (self->volume_program)
    self->lines_program = sm_gl_program_new ("volume-lines.vert", "volume-lines.frag", self->use_es, &error);
  if (!self->volume_program || !self->lines_program) {
    set_gl_error (self, error->message);
    gtk_gl_area_set_error (area, error);
    return;
  }
  glGetIntegerv (GL_MAX_3D_TEXTURE_SIZE, &self->max_3d);
  g_debug ("sm-volume-view: %s %d.%d, max 3D texture %d", self->use_es ? "OpenGL ES" : "OpenGL", major, minor,
           self->max_3d);

  glGenVertexArrays (1, &self->empty_vao);
  glGenVertexArrays (1, &self->lines_vao);
  glGenBuffers (1, &self->lines_vbo);
  glBindVertexArray (self->lines_vao);
  glBindBuffer (GL_ARRAY_BUFFER, self->lines_vbo);
  glBufferData (GL_ARRAY_BUFFER, SM_LINE_MAX_SEGMENTS * SM_LINE_VERTICES_PER_SEGMENT * SM_LINE_FLOATS * sizeof (float),
                NULL, GL_DYNAMIC_DRAW);
  const int sizes[4] = { 3, 3, 2, 4 };
  size_t offset = 0;
  for (GLuint i = 0; i < 4; i++) {
    glEnableVertexAttribArray (i);
    glVertexAttribPointer (i, sizes[i], GL_FLOAT, GL_FALSE, SM_LINE_FLOATS * sizeof (float),
                           (const void *) (offset * sizeof (float)));
    offset += (size_t) sizes[i];
  }
  glBindVertexArray (0);

  glGenTextures (1, &self->palette_tex);
  self->palette_dirty = TRUE;
  glGenSamplers (1, &self->nearest_sampler);
  glSamplerParameteri (self->nearest_sampler, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glSamplerParameteri (self->nearest_sampler, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glSamplerParameteri (self->nearest_sampler, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glSamplerParameteri (self->nearest_sampler, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glSamplerParameteri (self->nearest_sampler, GL_TEXTURE_WRAP_R, GL_CLAMP_TO_EDGE);
  self->gl_ready = TRUE;

  /* Whatever was set before realize is (re)built now that limits are known. */
  sm_volume_worker_stop (&self->image_worker);
  sm_volume_worker_stop (&self->mask_worker);
  if (self->volume) sm_volume_view_prepare_volume (self);
  else if (self->labels) {
    sm_volume_view_plan_for_labels (self);
    sm_volume_view_mask_rebuild (self);
  }
}

static void
delete_texture (GLuint *tex)
{
  if (*tex) glDeleteTextures (1, tex);
  *tex = 0;
}

static void
sm_volume_view_unrealize (GtkWidget *widget)
{
  SmVolumeView *self = SM_VOLUME_VIEW (widget);
  gtk_gl_area_make_current (GTK_GL_AREA (widget));
  if (self->gl_ready) {
    glDeleteProgram (self->volume_program);
    glDeleteProgram (self->lines_program);
    glDeleteVertexArrays (1, &self->empty_vao);
    glDeleteVertexArrays (1, &self->lines_vao);
    glDeleteBuffers (1, &self->lines_vbo);
    delete_texture (&self->volume_tex);
    delete_texture (&self->mask_tex);
    delete_texture (&self->palette_tex);
    delete_texture (&self->bricks_tex);
    delete_texture (&self->fbo_colour);
    delete_texture (&self->fbo_depth);
    if (self->fbo) glDeleteFramebuffers (1, &self->fbo);
    glDeleteSamplers (1, &self->nearest_sampler);
    self->nearest_sampler = 0;
  }
  self->volume_program = self->lines_program = 0;
  self->empty_vao = self->lines_vao = self->lines_vbo = 0;
  self->fbo = 0;
  self->fbo_w = self->fbo_h = 0;
  self->has_volume_tex = self->has_mask_tex = FALSE;
  self->bricks_dirty = TRUE;
  self->gl_ready = FALSE;
  /* The textures are gone: a later realize converts the volume again. */
  sm_volume_worker_stop (&self->image_worker);
  sm_volume_worker_stop (&self->mask_worker);
  sm_volume_texture_clear (&self->pending);
  self->pending_ready = FALSE;
  g_clear_pointer (&self->gl_error, g_free);
  GTK_WIDGET_CLASS (sm_volume_view_parent_class)->unrealize (widget);
}

/* ------------------------------------------------------------- uploads */

/* One RGBA8 texel per brick: R, G = the image's lowest and highest texel
 * within reach (0, 0 without an image), B = 255 where a selected segment may
 * be (everywhere when the mask's grid differs, which only happens while a new
 * geometry settles in). */
static void
upload_bricks (SmVolumeView *self)
{
  if (!self->bricks_dirty) return;
  self->bricks_dirty = FALSE;
  const int *shape = self->image_bricks ? self->image_brick_shape : self->mask_bricks ? self->mask_brick_shape : NULL;
  if (!shape) {
    delete_texture (&self->bricks_tex);
    return;
  }
  const gsize n = (gsize) shape[0] * shape[1] * shape[2];
  const gboolean mask_fits = self->mask_bricks && memcmp (self->mask_brick_shape, shape, 3 * sizeof (int)) == 0;
  guint8 *rgba = g_new0 (guint8, 4 * n);
  for (gsize b = 0; b < n; b++) {
    if (self->image_bricks) {
      rgba[4 * b] = self->image_bricks[2 * b];
      rgba[4 * b + 1] = self->image_bricks[2 * b + 1];
    }
    rgba[4 * b + 2] = mask_fits ? self->mask_bricks[b] : self->mask_bricks ? 255 : 0;
  }
  if (!self->bricks_tex) glGenTextures (1, &self->bricks_tex);
  glActiveTexture (GL_TEXTURE4);
  glBindTexture (GL_TEXTURE_3D, self->bricks_tex);
  glPixelStorei (GL_UNPACK_ALIGNMENT, 1);
  glTexImage3D (GL_TEXTURE_3D, 0, GL_RGBA8, shape[2], shape[1], shape[0], 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
  glTexParameteri (GL_TEXTURE_3D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri (GL_TEXTURE_3D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  g_free (rgba);
}

static void
upload_volume (SmVolumeView *self)
{
  if (self->volume_clear) {
    delete_texture (&self->volume_tex);
    g_clear_pointer (&self->image_bricks, g_free);
    self->bricks_dirty = TRUE;
    self->has_volume_tex = FALSE;
    self->volume_clear = FALSE;
    self->march_dirty = TRUE;
  }
  if (!self->pending_ready) return;
  SmVolumeTexture *t = &self->pending;
  GLenum internal, type;
  switch (t->type) {
  case SM_TEXEL_U8: internal = GL_R8; type = GL_UNSIGNED_BYTE; break;
  case SM_TEXEL_U16: internal = GL_R16; type = GL_UNSIGNED_SHORT; break;
  default: internal = self->use_es ? GL_R16F : GL_R32F; type = GL_FLOAT; break;
  }
  while (glGetError () != GL_NO_ERROR) {} /* only this upload's errors count below */
  if (!self->volume_tex) glGenTextures (1, &self->volume_tex);
  glActiveTexture (GL_TEXTURE0);
  glBindTexture (GL_TEXTURE_3D, self->volume_tex);
  glPixelStorei (GL_UNPACK_ALIGNMENT, 1);
  glTexImage3D (GL_TEXTURE_3D, 0, (GLint) internal, t->nx, t->ny, t->nz, 0, GL_RED, type, t->texels);
  glTexParameteri (GL_TEXTURE_3D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri (GL_TEXTURE_3D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
  glTexParameteri (GL_TEXTURE_3D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri (GL_TEXTURE_3D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glTexParameteri (GL_TEXTURE_3D, GL_TEXTURE_WRAP_R, GL_CLAMP_TO_EDGE);
  g_free (self->image_bricks);
  self->image_bricks = g_steal_pointer (&t->bricks);
  memcpy (self->image_brick_shape, t->brick_shape, sizeof self->image_brick_shape);
  self->bricks_dirty = TRUE;
  GLenum err = glGetError ();
  self->has_volume_tex = err == GL_NO_ERROR;
  self->uploaded_us = g_get_monotonic_time ();
  self->march_dirty = TRUE;
  if (err != GL_NO_ERROR) g_warning ("sm-volume-view: 3D texture upload failed (GL error 0x%x)", err);
  sm_volume_texture_clear (&self->pending);
  self->pending_ready = FALSE;
}

static void
upload_mask (SmVolumeView *self)
{
  if (!self->mask_full_dirty && !self->mask_box_dirty) return;
  if (!self->mask) {
    delete_texture (&self->mask_tex);
    g_clear_pointer (&self->mask_bricks, g_free);
    self->bricks_dirty = TRUE;
    self->has_mask_tex = FALSE;
    self->march_dirty = TRUE;
    self->mask_full_dirty = self->mask_box_dirty = FALSE;
    return;
  }
  const int *s = self->mask_shape;
  glActiveTexture (GL_TEXTURE1);
  glPixelStorei (GL_UNPACK_ALIGNMENT, 1);
  if (self->mask_full_dirty || !self->mask_tex) {
    if (!self->mask_tex) glGenTextures (1, &self->mask_tex);
    glBindTexture (GL_TEXTURE_3D, self->mask_tex);
    glTexImage3D (GL_TEXTURE_3D, 0, GL_RG8, s[2], s[1], s[0], 0, GL_RG, GL_UNSIGNED_BYTE, self->mask);
    glTexParameteri (GL_TEXTURE_3D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
    glTexParameteri (GL_TEXTURE_3D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
    glTexParameteri (GL_TEXTURE_3D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
    glTexParameteri (GL_TEXTURE_3D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
    glTexParameteri (GL_TEXTURE_3D, GL_TEXTURE_WRAP_R, GL_CLAMP_TO_EDGE);
  } else {
    /* Only the edited box, read out of the full CPU copy. */
    const int *lo = self->mask_lo, *hi = self->mask_hi;
    glBindTexture (GL_TEXTURE_3D, self->mask_tex);
    glPixelStorei (GL_UNPACK_ROW_LENGTH, s[2]);
    glPixelStorei (GL_UNPACK_IMAGE_HEIGHT, s[1]);
    glPixelStorei (GL_UNPACK_SKIP_PIXELS, lo[2]);
    glPixelStorei (GL_UNPACK_SKIP_ROWS, lo[1]);
    glPixelStorei (GL_UNPACK_SKIP_IMAGES, lo[0]);
    glTexSubImage3D (GL_TEXTURE_3D, 0, lo[2], lo[1], lo[0], hi[2] - lo[2], hi[1] - lo[1], hi[0] - lo[0],
                     GL_RG, GL_UNSIGNED_BYTE, self->mask);
    glPixelStorei (GL_UNPACK_ROW_LENGTH, 0);
    glPixelStorei (GL_UNPACK_IMAGE_HEIGHT, 0);
    glPixelStorei (GL_UNPACK_SKIP_PIXELS, 0);
    glPixelStorei (GL_UNPACK_SKIP_ROWS, 0);
    glPixelStorei (GL_UNPACK_SKIP_IMAGES, 0);
  }
  g_free (self->mask_bricks);
  self->mask_bricks = sm_volume_mask_bricks (self->mask, s, self->mask_brick_shape);
  self->bricks_dirty = TRUE;
  self->has_mask_tex = TRUE;
  self->march_dirty = TRUE;
  self->mask_full_dirty = self->mask_box_dirty = FALSE;
}

static void
upload_palette (SmVolumeView *self)
{
  if (!self->palette_dirty) return;
  guint8 rgba[256 * 4] = { 0 };
  for (gsize k = 0; k < self->n_ids && k < 255; k++) {
    float rgb[3];
    const guint32 chosen = self->id_colors ? self->id_colors[k] : 0;
    if (self->id_colors)
      for (int i = 0; i < 3; i++) rgb[i] = (float) ((chosen >> (16 - 8 * i)) & 255u) / 255.0f;
    else
      sm_segment_color (self->ids[k], rgb);
    for (int c = 0; c < 3; c++) rgba[(k + 1) * 4 + c] = (guint8) lrintf (rgb[c] * 255.0f);
    rgba[(k + 1) * 4 + 3] = 255;
  }
  glActiveTexture (GL_TEXTURE2);
  glBindTexture (GL_TEXTURE_2D, self->palette_tex);
  glPixelStorei (GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D (GL_TEXTURE_2D, 0, GL_RGBA8, 256, 1, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
  glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  self->palette_dirty = FALSE;
}

/* ------------------------------------------------------------- drawing */

/* An offscreen colour buffer for reduced-resolution frames. */
static gboolean
ensure_fbo (SmVolumeView *self, int w, int h)
{
  if (self->fbo && self->fbo_w == w && self->fbo_h == h) return TRUE;
  if (!self->fbo) glGenFramebuffers (1, &self->fbo);
  if (!self->fbo_colour) glGenTextures (1, &self->fbo_colour);
  glActiveTexture (GL_TEXTURE3);
  glBindTexture (GL_TEXTURE_2D, self->fbo_colour);
  glTexImage2D (GL_TEXTURE_2D, 0, GL_RGBA8, w, h, 0, GL_RGBA, GL_UNSIGNED_BYTE, NULL);
  glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
  /* Depth of the opaque picture, sampled by the lines (nearest: GLES cannot filter depth). */
  if (!self->fbo_depth) glGenTextures (1, &self->fbo_depth);
  glBindTexture (GL_TEXTURE_2D, self->fbo_depth);
  glTexImage2D (GL_TEXTURE_2D, 0, GL_DEPTH_COMPONENT24, w, h, 0, GL_DEPTH_COMPONENT, GL_UNSIGNED_INT, NULL);
  glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glBindFramebuffer (GL_FRAMEBUFFER, self->fbo);
  glFramebufferTexture2D (GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, self->fbo_colour, 0);
  glFramebufferTexture2D (GL_FRAMEBUFFER, GL_DEPTH_ATTACHMENT, GL_TEXTURE_2D, self->fbo_depth, 0);
  gboolean ok = glCheckFramebufferStatus (GL_FRAMEBUFFER) == GL_FRAMEBUFFER_COMPLETE;
  self->fbo_w = w;
  self->fbo_h = h;
  return ok;
}

/* The window (data units), gamma and invert as drawn in 3D. Dense matter is
 * drawn bright: when the bulk of the volume displays bright (EM: dark-stained
 * membranes in bright cytoplasm), 3D inverts, so that the stained structures
 * and not the fog around them become visible; the user's invert still flips it. */
void
sm_volume_view_display_mapping (SmVolumeView *self, double *lo, double *hi, double *gamma, gboolean *invert)
{
  *lo = self->lo;
  *hi = self->hi;
  if (!(*hi > *lo)) {
    *lo = self->tex_offset;
    *hi = self->tex_offset + self->tex_scale;
  }
  *gamma = self->gamma > 0 ? self->gamma : 1.0;
  const double median = self->tex_median * self->tex_scale + self->tex_offset;
  const gboolean bulk_bright = pow (CLAMP ((median - *lo) / (*hi - *lo), 0.0, 1.0), *gamma) > 0.5;
  *invert = !self->invert != !bulk_bright;
}

/* Smallest texel edge in box space: the length opacities and steps refer to. */
double
sm_volume_view_texel_length (SmVolumeView *self)
{
  double texel = G_MAXDOUBLE;
  const int n[3] = { self->tex_shape[2], self->tex_shape[1], self->tex_shape[0] };
  for (int ax = 0; ax < 3; ax++) texel = MIN (texel, 2 * self->half_extent[ax] / MAX (n[ax], 1));
  return texel;
}

static void
set_uniforms (SmVolumeView *self, const float mvp[16], const float inv_mvp[16], double step_voxels)
{
  GLuint p = self->volume_program;
  glUniformMatrix4fv (glGetUniformLocation (p, "u_inv_mvp"), 1, GL_FALSE, inv_mvp);
  glUniformMatrix4fv (glGetUniformLocation (p, "u_mvp"), 1, GL_FALSE, mvp);
  glUniform3f (glGetUniformLocation (p, "u_half_extent"), (float) self->half_extent[0],
               (float) self->half_extent[1], (float) self->half_extent[2]);
  glUniform1i (glGetUniformLocation (p, "u_volume"), 0);
  glUniform1i (glGetUniformLocation (p, "u_mask"), 1);
  glUniform1i (glGetUniformLocation (p, "u_palette"), 2);
  glUniform1i (glGetUniformLocation (p, "u_has_volume"), self->has_volume_tex);
  glUniform1i (glGetUniformLocation (p, "u_has_mask"), self->has_mask_tex);
  /* Skipping needs bricks that describe whatever is drawn. */
  const gboolean skip = self->bricks_tex && (!self->has_volume_tex || self->image_bricks) &&
                        (!self->has_mask_tex || self->mask_bricks);
  glUniform1i (glGetUniformLocation (p, "u_skip"), skip);
  glUniform1i (glGetUniformLocation (p, "u_bricks"), 4);
  glUniform3f (glGetUniformLocation (p, "u_brick_tc"), (float) SM_BRICK / MAX (self->tex_shape[2], 1),
               (float) SM_BRICK / MAX (self->tex_shape[1], 1), (float) SM_BRICK / MAX (self->tex_shape[0], 1));

  /* data = texel * scale + offset; t = (data - lo) / (hi - lo). */
  double lo, hi, gamma;
  gboolean invert;
  sm_volume_view_display_mapping (self, &lo, &hi, &gamma, &invert);
  const double a = self->tex_scale / (hi - lo), b = (self->tex_offset - lo) / (hi - lo);
  glUniform2f (glGetUniformLocation (p, "u_window"), (float) a, (float) b);
  glUniform1f (glGetUniformLocation (p, "u_gamma"), (float) gamma);
  glUniform1i (glGetUniformLocation (p, "u_invert"), invert);
  glUniform1i (glGetUniformLocation (p, "u_mode"), self->mode == SM_RENDER_COMPOSITE);
  /* Opacity is per texel; per step it is 1 - (1 - opacity)^(step in texels). */
  const double step_opacity = 1.0 - pow (1.0 - CLAMP (self->opacity, 0.0, 0.999), step_voxels);
  glUniform1f (glGetUniformLocation (p, "u_step_opacity"), (float) step_opacity);
  /* The texel where the display intensity reaches the ramp's start, so that
   * bricks can be skipped on their raw range (intensity is monotonic). */
  const double ramp_t = invert ? pow (1.0 - CLAMP (self->ramp_low, 0.0, 1.0), 1.0 / gamma)
                               : pow (CLAMP (self->ramp_low, 0.0, 1.0), 1.0 / gamma);
  glUniform1f (glGetUniformLocation (p, "u_visible_texel"), (float) ((ramp_t - b) / a));
  glUniform2f (glGetUniformLocation (p, "u_ramp"), (float) self->ramp_low,
               (float) MAX (self->ramp_high, self->ramp_low + 1e-3));

  /* Step: a multiple of the smallest texel edge in box space. */
  const double step = sm_volume_view_texel_length (self) * step_voxels;
  const double diagonal = 2 * sqrt (self->half_extent[0] * self->half_extent[0] +
                                    self->half_extent[1] * self->half_extent[1] +
                                    self->half_extent[2] * self->half_extent[2]);
  glUniform1f (glGetUniformLocation (p, "u_step"), (float) step);
  glUniform1i (glGetUniformLocation (p, "u_max_steps"), (int) ceil (diagonal / step) + 2);
  glUniform3f (glGetUniformLocation (p, "u_background"), background[0], background[1], background[2]);
}

/* Resolution follows the measured march time: interactive frames aim at
 * 25-40 fps of marching, still frames at under half a second (software GL on
 * a loaded machine); time goes with the square of the scale. */
static void
adapt_resolution (SmVolumeView *self, gboolean fast, double seconds)
{
  if (self->pinned_scale > 0) return;
  if (fast) {
    if (seconds > FAST_MARCH_SECONDS_HIGH)
      self->fast_scale = MAX (FAST_SCALE_MIN, self->fast_scale * 0.85);
    else if (seconds < FAST_MARCH_SECONDS_LOW)
      self->fast_scale = MIN (FAST_SCALE_MAX, self->fast_scale * 1.1);
  } else {
    if (seconds > STILL_MARCH_SECONDS_HIGH)
      self->still_scale = MAX (STILL_SCALE_MIN, self->still_scale * sqrt (STILL_MARCH_SECONDS_HIGH / seconds));
    else if (seconds < STILL_MARCH_SECONDS_HIGH / 4)
      self->still_scale = MIN (1.0, self->still_scale * 1.25);
  }
}

static gboolean
sm_volume_view_render (GtkGLArea *area, GdkGLContext *context)
{
  SmVolumeView *self = SM_VOLUME_VIEW (area);
  glClearColor (background[0], background[1], background[2], 1.0f);
  glClear (GL_COLOR_BUFFER_BIT);
  if (!self->gl_ready) return TRUE;

  upload_volume (self);
  upload_mask (self);
  upload_palette (self);
  upload_bricks (self);
  /* While a large volume is being converted, the box alone shows where it will be. */
  const gboolean have_march = self->has_volume_tex || self->has_mask_tex;
  if (!have_march && !self->volume && !self->labels) return TRUE;

  GLint target_fb = 0;
  glGetIntegerv (GL_DRAW_FRAMEBUFFER_BINDING, &target_fb);
  const int scale = gtk_widget_get_scale_factor (GTK_WIDGET (self));
  const int w = MAX (1, gtk_widget_get_width (GTK_WIDGET (self)) * scale);
  const int h = MAX (1, gtk_widget_get_height (GTK_WIDGET (self)) * scale);

  float mvp[16], inv_mvp[16];
  sm_volume_camera_matrices (&self->camera, self->half_extent, (double) w / h, mvp, inv_mvp);

  /* March again only when something it depends on changed; cursor moves
   * reuse the cached image. */
  const gboolean fast = self->interacting || self->transient;
  const gboolean remarch = have_march && (self->march_dirty || self->march_was_fast != fast || self->march_w != w ||
                           self->march_h != h || !self->fbo);
  const double res_scale = fast ? self->fast_scale : self->still_scale;
  const int rw = MAX (1, (int) lround (w * res_scale)), rh = MAX (1, (int) lround (h * res_scale));
  gboolean cached = !have_march ? FALSE : remarch ? ensure_fbo (self, rw, rh) : TRUE;
  if (remarch) {
    glBindFramebuffer (GL_FRAMEBUFFER, cached ? self->fbo : (GLuint) target_fb);
    glViewport (0, 0, cached ? rw : w, cached ? rh : h);
    glDisable (GL_BLEND);
    /* The march writes its depth (GL writes depth only with the test on). */
    if (cached) {
      glEnable (GL_DEPTH_TEST);
      glDepthFunc (GL_ALWAYS);
      glDepthMask (GL_TRUE);
    } else {
      glDisable (GL_DEPTH_TEST);
    }
    glActiveTexture (GL_TEXTURE0);
    glBindTexture (GL_TEXTURE_3D, self->has_volume_tex ? self->volume_tex : 0);
    glActiveTexture (GL_TEXTURE1);
    glBindTexture (GL_TEXTURE_3D, self->has_mask_tex ? self->mask_tex : 0);
    glActiveTexture (GL_TEXTURE2);
    glBindTexture (GL_TEXTURE_2D, self->palette_tex);
    glActiveTexture (GL_TEXTURE4);
    glBindTexture (GL_TEXTURE_3D, self->bricks_tex);
    glUseProgram (self->volume_program);
    set_uniforms (self, mvp, inv_mvp, fast ? FAST_STEP_VOXELS : STILL_STEP_VOXELS);
    glBindVertexArray (self->empty_vao);
    const gint64 start = g_get_monotonic_time ();
    glBindSampler (0, fast ? self->nearest_sampler : 0);
    glDrawArrays (GL_TRIANGLES, 0, 3);
    glBindSampler (0, 0);
    glDisable (GL_DEPTH_TEST);
    /* Wait for the march to measure it (software GL does the work here anyway). */
    glFinish ();
    adapt_resolution (self, fast, (double) (g_get_monotonic_time () - start) / 1e6);
    self->march_dirty = !cached;
    self->march_was_fast = fast;
    self->march_w = w;
    self->march_h = h;
  }
  if (cached) {
    glBindFramebuffer (GL_READ_FRAMEBUFFER, self->fbo);
    glBindFramebuffer (GL_DRAW_FRAMEBUFFER, (GLuint) target_fb);
    glBlitFramebuffer (0, 0, self->fbo_w, self->fbo_h, 0, 0, w, h, GL_COLOR_BUFFER_BIT, GL_LINEAR);
  }
  glBindFramebuffer (GL_FRAMEBUFFER, (GLuint) target_fb);
  glViewport (0, 0, w, h);

  float vertices[SM_LINE_MAX_SEGMENTS * SM_LINE_VERTICES_PER_SEGMENT * SM_LINE_FLOATS];
  const SmVolume *shape = self->volume ? self->volume : self->labels;
  const gint64 shape_zyx[3] = { shape ? shape->nz : 0, shape ? shape->ny : 0, shape ? shape->nx : 0 };
  const int n_vertices = sm_volume_lines_build (self->half_extent, shape ? shape_zyx : NULL, self->cursor, vertices);
  glEnable (GL_BLEND);
  glBlendFunc (GL_SRC_ALPHA, GL_ONE_MINUS_SRC_ALPHA);
  glUseProgram (self->lines_program);
  glUniformMatrix4fv (glGetUniformLocation (self->lines_program, "u_mvp"), 1, GL_FALSE, mvp);
  glUniform2f (glGetUniformLocation (self->lines_program, "u_viewport"), (float) w, (float) h);
  glUniform1f (glGetUniformLocation (self->lines_program, "u_width"), LINE_WIDTH_PX * scale);
  glUniform1i (glGetUniformLocation (self->lines_program, "u_use_depth"), cached);
  glUniform1i (glGetUniformLocation (self->lines_program, "u_depth"), 3);
  glUniform2f (glGetUniformLocation (self->lines_program, "u_target_size"), (float) w, (float) h);
  glActiveTexture (GL_TEXTURE3);
  glBindTexture (GL_TEXTURE_2D, cached ? self->fbo_depth : 0);
  glBindVertexArray (self->lines_vao);
  glBindBuffer (GL_ARRAY_BUFFER, self->lines_vbo);
  glBufferSubData (GL_ARRAY_BUFFER, 0, (GLsizeiptr) n_vertices * SM_LINE_FLOATS * sizeof (float), vertices);
  glDrawArrays (GL_TRIANGLES, 0, n_vertices);
  glBindVertexArray (0);
  glUseProgram (0);
  glDisable (GL_BLEND);
  return TRUE;
}

/* Like GtkGLArea's own, but accepting desktop GL or GLES, whichever the
 * display offers (GTK 4.8's GtkGLArea asks for desktop GL only); realize
 * checks the version. */
static GdkGLContext *
sm_volume_view_create_context (GtkGLArea *area)
{
  GError *error = NULL;
  GdkSurface *surface = gtk_native_get_surface (gtk_widget_get_native (GTK_WIDGET (area)));
  GdkGLContext *context = gdk_surface_create_gl_context (surface, &error);
  if (context) {
    gdk_gl_context_set_allowed_apis (context, GDK_GL_API_GL | GDK_GL_API_GLES);
    if (!gdk_gl_context_realize (context, &error)) g_clear_object (&context);
  }
  if (!context) {
    gtk_gl_area_set_error (area, error);
    g_clear_error (&error);
  }
  return context;
}

/* When GL is missing, say so where the view would be. */
static void
sm_volume_view_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  SmVolumeView *self = SM_VOLUME_VIEW (widget);
  if (!self->gl_error) {
    GTK_WIDGET_CLASS (sm_volume_view_parent_class)->snapshot (widget, snapshot);
    return;
  }
  const int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  const GdkRGBA bg = { background[0], background[1], background[2], 1 };
  gtk_snapshot_append_color (snapshot, &bg, &GRAPHENE_RECT_INIT (0, 0, w, h));
  PangoLayout *layout = gtk_widget_create_pango_layout (widget, self->gl_error);
  pango_layout_set_width (layout, MAX (1, w - 24) * PANGO_SCALE);
  pango_layout_set_wrap (layout, PANGO_WRAP_WORD_CHAR);
  pango_layout_set_alignment (layout, PANGO_ALIGN_CENTER);
  int lw, lh;
  pango_layout_get_pixel_size (layout, &lw, &lh);
  const GdkRGBA fg = { 0.9f, 0.9f, 0.9f, 1 };
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (12, MAX (0, (h - lh) / 2)));
  gtk_snapshot_append_layout (snapshot, layout, &fg);
  gtk_snapshot_restore (snapshot);
  g_object_unref (layout);
}

/* ------------------------------------------------------------- object */

static void
sm_volume_view_dispose (GObject *object)
{
  SmVolumeView *self = SM_VOLUME_VIEW (object);
  sm_volume_worker_stop (&self->image_worker);
  sm_volume_worker_stop (&self->mask_worker);
  g_clear_handle_id (&self->settle_id, g_source_remove);
  G_OBJECT_CLASS (sm_volume_view_parent_class)->dispose (object);
}

static void
sm_volume_view_finalize (GObject *object)
{
  SmVolumeView *self = SM_VOLUME_VIEW (object);
  sm_volume_texture_clear (&self->pending);
  g_free (self->mask);
  g_free (self->image_bricks);
  g_free (self->mask_bricks);
  g_free (self->ids);
  g_free (self->id_colors);
  g_free (self->segment_ids);
  g_free (self->label_map);
  g_free (self->gl_error);
  G_OBJECT_CLASS (sm_volume_view_parent_class)->finalize (object);
}

static void
sm_volume_view_class_init (SmVolumeViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = sm_volume_view_dispose;
  object_class->finalize = sm_volume_view_finalize;
  widget_class->realize = sm_volume_view_realize;
  widget_class->unrealize = sm_volume_view_unrealize;
  widget_class->snapshot = sm_volume_view_snapshot;
  GTK_GL_AREA_CLASS (klass)->render = sm_volume_view_render;

  /* SmVolumeView::pick (double z, double y, double x): the voxel under a
   * double-click, as drawn (first selected segment, else where compositing
   * turns opaque, or the brightest voxel in MIP). The window may move the
   * crosshair there. */
  g_signal_new ("pick", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                       G_TYPE_NONE, 3, G_TYPE_DOUBLE, G_TYPE_DOUBLE, G_TYPE_DOUBLE);
  GTK_GL_AREA_CLASS (klass)->create_context = sm_volume_view_create_context;
}

static void
sm_volume_view_init (SmVolumeView *self)
{
  self->gamma = 1.0;
  self->fast_scale = 0.5;
  self->still_scale = 1.0;
  self->march_dirty = TRUE;
  /* Compositing by default, with a ramp that shows the densest ~third of the
   * range: on EM this reveals cell shapes, where MIP saturates. */
  self->mode = SM_RENDER_COMPOSITE;
  self->opacity = 0.3;
  self->ramp_low = 0.6;
  self->ramp_high = 0.9;
  self->half_extent[0] = self->half_extent[1] = self->half_extent[2] = 0.5;
  sm_volume_camera_reset (&self->camera);

  /* GTK 4.8 picks desktop GL or GLES itself; realize accepts GL >= 3.3 or GLES >= 3.0. */
  gtk_gl_area_set_auto_render (GTK_GL_AREA (self), FALSE);
  gtk_widget_set_size_request (GTK_WIDGET (self), 64, 64);
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);

  sm_volume_view_init_input (self);
}

/* ------------------------------------------------------------- API */

GtkWidget *
sm_volume_view_new (void)
{
  return g_object_new (SM_TYPE_VOLUME_VIEW, NULL);
}

void
sm_volume_view_set_volume (SmVolumeView *self, const SmVolume *volume)
{
  g_return_if_fail (SM_IS_VOLUME_VIEW (self));
  sm_volume_worker_stop (&self->image_worker);
  sm_volume_worker_stop (&self->mask_worker);
  self->volume = volume;
  sm_volume_texture_clear (&self->pending);
  self->pending_ready = FALSE;
  if (!volume || !volume->data) {
    self->volume = NULL;
    self->volume_clear = TRUE;
    if (self->labels) {
      sm_volume_view_plan_for_labels (self);
      sm_volume_view_mask_rebuild (self);
    } else {
      memset (self->tex_shape, 0, sizeof self->tex_shape);
      sm_volume_view_mask_rebuild (self);
    }
  } else {
    /* A new shape: recentre; the default view shows it whole. */
    sm_volume_camera_reset (&self->camera);
    sm_volume_view_prepare_volume (self);
  }
  sm_volume_view_invalidate (self);
}

void
sm_volume_view_set_contrast (SmVolumeView *self, double lo, double hi, double gamma, gboolean invert)
{
  g_return_if_fail (SM_IS_VOLUME_VIEW (self));
  /* Callers sync on every state change: only a real change costs a march. */
  if (lo == self->lo && hi == self->hi && gamma == self->gamma && !invert == !self->invert) return;
  sm_volume_view_note_change (self);
  self->lo = lo;
  self->hi = hi;
  self->gamma = gamma;
  self->invert = invert;
  sm_volume_view_invalidate (self);
}

void
sm_volume_view_set_cursor (SmVolumeView *self, double z, double y, double x)
{
  g_return_if_fail (SM_IS_VOLUME_VIEW (self));
  if (z == self->cursor[0] && y == self->cursor[1] && x == self->cursor[2]) return;
  self->cursor[0] = z;
  self->cursor[1] = y;
  self->cursor[2] = x;
  /* Only the frames move: the cached march is reused. */
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

void
sm_volume_view_set_render_mode (SmVolumeView *self, SmRenderMode mode)
{
  g_return_if_fail (SM_IS_VOLUME_VIEW (self));
  if (mode == self->mode) return;
  self->mode = mode;
  sm_volume_view_invalidate (self);
}

void
sm_volume_view_set_transfer (SmVolumeView *self, double opacity, double low, double high)
{
  g_return_if_fail (SM_IS_VOLUME_VIEW (self));
  if (CLAMP (opacity, 0.0, 1.0) == self->opacity && low == self->ramp_low && high == self->ramp_high) return;
  sm_volume_view_note_change (self);
  self->opacity = CLAMP (opacity, 0.0, 1.0);
  self->ramp_low = low;
  self->ramp_high = high;
  sm_volume_view_invalidate (self);
}

void
sm_volume_view_set_labels (SmVolumeView *self, const SmVolume *labels)
{
  g_return_if_fail (SM_IS_VOLUME_VIEW (self));
  self->labels = labels && labels->data ? labels : NULL;
  if (self->labels && !self->volume && self->gl_ready) sm_volume_view_plan_for_labels (self);
  sm_volume_view_mask_rebuild (self);
  sm_volume_view_invalidate (self);
}

static const SmLabelMapEntry *
label_map_find (SmVolumeView *self, guint32 fragment)
{
  gsize lo = 0, hi = self->n_label_map;
  while (lo < hi) {
    gsize mid = lo + (hi - lo) / 2;
    if (self->label_map[mid].fragment == fragment) return &self->label_map[mid];
    if (self->label_map[mid].fragment < fragment) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

/* The label values to draw: each selected segment's own id (unless the map
 * sends it elsewhere or hides it) and every fragment mapped to it, each in the
 * segment's colour. Rebuilds the mask only when that set changed. */
static void
expand_selection (SmVolumeView *self)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  GArray *colors = g_array_new (FALSE, FALSE, sizeof (guint32));
  for (gsize k = 0; k < self->n_segment_ids; k++) {
    const guint32 s = self->segment_ids[k];
    const SmLabelMapEntry *own = label_map_find (self, s);
    float rgb[3];
    sm_segment_color (s, rgb);
    guint32 color = own && (own->flags & SM_LABEL_MAP_COLOR)
                        ? own->color & 0xFFFFFFu
                        : ((guint32) lrintf (rgb[0] * 255) << 16) | ((guint32) lrintf (rgb[1] * 255) << 8) |
                              (guint32) lrintf (rgb[2] * 255);
    if (!own || (own->segment == s && !(own->flags & SM_LABEL_MAP_HIDDEN))) {
      g_array_append_val (ids, s);
      g_array_append_val (colors, color);
    }
    for (gsize i = 0; i < self->n_label_map && s; i++)
      if (self->label_map[i].segment == s && self->label_map[i].fragment != s &&
          !(self->label_map[i].flags & SM_LABEL_MAP_HIDDEN)) {
        g_array_append_val (ids, self->label_map[i].fragment);
        g_array_append_val (colors, color);
      }
  }
  gboolean same_ids = ids->len == self->n_ids &&
                      (ids->len == 0 || memcmp (ids->data, self->ids, ids->len * sizeof (guint32)) == 0);
  gboolean same_colors = same_ids && self->id_colors &&
                         (ids->len == 0 || memcmp (colors->data, self->id_colors, ids->len * sizeof (guint32)) == 0);
  g_free (self->ids);
  g_free (self->id_colors);
  self->n_ids = ids->len;
  self->ids = (guint32 *) g_array_free (ids, self->n_ids == 0);
  self->id_colors = (guint32 *) g_array_free (colors, FALSE);
  if (!same_colors) self->palette_dirty = TRUE;
  if (!same_ids) sm_volume_view_mask_rebuild (self);
  if (!same_ids || !same_colors) sm_volume_view_invalidate (self);
}

void
sm_volume_view_set_selected_segments (SmVolumeView *self, const guint32 *ids, gsize n_ids)
{
  g_return_if_fail (SM_IS_VOLUME_VIEW (self));
  if (n_ids == self->n_segment_ids && (n_ids == 0 || memcmp (ids, self->segment_ids, n_ids * sizeof *ids) == 0))
    return;
  g_free (self->segment_ids);
  self->segment_ids = n_ids ? g_memdup2 (ids, n_ids * sizeof *ids) : NULL;
  self->n_segment_ids = n_ids;
  expand_selection (self);
}

void
sm_volume_view_set_label_map (SmVolumeView *self, const SmLabelMapEntry *entries, gsize n)
{
  g_return_if_fail (SM_IS_VOLUME_VIEW (self));
  g_free (self->label_map);
  self->label_map = n ? g_memdup2 (entries, n * sizeof *entries) : NULL;
  self->n_label_map = n;
  expand_selection (self);
}

void
sm_volume_view_labels_changed (SmVolumeView *self, const gint64 lo[3], const gint64 hi[3])
{
  g_return_if_fail (SM_IS_VOLUME_VIEW (self));
  if (!self->mask || self->mask_worker.thread ||
      memcmp (self->mask_shape, self->tex_shape, sizeof self->mask_shape) != 0) {
    /* Nothing to patch yet, or a full build is running: (re)build it all. */
    sm_volume_view_mask_rebuild (self);
    return;
  }
  sm_volume_view_note_change (self);
  /* The edited voxels -> the texels whose boxes they touch. */
  int tlo[3], thi[3];
  for (int a = 0; a < 3; a++) {
    tlo[a] = (int) CLAMP (lo[a] / self->factor[a], 0, self->tex_shape[a]);
    thi[a] = (int) CLAMP ((hi[a] + self->factor[a] - 1) / self->factor[a], 0, self->tex_shape[a]);
    if (thi[a] <= tlo[a]) return;
  }
  sm_volume_mask_build (self->labels, self->factor, self->tex_shape, self->ids, self->n_ids, tlo, thi,
                        NULL, self->mask);
  /* Smoothing reaches one texel around the box: that is what changed. */
  sm_volume_mask_smooth (self->mask, self->tex_shape, tlo, thi);
  for (int a = 0; a < 3; a++) {
    tlo[a] = MAX (tlo[a] - 1, 0);
    thi[a] = MIN (thi[a] + 1, self->tex_shape[a]);
  }
  if (self->mask_box_dirty)
    for (int a = 0; a < 3; a++) {
      self->mask_lo[a] = MIN (self->mask_lo[a], tlo[a]);
      self->mask_hi[a] = MAX (self->mask_hi[a], thi[a]);
    }
  else {
    memcpy (self->mask_lo, tlo, sizeof tlo);
    memcpy (self->mask_hi, thi, sizeof thi);
  }
  self->mask_box_dirty = TRUE;
  sm_volume_view_invalidate (self);
}

void
sm_volume_view_reset_camera (SmVolumeView *self)
{
  g_return_if_fail (SM_IS_VOLUME_VIEW (self));
  sm_volume_camera_reset (&self->camera);
  sm_volume_view_invalidate (self);
}

/* ------------------------------------------------- bench and test hooks */


const char *
sm_volume_view_get_gl_error (SmVolumeView *self)
{
  g_return_val_if_fail (SM_IS_VOLUME_VIEW (self), NULL);
  return self->gl_error;
}

gboolean
sm_volume_view_is_gl_ready (SmVolumeView *self)
{
  g_return_val_if_fail (SM_IS_VOLUME_VIEW (self), FALSE);
  return self->gl_ready;
}

void
sm_volume_view_get_resolution_scales (SmVolumeView *self, double *interactive, double *still)
{
  g_return_if_fail (SM_IS_VOLUME_VIEW (self));
  *interactive = self->fast_scale;
  *still = self->still_scale;
}

gboolean
sm_volume_view_is_busy (SmVolumeView *self)
{
  g_return_val_if_fail (SM_IS_VOLUME_VIEW (self), FALSE);
  return self->image_worker.thread || self->mask_worker.thread || self->pending_ready;
}

void
sm_volume_view_pin_resolution (SmVolumeView *self, double scale)
{
  g_return_if_fail (SM_IS_VOLUME_VIEW (self));
  self->pinned_scale = scale;
  if (scale > 0) self->fast_scale = self->still_scale = scale;
  sm_volume_view_invalidate (self);
}


