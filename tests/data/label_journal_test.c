/* The edit journal: recovery after SIGKILL mid-session (a forked child edits
 * and journals, the parent kills it at a random point and recovers), a torn
 * last record is ignored, a journal of another volume is refused, and a save
 * restarts the journal without losing edits that follow it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "label_io.h"
#include "label_journal.h"
#include "label_meta.h"
#include "label_random_edits.h"
#include "label_test_util.h"
#include "tap.h"
#include "volume.h"

enum { SESSION_OPS = 400 };

/* One step of a session: mostly edits, sometimes undo or redo. */
static void session_step(SmLabelStore *s, Rng *rng) {
  SmError err;
  uint64_t r = rng_below(rng, 10);
  if (r == 0 && sm_label_can_undo(s))
    sm_label_undo(s, &err);
  else if (r == 1 && sm_label_can_redo(s))
    sm_label_redo(s, &err);
  else
    lr_random_edit(s, rng);
}

static SmLabelStore *session_store(uint64_t seed) { return lr_initial_store(8, 32, 32, 12, seed); }

/* Replays the session until `records` journal records' worth of steps. */
static SmLabelStore *reference_after(uint64_t seed, uint64_t records) {
  SmLabelStore *s = session_store(seed);
  Rng rng;
  rng_seed(&rng, seed ^ 0xABCDEF);
  uint64_t done = 0;
  while (done < records) {
    uint64_t v0 = sm_label_store_version(s);
    session_step(s, &rng);
    if (sm_label_store_version(s) != v0) done++;
  }
  return s;
}

static void child_session(const char *journal, uint64_t seed, bool async, int fd) {
  SmError err;
  SmLabelStore *s = session_store(seed);
  SmLabelJournal *j = sm_label_journal_create(journal, s, sm_label_store_content_hash(s), &err);
  if (!j || sm_label_journal_set_async(j, async, &err) != 0) _exit(3);
  Rng rng;
  rng_seed(&rng, seed ^ 0xABCDEF);
  uint32_t reported = 0;
  for (int i = 0; i < SESSION_OPS; i++) {
    session_step(s, &rng);
    /* Reported only once the records are on disk (the append returned, or
     * the writer thread flushed them). */
    uint32_t durable = (uint32_t)sm_label_journal_durable_records(j);
    if (durable != reported) {
      reported = durable;
      if (write(fd, &reported, sizeof reported) != sizeof reported) _exit(4);
    }
  }
  uint32_t done = UINT32_MAX;
  if (write(fd, &done, sizeof done) != sizeof done) _exit(4);
  pause();
  _exit(0);
}

