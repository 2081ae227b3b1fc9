/* SmFinetunePlot: loss and validation metric on one step axis (cairo). */
#include "sm-finetune-plot.h"

#include <math.h>

typedef struct {
  gint64 step;
  double value, smoothed;
} Point;

struct _SmFinetunePlot {
  GtkDrawingArea parent_instance;
  GArray *loss;    /* Point */
  GArray *metric;  /* Point (smoothed unused) */
  char metric_name[32];
  gboolean lower_is_better;
};

G_DEFINE_FINAL_TYPE (SmFinetunePlot, sm_finetune_plot, GTK_TYPE_DRAWING_AREA)

#define SMOOTHING 0.9

static void
range_of (GArray *points, gboolean smoothed, double *lo, double *hi)
{
  *lo = INFINITY;
  *hi = -INFINITY;
  for (guint i = 0; i < points->len; i++)
    {
      const Point *p = &g_array_index (points, Point, i);
      double v = smoothed ? p->smoothed : p->value;
      if (isfinite (v))
        {
          *lo = fmin (*lo, v);
          *hi = fmax (*hi, v);
        }
    }
  if (!(*hi >= *lo))
    *lo = 0, *hi = 1;
  if (*hi - *lo < 1e-9)
    *lo -= 0.5, *hi += 0.5;
}

static void
plot_line (cairo_t *cr, GArray *points, gboolean smoothed, double x0, double w, double y0, double h,
           gint64 s_lo, gint64 s_hi, double lo, double hi, gboolean dots)
{
  gboolean started = FALSE;
  for (guint i = 0; i < points->len; i++)
    {
      const Point *p = &g_array_index (points, Point, i);
      double v = smoothed ? p->smoothed : p->value;
      if (!isfinite (v))
        continue;
      double x = x0 + w * (double) (p->step - s_lo) / (double) MAX (s_hi - s_lo, 1);
      double y = y0 + h * (1 - (v - lo) / (hi - lo));
      if (started)
        cairo_line_to (cr, x, y);
      else
        cairo_move_to (cr, x, y);
      started = TRUE;
    }
  cairo_stroke (cr);
  if (!dots && points->len > 1)
    return;
  for (guint i = 0; i < points->len; i++)
    {
      const Point *p = &g_array_index (points, Point, i);
      double x = x0 + w * (double) (p->step - s_lo) / (double) MAX (s_hi - s_lo, 1);
      double y = y0 + h * (1 - (p->value - lo) / (hi - lo));
      cairo_arc (cr, x, y, 2.5, 0, 2 * G_PI);
      cairo_fill (cr);
    }
}

