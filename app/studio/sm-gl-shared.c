/* Shared volume textures (see sm-gl-shared.h). */
#include "sm-gl-shared.h"

#include <string.h>

typedef struct {
  SmLayer *layer; /* a reference: the key's address cannot be reused while cached */
  SmGlVolumeTexture texture;
  int users;
  GLuint map_texture;  /* label layers: the fragment -> segment table */
  guint map_version;   /* of the layer's label map uploaded into map_texture */
  gboolean map_uploaded;
} SharedTexture;

#define LABEL_SOURCE_KEY "sm-gl-shared-label-source"
#define LABEL_MAP_ROW 1024 /* texels a row: tables of up to 1024 x max-texture-size pairs */


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
      const SmVolume *source = g_object_get_data (G_OBJECT (layer), LABEL_SOURCE_KEY);
      if (!source || sm_layer_is_downsampled (layer))
        source = sm_layer_get_level (layer);
      if (!sm_gl_volume_texture_upload (&entry->texture, source,
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
  if (entry->map_texture)
    glDeleteTextures (1, &entry->map_texture);
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

guint
sm_gl_shared_label_map_bind (SmLayer *layer, guint *row_width)
{
  SharedTexture *entry = shared ? g_hash_table_lookup (shared, layer) : NULL;
  gsize n = 0;
  guint version = 0;
  const SmLabelMapEntry *map = sm_layer_get_label_map (layer, &n, &version);
  *row_width = LABEL_MAP_ROW;
  if (!entry || n == 0)
    {
      glBindTexture (GL_TEXTURE_2D, 0);
      return 0;
    }
  if (!entry->map_texture)
    glGenTextures (1, &entry->map_texture);
  glBindTexture (GL_TEXTURE_2D, entry->map_texture);
  if (!entry->map_uploaded || entry->map_version != version)
    {
      /* Whole rows: the tail of the last row is never read (index < n). */
      gsize rows = (n + LABEL_MAP_ROW - 1) / LABEL_MAP_ROW;
      g_autofree SmLabelMapEntry *texels = g_malloc0 (rows * LABEL_MAP_ROW * sizeof *texels);
      memcpy (texels, map, n * sizeof *texels);
      glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
      glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
      glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MAX_LEVEL, 0);
      glPixelStorei (GL_UNPACK_ALIGNMENT, 4);
      glTexImage2D (GL_TEXTURE_2D, 0, GL_RGBA32UI, LABEL_MAP_ROW, (GLsizei) rows, 0, GL_RGBA_INTEGER,
                    GL_UNSIGNED_INT, texels);
      entry->map_version = version;
      entry->map_uploaded = TRUE;
    }
  return (guint) n;
}

void
sm_gl_shared_set_label_source (SmLayer *layer, const SmVolume *fragments)
{
  g_object_set_data_full (G_OBJECT (layer), LABEL_SOURCE_KEY,
                          fragments ? g_memdup2 (fragments, sizeof *fragments) : NULL, g_free);
}
