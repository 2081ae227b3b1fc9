/* SmWorker: see sm-worker.h. */
#include "sm-worker.h"

#include <unistd.h>

#include "data/pretrain_session.h"

/* Pushed ahead of every command by sm_worker_stop; never freed. */
static char quit_command;

static gpointer
worker_main (gpointer data)
{
  SmWorker *w = data; /* inside the owner, kept alive by dispose, which joins us */
  /* A context of our own as thread-default: otherwise g_main_context_invoke
   * of the (global default) UI context from here could acquire it while the
   * UI loop is not running and call the UI callback on this thread. */
  GMainContext *own = g_main_context_new ();
  g_main_context_push_thread_default (own);
  for (;;)
    {
      gpointer c = w->stepping ? g_async_queue_try_pop (w->commands) : g_async_queue_pop (w->commands);
      if (c == &quit_command)
        break;
      if (c)
        {
          w->ops->handle (w->owner, c);
          w->command_free (c);
          continue; /* every pending command before the next step */
        }
      w->ops->step (w->owner);
    }
  w->ops->finish (w->owner);
  g_main_context_pop_thread_default (own);
  g_main_context_unref (own);
  return NULL;
}

void
sm_worker_start (SmWorker *w, const char *name, GObject *owner, const SmWorkerOps *ops, GDestroyNotify command_free)
{
  w->context = g_main_context_ref_thread_default ();
  w->commands = g_async_queue_new_full (command_free);
  w->owner = owner;
  w->ops = ops;
  w->command_free = command_free;
  w->thread = g_thread_new (name, worker_main, w);
}

void
sm_worker_stop (SmWorker *w)
{
  w->disposed = TRUE;
  if (!w->thread)
    return;
  g_atomic_int_set (&w->cancel, 1);
  g_async_queue_push_front (w->commands, &quit_command);
  g_thread_join (w->thread);
  w->thread = NULL;
}

void
sm_worker_clear (SmWorker *w)
{
  g_clear_pointer (&w->commands, g_async_queue_unref);
  g_clear_pointer (&w->context, g_main_context_unref);
}

void
sm_worker_send (SmWorker *w, gpointer command)
{
  g_async_queue_push (w->commands, command);
}

void
sm_worker_set_cancel (SmWorker *w, gboolean cancel)
{
  g_atomic_int_set (&w->cancel, cancel ? 1 : 0);
}

/* --- events: worker -> main thread ------------------------------------------ */

typedef struct {
  SmWorker *worker;     /* valid while `owner` is alive (it is embedded there) */
  GWeakRef owner;
  SmWorkerDeliver deliver;
  gpointer event;
  GDestroyNotify free_event;
} Posted;

static Posted *
posted_new (SmWorker *w, SmWorkerDeliver deliver, gpointer event, GDestroyNotify free_event)
{
  Posted *p = g_new0 (Posted, 1);
  p->worker = w;
  g_weak_ref_init (&p->owner, w->owner);
  p->deliver = deliver;
  p->event = event;
  p->free_event = free_event;
  return p;
}

static void
posted_free (gpointer data)
{
  Posted *p = data;
  g_weak_ref_clear (&p->owner);
  if (p->free_event)
    p->free_event (p->event);
  g_free (p);
}

static gboolean
deliver_posted (gpointer data)
{
  Posted *p = data;
  g_autoptr (GObject) owner = g_weak_ref_get (&p->owner);
  if (owner && !p->worker->disposed)
    p->deliver (owner, p->event);
  return G_SOURCE_REMOVE;
}

void
sm_worker_post (SmWorker *w, SmWorkerDeliver deliver, gpointer event, GDestroyNotify free_event)
{
  g_main_context_invoke_full (w->context, G_PRIORITY_DEFAULT, deliver_posted,
                              posted_new (w, deliver, event, free_event), posted_free);
}

void
sm_worker_post_after (SmWorker *w, guint delay_ms, SmWorkerDeliver deliver, gpointer event,
                      GDestroyNotify free_event)
{
  GSource *source = g_timeout_source_new (delay_ms);
  g_source_set_callback (source, deliver_posted, posted_new (w, deliver, event, free_event), posted_free);
  g_source_set_priority (source, G_PRIORITY_DEFAULT_IDLE);
  g_source_attach (source, w->context);
  g_source_unref (source);
}

static gboolean
unref_object (gpointer object)
{
  g_object_unref (object);
  return G_SOURCE_REMOVE;
}

void
sm_worker_unref_on_main (SmWorker *w, gpointer object)
{
  if (object)
    g_main_context_invoke (w->context, unref_object, object);
}

void
sm_worker_new_signals (GType owner_type, const SmWorkerSignal *specs, int n, guint *signals)
{
  for (int i = 0; i < n; i++)
    signals[i] = g_signal_new (specs[i].name, owner_type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                               specs[i].arg);
}

int
sm_worker_default_threads (int requested)
{
  if (requested > 0)
    return requested;
  long cpus = sysconf (_SC_NPROCESSORS_ONLN);
  /* One core stays with the user interface. */
  return cpus > 1 ? (int) cpus - 1 : 1;
}

/* --- steps per second --------------------------------------------------------- */

void
sm_step_rate_restart (SmStepRate *r, gint64 step)
{
  r->t0 = sm_monotonic_seconds ();
  r->step0 = step;
}

void
sm_step_rate_update (SmStepRate *r, gint64 step)
{
  double now = sm_monotonic_seconds ();
  double dt = now - r->t0;
  if (dt > 0 && step > r->step0)
    r->per_second = (double) (step - r->step0) / dt;
  if (dt > 5)
    sm_step_rate_restart (r, step); /* a sliding window of about five seconds */
}