static void
draw (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer data)
{
  SmFinetunePlot *self = SM_FINETUNE_PLOT (area);
  const double left = 44, right = 44, top = 18, bottom = 18;
  double w = width - left - right, h = height - top - bottom;
  cairo_set_source_rgb (cr, 0.12, 0.12, 0.13);
  cairo_paint (cr);
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, 10);
  if (w < 20 || h < 20)
    return;
  cairo_set_source_rgb (cr, 0.35, 0.35, 0.38);
  cairo_set_line_width (cr, 1);
  cairo_rectangle (cr, left + 0.5, top + 0.5, w, h);
  cairo_stroke (cr);
  if (self->loss->len == 0 && self->metric->len == 0)
    {
      cairo_set_source_rgb (cr, 0.6, 0.6, 0.6);
      cairo_move_to (cr, left + 8, top + h / 2);
      cairo_show_text (cr, "loss and validation metric appear here");
      return;
    }
  gint64 s_lo = 0, s_hi = 1;
  if (self->loss->len)
    s_hi = MAX (s_hi, g_array_index (self->loss, Point, self->loss->len - 1).step);
  if (self->metric->len)
    s_hi = MAX (s_hi, g_array_index (self->metric, Point, self->metric->len - 1).step);
  char text[64];
  double lo, hi;
  if (self->loss->len)
    {
      range_of (self->loss, FALSE, &lo, &hi);
      cairo_set_line_width (cr, 1);
      cairo_set_source_rgba (cr, 0.35, 0.6, 0.95, 0.35);
      plot_line (cr, self->loss, FALSE, left, w, top, h, s_lo, s_hi, lo, hi, FALSE);
      cairo_set_line_width (cr, 2);
      cairo_set_source_rgb (cr, 0.35, 0.6, 0.95);
      plot_line (cr, self->loss, TRUE, left, w, top, h, s_lo, s_hi, lo, hi, FALSE);
      g_snprintf (text, sizeof text, "%.3g", hi);
      cairo_move_to (cr, 4, top + 8);
      cairo_show_text (cr, text);
      g_snprintf (text, sizeof text, "%.3g", lo);
      cairo_move_to (cr, 4, top + h);
      cairo_show_text (cr, text);
      cairo_move_to (cr, left + 4, 12);
      cairo_show_text (cr, "loss");
    }
  if (self->metric->len)
    {
      range_of (self->metric, FALSE, &lo, &hi);
      cairo_set_line_width (cr, 2);
      cairo_set_source_rgb (cr, 0.98, 0.62, 0.2);
      plot_line (cr, self->metric, FALSE, left, w, top, h, s_lo, s_hi, lo, hi, TRUE);
      g_snprintf (text, sizeof text, "%.3g", hi);
      cairo_move_to (cr, left + w + 4, top + 8);
      cairo_show_text (cr, text);
      g_snprintf (text, sizeof text, "%.3g", lo);
      cairo_move_to (cr, left + w + 4, top + h);
      cairo_show_text (cr, text);
      const Point *last = &g_array_index (self->metric, Point, self->metric->len - 1);
      g_snprintf (text, sizeof text, "val %s %s %.4f", self->metric_name, self->lower_is_better ? "↓" : "↑",
                  last->value);
      cairo_move_to (cr, left + w / 2, 12);
      cairo_show_text (cr, text);
    }
  cairo_set_source_rgb (cr, 0.6, 0.6, 0.6);
  g_snprintf (text, sizeof text, "step %" G_GINT64_FORMAT, s_hi);
  cairo_move_to (cr, left + w - 60, top + h + 13);
  cairo_show_text (cr, text);
}

void
sm_finetune_plot_clear (SmFinetunePlot *self)
{
  g_array_set_size (self->loss, 0);
  g_array_set_size (self->metric, 0);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
sm_finetune_plot_add_loss (SmFinetunePlot *self, gint64 step, double loss)
{
  Point p = { step, loss, loss };
  if (self->loss->len)
    {
      const Point *prev = &g_array_index (self->loss, Point, self->loss->len - 1);
      p.smoothed = SMOOTHING * prev->smoothed + (1 - SMOOTHING) * loss;
    }
  g_array_append_val (self->loss, p);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
sm_finetune_plot_add_metric (SmFinetunePlot *self, gint64 step, double value, const char *name,
                             gboolean lower_is_better)
{
  Point p = { step, value, value };
  g_array_append_val (self->metric, p);
  g_strlcpy (self->metric_name, name ? name : "metric", sizeof self->metric_name);
  self->lower_is_better = lower_is_better;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint sm_finetune_plot_get_n_loss (SmFinetunePlot *self) { return self->loss->len; }
guint sm_finetune_plot_get_n_metric (SmFinetunePlot *self) { return self->metric->len; }

static void
sm_finetune_plot_finalize (GObject *object)
{
  SmFinetunePlot *self = SM_FINETUNE_PLOT (object);
  g_array_unref (self->loss);
  g_array_unref (self->metric);
  G_OBJECT_CLASS (sm_finetune_plot_parent_class)->finalize (object);
}

static void
sm_finetune_plot_class_init (SmFinetunePlotClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = sm_finetune_plot_finalize;
}

static void
sm_finetune_plot_init (SmFinetunePlot *self)
{
  self->loss = g_array_new (FALSE, FALSE, sizeof (Point));
  self->metric = g_array_new (FALSE, FALSE, sizeof (Point));
  gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (self), 150);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (self), draw, NULL, NULL);
}

GtkWidget *
sm_finetune_plot_new (void)
{
  return g_object_new (SM_TYPE_FINETUNE_PLOT, NULL);
}
