/* SmViewPanel: contrast and layer controls (see sm-view-panel.h). */
#include "sm-view-panel.h"

struct _SmViewPanel {
  GtkWidget parent_instance;
  SmViewState *state;
  gboolean updating; /* state -> widgets, so the widgets' handlers stay quiet */

  GtkWidget *box;
  GtkScale *lo_scale, *hi_scale;
  GtkAdjustment *lo_adjustment, *hi_adjustment, *gamma_adjustment;
  GtkCheckButton *invert_check, *linear_check;
  GtkButton *auto_button;
  GtkListBox *layer_list;
  GtkSpinButton *voxel_z, *voxel_y, *voxel_x;
  GtkLabel *voxel_unit;
};

G_DEFINE_FINAL_TYPE (SmViewPanel, sm_view_panel, GTK_TYPE_WIDGET)

static void
contrast_to_widgets (SmViewPanel *self)
{
  SmLayer *image = sm_view_state_get_image (self->state);
  double lo, hi, gamma, min = 0, max = 255;
  gboolean invert;
  sm_view_state_get_contrast (self->state, &lo, &hi, &gamma, &invert);
  if (image)
    sm_layer_get_stats (image, &min, &max, NULL, NULL);
  if (max <= min)
    max = min + 1;
  double step = (max - min) > 1000 || (max - min) < 10 ? (max - min) / 200 : 1;
  int digits = step < 1 ? 3 : 0;
  self->updating = TRUE;
  gtk_adjustment_configure (self->lo_adjustment, CLAMP (lo, min, max), min, max, step, step * 10, 0);
  gtk_adjustment_configure (self->hi_adjustment, CLAMP (hi, min, max), min, max, step, step * 10, 0);
  gtk_adjustment_set_value (self->gamma_adjustment, gamma);
  gtk_check_button_set_active (self->invert_check, invert);
  gtk_check_button_set_active (self->linear_check, sm_view_state_get_linear (self->state));
  self->updating = FALSE;
  gtk_scale_set_digits (self->lo_scale, digits);
  gtk_scale_set_digits (self->hi_scale, digits);
}

static void
voxel_size_to_widgets (SmViewPanel *self)
{
  SmLayer *image = sm_view_state_get_image (self->state);
  if (!image)
    return;
  const SmVolume *v = sm_layer_get_volume (image);
  self->updating = TRUE;
  gtk_spin_button_set_value (self->voxel_z, v->voxel_size[0]);
  gtk_spin_button_set_value (self->voxel_y, v->voxel_size[1]);
  gtk_spin_button_set_value (self->voxel_x, v->voxel_size[2]);
  gtk_label_set_text (self->voxel_unit, v->unit[0] ? v->unit : "");
  self->updating = FALSE;
}

static void
on_voxel_changed (SmViewPanel *self)
{
  if (self->updating || !self->state)
    return;
  sm_view_state_set_voxel_size (self->state, gtk_spin_button_get_value (self->voxel_z),
                                gtk_spin_button_get_value (self->voxel_y),
                                gtk_spin_button_get_value (self->voxel_x));
}

static void
on_geometry_notify (SmViewState *state, GParamSpec *pspec, SmViewPanel *self)
{
  voxel_size_to_widgets (self);
}

static void
widgets_to_contrast (SmViewPanel *self)
{
  if (self->updating || !self->state)
    return;
  sm_view_state_set_contrast (self->state, gtk_adjustment_get_value (self->lo_adjustment),
                              gtk_adjustment_get_value (self->hi_adjustment),
                              gtk_adjustment_get_value (self->gamma_adjustment),
                              gtk_check_button_get_active (self->invert_check));
}

static void
on_auto_clicked (GtkButton *button, SmViewPanel *self)
{
  if (self->state)
    sm_view_state_auto_contrast (self->state);
}

static void
on_linear_toggled (GtkCheckButton *check, SmViewPanel *self)
{
  if (!self->updating && self->state)
    sm_view_state_set_linear (self->state, gtk_check_button_get_active (check));
}

static void
on_contrast_notify (SmViewState *state, GParamSpec *pspec, SmViewPanel *self)
{
  contrast_to_widgets (self);
}

