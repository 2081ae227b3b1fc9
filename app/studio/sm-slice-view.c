/* SmSliceView: an orthogonal slice view (see sm-slice-view.h). */
#include "sm-slice-view.h"

#include <math.h>

#include "sm-gl.h"
#include "sm-gl-shared.h"
#include "sm-volume-level.h"

#define BACKGROUND 0.12f
#define DRAG_THRESHOLD 3.0

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

G_DEFINE_FINAL_TYPE (SmSliceView, sm_slice_view, GTK_TYPE_GL_AREA)

enum { PROP_0, PROP_AXIS, PROP_STATE, PROP_TITLE, N_PROPS };
static GParamSpec *props[N_PROPS];

enum { HOVER, FRAME, N_SIGNALS };
static guint signals[N_SIGNALS];

/* --- geometry -------------------------------------------------------------- */

static void
volume_shape (SmSliceView *self, gint64 shape[3], double voxel[3])
{
  SmLayer *image = self->state ? sm_view_state_get_image (self->state) : NULL;
  const SmVolume *v = image ? sm_layer_get_volume (image) : NULL;
  shape[0] = v ? v->nz : 1;
  shape[1] = v ? v->ny : 1;
  shape[2] = v ? v->nx : 1;
  for (int i = 0; i < 3; i++)
    {
      double s = v ? v->voxel_size[i] : 1;
      voxel[i] = (s > 0 && isfinite (s)) ? s : 1;
    }
}

/* World extent of the slice plane (h, v). */
static void
plane_extent (SmSliceView *self, double extent[2], double voxel_hv[2], gint64 n_hv[2])
{
  gint64 shape[3];
  double voxel[3];
  volume_shape (self, shape, voxel);
  int dh = sm_axis_dim_h (self->axis), dv = sm_axis_dim_v (self->axis);
  n_hv[0] = shape[dh];
  n_hv[1] = shape[dv];
  voxel_hv[0] = voxel[dh];
  voxel_hv[1] = voxel[dv];
  extent[0] = (double) shape[dh] * voxel[dh];
  extent[1] = (double) shape[dv] * voxel[dv];
}

static void
widget_to_world (SmSliceView *self, double x, double y, double world[2])
{
  double w = gtk_widget_get_width (GTK_WIDGET (self));
  double h = gtk_widget_get_height (GTK_WIDGET (self));
  world[0] = (x - w / 2) / self->zoom + self->center[0];
  world[1] = (y - h / 2) / self->zoom + self->center[1];
}

static gint64
cursor_index (SmSliceView *self, int dim)
{
  double c[3];
  sm_view_state_get_cursor (self->state, &c[0], &c[1], &c[2]);
  return (gint64) floor (c[dim] + 0.5);
}

