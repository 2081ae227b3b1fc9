#include "label_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "atomic_file.h"
#include "label_private.h"

/* File layout (host byte order, which is little-endian on every platform we
 * build for):
 *   header  : JournalHeader (crc over the bytes before `crc`)
 *   base    : base_len bytes, a serialised delta applied forwards
 *   records : { u32 magic, u32 type, u64 len, len bytes, u32 crc(type,len,payload) }* */
static const char JOURNAL_MAGIC[8] = {'S', 'M', 'L', 'J', 'R', 'N', 'L', '1'};
enum { RECORD_MAGIC = 0x524A4D53u /* "SMJR" */ };

typedef struct JournalHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_size;
  int64_t shape[3];
  uint64_t identity;
  int64_t created;
  uint64_t base_len;
  uint32_t base_crc;
  uint32_t crc;
} JournalHeader;

typedef struct JournalItem {
  struct JournalItem *next;
  size_t size;
  uint8_t bytes[]; /* one complete record */
} JournalItem;

struct SmLabelJournal {
  char path[4096];
  int fd;
  SmLabelStore *store;
  uint64_t durable; /* records known to be on disk */
  /* Asynchronous mode: a writer thread appends queued records in order and
   * flushes each batch with one fdatasync (group commit). */
  bool async;
  pthread_t writer;
  pthread_mutex_t lock;
  pthread_cond_t wake, drained;
  JournalItem *head, *tail;
  bool stop, writing;
  SmError error; /* the writer's first failure, reported by the next call */
};

static uint32_t crc_bytes(uint32_t crc, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
    crc = (uint32_t)crc32(crc, b, chunk);
    b += chunk;
    n -= chunk;
  }
  return crc;
}

