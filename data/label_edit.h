/* Proofreading edits on a label store. Each call is one undo step (a stroke
 * from begin to end is one step), is journaled when a journal is attached,
 * and reports its change (dirty box + segment ids) to the store's listener.
 * A call that fails leaves labels and table as they were.
 *
 * Locked segments are never changed: paint and fill go around them; merge,
 * split, delete and recolour refuse them. Coordinates are (z, y, x) voxels. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "label_store.h"
#include "sm_error.h"

/* ---- brush ------------------------------------------------------------------- */
typedef enum SmBrushShape {
  SM_BRUSH_BALL = -1, /* 3D ball */
  SM_BRUSH_XY = 0,    /* disc in the plane z = const (the XY view) */
  SM_BRUSH_XZ = 1,    /* disc in y = const */
  SM_BRUSH_YZ = 2,    /* disc in x = const */
} SmBrushShape;

/* What a brush may paint over (locked segments are kept in every mode). */
typedef enum SmPaintOver {
  SM_OVER_ALL = 0,        /* any voxel */
  SM_OVER_BACKGROUND = 1, /* only background: fill gaps without eating neighbours */
  SM_OVER_SEGMENT = 2,    /* only voxels of SmBrush.over_segment (e.g. erase just the selected one) */
} SmPaintOver;

typedef struct SmBrush {
  double radius;      /* in voxels along x; other axes scaled by the voxel size */
  SmBrushShape shape;
  SmPaintOver over;   /* 0 = paint over anything */
  uint32_t over_segment;
} SmBrush;

/* value: the segment to paint (an id not in the table creates it, so "new
 * segment, then paint" is one step), or 0 to erase. */
int sm_label_stroke_begin(SmLabelStore *s, uint32_t value, const SmBrush *brush, SmError *err);
/* Stamps the brush at p, and along the segment from the previous point (the
 * union of brushes between the two mouse positions). The listener hears the
 * change at once (in_progress) so the views repaint while drawing. */
int sm_label_stroke_to(SmLabelStore *s, const double p[3], SmError *err);
/* Commits the stroke as one undo step. */
int sm_label_stroke_end(SmLabelStore *s, SmError *err);
/* Convenience: a whole stroke through n points. */
int sm_label_paint(SmLabelStore *s, uint32_t value, const SmBrush *brush, const double (*points)[3],
                   size_t n_points, SmError *err);

/* ---- flood fill -------------------------------------------------------------- */
typedef struct SmFillOptions {
  int64_t lo[3], hi[3];  /* region the fill stays in; a 2D fill is a box one voxel thick */
  uint64_t max_voxels;   /* fail when the region is larger (0 = no limit) */
  const volatile int *cancel; /* non-zero: stop, fail with "cancelled" (may be NULL) */
} SmFillOptions;

/* A region found by sm_label_fill_compute: x-runs (z, y, x0, len). */
typedef struct SmFillSpan {
  int32_t z, y, x0, len;
} SmFillSpan;

typedef struct SmLabelRegion {
  SmFillSpan *spans;
  size_t n_spans;
  uint64_t voxels;
  uint32_t target;          /* displayed id that was filled over */
  int64_t lo[3], hi[3];     /* box of the region */
  uint64_t store_version;   /* apply refuses a region from an older state */
} SmLabelRegion;

/* Options covering the whole plane through seed (shape XY/XZ/YZ) or the whole volume (BALL). */
void sm_fill_options_default(const SmLabelStore *s, SmBrushShape plane, const int64_t seed[3],
                             SmFillOptions *opts);

/* Finds the 6-connected (4 in a plane) region of voxels with the seed's
 * displayed id inside opts' box. Only reads the store: may run on a worker
 * thread while the main thread does not edit. */
int sm_label_fill_compute(const SmLabelStore *s, const int64_t seed[3], const SmFillOptions *opts,
                          SmLabelRegion *region, SmError *err);
/* Writes value over the region (one undo step). */
int sm_label_region_apply(SmLabelStore *s, const SmLabelRegion *region, uint32_t value, SmError *err);
void sm_label_region_free(SmLabelRegion *region);
/* Both: compute then apply. */
int sm_label_fill(SmLabelStore *s, const int64_t seed[3], uint32_t value, const SmFillOptions *opts,
                  SmError *err);

/* ---- table edits ------------------------------------------------------------- */
/* Merges ids[1..n) into ids[0]: a table edit, cost independent of the voxels. */
int sm_label_merge(SmLabelStore *s, const uint32_t *ids, size_t n, SmError *err);
/* Sets the segment's voxels to 0 and removes it from the table. */
int sm_label_delete_segment(SmLabelStore *s, uint32_t id, SmError *err);
/* Creates an empty segment with a fresh id (returned in *id). */
int sm_label_new_segment(SmLabelStore *s, uint32_t *id, SmError *err);
int sm_label_set_locked(SmLabelStore *s, uint32_t id, bool locked, SmError *err);
/* View state: not an undo step, not journaled. */
int sm_label_set_hidden(SmLabelStore *s, uint32_t id, bool hidden, SmError *err);
int sm_label_set_name(SmLabelStore *s, uint32_t id, const char *name, SmError *err);
/* color 0xRRGGBB; reset = back to the hashed colour. */
int sm_label_set_color(SmLabelStore *s, uint32_t id, uint32_t color, bool reset, SmError *err);

/* ---- batch edits (CLI; also undoable in the app) ----------------------------- */
/* Deletes every segment smaller than min_voxels; *removed gets how many. */
int sm_label_remove_small(SmLabelStore *s, uint64_t min_voxels, size_t *removed, SmError *err);
/* Renumbers segments 1..N in increasing id order and flattens merges (every
 * voxel then holds its displayed id). One undo step. */
int sm_label_relabel_consecutive(SmLabelStore *s, SmError *err);
