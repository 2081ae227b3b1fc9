/* Layers of the Fine-tune mode (see sm-finetune-layers.h). */
#include "sm-finetune-layers.h"

#include <glib/gstdio.h>
#include <string.h>

#include "sm-loader.h"
#include "sm-proofread-controller.h"
#include "sm-volume-level.h"

gboolean
sm_finetune_same_shape (SmLayer *image, gint64 nz, gint64 ny, gint64 nx)
{
  if (!image)
    return FALSE;
  const SmVolume *v = sm_layer_get_volume (image);
  return v->nz == nz && v->ny == ny && v->nx == nx;
}

static void
copy_geometry (SmLayer *image, SmVolume *volume)
{
  const SmVolume *v = sm_layer_get_volume (image);
  memcpy (volume->voxel_size, v->voxel_size, sizeof volume->voxel_size);
  memcpy (volume->unit, v->unit, sizeof volume->unit);
}

SmLayer *
sm_finetune_probability_layer (SmLayer *image, const char *name, SmVolume *volume, GError **error)
{
  copy_geometry (image, volume);
  /* Probabilities need no statistics (one fixed scale, so that a repaint shows the model's change,
   * not a new contrast): the loader's range and percentile passes are skipped unless a
   * downsampled level is needed anyway. */
  int stride[3];
  SmLayer *layer = sm_volume_level_strides (volume, sm_texture_max_dim (), sm_texture_budget_bytes (),
                                            sizeof (float), stride)
                       ? sm_layer_new_prepared (SM_LAYER_MAP, name, volume, error)
                       : sm_layer_new (SM_LAYER_MAP, name, volume, NULL, stride);
  if (layer)
    sm_layer_set_stats (layer, 0, 1, 0, 1);
  return layer;
}

SmLayer *
sm_finetune_slab_layer (SmLayer *image, const SmFinetuneOverlay *o, GError **error)
{
  const SmVolume *v = sm_layer_get_volume (image);
  SmVolume volume = { 0 };
  SmError err = { { 0 } };
  if (sm_volume_alloc (&volume, SM_F32, v->nz, v->ny, v->nx, &err))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "%s", err.message);
      return NULL;
    }
  /* Only the slab is predicted; elsewhere 0, which the map shader leaves transparent. */
  gsize plane = (gsize) (o->ny * o->nx);
  memcpy ((float *) volume.data + (gsize) o->z0 * plane, o->map, (gsize) o->depth * plane * sizeof (float));
  g_autofree char *name = g_strdup_printf ("prediction (step %" G_GINT64_FORMAT ")", o->step);
  return sm_finetune_probability_layer (image, name, &volume, error);
}

SmLayer *
sm_finetune_labels_layer (SmLayer *image, const char *name, SmVolume *labels, const char *path, GError **error)
{
  copy_geometry (image, labels);
  SmLayer *layer = sm_layer_new_prepared (SM_LAYER_LABELS, name, labels, error);
  if (layer && path)
    sm_proofread_set_layer_path (layer, path);
  return layer;
}

void
sm_finetune_replace_layer (SmViewState *state, SmLayer **slot, SmLayer *layer, double opacity)
{
  if (*slot)
    {
      sm_layer_set_visible (layer, sm_layer_get_visible (*slot));
      sm_layer_set_opacity (layer, sm_layer_get_opacity (*slot));
      sm_view_state_remove_layer (state, *slot);
    }
  else
    sm_layer_set_opacity (layer, opacity);
  g_set_object (slot, layer);
  sm_view_state_add_layer (state, layer);
}

void
sm_finetune_hide_label_layers (SmViewState *state, SmLayer *except)
{
  GListModel *layers = sm_view_state_get_layers (state);
  for (guint i = 0; i < g_list_model_get_n_items (layers); i++)
    {
      g_autoptr (SmLayer) other = g_list_model_get_item (layers, i);
      if (sm_layer_get_kind (other) == SM_LAYER_LABELS && other != except)
        sm_layer_set_visible (other, FALSE);
    }
}

char *
sm_finetune_segmentation_path (SmLayer *image, SegTask task, gint64 step)
{
  g_autofree char *dir = g_build_filename (g_get_user_cache_dir (), "semmae", "segmentations", NULL);
  if (!image || g_mkdir_with_parents (dir, 0755) != 0)
    return NULL;
  g_autofree char *stem = g_strdup (sm_layer_get_name (image));
  g_strcanon (stem, G_CSET_a_2_z G_CSET_A_2_Z G_CSET_DIGITS "-_.", '_');
  g_autofree char *name = g_strdup_printf ("%s-%s-step%" G_GINT64_FORMAT ".tif", stem, seg_task_name (task), step);
  return g_build_filename (dir, name, NULL);
}