static void test_kill(const char *dir, uint64_t seed, bool async, uint32_t kill_after, unsigned delay_us) {
  char journal[4200];
  snprintf(journal, sizeof journal, "%s/kill-%llu.journal", dir, (unsigned long long)seed);
  int fds[2];
  if (pipe(fds) != 0) {
    TAP_OK(0, "pipe");
    return;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    child_session(journal, seed, async, fds[1]);
  }
  close(fds[1]);
  uint32_t reported = 0, v;
  while (reported < kill_after && read(fds[0], &v, sizeof v) == sizeof v && v != UINT32_MAX) reported = v;
  usleep(delay_us); /* land anywhere: inside an edit, a write() or an fdatasync() */
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  /* Whatever the child reported before dying was recorded on disk. */
  while (read(fds[0], &v, sizeof v) == sizeof v)
    if (v != UINT32_MAX) reported = v;
  close(fds[0]);
  TAP_OK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "seed %llu: child killed after %u records",
         (unsigned long long)seed, reported);

  SmError err;
  SmLabelStore *s = session_store(seed);
  SmJournalInfo info;
  SmLabelJournal *j = sm_label_journal_recover(journal, s, sm_label_store_content_hash(s), &info, &err);
  TAP_OK(j != NULL, "seed %llu: recovery succeeds%s%s", (unsigned long long)seed, j ? "" : ": ",
         j ? "" : err.message);
  if (!j) {
    sm_label_store_free(s);
    return;
  }
  TAP_OK(info.records >= reported && (async || info.records <= reported + 1),
         "seed %llu%s: every record on disk before the kill is recovered (%llu recovered, %u reported, %llu torn "
         "bytes)",
         (unsigned long long)seed, async ? " (async journal)" : "", (unsigned long long)info.records, reported,
         (unsigned long long)info.torn_bytes);
  SmLabelStore *ref = reference_after(seed, info.records);
  LabelSnapshot want;
  lt_snapshot(ref, &want);
  TAP_OK(lt_equals(s, &want), "seed %llu: the recovered labels and table equal the session's", (unsigned long long)seed);
  lt_snapshot_free(&want);
  /* The history comes back too: undoing on both stays in step. */
  bool same = true;
  for (int k = 0; k < 15 && same && sm_label_can_undo(ref); k++) {
    same = sm_label_undo(ref, &err) == 0 && sm_label_undo(s, &err) == 0;
    LabelSnapshot snap;
    lt_snapshot(ref, &snap);
    same = same && lt_equals(s, &snap);
    lt_snapshot_free(&snap);
  }
  TAP_OK(same, "seed %llu: undo after recovery walks back like the original session", (unsigned long long)seed);
  sm_label_journal_discard(j);
  struct stat st;
  TAP_OK(stat(journal, &st) != 0, "discard removes the journal");
  sm_label_store_free(ref);
  sm_label_store_free(s);
}

static uint64_t run_records(SmLabelStore *s, Rng *rng, uint64_t records);

/* Asynchronous journal: edits return at once, sync waits for the disk, a
 * save keeps the mode, and everything recovers. */
static void test_async(const char *dir) {
  SmError err;
  char labels[4200], journal[4300];
  snprintf(labels, sizeof labels, "%s/async.tif", dir);
  snprintf(journal, sizeof journal, "%s.journal", labels);
  SmLabelStore *s = session_store(51);
  sm_label_store_save(s, labels, &err);
  SmLabelJournal *j = sm_label_journal_create(journal, s, sm_label_store_content_hash(s), &err);
  TAP_OK(sm_label_journal_set_async(j, true, &err) == 0, "journal writer thread started");
  Rng rng;
  rng_seed(&rng, 51);
  run_records(s, &rng, 30);
  TAP_OK(sm_label_journal_sync(j, &err) == 0 && sm_label_journal_durable_records(j) == 30,
         "sync: all 30 records on disk");
  TAP_OK(sm_label_store_save(s, labels, &err) == 0, "save with an async journal");
  run_records(s, &rng, 20);
  LabelSnapshot want;
  lt_snapshot(s, &want);
  sm_label_store_free(s); /* closes the journal: queued records are written first */
  s = sm_label_store_load(labels, NULL, &err);
  SmJournalInfo info;
  j = sm_label_journal_recover(journal, s, sm_label_store_content_hash(s), &info, &err);
  TAP_OK(j && info.records == 20 && lt_equals(s, &want), "the 20 records after the save recover (%llu)",
         j ? (unsigned long long)info.records : 0ull);
  lt_snapshot_free(&want);
  sm_label_journal_discard(j);
  sm_label_store_free(s);
}

static uint64_t run_records(SmLabelStore *s, Rng *rng, uint64_t records) {
  uint64_t done = 0;
  while (done < records) {
    uint64_t v0 = sm_label_store_version(s);
    session_step(s, rng);
    if (sm_label_store_version(s) != v0) done++;
  }
  return done;
}

