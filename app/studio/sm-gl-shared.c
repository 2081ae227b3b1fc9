/* Shared volume textures (see sm-gl-shared.h). */
#include "sm-gl-shared.h"

typedef struct {
  SmLayer *layer; /* a reference: the key's address cannot be reused while cached */
  SmGlVolumeTexture texture;
  int users;
} SharedTexture;

static GHashTable *shared; /* SmLayer* -> SharedTexture* */

const SmGlVolumeTexture *
sm_gl_shared_texture_acquire (SmLayer *layer, gboolean use_es, GError **error)
{
  if (!shared)
    shared = g_hash_table_new (NULL, NULL);
  SharedTexture *entry = g_hash_table_lookup (shared, layer);
  if (!entry)
    {
      entry = g_new0 (SharedTexture, 1);
      if (!sm_gl_volume_texture_upload (&entry->texture, sm_layer_get_level (layer),
                                        sm_layer_get_kind (layer), use_es, FALSE, error))
        {
          g_free (entry);
          return NULL;
        }
      entry->layer = g_object_ref (layer);
      g_hash_table_insert (shared, layer, entry);
    }
  entry->users++;
  return &entry->texture;
}

void
sm_gl_shared_texture_release (SmLayer *layer)
{
  SharedTexture *entry = shared ? g_hash_table_lookup (shared, layer) : NULL;
  if (!entry || --entry->users > 0)
    return;
  g_hash_table_remove (shared, layer);
  sm_gl_volume_texture_clear (&entry->texture);
  g_object_unref (entry->layer);
  g_free (entry);
}
