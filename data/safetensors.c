#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"

/* The reference implementation refuses headers past 100 MB; so do we, so that
 * a corrupt length never turns into a huge allocation. */
#define MAX_HEADER_BYTES (100u * 1000u * 1000u)
#define MAX_JSON_DEPTH 64

static const struct {
  const char *name;
  unsigned size;
} dtypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
    {"I8", 1},  {"U64", 8}, {"U32", 4}, {"U16", 2},  {"U8", 1},   {"BOOL", 1},
    {"F8_E4M3", 1}, {"F8_E5M2", 1},
};

static unsigned dtype_size(const char *name) {
  for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
    if (strcmp(dtypes[i].name, name) == 0) return dtypes[i].size;
  return 0;
}

static bool host_is_little_endian(void) {
  const uint16_t one = 1;
  return *(const uint8_t *)&one == 1;
}

/* ---------------------------------------------------------------- reading */

/* A recursive-descent parser for exactly the JSON a safetensors header may
 * hold; anything else is a one-line error with the byte offset. */
typedef struct Parser {
  const char *s;
  size_t n, pos;
  const char *path;
  SmError *err;
} Parser;

static int parse_fail(Parser *p, const char *what) {
  /* Offsets count from the start of the file: 8 bytes of length come first. */
  return sm_error_set(p->err, "%s: corrupt safetensors header at byte %zu: %s", p->path,
                      p->pos + 8, what);
}

static void skip_ws(Parser *p) {
  while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                           p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
    p->pos++;
}

static bool peek(Parser *p, char c) {
  skip_ws(p);
  return p->pos < p->n && p->s[p->pos] == c;
}

static int expect(Parser *p, char c) {
  if (!peek(p, c)) {
    char what[32];
    snprintf(what, sizeof what, "expected '%c'", c);
    return parse_fail(p, what);
  }
  p->pos++;
  return 0;
}

static int hex4(Parser *p, unsigned *out) {
  if (p->n - p->pos < 4) return parse_fail(p, "truncated \\u escape");
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p->s[p->pos++];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return parse_fail(p, "bad \\u escape");
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) { o[0] = (char)cp; return 1; }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes a JSON string into a fresh allocation (or, with out == NULL, skips it). */
static int parse_string(Parser *p, char **out) {
  if (expect(p, '"')) return -1;
  size_t start = p->pos;
  /* The decoded text is never longer than the escaped text. */
  size_t end = start;
  while (end < p->n && p->s[end] != '"') end += (p->s[end] == '\\') ? 2 : 1;
  if (end >= p->n) return parse_fail(p, "unterminated string");
  char *buf = out ? malloc(end - start + 1) : NULL;
  if (out && !buf) return sm_error_set(p->err, "%s: out of memory", p->path);
  size_t k = 0;
  while (p->s[p->pos] != '"') {
    unsigned char c = (unsigned char)p->s[p->pos++];
    if (c < 0x20) { free(buf); return parse_fail(p, "control character in string"); }
    if (c != '\\') { if (buf) buf[k] = (char)c; k++; continue; }
    char e = p->s[p->pos++];
    char lit = 0;
    switch (e) {
    case '"': lit = '"'; break;
    case '\\': lit = '\\'; break;
    case '/': lit = '/'; break;
    case 'b': lit = '\b'; break;
    case 'f': lit = '\f'; break;
    case 'n': lit = '\n'; break;
    case 'r': lit = '\r'; break;
    case 't': lit = '\t'; break;
    case 'u': {
      unsigned cp;
      if (hex4(p, &cp)) { free(buf); return -1; }
      if (cp >= 0xD800 && cp < 0xDC00 && p->n - p->pos >= 6 && p->s[p->pos] == '\\' &&
          p->s[p->pos + 1] == 'u') {
        p->pos += 2;
        unsigned lo;
        if (hex4(p, &lo)) { free(buf); return -1; }
        if (lo < 0xDC00 || lo > 0xDFFF) { free(buf); return parse_fail(p, "bad surrogate pair"); }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      }
      char tmp[4];
      size_t len = put_utf8(tmp, cp);
      /* A \uXXXX escape takes 6 bytes and yields at most 4 (a pair: 12 -> 4). */
      if (buf) memcpy(buf + k, tmp, len);
      k += len;
      continue;
    }
    default: free(buf); return parse_fail(p, "bad escape in string");
    }
    if (buf) buf[k] = lit;
    k++;
  }
  p->pos++; /* closing quote */
  if (buf) {
    buf[k] = '\0';
    if (strlen(buf) != k) { free(buf); return parse_fail(p, "NUL character in string"); }
    *out = buf;
  }
  return 0;
}

