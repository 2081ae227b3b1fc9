/* The "done when" walk-through at the API level, on the real FIB-SEM
 * crop: open image + labels, fix a false merge by splitting (seeded watershed
 * on the EM image), a false split by merging, paint a missed piece, undo and
 * redo all of it, die, recover from the journal, save — and the saved TIFF
 * equals what was displayed. Skips (77) without ../shared/em-data. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "label_edit.h"
#include "label_io.h"
#include "label_journal.h"
#include "label_split.h"
#include "label_test_util.h"
#include "tap.h"
#include "volume.h"

static char labels_copy[4200], journal_path[4300];
static SmVolume image;

static int64_t seeds[2][3]; /* one inside the true 6, one inside the true 28 */

/* The session, run in a child that is killed at the end. */
static void session(int report_fd) {
  SmError err;
  int64_t shape[3] = {image.nz, image.ny, image.nx};
  SmLabelStore *s = sm_label_store_load(labels_copy, shape, &err);
  if (!s) _exit(2);
  SmLabelJournal *j = sm_label_journal_create(journal_path, s, sm_label_store_content_hash(s), &err);
  if (!j) _exit(3);
  /* 1. The false merge (6 + 28 under id 6): split it with a seed in each
   * object, along the membranes of the EM image. */
  SmLabelSplit sp;
  if (sm_label_split_compute(s, 6, (const int64_t(*)[3])seeds, 2, &image, false, &sp, &err) != 0) _exit(5);
  uint32_t new_ids[2];
  if (sm_label_split_apply(s, &sp, new_ids, &err) != 0) _exit(6);
  sm_label_split_free(&sp);
  /* 2. A false split: merge 8 into 43. */
  uint32_t ids[2] = {43, 8};
  if (sm_label_merge(s, ids, 2, &err) != 0) _exit(7);
  /* 3. A missed piece: paint a short 2D stroke with segment 13. */
  SmBrush b = {.radius = 3, .shape = SM_BRUSH_XY};
  double pts[2][3] = {{25, 40, 100}, {25, 48, 112}};
  if (sm_label_paint(s, 13, &b, (const double(*)[3])pts, 2, &err) != 0) _exit(8);
  /* 4. Undo all three, redo all three. */
  for (int k = 0; k < 3; k++)
    if (sm_label_undo(s, &err) != 0) _exit(9);
  for (int k = 0; k < 3; k++)
    if (sm_label_redo(s, &err) != 0) _exit(10);
  /* What the views show now, for the parent. */
  int64_t lo[3] = {0, 0, 0};
  size_t n = sm_label_store_voxels(s);
  uint32_t *shown = malloc(n * sizeof *shown);
  sm_label_store_read_box(s, lo, shape, shown);
  uint32_t split_id = new_ids[1];
  if (write(report_fd, &split_id, sizeof split_id) != sizeof split_id) _exit(11);
  for (size_t off = 0; off < n * sizeof *shown;) {
    ssize_t w = write(report_fd, (const char *)shown + off, n * sizeof *shown - off);
    if (w <= 0) _exit(11);
    off += (size_t)w;
  }
  close(report_fd);
  pause(); /* killed here, with unsaved edits */
  _exit(0);
}

