/* SmWorker: the thread protocol that SmEngineThread (pre-training) and
 * SmFinetuneThread (fine-tuning) share, embedded in each as a plain struct:
 * one dedicated thread that takes commands from a GAsyncQueue (waiting for
 * them while idle, polling them between steps while running) and posts
 * events back to the GMainContext that was the thread-default when the
 * owner was made. Events reach the owner only while it is alive and not
 * disposed; each owner checks its own generations in its delivery callback.
 * Needs GLib/GObject only, not GTK. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* All three run on the worker thread, with the owner given to sm_worker_start. */
typedef struct {
  void (*handle) (gpointer owner, gpointer command); /* one command (then freed by the worker) */
  void (*step) (gpointer owner);                     /* while `stepping` and no command waits */
  void (*finish) (gpointer owner);                   /* the thread ends: free what it owns */
} SmWorkerOps;

typedef struct {
  GMainContext *context;   /* the owner's (main) context: events go there */
  GAsyncQueue *commands;
  GThread *thread;
  GObject *owner;
  const SmWorkerOps *ops;
  GDestroyNotify command_free;
  volatile int cancel;     /* read by long computations on the worker thread (stop, cancel, quit) */
  gboolean stepping;       /* worker thread: TRUE while a run is running (set by the owner) */
  gboolean disposed;       /* main thread: no more events are delivered */
} SmWorker;

/* From the owner's init (last, once everything the thread reads is ready). */
void sm_worker_start (SmWorker *w, const char *name, GObject *owner, const SmWorkerOps *ops,
                      GDestroyNotify command_free);
/* From dispose: no more deliveries; the thread quits ahead of anything queued
 * (after the step in progress; `cancel` is raised for long computations) and
 * is joined. */
void sm_worker_stop (SmWorker *w);
/* From finalize. */
void sm_worker_clear (SmWorker *w);

/* Main thread: queue a command (the worker owns it from now on). */
void sm_worker_send (SmWorker *w, gpointer command);
void sm_worker_set_cancel (SmWorker *w, gboolean cancel);

/* Worker thread: deliver(owner, event) on the main context, then free(event)
 * (also when the owner is gone or disposed, without delivering). */
typedef void (*SmWorkerDeliver) (GObject *owner, gpointer event);
void sm_worker_post (SmWorker *w, SmWorkerDeliver deliver, gpointer event, GDestroyNotify free_event);
/* The same after delay_ms, at idle priority (coalesced deliveries). */
void sm_worker_post_after (SmWorker *w, guint delay_ms, SmWorkerDeliver deliver, gpointer event,
                           GDestroyNotify free_event);
/* Worker thread: unref `object` (a GTK-side owner of borrowed data) on the main thread. */
void sm_worker_unref_on_main (SmWorker *w, gpointer object);

/* The owner's signals (class_init): signals[i] becomes a G_SIGNAL_RUN_LAST
 * signal named specs[i].name with one argument of type specs[i].arg. */
typedef struct {
  const char *name;
  GType arg;
} SmWorkerSignal;
void sm_worker_new_signals (GType owner_type, const SmWorkerSignal *specs, int n, guint *signals);

/* Threads for the engine: `requested`, or (<= 0) all CPUs but one. */
int sm_worker_default_threads (int requested);

/* Steps per second over a sliding window of about five seconds. */
typedef struct {
  double t0;
  gint64 step0;
  double per_second;
} SmStepRate;

void sm_step_rate_restart (SmStepRate *r, gint64 step); /* the window starts now, at `step` */
void sm_step_rate_update (SmStepRate *r, gint64 step);  /* after a step */

G_END_DECLS
