/* Proofread side panel (see sm-proofread-panel.h). */
#include "sm-proofread-panel.h"

#include <math.h>

#include "data/label_stats.h"

/* Rows shown at once: the list is for finding segments, search narrows it. */
#define MAX_ROWS 400

struct _SmProofreadPanel {
  GtkWidget parent_instance;
  GtkWidget *box;
  GtkLabel *brush_label, *status_label, *count_label;
  GtkSearchEntry *search_entry;
  GtkListBox *segment_list;
  SmProofreadController *controller;
};

G_DEFINE_FINAL_TYPE (SmProofreadPanel, sm_proofread_panel, GTK_TYPE_WIDGET)

static void
update_status (SmProofreadPanel *self)
{
  if (!self->controller)
    return;
  g_autofree char *brush = g_strdup_printf ("Brush radius %.1f px  ([ ])", sm_proofread_controller_get_brush_radius (self->controller));
  gtk_label_set_text (self->brush_label, brush);
  gsize n;
  const guint32 *sel = sm_proofread_controller_get_selection (self->controller, &n);
  GString *text = g_string_new (NULL);
  if (n)
    {
      g_string_append (text, "Selected:");
      for (gsize i = 0; i < n && i < 8; i++)
        g_string_append_printf (text, " %u", sel[i]);
      if (n > 8)
        g_string_append_printf (text, " … (%zu)", n);
      g_string_append_c (text, '\n');
    }
  g_autofree char *describe = sm_proofread_controller_describe (self->controller);
  g_string_append (text, describe);
  gtk_label_set_text (self->status_label, text->str);
  g_string_free (text, TRUE);
}

/* The colour the slice views draw the id in: the hash of
 * shaders/overlay_labels.frag, so that list and views agree. */
static guint32
view_colour (guint32 id)
{
  guint32 h = id * 2654435761u;
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  h ^= h >> 12;
  h *= 0x297a2d39u;
  h ^= h >> 15;
  double hue = (double) (h & 0xffffu) / 65535.0;
  double sat = 0.55 + 0.45 * (double) ((h >> 16) & 0xffu) / 255.0;
  double val = 0.8 + 0.2 * (double) (h >> 24) / 255.0;
  double offsets[3] = { 0, 4, 2 };
  guint32 rgb = 0;
  for (int k = 0; k < 3; k++)
    {
      double c = CLAMP (fabs (fmod (hue * 6.0 + offsets[k], 6.0) - 3.0) - 1.0, 0.0, 1.0);
      c = val * (1.0 + sat * (c - 1.0));
      rgb = (rgb << 8) | (guint32) lround (c * 255.0);
    }
  return rgb;
}

static GtkWidget *
segment_row (const SmSegment *seg)
{
  g_autofree char *size = g_strdup_printf ("%" G_GUINT64_FORMAT, seg->voxels);
  g_autofree char *id = g_strdup_printf ("%u", seg->id);
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *swatch = gtk_label_new ("■");
  g_autofree char *markup = g_strdup_printf ("<span foreground=\"#%06X\">■</span>", view_colour (seg->id));
  gtk_label_set_markup (GTK_LABEL (swatch), markup);
  GtkWidget *id_label = gtk_label_new (id);
  gtk_label_set_width_chars (GTK_LABEL (id_label), 7);
  gtk_label_set_xalign (GTK_LABEL (id_label), 1);
  g_autofree char *flags = g_strdup_printf ("%s%s%s", seg->name ? seg->name : "",
                                            (seg->flags & SM_SEGMENT_LOCKED) ? " [locked]" : "",
                                            (seg->flags & SM_SEGMENT_HIDDEN) ? " (hidden)" : "");
  GtkWidget *name = gtk_label_new (flags);
  gtk_widget_set_hexpand (name, TRUE);
  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_END);
  GtkWidget *size_label = gtk_label_new (size);
  gtk_widget_add_css_class (size_label, "numeric");
  gtk_box_append (GTK_BOX (row), swatch);
  gtk_box_append (GTK_BOX (row), id_label);
  gtk_box_append (GTK_BOX (row), name);
  gtk_box_append (GTK_BOX (row), size_label);
  GtkWidget *list_row = gtk_list_box_row_new ();
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (list_row), row);
  g_object_set_data (G_OBJECT (list_row), "segment", GUINT_TO_POINTER (seg->id));
  return list_row;
}

