/* SmSliceView's GL side: programs and textures (created in realize, freed in
 * unrealize, uploaded in render), the image / overlay / crosshair passes, and
 * the full-resolution slice extracted on a worker for downsampled images. */
#include "sm-slice-view-private.h"

#include <math.h>

#include "sm-gl-shared.h"
#include "sm-volume-level.h"

#define BACKGROUND 0.12f

/* --- full-resolution slice streaming --------------------------------------- */

typedef struct {
  SmLayer *image;
  SmAxis axis;
  gint64 index;
} FetchJob;

static void
fetch_job_free (FetchJob *job)
{
  g_object_unref (job->image);
  g_free (job);
}

void
sm_slice_view_free_volume (SmVolume *v)
{
  sm_volume_free (v);
  g_free (v);
}

static void
fetch_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  FetchJob *job = data;
  SmVolume *slice = g_new0 (SmVolume, 1);
  SmError err = { { 0 } };
  if (sm_volume_extract_slice (sm_layer_get_volume (job->image), job->axis, job->index, slice,
                               &err) != 0)
    {
      g_free (slice);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", err.message);
      return;
    }
  g_task_return_pointer (task, slice, (GDestroyNotify) sm_slice_view_free_volume);
}

static void
fetch_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  SmVolume *slice = g_task_propagate_pointer (G_TASK (result), &error);
  if (!slice)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("slice: %s", error->message);
      return;
    }
  /* Cancelled tasks never get here with a result, so the view is alive. */
  SmSliceView *self = SM_SLICE_VIEW (source);
  FetchJob *job = g_task_get_task_data (G_TASK (result));
  if (self->fetched)
    sm_slice_view_free_volume (self->fetched);
  self->fetched = slice;
  self->fetched_index = job->index;
  self->fetched_generation = sm_view_state_get_image_generation (self->state);
  g_clear_object (&self->fetch_cancellable);
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

void
sm_slice_view_cancel_fetch (SmSliceView *self)
{
  if (self->fetch_cancellable)
    g_cancellable_cancel (self->fetch_cancellable);
  g_clear_object (&self->fetch_cancellable);
}

/* Starts extracting the full-resolution slice unless it is shown, waiting or
 * already being extracted. */
static void
request_full_slice (SmSliceView *self, SmLayer *image, gint64 index)
{
  guint generation = sm_view_state_get_image_generation (self->state);
  if (self->slice_texture.texture && self->slice_texture_index == index &&
      self->slice_texture_generation == generation)
    return;
  if (self->fetched && self->fetched_index == index && self->fetched_generation == generation)
    return;
  if (self->fetch_cancellable && self->fetch_index == index && self->fetch_generation == generation)
    return;
  sm_slice_view_cancel_fetch (self);
  self->fetch_cancellable = g_cancellable_new ();
  self->fetch_index = index;
  self->fetch_generation = generation;
  FetchJob *job = g_new0 (FetchJob, 1);
  job->image = g_object_ref (image);
  job->axis = self->axis;
  job->index = index;
  GTask *task = g_task_new (self, self->fetch_cancellable, fetch_done, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) fetch_job_free);
  g_task_set_return_on_cancel (task, TRUE);
  g_task_run_in_thread (task, fetch_thread);
  g_object_unref (task);
}

/* --- GL -------------------------------------------------------------------- */

static void
overlay_texture_free (OverlayTexture *o)
{
  if (o->texture)
    sm_gl_shared_texture_release (o->layer); /* needs a context current */
  g_object_unref (o->layer);
  g_free (o);
}

static void
release_image_texture (SmSliceView *self)
{
  if (self->image_texture_layer)
    sm_gl_shared_texture_release (self->image_texture_layer);
  g_clear_object (&self->image_texture_layer);
  self->image_texture = NULL;
}

