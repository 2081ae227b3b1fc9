/* CPU side of the 3D view's uploads: box-filter downsampling, texel
 * conversion and the selected-segment mask (see sm-volume-texture.h). */
#include "sm-volume-texture.h"

#include <math.h>
#include <string.h>

#include "data/label_store.h"

void
sm_volume_texture_plan (gint64 nz, gint64 ny, gint64 nx, int max_dim, gsize max_texels,
                        int factor[3])
{
  const gint64 n[3] = { MAX (nz, 1), MAX (ny, 1), MAX (nx, 1) };
  int f[3] = { 1, 1, 1 };
  for (;;) {
    gint64 out[3];
    int longest = 0;
    for (int a = 0; a < 3; a++) {
      out[a] = (n[a] + f[a] - 1) / f[a];
      if (out[a] > out[longest]) longest = a;
    }
    gboolean too_long = out[longest] > max_dim;
    gboolean too_many = (guint64) out[0] * out[1] * out[2] > max_texels;
    if (!too_long && !too_many) break;
    f[longest]++;
  }
  memcpy (factor, f, sizeof f);
}

void
sm_volume_texture_clear (SmVolumeTexture *t)
{
  g_free (t->texels);
  g_free (t->bricks);
  memset (t, 0, sizeof *t);
}

/* One source row (n elements of dtype) as floats. */
static void
read_row (SmDtype dtype, const void *src, gint64 n, float *dst)
{
#define CONVERT(ctype) \
  do { const ctype *s = src; for (gint64 i = 0; i < n; i++) dst[i] = (float) s[i]; } while (0)
  switch (dtype) {
  case SM_U8: CONVERT (guint8); break;
  case SM_I8: CONVERT (gint8); break;
  case SM_U16: CONVERT (guint16); break;
  case SM_I16: CONVERT (gint16); break;
  case SM_U32: CONVERT (guint32); break;
  case SM_I32: CONVERT (gint32); break;
  case SM_F32:
    for (gint64 i = 0; i < n; i++) {
      float x = ((const float *) src)[i];
      dst[i] = isfinite (x) ? x : 0.0f;
    }
    break;
  default: memset (dst, 0, (gsize) n * sizeof *dst); break;
  }
#undef CONVERT
}

static gsize
dtype_size (SmDtype t)
{
  switch (t) {
  case SM_U8: case SM_I8: return 1;
  case SM_U16: case SM_I16: return 2;
  default: return 4;
  }
}

static inline float
texel_value (SmTexelType type, const void *texels, gsize i)
{
  switch (type) {
  case SM_TEXEL_U8: return ((const guint8 *) texels)[i] / 255.0f;
  case SM_TEXEL_U16: return ((const guint16 *) texels)[i] / 65535.0f;
  default: return ((const float *) texels)[i];
  }
}

/* The bricks whose samples can read texel i along one axis: a trilinear
 * sample inside brick b reads texels 8b-1 ... 8b+8, so a texel at a brick's
 * edge also belongs to its neighbour. */
static inline void
brick_span (int i, int n_bricks, int *b0, int *b1)
{
  *b0 = i >= 1 ? (i - 1) / SM_BRICK : 0;
  *b1 = MIN ((i + 1) / SM_BRICK, n_bricks - 1);
}

/* Min/max over x in [8b-1, 8b+8] of one row, per x-brick b (texel values). */
#define ROW_BRICK_RANGES(ctype, scale)                                               \
  do {                                                                               \
    const ctype *r = (const ctype *) texels + row;                                   \
    for (int bx = 0; bx < brick_shape[2]; bx++) {                                    \
      const int x0 = MAX (bx * SM_BRICK - 1, 0), x1 = MIN (bx * SM_BRICK + SM_BRICK + 1, shape[2]); \
      ctype l = r[x0], h = r[x0];                                                    \
      for (int x = x0 + 1; x < x1; x++) {                                            \
        l = MIN (l, r[x]);                                                           \
        h = MAX (h, r[x]);                                                           \
      }                                                                              \
      row_lo[bx] = (float) l * (scale);                                              \
      row_hi[bx] = (float) h * (scale);                                              \
    }                                                                                \
  } while (0)

/* Per-brick min/max over the texels its samples can read (see
 * SmVolumeTexture.bricks), rounded outwards to bytes. Row by row: the x
 * ranges of a row first, then merged into every brick whose y and z reach
 * covers the row. */