static void test_torn(const char *dir) {
  SmError err;
  char journal[4200];
  snprintf(journal, sizeof journal, "%s/torn.journal", dir);
  SmLabelStore *s = session_store(11);
  SmLabelJournal *j = sm_label_journal_create(journal, s, sm_label_store_content_hash(s), &err);
  Rng rng;
  rng_seed(&rng, 11 ^ 0xABCDEF);
  run_records(s, &rng, 10);
  sm_label_journal_close(j);
  struct stat st;
  stat(journal, &st);
  TAP_OK(truncate(journal, st.st_size - 3) == 0, "tear the last record (cut 3 bytes)");
  SmJournalInfo info;
  int probed = sm_label_journal_probe(journal, &info, &err);
  TAP_OK(probed == 0 && info.records == 9 && info.torn_bytes > 0,
         "probe sees 9 complete records and a torn tail (%llu bytes)", (unsigned long long)info.torn_bytes);
  sm_label_store_free(s);

  s = session_store(11);
  j = sm_label_journal_recover(journal, s, sm_label_store_content_hash(s), &info, &err);
  SmLabelStore *ref = reference_after(11, 9);
  LabelSnapshot want;
  lt_snapshot(ref, &want);
  TAP_OK(j && info.records == 9 && lt_equals(s, &want), "recovery replays the 9 complete records, ignores the torn one");
  lt_snapshot_free(&want);
  /* Editing continues in the same journal, after the cut. */
  SmBrush b = {.radius = 2, .shape = SM_BRUSH_BALL};
  double p[1][3] = {{4, 16, 16}};
  sm_label_paint(s, 77, &b, p, 1, &err);
  sm_label_paint(ref, 77, &b, p, 1, &err);
  sm_label_journal_close(j);
  /* Garbage after the last record (a crash while extending the file). */
  int fd = open(journal, O_WRONLY | O_APPEND);
  const char junk[] = "\x53\x4d\x4a\x52garbage that is not a record";
  TAP_OK(fd >= 0 && write(fd, junk, sizeof junk) == (ssize_t)sizeof junk, "append garbage");
  close(fd);
  sm_label_store_free(s);
  s = session_store(11);
  j = sm_label_journal_recover(journal, s, sm_label_store_content_hash(s), &info, &err);
  lt_snapshot(ref, &want);
  TAP_OK(j && info.records == 10 && lt_equals(s, &want), "the edit after recovery is recovered too; garbage ignored");
  lt_snapshot_free(&want);
  sm_label_journal_close(j);
  sm_label_store_free(s);
  sm_label_store_free(ref);
}

static void test_other_volume(const char *dir) {
  SmError err;
  char journal[4200];
  snprintf(journal, sizeof journal, "%s/other.journal", dir);
  SmLabelStore *a = session_store(21);
  SmLabelJournal *j = sm_label_journal_create(journal, a, sm_label_store_content_hash(a), &err);
  SmBrush b = {.radius = 3, .shape = SM_BRUSH_XY};
  double p[1][3] = {{2, 10, 10}};
  sm_label_paint(a, 5, &b, p, 1, &err);
  sm_label_journal_close(j);

  SmLabelStore *other = session_store(22); /* same shape, other content */
  uint64_t h = sm_label_store_content_hash(other);
  TAP_OK(!sm_label_journal_recover(journal, other, h, NULL, &err) &&
             strstr(err.message, "belongs to another label volume"),
         "a journal of other labels is refused: %s", err.message);
  TAP_OK(sm_label_store_content_hash(other) == h && !sm_label_can_undo(other), "and nothing changed");
  SmLabelStore *shape = lr_initial_store(8, 32, 31, 12, 21);
  TAP_OK(!sm_label_journal_recover(journal, shape, sm_label_store_content_hash(shape), NULL, &err) &&
             strstr(err.message, "8x32x32") && strstr(err.message, "8x32x31"),
         "a journal of another shape is refused, naming both shapes");
  char notj[4200];
  snprintf(notj, sizeof notj, "%s/not-a-journal", dir);
  FILE *f = fopen(notj, "w");
  fputs("hello", f);
  fclose(f);
  TAP_OK(!sm_label_journal_recover(notj, other, h, NULL, &err) && strstr(err.message, "not a semmae label journal"),
         "a file that is not a journal: %s", err.message);
  sm_label_store_free(a);
  sm_label_store_free(other);
  sm_label_store_free(shape);
}

