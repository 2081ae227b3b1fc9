/* SmLossPlot (see sm-loss-plot.h). */
#include "sm-loss-plot.h"

#include <math.h>

#include <glib/gstdio.h>
#include <unistd.h>

#define SMOOTHING 0.05 /* weight of a new point in the exponential average */

typedef struct {
  gint64 step;
  char *label;
} Marker;

struct _SmLossPlot {
  GtkDrawingArea parent_instance;
  GArray *points;   /* SmTrainPoint */
  GArray *smoothed; /* double, one per point */
  GArray *markers;  /* Marker */
  double ema;       /* exponential average, not yet corrected for its zero start */
  /* Visible step range; view_lo >= view_hi means "everything". */
  double view_lo, view_hi;
  double drag_lo, drag_hi;
};

G_DEFINE_FINAL_TYPE (SmLossPlot, sm_loss_plot, GTK_TYPE_DRAWING_AREA)

static void
marker_clear (gpointer data)
{
  g_free (((Marker *) data)->label);
}

void
sm_loss_plot_clear (SmLossPlot *self)
{
  g_array_set_size (self->points, 0);
  g_array_set_size (self->smoothed, 0);
  g_array_set_size (self->markers, 0);
  self->view_lo = self->view_hi = 0;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
sm_loss_plot_add_marker (SmLossPlot *self, gint64 step, const char *label)
{
  Marker m = { step, g_strdup (label) };
  g_array_append_val (self->markers, m);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
sm_loss_plot_add_points (SmLossPlot *self, const SmTrainPoint *points, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      const SmTrainPoint *p = &points[i];
      guint len = self->points->len;
      if (len == 0)
        self->ema = 0;
      /* Bias-corrected (as Adam's moments): the first points are not dragged towards 0. */
      self->ema = (1 - SMOOTHING) * self->ema + SMOOTHING * p->loss;
      double s = self->ema / (1 - pow (1 - SMOOTHING, len + 1));
      if (len > 0)
        {
          const SmTrainPoint *prev = &g_array_index (self->points, SmTrainPoint, len - 1);
          if (fabs (prev->mask_ratio - p->mask_ratio) > 1e-9)
            {
              g_autofree char *label = g_strdup_printf ("mask %.2f", p->mask_ratio);
              sm_loss_plot_add_marker (self, p->step, label);
            }
        }
      g_array_append_val (self->points, *p);
      g_array_append_val (self->smoothed, s);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint sm_loss_plot_get_n_points (SmLossPlot *self) { return self->points->len; }

double
sm_loss_plot_get_smoothed (SmLossPlot *self, guint index)
{
  return index < self->smoothed->len ? g_array_index (self->smoothed, double, index) : NAN;
}

static void
visible_range (SmLossPlot *self, double *lo, double *hi)
{
  guint n = self->points->len;
  double first = n ? g_array_index (self->points, SmTrainPoint, 0).step : 0;
  double last = n ? g_array_index (self->points, SmTrainPoint, n - 1).step : 1;
  if (last <= first)
    last = first + 1;
  if (self->view_hi > self->view_lo)
    {
      *lo = self->view_lo;
      *hi = self->view_hi;
    }
  else
    {
      *lo = first;
      *hi = last;
    }
}

static void
draw_plot (SmLossPlot *self, cairo_t *cr, int width, int height, gboolean opaque)
{
  const double left = 44, right = 8, top = 8, bottom = 20;
  double pw = width - left - right, ph = height - top - bottom;
  if (opaque)
    {
      cairo_set_source_rgb (cr, 1, 1, 1);
      cairo_paint (cr);
    }
  cairo_set_source_rgba (cr, 0.5, 0.5, 0.5, 0.12);
  cairo_rectangle (cr, left, top, pw, ph);
  cairo_fill (cr);
  cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, 9);
  guint n = self->points->len;
  if (n == 0 || pw < 10 || ph < 10)
    {
      cairo_set_source_rgba (cr, 0.5, 0.5, 0.5, 1);
      cairo_move_to (cr, left + 6, top + ph / 2);
      cairo_show_text (cr, "masked loss: no steps yet");
      return;
    }
  double lo, hi;
  visible_range (self, &lo, &hi);
  /* y range from the raw points in view. */
  double ymin = INFINITY, ymax = -INFINITY;
  for (guint i = 0; i < n; i++)
    {
      const SmTrainPoint *p = &g_array_index (self->points, SmTrainPoint, i);
      if (p->step < lo || p->step > hi || !isfinite (p->loss))
        continue;
      ymin = MIN (ymin, p->loss);
      ymax = MAX (ymax, p->loss);
    }
  if (!isfinite (ymin))
    ymin = 0, ymax = 1;
  if (ymax - ymin < 1e-6)
    ymax = ymin + 1e-3;
  double pad = 0.05 * (ymax - ymin);
  ymin -= pad;
  ymax += pad;
#define X(step) (left + ((step) - lo) / (hi - lo) * pw)
#define Y(v) (top + (1 - ((v) - ymin) / (ymax - ymin)) * ph)
  cairo_save (cr);
  cairo_rectangle (cr, left, top, pw, ph);
  cairo_clip (cr);
  /* Markers. */
  for (guint i = 0; i < self->markers->len; i++)
    {
      const Marker *m = &g_array_index (self->markers, Marker, i);
      if (m->step < lo || m->step > hi)
        continue;
      double x = round (X ((double) m->step)) + 0.5;
      cairo_set_source_rgba (cr, 0.85, 0.45, 0.1, 0.9);
      cairo_set_line_width (cr, 1);
      double dashes[] = { 3, 2 };
      cairo_set_dash (cr, dashes, 2, 0);
      cairo_move_to (cr, x, top);
      cairo_line_to (cr, x, top + ph);
      cairo_stroke (cr);
      cairo_set_dash (cr, NULL, 0, 0);
      cairo_move_to (cr, x + 2, top + 10 + 10 * (i % 3));
      cairo_show_text (cr, m->label);
    }
  /* Raw, then smoothed. */
  for (int pass = 0; pass < 2; pass++)
    {
      gboolean started = FALSE;
      for (guint i = 0; i < n; i++)
        {
          const SmTrainPoint *p = &g_array_index (self->points, SmTrainPoint, i);
          double v = pass ? g_array_index (self->smoothed, double, i) : p->loss;
          if (!isfinite (v))
            continue;
          double x = X ((double) p->step), y = Y (v);
          if (!started)
            cairo_move_to (cr, x, y);
          else
            cairo_line_to (cr, x, y);
          started = TRUE;
        }
      if (pass == 0)
        cairo_set_source_rgba (cr, 0.35, 0.55, 0.9, 0.45);
      else
        cairo_set_source_rgba (cr, 0.1, 0.3, 0.75, 1);
      cairo_set_line_width (cr, pass ? 2 : 1);
      cairo_stroke (cr);
    }
  cairo_restore (cr);
  /* Axes labels. */
  cairo_set_source_rgba (cr, 0.45, 0.45, 0.45, 1);
  char text[64];
  for (int k = 0; k <= 2; k++)
    {
      double v = ymin + (ymax - ymin) * k / 2;
      g_snprintf (text, sizeof text, "%.3g", v);
      cairo_move_to (cr, 2, Y (v) + 3);
      cairo_show_text (cr, text);
    }
  g_snprintf (text, sizeof text, "%.0f", lo);
  cairo_move_to (cr, left, height - 6);
  cairo_show_text (cr, text);
  g_snprintf (text, sizeof text, "step %.0f", hi);
  cairo_text_extents_t ext;
  cairo_text_extents (cr, text, &ext);
  cairo_move_to (cr, left + pw - ext.width, height - 6);
  cairo_show_text (cr, text);
#undef X
#undef Y
}

static void
draw (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer data)
{
  draw_plot (SM_LOSS_PLOT (area), cr, width, height, FALSE);
}

gboolean
sm_loss_plot_export_csv (SmLossPlot *self, const char *path, GError **error)
{
  GString *s = g_string_new ("step,loss,smoothed_loss,lr,mask_ratio,visible_tokens\n");
  for (guint i = 0; i < self->points->len; i++)
    {
      const SmTrainPoint *p = &g_array_index (self->points, SmTrainPoint, i);
      char loss[G_ASCII_DTOSTR_BUF_SIZE], sm[G_ASCII_DTOSTR_BUF_SIZE], lr[G_ASCII_DTOSTR_BUF_SIZE];
      g_string_append_printf (s, "%" G_GINT64_FORMAT ",%s,%s,%s,%.4f,%d\n", p->step,
                              g_ascii_formatd (loss, sizeof loss, "%.9g", p->loss),
                              g_ascii_formatd (sm, sizeof sm, "%.9g", g_array_index (self->smoothed, double, i)),
                              g_ascii_formatd (lr, sizeof lr, "%.6g", p->lr), p->mask_ratio, p->visible_tokens);
    }
  gboolean ok = g_file_set_contents (path, s->str, (gssize) s->len, error);
  g_string_free (s, TRUE);
  return ok;
}

gboolean
sm_loss_plot_export_png (SmLossPlot *self, const char *path, int width, int height, GError **error)
{
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width, height);
  cairo_t *cr = cairo_create (surface);
  draw_plot (self, cr, width, height, TRUE);
  cairo_destroy (cr);
  /* Through a temporary file and a rename, as every other output. */
  g_autofree char *tmp = g_strdup_printf ("%s.tmp-XXXXXX", path);
  int fd = g_mkstemp (tmp);
  cairo_status_t status = fd >= 0 ? cairo_surface_write_to_png (surface, tmp) : CAIRO_STATUS_WRITE_ERROR;
  if (fd >= 0)
    close (fd);
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS || g_rename (tmp, path) != 0)
    {
      g_unlink (tmp);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot write the plot", path);
      return FALSE;
    }
  return TRUE;
}

