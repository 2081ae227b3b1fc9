/* Widget screenshots (see sm-screenshot.h). */
#include "sm-screenshot.h"

#include <glib/gstdio.h>
#include <math.h>

gboolean
sm_widget_save_png (GtkWidget *widget, const char *path, GError **error)
{
  /* The paintable draws the widget's bounds (for a window: with its
   * client-side decoration margins) scaled to the size asked for, so ask for
   * exactly the bounds to get one pixel per pixel. */
  graphene_rect_t widget_bounds;
  GtkNative *native = gtk_widget_get_native (widget);
  GskRenderer *renderer = native ? gtk_native_get_renderer (native) : NULL;
  if (!gtk_widget_compute_bounds (widget, widget, &widget_bounds))
    graphene_rect_init (&widget_bounds, 0, 0, 0, 0);
  int width = (int) ceilf (widget_bounds.size.width);
  int height = (int) ceilf (widget_bounds.size.height);
  if (width <= 0 || height <= 0 || !renderer)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: the window is not shown", path);
      return FALSE;
    }
  /* The widget paintable snapshots the widget as it is now: the GL areas
   * contribute the textures they last rendered. */
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  GskRenderNode *node = gtk_snapshot_free_to_node (snapshot);
  if (!node)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PENDING, "%s: nothing to draw yet", path);
      return FALSE;
    }
  graphene_rect_t bounds = GRAPHENE_RECT_INIT (0, 0, width, height);
  GdkTexture *texture = gsk_renderer_render_texture (renderer, node, &bounds);
  gsk_render_node_unref (node);
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
  gboolean ok = gdk_texture_save_to_png (texture, tmp);
  g_object_unref (texture);
  if (!ok || g_rename (tmp, path) != 0)
    {
      g_unlink (tmp);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot write the PNG", path);
      return FALSE;
    }
  return TRUE;
}

gboolean
sm_widget_bounds_in_png (GtkWidget *widget, GtkWidget *descendant, graphene_rect_t *out)
{
  graphene_rect_t own, child;
  if (!gtk_widget_compute_bounds (widget, widget, &own) ||
      !gtk_widget_compute_bounds (descendant, widget, &child))
    return FALSE;
  graphene_rect_init (out, child.origin.x - own.origin.x, child.origin.y - own.origin.y,
                      child.size.width, child.size.height);
  return TRUE;
}
