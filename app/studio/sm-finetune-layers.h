/* The layers the Fine-tune mode puts into the views — the prediction of a
 * slab, the whole-volume probability map, the segmentation as an editable
 * label layer — made the same way (the image's voxel size, probabilities on
 * one fixed 0..1 scale) and replaced in place when a newer one comes. Plain
 * functions for SmFinetunePanel; main thread only. */
#pragma once

#include "engine/seg_net.h"
#include "sm-finetune-thread.h"
#include "sm-layer.h"
#include "sm-view-state.h"

G_BEGIN_DECLS

/* TRUE when image is (nz, ny, nx). */
gboolean sm_finetune_same_shape (SmLayer *image, gint64 nz, gint64 ny, gint64 nx);

/* A float map in [0, 1] (takes *volume): no statistics pass, the range is 0..1. */
SmLayer *sm_finetune_probability_layer (SmLayer *image, const char *name, SmVolume *volume, GError **error);
/* The slab's prediction in a volume of the image's shape (0 = transparent elsewhere). */
SmLayer *sm_finetune_slab_layer (SmLayer *image, const SmFinetuneOverlay *overlay, GError **error);
/* uint32 instances (takes *labels); with a path, proofreading loads, journals and saves it there. */
SmLayer *sm_finetune_labels_layer (SmLayer *image, const char *name, SmVolume *labels, const char *path,
                                   GError **error);

/* Puts layer where *slot was (keeping the old one's visibility and opacity,
 * or `opacity` for the first) and keeps a reference in *slot. */
void sm_finetune_replace_layer (SmViewState *state, SmLayer **slot, SmLayer *layer, double opacity);
/* Proofreading edits the first visible label layer: every other steps aside. */
void sm_finetune_hide_label_layers (SmViewState *state, SmLayer *except);

/* $XDG_CACHE_HOME/semmae/segmentations/<image>-<task>-step<S>.tif (directory
 * made), or NULL when it cannot be made. */
char *sm_finetune_segmentation_path (SmLayer *image, SegTask task, gint64 step);

G_END_DECLS
