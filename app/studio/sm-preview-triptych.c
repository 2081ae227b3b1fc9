/* SmPreviewTriptych (see sm-preview-triptych.h). */
#include "sm-preview-triptych.h"

#include <math.h>
#include <string.h>

#define CAPTION_HEIGHT 14
#define GAP 4

struct _SmPreviewTriptych {
  GtkWidget parent_instance;
  GtkWidget *box, *area, *z_scale, *z_label;
  SmTrainPreview preview; /* our copy; arrays NULL when none */
  double lo, hi;          /* grey window: the original crop's range */
  int z;
  graphene_rect_t panes[3];
  gboolean drawn;
};

G_DEFINE_FINAL_TYPE (SmPreviewTriptych, sm_preview_triptych, GTK_TYPE_WIDGET)

static guint32
grey (double v, double lo, double hi)
{
  double t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
  guint32 g = (guint32) lround (CLAMP (t, 0, 1) * 255);
  return g << 16 | g << 8 | g;
}

/* One slice of a (D, H, W) crop as an RGB24 surface; NAN voxels greyed. */
static cairo_surface_t *
slice_surface (const float *crop, int z, int h, int w, double lo, double hi)
{
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, w, h);
  unsigned char *data = cairo_image_surface_get_data (s);
  int stride = cairo_image_surface_get_stride (s);
  const float *slice = crop + (gsize) z * h * w;
  for (int y = 0; y < h; y++)
    {
      guint32 *row = (guint32 *) (void *) (data + (gsize) y * stride);
      for (int x = 0; x < w; x++)
        {
          float v = slice[(gsize) y * w + x];
          /* Masked tokens: a flat blue-grey with a faint checker, unmistakably not tissue. */
          row[x] = isnan (v) ? (((x / 4 + y / 4) & 1) ? 0x5a6478 : 0x525b6e) : grey (v, lo, hi);
        }
    }
  cairo_surface_mark_dirty (s);
  return s;
}

static void
draw (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer data)
{
  SmPreviewTriptych *self = data;
  const SmTrainPreview *p = &self->preview;
  cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, 10);
  if (!p->original)
    {
      cairo_set_source_rgba (cr, 0.5, 0.5, 0.5, 1);
      cairo_move_to (cr, 4, height / 2.0);
      cairo_show_text (cr, "Preview: start training (or load a checkpoint)");
      self->drawn = FALSE;
      return;
    }
  double side = MIN ((width - 2.0 * GAP) / 3, height - CAPTION_HEIGHT);
  if (side < 8)
    return;
  double scale_x = side / p->width, scale_y = side / p->height;
  double s = MIN (scale_x, scale_y);
  double pw = p->width * s, ph = p->height * s;
  const float *crops[3] = { p->original, p->masked_input, p->reconstruction };
  char captions[3][64];
  g_snprintf (captions[0], sizeof captions[0], "original");
  g_snprintf (captions[1], sizeof captions[1], "masked %.0f%%", 100 * p->mask_ratio);
  g_snprintf (captions[2], sizeof captions[2], "recon · step %" G_GINT64_FORMAT, p->step);
  int z = CLAMP (self->z, 0, p->depth - 1);
  for (int i = 0; i < 3; i++)
    {
      double x0 = i * (pw + GAP), y0 = CAPTION_HEIGHT;
      cairo_set_source_rgba (cr, 0.5, 0.5, 0.5, 1);
      cairo_move_to (cr, x0, CAPTION_HEIGHT - 3);
      cairo_show_text (cr, captions[i]);
      cairo_surface_t *surface = slice_surface (crops[i], z, p->height, p->width, self->lo, self->hi);
      cairo_save (cr);
      cairo_translate (cr, x0, y0);
      cairo_scale (cr, s, s);
      cairo_set_source_surface (cr, surface, 0, 0);
      cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_NEAREST);
      cairo_paint (cr);
      cairo_restore (cr);
      cairo_surface_destroy (surface);
      self->panes[i] = GRAPHENE_RECT_INIT ((float) x0, (float) y0, (float) pw, (float) ph);
    }
  self->drawn = TRUE;
}

static void
on_z_changed (GtkRange *range, SmPreviewTriptych *self)
{
  self->z = (int) lround (gtk_range_get_value (range));
  if (self->preview.original)
    {
      g_autofree char *text = g_strdup_printf ("z %" G_GINT64_FORMAT, self->preview.origin[0] + self->z);
      gtk_label_set_text (GTK_LABEL (self->z_label), text);
    }
  gtk_widget_queue_draw (self->area);
}