static int write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *p, size_t n) {
  uint8_t *b = p;
  while (n) {
    ssize_t r = read(fd, b, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    b += r;
    n -= (size_t)r;
  }
  return 0;
}

/* The state at journal creation that the labels file does not hold. */
static SmLabelDelta *base_snapshot(SmLabelStore *s, SmError *err) {
  if (sm_label_edit_begin(s, "base", err) != 0) return NULL;
  SmLabelDelta *d = s->pending;
  s->pending = NULL;
  for (size_t i = 0; i < s->n_segs; i++) {
    const SmSegment *seg = &s->segs[i];
    if (!(seg->name || seg->n_extra || seg->voxels == 0 ||
          (seg->flags & (SM_SEGMENT_LOCKED | SM_SEGMENT_COLOR_SET))))
      continue;
    if (d->n_ops == d->cap_ops) {
      size_t cap = d->cap_ops ? d->cap_ops * 2 : 16;
      SmDeltaOp *ops = realloc(d->ops, cap * sizeof *ops);
      if (!ops) goto oom;
      d->ops = ops, d->cap_ops = cap;
    }
    SmDeltaOp *op = &d->ops[d->n_ops];
    memset(op, 0, sizeof *op);
    op->kind = SM_OP_RECORD;
    op->id = seg->id;
    if (!(op->after = sm_segment_clone(seg))) goto oom;
    d->n_ops++;
  }
  /* Voxels whose fragment is not their displayed id (merged fragments): the
   * file holds the displayed id, so the base turns them back into fragments. */
  if (s->frag_map.n) {
    size_t n = sm_label_store_voxels(s);
    uint64_t n_runs = 0;
    size_t cap = 0;
    uint8_t *bytes = NULL;
    size_t n_bytes = 0;
    uint64_t prev_end = 0;
    for (size_t i = 0; i < n;) {
      uint32_t f = s->data[i];
      uint32_t seg = sm_label_store_segment_of(s, f);
      size_t j = i + 1;
      while (j < n && s->data[j] == f) j++;
      if (seg != f) {
        for (size_t start = i; start < j;) {
          uint64_t len = j - start > UINT32_MAX ? UINT32_MAX : j - start;
          if (n_bytes + 40 > cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *p = realloc(bytes, cap);
            if (!p) {
              free(bytes);
              goto oom;
            }
            bytes = p;
          }
          uint64_t fields[4] = {((uint64_t)(start - prev_end)) << 1, len, seg, f};
          for (int k = 0; k < 4; k++) {
            uint64_t v = fields[k];
            while (v >= 0x80) bytes[n_bytes++] = (uint8_t)(v | 0x80), v >>= 7;
            bytes[n_bytes++] = (uint8_t)v;
          }
          prev_end = start + len;
          start += len;
          n_runs++;
        }
      }
      i = j;
    }
    if (n_runs) {
      SmDeltaOp *ops = realloc(d->ops, (d->n_ops + 1) * sizeof *ops);
      if (!ops) {
        free(bytes);
        goto oom;
      }
      d->ops = ops, d->cap_ops = d->n_ops + 1;
      SmDeltaOp *op = &d->ops[d->n_ops++];
      memset(op, 0, sizeof *op);
      op->kind = SM_OP_VOXELS;
      op->bytes = bytes;
      op->n_bytes = n_bytes;
      op->n_runs = n_runs;
    } else {
      free(bytes);
    }
  }
  return d;
oom:
  sm_delta_free(d);
  sm_error_set(err, "journal: out of memory");
  return NULL;
}

/* Writes header + base for the store's current state to path (atomically
 * replacing what is there) and returns an fd open for appending, or -1. */
static int write_fresh(const char *path, SmLabelStore *s, uint64_t identity, SmError *err) {
  SmLabelDelta *base = base_snapshot(s, err);
  if (!base) return -1;
  uint8_t *payload = NULL;
  size_t n_payload = 0;
  int rc = sm_delta_serialize(base, &payload, &n_payload);
  sm_delta_free(base);
  if (rc != 0) return sm_error_set(err, "%s: out of memory", path);
  JournalHeader h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, JOURNAL_MAGIC, sizeof h.magic);
  h.version = 1;
  h.header_size = sizeof h;
  h.shape[0] = s->nz, h.shape[1] = s->ny, h.shape[2] = s->nx;
  h.identity = identity;
  h.created = (int64_t)time(NULL);
  h.base_len = n_payload;
  h.base_crc = crc_bytes(0, payload, n_payload);
  h.crc = crc_bytes(0, &h, offsetof(JournalHeader, crc));

  /* Header and base appear under the real name only once complete, so an
   * older journal is replaced atomically. */
  SmAtomicFile af;
  if (sm_atomic_begin(&af, path, err) != 0) {
    free(payload);
    return -1;
  }
  if (write_all(af.fd, &h, sizeof h) != 0 || write_all(af.fd, payload, n_payload) != 0) {
    int e = errno;
    sm_atomic_abort(&af);
    free(payload);
    return sm_error_set(err, "%s: cannot write: %s", path, strerror(e));
  }
  free(payload);
  if (sm_atomic_commit(&af, err) != 0) return -1;
  int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return sm_error_set(err, "%s: cannot open for appending: %s", path, strerror(errno));
  return fd;
}

SmLabelJournal *sm_label_journal_create(const char *path, SmLabelStore *s, uint64_t identity,
                                        SmError *err) {
  if (s->pending) return sm_error_set(err, "%s: finish the current edit first", path), NULL;
  SmLabelJournal *j = calloc(1, sizeof *j);
  if (!j) return sm_error_set(err, "%s: out of memory", path), NULL;
  snprintf(j->path, sizeof j->path, "%s", path);
  j->fd = write_fresh(path, s, identity, err);
  if (j->fd < 0) {
    free(j);
    return NULL;
  }
  if (s->journal) sm_label_journal_close(s->journal);
  j->store = s;
  s->journal = j;
  return j;
}

int sm_label_journal_restart(SmLabelJournal *j, uint64_t identity, SmError *err) {
  SmLabelStore *s = j->store;
  if (!s) return sm_error_set(err, "%s: not attached to labels", j->path);
  if (s->pending) return sm_error_set(err, "%s: finish the current edit first", j->path);
  bool async = j->async;
  int rc = sm_label_journal_set_async(j, false, err); /* drain the queue into the old file */
  int fd = rc == 0 ? write_fresh(j->path, s, identity, err) : -1;
  if (fd >= 0) {
    close(j->fd);
    j->fd = fd;
    j->durable = 0;
  }
  if (async) sm_label_journal_set_async(j, true, NULL);
  return fd >= 0 ? 0 : -1;
}

static int append_record(SmLabelJournal *j, uint32_t type, uint8_t *payload, size_t n_payload,
                         SmError *err);