void
sm_slice_view_fit (SmSliceView *self)
{
  double extent[2], voxel[2];
  gint64 n[2];
  plane_extent (self, extent, voxel, n);
  double w = MAX (gtk_widget_get_width (GTK_WIDGET (self)), 1);
  double h = MAX (gtk_widget_get_height (GTK_WIDGET (self)), 1);
  self->zoom = 0.96 * MIN (w / extent[0], h / extent[1]);
  self->center[0] = extent[0] / 2;
  self->center[1] = extent[1] / 2;
  self->auto_fit = TRUE;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

void
sm_slice_view_zoom_at (SmSliceView *self, double factor, double x, double y)
{
  double before[2];
  widget_to_world (self, x, y, before);
  self->zoom = CLAMP (self->zoom * factor, 1e-6, 1e6);
  double after[2];
  widget_to_world (self, x, y, after);
  /* Keep the world point under (x, y) where it was. */
  self->center[0] += before[0] - after[0];
  self->center[1] += before[1] - after[1];
  self->auto_fit = FALSE;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

void
sm_slice_view_step_slice (SmSliceView *self, int delta)
{
  if (!self->state || !sm_view_state_get_image (self->state))
    return;
  double c[3];
  sm_view_state_get_cursor (self->state, &c[0], &c[1], &c[2]);
  int dw = sm_axis_dim_w (self->axis);
  c[dw] = floor (c[dw] + 0.5) + delta;
  sm_view_state_set_cursor (self->state, c[0], c[1], c[2]);
}

/* The voxel under widget point (x, y); FALSE outside the volume. */
static gboolean
voxel_at (SmSliceView *self, double x, double y, double voxel_out[3], gboolean clamp)
{
  double world[2], extent[2], voxel[2];
  gint64 n[2];
  widget_to_world (self, x, y, world);
  plane_extent (self, extent, voxel, n);
  double ih = floor (world[0] / voxel[0]), iv = floor (world[1] / voxel[1]);
  gboolean inside = ih >= 0 && iv >= 0 && ih < (double) n[0] && iv < (double) n[1];
  if (!inside && !clamp)
    return FALSE;
  double c[3];
  sm_view_state_get_cursor (self->state, &c[0], &c[1], &c[2]);
  c[sm_axis_dim_h (self->axis)] = CLAMP (ih, 0, (double) n[0] - 1);
  c[sm_axis_dim_v (self->axis)] = CLAMP (iv, 0, (double) n[1] - 1);
  c[sm_axis_dim_w (self->axis)] = floor (c[sm_axis_dim_w (self->axis)] + 0.5);
  voxel_out[0] = c[0];
  voxel_out[1] = c[1];
  voxel_out[2] = c[2];
  return inside;
}

/* --- title ----------------------------------------------------------------- */

static void
update_title (SmSliceView *self)
{
  g_autofree char *title = NULL;
  if (self->gl_error)
    title = g_strdup_printf ("%s — %s", sm_axis_name (self->axis), self->gl_error);
  else if (self->state && sm_view_state_get_image (self->state))
    {
      gint64 shape[3];
      double voxel[3];
      volume_shape (self, shape, voxel);
      int dw = sm_axis_dim_w (self->axis);
      title = g_strdup_printf ("%s  %s = %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT,
                               sm_axis_name (self->axis), sm_axis_slice_letter (self->axis),
                               cursor_index (self, dw), shape[dw]);
    }
  else
    title = g_strdup (sm_axis_name (self->axis));
  if (g_strcmp0 (title, self->title) == 0)
    return;
  g_free (self->title);
  self->title = g_steal_pointer (&title);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_TITLE]);
}

static void
set_gl_error (SmSliceView *self, const char *message)
{
  g_free (self->gl_error);
  self->gl_error = g_strdup (message);
  g_warning ("%s view: %s", sm_axis_name (self->axis), message);
  update_title (self);
}

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

static void
free_volume (SmVolume *v)
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
  g_task_return_pointer (task, slice, (GDestroyNotify) free_volume);
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
    free_volume (self->fetched);
  self->fetched = slice;
  self->fetched_index = job->index;
  self->fetched_generation = sm_view_state_get_image_generation (self->state);
  g_clear_object (&self->fetch_cancellable);
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

static void
cancel_fetch (SmSliceView *self)
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
  cancel_fetch (self);
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

static void
sm_slice_view_realize (GtkWidget *widget)
{
  SmSliceView *self = SM_SLICE_VIEW (widget);
  GTK_WIDGET_CLASS (sm_slice_view_parent_class)->realize (widget);
  gtk_gl_area_make_current (GTK_GL_AREA (self));
  if (gtk_gl_area_get_error (GTK_GL_AREA (self)))
    {
      set_gl_error (self, gtk_gl_area_get_error (GTK_GL_AREA (self))->message);
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
      set_gl_error (self, message);
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
      set_gl_error (self, error->message);
      return;
    }
  glGenVertexArrays (1, &self->vao);
  GLint max_3d = 0;
  glGetIntegerv (GL_MAX_3D_TEXTURE_SIZE, &max_3d);
  if (max_3d > 0)
    sm_texture_set_max_dim (max_3d);
  self->overlays = g_ptr_array_new_with_free_func ((GDestroyNotify) overlay_texture_free);
}

