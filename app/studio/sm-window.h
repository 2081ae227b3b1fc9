/* SmWindow: the studio's main window (template ui/sm-window.ui) — header bar
 * (open, recent, file name, mode switcher, layout and main menus), the slice
 * and 3D views in a grid, the mode's side panel and the status bar. It owns
 * the SmViewState the views share and loads volumes in the background. */
#pragma once

#include <gtk/gtk.h>

#include "sm-application.h"
#include "sm-finetune-panel.h"
#include "sm-layer.h"
#include "sm-view-state.h"

G_BEGIN_DECLS

#define SM_TYPE_WINDOW (sm_window_get_type ())
G_DECLARE_FINAL_TYPE (SmWindow, sm_window, SM, WINDOW, GtkApplicationWindow)

SmWindow *sm_window_new (SmApplication *app);
SmViewState *sm_window_get_state (SmWindow *self);
/* Shows the Pre-train panel and starts a run of `steps` steps on the image
 * once it is in (preview every `preview_every` steps); with a screenshot,
 * waits for the run's final preview. */
void sm_window_autostart_pretrain (SmWindow *self, gint64 steps, int preview_every);
/* Shows the Fine-tune panel and starts a run once the image and its labels
 * are in (sm-finetune-panel.h); a screenshot waits for the run's end. */
void sm_window_autostart_finetune (SmWindow *self, const SmFinetuneAutostart *autostart);

/* Reads a volume in the background; on failure an error dialog names the
 * file and the reason and the current volume stays open. */
void sm_window_open_path (SmWindow *self, const char *path);
void sm_window_open_phantom (SmWindow *self, gint64 nz, gint64 ny, gint64 nx);
/* Loads a label or map layer once the image being opened (if any) is in. */
void sm_window_queue_overlay (SmWindow *self, const char *path, SmLayerKind kind);

/* Voxel size (z, y, x) for the next image opened (files that do not say). */
void sm_window_set_voxel_size_override (SmWindow *self, const double voxel_size[3]);

/* "grid", "xy-3d" or "xy". */
void sm_window_set_layout (SmWindow *self, const char *layout);

/* Test and benchmark hooks: save a PNG once every view has drawn the loaded
 * data, then quit (status 0, or 1 on failure); scroll n slices in the XY view
 * and print frames per second; print time to the first complete frame. */
void sm_window_set_screenshot (SmWindow *self, const char *path);
void sm_window_set_bench_scroll (SmWindow *self, int n_slices);
void sm_window_set_timing (SmWindow *self, gboolean timing);

G_END_DECLS