int sm_label_journal_append(SmLabelJournal *j, SmJournalRecordType type, const SmLabelDelta *d,
                            SmError *err) {
  uint8_t *payload = NULL;
  size_t n_payload = 0;
  if (sm_delta_serialize(d, &payload, &n_payload) != 0)
    return sm_error_set(err, "%s: out of memory (edit kept, not journaled)", j->path);
  return append_record(j, (uint32_t)type, payload, n_payload, err);
}

int sm_label_journal_mark_saved(SmLabelJournal *j, uint64_t identity, SmError *err) {
  uint8_t *payload = malloc(sizeof identity);
  if (!payload) return sm_error_set(err, "%s: out of memory", j->path);
  memcpy(payload, &identity, sizeof identity);
  /* Must be on disk before the labels file is replaced. */
  if (append_record(j, SM_JOURNAL_SAVED, payload, sizeof identity, err) != 0) return -1;
  return sm_label_journal_sync(j, err);
}

static void *journal_writer(void *arg) {
  SmLabelJournal *j = arg;
  pthread_mutex_lock(&j->lock);
  for (;;) {
    while (!j->head && !j->stop) pthread_cond_wait(&j->wake, &j->lock);
    if (!j->head) break;
    JournalItem *batch = j->head;
    j->head = j->tail = NULL;
    j->writing = true;
    pthread_mutex_unlock(&j->lock);
    uint64_t n = 0;
    int e = 0;
    while (batch) {
      JournalItem *next = batch->next;
      if (!e && write_all(j->fd, batch->bytes, batch->size) != 0) e = errno;
      n++;
      free(batch);
      batch = next;
    }
    if (!e && fdatasync(j->fd) != 0 && errno != EINVAL) e = errno;
    pthread_mutex_lock(&j->lock);
    j->writing = false;
    if (e && !j->error.message[0])
      sm_error_set(&j->error, "%s: cannot append: %s (edits kept, not journaled)", j->path, strerror(e));
    if (!e) j->durable += n;
    pthread_cond_broadcast(&j->drained);
  }
  pthread_mutex_unlock(&j->lock);
  return NULL;
}

int sm_label_journal_sync(SmLabelJournal *j, SmError *err) {
  if (!j->async) return 0;
  pthread_mutex_lock(&j->lock);
  while (j->head || j->writing) pthread_cond_wait(&j->drained, &j->lock);
  int rc = j->error.message[0] ? sm_error_set(err, "%s", j->error.message) : 0;
  pthread_mutex_unlock(&j->lock);
  return rc;
}

static void stop_writer(SmLabelJournal *j) {
  if (!j->async) return;
  pthread_mutex_lock(&j->lock);
  j->stop = true;
  pthread_cond_signal(&j->wake);
  pthread_mutex_unlock(&j->lock);
  pthread_join(j->writer, NULL);
  pthread_mutex_destroy(&j->lock);
  pthread_cond_destroy(&j->wake);
  pthread_cond_destroy(&j->drained);
  j->async = false;
  j->stop = false;
}

int sm_label_journal_set_async(SmLabelJournal *j, bool async, SmError *err) {
  if (async == j->async) return 0;
  if (!async) {
    int rc = sm_label_journal_sync(j, err);
    stop_writer(j);
    return rc;
  }
  j->head = j->tail = NULL;
  j->stop = j->writing = false;
  j->error.message[0] = '\0';
  pthread_mutex_init(&j->lock, NULL);
  pthread_cond_init(&j->wake, NULL);
  pthread_cond_init(&j->drained, NULL);
  if (pthread_create(&j->writer, NULL, journal_writer, j) != 0) {
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->wake);
    pthread_cond_destroy(&j->drained);
    return sm_error_set(err, "%s: cannot start the journal writer thread", j->path);
  }
  j->async = true;
  return 0;
}

uint64_t sm_label_journal_durable_records(SmLabelJournal *j) {
  if (!j->async) return j->durable;
  pthread_mutex_lock(&j->lock);
  uint64_t n = j->durable;
  pthread_mutex_unlock(&j->lock);
  return n;
}

/* Writes one record (takes payload) and flushes it, or hands it to the
 * writer thread in asynchronous mode. */