void
sm_slice_view_gl_realize (SmSliceView *self)
{
  gtk_gl_area_make_current (GTK_GL_AREA (self));
  if (gtk_gl_area_get_error (GTK_GL_AREA (self)))
    {
      sm_slice_view_set_gl_error (self, gtk_gl_area_get_error (GTK_GL_AREA (self))->message);
      return;
    }
  GdkGLContext *context = gtk_gl_area_get_context (GTK_GL_AREA (self));
  self->use_es = gdk_gl_context_get_use_es (context);
  /* Asking GTK for a version would rule out GLES when that is all there is:
   * take what comes and check. */
  int major, minor;
  gdk_gl_context_get_version (context, &major, &minor);
  if (self->use_es ? major < 3 : major * 10 + minor < 33)
    {
      g_autofree char *message = g_strdup_printf ("needs OpenGL 3.3 or OpenGL ES 3.0, got %s %d.%d",
                                                  self->use_es ? "OpenGL ES" : "OpenGL", major, minor);
      sm_slice_view_set_gl_error (self, message);
      return;
    }
  g_autoptr (GError) error = NULL;
  self->image_program = sm_gl_program_new ("slice.vert", "slice.frag", self->use_es, &error);
  if (self->image_program)
    self->labels_program = sm_gl_program_new ("slice.vert", "overlay_labels.frag", self->use_es, &error);
  if (self->labels_program)
    self->map_program = sm_gl_program_new ("slice.vert", "overlay_map.frag", self->use_es, &error);
  if (self->map_program)
    self->crosshair_program = sm_gl_program_new ("slice.vert", "slice_crosshair.frag", self->use_es,
                                                 &error);
  if (!self->crosshair_program)
    {
      sm_slice_view_set_gl_error (self, error->message);
      return;
    }
  glGenVertexArrays (1, &self->vao);
  GLint max_3d = 0;
  glGetIntegerv (GL_MAX_3D_TEXTURE_SIZE, &max_3d);
  if (max_3d > 0)
    sm_texture_set_max_dim (max_3d);
  self->overlays = g_ptr_array_new_with_free_func ((GDestroyNotify) overlay_texture_free);
}

void
sm_slice_view_gl_unrealize (SmSliceView *self)
{
  gtk_gl_area_make_current (GTK_GL_AREA (self));
  sm_slice_view_cancel_fetch (self);
  if (!gtk_gl_area_get_error (GTK_GL_AREA (self)))
    {
      g_clear_pointer (&self->overlays, g_ptr_array_unref);
      release_image_texture (self);
      sm_gl_volume_texture_clear (&self->slice_texture);
      GLuint programs[] = { self->image_program, self->labels_program, self->map_program,
                            self->crosshair_program };
      for (guint i = 0; i < G_N_ELEMENTS (programs); i++)
        if (programs[i])
          glDeleteProgram (programs[i]);
      if (self->vao)
        glDeleteVertexArrays (1, &self->vao);
    }
  self->image_program = self->labels_program = self->map_program = self->crosshair_program = 0;
  self->vao = 0;
  self->image_texture_generation = 0;
  self->image_texture_failed = FALSE;
  self->slice_texture_generation = 0;
}

/* Texture-space axes of this view: (x, y, z) unit vectors for h, v and w. */
static void
texture_axes (SmAxis axis, float u[3], float v[3], float w[3])
{
  int tex_of_dim[3] = { 2, 1, 0 }; /* volume dim (z, y, x) -> texture coordinate (s=x, t=y, r=z) */
  for (int i = 0; i < 3; i++)
    u[i] = v[i] = w[i] = 0;
  u[tex_of_dim[sm_axis_dim_h (axis)]] = 1;
  v[tex_of_dim[sm_axis_dim_v (axis)]] = 1;
  w[tex_of_dim[sm_axis_dim_w (axis)]] = 1;
}