static void
sm_slice_view_unrealize (GtkWidget *widget)
{
  SmSliceView *self = SM_SLICE_VIEW (widget);
  gtk_gl_area_make_current (GTK_GL_AREA (self));
  cancel_fetch (self);
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
  GTK_WIDGET_CLASS (sm_slice_view_parent_class)->unrealize (widget);
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
  plane_extent (self, extent, voxel, n);
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
  volume_shape (self, shape, vox);
  int dw = sm_axis_dim_w (self->axis);
  float plane = (float) ((cursor_index (self, dw) + 0.5) / (double) shape[dw]);
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
          glUniform1ui (glGetUniformLocation (program, "u_selected"),
                        sm_view_state_get_selected_id (self->state));
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
  plane_extent (self, extent, voxel, n);
  int dh = sm_axis_dim_h (self->axis), dv = sm_axis_dim_v (self->axis);
  double world_h = (cursor_index (self, dh) + 0.5) * voxel[0];
  double world_v = (cursor_index (self, dv) + 0.5) * voxel[1];
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
  glDisable (GL_SCISSOR_TEST);
}

static gboolean
sm_slice_view_render (GtkGLArea *area, GdkGLContext *context)
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
          set_gl_error (self, error->message);
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
      gint64 index = cursor_index (self, sm_axis_dim_w (self->axis));
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
      g_clear_pointer (&self->fetched, free_volume);
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
  g_signal_emit (self, signals[FRAME], 0);
  return TRUE;
}

static void
sm_slice_view_resize (GtkGLArea *area, int width, int height)
{
  SmSliceView *self = SM_SLICE_VIEW (area);
  if (self->auto_fit)
    sm_slice_view_fit (self);
}

/* --- input ----------------------------------------------------------------- */

static void
emit_hover (SmSliceView *self)
{
  double c[3] = { 0, 0, 0 };
  gboolean inside = self->pointer_inside && self->state && sm_view_state_get_image (self->state) &&
                    voxel_at (self, self->pointer[0], self->pointer[1], c, FALSE);
  g_signal_emit (self, signals[HOVER], 0, c[0], c[1], c[2], inside);
}

static void
on_motion (GtkEventControllerMotion *controller, double x, double y, SmSliceView *self)
{
  self->pointer[0] = x;
  self->pointer[1] = y;
  self->pointer_inside = TRUE;
  emit_hover (self);
}

static void
on_leave (GtkEventControllerMotion *controller, SmSliceView *self)
{
  self->pointer_inside = FALSE;
  emit_hover (self);
}

static void
on_drag_begin (GtkGestureDrag *gesture, double x, double y, SmSliceView *self)
{
  self->drag_center[0] = self->center[0];
  self->drag_center[1] = self->center[1];
  self->drag_moved = FALSE;
  gtk_widget_grab_focus (GTK_WIDGET (self));
}

static void
on_drag_update (GtkGestureDrag *gesture, double dx, double dy, SmSliceView *self)
{
  if (!self->drag_moved && hypot (dx, dy) < DRAG_THRESHOLD)
    return;
  self->drag_moved = TRUE;
  self->center[0] = self->drag_center[0] - dx / self->zoom;
  self->center[1] = self->drag_center[1] - dy / self->zoom;
  self->auto_fit = FALSE;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

static void
on_drag_end (GtkGestureDrag *gesture, double dx, double dy, SmSliceView *self)
{
  if (self->drag_moved || !self->state || !sm_view_state_get_image (self->state))
    return;
  /* A click: move the crosshair; with Ctrl also select the segment there. */
  double x, y, c[3];
  gtk_gesture_drag_get_start_point (gesture, &x, &y);
  guint button = gtk_gesture_single_get_current_button (GTK_GESTURE_SINGLE (gesture));
  if (button != GDK_BUTTON_PRIMARY || !voxel_at (self, x, y, c, FALSE))
    return;
  sm_view_state_set_cursor (self->state, c[0], c[1], c[2]);
  GdkModifierType mods = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (gesture));
  SmLayer *labels = sm_view_state_get_label_layer (self->state);
  if ((mods & GDK_CONTROL_MASK) && labels)
    sm_view_state_set_selected_id (self->state, (guint32) sm_layer_value_at (
                                                    labels, (gint64) c[0], (gint64) c[1], (gint64) c[2]));
}

