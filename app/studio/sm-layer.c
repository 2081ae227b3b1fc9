/* SmLayer: a volume with display settings (see sm-layer.h). */
#include "sm-layer.h"

#include <stdlib.h>
#include <string.h>

#include "data/label_store.h"

struct _SmLayer {
  GObject parent_instance;
  SmLayerKind kind;
  char *name;
  SmVolume volume;
  SmVolume level;      /* data == NULL when the full volume is uploaded */
  int stride[3];
  gboolean visible;
  double opacity;
  gboolean outline;
  int colormap;
  gboolean voxel_size_set;
  double min, max, p_lo, p_hi;
  SmLabelMapEntry *label_map; /* labels: fragment -> displayed segment / colour, sorted */
  gsize n_label_map;
  guint label_map_version;
};

G_DEFINE_FINAL_TYPE (SmLayer, sm_layer, G_TYPE_OBJECT)

enum { PROP_0, PROP_NAME, PROP_VISIBLE, PROP_OPACITY, PROP_OUTLINE, PROP_COLORMAP, N_PROPS };
static GParamSpec *props[N_PROPS];
enum { LABEL_MAP_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
sm_layer_finalize (GObject *object)
{
  SmLayer *self = SM_LAYER (object);
  sm_volume_free (&self->volume);
  sm_volume_free (&self->level);
  g_free (self->label_map);
  g_free (self->name);
  G_OBJECT_CLASS (sm_layer_parent_class)->finalize (object);
}

static void
sm_layer_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  SmLayer *self = SM_LAYER (object);
  switch (id)
    {
    case PROP_NAME: g_value_set_string (value, self->name); break;
    case PROP_VISIBLE: g_value_set_boolean (value, self->visible); break;
    case PROP_OPACITY: g_value_set_double (value, self->opacity); break;
    case PROP_OUTLINE: g_value_set_boolean (value, self->outline); break;
    case PROP_COLORMAP: g_value_set_int (value, self->colormap); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
sm_layer_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  SmLayer *self = SM_LAYER (object);
  switch (id)
    {
    case PROP_VISIBLE: sm_layer_set_visible (self, g_value_get_boolean (value)); break;
    case PROP_OPACITY: sm_layer_set_opacity (self, g_value_get_double (value)); break;
    case PROP_OUTLINE: sm_layer_set_outline (self, g_value_get_boolean (value)); break;
    case PROP_COLORMAP: sm_layer_set_colormap (self, g_value_get_int (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
sm_layer_class_init (SmLayerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->finalize = sm_layer_finalize;
  object_class->get_property = sm_layer_get_property;
  object_class->set_property = sm_layer_set_property;
  props[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL,
                                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  props[PROP_VISIBLE] = g_param_spec_boolean ("visible", NULL, NULL, TRUE,
                                              G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                              G_PARAM_STATIC_STRINGS);
  props[PROP_OPACITY] = g_param_spec_double ("opacity", NULL, NULL, 0, 1, 0.5,
                                             G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                             G_PARAM_STATIC_STRINGS);
  props[PROP_OUTLINE] = g_param_spec_boolean ("outline", NULL, NULL, FALSE,
                                              G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                              G_PARAM_STATIC_STRINGS);
  props[PROP_COLORMAP] = g_param_spec_int ("colormap", NULL, NULL, 0, 1, 0,
                                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                           G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
  signals[LABEL_MAP_CHANGED] = g_signal_new ("label-map-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                             0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
sm_layer_init (SmLayer *self)
{
  self->visible = TRUE;
  self->opacity = 0.5;
  self->stride[0] = self->stride[1] = self->stride[2] = 1;
}

SmLayer *
sm_layer_new (SmLayerKind kind, const char *name, SmVolume *volume, SmVolume *level,
              const int stride[3])
{
  SmLayer *self = g_object_new (SM_TYPE_LAYER, NULL);
  self->kind = kind;
  self->name = g_strdup (name);
  self->volume = *volume;
  volume->data = NULL;
  if (level && level->data)
    {
      self->level = *level;
      level->data = NULL;
      for (int i = 0; i < 3; i++)
        self->stride[i] = stride[i];
    }
  if (kind == SM_LAYER_IMAGE)
    self->opacity = 1.0;
  /* Stats are the loader's job (sm_layer_set_stats): a range pass costs a full read. */
  self->min = self->p_lo = 0;
  self->max = self->p_hi = 255;
  return self;
}

SmLayerKind sm_layer_get_kind (SmLayer *self) { return self->kind; }
const char *sm_layer_get_name (SmLayer *self) { return self->name; }
const SmVolume *sm_layer_get_volume (SmLayer *self) { return &self->volume; }
gboolean sm_layer_is_downsampled (SmLayer *self) { return self->level.data != NULL; }

void
sm_layer_get_stride (SmLayer *self, int stride[3])
{
  for (int i = 0; i < 3; i++)
    stride[i] = self->level.data ? self->stride[i] : 1;
}

const SmVolume *
sm_layer_get_level (SmLayer *self)
{
  return self->level.data ? &self->level : &self->volume;
}

gboolean sm_layer_get_visible (SmLayer *self) { return self->visible; }
double sm_layer_get_opacity (SmLayer *self) { return self->opacity; }
gboolean sm_layer_get_outline (SmLayer *self) { return self->outline; }

void
sm_layer_set_visible (SmLayer *self, gboolean visible)
{
  if (self->visible == !!visible)
    return;
  self->visible = !!visible;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_VISIBLE]);
}

void
sm_layer_set_opacity (SmLayer *self, double opacity)
{
  opacity = CLAMP (opacity, 0.0, 1.0);
  if (self->opacity == opacity)
    return;
  self->opacity = opacity;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_OPACITY]);
}

void
sm_layer_set_outline (SmLayer *self, gboolean outline)
{
  if (self->outline == !!outline)
    return;
  self->outline = !!outline;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_OUTLINE]);
}

int sm_layer_get_colormap (SmLayer *self) { return self->colormap; }

void
sm_layer_set_colormap (SmLayer *self, int colormap)
{
  colormap = CLAMP (colormap, 0, 1);
  if (self->colormap == colormap)
    return;
  self->colormap = colormap;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_COLORMAP]);
}

void
sm_layer_set_voxel_size (SmLayer *self, const double voxel_size[3])
{
  for (int i = 0; i < 3; i++)
    {
      self->volume.voxel_size[i] = voxel_size[i];
      self->level.voxel_size[i] = voxel_size[i] * self->stride[i];
    }
  self->voxel_size_set = TRUE;
}

gboolean
sm_layer_voxel_size_known (SmLayer *self)
{
  const SmVolume *v = &self->volume;
  return self->voxel_size_set || v->unit[0] || v->voxel_size[0] != 1 || v->voxel_size[1] != 1 ||
         v->voxel_size[2] != 1;
}

void
sm_layer_set_stats (SmLayer *self, double min, double max, double p_lo, double p_hi)
{
  self->min = min;
  self->max = max;
  self->p_lo = p_lo;
  self->p_hi = p_hi;
}

void
sm_layer_get_stats (SmLayer *self, double *min, double *max, double *p_lo, double *p_hi)
{
  if (min) *min = self->min;
  if (max) *max = self->max;
  if (p_lo) *p_lo = self->p_lo;
  if (p_hi) *p_hi = self->p_hi;
}

double
sm_layer_value_at (SmLayer *self, gint64 z, gint64 y, gint64 x)
{
  const SmVolume *v = &self->volume;
  if (!v->data || z < 0 || y < 0 || x < 0 || z >= v->nz || y >= v->ny || x >= v->nx)
    return 0;
  size_t i = ((size_t) z * (size_t) v->ny + (size_t) y) * (size_t) v->nx + (size_t) x;
  gboolean mapped = self->kind == SM_LAYER_LABELS && self->n_label_map > 0;
  switch (v->dtype)
    {
    case SM_U8: return ((const guint8 *) v->data)[i];
    case SM_I8: return ((const gint8 *) v->data)[i];
    case SM_U16: return ((const guint16 *) v->data)[i];
    case SM_I16: return ((const gint16 *) v->data)[i];
    case SM_U32:
      return mapped ? sm_layer_label_segment (self, ((const guint32 *) v->data)[i]) : ((const guint32 *) v->data)[i];
    case SM_I32:
      if (mapped)
        return sm_layer_label_segment (self, (guint32) ((const gint32 *) v->data)[i]);
      return ((const gint32 *) v->data)[i];
    case SM_F32: return ((const float *) v->data)[i];
    default: return 0;
    }
}

/* --- label map --------------------------------------------------------------- */

void
sm_layer_set_label_map (SmLayer *self, const SmLabelMapEntry *entries, gsize n)
{
  g_free (self->label_map);
  self->label_map = n ? g_memdup2 (entries, n * sizeof *entries) : NULL;
  self->n_label_map = n;
  self->label_map_version++;
  g_signal_emit (self, signals[LABEL_MAP_CHANGED], 0);
}

const SmLabelMapEntry *
sm_layer_get_label_map (SmLayer *self, gsize *n, guint *version)
{
  if (n)
    *n = self->n_label_map;
  if (version)
    *version = self->label_map_version;
  return self->label_map;
}

static const SmLabelMapEntry *
find_entry (SmLayer *self, guint32 fragment)
{
  gsize lo = 0, hi = self->n_label_map;
  while (lo < hi)
    {
      gsize mid = lo + (hi - lo) / 2;
      guint32 f = self->label_map[mid].fragment;
      if (f == fragment)
        return &self->label_map[mid];
      if (f < fragment)
        lo = mid + 1;
      else
        hi = mid;
    }
  return NULL;
}

guint32
sm_layer_label_segment (SmLayer *self, guint32 fragment)
{
  const SmLabelMapEntry *e = fragment ? find_entry (self, fragment) : NULL;
  return e ? e->segment : fragment;
}

guint32
sm_layer_label_color (SmLayer *self, guint32 segment)
{
  const SmLabelMapEntry *e = segment ? find_entry (self, segment) : NULL;
  if (e && (e->flags & SM_LABEL_MAP_COLOR))
    return e->color & 0xFFFFFFu;
  return sm_label_color_for_id (segment);
}

gboolean
sm_layer_copy_displayed_labels (SmLayer *self, gboolean hidden_as_zero, SmVolume *out)
{
  const SmVolume *v = &self->volume;
  memset (out, 0, sizeof *out);
  if (self->kind != SM_LAYER_LABELS || !v->data)
    return FALSE;
  *out = *v;
  out->dtype = SM_U32;
  gsize n = (gsize) v->nz * (gsize) v->ny * (gsize) v->nx;
  guint32 *ids = malloc (n * sizeof (guint32)); /* sm_volume_free frees with free() */
  if (!ids)
    {
      memset (out, 0, sizeof *out);
      return FALSE;
    }
  /* Runs of one fragment are the rule: map each run once. */
  guint32 last_in = 0, last_out = 0;
  for (gsize i = 0; i < n; i++)
    {
      guint32 f = v->dtype == SM_U32 || v->dtype == SM_I32 ? ((const guint32 *) v->data)[i]
                  : v->dtype == SM_U16 || v->dtype == SM_I16 ? ((const guint16 *) v->data)[i]
                                                             : ((const guint8 *) v->data)[i];
      if (f != last_in || i == 0)
        {
          const SmLabelMapEntry *e = f ? find_entry (self, f) : NULL;
          last_in = f;
          last_out = !e ? f : hidden_as_zero && (e->flags & SM_LABEL_MAP_HIDDEN) ? 0 : e->segment;
        }
      ids[i] = last_out;
    }
  out->data = ids;
  return TRUE;
}
