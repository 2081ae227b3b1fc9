/* SmApplication: the studio's GtkApplication. Parses the command line
 * (VOLUME, --labels, --map, --screenshot, --size, --phantom, --layout,
 * --check-shaders, --bench-scroll, --timing), opens one SmWindow per
 * invocation, owns the app-wide actions and accelerators. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SM_TYPE_APPLICATION (sm_application_get_type ())
G_DECLARE_FINAL_TYPE (SmApplication, sm_application, SM, APPLICATION, GtkApplication)

SmApplication *sm_application_new (void);

/* Quits the application; g_application_run then returns status. */
void sm_application_quit_with_status (SmApplication *self, int status);
int sm_application_get_exit_status (SmApplication *self);

/* Monotonic time (µs) at which main() started, for first-frame timing. */
void sm_application_set_start_time (SmApplication *self, gint64 start_us);
gint64 sm_application_get_start_time (SmApplication *self);

G_END_DECLS
