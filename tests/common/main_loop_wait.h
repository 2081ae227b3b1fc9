/* Headless GLib tests of objects that report through signals on the main
 * context: run the default main context until what the handlers recorded
 * says to go on, and a handler that keeps a string argument. */
#pragma once

#include <glib.h>

/* seen: what the handlers record; arg: the condition's own argument. */
typedef gboolean (*WaitCondition) (gpointer seen, gpointer arg);

/* Iterates the default main context until holds (seen, arg); FALSE after
 * 120 s (a hang, not a timing assertion). */
static inline gboolean
wait_until (WaitCondition holds, gpointer seen, gpointer arg)
{
  gint64 end = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  while (!holds (seen, arg))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      g_main_context_iteration (NULL, TRUE);
    }
  return TRUE;
}

/* For a signal with one string argument ("saved", "failed"…): connect it
 * with the address of a char * as data; it gets a copy of the latest. */
static inline void
keep_string (gpointer instance, const char *text, char **slot)
{
  g_free (*slot);
  *slot = g_strdup (text);
}