static int parse_u64(Parser *p, uint64_t *out) {
  skip_ws(p);
  if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9')
    return parse_fail(p, "expected a non-negative integer");
  uint64_t v = 0;
  while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
    unsigned d = (unsigned)(p->s[p->pos] - '0');
    if (v > (UINT64_MAX - d) / 10) return parse_fail(p, "integer too large");
    v = v * 10 + d;
    p->pos++;
  }
  if (p->pos < p->n && (p->s[p->pos] == '.' || p->s[p->pos] == 'e' || p->s[p->pos] == 'E'))
    return parse_fail(p, "expected an integer");
  *out = v;
  return 0;
}

static int skip_value(Parser *p, int depth) {
  if (depth > MAX_JSON_DEPTH) return parse_fail(p, "nesting too deep");
  skip_ws(p);
  if (p->pos >= p->n) return parse_fail(p, "unexpected end of header");
  char c = p->s[p->pos];
  if (c == '"') return parse_string(p, NULL);
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    p->pos++;
    if (peek(p, close)) { p->pos++; return 0; }
    for (;;) {
      if (c == '{') {
        if (parse_string(p, NULL) || expect(p, ':')) return -1;
      }
      if (skip_value(p, depth + 1)) return -1;
      if (peek(p, ',')) { p->pos++; continue; }
      return expect(p, close);
    }
  }
  static const char *const words[] = {"true", "false", "null"};
  for (int i = 0; i < 3; i++) {
    size_t len = strlen(words[i]);
    if (p->n - p->pos >= len && memcmp(p->s + p->pos, words[i], len) == 0) {
      p->pos += len;
      return 0;
    }
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    p->pos++;
    while (p->pos < p->n && strchr("0123456789.eE+-", p->s[p->pos])) p->pos++;
    return 0;
  }
  return parse_fail(p, "unexpected character");
}

static int parse_tensor(Parser *p, SmStTensor *t) {
  bool have_dtype = false, have_shape = false, have_offsets = false;
  if (expect(p, '{')) return -1;
  if (peek(p, '}')) { p->pos++; goto check; }
  for (;;) {
    char *key = NULL;
    if (parse_string(p, &key)) return -1;
    if (expect(p, ':')) { free(key); return -1; }
    int rc = 0;
    if (strcmp(key, "dtype") == 0) {
      char *dt = NULL;
      rc = parse_string(p, &dt);
      if (!rc) {
        if (strlen(dt) >= sizeof t->dtype || !dtype_size(dt)) {
          char what[96];
          snprintf(what, sizeof what, "unknown dtype \"%.40s\"", dt);
          rc = parse_fail(p, what);
        } else {
          strcpy(t->dtype, dt);
          have_dtype = true;
        }
      }
      free(dt);
    } else if (strcmp(key, "shape") == 0) {
      rc = expect(p, '[');
      t->ndim = 0;
      if (!rc && peek(p, ']')) p->pos++;
      else
        while (!rc) {
          uint64_t d;
          if ((rc = parse_u64(p, &d))) break;
          if (t->ndim == SM_ST_MAX_DIMS) { rc = parse_fail(p, "too many dimensions"); break; }
          if (d > INT64_MAX) { rc = parse_fail(p, "dimension too large"); break; }
          t->shape[t->ndim++] = (int64_t)d;
          if (peek(p, ',')) { p->pos++; continue; }
          rc = expect(p, ']');
          break;
        }
      have_shape = !rc;
    } else if (strcmp(key, "data_offsets") == 0) {
      rc = expect(p, '[') || parse_u64(p, &t->begin) || expect(p, ',') ||
           parse_u64(p, &t->end) || expect(p, ']');
      have_offsets = !rc;
    } else {
      rc = skip_value(p, 1);
    }
    free(key);
    if (rc) return -1;
    if (peek(p, ',')) { p->pos++; continue; }
    if (expect(p, '}')) return -1;
    break;
  }
check:
  if (!have_dtype) return parse_fail(p, "tensor without \"dtype\"");
  if (!have_shape) return parse_fail(p, "tensor without \"shape\"");
  if (!have_offsets) return parse_fail(p, "tensor without \"data_offsets\"");
  return 0;
}

