/* SmViewState: shared cursor, contrast and layers (see sm-view-state.h). */
#include "sm-view-state.h"

#include <string.h>

struct _SmViewState {
  GObject parent_instance;
  SmLayer *image;
  guint image_generation;
  GListStore *layers;
  double cursor[3];
  double lo, hi, gamma;
  gboolean invert;
  gboolean linear;
  guint32 selected_id;
  /* Further selected segments (proofreading: merge several), drawn highlighted too. */
  guint32 more_selected[SM_VIEW_STATE_MAX_SELECTED - 1];
  guint n_more_selected;
  double brush_radius; /* x voxels; 0 = no brush outline */
};

G_DEFINE_FINAL_TYPE (SmViewState, sm_view_state, G_TYPE_OBJECT)

enum { PROP_0, PROP_IMAGE, PROP_CURSOR, PROP_CONTRAST, PROP_GEOMETRY, PROP_LINEAR, PROP_SELECTED_ID, N_PROPS };
static GParamSpec *props[N_PROPS];

enum { CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
emit_changed (SmViewState *self)
{
  g_signal_emit (self, signals[CHANGED], 0);
}

static void
on_layer_notify (SmLayer *layer, GParamSpec *pspec, SmViewState *self)
{
  emit_changed (self);
}

static void
on_layers_changed (GListModel *model, guint position, guint removed, guint added,
                   SmViewState *self)
{
  emit_changed (self);
}

static void
sm_view_state_dispose (GObject *object)
{
  SmViewState *self = SM_VIEW_STATE (object);
  if (self->layers)
    {
      guint n = g_list_model_get_n_items (G_LIST_MODEL (self->layers));
      for (guint i = 0; i < n; i++)
        {
          SmLayer *layer = g_list_model_get_item (G_LIST_MODEL (self->layers), i);
          g_signal_handlers_disconnect_by_data (layer, self);
          g_object_unref (layer);
        }
      g_signal_handlers_disconnect_by_data (self->layers, self);
    }
  g_clear_object (&self->layers);
  g_clear_object (&self->image);
  G_OBJECT_CLASS (sm_view_state_parent_class)->dispose (object);
}

static void
sm_view_state_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  SmViewState *self = SM_VIEW_STATE (object);
  switch (id)
    {
    case PROP_IMAGE: g_value_set_object (value, self->image); break;
    case PROP_LINEAR: g_value_set_boolean (value, self->linear); break;
    case PROP_SELECTED_ID: g_value_set_uint (value, self->selected_id); break;
    case PROP_CURSOR: case PROP_CONTRAST: case PROP_GEOMETRY: break; /* notify-only; read with the getters */
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
sm_view_state_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  SmViewState *self = SM_VIEW_STATE (object);
  switch (id)
    {
    case PROP_LINEAR: sm_view_state_set_linear (self, g_value_get_boolean (value)); break;
    case PROP_SELECTED_ID: sm_view_state_set_selected_id (self, g_value_get_uint (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
sm_view_state_class_init (SmViewStateClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = sm_view_state_dispose;
  object_class->get_property = sm_view_state_get_property;
  object_class->set_property = sm_view_state_set_property;
  props[PROP_IMAGE] = g_param_spec_object ("image", NULL, NULL, SM_TYPE_LAYER,
                                           G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /* Notify-only: the crosshair moved / the window or gamma changed. */
  props[PROP_CURSOR] = g_param_spec_boolean ("cursor", NULL, NULL, FALSE,
                                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  props[PROP_CONTRAST] = g_param_spec_boolean ("contrast", NULL, NULL, FALSE,
                                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  props[PROP_GEOMETRY] = g_param_spec_boolean ("geometry", NULL, NULL, FALSE,
                                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  props[PROP_LINEAR] = g_param_spec_boolean ("linear", NULL, NULL, FALSE,
                                             G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                             G_PARAM_STATIC_STRINGS);
  props[PROP_SELECTED_ID] = g_param_spec_uint ("selected-id", NULL, NULL, 0, G_MAXUINT32, 0,
                                               G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                               G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /* Anything that changes what a view draws. */
  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
sm_view_state_init (SmViewState *self)
{
  self->layers = g_list_store_new (SM_TYPE_LAYER);
  g_signal_connect (self->layers, "items-changed", G_CALLBACK (on_layers_changed), self);
  self->lo = 0;
  self->hi = 255;
  self->gamma = 1;
}

SmViewState *
sm_view_state_new (void)
{
  return g_object_new (SM_TYPE_VIEW_STATE, NULL);
}

static gboolean
same_shape (const SmVolume *a, const SmVolume *b)
{
  return a->nz == b->nz && a->ny == b->ny && a->nx == b->nx;
}

void
sm_view_state_set_image (SmViewState *self, SmLayer *image)
{
  g_return_if_fail (SM_IS_LAYER (image));
  g_set_object (&self->image, image);
  self->image_generation++;
  const SmVolume *v = sm_layer_get_volume (image);

  /* Overlays of another shape cannot be drawn over the new image. */
  for (guint i = g_list_model_get_n_items (G_LIST_MODEL (self->layers)); i-- > 0;)
    {
      g_autoptr (SmLayer) layer = g_list_model_get_item (G_LIST_MODEL (self->layers), i);
      if (!same_shape (sm_layer_get_volume (layer), v))
        sm_view_state_remove_layer (self, layer);
    }
  self->cursor[0] = (double) (v->nz / 2);
  self->cursor[1] = (double) (v->ny / 2);
  self->cursor[2] = (double) (v->nx / 2);
  self->selected_id = 0;
  self->n_more_selected = 0;
  self->gamma = 1;
  self->invert = FALSE;
  sm_layer_get_stats (image, NULL, NULL, &self->lo, &self->hi);
  if (self->hi <= self->lo)
    self->hi = self->lo + 1;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_IMAGE]);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_CURSOR]);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_CONTRAST]);
  emit_changed (self);
}

SmLayer *sm_view_state_get_image (SmViewState *self) { return self->image; }
guint sm_view_state_get_image_generation (SmViewState *self) { return self->image_generation; }
GListModel *sm_view_state_get_layers (SmViewState *self) { return G_LIST_MODEL (self->layers); }

void
sm_view_state_add_layer (SmViewState *self, SmLayer *layer)
{
  /* Overlays share the image's grid, whatever their files say. */
  if (self->image)
    sm_layer_set_voxel_size (layer, sm_layer_get_volume (self->image)->voxel_size);
  g_signal_connect (layer, "notify", G_CALLBACK (on_layer_notify), self);
  g_list_store_append (self->layers, layer);
}

void
sm_view_state_remove_layer (SmViewState *self, SmLayer *layer)
{
  guint pos;
  if (!g_list_store_find (self->layers, layer, &pos))
    return;
  g_signal_handlers_disconnect_by_data (layer, self);
  g_list_store_remove (self->layers, pos);
}

void
sm_view_state_move_layer (SmViewState *self, SmLayer *layer, int delta)
{
  guint pos;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->layers));
  if (!g_list_store_find (self->layers, layer, &pos))
    return;
  gint64 to = CLAMP ((gint64) pos + delta, 0, (gint64) n - 1);
  if (to == pos)
    return;
  g_object_ref (layer);
  g_list_store_remove (self->layers, pos);
  g_list_store_insert (self->layers, (guint) to, layer);
  g_object_unref (layer);
}

void
sm_view_state_get_cursor (SmViewState *self, double *z, double *y, double *x)
{
  if (z) *z = self->cursor[0];
  if (y) *y = self->cursor[1];
  if (x) *x = self->cursor[2];
}

void
sm_view_state_set_cursor (SmViewState *self, double z, double y, double x)
{
  if (!self->image)
    return;
  const SmVolume *v = sm_layer_get_volume (self->image);
  double c[3] = { CLAMP (z, 0, (double) v->nz - 1), CLAMP (y, 0, (double) v->ny - 1),
                  CLAMP (x, 0, (double) v->nx - 1) };
  if (c[0] == self->cursor[0] && c[1] == self->cursor[1] && c[2] == self->cursor[2])
    return;
  memcpy (self->cursor, c, sizeof c);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_CURSOR]);
  emit_changed (self);
}

void
sm_view_state_get_contrast (SmViewState *self, double *lo, double *hi, double *gamma,
                            gboolean *invert)
{
  if (lo) *lo = self->lo;
  if (hi) *hi = self->hi;
  if (gamma) *gamma = self->gamma;
  if (invert) *invert = self->invert;
}

void
sm_view_state_set_contrast (SmViewState *self, double lo, double hi, double gamma,
                            gboolean invert)
{
  if (lo == self->lo && hi == self->hi && gamma == self->gamma && !!invert == self->invert)
    return;
  self->lo = lo;
  self->hi = hi;
  self->gamma = gamma > 0 ? gamma : 1;
  self->invert = !!invert;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_CONTRAST]);
  emit_changed (self);
}

