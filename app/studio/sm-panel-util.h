/* What the two training panels (SmTrainPanel: Pre-train, SmFinetunePanel:
 * Fine-tune) share: their "summary" property (one status-bar line) and the
 * modal file chooser behind their Save…/Load…/Export… buttons. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* The read-only string property "summary" ("" while there is nothing to say). */
GParamSpec *sm_panel_summary_param (void);
/* *summary becomes a copy of text; notifies `pspec` when it changed. */
void sm_panel_set_summary (GObject *panel, GParamSpec *pspec, char **summary, const char *text);

/* Called when the chooser closes: the chosen path, or NULL (cancelled). */
typedef void (*SmPanelFileFunc) (GtkWidget *panel, int kind, const char *path);

typedef struct {
  const char *title;
  gboolean save;              /* a file to write (else one to read) */
  const char *current_name;   /* saving: the suggested name, or NULL */
  gboolean safetensors;       /* only *.safetensors files are offered */
} SmPanelFileDialog;

/* A modal GtkFileChooserNative (GTK 4.8) over the panel's window; `kind` is
 * handed back to `chosen`. The panel must outlive the dialog (it is modal). */
void sm_panel_run_file_dialog (GtkWidget *panel, const SmPanelFileDialog *dialog, int kind, SmPanelFileFunc chosen);

G_END_DECLS