static gboolean
on_scroll (GtkEventControllerScroll *controller, double dx, double dy, SmSliceView *self)
{
  GdkModifierType mods = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (controller));
  if (mods & GDK_CONTROL_MASK)
    {
      double x = self->pointer_inside ? self->pointer[0] : gtk_widget_get_width (GTK_WIDGET (self)) / 2.0;
      double y = self->pointer_inside ? self->pointer[1] : gtk_widget_get_height (GTK_WIDGET (self)) / 2.0;
      sm_slice_view_zoom_at (self, pow (1.15, -dy), x, y);
      return TRUE;
    }
  /* Smooth scrolling (touchpads) arrives in fractions: one slice per whole step. */
  self->scroll_accumulated += dy;
  int steps = (int) trunc (self->scroll_accumulated);
  if (steps != 0)
    {
      self->scroll_accumulated -= steps;
      sm_slice_view_step_slice (self, steps);
      emit_hover (self);
    }
  return TRUE;
}

static void
on_zoom_begin (GtkGesture *gesture, GdkEventSequence *sequence, SmSliceView *self)
{
  self->gesture_zoom_last = 1;
}

static void
on_zoom_scale_changed (GtkGestureZoom *gesture, double scale, SmSliceView *self)
{
  double x, y;
  if (!gtk_gesture_get_bounding_box_center (GTK_GESTURE (gesture), &x, &y))
    return;
  if (self->gesture_zoom_last > 0 && scale > 0)
    sm_slice_view_zoom_at (self, scale / self->gesture_zoom_last, x, y);
  self->gesture_zoom_last = scale;
}

static gboolean
on_key_pressed (GtkEventControllerKey *controller, guint keyval, guint keycode,
                GdkModifierType state, SmSliceView *self)
{
  double cx = gtk_widget_get_width (GTK_WIDGET (self)) / 2.0;
  double cy = gtk_widget_get_height (GTK_WIDGET (self)) / 2.0;
  if (self->pointer_inside)
    {
      cx = self->pointer[0];
      cy = self->pointer[1];
    }
  switch (keyval)
    {
    case GDK_KEY_Page_Up: case GDK_KEY_KP_Page_Up: case GDK_KEY_Up:
      sm_slice_view_step_slice (self, -1);
      return TRUE;
    case GDK_KEY_Page_Down: case GDK_KEY_KP_Page_Down: case GDK_KEY_Down:
      sm_slice_view_step_slice (self, 1);
      return TRUE;
    case GDK_KEY_Home: case GDK_KEY_KP_Home:
      sm_slice_view_fit (self);
      return TRUE;
    case GDK_KEY_plus: case GDK_KEY_equal: case GDK_KEY_KP_Add:
      sm_slice_view_zoom_at (self, 1.25, cx, cy);
      return TRUE;
    case GDK_KEY_minus: case GDK_KEY_KP_Subtract:
      sm_slice_view_zoom_at (self, 1 / 1.25, cx, cy);
      return TRUE;
    default:
      return FALSE;
    }
}

/* --- GObject --------------------------------------------------------------- */