static void test_save_restart(const char *dir) {
  SmError err;
  char labels[4200], journal[4300];
  snprintf(labels, sizeof labels, "%s/labels.tif", dir);
  snprintf(journal, sizeof journal, "%s.journal", labels);
  SmLabelStore *init = session_store(31);
  err.message[0] = '\0';
  int saved = sm_label_store_save(init, labels, &err);
  TAP_OK(saved == 0, "write initial labels %s", err.message);
  sm_label_store_free(init);

  SmLabelStore *s = sm_label_store_load(labels, NULL, &err);
  TAP_OK(s != NULL, "load labels");
  if (!s) return;
  SmLabelJournal *j = sm_label_journal_create(journal, s, sm_label_store_content_hash(s), &err);
  Rng rng;
  rng_seed(&rng, 31);
  run_records(s, &rng, 15);
  uint32_t ids[2] = {sm_label_store_segment_at(s, 0)->id, sm_label_store_segment_at(s, 1)->id};
  sm_label_set_locked(s, ids[0], false, &err);
  sm_label_set_locked(s, ids[1], false, &err);
  TAP_OK(sm_label_merge(s, ids, 2, &err) == 0, "merge before saving");
  sm_label_set_name(s, ids[0], "saved name", &err);
  TAP_OK(sm_label_store_is_dirty(s), "dirty before save");
  TAP_OK(sm_label_store_save(s, labels, &err) == 0 && !sm_label_store_is_dirty(s), "save (journal restarts)");
  SmJournalInfo info;
  TAP_OK(sm_label_journal_probe(journal, &info, &err) == 0 && info.records == 0,
         "the restarted journal has no records yet");
  /* After the save: more edits, and undo of steps from before it. */
  sm_label_undo(s, &err);
  sm_label_undo(s, &err);
  run_records(s, &rng, 10);
  j = NULL;
  LabelSnapshot want;
  lt_snapshot(s, &want);
  sm_label_store_free(s); /* the "crash": the journal is left as it is */

  s = sm_label_store_load(labels, NULL, &err);
  j = sm_label_journal_recover(journal, s, sm_label_store_content_hash(s), &info, &err);
  TAP_OK(j && info.records == 12, "recover the 12 records written after the save%s%s", j ? "" : ": ",
         j ? "" : err.message);
  TAP_OK(lt_equals(s, &want), "labels, merges and table equal the session's, across the save");
  lt_snapshot_free(&want);
  sm_label_journal_discard(j);
  sm_label_store_free(s);
}

/* The process dies after the saved labels replaced the file but before the
 * journal restarted: recovery must see that nothing is lost. */