static int append_record(SmLabelJournal *j, uint32_t type, uint8_t *payload, size_t n_payload,
                         SmError *err) {
  size_t total = 16 + n_payload + 4;
  JournalItem *item = malloc(sizeof *item + total);
  if (!item) {
    free(payload);
    return sm_error_set(err, "%s: out of memory (edit kept, not journaled)", j->path);
  }
  item->next = NULL;
  item->size = total;
  uint8_t *rec = item->bytes;
  uint32_t magic = RECORD_MAGIC, t = type;
  uint64_t len = n_payload;
  memcpy(rec, &magic, 4);
  memcpy(rec + 4, &t, 4);
  memcpy(rec + 8, &len, 8);
  memcpy(rec + 16, payload, n_payload);
  free(payload);
  uint32_t crc = crc_bytes(0, rec + 4, 12 + n_payload);
  memcpy(rec + 16 + n_payload, &crc, 4);
  if (j->async) {
    pthread_mutex_lock(&j->lock);
    int rc = j->error.message[0] ? sm_error_set(err, "%s", j->error.message) : 0;
    if (rc == 0) {
      if (j->tail)
        j->tail->next = item;
      else
        j->head = item;
      j->tail = item;
      item = NULL;
      pthread_cond_signal(&j->wake);
    }
    pthread_mutex_unlock(&j->lock);
    free(item);
    return rc;
  }
  /* One write() per record: a crash tears at most this record. */
  int rc = write_all(j->fd, rec, total);
  int e = errno;
  free(item);
  if (rc == 0 && fdatasync(j->fd) != 0 && errno != EINVAL) rc = -1, e = errno;
  if (rc != 0)
    return sm_error_set(err, "%s: cannot append: %s (edit kept, not journaled)", j->path,
                        strerror(e));
  j->durable++;
  return 0;
}

void sm_label_journal_close(SmLabelJournal *j) {
  if (!j) return;
  stop_writer(j); /* writes what is queued first */
  if (j->store && j->store->journal == j) j->store->journal = NULL;
  if (j->fd >= 0) close(j->fd);
  free(j);
}

void sm_label_journal_discard(SmLabelJournal *j) {
  if (!j) return;
  unlink(j->path);
  sm_label_journal_close(j);
}

const char *sm_label_journal_path(const SmLabelJournal *j) { return j->path; }

/* ---- reading ------------------------------------------------------------------ */

typedef struct JournalReader {
  int fd;
  JournalHeader h;
  uint8_t *base;
  off_t end_of_good; /* offset after the last complete record */
  off_t file_size;
} JournalReader;