/* Uniforms shared by every pass: viewport, uv mapping and slice plane. */
static void
set_common_uniforms (SmSliceView *self, GLuint program, int fb_w, int fb_h, double scale)
{
  double extent[2], voxel[2];
  gint64 n[2];
  sm_slice_view_plane_extent (self, extent, voxel, n);
  double w = gtk_widget_get_width (GTK_WIDGET (self));
  double h = gtk_widget_get_height (GTK_WIDGET (self));
  glUniform2f (glGetUniformLocation (program, "u_viewport"), (float) fb_w, (float) fb_h);
  glUniform2f (glGetUniformLocation (program, "u_uv_scale"),
               (float) (1.0 / (scale * self->zoom * extent[0])),
               (float) (1.0 / (scale * self->zoom * extent[1])));
  glUniform2f (glGetUniformLocation (program, "u_uv_offset"),
               (float) ((self->center[0] - w / (2 * self->zoom)) / extent[0]),
               (float) ((self->center[1] - h / (2 * self->zoom)) / extent[1]));
  float u[3], v[3], wa[3];
  texture_axes (self->axis, u, v, wa);
  gint64 shape[3];
  double vox[3];
  sm_slice_view_volume_shape (self, shape, vox);
  int dw = sm_axis_dim_w (self->axis);
  float plane = (float) ((sm_slice_view_cursor_index (self, dw) + 0.5) / (double) shape[dw]);
  glUniform3f (glGetUniformLocation (program, "u_plane"), wa[0] * plane, wa[1] * plane,
               wa[2] * plane);
  glUniform3fv (glGetUniformLocation (program, "u_axis_u"), 1, u);
  glUniform3fv (glGetUniformLocation (program, "u_axis_v"), 1, v);
}

static void
draw_quad (SmSliceView *self)
{
  glBindVertexArray (self->vao);
  glDrawArrays (GL_TRIANGLE_STRIP, 0, 4);
}

static OverlayTexture *
find_overlay (SmSliceView *self, SmLayer *layer)
{
  for (guint i = 0; i < self->overlays->len; i++)
    {
      OverlayTexture *o = g_ptr_array_index (self->overlays, i);
      if (o->layer == layer)
        return o;
    }
  return NULL;
}

/* Drops textures of layers that left the list; uploads visible new ones. */
static void
sync_overlays (SmSliceView *self, GListModel *layers)
{
  guint n = g_list_model_get_n_items (layers);
  for (guint i = self->overlays->len; i-- > 0;)
    {
      OverlayTexture *o = g_ptr_array_index (self->overlays, i);
      gboolean present = FALSE;
      for (guint j = 0; j < n && !present; j++)
        {
          g_autoptr (SmLayer) layer = g_list_model_get_item (layers, j);
          present = layer == o->layer;
        }
      if (!present)
        g_ptr_array_remove_index (self->overlays, i);
    }
  for (guint j = 0; j < n; j++)
    {
      g_autoptr (SmLayer) layer = g_list_model_get_item (layers, j);
      if (!sm_layer_get_visible (layer) || find_overlay (self, layer))
        continue;
      OverlayTexture *o = g_new0 (OverlayTexture, 1);
      o->layer = g_object_ref (layer);
      g_autoptr (GError) error = NULL;
      o->texture = sm_gl_shared_texture_acquire (layer, self->use_es, &error);
      if (!o->texture)
        g_warning ("%s: %s", sm_layer_get_name (layer), error->message);
      g_ptr_array_add (self->overlays, o);
    }
}