static void test_crash_after_save(const char *dir) {
  SmError err;
  char labels[4200], journal[4300];
  snprintf(labels, sizeof labels, "%s/saved.tif", dir);
  snprintf(journal, sizeof journal, "%s.journal", labels);
  SmLabelStore *init = session_store(41);
  sm_label_store_save(init, labels, &err);
  sm_label_store_free(init);
  SmLabelStore *s = sm_label_store_load(labels, NULL, &err);
  SmLabelJournal *j = sm_label_journal_create(journal, s, sm_label_store_content_hash(s), &err);
  Rng rng;
  rng_seed(&rng, 41);
  run_records(s, &rng, 12);
  uint32_t ids[2] = {sm_label_store_segment_at(s, 0)->id, sm_label_store_segment_at(s, 1)->id};
  sm_label_set_locked(s, ids[0], false, &err);
  sm_label_set_locked(s, ids[1], false, &err);
  sm_label_merge(s, ids, 2, &err);
  /* What save does up to the rename, then "die": the journal never restarts. */
  TAP_OK(sm_label_journal_mark_saved(j, sm_label_store_content_hash(s), &err) == 0, "mark the save in the journal");
  sm_label_journal_close(j);
  TAP_OK(sm_label_store_save(s, labels, &err) == 0, "labels replaced on disk");
  LabelSnapshot want;
  int64_t lo[3] = {0, 0, 0}, hi[3];
  sm_label_store_shape(s, hi);
  uint32_t *shown = malloc(sm_label_store_voxels(s) * sizeof *shown);
  sm_label_store_read_box(s, lo, hi, shown);
  sm_label_store_free(s);

  s = sm_label_store_load(labels, NULL, &err);
  SmJournalInfo info;
  j = sm_label_journal_recover(journal, s, sm_label_store_content_hash(s), &info, &err);
  TAP_OK(j && info.saved && info.records == 0, "recovery: already saved, nothing to replay%s%s", j ? "" : ": ",
         j ? "" : err.message);
  TAP_OK(!memcmp(sm_label_store_fragments(s), shown, sm_label_store_voxels(s) * sizeof *shown),
         "the labels are what was on screen");
  /* The journal was restarted for the saved file: edits continue and recover. */
  lr_random_edit(s, &rng);
  SmBrush b = {.radius = 2, .shape = SM_BRUSH_BALL};
  double p[1][3] = {{3, 3, 3}};
  sm_label_paint(s, 4242, &b, p, 1, &err);
  lt_snapshot(s, &want);
  sm_label_store_free(s);
  s = sm_label_store_load(labels, NULL, &err);
  j = sm_label_journal_recover(journal, s, sm_label_store_content_hash(s), &info, &err);
  TAP_OK(j && info.records >= 1 && lt_equals(s, &want), "later edits recover on top of the saved file");
  lt_snapshot_free(&want);
  free(shown);
  sm_label_journal_discard(j);
  sm_label_store_free(s);
}

static char warned[512];
static void on_warning(const char *message, void *user) {
  (void)user;
  snprintf(warned, sizeof warned, "%s", message);
}

/* Names, colours, locks, hidden flags and empty segments survive save + load
 * through the sidecar table. */
static void test_meta(const char *dir) {
  SmError err;
  char labels[4200], meta[4300];
  snprintf(labels, sizeof labels, "%s/meta.tif", dir);
  sm_label_meta_path(labels, meta, sizeof meta);
  SmLabelStore *s = session_store(61);
  uint32_t a = sm_label_store_segment_at(s, 0)->id, b = sm_label_store_segment_at(s, 1)->id;
  uint32_t c = sm_label_store_segment_at(s, 2)->id, fresh = 0;
  sm_label_set_name(s, a, "dendrite\t7", &err);
  sm_label_set_color(s, b, 0x00ff80, false, &err);
  sm_label_set_locked(s, c, true, &err);
  sm_label_set_hidden(s, a, true, &err);
  sm_label_new_segment(s, &fresh, &err);
  sm_label_set_name(s, fresh, "to paint later", &err);
  TAP_OK(sm_label_store_save(s, labels, &err) == 0, "save with segment metadata");
  struct stat st;
  TAP_OK(stat(meta, &st) == 0, "the segment table is written beside the labels");
  SmLabelStore *back = sm_label_store_load(labels, NULL, &err);
  TAP_OK(back && !strcmp(sm_label_store_segment(back, a)->name, "dendrite 7") &&
             sm_label_store_segment(back, b)->color == 0x00ff80 &&
             (sm_label_store_segment(back, c)->flags & SM_SEGMENT_LOCKED) &&
             (sm_label_store_segment(back, a)->flags & SM_SEGMENT_HIDDEN) && sm_label_store_segment(back, fresh) &&
             !strcmp(sm_label_store_segment(back, fresh)->name, "to paint later"),
         "names (tabs made spaces), colour, lock, hidden and the empty segment come back");
  TAP_OK(back && lt_consistent(back), "table consistent after loading metadata");
  /* Renumbering keeps the metadata with its segment. */
  sm_label_set_locked(back, c, false, &err);
  sm_label_relabel_consecutive(back, &err);
  sm_label_store_save(back, labels, &err);
  sm_label_store_free(back);
  back = sm_label_store_load(labels, NULL, &err);
  size_t named = 0;
  for (size_t i = 0; back && i < sm_label_store_n_segments(back); i++) {
    const SmSegment *seg = sm_label_store_segment_at(back, i);
    named += seg->name && (!strcmp(seg->name, "dendrite 7") || !strcmp(seg->name, "to paint later"));
  }
  TAP_OK(named == 2, "names follow their segments through relabel + save + load");
  sm_label_store_free(back);
  /* A stale entry is skipped with a warning; a malformed one is an error. */
  FILE *f = fopen(meta, "a");
  fputs("4000000\t12\tghost\t-\t0\t0\n", f);
  fclose(f);
  sm_set_warning_handler(on_warning, NULL);
  back = sm_label_store_load(labels, NULL, &err);
  sm_set_warning_handler(NULL, NULL);
  TAP_OK(back && !sm_label_store_segment(back, 4000000) && strstr(warned, "1 entry"),
         "a stale entry is skipped: %s", warned);
  sm_label_store_free(back);
  f = fopen(meta, "a");
  fputs("12\tnot-a-number\tx\t-\t0\t0\n", f);
  fclose(f);
  back = sm_label_store_load(labels, NULL, &err);
  TAP_OK(!back && strstr(err.message, ".segments.tsv: line") && strstr(err.message, "malformed"),
         "a malformed entry refuses the load: %s", err.message);
  /* Without metadata the table file goes away. */
  sm_label_set_name(s, a, "", &err);
  sm_label_set_color(s, b, 0, true, &err);
  sm_label_set_locked(s, c, false, &err);
  sm_label_set_hidden(s, a, false, &err);
  sm_label_delete_segment(s, fresh, &err);
  TAP_OK(sm_label_store_save(s, labels, &err) == 0 && stat(meta, &st) != 0, "no metadata, no segment table file");
  sm_label_store_free(s);
}

