/* The edit journal: never lose an edit.
 *
 * A journal is a file beside the labels (the app's choice, e.g.
 * "labels.tif.journal") holding
 *   - a header naming the label volume it belongs to: shape and an identity
 *     hash (sm_label_store_content_hash of the labels as loaded from disk,
 *     or of the image path + shape when the labels start empty);
 *   - a base snapshot: the store state at creation that the file on disk
 *     does not hold (merged fragments, names, colours, locks, empty segments);
 *   - one record per committed edit, undo and redo, each written with one
 *     write() and flushed with fdatasync() before the call returns, and
 *     checked by a CRC, so a crash can only tear the last record.
 * Recovery loads the same labels, checks the header, applies the base and
 * replays every complete record; a torn trailing record is ignored (and cut
 * off when appending resumes). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "label_store.h"
#include "label_undo.h"
#include "sm_error.h"

typedef enum SmJournalRecordType {
  SM_JOURNAL_EDIT = 1,
  SM_JOURNAL_UNDO = 2,
  SM_JOURNAL_REDO = 3,
  SM_JOURNAL_SAVED = 4, /* the labels are being saved with this identity (payload: u64) */
} SmJournalRecordType;

typedef struct SmJournalInfo {
  int64_t shape[3];
  uint64_t identity;
  int64_t created;          /* unix seconds */
  uint64_t records;         /* complete records */
  uint64_t edits;           /* of which edits (the rest undo/redo) */
  uint64_t torn_bytes;      /* trailing bytes that do not form a complete record */
  bool saved;               /* the last record marks a save ... */
  uint64_t saved_identity;  /* ... of labels with this identity */
} SmJournalInfo;

/* Starts a fresh journal at path for the store's current state (replacing
 * any journal there, atomically) and attaches it: from now on every commit,
 * undo and redo of s is appended. identity: see above. */
SmLabelJournal *sm_label_journal_create(const char *path, SmLabelStore *s, uint64_t identity,
                                        SmError *err);

/* Starts the journal afresh in place (same object, same path, same mode)
 * for the store's current state, e.g. after a save with identity = the saved
 * content's hash. sm_label_store_save does this itself. */
int sm_label_journal_restart(SmLabelJournal *j, uint64_t identity, SmError *err);

/* Reads the header and counts complete records, without changing anything:
 * what the app needs to ask "recover 12 edits from <time>?". */
int sm_label_journal_probe(const char *path, SmJournalInfo *info, SmError *err);

/* Replays the journal onto s, which must hold the labels as loaded from disk
 * (same shape, same identity; otherwise "<path>: belongs to another label
 * volume ..." and nothing changes). On success the journal stays attached
 * (torn tail cut) so editing continues in the same file; info (may be NULL)
 * says what was replayed. */
SmLabelJournal *sm_label_journal_recover(const char *path, SmLabelStore *s, uint64_t identity,
                                         SmJournalInfo *info, SmError *err);

/* Marks that the labels are about to be saved with content identity
 * `identity` (sm_label_store_save calls it before writing the file). If the
 * process dies after the file is replaced but before the journal restarts,
 * recovery finds the file already holds everything: it succeeds with no
 * records (info->saved) instead of refusing the journal as foreign. */
int sm_label_journal_mark_saved(SmLabelJournal *j, uint64_t identity, SmError *err);

/* Asynchronous appending (off by default): commit, undo and redo return at
 * once and a writer thread writes the queued records in order, flushing each
 * batch with one fdatasync. A crash then loses at most the records queued in
 * the last few milliseconds; off, every call returns with its record on disk.
 * The studio wants it on (no flush pause on the main thread). */
int sm_label_journal_set_async(SmLabelJournal *j, bool async, SmError *err);
/* Waits until every queued record is on disk; -1 with the writer's error if
 * one failed (appends report it too). */
int sm_label_journal_sync(SmLabelJournal *j, SmError *err);
/* Records known to be on disk (status display, tests). */
uint64_t sm_label_journal_durable_records(SmLabelJournal *j);

/* Detaches from the store and closes (after writing anything queued); the
 * file stays (it is the crash record until the app removes it after a clean
 * save-and-quit). */
void sm_label_journal_close(SmLabelJournal *j);
/* Closes and deletes the file (clean exit after save, or recovery declined). */
void sm_label_journal_discard(SmLabelJournal *j);
const char *sm_label_journal_path(const SmLabelJournal *j);

/* Used by label_undo.c at every commit, undo and redo. */
int sm_label_journal_append(SmLabelJournal *j, SmJournalRecordType type, const SmLabelDelta *d,
                            SmError *err);

/* Where the app keeps the journal of a label file: "<labels>.journal" beside
 * it; for labels not yet saved, "<image>.labels.journal" beside the image.
 * When that directory is not writable (shared read-only data), the journal
 * goes to $XDG_STATE_HOME/semmae/journals (default ~/.local/state/...) under
 * the file's name plus a hash of its absolute path. */
void sm_label_journal_default_path(const char *labels_path, const char *image_path, char *out,
                                   size_t size);
/* Identity of labels that start empty (no file): the image path and shape. */
uint64_t sm_label_identity_for_image(const char *image_path, const int64_t shape[3]);
