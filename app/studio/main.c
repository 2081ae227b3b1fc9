/* semmae-studio: the GTK 4 studio. Everything is in SmApplication. */
#include <locale.h>

#include "sm-application.h"

int
main (int argc, char **argv)
{
  gint64 start = g_get_monotonic_time ();
  setlocale (LC_ALL, "");
  g_autoptr (SmApplication) app = sm_application_new ();
  sm_application_set_start_time (app, start);
  int status = g_application_run (G_APPLICATION (app), argc, argv);
  return status != 0 ? status : sm_application_get_exit_status (app);
}
