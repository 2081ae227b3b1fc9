/* Seeded pseudo-random numbers (xoshiro256**, seeded by splitmix64).
 * Small, fast, and identical on every platform, so that a run with a fixed
 * seed is reproducible bit for bit. Not for cryptography. */
#pragma once

#include <stdint.h>

typedef struct Rng {
  uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_u64(Rng *r);
/* Uniform in [0, 1). */
float rng_uniform(Rng *r);
double rng_uniform_f64(Rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t rng_below(Rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
float rng_normal(Rng *r);
/* Independent stream derived from r and a tag (e.g. one per worker). */
void rng_fork(Rng *child, const Rng *parent, uint64_t tag);