static int parse_metadata(Parser *p, SmSafetensors *st) {
  if (peek(p, 'n')) return skip_value(p, 1); /* "__metadata__": null */
  if (expect(p, '{')) return -1;
  if (peek(p, '}')) { p->pos++; return 0; }
  for (;;) {
    SmStMeta m = {0};
    if (parse_string(p, &m.key)) return -1;
    if (expect(p, ':')) { free(m.key); return -1; }
    if (!peek(p, '"')) { free(m.key); return parse_fail(p, "metadata values must be strings"); }
    if (parse_string(p, &m.value)) { free(m.key); return -1; }
    SmStMeta *grown = realloc(st->meta, (size_t)(st->n_meta + 1) * sizeof *grown);
    if (!grown) { free(m.key); free(m.value); return sm_error_set(p->err, "%s: out of memory", p->path); }
    st->meta = grown;
    st->meta[st->n_meta++] = m;
    if (peek(p, ',')) { p->pos++; continue; }
    return expect(p, '}');
  }
}

static int parse_header(Parser *p, SmSafetensors *st) {
  if (expect(p, '{')) return -1;
  if (peek(p, '}')) { p->pos++; goto end; }
  for (;;) {
    char *name = NULL;
    if (parse_string(p, &name)) return -1;
    if (expect(p, ':')) { free(name); return -1; }
    if (strcmp(name, "__metadata__") == 0) {
      free(name);
      if (parse_metadata(p, st)) return -1;
    } else {
      SmStTensor *grown = realloc(st->tensors, (size_t)(st->n_tensors + 1) * sizeof *grown);
      if (!grown) { free(name); return sm_error_set(p->err, "%s: out of memory", p->path); }
      st->tensors = grown;
      SmStTensor *t = &st->tensors[st->n_tensors++];
      memset(t, 0, sizeof *t);
      t->name = name;
      if (parse_tensor(p, t)) return -1;
    }
    if (peek(p, ',')) { p->pos++; continue; }
    if (expect(p, '}')) return -1;
    break;
  }
end:
  skip_ws(p);
  if (p->pos != p->n) return parse_fail(p, "trailing bytes after the header object");
  return 0;
}

int64_t sm_st_tensor_numel(const SmStTensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
  return n;
}