static void
clear_preview (SmPreviewTriptych *self)
{
  g_clear_pointer (&self->preview.original, g_free);
  g_clear_pointer (&self->preview.masked_input, g_free);
  g_clear_pointer (&self->preview.reconstruction, g_free);
}

void
sm_preview_triptych_set_preview (SmPreviewTriptych *self, const SmTrainPreview *preview)
{
  gboolean same_shape = preview && self->preview.original && preview->depth == self->preview.depth;
  clear_preview (self);
  if (!preview)
    {
      self->drawn = FALSE;
      gtk_widget_queue_draw (self->area);
      return;
    }
  self->preview = *preview;
  gsize n = (gsize) preview->depth * preview->height * preview->width;
  self->preview.original = g_memdup2 (preview->original, n * sizeof (float));
  self->preview.masked_input = g_memdup2 (preview->masked_input, n * sizeof (float));
  self->preview.reconstruction = g_memdup2 (preview->reconstruction, n * sizeof (float));
  /* Robust enough for a crop: its own min and max. */
  self->lo = INFINITY;
  self->hi = -INFINITY;
  for (gsize i = 0; i < n; i++)
    {
      self->lo = MIN (self->lo, preview->original[i]);
      self->hi = MAX (self->hi, preview->original[i]);
    }
  if (!same_shape)
    {
      gtk_range_set_range (GTK_RANGE (self->z_scale), 0, MAX (preview->depth - 1, 1));
      gtk_range_set_value (GTK_RANGE (self->z_scale), preview->depth / 2);
      gtk_widget_set_sensitive (self->z_scale, preview->depth > 1);
    }
  on_z_changed (GTK_RANGE (self->z_scale), self);
}

gboolean sm_preview_triptych_has_preview (SmPreviewTriptych *self) { return self->preview.original != NULL; }
GtkWidget *sm_preview_triptych_get_area (SmPreviewTriptych *self) { return self->area; }

gboolean
sm_preview_triptych_get_panes (SmPreviewTriptych *self, graphene_rect_t panes[3])
{
  if (!self->drawn)
    return FALSE;
  memcpy (panes, self->panes, sizeof self->panes);
  return TRUE;
}

static void
sm_preview_triptych_dispose (GObject *object)
{
  SmPreviewTriptych *self = SM_PREVIEW_TRIPTYCH (object);
  g_clear_pointer (&self->box, gtk_widget_unparent);
  G_OBJECT_CLASS (sm_preview_triptych_parent_class)->dispose (object);
}

static void
sm_preview_triptych_finalize (GObject *object)
{
  clear_preview (SM_PREVIEW_TRIPTYCH (object));
  G_OBJECT_CLASS (sm_preview_triptych_parent_class)->finalize (object);
}

static void
sm_preview_triptych_class_init (SmPreviewTriptychClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = sm_preview_triptych_dispose;
  G_OBJECT_CLASS (klass)->finalize = sm_preview_triptych_finalize;
  gtk_widget_class_set_layout_manager_type (GTK_WIDGET_CLASS (klass), GTK_TYPE_BIN_LAYOUT);
}

static void
sm_preview_triptych_init (SmPreviewTriptych *self)
{
  self->box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  gtk_widget_set_parent (self->box, GTK_WIDGET (self));
  self->area = gtk_drawing_area_new ();
  gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (self->area), 136);
  gtk_widget_set_hexpand (self->area, TRUE);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (self->area), draw, self, NULL);
  gtk_box_append (GTK_BOX (self->box), self->area);
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  self->z_scale = gtk_scale_new_with_range (GTK_ORIENTATION_HORIZONTAL, 0, 1, 1);
  gtk_scale_set_draw_value (GTK_SCALE (self->z_scale), FALSE);
  gtk_widget_set_hexpand (self->z_scale, TRUE);
  gtk_widget_set_sensitive (self->z_scale, FALSE);
  gtk_widget_set_tooltip_text (self->z_scale, "Slice of the crop shown in the preview");
  g_signal_connect (self->z_scale, "value-changed", G_CALLBACK (on_z_changed), self);
  self->z_label = gtk_label_new ("z –");
  gtk_label_set_width_chars (GTK_LABEL (self->z_label), 7);
  gtk_box_append (GTK_BOX (row), self->z_label);
  gtk_box_append (GTK_BOX (row), self->z_scale);
  gtk_box_append (GTK_BOX (self->box), row);
}

GtkWidget *
sm_preview_triptych_new (void)
{
  return g_object_new (SM_TYPE_PREVIEW_TRIPTYCH, NULL);
}
