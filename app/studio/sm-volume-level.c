/* Percentiles, subsampled levels and slice extraction (see sm-volume-level.h). */
#include "sm-volume-level.h"

#include <stdlib.h>
#include <string.h>

#define SAMPLE_MAX ((size_t) 1 << 20)

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

void
sm_volume_sample_percentiles (const SmVolume *v, double p_lo, double p_hi, double *lo,
                              double *hi)
{
  size_t n = sm_volume_voxels (v);
  *lo = 0;
  *hi = 1;
  if (n == 0 || !v->data)
    return;
  size_t step = n > SAMPLE_MAX ? (n + SAMPLE_MAX - 1) / SAMPLE_MAX : 1;
  size_t m = (n + step - 1) / step;

  if (v->dtype == SM_U8 || v->dtype == SM_I8 || v->dtype == SM_U16 || v->dtype == SM_I16)
    {
      /* Small integers: an exact histogram beats sorting. */
      guint32 *hist = g_new0 (guint32, 65536);
      double offset = (v->dtype == SM_I8 || v->dtype == SM_I16) ? 32768 : 0;
      for (size_t i = 0; i < n; i += step)
        hist[(int) (sm_volume_value (v, i) + offset)]++;
      size_t want_lo = (size_t) (p_lo * (double) (m - 1)), want_hi = (size_t) (p_hi * (double) (m - 1));
      size_t acc = 0;
      gboolean have_lo = FALSE;
      for (int b = 0; b < 65536; b++)
        {
          acc += hist[b];
          if (!have_lo && acc > want_lo)
            {
              *lo = b - offset;
              have_lo = TRUE;
            }
          if (acc > want_hi)
            {
              *hi = b - offset;
              break;
            }
        }
      g_free (hist);
      return;
    }

  double *sample = g_try_new (double, m);
  if (!sample)
    return;
  size_t k = 0;
  for (size_t i = 0; i < n && k < m; i += step)
    {
      double x = sm_volume_value (v, i);
      if (x == x) /* NaN says nothing about contrast */
        sample[k++] = x;
    }
  if (k > 0)
    {
      qsort (sample, k, sizeof *sample, compare_doubles);
      *lo = sample[(size_t) (p_lo * (double) (k - 1))];
      *hi = sample[(size_t) (p_hi * (double) (k - 1))];
    }
  g_free (sample);
}

gboolean
sm_volume_level_strides (const SmVolume *v, gint64 max_dim, gint64 budget_bytes,
                         int bytes_per_voxel, int stride[3])
{
  gint64 shape[3] = { v->nz, v->ny, v->nx };
  stride[0] = stride[1] = stride[2] = 1;
  for (;;)
    {
      gint64 dims[3];
      for (int i = 0; i < 3; i++)
        dims[i] = (shape[i] + stride[i] - 1) / stride[i];
      gboolean fits = dims[0] <= max_dim && dims[1] <= max_dim && dims[2] <= max_dim &&
                      dims[0] * dims[1] * dims[2] * bytes_per_voxel <= budget_bytes;
      if (fits)
        break;
      /* Halve the largest dimension first, so voxels stay as cubic as they were. */
      int widest = 0;
      for (int i = 1; i < 3; i++)
        if (dims[i] > dims[widest])
          widest = i;
      if (dims[widest] <= 1)
        break;
      stride[widest] *= 2;
    }
  return stride[0] > 1 || stride[1] > 1 || stride[2] > 1;
}

int
sm_volume_subsample (const SmVolume *v, const int stride[3], SmVolume *out, SmError *err)
{
  gint64 nz = (v->nz + stride[0] - 1) / stride[0];
  gint64 ny = (v->ny + stride[1] - 1) / stride[1];
  gint64 nx = (v->nx + stride[2] - 1) / stride[2];
  if (sm_volume_alloc (out, v->dtype, nz, ny, nx, err) != 0)
    return -1;
  for (int i = 0; i < 3; i++)
    out->voxel_size[i] = v->voxel_size[i] * stride[i];
  memcpy (out->unit, v->unit, sizeof out->unit);
  out->bits_per_sample = v->bits_per_sample;
  size_t es = sm_dtype_size (v->dtype);
  const char *src = v->data;
  char *dst = out->data;
  for (gint64 z = 0; z < nz; z++)
    for (gint64 y = 0; y < ny; y++)
      {
        const char *row = src + (((size_t) (z * stride[0]) * (size_t) v->ny +
                                   (size_t) (y * stride[1])) * (size_t) v->nx) * es;
        for (gint64 x = 0; x < nx; x++, dst += es)
          memcpy (dst, row + (size_t) (x * stride[2]) * es, es);
      }
  return 0;
}

int
sm_volume_extract_slice (const SmVolume *v, SmAxis axis, gint64 index, SmVolume *out,
                         SmError *err)
{
  gint64 shape[3] = { v->nz, v->ny, v->nx };
  int dh = sm_axis_dim_h (axis), dv = sm_axis_dim_v (axis), dw = sm_axis_dim_w (axis);
  index = CLAMP (index, 0, shape[dw] - 1);
  if (sm_volume_alloc (out, v->dtype, 1, shape[dv], shape[dh], err) != 0)
    return -1;
  size_t es = sm_dtype_size (v->dtype);
  size_t strides[3] = { (size_t) (v->ny * v->nx) * es, (size_t) v->nx * es, es };
  const char *src = (const char *) v->data + (size_t) index * strides[dw];
  char *dst = out->data;
  for (gint64 r = 0; r < shape[dv]; r++)
    {
      const char *row = src + (size_t) r * strides[dv];
      if (dh == 2)
        {
          memcpy (dst, row, (size_t) shape[dh] * es);
          dst += (size_t) shape[dh] * es;
        }
      else
        for (gint64 c = 0; c < shape[dh]; c++, dst += es)
          memcpy (dst, row + (size_t) c * strides[dh], es);
    }
  return 0;
}

gint64
sm_texture_budget_bytes (void)
{
  const char *env = g_getenv ("SEMMAE_STUDIO_TEXTURE_MB");
  gint64 mb = env ? g_ascii_strtoll (env, NULL, 10) : 0;
  return (mb > 0 ? mb : 512) << 20;
}

static gint max_dim_seen;

gint64
sm_texture_max_dim (void)
{
  gint m = g_atomic_int_get (&max_dim_seen);
  return m > 0 ? m : 2048;
}

void
sm_texture_set_max_dim (gint64 max_dim)
{
  g_atomic_int_set (&max_dim_seen, (gint) MIN (max_dim, G_MAXINT));
}
