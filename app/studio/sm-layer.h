/* SmLayer: one volume shown in the slice views — the image, a label volume
 * (uint32 ids, hashed colours) or a float map (colour-mapped) — with its
 * display settings and, for volumes too large for one GPU texture, a
 * downsampled level that the views upload instead of the full data. */
#pragma once

#include <gtk/gtk.h>

#include "data/volume.h"

G_BEGIN_DECLS

typedef enum {
  SM_LAYER_IMAGE,
  SM_LAYER_LABELS,
  SM_LAYER_MAP,
} SmLayerKind;

#define SM_TYPE_LAYER (sm_layer_get_type ())
G_DECLARE_FINAL_TYPE (SmLayer, sm_layer, SM, LAYER, GObject)

/* Takes ownership of *volume (and *level when its data is not NULL; a NULL
 * level means the full volume is small enough to upload as is). stride is the
 * level's subsampling step (z, y, x), ignored without a level. */
SmLayer *sm_layer_new (SmLayerKind kind, const char *name, SmVolume *volume,
                       SmVolume *level, const int stride[3]);

SmLayerKind sm_layer_get_kind (SmLayer *self);
const char *sm_layer_get_name (SmLayer *self);
/* The full-resolution data. */
const SmVolume *sm_layer_get_volume (SmLayer *self);
/* What goes into the 3D texture: the downsampled level, or the full volume. */
const SmVolume *sm_layer_get_level (SmLayer *self);
gboolean sm_layer_is_downsampled (SmLayer *self);
/* The level's subsampling step (z, y, x): level voxel i is full voxel i * stride. */
void sm_layer_get_stride (SmLayer *self, int stride[3]);

gboolean sm_layer_get_visible (SmLayer *self);
void sm_layer_set_visible (SmLayer *self, gboolean visible);
double sm_layer_get_opacity (SmLayer *self);
void sm_layer_set_opacity (SmLayer *self, double opacity);
/* Labels only: draw segment boundaries instead of filled regions. */
gboolean sm_layer_get_outline (SmLayer *self);
void sm_layer_set_outline (SmLayer *self, gboolean outline);

/* Maps only: 0 = magma, 1 = viridis. */
int sm_layer_get_colormap (SmLayer *self);
void sm_layer_set_colormap (SmLayer *self, int colormap);

/* Overrides the voxel size (z, y, x) of the volume and of its level. */
void sm_layer_set_voxel_size (SmLayer *self, const double voxel_size[3]);
/* FALSE when the file gave no voxel size (no unit, 1 x 1 x 1) and none was set. */
gboolean sm_layer_voxel_size_known (SmLayer *self);

/* Value statistics computed when the layer was made: full range and robust
 * (0.5 %, 99.5 %) percentiles of a sample. */
void sm_layer_set_stats (SmLayer *self, double min, double max, double p_lo, double p_hi);
void sm_layer_get_stats (SmLayer *self, double *min, double *max, double *p_lo, double *p_hi);

/* Value of the full-resolution voxel (z, y, x) as a double; 0 outside.
 * Label layers: the displayed segment id (the fragment mapped through the
 * label map below). */
double sm_layer_value_at (SmLayer *self, gint64 z, gint64 y, gint64 x);

/* Label layers being proofread hold FRAGMENT ids (their volume, level and
 * texture); the label map says what each fragment shows as. Entries are
 * sorted by fragment and exist only where a fragment does not show as itself
 * in its hashed colour: fragments merged into another segment, fragments of
 * hidden segments (flag SM_LABEL_MAP_HIDDEN: not drawn) and segments with a
 * chosen colour (flag SM_LABEL_MAP_COLOR, colour 0xRRGGBB). A merge or its undo changes only the
 * map, never the voxels. Without a map every id shows as itself. The slice
 * views (label shader), the 3D view's surfaces, the status bar and the
 * segment list all draw through it and sm_layer_label_color, so a segment has
 * one colour everywhere. */
typedef struct {
  guint32 fragment;
  guint32 segment;
  guint32 color; /* 0xRRGGBB of `segment` when flags has SM_LABEL_MAP_COLOR */
  guint32 flags;
} SmLabelMapEntry;
#define SM_LABEL_MAP_COLOR 1u
#define SM_LABEL_MAP_HIDDEN 2u

/* Copies n entries (sorted by fragment); NULL / 0 clears the map. Emits
 * "label-map-changed". */
void sm_layer_set_label_map (SmLayer *self, const SmLabelMapEntry *entries, gsize n);
/* The current map (borrowed until the next set) and a version that changes with every set. */
const SmLabelMapEntry *sm_layer_get_label_map (SmLayer *self, gsize *n, guint *version);
/* Segment of a fragment (the fragment itself when unmapped), hidden or not. */
guint32 sm_layer_label_segment (SmLayer *self, guint32 fragment);
/* Colour of a displayed segment, 0xRRGGBB: the chosen one, else the id's
 * hash (sm_label_color_for_id, the same as the label shader's id_colour). */
guint32 sm_layer_label_color (SmLayer *self, guint32 segment);
/* A copy of the label volume with segment ids (uint32), e.g. to train on
 * proofread labels; hidden_as_zero: hidden segments as 0 (what the views
 * show). sm_volume_free it. FALSE when out of memory or not labels. */
gboolean sm_layer_copy_displayed_labels (SmLayer *self, gboolean hidden_as_zero, SmVolume *out);

G_END_DECLS
