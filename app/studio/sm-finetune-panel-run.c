/* SmFinetunePanel: what the fine-tuning run reports (see
 * sm-finetune-panel-private.h): the engine's signals become the status and
 * result lines, the plot, and the prediction, probability and segmentation
 * layers. Main thread only. */
#include "sm-finetune-panel-private.h"

#include <glib/gstdio.h>

#include "sm-finetune-layers.h"

/* Segmentations go to the user's cache (one file per image, task and step), so that the label
 * layer has a file: proofreading journals edits to it and Ctrl+S saves them there. */
void
sm_finetune_panel_segment (SmFinetunePanel *self)
{
  SmLayer *image = self->state ? sm_view_state_get_image (self->state) : NULL;
  g_autofree char *path = sm_finetune_segmentation_path (image, self->run_task, self->last_step);
  sm_finetune_thread_segment (self->engine, path);
  self->segmenting = TRUE;
  sm_finetune_panel_update_buttons (self);
}

static void
on_state (SmFinetuneThread *engine, int state, SmFinetunePanel *self)
{
  self->run_state = state;
  if (state == SM_TRAIN_STATE_IDLE)
    self->have_run = FALSE;
  /* Tests driving real input follow the run on stdout. */
  if (g_getenv ("SEMMAE_FINETUNE_TRACE"))
    {
      g_print ("finetune state %s\n", sm_train_state_name (state));
      fflush (stdout);
    }
  /* The run has begun (or failed): the thread has read the pre-trained model's temp copy. */
  if (self->temp_init)
    {
      g_unlink (self->temp_init);
      g_clear_pointer (&self->temp_init, g_free);
    }
  sm_finetune_panel_update_buttons (self);
  if (state == SM_TRAIN_STATE_FINISHED && self->autostart_segment && !self->autostart_segment_sent)
    {
      self->autostart_segment_sent = TRUE;
      sm_finetune_panel_segment (self);
      gtk_widget_set_visible (GTK_WIDGET (self->segment_progress), TRUE);
    }
}

static void
on_progress (SmFinetuneThread *engine, const SmFinetuneProgress *p, SmFinetunePanel *self)
{
  self->last_step = p->step;
  self->total_steps = p->total_steps;
  self->last_loss = p->loss;
  self->steps_per_second = p->steps_per_second;
  self->step_ms = p->step_ms;
  self->init_tensors = p->init_tensors;
  sm_finetune_plot_add_loss (self->plot, p->step, p->loss);
  double eta = p->steps_per_second > 0 ? (p->total_steps - p->step) / p->steps_per_second : 0;
  g_autofree char *text = g_strdup_printf ("step %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT " · loss %.4f · "
                                           "%.2f steps/s (%.0f ms/step) · lr %.2g · ETA %.0f s",
                                           p->step, p->total_steps, p->loss, p->steps_per_second, p->step_ms,
                                           p->lr, eta);
  gtk_label_set_text (self->status_label, text);
  g_free (self->progress_text);
  self->progress_text = g_strdup (text);
  g_autofree char *line = g_strdup_printf ("fine-tuning: step %" G_GINT64_FORMAT " · loss %.4f · %.2f steps/s",
                                           p->step, p->loss, p->steps_per_second);
  sm_finetune_panel_set_summary (self, line);
}

static void
on_validation (SmFinetuneThread *engine, const SmFinetuneValidation *v, SmFinetunePanel *self)
{
  self->val_step = v->step;
  self->val_metric = v->primary;
  g_strlcpy (self->val_name, v->primary_name, sizeof self->val_name);
  sm_finetune_plot_add_metric (self->plot, v->step, v->primary, v->primary_name, v->lower_is_better);
  if (self->progress_text)
    gtk_label_set_text (self->status_label, self->progress_text);
  g_autofree char *text = g_strdup_printf ("validation at step %" G_GINT64_FORMAT ": loss %.4f · %s %.4f · "
                                           "%s %.4f (%.1f s)", v->step, v->loss, v->primary_name, v->primary,
                                           v->second_name, v->second, v->seconds);
  gtk_label_set_text (self->result_label, text);
}

