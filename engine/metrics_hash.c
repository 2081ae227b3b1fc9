#include "metrics_hash.h"

#include <stdlib.h>
#include <string.h>

#define EMPTY UINT64_MAX

/* splitmix64's finaliser: label ids are small consecutive integers, which
 * linear probing handles badly without mixing. */
static inline uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

static int alloc_slots(U64Map *m, size_t cap) {
  m->keys = malloc(cap * sizeof *m->keys);
  m->values = malloc(cap * sizeof *m->values);
  if (!m->keys || !m->values) {
    free(m->keys);
    free(m->values);
    m->keys = m->values = NULL;
    return -1;
  }
  memset(m->keys, 0xff, cap * sizeof *m->keys);
  m->cap = cap;
  return 0;
}

int u64map_init(U64Map *m, size_t expected) {
  memset(m, 0, sizeof *m);
  size_t cap = 16;
  while (cap < 2 * expected) cap *= 2;
  return alloc_slots(m, cap);
}

void u64map_free(U64Map *m) {
  free(m->keys);
  free(m->values);
  memset(m, 0, sizeof *m);
}

static int grow(U64Map *m) {
  U64Map bigger = *m;
  if (alloc_slots(&bigger, m->cap * 2) != 0) return -1;
  size_t mask = bigger.cap - 1;
  for (size_t i = 0; i < m->cap; i++) {
    uint64_t k = m->keys[i];
    if (k == EMPTY) continue;
    size_t s = mix(k) & mask;
    while (bigger.keys[s] != EMPTY) s = (s + 1) & mask;
    bigger.keys[s] = k;
    bigger.values[s] = m->values[i];
  }
  free(m->keys);
  free(m->values);
  *m = bigger;
  return 0;
}

uint64_t *u64map_upsert(U64Map *m, uint64_t key, bool *inserted) {
  if (key == EMPTY) {
    if (inserted) *inserted = !m->has_max_key;
    if (!m->has_max_key) {
      m->has_max_key = true;
      m->max_key_value = 0;
      m->count++;
    }
    return &m->max_key_value;
  }
  if (2 * (m->count + 1) > m->cap && grow(m) != 0) return NULL;
  size_t mask = m->cap - 1;
  size_t s = mix(key) & mask;
  for (;;) {
    uint64_t k = m->keys[s];
    if (k == key) {
      if (inserted) *inserted = false;
      return &m->values[s];
    }
    if (k == EMPTY) {
      m->keys[s] = key;
      m->values[s] = 0;
      m->count++;
      if (inserted) *inserted = true;
      return &m->values[s];
    }
    s = (s + 1) & mask;
  }
}

uint64_t *u64map_find(const U64Map *m, uint64_t key) {
  if (key == EMPTY) return m->has_max_key ? (uint64_t *)&m->max_key_value : NULL;
  size_t mask = m->cap - 1;
  size_t s = mix(key) & mask;
  for (;;) {
    uint64_t k = m->keys[s];
    if (k == key) return &m->values[s];
    if (k == EMPTY) return NULL;
    s = (s + 1) & mask;
  }
}

bool u64map_next(const U64Map *m, size_t *iter, uint64_t *key, uint64_t *value) {
  while (*iter < m->cap) {
    size_t i = (*iter)++;
    if (m->keys[i] != EMPTY) {
      *key = m->keys[i];
      *value = m->values[i];
      return true;
    }
  }
  if (*iter == m->cap && m->has_max_key) {
    (*iter)++;
    *key = EMPTY;
    *value = m->max_key_value;
    return true;
  }
  return false;
}
