/* Training panels' shared helpers (see sm-panel-util.h). */
#include "sm-panel-util.h"

GParamSpec *
sm_panel_summary_param (void)
{
  return g_param_spec_string ("summary", NULL, NULL, "", G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

void
sm_panel_set_summary (GObject *panel, GParamSpec *pspec, char **summary, const char *text)
{
  if (g_strcmp0 (*summary, text) == 0)
    return;
  g_free (*summary);
  *summary = g_strdup (text);
  g_object_notify_by_pspec (panel, pspec);
}

typedef struct {
  GtkWidget *panel;
  int kind;
  SmPanelFileFunc chosen;
} FileRequest;

static void
on_file_response (GtkNativeDialog *dialog, int response, FileRequest *request)
{
  g_autoptr (GFile) file = response == GTK_RESPONSE_ACCEPT ? gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog))
                                                           : NULL;
  g_autofree char *path = file ? g_file_get_path (file) : NULL;
  request->chosen (request->panel, request->kind, path);
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
file_request_free (gpointer data, GClosure *closure)
{
  (void) closure;
  g_free (data);
}

void
sm_panel_run_file_dialog (GtkWidget *panel, const SmPanelFileDialog *d, int kind, SmPanelFileFunc chosen)
{
  GtkRoot *root = gtk_widget_get_root (panel);
  GtkFileChooserNative *chooser = gtk_file_chooser_native_new (
      d->title, GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
      d->save ? GTK_FILE_CHOOSER_ACTION_SAVE : GTK_FILE_CHOOSER_ACTION_OPEN, d->save ? "_Save" : "_Open", "_Cancel");
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  if (d->save && d->current_name)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), d->current_name);
  if (d->safetensors)
    {
      GtkFileFilter *filter = gtk_file_filter_new ();
      gtk_file_filter_set_name (filter, "safetensors");
      gtk_file_filter_add_suffix (filter, "safetensors");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
      g_object_unref (filter);
    }
  FileRequest *request = g_new0 (FileRequest, 1);
  request->panel = panel;
  request->kind = kind;
  request->chosen = chosen;
  g_signal_connect_data (chooser, "response", G_CALLBACK (on_file_response), request, file_request_free, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}
