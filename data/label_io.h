/* Loading and saving label volumes for the label store. */
#pragma once

#include <stdint.h>

#include "label_store.h"
#include "sm_error.h"

/* Reads a label volume (any integer dtype; float is refused with a clear
 * message before the pixels are read). With image_shape (z, y, x) given, a
 * label file of another shape is refused the same way. Segment names,
 * colours, locks and empty segments come from "<path>.segments.tsv" when
 * present (label_meta.h). */
SmLabelStore *sm_label_store_load(const char *path, const int64_t *image_shape, SmError *err);

/* Writes the segment metadata (label_meta.h) and the displayed ids as a
 * uint32 TIFF, each via write-then-rename (a failed
 * save leaves the old file intact), marks the store saved and, when a
 * journal is attached, restarts it in place for the saved content (same
 * SmLabelJournal object; the old file is replaced only once the new one is
 * complete). */
int sm_label_store_save(SmLabelStore *s, const char *path, SmError *err);
