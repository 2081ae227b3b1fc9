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

gboolean
sm_gl_shared_texture_update_box (SmLayer *layer, const gint64 lo[3], const gint64 hi[3],
                                 const guint32 *ids)
{
  SharedTexture *entry = shared ? g_hash_table_lookup (shared, layer) : NULL;
  if (!entry || !entry->texture.integer)
    return FALSE;
  glBindTexture (GL_TEXTURE_3D, entry->texture.texture);
  glPixelStorei (GL_UNPACK_ALIGNMENT, 1);
  glTexSubImage3D (GL_TEXTURE_3D, 0, (GLint) lo[2], (GLint) lo[1], (GLint) lo[0],
                   (GLsizei) (hi[2] - lo[2]), (GLsizei) (hi[1] - lo[1]), (GLsizei) (hi[0] - lo[0]),
                   GL_RED_INTEGER, GL_UNSIGNED_INT, ids);
  glBindTexture (GL_TEXTURE_3D, 0);
  return TRUE;
}
