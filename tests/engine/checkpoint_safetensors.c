/* safetensors reader/writer: round trip, metadata escapes, and every way a
 * file can be truncated or corrupt fails with one line instead of crashing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rng.h"
#include "safetensors.h"
#include "slurp.h"
#include "tap.h"

static char dir[256];

static void path_in_dir(char *out, size_t n, const char *name) {
  snprintf(out, n, "%s/%s", dir, name);
}

static void spit(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(b, 1, n, f);
  fclose(f);
}

/* Writes a raw file with the given JSON header and `data_bytes` zero bytes. */
static void write_raw(const char *path, const char *json, size_t data_bytes) {
  size_t hl = strlen(json);
  uint8_t *b = calloc(1, 8 + hl + data_bytes);
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
  memcpy(b + 8, json, hl);
  spit(path, b, 8 + hl + data_bytes);
  free(b);
}

static int opens(const char *path, SmError *err) {
  SmSafetensors st;
  int rc = sm_safetensors_open(path, &st, err);
  if (rc == 0) sm_safetensors_close(&st);
  return rc;
}

static int one_line(const SmError *err) {
  return err->message[0] && !strchr(err->message, '\n');
}

int main(void) {
  snprintf(dir, sizeof dir, "%s", "/tmp/semmae-st-XXXXXX");
  if (!mkdtemp(dir)) return tap_skip_all("cannot make a temporary directory");
  char path[512], bad[512];
  path_in_dir(path, sizeof path, "a.safetensors");
  path_in_dir(bad, sizeof bad, "bad.safetensors");

  /* Round trip. */
  float w[2 * 3 * 4], b[5], s[1] = {42.0f};
  Rng rng;
  rng_seed(&rng, 7);
  for (int i = 0; i < 24; i++) w[i] = rng_normal(&rng);
  for (int i = 0; i < 5; i++) b[i] = (float)i - 2.5f;
  SmStWriter *wr = sm_st_writer_new();
  sm_st_writer_add_meta(wr, "config", "cpu-small");
  sm_st_writer_add_meta(wr, "quote\"and\\slash", "line\nbreak\ttab \xc3\xa9");
  sm_st_writer_add_f32(wr, "blocks.0.attn.qkv.weight", 3, (int64_t[]){2, 3, 4}, w);
  sm_st_writer_add_f32(wr, "bias", 1, (int64_t[]){5}, b);
  sm_st_writer_add_f32(wr, "scalar", 0, NULL, s);
  SmError err = {0};
  TAP_OK(sm_st_writer_write(wr, path, &err) == 0, "write: %s", err.message);
  sm_st_writer_free(wr);

  SmSafetensors st;
  TAP_OK(sm_safetensors_open(path, &st, &err) == 0, "open: %s", err.message);
  TAP_OK(st.data_start % 8 == 0, "data section starts 8-byte aligned (%llu)",
         (unsigned long long)st.data_start);
  TAP_OK(st.n_tensors == 3 && st.n_meta == 2, "3 tensors, 2 metadata entries");
  const char *cfg = sm_safetensors_meta(&st, "config");
  TAP_OK(cfg && strcmp(cfg, "cpu-small") == 0, "metadata value");
  const char *esc = sm_safetensors_meta(&st, "quote\"and\\slash");
  TAP_OK(esc && strcmp(esc, "line\nbreak\ttab \xc3\xa9") == 0, "escaped metadata survives");
  const SmStTensor *t = sm_safetensors_find(&st, "blocks.0.attn.qkv.weight");
  TAP_OK(t && t->ndim == 3 && t->shape[0] == 2 && t->shape[1] == 3 && t->shape[2] == 4,
         "shape (2,3,4)");
  float w2[24], b2[5], s2[1];
  TAP_OK(sm_safetensors_read_f32(&st, "blocks.0.attn.qkv.weight", w2, 24, &err) == 0 &&
             memcmp(w, w2, sizeof w) == 0,
         "weights bit-identical");
  TAP_OK(sm_safetensors_read_f32(&st, "bias", b2, 5, &err) == 0 && memcmp(b, b2, sizeof b) == 0,
         "bias bit-identical");
  TAP_OK(sm_safetensors_read_f32(&st, "scalar", s2, 1, &err) == 0 && s2[0] == 42.0f,
         "0-d tensor");
  TAP_OK(sm_safetensors_read_f32(&st, "bias", b2, 4, &err) == -1 && strstr(err.message, "bias"),
         "element count mismatch names the tensor: %s", err.message);
  TAP_OK(sm_safetensors_read_f32(&st, "nope", b2, 5, &err) == -1 && strstr(err.message, "missing"),
         "missing tensor: %s", err.message);
  sm_safetensors_close(&st);

  /* Every truncation of the good file fails cleanly (one line, names the file). */
  size_t size;
  uint8_t *good = (uint8_t *)slurp(path, &size);
  int all_fail = 1, all_named = 1;
  for (size_t n = 0; n < size; n++) {
    spit(bad, good, n);
    err.message[0] = '\0';
    if (opens(bad, &err) == 0) {
      /* Dropping only trailing data bytes must still be caught. */
      all_fail = 0;
      tap_diag("truncated to %zu bytes opened", n);
    }
    if (!one_line(&err) || !strstr(err.message, bad)) all_named = 0;
  }
  TAP_OK(all_fail, "all %zu truncations rejected", size);
  TAP_OK(all_named, "every error is one line naming the file");
  spit(bad, good, size - 3);
  opens(bad, &err);
  TAP_OK(strstr(err.message, "truncated") != NULL, "truncated data: %s", err.message);

  /* Random byte flips never crash; whatever opens reads back. */
  int survived = 1;
  for (int trial = 0; trial < 2000; trial++) {
    uint8_t *c = malloc(size);
    memcpy(c, good, size);
    int flips = 1 + (int)rng_below(&rng, 3);
    for (int f = 0; f < flips; f++) c[rng_below(&rng, st.data_start)] = (uint8_t)rng_u64(&rng);
    spit(bad, c, size);
    free(c);
    SmSafetensors cst;
    if (sm_safetensors_open(bad, &cst, &err) == 0) {
      for (int i = 0; i < cst.n_tensors; i++) {
        const SmStTensor *ct = &cst.tensors[i];
        if (strcmp(ct->dtype, "F32") == 0 && sm_st_tensor_numel(ct) <= 24) {
          float tmp[24];
          sm_safetensors_read_f32(&cst, ct->name, tmp, sm_st_tensor_numel(ct), &err);
        }
      }
      sm_safetensors_close(&cst);
    } else if (!one_line(&err)) {
      survived = 0;
    }
  }
  TAP_OK(survived, "2000 corrupted headers: no crash, one-line errors");
  free(good);

  /* Hand-made corrupt headers. */
  static const struct {
    const char *json;
    size_t data;
    const char *expect;
  } cases[] = {
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, "expected"},
      {"{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "do not match"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "truncated"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "do not match"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "data_offsets"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
       16, "twice"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
       12, "overlap"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "non-negative"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
       "impossible"},
      {"{\"__metadata__\":{\"k\":3}}", 0, "strings"},
      {"{\"a\":\"x\"}", 0, "expected '{'"},
      {"{} trailing", 0, "trailing"},
      {"[1,2]", 0, "not a safetensors"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    write_raw(bad, cases[i].json, cases[i].data);
    err.message[0] = '\0';
    int rc = opens(bad, &err);
    TAP_OK(rc == -1 && strstr(err.message, cases[i].expect) && one_line(&err),
           "corrupt header %zu rejected: %s", i, err.message);
  }
  /* A header length far past the file. */
  uint8_t huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
  spit(bad, huge, sizeof huge);
  TAP_OK(opens(bad, &err) == -1 && strstr(err.message, "header length"), "huge header length: %s",
         err.message);
  uint8_t small_len[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
  spit(bad, small_len, 10);
  TAP_OK(opens(bad, &err) == -1 && strstr(err.message, "truncated"), "short header: %s",
         err.message);
  /* Unknown keys inside a tensor entry and a null metadata are tolerated. */
  write_raw(bad,
            "{\"__metadata__\":null,\"a\":{\"x\":[1,{\"y\":true}],\"dtype\":\"F32\","
            "\"shape\":[],\"data_offsets\":[0,4]}}",
            4);
  TAP_OK(opens(bad, &err) == 0, "unknown keys skipped: %s", err.message);

  /* Writing to an unwritable place fails and leaves the old file alone. */
  char missing[600];
  snprintf(missing, sizeof missing, "%s/no/such/dir/x.safetensors", dir);
  wr = sm_st_writer_new();
  sm_st_writer_add_f32(wr, "bias", 1, (int64_t[]){5}, b);
  TAP_OK(sm_st_writer_write(wr, missing, &err) == -1 && strstr(err.message, missing),
         "unwritable path: %s", err.message);
  sm_st_writer_add_f32(wr, "bias", 1, (int64_t[]){5}, b);
  size_t before_size;
  uint8_t *before = (uint8_t *)slurp(path, &before_size);
  TAP_OK(sm_st_writer_write(wr, path, &err) == -1 && strstr(err.message, "duplicate"),
         "duplicate tensor refused: %s", err.message);
  size_t after_size;
  uint8_t *after = (uint8_t *)slurp(path, &after_size);
  TAP_OK(before_size == after_size && memcmp(before, after, before_size) == 0,
         "failed write left the existing file untouched");
  free(before);
  free(after);
  sm_st_writer_free(wr);

  unlink(path);
  unlink(bad);
  rmdir(dir);
  return tap_done();
}