static guint8 *
build_bricks (SmTexelType type, const void *texels, const int shape[3], int brick_shape[3])
{
  for (int a = 0; a < 3; a++) brick_shape[a] = (shape[a] + SM_BRICK - 1) / SM_BRICK;
  const gsize n_bricks = (gsize) brick_shape[0] * brick_shape[1] * brick_shape[2];
  float *lo = g_new (float, n_bricks), *hi = g_new (float, n_bricks);
  float *row_lo = g_new (float, brick_shape[2]), *row_hi = g_new (float, brick_shape[2]);
  for (gsize b = 0; b < n_bricks; b++) {
    lo[b] = G_MAXFLOAT;
    hi[b] = -G_MAXFLOAT;
  }
  for (int z = 0; z < shape[0]; z++) {
    int z0, z1;
    brick_span (z, brick_shape[0], &z0, &z1);
    for (int y = 0; y < shape[1]; y++) {
      int y0, y1;
      brick_span (y, brick_shape[1], &y0, &y1);
      const gsize row = ((gsize) z * shape[1] + y) * shape[2];
      switch (type) {
      case SM_TEXEL_U8: ROW_BRICK_RANGES (guint8, 1.0f / 255.0f); break;
      case SM_TEXEL_U16: ROW_BRICK_RANGES (guint16, 1.0f / 65535.0f); break;
      case SM_TEXEL_F32: ROW_BRICK_RANGES (float, 1.0f); break;
      }
      for (int bz = z0; bz <= z1; bz++)
        for (int by = y0; by <= y1; by++) {
          float *blo = lo + ((gsize) bz * brick_shape[1] + by) * brick_shape[2];
          float *bhi = hi + ((gsize) bz * brick_shape[1] + by) * brick_shape[2];
          for (int bx = 0; bx < brick_shape[2]; bx++) {
            blo[bx] = MIN (blo[bx], row_lo[bx]);
            bhi[bx] = MAX (bhi[bx], row_hi[bx]);
          }
        }
    }
  }
  guint8 *out = g_new (guint8, 2 * n_bricks);
  for (gsize b = 0; b < n_bricks; b++) {
    out[2 * b] = (guint8) CLAMP (floorf (lo[b] * 255.0f), 0, 255);
    out[2 * b + 1] = (guint8) CLAMP (ceilf (hi[b] * 255.0f), 0, 255);
  }
  g_free (lo);
  g_free (hi);
  g_free (row_lo);
  g_free (row_hi);
  return out;
}
#undef ROW_BRICK_RANGES

static int
compare_floats (const void *a, const void *b)
{
  const float x = *(const float *) a, y = *(const float *) b;
  return x < y ? -1 : x > y;
}

/* Median of up to 65536 texels taken at a fixed stride, as a normalised texel. */
static double
sampled_median (SmTexelType type, const void *texels, gsize n)
{
  if (n == 0) return 0.0;
  const gsize stride = MAX (n / 65536, 1), count = (n + stride - 1) / stride;
  float *sample = g_new (float, count);
  for (gsize k = 0; k < count; k++) {
    const gsize i = k * stride;
    switch (type) {
    case SM_TEXEL_U8: sample[k] = ((const guint8 *) texels)[i] / 255.0f; break;
    case SM_TEXEL_U16: sample[k] = ((const guint16 *) texels)[i] / 65535.0f; break;
    case SM_TEXEL_F32: sample[k] = ((const float *) texels)[i]; break;
    }
  }
  qsort (sample, count, sizeof *sample, compare_floats);
  const double median = sample[count / 2];
  g_free (sample);
  return median;
}

