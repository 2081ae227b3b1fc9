/* GL programs and volume textures (see sm-gl.h). */
#include "sm-gl.h"

#include <string.h>

GdkGLContext *
sm_gl_area_create_any_context (GtkGLArea *area)
{
  GError *error = NULL;
  GdkSurface *surface = gtk_native_get_surface (gtk_widget_get_native (GTK_WIDGET (area)));
  GdkGLContext *context = gdk_surface_create_gl_context (surface, &error);
  if (context)
    {
      gdk_gl_context_set_allowed_apis (context, GDK_GL_API_GL | GDK_GL_API_GLES);
      if (!gdk_gl_context_realize (context, &error))
        g_clear_object (&context);
    }
  if (!context)
    {
      gtk_gl_area_set_error (area, error);
      g_clear_error (&error);
    }
  return context;
}

const char *
sm_gl_preamble (gboolean use_es)
{
  if (use_es)
    return "#version 300 es\n"
           "precision highp float;\nprecision highp int;\n"
           "precision highp sampler2D;\nprecision highp sampler3D;\n"
           "precision highp usampler3D;\nprecision highp usampler2D;\n";
  return "#version 330 core\n";
}

static GLuint
compile_shader (GLenum type, const char *name, gboolean use_es, GError **error)
{
  g_autofree char *path = g_strconcat (SM_SHADER_RESOURCE_DIR, name, NULL);
  g_autoptr (GBytes) bytes = g_resources_lookup_data (path, 0, error);
  if (!bytes)
    return 0;
  gsize len;
  const char *src = g_bytes_get_data (bytes, &len);
  const char *sources[3] = { sm_gl_preamble (use_es), "#line 1\n", src };
  GLint lengths[3] = { -1, -1, (GLint) len };
  GLuint shader = glCreateShader (type);
  glShaderSource (shader, 3, sources, lengths);
  glCompileShader (shader);
  GLint ok = 0;
  glGetShaderiv (shader, GL_COMPILE_STATUS, &ok);
  if (!ok)
    {
      char log[2048] = "";
      glGetShaderInfoLog (shader, sizeof log, NULL, log);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "shader %s: %s", name, log);
      glDeleteShader (shader);
      return 0;
    }
  return shader;
}

GLuint
sm_gl_program_new (const char *vertex_name, const char *fragment_name, gboolean use_es,
                   GError **error)
{
  GLuint vs = compile_shader (GL_VERTEX_SHADER, vertex_name, use_es, error);
  if (!vs)
    return 0;
  GLuint fs = compile_shader (GL_FRAGMENT_SHADER, fragment_name, use_es, error);
  if (!fs)
    {
      glDeleteShader (vs);
      return 0;
    }
  GLuint program = glCreateProgram ();
  glAttachShader (program, vs);
  glAttachShader (program, fs);
  glLinkProgram (program);
  glDetachShader (program, vs);
  glDetachShader (program, fs);
  glDeleteShader (vs);
  glDeleteShader (fs);
  GLint ok = 0;
  glGetProgramiv (program, GL_LINK_STATUS, &ok);
  if (!ok)
    {
      char log[2048] = "";
      glGetProgramInfoLog (program, sizeof log, NULL, log);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "program %s + %s: %s", vertex_name,
                   fragment_name, log);
      glDeleteProgram (program);
      return 0;
    }
  return program;
}

int
sm_gl_check_all_shaders (gboolean use_es, int *n_checked)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = g_resources_enumerate_children (SM_SHADER_RESOURCE_DIR, 0, &error);
  int failed = 0, checked = 0;
  if (!names)
    {
      g_printerr ("shaders: %s\n", error->message);
      *n_checked = 0;
      return 1;
    }
  for (int i = 0; names[i]; i++)
    {
      GLenum type;
      if (g_str_has_suffix (names[i], ".vert"))
        type = GL_VERTEX_SHADER;
      else if (g_str_has_suffix (names[i], ".frag"))
        type = GL_FRAGMENT_SHADER;
      else
        continue;
      g_autoptr (GError) shader_error = NULL;
      GLuint shader = compile_shader (type, names[i], use_es, &shader_error);
      checked++;
      if (shader)
        {
          g_print ("ok %s\n", names[i]);
          glDeleteShader (shader);
        }
      else
        {
          g_printerr ("FAILED %s\n", shader_error->message);
          failed++;
        }
    }
  *n_checked = checked;
  return failed;
}

/* Converts v to the upload type; returns the buffer to free (or NULL when v's
 * own data can be uploaded as is) and sets the GL formats. */
