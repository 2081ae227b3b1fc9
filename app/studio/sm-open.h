/* Where stacks come from besides the command line: the native file chooser,
 * the recent-files menu (GtkRecentManager) and dropped files. Main thread. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef enum {
  SM_OPEN_IMAGE,  /* a stack file */
  SM_OPEN_FOLDER, /* a folder of slices */
  SM_OPEN_LABELS, /* a label volume over the image */
  SM_OPEN_MAP,    /* a float map over the image */
} SmOpenKind;

/* Called with the chosen path; parent is still alive (the dialog holds it). */
typedef void (*SmOpenFunc) (GtkWindow *parent, const char *path, SmOpenKind kind);

/* A modal native file chooser for kind, opened in near_path's folder (may be NULL). */
void sm_open_dialog_run (GtkWindow *parent, SmOpenKind kind, const char *near_path, SmOpenFunc func);

/* Refills menu: "Open File…" (win.open), "Open Folder of Slices…" (win.open-folder) and up to
 * max stacks this application opened, newest first (win.open-recent, target: the URI). */
void sm_recent_menu_fill (GMenu *menu, GtkRecentManager *manager, int max);

/* Files path under its canonical URI (no "..", no "//"). */
void sm_recent_add (const char *path);

/* The first local path of a dropped GdkFileList, or NULL; free with g_free. */
char *sm_drop_first_path (const GValue *value);

G_END_DECLS