void
sm_view_state_auto_contrast (SmViewState *self)
{
  if (!self->image)
    return;
  double lo, hi;
  sm_layer_get_stats (self->image, NULL, NULL, &lo, &hi);
  sm_view_state_set_contrast (self, lo, hi > lo ? hi : lo + 1, self->gamma, self->invert);
}

void
sm_view_state_set_voxel_size (SmViewState *self, double z, double y, double x)
{
  if (!self->image || !(z > 0 && y > 0 && x > 0))
    return;
  const double voxel[3] = { z, y, x };
  sm_layer_set_voxel_size (self->image, voxel);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->layers));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (SmLayer) layer = g_list_model_get_item (G_LIST_MODEL (self->layers), i);
      sm_layer_set_voxel_size (layer, voxel);
    }
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_GEOMETRY]);
  emit_changed (self);
}

gboolean sm_view_state_get_linear (SmViewState *self) { return self->linear; }

void
sm_view_state_set_linear (SmViewState *self, gboolean linear)
{
  if (self->linear == !!linear)
    return;
  self->linear = !!linear;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_LINEAR]);
  emit_changed (self);
}

guint32 sm_view_state_get_selected_id (SmViewState *self) { return self->selected_id; }

void
sm_view_state_set_selected_id (SmViewState *self, guint32 id)
{
  if (self->selected_id == id && self->n_more_selected == 0)
    return;
  self->n_more_selected = 0;
  gboolean notify = self->selected_id != id;
  self->selected_id = id;
  if (notify)
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_SELECTED_ID]);
  emit_changed (self);
}