static void
on_overlay (SmFinetuneThread *engine, SmFinetuneOverlay *o, SmFinetunePanel *self)
{
  if (self->stale)
    return;
  SmLayer *image = self->state ? sm_view_state_get_image (self->state) : NULL;
  if (!image || !sm_finetune_same_shape (image, sm_layer_get_volume (image)->nz, o->ny, o->nx) ||
      o->z0 + o->depth > sm_layer_get_volume (image)->nz)
    return; /* of an image that has since been replaced */
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GError) error = NULL;
  SmLayer *layer = sm_finetune_slab_layer (image, o, &error);
  if (!layer)
    {
      sm_finetune_panel_fail_message (self, error->message);
      return;
    }
  sm_finetune_replace_layer (self->state, &self->overlay_layer, layer, 0.7);
  g_object_unref (layer);
  self->overlay_z0 = o->z0;
  self->overlay_depth = o->depth;
  self->overlay_step = o->step;
  self->overlay_compute_ms = o->compute_ms;
  self->overlay_repaint_ms = (g_get_monotonic_time () - t0) / 1e3;
  self->overlay_repaint_total_ms += self->overlay_repaint_ms;
  self->n_overlays++;
  g_autofree char *text = g_strdup_printf ("Prediction of slices %" G_GINT64_FORMAT "–%" G_GINT64_FORMAT
                                           " at step %" G_GINT64_FORMAT " (network %.0f ms, layer %.0f ms)",
                                           o->z0, o->z0 + o->depth - 1, o->step, o->compute_ms,
                                           self->overlay_repaint_ms);
  gtk_label_set_text (self->overlay_label, text);
}

static void
on_segment_progress (SmFinetuneThread *engine, double fraction, SmFinetunePanel *self)
{
  gtk_widget_set_visible (GTK_WIDGET (self->segment_progress), TRUE);
  gtk_progress_bar_set_fraction (self->segment_progress, fraction);
  g_autofree char *text = g_strdup_printf ("Segmenting the volume: %.0f %%", 100 * fraction);
  gtk_progress_bar_set_text (self->segment_progress, text);
}

static void
end_segmenting (SmFinetunePanel *self)
{
  self->segmenting = FALSE;
  gtk_widget_set_visible (GTK_WIDGET (self->segment_progress), FALSE);
  sm_finetune_panel_update_buttons (self);
}

static void
on_cancelled (SmFinetuneThread *engine, const char *what, SmFinetunePanel *self)
{
  end_segmenting (self);
  gtk_label_set_text (self->result_label, "Segmentation cancelled");
}

static void
on_segmented (SmFinetuneThread *engine, SmFinetuneSegmentation *r, SmFinetunePanel *self)
{
  end_segmenting (self);
  SmLayer *image = self->state ? sm_view_state_get_image (self->state) : NULL;
  if (self->stale || !sm_finetune_same_shape (image, r->labels.nz, r->labels.ny, r->labels.nx))
    return;
  g_autoptr (GError) error = NULL;
  const char *task = seg_task_name (self->run_task);
  g_autofree char *map_name = g_strdup_printf ("%s probability (step %" G_GINT64_FORMAT ")", task, r->step);
  SmVolume map = r->map;
  r->map.data = NULL; /* handed over to the layer */
  SmLayer *probability = sm_finetune_probability_layer (image, map_name, &map, &error);
  if (!probability)
    {
      sm_finetune_panel_fail_message (self, error->message);
      return;
    }
  sm_finetune_replace_layer (self->state, &self->probability_layer, probability, 0.5);
  g_object_unref (probability);
  /* The whole-volume map supersedes the slab's. */
  if (self->overlay_layer)
    sm_layer_set_visible (self->overlay_layer, FALSE);

  SmVolume labels = r->labels;
  r->labels.data = NULL; /* handed over to the layer */
  g_autofree char *name = g_strdup_printf ("%s segmentation (step %" G_GINT64_FORMAT ")", task, r->step);
  SmLayer *layer = sm_finetune_labels_layer (image, name, &labels, r->path, &error);
  if (!layer)
    {
      sm_finetune_panel_fail_message (self, error->message);
      return;
    }
  sm_finetune_hide_label_layers (self->state, self->segment_layer);
  sm_finetune_replace_layer (self->state, &self->segment_layer, layer, 0.45);
  sm_layer_set_visible (layer, TRUE);
  g_object_unref (layer);
  self->n_segments = r->n_segments;
  self->segmented = TRUE;
  /* Seeds need confident interiors (neurons: mean affinity > 0.9): early in a run there may be none. */
  const char *hint = r->n_segments == 0 ? " No segments yet: the prediction is not confident enough "
                                          "for seeds anywhere; train longer (or paint them in Proofread mode)."
                                        : "";
  g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT " segments in %.1f s: label layer “%s” "
                                           "(edit it in Proofread mode; Ctrl+S saves to %s) and the layer “%s”.%s",
                                           r->n_segments, r->seconds, name, r->path ? r->path : "nowhere: no file",
                                           map_name, hint);
  gtk_label_set_text (self->result_label, text);
}

