/* Segment metadata beside a label TIFF: "<labels>.segments.tsv".
 *
 * A TIFF holds ids only; names, chosen colours, locks and visibility (and
 * segments created but still empty) live in this small tab-separated file,
 * written atomically by sm_label_store_save and read by sm_label_store_load:
 *
 *   # semmae segments v1
 *   id  voxels  name  color  locked  hidden
 *   17  5120    axon 3  #ff8000  1  0
 *
 * color is "-" for the hashed colour. Only segments with something to say
 * are listed; without any, the file is removed. */
#pragma once

#include <stddef.h>

#include "label_store.h"
#include "sm_error.h"

void sm_label_meta_path(const char *labels_path, char *out, size_t size);
int sm_label_meta_write(const SmLabelStore *s, const char *labels_path, SmError *err);
/* Applies the file (if present) to a freshly loaded store, as part of the
 * loaded state (no undo step). Lines naming ids the labels lack (a stale
 * file) are skipped with a warning; an unreadable line is an error. */
int sm_label_meta_read(SmLabelStore *s, const char *labels_path, SmError *err);