int main(void) {
  const char *em = tap_em_data();
  if (!em) return tap_skip_all("../shared/em-data absent");
  char dir[4096], src[4200], image_path[4200];
  lt_tempdir(dir, sizeof dir, "session");
  snprintf(src, sizeof src, "%s/fibsem-mini/train-labels.tif", em);
  snprintf(image_path, sizeof image_path, "%s/fibsem-mini/train-image.tif", em);
  snprintf(labels_copy, sizeof labels_copy, "%s/labels.tif", dir);
  sm_label_journal_default_path(labels_copy, NULL, journal_path, sizeof journal_path);
  SmError err;
  if (sm_volume_read(image_path, &image, &err) != 0) return tap_skip_all(err.message);
  SmLabelStore *truth = sm_label_store_load(src, NULL, &err);
  if (!truth) return tap_skip_all(err.message);
  sm_label_store_find_voxel(truth, 6, seeds[0], NULL);
  sm_label_store_find_voxel(truth, 28, seeds[1], NULL);
  /* The working copy has a false merge: 28 written as 6. */
  SmLabelStore *orig = sm_label_store_load(src, NULL, &err);
  uint32_t merge_pair[2] = {6, 28};
  sm_label_set_undo_enabled(orig, false);
  TAP_OK(sm_label_merge(orig, merge_pair, 2, &err) == 0 && sm_label_store_save(orig, labels_copy, &err) == 0,
         "a working copy of the FIB-SEM labels with a false merge (28 as 6)");
  uint64_t orig_hash = sm_label_store_content_hash(orig);

  int fds[2];
  if (pipe(fds) != 0) return tap_skip_all("no pipe");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    session(fds[1]);
  }
  close(fds[1]);
  uint32_t split_id = 0;
  size_t n = sm_label_store_voxels(orig);
  uint32_t *shown = malloc(n * sizeof *shown);
  bool got = read(fds[0], &split_id, sizeof split_id) == sizeof split_id;
  for (size_t off = 0; got && off < n * sizeof *shown;) {
    ssize_t r = read(fds[0], (char *)shown + off, n * sizeof *shown - off);
    if (r <= 0) got = false;
    else off += (size_t)r;
  }
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  TAP_OK(got, "the session split, merged, painted, undid and redid everything (child status %d)",
         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  if (!got) return tap_done();

  /* Restart: the labels file is unchanged, the journal holds the session. */
  int64_t shape[3] = {image.nz, image.ny, image.nx};
  SmLabelStore *s = sm_label_store_load(labels_copy, shape, &err);
  TAP_OK(s && sm_label_store_content_hash(s) == orig_hash, "after the kill the labels file is the original");
  SmJournalInfo info;
  TAP_OK(sm_label_journal_probe(journal_path, &info, &err) == 0 && info.edits == 3 && info.records == 9,
         "the journal offers 3 edits (9 records with undo/redo)");
  SmLabelJournal *j = sm_label_journal_recover(journal_path, s, sm_label_store_content_hash(s), &info, &err);
  TAP_OK(j != NULL, "recover");
  int64_t lo[3] = {0, 0, 0};
  uint32_t *now = malloc(n * sizeof *now);
  sm_label_store_read_box(s, lo, shape, now);
  TAP_OK(!memcmp(now, shown, n * sizeof *now), "the recovered labels are what the session displayed");
  /* The split should give back the true 28 (it is the seed-2 piece). */
  const uint32_t *tf = sm_label_store_fragments(truth);
  uint64_t true28 = 0, piece = 0, both = 0;
  for (size_t i = 0; i < n; i++) {
    true28 += tf[i] == 28;
    piece += now[i] == split_id;
    both += tf[i] == 28 && now[i] == split_id;
  }
  tap_diag("split piece %u: %llu voxels, true 28: %llu, overlap %llu", split_id, (unsigned long long)piece,
           (unsigned long long)true28, (unsigned long long)both);
  TAP_OK(both > 0.8 * (double)true28 && both > 0.8 * (double)piece,
         "the watershed split recovers the true segment 28 (overlap %.1f %% of it, %.1f %% of the piece)",
         100.0 * (double)both / (double)true28, 100.0 * (double)both / (double)(piece ? piece : 1));
  TAP_OK(!sm_label_store_segment(s, 8) && sm_label_store_id_at(s, 25, 44, 106) == 13,
         "the merge of 8 into 43 and the painted stroke are there");
  TAP_OK(lt_consistent(s), "table consistent after recovery");
  TAP_OK(sm_label_can_undo(s) && !strcmp(sm_label_undo_name(s), "paint"), "the undo history came back too");

  TAP_OK(sm_label_store_save(s, labels_copy, &err) == 0, "save");
  SmVolume saved;
  TAP_OK(sm_volume_read(labels_copy, &saved, &err) == 0 && saved.dtype == SM_U32 &&
             !memcmp(saved.data, shown, n * sizeof *shown),
         "the saved TIFF equals what was displayed");
  sm_volume_free(&saved);
  sm_label_journal_discard(j);
  sm_label_store_free(s);
  sm_label_store_free(orig);
  sm_label_store_free(truth);
  free(now);
  free(shown);
  sm_volume_free(&image);
  lt_rmdir(dir);
  return tap_done();
}