static int reader_open(JournalReader *r, const char *path, SmError *err) {
  memset(r, 0, sizeof *r);
  r->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (r->fd < 0) return sm_error_set(err, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  fstat(r->fd, &st);
  r->file_size = st.st_size;
  if (read_all(r->fd, &r->h, sizeof r->h) != 0 ||
      memcmp(r->h.magic, JOURNAL_MAGIC, sizeof JOURNAL_MAGIC) != 0) {
    close(r->fd);
    return sm_error_set(err, "%s: not a semmae label journal", path);
  }
  if (r->h.version != 1 || r->h.header_size != sizeof r->h ||
      r->h.crc != crc_bytes(0, &r->h, offsetof(JournalHeader, crc))) {
    close(r->fd);
    return sm_error_set(err, "%s: damaged or unsupported journal header", path);
  }
  if (r->h.base_len > (uint64_t)(r->file_size - (off_t)sizeof r->h) ||
      !(r->base = malloc(r->h.base_len ? r->h.base_len : 1)) ||
      read_all(r->fd, r->base, r->h.base_len) != 0 ||
      crc_bytes(0, r->base, r->h.base_len) != r->h.base_crc) {
    free(r->base);
    close(r->fd);
    return sm_error_set(err, "%s: damaged journal base", path);
  }
  r->end_of_good = (off_t)(sizeof r->h + r->h.base_len);
  return 0;
}

/* Next complete record; 1 when there is none (end or torn tail). */
static int reader_next(JournalReader *r, uint32_t *type, uint8_t **payload, size_t *n) {
  uint8_t head[16];
  if (lseek(r->fd, r->end_of_good, SEEK_SET) < 0 || read_all(r->fd, head, 16) != 0) return 1;
  uint32_t magic, t;
  uint64_t len;
  memcpy(&magic, head, 4);
  memcpy(&t, head + 4, 4);
  memcpy(&len, head + 8, 8);
  if (magic != RECORD_MAGIC || len > (uint64_t)(r->file_size - r->end_of_good - 20)) return 1;
  uint8_t *p = malloc(len + 4);
  if (!p || read_all(r->fd, p, len + 4) != 0) {
    free(p);
    return 1;
  }
  uint32_t crc, want = crc_bytes(crc_bytes(0, head + 4, 12), p, len);
  memcpy(&crc, p + len, 4);
  if (crc != want || t < SM_JOURNAL_EDIT || t > SM_JOURNAL_SAVED || (t == SM_JOURNAL_SAVED && len != 8)) {
    free(p);
    return 1;
  }
  r->end_of_good += (off_t)(16 + len + 4);
  *type = t;
  *payload = p;
  *n = len;
  return 0;
}

static void reader_close(JournalReader *r) {
  free(r->base);
  if (r->fd >= 0) close(r->fd);
}

int sm_label_journal_probe(const char *path, SmJournalInfo *info, SmError *err) {
  JournalReader r;
  if (reader_open(&r, path, err) != 0) return -1;
  memset(info, 0, sizeof *info);
  memcpy(info->shape, r.h.shape, sizeof info->shape);
  info->identity = r.h.identity;
  info->created = r.h.created;
  uint32_t type;
  uint8_t *payload;
  size_t n;
  while (reader_next(&r, &type, &payload, &n) == 0) {
    info->saved = type == SM_JOURNAL_SAVED;
    if (info->saved) memcpy(&info->saved_identity, payload, sizeof info->saved_identity);
    free(payload);
    if (info->saved) continue;
    info->records++;
    if (type == SM_JOURNAL_EDIT) info->edits++;
  }
  info->torn_bytes = (uint64_t)(r.file_size - r.end_of_good);
  reader_close(&r);
  return 0;
}

SmLabelJournal *sm_label_journal_recover(const char *path, SmLabelStore *s, uint64_t identity,
                                         SmJournalInfo *info, SmError *err) {
  if (s->pending) return sm_error_set(err, "%s: finish the current edit first", path), NULL;
  JournalReader r;
  if (reader_open(&r, path, err) != 0) return NULL;
  if (r.h.shape[0] == s->nz && r.h.shape[1] == s->ny && r.h.shape[2] == s->nx &&
      r.h.identity != identity) {
    /* Died between writing the labels and restarting the journal? Then the
     * file holds every edit: nothing to recover, start afresh. */
    reader_close(&r);
    SmJournalInfo probe;
    if (sm_label_journal_probe(path, &probe, NULL) == 0 && probe.saved && probe.saved_identity == identity) {
      SmLabelJournal *fresh = sm_label_journal_create(path, s, identity, err);
      if (fresh && info) {
        memset(info, 0, sizeof *info);
        memcpy(info->shape, probe.shape, sizeof info->shape);
        info->identity = identity;
        info->created = probe.created;
        info->saved = true;
        info->saved_identity = identity;
      }
      return fresh;
    }
    if (reader_open(&r, path, err) != 0) return NULL;
  }
  if (r.h.shape[0] != s->nz || r.h.shape[1] != s->ny || r.h.shape[2] != s->nx ||
      r.h.identity != identity) {
    sm_error_set(err,
                 "%s: belongs to another label volume (journal: %lldx%lldx%lld, id %016llx; "
                 "open labels: %lldx%lldx%lld, id %016llx); nothing recovered",
                 path, (long long)r.h.shape[0], (long long)r.h.shape[1], (long long)r.h.shape[2],
                 (unsigned long long)r.h.identity, (long long)s->nz, (long long)s->ny,
                 (long long)s->nx, (unsigned long long)identity);
    reader_close(&r);
    return NULL;
  }
  SmJournalInfo local;
  if (!info) info = &local;
  memset(info, 0, sizeof *info);
  memcpy(info->shape, r.h.shape, sizeof info->shape);
  info->identity = r.h.identity;
  info->created = r.h.created;

  SmLabelJournal *keep = s->journal;
  s->journal = NULL; /* replay must not append to any journal */
  SmLabelDelta *base = sm_delta_deserialize(r.base, r.h.base_len, err);
  if (!base || sm_delta_apply(s, base, true, err) != 0) {
    sm_delta_free(base);
    s->journal = keep;
    reader_close(&r);
    return NULL;
  }
  sm_delta_free(base);
  s->version++;
  uint32_t type;
  uint8_t *payload;
  size_t n;
  while (reader_next(&r, &type, &payload, &n) == 0) {
    if (type == SM_JOURNAL_SAVED) { /* the save did not complete (or we would not be here) */
      free(payload);
      continue;
    }
    SmLabelDelta *d = sm_delta_deserialize(payload, n, NULL);
    free(payload);
    if (!d) break; /* CRC-valid but unreadable: stop at the last good edit */
    int rc;
    if (type == SM_JOURNAL_EDIT) {
      rc = sm_delta_apply(s, d, true, NULL);
      s->version++;
      sm_history_push_replayed(s, d);
    } else {
      rc = sm_history_replay(s, d, type == SM_JOURNAL_REDO, NULL);
    }
    if (rc != 0) break;
    info->records++;
    if (type == SM_JOURNAL_EDIT) info->edits++;
  }
  info->torn_bytes = (uint64_t)(r.file_size - r.end_of_good);
  off_t good = r.end_of_good;
  reader_close(&r);
  sm_store_notify(s, "recover", false);

  SmLabelJournal *j = calloc(1, sizeof *j);
  if (!j) {
    s->journal = keep;
    return sm_error_set(err, "%s: out of memory", path), NULL;
  }
  snprintf(j->path, sizeof j->path, "%s", path);
  j->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (j->fd < 0 || ftruncate(j->fd, good) != 0) {
    int e = errno;
    if (j->fd >= 0) close(j->fd);
    free(j);
    s->journal = keep;
    return sm_error_set(err, "%s: recovered, but cannot continue the journal: %s", path,
                        strerror(e)),
           NULL;
  }
  fdatasync(j->fd);
  if (keep) sm_label_journal_close(keep);
  j->store = s;
  s->journal = j;
  return j;
}

/* mkdir -p for the state directory. */
static void make_dirs(char *path) {
  for (char *c = path + 1; *c; c++) {
    if (*c != '/') continue;
    *c = '\0';
    mkdir(path, 0700);
    *c = '/';
  }
  mkdir(path, 0700);
}

void sm_label_journal_default_path(const char *labels_path, const char *image_path, char *out,
                                   size_t size) {
  const char *base = labels_path && *labels_path ? labels_path : image_path ? image_path : "untitled";
  const char *suffix = labels_path && *labels_path ? ".journal" : ".labels.journal";
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", base);
  char *slash = strrchr(dir, '/');
  if (slash)
    slash == dir ? (void)(slash[1] = '\0') : (void)(*slash = '\0');
  else
    snprintf(dir, sizeof dir, ".");
  struct stat st;
  /* Writable, and not a folder nobody may write to (root passes access()). */
  if (access(dir, W_OK) == 0 && stat(dir, &st) == 0 && (st.st_mode & 0222)) {
    snprintf(out, size, "%s%s", base, suffix);
    return;
  }
  /* A read-only place (shared data, a mounted archive): keep the journal in
   * the user's state directory, named after the file and a hash of its path. */
  char abs[4096];
  const char *full = realpath(base, abs) ? abs : base;
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char *c = full; *c; c++) h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
  const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
  char state_dir[4096];
  if (state && *state)
    snprintf(state_dir, sizeof state_dir, "%s/semmae/journals", state);
  else
    snprintf(state_dir, sizeof state_dir, "%s/.local/state/semmae/journals", home && *home ? home : "/tmp");
  make_dirs(state_dir);
  const char *name = strrchr(base, '/') ? strrchr(base, '/') + 1 : base;
  snprintf(out, size, "%s/%s-%016llx%s", state_dir, name, (unsigned long long)h, suffix);
}

uint64_t sm_label_identity_for_image(const char *image_path, const int64_t shape[3]) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char *c = image_path; c && *c; c++) h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
  for (int a = 0; a < 3; a++) h = (h ^ (uint64_t)shape[a]) * 0x100000001b3ull;
  return h ^ 0x1ABE15ull; /* never equal to a content hash of the same numbers by accident */
}