static void
draw_overlays (SmSliceView *self, GListModel *layers, int fb_w, int fb_h, double scale)
{
  guint n = g_list_model_get_n_items (layers);
  for (guint j = 0; j < n; j++)
    {
      g_autoptr (SmLayer) layer = g_list_model_get_item (layers, j);
      OverlayTexture *o = sm_layer_get_visible (layer) ? find_overlay (self, layer) : NULL;
      if (!o || !o->texture)
        continue;
      gboolean labels = sm_layer_get_kind (layer) == SM_LAYER_LABELS;
      GLuint program = labels ? self->labels_program : self->map_program;
      glUseProgram (program);
      set_common_uniforms (self, program, fb_w, fb_h, scale);
      glActiveTexture (GL_TEXTURE0);
      glBindTexture (GL_TEXTURE_3D, o->texture->texture);
      glUniform1f (glGetUniformLocation (program, "u_opacity"), (float) sm_layer_get_opacity (layer));
      if (labels)
        {
          glUniform1i (glGetUniformLocation (program, "u_labels"), 0);
          glUniform3i (glGetUniformLocation (program, "u_size"), (GLint) o->texture->size[2],
                       (GLint) o->texture->size[1], (GLint) o->texture->size[0]);
          glUniform1i (glGetUniformLocation (program, "u_outline"), sm_layer_get_outline (layer));
          guint32 selected[SM_VIEW_STATE_MAX_SELECTED];
          guint n_selected = sm_view_state_get_selected_ids (self->state, selected);
          if (n_selected)
            glUniform1uiv (glGetUniformLocation (program, "u_selected"), (GLsizei) n_selected, selected);
          glUniform1i (glGetUniformLocation (program, "u_n_selected"), (GLint) n_selected);
          glActiveTexture (GL_TEXTURE2);
          guint map_width;
          guint map_n = sm_gl_shared_label_map_bind (layer, &map_width);
          glUniform1i (glGetUniformLocation (program, "u_map"), 2);
          glUniform1i (glGetUniformLocation (program, "u_map_n"), (GLint) map_n);
          glUniform1i (glGetUniformLocation (program, "u_map_width"), (GLint) map_width);
          glActiveTexture (GL_TEXTURE0);
        }
      else
        {
          double lo, hi;
          sm_layer_get_stats (layer, NULL, NULL, &lo, &hi);
          sm_gl_volume_texture_set_linear ((SmGlVolumeTexture *) o->texture,
                                           sm_view_state_get_linear (self->state));
          glUniform1i (glGetUniformLocation (program, "u_map"), 0);
          glUniform1f (glGetUniformLocation (program, "u_scale"), (float) o->texture->scale);
          glUniform1f (glGetUniformLocation (program, "u_lo"), (float) lo);
          glUniform1f (glGetUniformLocation (program, "u_hi"), (float) (hi > lo ? hi : lo + 1));
          glUniform1i (glGetUniformLocation (program, "u_colormap"), sm_layer_get_colormap (layer));
        }
      draw_quad (self);
    }
}

static void
axis_colour (int dim, float alpha, float rgba[4])
{
  /* z blue, y green, x red: a line has the colour of the view whose plane it is. */
  static const float colours[3][3] = { { 0.35f, 0.6f, 1.0f }, { 0.3f, 0.9f, 0.35f },
                                       { 1.0f, 0.35f, 0.3f } };
  for (int i = 0; i < 3; i++)
    rgba[i] = colours[dim][i];
  rgba[3] = alpha;
}

