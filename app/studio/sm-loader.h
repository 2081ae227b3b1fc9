/* Loading volumes off the main thread: reading (with progress and
 * cancellation), value statistics and, for volumes too big for one GPU
 * texture, the subsampled level — everything a new SmLayer needs. The
 * callbacks run on the main thread. */
#pragma once

#include <gio/gio.h>

#include "sm-layer.h"

G_BEGIN_DECLS

/* fraction in [0, 1]; coalesced, never more than one pending at a time. */
typedef void (*SmLoadProgressFunc) (double fraction, gpointer user_data);

/* Reads path (file, folder or glob) as a layer of this kind. progress (may be
 * NULL) runs on the main thread; user_data must outlive the operation. */
void sm_load_layer_async (const char *path, SmLayerKind kind, GCancellable *cancellable,
                          SmLoadProgressFunc progress, gpointer progress_data,
                          GAsyncReadyCallback callback, gpointer user_data);
SmLayer *sm_load_layer_finish (GAsyncResult *result, GError **error);

/* The built-in phantom (sm_phantom_generate) of this shape: the image and its
 * neurite labels. */
void sm_load_phantom_async (gint64 nz, gint64 ny, gint64 nx, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
gboolean sm_load_phantom_finish (GAsyncResult *result, SmLayer **image, SmLayer **labels,
                                 GError **error);

/* Stats and level for a volume already in memory (takes *volume); runs on
 * the calling thread. */
SmLayer *sm_layer_new_prepared (SmLayerKind kind, const char *name, SmVolume *volume,
                                GError **error);

G_END_DECLS
