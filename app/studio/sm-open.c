/* File chooser, recent files, dropped files (see sm-open.h). */
#include "sm-open.h"

static void
on_chooser_response (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  SmOpenFunc func = (SmOpenFunc) user_data;
  SmOpenKind kind = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog), "kind"));
  GtkWindow *parent = g_object_get_data (G_OBJECT (dialog), "parent");
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      if (path)
        func (parent, path, kind);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
add_filter (GtkFileChooser *chooser, const char *name, const char *const *suffixes, const char *pattern)
{
  GtkFileFilter *filter = gtk_file_filter_new ();
  gtk_file_filter_set_name (filter, name);
  for (int i = 0; suffixes && suffixes[i]; i++)
    gtk_file_filter_add_suffix (filter, suffixes[i]);
  if (pattern)
    gtk_file_filter_add_pattern (filter, pattern);
  gtk_file_chooser_add_filter (chooser, filter);
  g_object_unref (filter);
}

void
sm_open_dialog_run (GtkWindow *parent, SmOpenKind kind, const char *near_path, SmOpenFunc func)
{
  static const char *titles[] = { "Open a Stack", "Open a Folder of Slices", "Open Labels",
                                  "Open a Map" };
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (
      titles[kind], parent,
      kind == SM_OPEN_FOLDER ? GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER : GTK_FILE_CHOOSER_ACTION_OPEN,
      "_Open", "_Cancel");
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  if (kind != SM_OPEN_FOLDER)
    {
      static const char *const images[] = { "tif", "tiff", "png", NULL };
      add_filter (GTK_FILE_CHOOSER (chooser), "TIFF and PNG", images, NULL);
      add_filter (GTK_FILE_CHOOSER (chooser), "All files", NULL, "*");
    }
  if (near_path)
    {
      g_autofree char *dir = g_path_get_dirname (near_path);
      g_autoptr (GFile) folder = g_file_new_for_path (dir);
      gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), folder, NULL);
    }
  g_object_set_data (G_OBJECT (chooser), "kind", GINT_TO_POINTER (kind));
  g_object_set_data_full (G_OBJECT (chooser), "parent", g_object_ref (parent), g_object_unref);
  g_signal_connect (chooser, "response", G_CALLBACK (on_chooser_response), (gpointer) func);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static int
compare_recent (gconstpointer a, gconstpointer b)
{
  GDateTime *ta = gtk_recent_info_get_modified ((GtkRecentInfo *) a);
  GDateTime *tb = gtk_recent_info_get_modified ((GtkRecentInfo *) b);
  return g_date_time_compare (tb, ta);
}

void
sm_recent_menu_fill (GMenu *menu, GtkRecentManager *manager, int max)
{
  g_menu_remove_all (menu);
  GMenu *actions = g_menu_new ();
  g_menu_append (actions, "Open _File…", "win.open");
  g_menu_append (actions, "Open F_older of Slices…", "win.open-folder");
  g_menu_append_section (menu, NULL, G_MENU_MODEL (actions));
  g_object_unref (actions);

  GList *items = g_list_sort (gtk_recent_manager_get_items (manager), compare_recent);
  GMenu *recent = g_menu_new ();
  int n = 0;
  for (GList *l = items; l && n < max; l = l->next)
    {
      GtkRecentInfo *info = l->data;
      if (!gtk_recent_info_has_application (info, g_get_application_name ()) ||
          !gtk_recent_info_is_local (info))
        continue;
      GMenuItem *item = g_menu_item_new (gtk_recent_info_get_display_name (info), NULL);
      g_menu_item_set_action_and_target_value (item, "win.open-recent",
                                               g_variant_new_string (gtk_recent_info_get_uri (info)));
      g_menu_append_item (recent, item);
      g_object_unref (item);
      n++;
    }
  g_list_free_full (items, (GDestroyNotify) gtk_recent_info_unref);
  g_menu_append_section (menu, n ? "Recent" : NULL, G_MENU_MODEL (recent));
  g_object_unref (recent);
}

void
sm_recent_add (const char *path)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autofree char *uri = g_file_get_uri (file);
  gtk_recent_manager_add_item (gtk_recent_manager_get_default (), uri);
}

char *
sm_drop_first_path (const GValue *value)
{
  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    return NULL;
  GSList *files = gdk_file_list_get_files (g_value_get_boxed (value));
  char *path = files ? g_file_get_path (files->data) : NULL;
  g_slist_free (files);
  return path;
}
