/* SmVolumeView: stub (the ray-marcher lands next); keeps the API linkable. */
#include "sm-volume-view.h"

struct _SmVolumeView {
  GtkGLArea parent_instance;
};

G_DEFINE_FINAL_TYPE (SmVolumeView, sm_volume_view, GTK_TYPE_GL_AREA)

static gboolean
sm_volume_view_render (GtkGLArea *area, GdkGLContext *context)
{
  return TRUE;
}

static void
sm_volume_view_class_init (SmVolumeViewClass *klass)
{
  GTK_GL_AREA_CLASS (klass)->render = sm_volume_view_render;
}

static void
sm_volume_view_init (SmVolumeView *self)
{
}

GtkWidget *
sm_volume_view_new (void)
{
  return g_object_new (SM_TYPE_VOLUME_VIEW, NULL);
}

void sm_volume_view_set_volume (SmVolumeView *self, const SmVolume *volume) {}
void sm_volume_view_set_contrast (SmVolumeView *self, double lo, double hi, double gamma, gboolean invert) {}
void sm_volume_view_set_cursor (SmVolumeView *self, double z, double y, double x) {}
void sm_volume_view_set_render_mode (SmVolumeView *self, SmRenderMode mode) {}
void sm_volume_view_set_transfer (SmVolumeView *self, double opacity, double low, double high) {}
void sm_volume_view_set_labels (SmVolumeView *self, const SmVolume *labels) {}
void sm_volume_view_set_selected_segments (SmVolumeView *self, const guint32 *ids, gsize n_ids) {}
void sm_volume_view_labels_changed (SmVolumeView *self, const gint64 lo[3], const gint64 hi[3]) {}
void sm_volume_view_reset_camera (SmVolumeView *self) {}