static void
on_state_changed (SmViewState *state, SmSliceView *self)
{
  update_title (self);
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

static void
on_image_changed (SmViewState *state, GParamSpec *pspec, SmSliceView *self)
{
  cancel_fetch (self);
  g_clear_pointer (&self->fetched, free_volume);
  /* Let go of the old image's textures now: a hidden view may not draw for a
   * long time, and its references would keep the old volume in memory. */
  if (gtk_widget_get_realized (GTK_WIDGET (self)) && !self->gl_error && self->overlays)
    {
      gtk_gl_area_make_current (GTK_GL_AREA (self));
      release_image_texture (self);
      sm_gl_volume_texture_clear (&self->slice_texture);
      g_ptr_array_set_size (self->overlays, 0);
      self->image_texture_generation = 0;
    }
  sm_slice_view_fit (self);
}

void
sm_slice_view_set_state (SmSliceView *self, SmViewState *state)
{
  if (self->state == state)
    return;
  if (self->state)
    g_signal_handlers_disconnect_by_data (self->state, self);
  g_set_object (&self->state, state);
  if (state)
    {
      g_signal_connect (state, "changed", G_CALLBACK (on_state_changed), self);
      g_signal_connect (state, "notify::image", G_CALLBACK (on_image_changed), self);
      g_signal_connect_swapped (state, "notify::geometry", G_CALLBACK (sm_slice_view_fit), self);
    }
  update_title (self);
  sm_slice_view_fit (self);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE]);
}

static void
sm_slice_view_dispose (GObject *object)
{
  SmSliceView *self = SM_SLICE_VIEW (object);
  cancel_fetch (self);
  if (self->state)
    g_signal_handlers_disconnect_by_data (self->state, self);
  g_clear_object (&self->state);
  g_clear_pointer (&self->fetched, free_volume);
  G_OBJECT_CLASS (sm_slice_view_parent_class)->dispose (object);
}

static void
sm_slice_view_finalize (GObject *object)
{
  SmSliceView *self = SM_SLICE_VIEW (object);
  g_free (self->title);
  g_free (self->gl_error);
  G_OBJECT_CLASS (sm_slice_view_parent_class)->finalize (object);
}

