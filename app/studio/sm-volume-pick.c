/* Picking in the 3D view (see sm-volume-pick.h). */
#include "sm-volume-pick.h"

#include <math.h>
#include <string.h>

static void
unproject (const float m[16], double x, double y, double z, double out[3])
{
  double v[4];
  for (int r = 0; r < 4; r++) v[r] = m[0 * 4 + r] * x + m[1 * 4 + r] * y + m[2 * 4 + r] * z + m[3 * 4 + r];
  for (int a = 0; a < 3; a++) out[a] = v[a] / v[3];
}

static guint32
label_at (const SmVolume *v, gsize i)
{
  switch (v->dtype) {
  case SM_U8: case SM_I8: return ((const guint8 *) v->data)[i];
  case SM_U16: case SM_I16: return ((const guint16 *) v->data)[i];
  default: return ((const guint32 *) v->data)[i];
  }
}

static double
smoothstep (double e0, double e1, double x)
{
  const double t = CLAMP ((x - e0) / MAX (e1 - e0, 1e-9), 0.0, 1.0);
  return t * t * (3 - 2 * t);
}

gboolean
sm_volume_pick (const SmPickScene *s, const float inv_mvp[16], double ndc_x, double ndc_y, double voxel_zyx[3])
{
  const SmVolume *shape = s->volume ? s->volume : s->labels;
  if (!shape || !shape->data) return FALSE;
  const gboolean use_labels = s->labels && s->labels->data && s->n_ids > 0 && s->labels->nz == shape->nz &&
                              s->labels->ny == shape->ny && s->labels->nx == shape->nx;
  double ro[3], far[3], rd[3];
  unproject (inv_mvp, ndc_x, ndc_y, -1, ro);
  unproject (inv_mvp, ndc_x, ndc_y, 1, far);
  double len = 0;
  for (int a = 0; a < 3; a++) {
    rd[a] = far[a] - ro[a];
    len += rd[a] * rd[a];
  }
  len = sqrt (len);
  if (!(len > 0)) return FALSE;
  for (int a = 0; a < 3; a++) rd[a] /= len;

  /* Ray / box slabs, as the shader does. */
  const double *h = s->half_extent;
  double t_enter = 0, t_exit = G_MAXDOUBLE;
  for (int a = 0; a < 3; a++) {
    if (fabs (rd[a]) < 1e-12) {
      if (fabs (ro[a]) > h[a]) return FALSE;
      continue;
    }
    double t0 = (-h[a] - ro[a]) / rd[a], t1 = (h[a] - ro[a]) / rd[a];
    if (t0 > t1) { const double tmp = t0; t0 = t1; t1 = tmp; }
    t_enter = MAX (t_enter, t0);
    t_exit = MIN (t_exit, t1);
  }
  if (!(t_exit > t_enter)) return FALSE;

  const gint64 n[3] = { shape->nx, shape->ny, shape->nz };
  double step = G_MAXDOUBLE;
  for (int a = 0; a < 3; a++) step = MIN (step, 2 * h[a] / MAX (n[a], 1));
  step *= 0.5;

  const double range = s->hi > s->lo ? s->hi - s->lo : 1.0;
  const double gamma = s->gamma > 0 ? s->gamma : 1.0;
  double acc = 0, best = -1;
  gint64 best_voxel[3] = { 0, 0, 0 };
  for (double t = t_enter + 0.5 * step; t < t_exit; t += step) {
    gint64 idx[3];
    for (int a = 0; a < 3; a++) {
      const double p = ro[a] + rd[a] * t;
      idx[a] = CLAMP ((gint64) floor ((p / (2 * h[a]) + 0.5) * n[a]), 0, n[a] - 1);
    }
    const gsize i = ((gsize) idx[2] * shape->ny + idx[1]) * shape->nx + idx[0];
    if (use_labels) {
      const guint32 id = label_at (s->labels, i);
      for (gsize k = 0; k < s->n_ids; k++)
        if (s->ids[k] == id) {
          voxel_zyx[0] = idx[2]; voxel_zyx[1] = idx[1]; voxel_zyx[2] = idx[0];
          return TRUE;
        }
    }
    if (!s->volume || !s->volume->data) continue;
    double v = CLAMP ((sm_volume_value (s->volume, i) - s->lo) / range, 0.0, 1.0);
    if (gamma != 1.0) v = pow (v, gamma);
    if (s->invert) v = 1 - v;
    if (s->mip) {
      if (v > best) {
        best = v;
        memcpy (best_voxel, idx, sizeof idx);
      }
    } else {
      double alpha = CLAMP (s->opacity * smoothstep (s->ramp_low, s->ramp_high, v), 0.0, 0.999);
      alpha = 1 - pow (1 - alpha, step / MAX (s->opacity_length, 1e-12)); /* opacity is per texel */
      acc += (1 - acc) * alpha;
      if (acc >= 0.5) {
        voxel_zyx[0] = idx[2]; voxel_zyx[1] = idx[1]; voxel_zyx[2] = idx[0];
        return TRUE;
      }
    }
  }
  if (s->mip && best > 0) {
    voxel_zyx[0] = best_voxel[2]; voxel_zyx[1] = best_voxel[1]; voxel_zyx[2] = best_voxel[0];
    return TRUE;
  }
  return FALSE;
}