static void
on_saved (SmFinetuneThread *engine, const char *path, SmFinetunePanel *self)
{
  g_autofree char *text = g_strdup_printf ("Fine-tuned model saved to %s", path);
  gtk_label_set_text (self->result_label, text);
}

static void
on_activity (SmFinetuneThread *engine, const char *what, SmFinetunePanel *self)
{
  g_autofree char *text = g_strdup_printf ("step %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT " · %s", self->last_step,
                                           self->total_steps, what);
  gtk_label_set_text (self->status_label, text);
}

static void
on_failed (SmFinetuneThread *engine, const char *message, SmFinetunePanel *self)
{
  end_segmenting (self);
  sm_finetune_panel_fail_message (self, message);
}

void
sm_finetune_panel_connect_run (SmFinetunePanel *self)
{
  g_signal_connect (self->engine, "state", G_CALLBACK (on_state), self);
  g_signal_connect (self->engine, "progress", G_CALLBACK (on_progress), self);
  g_signal_connect (self->engine, "validation", G_CALLBACK (on_validation), self);
  g_signal_connect (self->engine, "overlay", G_CALLBACK (on_overlay), self);
  g_signal_connect (self->engine, "segment-progress", G_CALLBACK (on_segment_progress), self);
  g_signal_connect (self->engine, "segmented", G_CALLBACK (on_segmented), self);
  g_signal_connect (self->engine, "saved", G_CALLBACK (on_saved), self);
  g_signal_connect (self->engine, "failed", G_CALLBACK (on_failed), self);
  g_signal_connect (self->engine, "activity", G_CALLBACK (on_activity), self);
  g_signal_connect (self->engine, "cancelled", G_CALLBACK (on_cancelled), self);
}

/* --- test hooks ------------------------------------------------------------------ */

gboolean
sm_finetune_panel_is_settled (SmFinetunePanel *self)
{
  if (!self->autostart_pending && !self->autostart_active)
    return TRUE;
  if (self->settled_failed)
    return TRUE;
  if (self->autostart_pending)
    return FALSE;
  gboolean want_val = gtk_adjustment_get_value (self->val_to_adjustment) >
                      gtk_adjustment_get_value (self->val_from_adjustment);
  return self->run_state == SM_TRAIN_STATE_FINISHED && self->overlay_step >= self->total_steps &&
         (!want_val || self->val_step >= self->total_steps) && (!self->autostart_segment || self->segmented);
}

void
sm_finetune_panel_print_summary (SmFinetunePanel *self)
{
  if (!self->have_run && !self->settled_failed)
    return;
  g_print ("finetune step %" G_GINT64_FORMAT " loss %.5f steps/s %.3f step-ms %.0f loss-points %u\n", self->last_step,
           self->last_loss, self->steps_per_second, self->step_ms, sm_finetune_plot_get_n_loss (self->plot));
  g_print ("finetune init-tensors %d\n", self->init_tensors);
  g_print ("finetune metric-points %u %s %.5f\n", sm_finetune_plot_get_n_metric (self->plot),
           self->val_name[0] ? self->val_name : "none", self->val_metric);
  g_print ("finetune overlays %u last-step %" G_GINT64_FORMAT " slab %" G_GINT64_FORMAT " %d network-ms %.0f "
           "layer-ms %.1f mean-layer-ms %.1f\n", self->n_overlays, self->overlay_step, self->overlay_z0,
           self->overlay_depth, self->overlay_compute_ms, self->overlay_repaint_ms,
           self->n_overlays ? self->overlay_repaint_total_ms / self->n_overlays : 0);
  if (self->segmented)
    g_print ("finetune segments %" G_GINT64_FORMAT " layer %s\n", self->n_segments,
             sm_layer_get_name (self->segment_layer));
}