static void test_default_path(const char *dir) {
  char labels[4400], out[4600];
  snprintf(labels, sizeof labels, "%s/a.tif", dir);
  sm_label_journal_default_path(labels, NULL, out, sizeof out);
  char want[4500];
  snprintf(want, sizeof want, "%s.journal", labels);
  TAP_OK(!strcmp(out, want), "journal beside writable labels: %s", out);
  sm_label_journal_default_path(NULL, labels, out, sizeof out);
  snprintf(want, sizeof want, "%s.labels.journal", labels);
  TAP_OK(!strcmp(out, want), "journal of new labels beside the image");
  char ro[4200], state[4200];
  snprintf(ro, sizeof ro, "%s/readonly", dir);
  snprintf(state, sizeof state, "%s/state", dir);
  mkdir(ro, 0500);
  snprintf(labels, sizeof labels, "%s/labels.tif", ro);
  setenv("XDG_STATE_HOME", state, 1);
  sm_label_journal_default_path(labels, NULL, out, sizeof out);
  unsetenv("XDG_STATE_HOME");
  struct stat st;
  snprintf(want, sizeof want, "%s/semmae/journals/labels.tif-", state);
  TAP_OK(!strncmp(out, want, strlen(want)) && stat(out, &st) != 0 && strstr(out, ".journal"),
         "labels in a read-only folder: the journal goes to the state directory (%s)", out);
  chmod(ro, 0700);
}

int main(void) {
  char dir[4096];
  lt_tempdir(dir, sizeof dir, "journal");
  if (!dir[0]) return tap_skip_all("no temporary directory");
  Rng rng;
  rng_seed(&rng, 2024);
  for (uint64_t seed = 1; seed <= 6; seed++)
    test_kill(dir, seed, seed > 4, 3 + (uint32_t)rng_below(&rng, 120), (unsigned)rng_below(&rng, 4000));
  test_async(dir);
  test_torn(dir);
  test_other_volume(dir);
  test_save_restart(dir);
  test_crash_after_save(dir);
  test_meta(dir);
  test_default_path(dir);
  lt_rmdir(dir);
  return tap_done();
}
