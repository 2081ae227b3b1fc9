/* Small OpenGL helpers for the studio's GL areas: programs built from the
 * GResource shaders (with a desktop 3.3 core or ES 3.0 preamble) and volume
 * textures in the format that suits their dtype. Call with a current
 * context, from the main thread. */
#pragma once

#include <epoxy/gl.h>
#include <gtk/gtk.h>

#include "data/volume.h"
#include "sm-layer.h"

G_BEGIN_DECLS

#define SM_SHADER_RESOURCE_DIR "/org/semmae/Studio/shaders/"

/* GtkGLArea::create-context that accepts desktop GL or GLES, whichever the
 * display offers (GTK 4.8's own asks for desktop GL only, so GDK_DEBUG=gl-gles
 * or a GLES-only driver would leave the area without GL). Sets the area's
 * error and returns NULL on failure. */
GdkGLContext *sm_gl_area_create_any_context (GtkGLArea *area);

/* The #version line and precision qualifiers for this context. */
const char *sm_gl_preamble (gboolean use_es);

/* Compiles SM_SHADER_RESOURCE_DIR/vertex_name + fragment_name and links
 * them. Returns 0 with a message naming the shader and the log. */
GLuint sm_gl_program_new (const char *vertex_name, const char *fragment_name, gboolean use_es,
                          GError **error);

/* Compiles every shader in the resource directory (for --check-shaders);
 * returns the number that failed, printing each log to stderr. */
int sm_gl_check_all_shaders (gboolean use_es, int *n_checked);

typedef struct {
  GLuint texture;
  GLenum target;      /* GL_TEXTURE_3D, or GL_TEXTURE_2D for one slice */
  gint64 size[3];     /* (z, y, x) texels */
  double scale;       /* data value = sampled value * scale (normalised formats) */
  gboolean integer;   /* GL_R32UI: sample with texelFetch on a usampler */
  gboolean filterable; /* linear filtering allowed (not R32F on GLES without OES_texture_float_linear) */
} SmGlVolumeTexture;

/* Uploads v (a 1 x H x W volume becomes a 2D texture when as_2d) for a layer
 * of this kind: u8 -> R8, u16 -> R16 (desktop GL), others -> R32F; labels ->
 * R32UI. Returns FALSE with an error (e.g. out of memory) and no texture. */
gboolean sm_gl_volume_texture_upload (SmGlVolumeTexture *t, const SmVolume *v,
                                      SmLayerKind kind, gboolean use_es, gboolean as_2d,
                                      GError **error);
void sm_gl_volume_texture_clear (SmGlVolumeTexture *t);
void sm_gl_volume_texture_set_linear (SmGlVolumeTexture *t, gboolean linear);

G_END_DECLS