gboolean
sm_volume_texture_build (const SmVolume *v, const int factor[3], gboolean allow_unorm16,
                         const gint *cancel, SmVolumeTexture *out)
{
  memset (out, 0, sizeof *out);
  const gint64 nx = v->nx, ny = v->ny, nz = v->nz;
  const int fz = factor[0], fy = factor[1], fx = factor[2];
  const int oz = (int) ((nz + fz - 1) / fz), oy = (int) ((ny + fy - 1) / fy),
            ox = (int) ((nx + fx - 1) / fx);
  const gsize slice_texels = (gsize) oy * ox, texels = slice_texels * oz;
  const gsize esize = dtype_size (v->dtype);

  SmTexelType type = SM_TEXEL_F32;
  double offset = 0.0, scale = 1.0;
  switch (v->dtype) {
  case SM_U8: type = SM_TEXEL_U8; scale = 255.0; break;
  case SM_I8: type = SM_TEXEL_U8; scale = 255.0; offset = -128.0; break;
  case SM_U16: if (allow_unorm16) { type = SM_TEXEL_U16; scale = 65535.0; } break;
  case SM_I16: if (allow_unorm16) { type = SM_TEXEL_U16; scale = 65535.0; offset = -32768.0; } break;
  default: break;
  }
  const gsize tsize = type == SM_TEXEL_U8 ? 1 : type == SM_TEXEL_U16 ? 2 : 4;

  void *texels_buf = g_try_malloc (texels * tsize);
  float *acc = g_try_malloc (slice_texels * sizeof (float));
  float *row = g_try_malloc ((gsize) nx * sizeof (float));
  if (!texels_buf || !acc || !row) {
    g_free (texels_buf); g_free (acc); g_free (row);
    return FALSE;
  }

  float fmin = G_MAXFLOAT, fmax = -G_MAXFLOAT;
  /* Unshrunk integer data is a copy (shifted for signed types), not a filter. */
  const gboolean copy = fz == 1 && fy == 1 && fx == 1 && type != SM_TEXEL_F32;
  if (copy) {
    switch (v->dtype) {
    case SM_U8: case SM_U16: memcpy (texels_buf, v->data, texels * tsize); break;
    case SM_I8:
      for (gsize i = 0; i < texels; i++) ((guint8 *) texels_buf)[i] = (guint8) (((const gint8 *) v->data)[i] + 128);
      break;
    case SM_I16:
      for (gsize i = 0; i < texels; i++)
        ((guint16 *) texels_buf)[i] = (guint16) (((const gint16 *) v->data)[i] + 32768);
      break;
    default: break;
    }
  }
  for (int z = 0; z < (copy ? 0 : oz); z++) {
    if (cancel && g_atomic_int_get (cancel)) {
      g_free (texels_buf); g_free (acc); g_free (row);
      return FALSE;
    }
    memset (acc, 0, slice_texels * sizeof (float));
    const gint64 z0 = (gint64) z * fz, z1 = MIN (z0 + fz, nz);
    for (gint64 iz = z0; iz < z1; iz++)
      for (gint64 iy = 0; iy < ny; iy++) {
        const char *src = (const char *) v->data + ((iz * ny + iy) * nx) * esize;
        read_row (v->dtype, src, nx, row);
        float *dst = acc + (iy / fy) * ox;
        if (fx == 1)
          for (gint64 ix = 0; ix < nx; ix++) dst[ix] += row[ix];
        else
          for (gint64 ix = 0; ix < nx; ix++) dst[ix / fx] += row[ix];
      }
    /* Boxes at the far edges are cut short: divide by the true count. */
    for (int y = 0; y < oy; y++) {
      const gint64 cy = MIN ((gint64) (y + 1) * fy, ny) - (gint64) y * fy;
      for (int x = 0; x < ox; x++) {
        const gint64 cx = MIN ((gint64) (x + 1) * fx, nx) - (gint64) x * fx;
        const gsize i = (gsize) y * ox + x;
        const float mean = acc[i] / (float) ((z1 - z0) * cy * cx);
        const gsize o = (gsize) z * slice_texels + i;
        switch (type) {
        case SM_TEXEL_U8:
          ((guint8 *) texels_buf)[o] = (guint8) CLAMP (lrintf (mean - (float) offset), 0, 255);
          break;
        case SM_TEXEL_U16:
          ((guint16 *) texels_buf)[o] = (guint16) CLAMP (lrintf (mean - (float) offset), 0, 65535);
          break;
        case SM_TEXEL_F32:
          ((float *) texels_buf)[o] = mean;
          fmin = MIN (fmin, mean);
          fmax = MAX (fmax, mean);
          break;
        }
      }
    }
  }
  g_free (acc);
  g_free (row);

  if (type == SM_TEXEL_F32) {
    /* Normalise to [0, 1] so that GLES can store it as half floats. */
    if (!(fmax > fmin)) fmax = fmin + 1.0f;
    offset = fmin;
    scale = (double) fmax - fmin;
    float *f = texels_buf;
    const float inv = (float) (1.0 / scale);
    for (gsize i = 0; i < texels; i++) f[i] = (f[i] - fmin) * inv;
  }

  out->median = sampled_median (type, texels_buf, texels);
  const int shape[3] = { oz, oy, ox };
  out->bricks = build_bricks (type, texels_buf, shape, out->brick_shape);
  out->type = type;
  out->nz = oz; out->ny = oy; out->nx = ox;
  memcpy (out->factor, factor, sizeof out->factor);
  out->scale = scale;
  out->offset = offset;
  out->texels = texels_buf;
  return TRUE;
}