void
sm_view_state_set_selected_ids (SmViewState *self, const guint32 *ids, guint n)
{
  guint32 first = n ? ids[0] : 0;
  guint more = n > 1 ? MIN (n - 1, SM_VIEW_STATE_MAX_SELECTED - 1) : 0;
  if (first == self->selected_id && more == self->n_more_selected &&
      (more == 0 || memcmp (self->more_selected, ids + 1, more * sizeof *ids) == 0))
    return;
  if (more)
    memcpy (self->more_selected, ids + 1, more * sizeof *ids);
  self->n_more_selected = more;
  gboolean notify = self->selected_id != first;
  self->selected_id = first;
  if (notify)
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_SELECTED_ID]);
  emit_changed (self);
}

double sm_view_state_get_brush_radius (SmViewState *self) { return self->brush_radius; }

void
sm_view_state_set_brush_radius (SmViewState *self, double radius)
{
  if (self->brush_radius == radius)
    return;
  self->brush_radius = radius;
  emit_changed (self);
}

guint
sm_view_state_get_selected_ids (SmViewState *self, guint32 ids[SM_VIEW_STATE_MAX_SELECTED])
{
  if (!self->selected_id)
    return 0;
  ids[0] = self->selected_id;
  memcpy (ids + 1, self->more_selected, self->n_more_selected * sizeof *ids);
  return 1 + self->n_more_selected;
}

SmLayer *
sm_view_state_get_label_layer (SmViewState *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->layers));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (SmLayer) layer = g_list_model_get_item (G_LIST_MODEL (self->layers), i);
      if (sm_layer_get_kind (layer) == SM_LAYER_LABELS && sm_layer_get_visible (layer))
        return layer; /* still owned by the store */
    }
  return NULL;
}