static void
draw_crosshair (SmSliceView *self, int fb_w, int fb_h, double scale)
{
  double extent[2], voxel[2];
  gint64 n[2];
  sm_slice_view_plane_extent (self, extent, voxel, n);
  int dh = sm_axis_dim_h (self->axis), dv = sm_axis_dim_v (self->axis);
  double world_h = (sm_slice_view_cursor_index (self, dh) + 0.5) * voxel[0];
  double world_v = (sm_slice_view_cursor_index (self, dv) + 0.5) * voxel[1];
  double w = gtk_widget_get_width (GTK_WIDGET (self));
  double h = gtk_widget_get_height (GTK_WIDGET (self));
  float px = (float) (((world_h - self->center[0]) * self->zoom + w / 2) * scale);
  float py = (float) (((world_v - self->center[1]) * self->zoom + h / 2) * scale);
  GLuint program = self->crosshair_program;
  glUseProgram (program);
  set_common_uniforms (self, program, fb_w, fb_h, scale);
  float vertical[4], horizontal[4];
  /* The vertical line is where h is constant: the plane of the view across dim h. */
  axis_colour (dh, 0.7f, vertical);
  axis_colour (dv, 0.7f, horizontal);
  glUniform2f (glGetUniformLocation (program, "u_cursor_pix"), px, py);
  glUniform4fv (glGetUniformLocation (program, "u_colour_vertical"), 1, vertical);
  glUniform4fv (glGetUniformLocation (program, "u_colour_horizontal"), 1, horizontal);
  glUniform1f (glGetUniformLocation (program, "u_half_width"), (float) (0.6 * scale));
  glUniform1f (glGetUniformLocation (program, "u_gap"),
               (float) (MAX (6.0, 0.6 * self->zoom * MAX (voxel[0], voxel[1])) * scale));
  /* Two thin strips instead of a full-view pass: software GL pays per fragment. */
  int reach = (int) ceil (0.6 * scale) + 2;
  glEnable (GL_SCISSOR_TEST);
  glScissor ((GLint) floorf (px) - reach, 0, 2 * reach, fb_h);
  draw_quad (self);
  glScissor (0, fb_h - (GLint) floorf (py) - reach, fb_w, 2 * reach);
  draw_quad (self);
  /* The paint brush's outline around the pointer, in a box of its own. */
  double radius = sm_view_state_get_brush_radius (self->state) * voxel[0] * self->zoom * scale;
  glUniform1f (glGetUniformLocation (program, "u_brush_radius"), (float) radius);
  if (radius > 0 && self->pointer_inside)
    {
      float bx = (float) (self->pointer[0] * scale), by = (float) (self->pointer[1] * scale);
      glUniform2f (glGetUniformLocation (program, "u_brush_pix"), bx, by);
      int r = (int) ceil (radius) + 3;
      glScissor ((GLint) floorf (bx) - r, fb_h - (GLint) floorf (by) - r, 2 * r, 2 * r);
      draw_quad (self);
    }
  glDisable (GL_SCISSOR_TEST);
}

