/* The studio's widgets instantiate under Xvfb: the application, the window
 * from its template (views, panel, status bar), the three slice views bound
 * to the shared state, layouts, and the shortcuts window resource. */
#include <string.h>
#include <sys/wait.h>

#include "tap.h"
#include "xvfb.h"
#include "sm-application.h"
#include "sm-loader.h"
#include "sm-slice-view.h"
#include "sm-view-panel.h"
#include "sm-window.h"

static void
iterate (int n)
{
  for (int i = 0; i < n; i++)
    g_main_context_iteration (NULL, FALSE);
}

static GtkWidget *
find_slice_view (GtkWidget *root, SmAxis axis)
{
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      if (SM_IS_SLICE_VIEW (child) && sm_slice_view_get_axis (SM_SLICE_VIEW (child)) == axis)
        return child;
      GtkWidget *found = find_slice_view (child, axis);
      if (found)
        return found;
    }
  return NULL;
}

static void
on_activate (GApplication *app, gpointer data)
{
  SmWindow *window = sm_window_new (SM_APPLICATION (app));
  TAP_OK (SM_IS_WINDOW (window), "the window instantiates from its template");
  gtk_window_present (GTK_WINDOW (window));
  iterate (20);

  SmViewState *state = sm_window_get_state (window);
  GtkWidget *views[3];
  for (int a = 0; a < 3; a++)
    {
      views[a] = find_slice_view (GTK_WIDGET (window), (SmAxis) a);
      TAP_OK (views[a] && sm_slice_view_get_state (SM_SLICE_VIEW (views[a])) == state,
              "%s view exists and shares the window's state", sm_axis_name ((SmAxis) a));
    }

  SmVolume v = { 0 };
  SmError err = { { 0 } };
  sm_volume_alloc (&v, SM_U8, 5, 40, 60, &err);
  for (size_t i = 0; i < sm_volume_voxels (&v); i++)
    ((guint8 *) v.data)[i] = (guint8) (i * 7);
  SmLayer *image = sm_layer_new_prepared (SM_LAYER_IMAGE, "test", &v, NULL);
  sm_view_state_set_image (state, image);
  iterate (20);
  TAP_OK (!g_strcmp0 (sm_slice_view_get_title (SM_SLICE_VIEW (views[0])), "XY  z = 2/5"),
          "XY title: %s", sm_slice_view_get_title (SM_SLICE_VIEW (views[0])));
  sm_slice_view_step_slice (SM_SLICE_VIEW (views[0]), 1);
  double z, y, x;
  sm_view_state_get_cursor (state, &z, &y, &x);
  TAP_OK (z == 3, "stepping the XY view moves the shared cursor's z (%g)", z);
  TAP_OK (!g_strcmp0 (sm_slice_view_get_title (SM_SLICE_VIEW (views[1])), "XZ  y = 20/40"),
          "XZ title: %s", sm_slice_view_get_title (SM_SLICE_VIEW (views[1])));
  sm_slice_view_step_slice (SM_SLICE_VIEW (views[2]), -100);
  sm_view_state_get_cursor (state, &z, &y, &x);
  TAP_OK (x == 0, "stepping the YZ view stops at the first slice (x = %g)", x);

  sm_window_set_layout (window, "xy");
  iterate (10);
  TAP_OK (!gtk_widget_get_mapped (views[1]) && gtk_widget_get_mapped (views[0]), "XY-only layout hides XZ");
  sm_window_set_layout (window, "grid");
  iterate (10);
  TAP_OK (gtk_widget_get_mapped (views[1]) && gtk_widget_get_mapped (views[2]), "grid layout shows all views");

  GtkWidget *panel = g_object_new (SM_TYPE_VIEW_PANEL, NULL);
  sm_view_panel_set_state (SM_VIEW_PANEL (panel), state);
  TAP_OK (SM_IS_VIEW_PANEL (panel), "the view panel instantiates on its own");
  g_object_ref_sink (panel);
  g_object_unref (panel);

  GtkBuilder *builder = gtk_builder_new_from_resource ("/org/semmae/Studio/gtk/help-overlay.ui");
  TAP_OK (GTK_IS_SHORTCUTS_WINDOW (gtk_builder_get_object (builder, "help_overlay")),
          "the shortcuts window builds");
  g_object_unref (builder);

  g_object_unref (image);
  gtk_window_destroy (GTK_WINDOW (window));
  iterate (10);
  TAP_OK (TRUE, "the window is destroyed cleanly");
}

int
main (int argc, char **argv)
{
  gboolean child;
  int status = xvfb_reexec (argc, argv, &child);
  if (!child)
    return status == 77 ? tap_skip_all ("xvfb-run is not installed") : status;

  SmApplication *studio = sm_application_new ();
  g_autoptr (GError) error = NULL;
  if (!TAP_OK (g_application_register (G_APPLICATION (studio), NULL, &error), "the application starts"))
    tap_diag ("%s", error->message);
  else
    on_activate (G_APPLICATION (studio), NULL);
  g_object_unref (studio);
  return tap_done ();
}
