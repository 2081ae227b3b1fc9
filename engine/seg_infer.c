#include "seg_infer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Window starts along one axis: evenly spaced from 0 to n - w (one at 0
 * when n <= w), at most (1 - overlap) * w apart. */
static int starts(int64_t *out, int64_t n, int w, double overlap) {
  if (n <= w) {
    out[0] = 0;
    return 1;
  }
  int64_t stride = (int64_t)floor(w * (1 - overlap));
  if (stride < 1)
    stride = 1;
  int64_t count = (n - w + stride - 1) / stride + 1;
  for (int64_t i = 0; i < count; i++)
    out[i] = count == 1 ? 0 : (n - w) * i / (count - 1);
  return (int)count;
}

static void gauss(float *g, int w) {
  double sigma = w / 8.0, c = (w - 1) / 2.0;
  for (int i = 0; i < w; i++) {
    double v = exp(-(i - c) * (i - c) / (2 * sigma * sigma));
    g[i] = (float)(v < 1e-3 ? 1e-3 : v);
  }
}

static float sigm(float x) { return 1.f / (1.f + expf(-x)); }

/* flips a (C, D, H, W) block in y (fy) and/or x (fx), in place */
static void flip(float *a, int C, int D, int H, int W, int fy, int fx) {
  for (int c = 0; c < C; c++)
    for (int d = 0; d < D; d++) {
      float *p = a + ((size_t)c * D + d) * H * W;
      if (fx)
        for (int y = 0; y < H; y++)
          for (int x = 0; x < W / 2; x++) {
            float t = p[y * W + x];
            p[y * W + x] = p[y * W + W - 1 - x], p[y * W + W - 1 - x] = t;
          }
      if (fy)
        for (int y = 0; y < H / 2; y++)
          for (int x = 0; x < W; x++) {
            float t = p[y * W + x];
            p[y * W + x] = p[(H - 1 - y) * W + x], p[(H - 1 - y) * W + x] = t;
          }
    }
}

/* After un-flipping along an axis, the affinity channel of that axis holds
 * at v the affinity (v, v + e): shift it one voxel forward. */
static void shift_channel(float *p, int D, int H, int W, int axis) {
  for (int d = 0; d < D; d++) {
    float *q = p + (size_t)d * H * W;
    if (axis == 2)
      for (int y = 0; y < H; y++)
        for (int x = W - 1; x > 0; x--)
          q[y * W + x] = q[y * W + x - 1];
    else
      for (int y = H - 1; y > 0; y--)
        memcpy(q + y * W, q + (y - 1) * W, sizeof(float) * W);
  }
}

int seg_infer_volume(SegNet *net, SegTask task, float *probs, const float *vol,
                     const int64_t dims[3], double overlap, int tta, SegInferProgress progress,
                     void *user, MaeError *err) {
  const SegConfig *cfg = seg_net_config(net);
  const int D = cfg->mae.input[0], H = cfg->mae.input[1], W = cfg->mae.input[2];
  const int OUT = cfg->out_channels;
  if (!(overlap >= 0 && overlap < 1))
    return mae_error_set(err, "seg_infer: overlap must be in [0, 1)");
  size_t V = (size_t)D * H * W, NV = (size_t)(dims[0] * dims[1] * dims[2]);
  int64_t *sz = malloc(sizeof(int64_t) * (size_t)(dims[0] + dims[1] + dims[2] + 3));
  float *win = malloc(sizeof(float) * V), *flipped = malloc(sizeof(float) * V);
  float *lg = malloc(sizeof(float) * OUT * V), *acc = malloc(sizeof(float) * OUT * V);
  float *wsum = calloc(NV, sizeof(float)), *g = malloc(sizeof(float) * (D + H + W));
  int rc = 0;
  if (!sz || !win || !flipped || !lg || !acc || !wsum || !g) {
    rc = mae_error_set(err, "seg_infer: out of memory");
    goto done;
  }
  memset(probs, 0, sizeof(float) * OUT * NV);
  int64_t *sz0 = sz, *sy0 = sz + dims[0] + 1, *sx0 = sy0 + dims[1] + 1;
  int nz = starts(sz0, dims[0], D, overlap), ny = starts(sy0, dims[1], H, overlap),
      nx = starts(sx0, dims[2], W, overlap);
  gauss(g, D), gauss(g + D, H), gauss(g + D + H, W);
  int64_t total = (int64_t)nz * ny * nx, done_n = 0;
  for (int iz = 0; iz < nz; iz++)
    for (int iy = 0; iy < ny; iy++)
      for (int ix = 0; ix < nx; ix++) {
        int64_t z0 = sz0[iz], y0 = sy0[iy], x0 = sx0[ix];
        for (int d = 0; d < D; d++)
          for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
              int64_t zz = z0 + d, yy = y0 + y, xx = x0 + x;
              win[((size_t)d * H + y) * W + x] = zz < dims[0] && yy < dims[1] && xx < dims[2]
                                                     ? vol[(zz * dims[1] + yy) * dims[2] + xx]
                                                     : 0.f;
            }
        int passes = tta ? 4 : 1;
        memset(acc, 0, sizeof(float) * OUT * V);
        for (int ps = 0; ps < passes; ps++) {
          int fy = ps & 1, fx = ps >> 1;
          memcpy(flipped, win, sizeof(float) * V);
          flip(flipped, 1, D, H, W, fy, fx);
          if (seg_net_forward(net, flipped, 1, lg, err)) {
            rc = -1;
            goto done;
          }
          for (size_t i = 0; i < OUT * V; i++)
            lg[i] = sigm(lg[i]);
          flip(lg, OUT, D, H, W, fy, fx);
          if (task == SEG_TASK_NEURONS) {
            if (fy)
              shift_channel(lg + V, D, H, W, 1);
            if (fx)
              shift_channel(lg + 2 * V, D, H, W, 2);
          }
          for (size_t i = 0; i < OUT * V; i++)
            acc[i] += lg[i] / passes;
        }
        for (int d = 0; d < D && z0 + d < dims[0]; d++)
          for (int y = 0; y < H && y0 + y < dims[1]; y++)
            for (int x = 0; x < W && x0 + x < dims[2]; x++) {
              float w = g[d] * g[D + y] * g[D + H + x];
              size_t o = (size_t)(((z0 + d) * dims[1] + y0 + y) * dims[2] + x0 + x);
              size_t i = ((size_t)d * H + y) * W + x;
              wsum[o] += w;
              for (int c = 0; c < OUT; c++)
                probs[(size_t)c * NV + o] += w * acc[(size_t)c * V + i];
            }
        done_n++;
        if (progress)
          progress(done_n, total, user);
      }
  for (int c = 0; c < OUT; c++)
    for (size_t o = 0; o < NV; o++)
      probs[(size_t)c * NV + o] /= wsum[o];
done:
  free(sz), free(win), free(flipped), free(lg), free(acc), free(wsum), free(g);
  return rc;
}