gboolean
sm_slice_view_gl_render (GtkGLArea *area, GdkGLContext *context)
{
  SmSliceView *self = SM_SLICE_VIEW (area);
  gint64 start_us = self->measure ? g_get_monotonic_time () : 0;
  glClearColor (BACKGROUND, BACKGROUND, BACKGROUND, 1);
  glClear (GL_COLOR_BUFFER_BIT);
  SmLayer *image = self->state ? sm_view_state_get_image (self->state) : NULL;
  if (self->gl_error || !image)
    return TRUE;

  guint generation = sm_view_state_get_image_generation (self->state);
  if (self->image_texture_generation != generation)
    {
      g_autoptr (GError) error = NULL;
      self->image_texture_generation = generation;
      self->image_texture_failed = FALSE;
      sm_gl_volume_texture_clear (&self->slice_texture);
      self->linear_applied = FALSE;
      release_image_texture (self);
      self->image_texture = sm_gl_shared_texture_acquire (image, self->use_es, &error);
      if (self->image_texture)
        self->image_texture_layer = g_object_ref (image);
      else
        {
          self->image_texture_failed = TRUE;
          sm_slice_view_set_gl_error (self, error->message);
          return TRUE;
        }
      g_clear_pointer (&self->gl_error, g_free);
    }
  if (self->image_texture_failed)
    return TRUE;

  gboolean linear = sm_view_state_get_linear (self->state);
  if (linear != self->linear_applied)
    {
      sm_gl_volume_texture_set_linear ((SmGlVolumeTexture *) self->image_texture, linear);
      sm_gl_volume_texture_set_linear (&self->slice_texture, linear);
      self->linear_applied = linear;
    }

  /* Downsampled image: show the level now, the full-resolution slice once it is here. */
  gboolean use_slice = FALSE;
  if (sm_layer_is_downsampled (image))
    {
      gint64 index = sm_slice_view_cursor_index (self, sm_axis_dim_w (self->axis));
      if (self->fetched && self->fetched_generation == generation)
        {
          g_autoptr (GError) error = NULL;
          if (sm_gl_volume_texture_upload (&self->slice_texture, self->fetched, SM_LAYER_IMAGE,
                                           self->use_es, TRUE, &error))
            {
              sm_gl_volume_texture_set_linear (&self->slice_texture, linear);
              self->slice_texture_index = self->fetched_index;
              self->slice_texture_generation = generation;
            }
          else
            g_warning ("%s view: %s", sm_axis_name (self->axis), error->message);
        }
      g_clear_pointer (&self->fetched, sm_slice_view_free_volume);
      use_slice = self->slice_texture.texture && self->slice_texture_index == index &&
                  self->slice_texture_generation == generation;
      if (!use_slice)
        request_full_slice (self, image, index);
    }

  GListModel *layers = sm_view_state_get_layers (self->state);
  sync_overlays (self, layers);

  int scale = gtk_widget_get_scale_factor (GTK_WIDGET (self));
  int fb_w = gtk_widget_get_width (GTK_WIDGET (self)) * scale;
  int fb_h = gtk_widget_get_height (GTK_WIDGET (self)) * scale;
  double lo, hi, gamma;
  gboolean invert;
  sm_view_state_get_contrast (self->state, &lo, &hi, &gamma, &invert);

  glViewport (0, 0, fb_w, fb_h);
  glDisable (GL_BLEND);
  GLuint program = self->image_program;
  glUseProgram (program);
  set_common_uniforms (self, program, fb_w, fb_h, scale);
  glActiveTexture (GL_TEXTURE0);
  glBindTexture (GL_TEXTURE_3D, self->image_texture->texture);
  glActiveTexture (GL_TEXTURE1);
  glBindTexture (GL_TEXTURE_2D, use_slice ? self->slice_texture.texture : 0);
  glUniform1i (glGetUniformLocation (program, "u_volume"), 0);
  glUniform1i (glGetUniformLocation (program, "u_slice"), 1);
  glUniform1i (glGetUniformLocation (program, "u_use_slice"), use_slice);
  glUniform1f (glGetUniformLocation (program, "u_scale"),
               (float) (use_slice ? self->slice_texture.scale : self->image_texture->scale));
  glUniform1f (glGetUniformLocation (program, "u_lo"), (float) lo);
  glUniform1f (glGetUniformLocation (program, "u_hi"), (float) hi);
  glUniform1f (glGetUniformLocation (program, "u_gamma"), (float) gamma);
  glUniform1i (glGetUniformLocation (program, "u_invert"), invert);
  glUniform3f (glGetUniformLocation (program, "u_background"), BACKGROUND, BACKGROUND, BACKGROUND);
  draw_quad (self);
  glActiveTexture (GL_TEXTURE0);

  glEnable (GL_BLEND);
  /* Colour blends over the image; the framebuffer stays opaque. */
  glBlendFuncSeparate (GL_SRC_ALPHA, GL_ONE_MINUS_SRC_ALPHA, GL_ZERO, GL_ONE);
  draw_overlays (self, layers, fb_w, fb_h, scale);
  draw_crosshair (self, fb_w, fb_h, scale);
  glDisable (GL_BLEND);
  glUseProgram (0);
  glBindVertexArray (0);

  if (self->measure)
    {
      glFinish ();
      self->render_us += g_get_monotonic_time () - start_us;
    }
  self->frames++;
  self->drawn_generation = generation;
  sm_slice_view_frame_drawn (self);
  return TRUE;
}


/* Let go of the old image's textures and slice now: a hidden view may not
 * draw for a long time, and its references would keep the old volume in memory. */
void
sm_slice_view_gl_drop_image (SmSliceView *self)
{
  sm_slice_view_cancel_fetch (self);
  g_clear_pointer (&self->fetched, sm_slice_view_free_volume);
  if (gtk_widget_get_realized (GTK_WIDGET (self)) && !self->gl_error && self->overlays)
    {
      gtk_gl_area_make_current (GTK_GL_AREA (self));
      release_image_texture (self);
      sm_gl_volume_texture_clear (&self->slice_texture);
      g_ptr_array_set_size (self->overlays, 0);
      self->image_texture_generation = 0;
    }
}
