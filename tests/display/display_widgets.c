/* The studio's widgets instantiate under Xvfb: the application, the window
 * from its template (views, panel, status bar), the three slice views bound
 * to the shared state, layouts, and the shortcuts window resource. */
#include <glib/gstdio.h>
#include <math.h>
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
  TAP_OK (SM_IS_SLICE_VIEW (gtk_window_get_focus (GTK_WINDOW (window))),
          "the XY view has the keyboard focus from the start");
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
  /* 5 sections of 60 x 40 with no voxel size: XZ stretches z (60 / 6 / 5 = 2) and says so. */
  TAP_OK (!g_strcmp0 (sm_slice_view_get_title (SM_SLICE_VIEW (views[1])),
                      "XZ  y = 20/40  (z ×2.0: no voxel size)"),
          "XZ title: %s", sm_slice_view_get_title (SM_SLICE_VIEW (views[1])));
  sm_slice_view_step_slice (SM_SLICE_VIEW (views[2]), -100);
  sm_view_state_get_cursor (state, &z, &y, &x);
  TAP_OK (x == 0, "stepping the YZ view stops at the first slice (x = %g)", x);

  TAP_OK (g_action_group_has_action (G_ACTION_GROUP (window), "show-help-overlay"),
          "the shortcuts window is wired to win.show-help-overlay (Ctrl+?)");

  /* Camera: fit centres the plane inside the view; zooming keeps the point under the pointer. */
  SmSliceView *xy = SM_SLICE_VIEW (views[0]);
  sm_slice_view_fit (xy);
  graphene_rect_t plane;
  sm_slice_view_get_plane_rect (xy, &plane);
  double w = gtk_widget_get_width (views[0]), h = gtk_widget_get_height (views[0]);
  TAP_OK (plane.origin.x >= -0.5 && plane.origin.y >= -0.5 && plane.origin.x + plane.size.width <= w + 0.5 &&
          plane.origin.y + plane.size.height <= h + 0.5 &&
          fabs (plane.origin.x + plane.size.width / 2 - w / 2) < 1 && fabs (plane.size.width / plane.size.height - 1.5) < 0.01,
          "fit: the 60 x 40 plane (%.0f x %.0f at %.0f, %.0f) is centred in the %.0f x %.0f view",
          plane.size.width, plane.size.height, plane.origin.x, plane.origin.y, w, h);
  double px = plane.origin.x + 0.3 * plane.size.width, py = plane.origin.y + 0.6 * plane.size.height;
  sm_slice_view_zoom_at (xy, 2.5, px, py);
  graphene_rect_t zoomed;
  sm_slice_view_get_plane_rect (xy, &zoomed);
  TAP_OK (fabs (zoomed.size.width - 2.5 * plane.size.width) < 0.01 &&
          fabs ((px - zoomed.origin.x) / zoomed.size.width - 0.3) < 1e-4 &&
          fabs ((py - zoomed.origin.y) / zoomed.size.height - 0.6) < 1e-4,
          "zooming x2.5 keeps the point under the pointer");

  /* Anisotropic voxels: 50 x 4 x 4 makes the XZ plane 5 slices * 50 tall for 60 * 4 wide. */
  sm_view_state_set_voxel_size (state, 50, 4, 4);
  iterate (5);
  sm_slice_view_get_plane_rect (SM_SLICE_VIEW (views[1]), &plane);
  TAP_OK (fabs (plane.size.width / plane.size.height - (60.0 * 4) / (5.0 * 50)) < 0.01,
          "XZ aspect follows the voxel size (%.3f)", plane.size.width / plane.size.height);

  sm_window_set_layout (window, "xy");
  iterate (10);
  TAP_OK (!gtk_widget_get_mapped (views[1]) && gtk_widget_get_mapped (views[0]), "XY-only layout hides XZ");
  sm_window_set_layout (window, "grid");
  iterate (10);
  TAP_OK (gtk_widget_get_mapped (views[1]) && gtk_widget_get_mapped (views[2]), "grid layout shows all views");

  /* H hides all label layers, and shows them again. */
  SmVolume lv = { 0 };
  sm_volume_alloc (&lv, SM_U32, 5, 40, 60, &err);
  SmLayer *labels = sm_layer_new_prepared (SM_LAYER_LABELS, "ids", &lv, NULL);
  sm_view_state_add_layer (state, labels);
  g_action_group_activate_action (G_ACTION_GROUP (window), "toggle-labels", NULL);
  gboolean hidden = !sm_layer_get_visible (labels);
  g_action_group_activate_action (G_ACTION_GROUP (window), "toggle-labels", NULL);
  TAP_OK (hidden && sm_layer_get_visible (labels), "toggle-labels (H) hides and shows label layers");
  g_object_unref (labels);

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

  /* A file that cannot be read: an error dialog naming it; the image stays. */
  window = sm_window_new (SM_APPLICATION (app));
  gtk_window_present (GTK_WINDOW (window));
  state = sm_window_get_state (window);
  sm_volume_alloc (&v, SM_U8, 3, 16, 16, &err);
  image = sm_layer_new_prepared (SM_LAYER_IMAGE, "kept", &v, NULL);
  sm_view_state_set_image (state, image);
  g_autofree char *missing = g_build_filename (g_get_tmp_dir (), "semmae-no-such-stack.tif", NULL);
  sm_window_open_path (window, missing);
  GtkWidget *dialog = NULL;
  for (int i = 0; i < 500 && !dialog; i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
      GListModel *toplevels = gtk_window_get_toplevels ();
      for (guint k = 0; k < g_list_model_get_n_items (toplevels) && !dialog; k++)
        {
          g_autoptr (GObject) toplevel = g_list_model_get_item (toplevels, k);
          if (GTK_IS_MESSAGE_DIALOG (toplevel))
            dialog = GTK_WIDGET (toplevel);
        }
    }
  g_autofree char *text = NULL, *secondary = NULL;
  if (dialog)
    g_object_get (dialog, "text", &text, "secondary-text", &secondary, NULL);
  TAP_OK (dialog && text && strstr (text, "semmae-no-such-stack.tif") && secondary && *secondary,
          "an unreadable file gets an error dialog: %s / %s", text ? text : "-", secondary ? secondary : "-");
  TAP_OK (sm_view_state_get_image (state) == image, "the open image stays open");
  if (dialog)
    gtk_window_destroy (GTK_WINDOW (dialog));
  g_object_unref (image);

  /* Opening a stack: it becomes the image and a recent file (XDG_DATA_HOME is private here). */
  const char *em = tap_em_data ();
  if (em)
    {
      g_autofree char *isbi = g_build_filename (em, "isbi2012", "image", NULL);
      g_autoptr (GFile) isbi_file = g_file_new_for_path (isbi);
      g_autofree char *uri = g_file_get_uri (isbi_file);
      sm_window_open_path (window, isbi);
      GtkRecentManager *recent = gtk_recent_manager_get_default ();
      gboolean listed = FALSE;
      for (int i = 0; i < 3000 && !listed; i++)
        {
          g_main_context_iteration (NULL, FALSE);
          g_usleep (5000);
          GList *items = gtk_recent_manager_get_items (recent);
          for (GList *l = items; l; l = l->next)
            listed |= !g_strcmp0 (gtk_recent_info_get_uri (l->data), uri) &&
                      gtk_recent_info_has_application (l->data, g_get_application_name ());
          g_list_free_full (items, (GDestroyNotify) gtk_recent_info_unref);
        }
      SmLayer *opened = sm_view_state_get_image (state);
      TAP_OK (opened && sm_layer_get_volume (opened)->nz == 30, "a stack opened in the window becomes the image");
      if (!TAP_OK (listed, "and a recent file of this application"))
        tap_diag ("XDG_DATA_HOME=%s", g_getenv ("XDG_DATA_HOME"));
    }

  /* Closing the window while a stack is being read: the late result is dropped. */
  if (em)
    {
      g_autofree char *vnc = g_build_filename (em, "vnc-stack1", "raw", NULL);
      sm_window_open_path (window, vnc);
      gtk_window_destroy (GTK_WINDOW (window));
      for (int i = 0; i < 200; i++)
        {
          g_main_context_iteration (NULL, FALSE);
          g_usleep (5000);
        }
      TAP_OK (TRUE, "closing the window during a read is safe");
    }
}

int
main (int argc, char **argv)
{
  gboolean child;
  /* Recent files go to a private folder, not the user's. */
  g_autofree char *data_home = NULL;
  if (!g_getenv ("SEMMAE_UNDER_XVFB"))
    {
      data_home = g_dir_make_tmp ("semmae-widgets-XXXXXX", NULL);
      g_setenv ("XDG_DATA_HOME", data_home, TRUE);
    }
  int status = xvfb_reexec (argc, argv, &child);
  if (data_home)
    {
      g_autofree char *xbel = g_build_filename (data_home, "recently-used.xbel", NULL);
      g_unlink (xbel);
      g_rmdir (data_home);
    }
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