/* --- zoom and pan --------------------------------------------------------- */

static gboolean
on_scroll (GtkEventControllerScroll *controller, double dx, double dy, SmLossPlot *self)
{
  if (self->points->len < 2)
    return FALSE;
  double lo, hi, x = 0;
  visible_range (self, &lo, &hi);
  GdkEvent *event = gtk_event_controller_get_current_event (GTK_EVENT_CONTROLLER (controller));
  double px, py;
  if (event && gdk_event_get_position (event, &px, &py))
    x = px;
  double width = gtk_widget_get_width (GTK_WIDGET (self)) - 52;
  double t = width > 0 ? CLAMP ((x - 44) / width, 0, 1) : 0.5;
  double anchor = lo + t * (hi - lo);
  double factor = dy > 0 ? 1.25 : 0.8;
  double first = g_array_index (self->points, SmTrainPoint, 0).step;
  double last = g_array_index (self->points, SmTrainPoint, self->points->len - 1).step;
  double nlo = anchor - (anchor - lo) * factor, nhi = anchor + (hi - anchor) * factor;
  if (nhi - nlo < 4)
    return TRUE;
  if (nlo <= first && nhi >= last)
    self->view_lo = self->view_hi = 0; /* back to everything: follows new steps again */
  else
    {
      self->view_lo = MAX (nlo, first);
      self->view_hi = MIN (nhi, last);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
  return TRUE;
}

static void
on_drag_begin (GtkGestureDrag *gesture, double x, double y, SmLossPlot *self)
{
  visible_range (self, &self->drag_lo, &self->drag_hi);
}

static void
on_drag_update (GtkGestureDrag *gesture, double dx, double dy, SmLossPlot *self)
{
  if (self->points->len < 2)
    return;
  double width = MAX (gtk_widget_get_width (GTK_WIDGET (self)) - 52, 1);
  double shift = -dx / width * (self->drag_hi - self->drag_lo);
  self->view_lo = self->drag_lo + shift;
  self->view_hi = self->drag_hi + shift;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_pressed (GtkGestureClick *gesture, int n_press, double x, double y, SmLossPlot *self)
{
  if (n_press == 2)
    {
      self->view_lo = self->view_hi = 0;
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
}

/* --- GObject ---------------------------------------------------------------- */

static void
sm_loss_plot_finalize (GObject *object)
{
  SmLossPlot *self = SM_LOSS_PLOT (object);
  g_array_unref (self->points);
  g_array_unref (self->smoothed);
  g_array_unref (self->markers);
  G_OBJECT_CLASS (sm_loss_plot_parent_class)->finalize (object);
}

static void
sm_loss_plot_class_init (SmLossPlotClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = sm_loss_plot_finalize;
}

static void
sm_loss_plot_init (SmLossPlot *self)
{
  self->points = g_array_new (FALSE, FALSE, sizeof (SmTrainPoint));
  self->smoothed = g_array_new (FALSE, FALSE, sizeof (double));
  self->markers = g_array_new (FALSE, FALSE, sizeof (Marker));
  g_array_set_clear_func (self->markers, marker_clear);
  gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (self), 140);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (self), draw, NULL, NULL);
  GtkEventController *scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  g_signal_connect (scroll, "scroll", G_CALLBACK (on_scroll), self);
  gtk_widget_add_controller (GTK_WIDGET (self), scroll);
  GtkGesture *drag = gtk_gesture_drag_new ();
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));
  GtkGesture *click = gtk_gesture_click_new ();
  g_signal_connect (click, "pressed", G_CALLBACK (on_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self),
                               "Masked loss per step (thin) and smoothed (thick). Scroll to zoom, drag to pan, "
                               "double-click to see everything.");
}

GtkWidget *
sm_loss_plot_new (void)
{
  return g_object_new (SM_TYPE_LOSS_PLOT, NULL);
}