static void
sm_slice_view_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  SmSliceView *self = SM_SLICE_VIEW (object);
  switch (id)
    {
    case PROP_AXIS: g_value_set_enum (value, self->axis); break;
    case PROP_STATE: g_value_set_object (value, self->state); break;
    case PROP_TITLE: g_value_set_string (value, sm_slice_view_get_title (self)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
sm_slice_view_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  SmSliceView *self = SM_SLICE_VIEW (object);
  switch (id)
    {
    case PROP_AXIS:
      self->axis = g_value_get_enum (value);
      update_title (self);
      break;
    case PROP_STATE: sm_slice_view_set_state (self, g_value_get_object (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
sm_slice_view_class_init (SmSliceViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkGLAreaClass *area_class = GTK_GL_AREA_CLASS (klass);
  object_class->dispose = sm_slice_view_dispose;
  object_class->finalize = sm_slice_view_finalize;
  object_class->get_property = sm_slice_view_get_property;
  object_class->set_property = sm_slice_view_set_property;
  widget_class->realize = sm_slice_view_realize;
  widget_class->unrealize = sm_slice_view_unrealize;
  area_class->render = sm_slice_view_render;
  area_class->resize = sm_slice_view_resize;
  area_class->create_context = sm_gl_area_create_any_context;

  props[PROP_AXIS] = g_param_spec_enum ("axis", NULL, NULL, SM_TYPE_AXIS, SM_AXIS_XY,
                                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                        G_PARAM_STATIC_STRINGS);
  props[PROP_STATE] = g_param_spec_object ("state", NULL, NULL, SM_TYPE_VIEW_STATE,
                                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                           G_PARAM_STATIC_STRINGS);
  props[PROP_TITLE] = g_param_spec_string ("title", NULL, NULL, NULL,
                                           G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /* The voxel (z, y, x) under the pointer; inside is FALSE when it left the volume. */
  signals[HOVER] = g_signal_new ("hover", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                 NULL, NULL, G_TYPE_NONE, 4, G_TYPE_DOUBLE, G_TYPE_DOUBLE,
                                 G_TYPE_DOUBLE, G_TYPE_BOOLEAN);
  /* Emitted after each frame with the image drawn. */
  signals[FRAME] = g_signal_new ("frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                 NULL, NULL, G_TYPE_NONE, 0);
  gtk_widget_class_set_css_name (widget_class, "sliceview");
}

static void
sm_slice_view_init (SmSliceView *self)
{
  self->zoom = 1;
  self->auto_fit = TRUE;
  gtk_gl_area_set_auto_render (GTK_GL_AREA (self), FALSE);
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_focus_on_click (GTK_WIDGET (self), TRUE);
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_size_request (GTK_WIDGET (self), 120, 80);

  GtkEventController *motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);

  GtkGesture *drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), 0);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (on_drag_end), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));

  GtkEventController *scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  g_signal_connect (scroll, "scroll", G_CALLBACK (on_scroll), self);
  gtk_widget_add_controller (GTK_WIDGET (self), scroll);

  GtkGesture *zoom = gtk_gesture_zoom_new ();
  g_signal_connect (zoom, "begin", G_CALLBACK (on_zoom_begin), self);
  g_signal_connect (zoom, "scale-changed", G_CALLBACK (on_zoom_scale_changed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (zoom));

  GtkEventController *keys = gtk_event_controller_key_new ();
  g_signal_connect (keys, "key-pressed", G_CALLBACK (on_key_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
}

GtkWidget *
sm_slice_view_new (SmAxis axis, SmViewState *state)
{
  return g_object_new (SM_TYPE_SLICE_VIEW, "axis", axis, "state", state, NULL);
}

SmAxis sm_slice_view_get_axis (SmSliceView *self) { return self->axis; }
SmViewState *sm_slice_view_get_state (SmSliceView *self) { return self->state; }
guint sm_slice_view_get_frame_count (SmSliceView *self) { return self->frames; }

const char *
sm_slice_view_get_title (SmSliceView *self)
{
  if (!self->title)
    update_title (self);
  return self->title;
}

gboolean
sm_slice_view_is_settled (SmSliceView *self)
{
  if (self->gl_error)
    return TRUE;
  SmLayer *image = self->state ? sm_view_state_get_image (self->state) : NULL;
  if (!image || !gtk_widget_get_realized (GTK_WIDGET (self)))
    return FALSE;
  guint generation = sm_view_state_get_image_generation (self->state);
  if (self->frames == 0 || self->drawn_generation != generation)
    return FALSE;
  if (!sm_layer_is_downsampled (image))
    return TRUE;
  return self->slice_texture.texture && self->slice_texture_generation == generation &&
         self->slice_texture_index == cursor_index (self, sm_axis_dim_w (self->axis));
}

void
sm_slice_view_get_plane_rect (SmSliceView *self, graphene_rect_t *rect)
{
  double extent[2], voxel[2];
  gint64 n[2];
  plane_extent (self, extent, voxel, n);
  double w = gtk_widget_get_width (GTK_WIDGET (self));
  double h = gtk_widget_get_height (GTK_WIDGET (self));
  double x0 = (0 - self->center[0]) * self->zoom + w / 2;
  double y0 = (0 - self->center[1]) * self->zoom + h / 2;
  graphene_rect_init (rect, (float) x0, (float) y0, (float) (extent[0] * self->zoom),
                      (float) (extent[1] * self->zoom));
}

void
sm_slice_view_set_measure (SmSliceView *self, gboolean measure)
{
  self->measure = measure;
  self->render_us = 0;
}

gint64 sm_slice_view_get_render_time (SmSliceView *self) { return self->render_us; }