static inline guint32
label_at (const SmVolume *labels, gsize i)
{
  switch (labels->dtype) {
  case SM_U32: case SM_I32: return ((const guint32 *) labels->data)[i];
  case SM_U16: case SM_I16: return ((const guint16 *) labels->data)[i];
  case SM_U8: case SM_I8: return ((const guint8 *) labels->data)[i];
  default: return 0;
  }
}

gboolean
sm_volume_mask_build (const SmVolume *labels, const int factor[3], const int tex_shape[3],
                      const guint32 *ids, gsize n_ids, const int lo[3], const int hi[3],
                      const gint *cancel, guint8 *mask)
{
  const gint64 nx = labels->nx, ny = labels->ny, nz = labels->nz;
  const int ty = tex_shape[1], tx = tex_shape[2];
  /* id -> 1-based palette index; the last id seen is cached because labels
   * come in runs along x. */
  GHashTable *index_of = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (gsize k = 0; k < n_ids; k++)
    if (!g_hash_table_contains (index_of, GUINT_TO_POINTER (ids[k])))
      g_hash_table_insert (index_of, GUINT_TO_POINTER (ids[k]), GUINT_TO_POINTER ((guint) (k % 255) + 1));
  const gboolean zero_selected = g_hash_table_contains (index_of, GUINT_TO_POINTER (0));

  for (int z = lo[0]; z < hi[0]; z++)
    for (int y = lo[1]; y < hi[1]; y++)
      for (int x = lo[2]; x < hi[2]; x++) {
        guint8 *m = mask + 2 * (((gsize) z * ty + y) * tx + x);
        m[0] = m[1] = 0;
      }

  guint32 last_id = 0;
  guint last_index = zero_selected ? GPOINTER_TO_UINT (g_hash_table_lookup (index_of, GUINT_TO_POINTER (0))) : 0;
  const gint64 x0 = (gint64) lo[2] * factor[2], x1 = MIN ((gint64) hi[2] * factor[2], nx);
  for (int z = lo[0]; z < hi[0]; z++) {
    if (cancel && g_atomic_int_get (cancel)) {
      g_hash_table_unref (index_of);
      return FALSE;
    }
    const gint64 z0 = (gint64) z * factor[0], z1 = MIN (z0 + factor[0], nz);
    for (gint64 iz = z0; iz < z1; iz++)
      for (gint64 iy = (gint64) lo[1] * factor[1]; iy < MIN ((gint64) hi[1] * factor[1], ny); iy++) {
        const gsize row = (gsize) (iz * ny + iy) * nx;
        guint8 *mrow = mask + 2 * (((gsize) z * ty + iy / factor[1]) * tx);
        for (gint64 ix = x0; ix < x1; ix++) {
          const guint32 id = label_at (labels, row + ix);
          if (id != last_id) {
            last_id = id;
            last_index = GPOINTER_TO_UINT (g_hash_table_lookup (index_of, GUINT_TO_POINTER (id)));
          }
          if (last_index) {
            guint8 *m = mrow + 2 * (ix / factor[2]);
            if (!m[0]) {
              m[0] = 255;
              m[1] = (guint8) last_index;
            }
          }
        }
      }
  }
  g_hash_table_unref (index_of);
  return TRUE;
}