static void *
prepare_pixels (const SmVolume *v, SmLayerKind kind, gboolean use_es, GLint *internal,
                GLenum *format, GLenum *type, double *scale, gboolean *integer)
{
  size_t n = sm_volume_voxels (v);
  *scale = 1;
  *integer = FALSE;
  if (kind == SM_LAYER_LABELS)
    {
      *internal = GL_R32UI;
      *format = GL_RED_INTEGER;
      *type = GL_UNSIGNED_INT;
      *integer = TRUE;
      if (v->dtype == SM_U32 || v->dtype == SM_I32)
        return NULL;
      guint32 *ids = g_try_new (guint32, n);
      if (!ids)
        return NULL;
      for (size_t i = 0; i < n; i++)
        switch (v->dtype)
          {
          case SM_U8: ids[i] = ((const guint8 *) v->data)[i]; break;
          case SM_I8: ids[i] = (guint32) ((const gint8 *) v->data)[i]; break;
          case SM_U16: ids[i] = ((const guint16 *) v->data)[i]; break;
          case SM_I16: ids[i] = (guint32) ((const gint16 *) v->data)[i]; break;
          case SM_F32: ids[i] = (guint32) ((const float *) v->data)[i]; break;
          default: ids[i] = 0;
          }
      return ids;
    }
  if (v->dtype == SM_U8)
    {
      *internal = GL_R8;
      *format = GL_RED;
      *type = GL_UNSIGNED_BYTE;
      *scale = 255;
      return NULL;
    }
  if (v->dtype == SM_U16 && !use_es) /* GLES 3.0 has no renderable/filterable R16 */
    {
      *internal = GL_R16;
      *format = GL_RED;
      *type = GL_UNSIGNED_SHORT;
      *scale = 65535;
      return NULL;
    }
  *internal = GL_R32F;
  *format = GL_RED;
  *type = GL_FLOAT;
  if (v->dtype == SM_F32)
    return NULL;
  float *f = g_try_new (float, n);
  if (!f)
    return NULL;
  for (size_t i = 0; i < n; i++)
    switch (v->dtype)
      {
      case SM_I8: f[i] = ((const gint8 *) v->data)[i]; break;
      case SM_U16: f[i] = ((const guint16 *) v->data)[i]; break;
      case SM_I16: f[i] = ((const gint16 *) v->data)[i]; break;
      case SM_U32: f[i] = (float) ((const guint32 *) v->data)[i]; break;
      case SM_I32: f[i] = (float) ((const gint32 *) v->data)[i]; break;
      default: f[i] = 0;
      }
  return f;
}

gboolean
sm_gl_volume_texture_upload (SmGlVolumeTexture *t, const SmVolume *v, SmLayerKind kind,
                             gboolean use_es, gboolean as_2d, GError **error)
{
  GLint internal;
  GLenum format, type;
  gboolean integer;
  double scale;
  sm_gl_volume_texture_clear (t);
  void *converted = prepare_pixels (v, kind, use_es, &internal, &format, &type, &scale, &integer);
  gboolean needs_conversion = !(kind == SM_LAYER_LABELS ? (v->dtype == SM_U32 || v->dtype == SM_I32)
                                                        : (v->dtype == SM_U8 || v->dtype == SM_F32 ||
                                                           (v->dtype == SM_U16 && !use_es)));
  if (needs_conversion && !converted)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "not enough memory to upload the volume");
      return FALSE;
    }
  const void *pixels = converted ? converted : v->data;
  while (glGetError () != GL_NO_ERROR)
    ; /* start from a clean error state */
  GLenum target = as_2d ? GL_TEXTURE_2D : GL_TEXTURE_3D;
  glGenTextures (1, &t->texture);
  glBindTexture (target, t->texture);
  glPixelStorei (GL_UNPACK_ALIGNMENT, 1);
  if (as_2d)
    glTexImage2D (target, 0, internal, (GLsizei) v->nx, (GLsizei) v->ny, 0, format, type, pixels);
  else
    glTexImage3D (target, 0, internal, (GLsizei) v->nx, (GLsizei) v->ny, (GLsizei) v->nz, 0,
                  format, type, pixels);
  g_free (converted);
  GLenum gl_error = glGetError ();
  if (gl_error != GL_NO_ERROR)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "the GPU refused a %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT
                   " texture (GL error 0x%x)", v->nz, v->ny, v->nx, gl_error);
      glDeleteTextures (1, &t->texture);
      t->texture = 0;
      return FALSE;
    }
  glTexParameteri (target, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri (target, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  if (!as_2d)
    glTexParameteri (target, GL_TEXTURE_WRAP_R, GL_CLAMP_TO_EDGE);
  glTexParameteri (target, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri (target, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  t->target = target;
  t->size[0] = v->nz;
  t->size[1] = v->ny;
  t->size[2] = v->nx;
  t->scale = scale;
  t->integer = integer;
  t->filterable = !integer && !(internal == GL_R32F && use_es &&
                                !epoxy_has_gl_extension ("GL_OES_texture_float_linear"));
  return TRUE;
}

void
sm_gl_volume_texture_clear (SmGlVolumeTexture *t)
{
  if (t->texture)
    glDeleteTextures (1, &t->texture);
  memset (t, 0, sizeof *t);
}

void
sm_gl_volume_texture_set_linear (SmGlVolumeTexture *t, gboolean linear)
{
  /* Integer textures cannot be filtered; float ones on GLES need an extension. */
  if (!t->texture || !t->filterable)
    return;
  glBindTexture (t->target, t->texture);
  GLint filter = linear ? GL_LINEAR : GL_NEAREST;
  glTexParameteri (t->target, GL_TEXTURE_MIN_FILTER, filter);
  glTexParameteri (t->target, GL_TEXTURE_MAG_FILTER, filter);
}
