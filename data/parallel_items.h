/* Internal to data/: decoding independent items (slices, TIFF pages) on
 * several threads. Items are handed out in index order; each worker keeps a
 * state across its items (e.g. an open TIFF). The first failing item (lowest
 * index) gives the error, as a serial read would; a cancel fails the whole
 * read with "<path>: cancelled"; progress is reported from the calling
 * thread, one call per finished item. */
#pragma once

#include <stddef.h>

#include "volume.h"

typedef struct SmParallelItems {
  size_t count;
  void *ctx;
  /* Decodes item index; *state starts NULL for each worker. */
  int (*run)(void *ctx, size_t index, void **state, SmError *err);
  /* Frees a worker's state (may be NULL when there is none to free). */
  void (*finish)(void *ctx, void *state);
  const SmReadOptions *opts; /* progress and cancel (may be NULL) */
  const char *path;          /* for "<path>: cancelled" */
} SmParallelItems;

/* Threads to use for count items: SEMMAE_READ_THREADS, else the processors
 * online; at most 8 and at most count. */
size_t sm_reader_threads(size_t count);

int sm_parallel_items(const SmParallelItems *items, SmError *err);
