/* Proofread side panel (see sm-proofread-panel.h). */
#include "sm-proofread-panel.h"


#include "sm-proofread-segments.h"

struct _SmProofreadPanel {
  GtkWidget parent_instance;
  GtkWidget *box;
  GtkLabel *brush_label, *status_label, *count_label;
  GtkSpinner *busy_spinner;
  GtkSearchEntry *search_entry;
  GtkListView *segment_list;
  GtkFilter *filter;
  GtkFilterListModel *filtered;
  guint keep_top_idle;
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
  gboolean busy = sm_proofread_controller_is_busy (self->controller);
  gtk_widget_set_visible (GTK_WIDGET (self->busy_spinner), busy);
  gtk_spinner_set_spinning (self->busy_spinner, busy);
}

/* --- the segment list: a GtkListView over the controller's incremental model --- */

static void
setup_row (GtkSignalListItemFactory *factory, GtkListItem *list_item, gpointer user_data)
{
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *swatch = gtk_label_new (NULL);
  GtkWidget *id_label = gtk_label_new (NULL);
  gtk_label_set_width_chars (GTK_LABEL (id_label), 7);
  gtk_label_set_xalign (GTK_LABEL (id_label), 1);
  GtkWidget *name = gtk_label_new (NULL);
  gtk_widget_set_hexpand (name, TRUE);
  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_END);
  GtkWidget *size_label = gtk_label_new (NULL);
  gtk_widget_add_css_class (size_label, "numeric");
  gtk_box_append (GTK_BOX (row), swatch);
  gtk_box_append (GTK_BOX (row), id_label);
  gtk_box_append (GTK_BOX (row), name);
  gtk_box_append (GTK_BOX (row), size_label);
  gtk_list_item_set_child (list_item, row);
}

static void
bind_row (GtkSignalListItemFactory *factory, GtkListItem *list_item, gpointer user_data)
{
  SmSegmentItem *item = gtk_list_item_get_item (list_item);
  GtkWidget *swatch = gtk_widget_get_first_child (gtk_list_item_get_child (list_item));
  GtkWidget *id_label = gtk_widget_get_next_sibling (swatch);
  GtkWidget *name = gtk_widget_get_next_sibling (id_label);
  GtkWidget *size_label = gtk_widget_get_next_sibling (name);
  guint32 flags = sm_segment_item_get_flags (item);
  /* The colour the views draw the segment in (chosen, or the shader's hash). */
  g_autofree char *markup = g_strdup_printf ("<span foreground=\"#%06X\">■</span>", sm_segment_item_get_color (item));
  gtk_label_set_markup (GTK_LABEL (swatch), markup);
  g_autofree char *id = g_strdup_printf ("%u", sm_segment_item_get_id (item));
  gtk_label_set_text (GTK_LABEL (id_label), id);
  const char *n = sm_segment_item_get_name (item);
  g_autofree char *text = g_strdup_printf ("%s%s%s", n ? n : "", (flags & SM_SEGMENT_LOCKED) ? " [locked]" : "",
                                           (flags & SM_SEGMENT_HIDDEN) ? " (hidden)" : "");
  gtk_label_set_text (GTK_LABEL (name), text);
  g_autofree char *size = g_strdup_printf ("%" G_GUINT64_FORMAT, sm_segment_item_get_voxels (item));
  gtk_label_set_text (GTK_LABEL (size_label), size);
}

static void
update_count (SmProofreadPanel *self)
{
  GListModel *all = gtk_filter_list_model_get_model (self->filtered);
  guint total = all ? g_list_model_get_n_items (all) : 0;
  guint shown = g_list_model_get_n_items (G_LIST_MODEL (self->filtered));
  g_autofree char *count = total == 0 ? g_strdup ("")
                           : shown < total ? g_strdup_printf ("%u of %u segments (search by id or name)", shown, total)
                                           : g_strdup_printf ("%u segments, largest first", total);
  gtk_label_set_text (self->count_label, count);
}

/* A list scrolled to the top stays there when rows come in above the first
 * one (a segment grew past it): the list view would keep the old first row
 * in sight otherwise, hiding the new largest segment. */
static gboolean
keep_top (gpointer user_data)
{
  SmProofreadPanel *self = user_data;
  self->keep_top_idle = 0;
  GtkAdjustment *v = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (self->segment_list));
  if (v)
    gtk_adjustment_set_value (v, 0);
  return G_SOURCE_REMOVE;
}

static void
before_rows_change (SmProofreadPanel *self)
{
  GtkAdjustment *v = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (self->segment_list));
  if (v && gtk_adjustment_get_value (v) < 1 && !self->keep_top_idle)
    self->keep_top_idle = g_idle_add (keep_top, self);
}

static void
on_search_changed (SmProofreadPanel *self)
{
  sm_proofread_segments_filter_set_query (self->filter, gtk_editable_get_text (GTK_EDITABLE (self->search_entry)));
}

static void
on_row_activated (GtkListView *list, guint position, SmProofreadPanel *self)
{
  g_autoptr (SmSegmentItem) item = g_list_model_get_item (G_LIST_MODEL (self->filtered), position);
  if (item)
    gtk_widget_activate_action (GTK_WIDGET (self), "proof.jump-to", "u", sm_segment_item_get_id (item));
}

void
sm_proofread_panel_set_controller (SmProofreadPanel *self, SmProofreadController *controller)
{
  g_return_if_fail (self->controller == NULL);
  self->controller = g_object_ref (controller);
  /* Connected before the filter model's own handler: runs first. */
  g_signal_connect_object (sm_proofread_controller_get_segments (controller), "items-changed",
                           G_CALLBACK (before_rows_change), self, G_CONNECT_SWAPPED);
  gtk_filter_list_model_set_model (self->filtered, G_LIST_MODEL (sm_proofread_controller_get_segments (controller)));
  g_signal_connect_object (controller, "segments-changed", G_CALLBACK (update_status), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (controller, "status-changed", G_CALLBACK (update_status), self, G_CONNECT_SWAPPED);
  update_count (self);
  update_status (self);
}

static void
sm_proofread_panel_dispose (GObject *object)
{
  SmProofreadPanel *self = SM_PROOFREAD_PANEL (object);
  gtk_widget_dispose_template (GTK_WIDGET (self), SM_TYPE_PROOFREAD_PANEL);
  g_clear_object (&self->controller);
  g_clear_object (&self->filter);
  g_clear_handle_id (&self->keep_top_idle, g_source_remove);
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
  gtk_widget_class_bind_template_child (widget_class, SmProofreadPanel, busy_spinner);
  gtk_widget_class_bind_template_callback (widget_class, on_search_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_row_activated);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
sm_proofread_panel_init (SmProofreadPanel *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->filter = sm_proofread_segments_filter_new ();
  /* Rows come and go edit by edit: the filter follows items-changed incrementally. */
  self->filtered = gtk_filter_list_model_new (NULL, g_object_ref (self->filter));
  g_signal_connect_swapped (self->filtered, "items-changed", G_CALLBACK (update_count), self);
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (setup_row), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row), NULL);
  gtk_list_view_set_factory (self->segment_list, factory);
  g_object_unref (factory);
  gtk_list_view_set_model (self->segment_list,
                           GTK_SELECTION_MODEL (gtk_no_selection_new (G_LIST_MODEL (self->filtered))));
}
