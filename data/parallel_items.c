#include "parallel_items.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "volume_io.h"

enum { MAX_THREADS = 8 };

typedef struct Shared {
  const SmParallelItems *items;
  pthread_mutex_t lock;
  pthread_cond_t progressed;
  size_t next, done, running;
  size_t failed_index; /* SIZE_MAX while none failed */
  SmError error;
} Shared;

size_t sm_reader_threads(size_t count) {
  const char *s = getenv("SEMMAE_READ_THREADS");
  long n = s && *s ? strtol(s, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  return (size_t)n < count ? (size_t)n : (count ? count : 1);
}

/* Takes items until none are left or one failed. */
static void *worker(void *arg) {
  Shared *sh = arg;
  const SmParallelItems *items = sh->items;
  void *state = NULL;
  SmError err;
  pthread_mutex_lock(&sh->lock);
  while (sh->failed_index == SIZE_MAX && sh->next < items->count) {
    size_t i = sh->next++;
    pthread_mutex_unlock(&sh->lock);
    int rc = sm_read_cancelled(items->opts)
                 ? sm_error_set(&err, "%s: cancelled", items->path)
                 : items->run(items->ctx, i, &state, &err);
    pthread_mutex_lock(&sh->lock);
    if (rc != 0 && i < sh->failed_index) {
      sh->failed_index = i;
      sh->error = err;
    }
    if (rc == 0) sh->done++;
    pthread_cond_signal(&sh->progressed);
  }
  pthread_mutex_unlock(&sh->lock);
  if (items->finish) items->finish(items->ctx, state);
  pthread_mutex_lock(&sh->lock);
  sh->running--;
  pthread_cond_signal(&sh->progressed);
  pthread_mutex_unlock(&sh->lock);
  return NULL;
}

int sm_parallel_items(const SmParallelItems *items, SmError *err) {
  Shared sh = {.items = items, .failed_index = SIZE_MAX};
  pthread_mutex_init(&sh.lock, NULL);
  pthread_cond_init(&sh.progressed, NULL);
  size_t threads = sm_reader_threads(items->count);
  pthread_t ids[MAX_THREADS];
  pthread_mutex_lock(&sh.lock);
  for (size_t t = 0; t < threads; t++) {
    if (pthread_create(&ids[sh.running], NULL, worker, &sh) != 0) break;
    sh.running++;
  }
  size_t spawned = sh.running;
  pthread_mutex_unlock(&sh.lock);
  if (spawned == 0) {
    sh.running = 1;
    worker(&sh); /* no thread to be had: decode here */
  }
  size_t reported = 0;
  pthread_mutex_lock(&sh.lock);
  for (;;) {
    size_t done = sh.done;
    if (done > reported && sh.failed_index == SIZE_MAX) {
      /* One call per item, however the wake-ups fell. */
      pthread_mutex_unlock(&sh.lock);
      while (reported < done)
        sm_read_progress(items->opts, (double)++reported / (double)items->count);
      pthread_mutex_lock(&sh.lock);
      continue;
    }
    if (sh.running == 0) break;
    pthread_cond_wait(&sh.progressed, &sh.lock);
  }
  pthread_mutex_unlock(&sh.lock);
  for (size_t t = 0; t < spawned; t++) pthread_join(ids[t], NULL);
  pthread_cond_destroy(&sh.progressed);
  pthread_mutex_destroy(&sh.lock);
  /* Cancelled reads fail as a whole, even when the cancel came after the
   * last item or an item's reader saw it first. */
  if (sm_read_cancelled(items->opts)) return sm_error_set(err, "%s: cancelled", items->path);
  if (sh.failed_index != SIZE_MAX) {
    if (err) *err = sh.error;
    return -1;
  }
  return 0;
}