void
sm_volume_mask_smooth (guint8 *mask, const int tex_shape[3], const int lo[3], const int hi[3])
{
  /* Output box: the edited box grown by one texel; input: grown by two. */
  int olo[3], ohi[3], ilo[3], ihi[3], n[3];
  for (int a = 0; a < 3; a++) {
    olo[a] = MAX (lo[a] - 1, 0);
    ohi[a] = MIN (hi[a] + 1, tex_shape[a]);
    ilo[a] = MAX (olo[a] - 1, 0);
    ihi[a] = MIN (ohi[a] + 1, tex_shape[a]);
    n[a] = ihi[a] - ilo[a];
    if (n[a] <= 0) return;
  }
  const gsize count = (gsize) n[0] * n[1] * n[2];
  guint8 *a = g_malloc (count), *b = g_malloc (count);
#define AT(buf, z, y, x) (buf)[((gsize) (z) * n[1] + (y)) * n[2] + (x)]
  for (int z = 0; z < n[0]; z++)
    for (int y = 0; y < n[1]; y++) {
      const guint8 *row = mask + 2 * (((gsize) (z + ilo[0]) * tex_shape[1] + y + ilo[1]) * tex_shape[2] + ilo[2]);
      for (int x = 0; x < n[2]; x++) AT (a, z, y, x) = row[2 * x + 1] != 0;
    }
  /* Separable [1 2 1] passes; outside the box (or the volume) counts as empty,
   * which closes surfaces at the volume's faces. Sums stay <= 64. */
  for (int z = 0; z < n[0]; z++)
    for (int y = 0; y < n[1]; y++)
      for (int x = 0; x < n[2]; x++)
        AT (b, z, y, x) = (guint8) (2 * AT (a, z, y, x) + (x > 0 ? AT (a, z, y, x - 1) : 0) +
                                    (x + 1 < n[2] ? AT (a, z, y, x + 1) : 0));
  for (int z = 0; z < n[0]; z++)
    for (int y = 0; y < n[1]; y++)
      for (int x = 0; x < n[2]; x++)
        AT (a, z, y, x) = (guint8) (2 * AT (b, z, y, x) + (y > 0 ? AT (b, z, y - 1, x) : 0) +
                                    (y + 1 < n[1] ? AT (b, z, y + 1, x) : 0));
  for (int z = 0; z < n[0]; z++)
    for (int y = 0; y < n[1]; y++)
      for (int x = 0; x < n[2]; x++)
        AT (b, z, y, x) = (guint8) (2 * AT (a, z, y, x) + (z > 0 ? AT (a, z - 1, y, x) : 0) +
                                    (z + 1 < n[0] ? AT (a, z + 1, y, x) : 0));
  for (int z = olo[0]; z < ohi[0]; z++)
    for (int y = olo[1]; y < ohi[1]; y++) {
      guint8 *row = mask + 2 * (((gsize) z * tex_shape[1] + y) * tex_shape[2]);
      for (int x = olo[2]; x < ohi[2]; x++) {
        const int blurred = AT (b, z - ilo[0], y - ilo[1], x - ilo[2]) * 255 / 64;
        row[2 * x] = (guint8) (row[2 * x + 1] ? MAX (blurred, 140) : MIN (blurred, 115));
      }
    }
#undef AT
  g_free (a);
  g_free (b);
}

guint8 *
sm_volume_mask_bricks (const guint8 *mask, const int tex_shape[3], int brick_shape[3])
{
  for (int a = 0; a < 3; a++) brick_shape[a] = (tex_shape[a] + SM_BRICK - 1) / SM_BRICK;
  const gsize n_bricks = (gsize) brick_shape[0] * brick_shape[1] * brick_shape[2];
  guint8 *out = g_new0 (guint8, n_bricks);
  for (int z = 0; z < tex_shape[0]; z++) {
    int z0, z1;
    brick_span (z, brick_shape[0], &z0, &z1);
    for (int y = 0; y < tex_shape[1]; y++) {
      int y0, y1;
      brick_span (y, brick_shape[1], &y0, &y1);
      const guint8 *row = mask + 2 * (((gsize) z * tex_shape[1] + y) * tex_shape[2]);
      for (int x = 0; x < tex_shape[2]; x++) {
        /* Only selected texels can lift the interpolated mask to 0.5
         * (smoothing keeps the others below it). */
        if (!row[2 * x + 1]) continue;
        int x0, x1;
        brick_span (x, brick_shape[2], &x0, &x1);
        for (int bz = z0; bz <= z1; bz++)
          for (int by = y0; by <= y1; by++)
            for (int bx = x0; bx <= x1; bx++) out[((gsize) bz * brick_shape[1] + by) * brick_shape[2] + bx] = 255;
      }
    }
  }
  return out;
}

void
sm_segment_color (guint32 id, float rgb[3])
{
  /* One colour function for the whole studio: the label shader's id_colour,
   * ported in sm_label_color_for_id (data/label_store.c). */
  const guint32 c = sm_label_color_for_id (id);
  for (int i = 0; i < 3; i++) rgb[i] = (float) ((c >> (16 - 8 * i)) & 255u) / 255.0f;
}
