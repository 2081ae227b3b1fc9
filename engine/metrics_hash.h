/* An open-addressing hash map from uint64 keys to uint64 values: the
 * contingency table of (truth, prediction) label pairs, the region adjacency
 * graph of (a, b) fragment pairs and label relabelling all need one, with
 * millions of keys and no upper bound known in advance. Linear probing,
 * load factor <= 1/2, every key allowed (the empty-slot marker UINT64_MAX is
 * kept out of the table in a side slot). Iteration order is the slot order,
 * which is deterministic for a given insertion sequence. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct U64Map {
  uint64_t *keys;     /* (cap) UINT64_MAX = empty */
  uint64_t *values;   /* (cap) */
  size_t cap;         /* power of two */
  size_t count;       /* keys stored, including the side slot */
  bool has_max_key;   /* key UINT64_MAX present */
  uint64_t max_key_value;
} U64Map;

/* Room for about `expected` keys before the first growth; returns -1 when
 * memory cannot be had. */
int u64map_init(U64Map *m, size_t expected);
void u64map_free(U64Map *m);

/* Pointer to the value of key, inserted as 0 when absent (*inserted tells
 * which, may be NULL). NULL only when growing failed for lack of memory.
 * The pointer is valid until the next insertion. */
uint64_t *u64map_upsert(U64Map *m, uint64_t key, bool *inserted);
/* Pointer to the value of key, or NULL when absent. */
uint64_t *u64map_find(const U64Map *m, uint64_t key);

/* Iteration: for (size_t it = 0; u64map_next(m, &it, &k, &v);) ... */
bool u64map_next(const U64Map *m, size_t *iter, uint64_t *key, uint64_t *value);

/* The pair (a, b) as one key, a in the high half. */
static inline uint64_t u64map_pair(uint32_t a, uint32_t b) {
  return ((uint64_t)a << 32) | b;
}