/* --- layer rows ------------------------------------------------------------ */

static void
move_layer (GtkButton *button, SmViewPanel *self, int delta)
{
  SmLayer *layer = g_object_get_data (G_OBJECT (button), "layer");
  sm_view_state_move_layer (self->state, layer, delta);
}

static void on_up_clicked (GtkButton *b, SmViewPanel *self) { move_layer (b, self, -1); }
static void on_down_clicked (GtkButton *b, SmViewPanel *self) { move_layer (b, self, 1); }

static void
on_remove_clicked (GtkButton *button, SmViewPanel *self)
{
  SmLayer *layer = g_object_get_data (G_OBJECT (button), "layer");
  sm_view_state_remove_layer (self->state, layer);
}

static GtkWidget *
icon_button (const char *icon, const char *tooltip, SmLayer *layer, GCallback callback,
             SmViewPanel *self)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon);
  gtk_widget_set_tooltip_text (button, tooltip);
  gtk_widget_add_css_class (button, "flat");
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  g_object_set_data_full (G_OBJECT (button), "layer", g_object_ref (layer), g_object_unref);
  g_signal_connect (button, "clicked", callback, self);
  return button;
}

static GtkWidget *
create_layer_row (gpointer item, gpointer user_data)
{
  SmViewPanel *self = user_data;
  SmLayer *layer = SM_LAYER (item);
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  gtk_widget_add_css_class (row, "layer-row");
  gtk_widget_set_margin_start (row, 6);
  gtk_widget_set_margin_end (row, 6);

  GtkWidget *top = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
  const char *kind = sm_layer_get_kind (layer) == SM_LAYER_LABELS ? "labels" : "map";
  g_autofree char *text = g_strdup_printf ("%s (%s)", sm_layer_get_name (layer), kind);
  GtkWidget *visible = gtk_check_button_new_with_label (text);
  gtk_widget_set_hexpand (visible, TRUE);
  gtk_widget_set_tooltip_text (visible, "Show or hide");
  g_object_bind_property (layer, "visible", visible, "active",
                          G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  gtk_box_append (GTK_BOX (top), visible);
  gtk_box_append (GTK_BOX (top), icon_button ("go-up-symbolic", "Move up (drawn earlier)", layer,
                                              G_CALLBACK (on_up_clicked), self));
  gtk_box_append (GTK_BOX (top), icon_button ("go-down-symbolic", "Move down (drawn later)", layer,
                                              G_CALLBACK (on_down_clicked), self));
  gtk_box_append (GTK_BOX (top), icon_button ("list-remove-symbolic", "Remove the layer", layer,
                                              G_CALLBACK (on_remove_clicked), self));
  gtk_box_append (GTK_BOX (row), top);

  GtkWidget *bottom = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_box_append (GTK_BOX (bottom), gtk_label_new ("Opacity"));
  GtkWidget *opacity = gtk_scale_new_with_range (GTK_ORIENTATION_HORIZONTAL, 0, 1, 0.05);
  gtk_widget_set_hexpand (opacity, TRUE);
  g_object_bind_property (layer, "opacity", gtk_range_get_adjustment (GTK_RANGE (opacity)), "value",
                          G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  gtk_box_append (GTK_BOX (bottom), opacity);
  if (sm_layer_get_kind (layer) == SM_LAYER_LABELS)
    {
      GtkWidget *outline = gtk_check_button_new_with_label ("Outline");
      g_object_bind_property (layer, "outline", outline, "active",
                              G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
      gtk_box_append (GTK_BOX (bottom), outline);
    }
  if (sm_layer_get_kind (layer) == SM_LAYER_MAP)
    {
      const char *names[] = { "magma", "viridis", NULL };
      GtkWidget *colormap = gtk_drop_down_new_from_strings (names);
      gtk_widget_set_tooltip_text (colormap, "Colour map");
      g_object_bind_property (layer, "colormap", colormap, "selected",
                              G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
      gtk_box_append (GTK_BOX (bottom), colormap);
    }
  gtk_box_append (GTK_BOX (row), bottom);
  return row;
}

void
sm_view_panel_set_state (SmViewPanel *self, SmViewState *state)
{
  if (self->state)
    g_signal_handlers_disconnect_by_data (self->state, self);
  g_set_object (&self->state, state);
  gtk_list_box_bind_model (self->layer_list, state ? sm_view_state_get_layers (state) : NULL,
                           create_layer_row, self, NULL);
  if (!state)
    return;
  g_signal_connect (state, "notify::contrast", G_CALLBACK (on_contrast_notify), self);
  g_signal_connect (state, "notify::image", G_CALLBACK (on_contrast_notify), self);
  g_signal_connect (state, "notify::linear", G_CALLBACK (on_contrast_notify), self);
  g_signal_connect (state, "notify::image", G_CALLBACK (on_geometry_notify), self);
  g_signal_connect (state, "notify::geometry", G_CALLBACK (on_geometry_notify), self);
  contrast_to_widgets (self);
  voxel_size_to_widgets (self);
}

static void
sm_view_panel_dispose (GObject *object)
{
  SmViewPanel *self = SM_VIEW_PANEL (object);
  if (self->state)
    {
      g_signal_handlers_disconnect_by_data (self->state, self);
      gtk_list_box_bind_model (self->layer_list, NULL, NULL, NULL, NULL);
    }
  g_clear_object (&self->state);
  gtk_widget_dispose_template (GTK_WIDGET (self), SM_TYPE_VIEW_PANEL);
  G_OBJECT_CLASS (sm_view_panel_parent_class)->dispose (object);
}

static void
sm_view_panel_class_init (SmViewPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = sm_view_panel_dispose;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/semmae/Studio/ui/sm-view-panel.ui");
  gtk_widget_class_bind_template_child (widget_class, SmViewPanel, box);
  gtk_widget_class_bind_template_child (widget_class, SmViewPanel, lo_scale);
  gtk_widget_class_bind_template_child (widget_class, SmViewPanel, hi_scale);
  gtk_widget_class_bind_template_child (widget_class, SmViewPanel, lo_adjustment);
  gtk_widget_class_bind_template_child (widget_class, SmViewPanel, hi_adjustment);
  gtk_widget_class_bind_template_child (widget_class, SmViewPanel, gamma_adjustment);
  gtk_widget_class_bind_template_child (widget_class, SmViewPanel, invert_check);
  gtk_widget_class_bind_template_child (widget_class, SmViewPanel, linear_check);
  gtk_widget_class_bind_template_child (widget_class, SmViewPanel, auto_button);
  gtk_widget_class_bind_template_child (widget_class, SmViewPanel, layer_list);
  gtk_widget_class_bind_template_child (widget_class, SmViewPanel, voxel_z);
  gtk_widget_class_bind_template_child (widget_class, SmViewPanel, voxel_y);
  gtk_widget_class_bind_template_child (widget_class, SmViewPanel, voxel_x);
  gtk_widget_class_bind_template_child (widget_class, SmViewPanel, voxel_unit);
}

static void
sm_view_panel_init (SmViewPanel *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect_swapped (self->lo_adjustment, "value-changed", G_CALLBACK (widgets_to_contrast), self);
  g_signal_connect_swapped (self->hi_adjustment, "value-changed", G_CALLBACK (widgets_to_contrast), self);
  g_signal_connect_swapped (self->gamma_adjustment, "value-changed", G_CALLBACK (widgets_to_contrast), self);
  g_signal_connect_swapped (self->invert_check, "toggled", G_CALLBACK (widgets_to_contrast), self);
  g_signal_connect (self->linear_check, "toggled", G_CALLBACK (on_linear_toggled), self);
  g_signal_connect (self->auto_button, "clicked", G_CALLBACK (on_auto_clicked), self);
  g_signal_connect_swapped (self->voxel_z, "value-changed", G_CALLBACK (on_voxel_changed), self);
  g_signal_connect_swapped (self->voxel_y, "value-changed", G_CALLBACK (on_voxel_changed), self);
  g_signal_connect_swapped (self->voxel_x, "value-changed", G_CALLBACK (on_voxel_changed), self);
}