static int cmp_tensor_begin(const void *a, const void *b) {
  const SmStTensor *x = *(SmStTensor *const *)a, *y = *(SmStTensor *const *)b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int cmp_tensor_name(const void *a, const void *b) {
  return strcmp((*(SmStTensor *const *)a)->name, (*(SmStTensor *const *)b)->name);
}

/* Sizes agree with dtype x shape, ranges lie in the data section, no two
 * tensors overlap and no name repeats. */
static int validate(SmSafetensors *st, SmError *err) {
  for (int i = 0; i < st->n_tensors; i++) {
    const SmStTensor *t = &st->tensors[i];
    uint64_t bytes = dtype_size(t->dtype);
    for (int d = 0; d < t->ndim; d++) {
      if (t->shape[d] != 0 && bytes > UINT64_MAX / (uint64_t)t->shape[d])
        return sm_error_set(err, "%s: tensor '%s' has an impossible shape", st->path, t->name);
      bytes *= (uint64_t)t->shape[d];
    }
    if (t->end < t->begin || t->end - t->begin != bytes)
      return sm_error_set(err,
                          "%s: tensor '%s': data_offsets [%llu, %llu] do not match its dtype %s "
                          "and shape (%llu bytes)",
                          st->path, t->name, (unsigned long long)t->begin,
                          (unsigned long long)t->end, t->dtype, (unsigned long long)bytes);
    if (t->end > st->data_size)
      return sm_error_set(err,
                          "%s: truncated: tensor '%s' ends at data byte %llu but the file holds "
                          "only %llu",
                          st->path, t->name, (unsigned long long)t->end,
                          (unsigned long long)st->data_size);
  }
  if (st->n_tensors < 2) return 0;
  SmStTensor **order = malloc((size_t)st->n_tensors * sizeof *order);
  if (!order) return sm_error_set(err, "%s: out of memory", st->path);
  for (int i = 0; i < st->n_tensors; i++) order[i] = &st->tensors[i];
  int rc = 0;
  qsort(order, (size_t)st->n_tensors, sizeof *order, cmp_tensor_name);
  for (int i = 1; i < st->n_tensors && !rc; i++)
    if (strcmp(order[i - 1]->name, order[i]->name) == 0)
      rc = sm_error_set(err, "%s: tensor '%s' appears twice", st->path, order[i]->name);
  qsort(order, (size_t)st->n_tensors, sizeof *order, cmp_tensor_begin);
  for (int i = 1; i < st->n_tensors && !rc; i++)
    if (order[i]->begin < order[i - 1]->end && order[i]->end > order[i]->begin)
      rc = sm_error_set(err, "%s: tensors '%s' and '%s' overlap", st->path, order[i - 1]->name,
                        order[i]->name);
  free(order);
  return rc;
}

static int read_fully(int fd, void *buf, size_t n, uint64_t offset) {
  uint8_t *b = buf;
  while (n) {
    ssize_t got = pread(fd, b, n, (off_t)offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;
    b += got;
    n -= (size_t)got;
    offset += (uint64_t)got;
  }
  return 0;
}

int sm_safetensors_open(const char *path, SmSafetensors *st, SmError *err) {
  memset(st, 0, sizeof *st);
  st->fd = -1;
  snprintf(st->path, sizeof st->path, "%s", path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sm_error_set(err, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return sm_error_set(err, "%s: not a regular file", path);
  }
  uint64_t file_size = (uint64_t)sb.st_size;
  uint8_t len_bytes[8];
  if (file_size < 8 || read_fully(fd, len_bytes, 8, 0)) {
    close(fd);
    return sm_error_set(err, "%s: not a safetensors file (shorter than its 8-byte header length)",
                        path);
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; i--) header_len = (header_len << 8) | len_bytes[i];
  if (header_len < 2 || header_len > MAX_HEADER_BYTES) {
    close(fd);
    return sm_error_set(err, "%s: not a safetensors file (header length %llu)", path,
                        (unsigned long long)header_len);
  }
  if (header_len > file_size - 8) {
    close(fd);
    return sm_error_set(err,
                        "%s: truncated: header of %llu bytes announced, only %llu bytes follow",
                        path, (unsigned long long)header_len,
                        (unsigned long long)(file_size - 8));
  }
  char *header = malloc(header_len);
  if (!header) {
    close(fd);
    return sm_error_set(err, "%s: out of memory", path);
  }
  if (read_fully(fd, header, header_len, 8)) {
    free(header);
    close(fd);
    return sm_error_set(err, "%s: cannot read: %s", path, strerror(errno));
  }
  if (header[0] != '{') {
    free(header);
    close(fd);
    return sm_error_set(err, "%s: not a safetensors file (header does not start with '{')", path);
  }
  st->fd = fd;
  st->data_start = 8 + header_len;
  st->data_size = file_size - st->data_start;
  Parser p = {header, header_len, 0, path, err};
  int rc = parse_header(&p, st);
  free(header);
  if (!rc) rc = validate(st, err);
  if (rc) sm_safetensors_close(st);
  return rc;
}

void sm_safetensors_close(SmSafetensors *st) {
  if (st->fd >= 0) close(st->fd);
  st->fd = -1;
  for (int i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
  for (int i = 0; i < st->n_meta; i++) {
    free(st->meta[i].key);
    free(st->meta[i].value);
  }
  free(st->tensors);
  free(st->meta);
  st->tensors = NULL;
  st->meta = NULL;
  st->n_tensors = st->n_meta = 0;
}

const SmStTensor *sm_safetensors_find(const SmSafetensors *st, const char *name) {
  for (int i = 0; i < st->n_tensors; i++)
    if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
  return NULL;
}

const char *sm_safetensors_meta(const SmSafetensors *st, const char *key) {
  for (int i = 0; i < st->n_meta; i++)
    if (strcmp(st->meta[i].key, key) == 0) return st->meta[i].value;
  return NULL;
}

static void swap32(void *buf, size_t n) {
  uint8_t *b = buf;
  for (size_t i = 0; i < n; i++, b += 4) {
    uint8_t t0 = b[0], t1 = b[1];
    b[0] = b[3];
    b[1] = b[2];
    b[2] = t1;
    b[3] = t0;
  }
}

int sm_safetensors_read_f32(const SmSafetensors *st, const char *name, float *out,
                            int64_t count, SmError *err) {
  const SmStTensor *t = sm_safetensors_find(st, name);
  if (!t) return sm_error_set(err, "%s: tensor '%s' is missing", st->path, name);
  if (strcmp(t->dtype, "F32") != 0)
    return sm_error_set(err, "%s: tensor '%s' is %s, expected F32", st->path, name, t->dtype);
  if (sm_st_tensor_numel(t) != count)
    return sm_error_set(err, "%s: tensor '%s' has %lld elements, expected %lld", st->path, name,
                        (long long)sm_st_tensor_numel(t), (long long)count);
  if (read_fully(st->fd, out, (size_t)count * 4, st->data_start + t->begin))
    return sm_error_set(err, "%s: truncated while reading tensor '%s'", st->path, name);
  if (!host_is_little_endian()) swap32(out, (size_t)count);
  return 0;
}

/* ---------------------------------------------------------------- writing */

typedef struct WriterTensor {
  char *name;
  int ndim;
  int64_t shape[SM_ST_MAX_DIMS];
  const float *data;
} WriterTensor;

struct SmStWriter {
  WriterTensor *tensors;
  int n_tensors;
  SmStMeta *meta;
  int n_meta;
  bool failed; /* out of memory or bad argument while collecting */
  char failure[256];
};

SmStWriter *sm_st_writer_new(void) { return calloc(1, sizeof(SmStWriter)); }

void sm_st_writer_free(SmStWriter *w) {
  if (!w) return;
  for (int i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
  for (int i = 0; i < w->n_meta; i++) {
    free(w->meta[i].key);
    free(w->meta[i].value);
  }
  free(w->tensors);
  free(w->meta);
  free(w);
}

static int writer_fail(SmStWriter *w, const char *what, const char *name) {
  if (!w->failed) snprintf(w->failure, sizeof w->failure, "%s '%.200s'", what, name);
  w->failed = true;
  return -1;
}

int sm_st_writer_add_meta(SmStWriter *w, const char *key, const char *value) {
  for (int i = 0; i < w->n_meta; i++)
    if (strcmp(w->meta[i].key, key) == 0) return writer_fail(w, "duplicate metadata key", key);
  SmStMeta *grown = realloc(w->meta, (size_t)(w->n_meta + 1) * sizeof *grown);
  if (!grown) return writer_fail(w, "out of memory at", key);
  w->meta = grown;
  SmStMeta m = {strdup(key), strdup(value)};
  if (!m.key || !m.value) {
    free(m.key);
    free(m.value);
    return writer_fail(w, "out of memory at", key);
  }
  w->meta[w->n_meta++] = m;
  return 0;
}

int sm_st_writer_add_f32(SmStWriter *w, const char *name, int ndim, const int64_t *shape,
                         const float *data) {
  if (strcmp(name, "__metadata__") == 0) return writer_fail(w, "reserved tensor name", name);
  if (ndim < 0 || ndim > SM_ST_MAX_DIMS) return writer_fail(w, "too many dimensions for", name);
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 0) return writer_fail(w, "negative dimension in", name);
  for (int i = 0; i < w->n_tensors; i++)
    if (strcmp(w->tensors[i].name, name) == 0) return writer_fail(w, "duplicate tensor", name);
  WriterTensor *grown = realloc(w->tensors, (size_t)(w->n_tensors + 1) * sizeof *grown);
  if (!grown) return writer_fail(w, "out of memory at", name);
  w->tensors = grown;
  WriterTensor *t = &w->tensors[w->n_tensors];
  memset(t, 0, sizeof *t);
  t->name = strdup(name);
  if (!t->name) return writer_fail(w, "out of memory at", name);
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  t->data = data;
  w->n_tensors++;
  return 0;
}

/* A growing text buffer for the JSON header. */
typedef struct Text {
  char *s;
  size_t len, cap;
  bool oom;
} Text;

static void text_put(Text *t, const char *s, size_t n) {
  if (t->oom) return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + n + 1) cap *= 2;
    char *grown = realloc(t->s, cap);
    if (!grown) { t->oom = true; return; }
    t->s = grown;
    t->cap = cap;
  }
  memcpy(t->s + t->len, s, n);
  t->len += n;
  t->s[t->len] = '\0';
}

static void text_printf(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(Text *t, const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) text_put(t, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void text_json_string(Text *t, const char *s) {
  text_put(t, "\"", 1);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\') {
      char esc[2] = {'\\', (char)*c};
      text_put(t, esc, 2);
    } else if (*c < 0x20) {
      text_printf(t, "\\u%04x", *c);
    } else {
      text_put(t, (const char *)c, 1);
    }
  }
  text_put(t, "\"", 1);
}

static int write_fully(int fd, const void *buf, size_t n) {
  const uint8_t *b = buf;
  while (n) {
    ssize_t put = write(fd, b, n);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return -1;
    b += put;
    n -= (size_t)put;
  }
  return 0;
}

static uint64_t tensor_bytes(const WriterTensor *t) {
  uint64_t n = 4;
  for (int i = 0; i < t->ndim; i++) n *= (uint64_t)t->shape[i];
  return n;
}

static int write_tensor_data(int fd, const WriterTensor *t) {
  uint64_t bytes = tensor_bytes(t);
  if (host_is_little_endian()) return write_fully(fd, t->data, bytes);
  float chunk[4096];
  const float *src = t->data;
  for (uint64_t left = bytes / 4; left;) {
    size_t n = left < 4096 ? (size_t)left : 4096;
    memcpy(chunk, src, n * 4);
    swap32(chunk, n);
    if (write_fully(fd, chunk, n * 4)) return -1;
    src += n;
    left -= n;
  }
  return 0;
}

int sm_st_writer_write(SmStWriter *w, const char *path, SmError *err) {
  if (w->failed) return sm_error_set(err, "%s: cannot write: %s", path, w->failure);
  Text h = {0};
  text_put(&h, "{", 1);
  bool first = true;
  if (w->n_meta) {
    text_put(&h, "\"__metadata__\":{", 16);
    for (int i = 0; i < w->n_meta; i++) {
      if (i) text_put(&h, ",", 1);
      text_json_string(&h, w->meta[i].key);
      text_put(&h, ":", 1);
      text_json_string(&h, w->meta[i].value);
    }
    text_put(&h, "}", 1);
    first = false;
  }
  uint64_t offset = 0;
  for (int i = 0; i < w->n_tensors; i++) {
    const WriterTensor *t = &w->tensors[i];
    if (!first) text_put(&h, ",", 1);
    first = false;
    text_json_string(&h, t->name);
    text_put(&h, ":{\"dtype\":\"F32\",\"shape\":[", 25);
    for (int d = 0; d < t->ndim; d++) text_printf(&h, d ? ",%lld" : "%lld", (long long)t->shape[d]);
    uint64_t bytes = tensor_bytes(t);
    text_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                (unsigned long long)(offset + bytes));
    offset += bytes;
  }
  text_put(&h, "}", 1);
  /* Pad with spaces so that the data section starts 8-byte aligned, as the
   * reference writer does (lets readers map tensors in place). */
  while ((8 + h.len) % 8) text_put(&h, " ", 1);
  if (h.oom) {
    free(h.s);
    return sm_error_set(err, "%s: out of memory", path);
  }

  SmAtomicFile af;
  if (sm_atomic_begin(&af, path, err)) {
    free(h.s);
    return -1;
  }
  uint8_t len_bytes[8];
  for (int i = 0; i < 8; i++) len_bytes[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
  int rc = write_fully(af.fd, len_bytes, 8) || write_fully(af.fd, h.s, h.len);
  for (int i = 0; i < w->n_tensors && !rc; i++) rc = write_tensor_data(af.fd, &w->tensors[i]);
  free(h.s);
  if (rc) {
    int e = errno;
    sm_atomic_abort(&af);
    return sm_error_set(err, "%s: cannot write: %s", path, strerror(e));
  }
  return sm_atomic_commit(&af, err);
}