static void
rebuild_list (SmProofreadPanel *self)
{
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->segment_list))))
    gtk_list_box_remove (self->segment_list, child);
  SmLabelStore *store = self->controller ? sm_proofread_controller_get_store (self->controller) : NULL;
  if (!store)
    {
      gtk_label_set_text (self->count_label, "");
      return;
    }
  const char *query = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  size_t total, shown;
  const SmSegment **found;
  if (query && *query)
    {
      found = g_new (const SmSegment *, MAX_ROWS);
      total = sm_label_search (store, query, found, MAX_ROWS);
      shown = MIN (total, MAX_ROWS);
    }
  else
    {
      found = sm_label_sorted_segments (store, SM_ORDER_SIZE);
      total = sm_label_store_n_segments (store);
      shown = MIN (total, MAX_ROWS);
    }
  for (size_t i = 0; found && i < shown; i++)
    gtk_list_box_append (self->segment_list, segment_row (found[i]));
  if (query && *query)
    g_free (found);
  else
    free (found);
  g_autofree char *count = total > shown ? g_strdup_printf ("%zu segments (largest %zu shown; search by id or name)", total, shown)
                                         : g_strdup_printf ("%zu segments", total);
  gtk_label_set_text (self->count_label, count);
}

static void
on_row_activated (GtkListBox *list, GtkListBoxRow *row, SmProofreadPanel *self)
{
  guint32 id = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (row), "segment"));
  gtk_widget_activate_action (GTK_WIDGET (self), "proof.jump-to", "u", id);
}

void
sm_proofread_panel_set_controller (SmProofreadPanel *self, SmProofreadController *controller)
{
  g_return_if_fail (self->controller == NULL);
  self->controller = g_object_ref (controller);
  g_signal_connect_object (controller, "segments-changed", G_CALLBACK (rebuild_list), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (controller, "segments-changed", G_CALLBACK (update_status), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (controller, "status-changed", G_CALLBACK (update_status), self, G_CONNECT_SWAPPED);
  rebuild_list (self);
  update_status (self);
}

static void
sm_proofread_panel_dispose (GObject *object)
{
  SmProofreadPanel *self = SM_PROOFREAD_PANEL (object);
  gtk_widget_dispose_template (GTK_WIDGET (self), SM_TYPE_PROOFREAD_PANEL);
  g_clear_object (&self->controller);
  G_OBJECT_CLASS (sm_proofread_panel_parent_class)->dispose (object);
}

static void
sm_proofread_panel_class_init (SmProofreadPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = sm_proofread_panel_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/org/semmae/Studio/ui/sm-proofread-panel.ui");
  gtk_widget_class_bind_template_child (widget_class, SmProofreadPanel, box);
  gtk_widget_class_bind_template_child (widget_class, SmProofreadPanel, brush_label);
  gtk_widget_class_bind_template_child (widget_class, SmProofreadPanel, status_label);
  gtk_widget_class_bind_template_child (widget_class, SmProofreadPanel, count_label);
  gtk_widget_class_bind_template_child (widget_class, SmProofreadPanel, search_entry);
  gtk_widget_class_bind_template_child (widget_class, SmProofreadPanel, segment_list);
  gtk_widget_class_bind_template_callback (widget_class, rebuild_list);
  gtk_widget_class_bind_template_callback (widget_class, on_row_activated);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
sm_proofread_panel_init (SmProofreadPanel *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
