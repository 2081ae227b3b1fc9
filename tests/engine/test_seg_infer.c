/* The fast inference path against the one it replaced: the direct 3x3x3
 * convolution against im2col + sgemm (nn_conv3d_forward), the
 * inference-only forward against seg_net_forward, and the batched, threaded,
 * z-slab-streamed sliding windows against the original single-window loop
 * (kept below as the reference), with and without flips, on volumes larger
 * and smaller than a window. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_conv3d.h"
#include "nn_conv3d_infer.h"
#include "rng.h"
#include "seg_infer.h"
#include "seg_infer_net.h"
#include "tap.h"

static void fill(float *x, size_t n, Rng *rng, float scale) {
  for (size_t i = 0; i < n; i++)
    x[i] = scale * (2 * rng_uniform(rng) - 1);
}

static void test_conv_parity(void) {
  const int cases[][5] = {/* IC, OC, D, H, W */
                          {16, 8, 2, 7, 24},
                          {5, 16, 3, 11, 13},
                          {1, 8, 4, 9, 12},
                          {3, 5, 2, 6, 17},
                          {4, 9, 1, 5, 40}};
  Rng rng;
  rng_seed(&rng, 21);
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int IC = cases[k][0], OC = cases[k][1], D = cases[k][2], H = cases[k][3], W = cases[k][4];
    size_t V = (size_t)D * H * W;
    float *inp = malloc(sizeof(float) * IC * V), *w = malloc(sizeof(float) * OC * IC * 27);
    float *b = malloc(sizeof(float) * OC), *ref = malloc(sizeof(float) * OC * V);
    float *out = malloc(sizeof(float) * OC * V);
    float *col = malloc(sizeof(float) * nn_conv3d_col_floats(IC, H, W, 3));
    float *scratch = malloc(sizeof(float) * nn_conv3d_infer_scratch_floats(IC, D, H, W));
    fill(inp, IC * V, &rng, 1), fill(w, (size_t)OC * IC * 27, &rng, 0.3f), fill(b, OC, &rng, 1);
    nn_conv3d_forward(ref, col, inp, w, b, IC, OC, D, H, W, 3);
    nn_conv3d_infer_forward(out, scratch, inp, w, b, IC, OC, D, H, W);
    double worst = 0, big = 0;
    for (size_t i = 0; i < OC * V; i++)
      worst = fmax(worst, fabs(out[i] - ref[i])), big = fmax(big, fabs(ref[i]));
    TAP_OK(worst <= 1e-5 * big, "direct conv3d = im2col conv3d (IC %d OC %d %dx%dx%d): %.2g of %.2g",
           IC, OC, D, H, W, worst, big);
    free(inp), free(w), free(b), free(ref), free(out), free(col), free(scratch);
  }
}

static SegNet *tiny_net(int out) {
  MaeConfig m;
  mae_config_named(&m, "cpu-small", NULL);
  m.input[0] = 2, m.input[1] = m.input[2] = 32;
  m.enc_dim = 24, m.enc_depth = 4, m.enc_heads = 2;
  m.dec_dim = 8, m.dec_depth = 1, m.dec_heads = 2;
  SegConfig c;
  seg_config_default(&c, &m, out);
  c.base = 4, c.norm_groups = 2;
  SegNet *n;
  if (seg_net_create(&n, &c, 9, NULL))
    return NULL;
  /* move norms and biases off their init so every path matters */
  Rng rng;
  rng_seed(&rng, 3);
  for (int i = 0; i < seg_net_n_tensors(n); i++) {
    SegTensor *t = seg_net_tensor(n, i);
    if (t->ndim == 1)
      for (size_t k = 0; k < t->numel; k++)
        t->data[k] += 0.2f * (2 * rng_uniform(&rng) - 1);
  }
  return n;
}

static void test_forward_parity(void) {
  SegNet *n = tiny_net(3);
  size_t V = 2 * 32 * 32, OV = 3 * V;
  int B = 3;
  float *x = malloc(sizeof(float) * B * V), *ref = malloc(sizeof(float) * B * OV),
        *out = malloc(sizeof(float) * B * OV);
  Rng rng;
  rng_seed(&rng, 8);
  fill(x, B * V, &rng, 1);
  seg_net_forward(n, x, B, ref, NULL);
  for (int bb = 1; bb <= B; bb += 2) {
    SegInferActs *a;
    MaeError err;
    int rc = seg_infer_acts_create(&a, n, bb, &err);
    rc = rc || seg_net_infer(n, a, x, bb, out, &err);
    double worst = 0;
    for (size_t i = 0; i < bb * OV; i++)
      worst = fmax(worst, fabs(out[i] - ref[i]));
    TAP_OK(rc == 0 && worst < 1e-4, "seg_net_infer = seg_net_forward, batch %d (worst %.2g)", bb,
           worst);
    if (bb == 1)
      TAP_OK(seg_net_infer(n, a, x, 2, out, &err) == -1,
             "a batch larger than the buffers is refused");
    seg_infer_acts_free(a);
  }
  free(x), free(ref), free(out);
  seg_net_free(n);
}

/* ---- the reference: the original sliding-window loop, one window and one
 * seg_net_forward at a time, whole volume in memory ---- */

static int ref_starts(int64_t *out, int64_t n, int w, double overlap) {
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

static void ref_gauss(float *g, int w) {
  double sigma = w / 8.0, c = (w - 1) / 2.0;
  for (int i = 0; i < w; i++) {
    double v = exp(-(i - c) * (i - c) / (2 * sigma * sigma));
    g[i] = (float)(v < 1e-3 ? 1e-3 : v);
  }
}

static void ref_flip(float *a, int C, int D, int H, int W, int fy, int fx) {
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

static void ref_shift(float *p, int D, int H, int W, int axis) {
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

static void ref_infer(SegNet *net, SegTask task, float *probs, const float *vol,
                      const int64_t dims[3], double overlap, int tta) {
  const SegConfig *cfg = seg_net_config(net);
  const int D = cfg->mae.input[0], H = cfg->mae.input[1], W = cfg->mae.input[2];
  const int OUT = cfg->out_channels;
  size_t V = (size_t)D * H * W, NV = (size_t)(dims[0] * dims[1] * dims[2]);
  int64_t *sz = malloc(sizeof(int64_t) * (size_t)(dims[0] + dims[1] + dims[2] + 3));
  float *win = malloc(sizeof(float) * V), *flipped = malloc(sizeof(float) * V);
  float *lg = malloc(sizeof(float) * OUT * V), *acc = malloc(sizeof(float) * OUT * V);
  float *wsum = calloc(NV, sizeof(float)), *g = malloc(sizeof(float) * (D + H + W));
  memset(probs, 0, sizeof(float) * OUT * NV);
  int64_t *sz0 = sz, *sy0 = sz + dims[0] + 1, *sx0 = sy0 + dims[1] + 1;
  int nz = ref_starts(sz0, dims[0], D, overlap), ny = ref_starts(sy0, dims[1], H, overlap),
      nx = ref_starts(sx0, dims[2], W, overlap);
  ref_gauss(g, D), ref_gauss(g + D, H), ref_gauss(g + D + H, W);
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
          ref_flip(flipped, 1, D, H, W, fy, fx);
          seg_net_forward(net, flipped, 1, lg, NULL);
          for (size_t i = 0; i < OUT * V; i++)
            lg[i] = 1.f / (1.f + expf(-lg[i]));
          ref_flip(lg, OUT, D, H, W, fy, fx);
          if (task == SEG_TASK_NEURONS) {
            if (fy)
              ref_shift(lg + V, D, H, W, 1);
            if (fx)
              ref_shift(lg + 2 * V, D, H, W, 2);
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
      }
  for (int c = 0; c < OUT; c++)
    for (size_t o = 0; o < NV; o++)
      probs[(size_t)c * NV + o] /= wsum[o];
  free(sz), free(win), free(flipped), free(lg), free(acc), free(wsum), free(g);
}

/* ---- the streamed path ---- */

typedef struct Io {
  const float *vol;
  float *probs;
  int64_t Z, YX, next_z, max_read;
  int OUT, in_order, stop_at;
} Io;

static int io_read(void *user, int64_t z0, int64_t nz, float *dst) {
  Io *io = user;
  if (nz > io->max_read)
    io->max_read = nz;
  memcpy(dst, io->vol + z0 * io->YX, sizeof(float) * (size_t)(nz * io->YX));
  return 0;
}

static int io_emit(void *user, int64_t z, const float *p) {
  Io *io = user;
  if (z == io->stop_at)
    return 1;
  io->in_order &= z == io->next_z;
  io->next_z = z + 1;
  for (int c = 0; c < io->OUT; c++)
    memcpy(io->probs + (c * io->Z + z) * io->YX, p + c * io->YX, sizeof(float) * (size_t)io->YX);
  return 0;
}

static void test_stream_parity(void) {
  const int64_t shapes[][3] = {{7, 45, 70}, {1, 20, 40}, {3, 33, 32}};
  const SegTask tasks[3] = {SEG_TASK_NEURONS, SEG_TASK_MITO, SEG_TASK_MEMBRANE};
  const int outs[3] = {3, 2, 1};
  Rng rng;
  rng_seed(&rng, 12);
  for (int s = 0; s < 3; s++) {
    SegNet *n = tiny_net(outs[s]);
    const int64_t *dims = shapes[s];
    size_t NV = (size_t)(dims[0] * dims[1] * dims[2]);
    float *vol = malloc(sizeof(float) * NV), *ref = malloc(sizeof(float) * outs[s] * NV),
          *got = malloc(sizeof(float) * outs[s] * NV);
    fill(vol, NV, &rng, 1);
    for (int tta = 0; tta <= 1; tta++) {
      ref_infer(n, tasks[s], ref, vol, dims, 0.5, tta);
      const int runs[3][2] = {{1, 1}, {2, 3}, {2, 1}}; /* threads, batch */
      for (int r = 0; r < 3; r++) {
        SegInferOptions o;
        seg_infer_options_default(&o);
        o.tta = tta, o.threads = runs[r][0], o.batch = runs[r][1];
        Io io = {vol, got, dims[0], dims[1] * dims[2], 0, 0, outs[s], 1, -1};
        MaeError err;
        memset(got, 0, sizeof(float) * outs[s] * NV);
        int rc = seg_infer_stream(n, tasks[s], dims, &o, io_read, &io, io_emit, &io, NULL, NULL,
                                  &err);
        double worst = 0;
        for (size_t i = 0; i < outs[s] * NV; i++)
          worst = fmax(worst, fabs(got[i] - ref[i]));
        TAP_OK(rc == 0 && worst < 1e-5 && io.in_order && io.next_z == dims[0] &&
                   io.max_read <= 2,
               "streamed = reference, %s %lldx%lldx%lld tta %d threads %d batch %d (worst %.2g, "
               "read at most %lld slices)",
               seg_task_name(tasks[s]), (long long)dims[0], (long long)dims[1],
               (long long)dims[2], tta, runs[r][0], runs[r][1], worst, (long long)io.max_read);
      }
    }
    /* the whole-volume wrapper, and a writer that fails half-way */
    MaeError err;
    int rc = seg_infer_volume(n, tasks[s], got, vol, dims, 0.5, 0, NULL, NULL, &err);
    ref_infer(n, tasks[s], ref, vol, dims, 0.5, 0);
    double worst = 0;
    for (size_t i = 0; i < outs[s] * NV; i++)
      worst = fmax(worst, fabs(got[i] - ref[i]));
    TAP_OK(rc == 0 && worst < 1e-5, "seg_infer_volume = reference (worst %.2g)", worst);
    Io io = {vol, got, dims[0], dims[1] * dims[2], 0, 0, outs[s], 1, (int)(dims[0] / 2)};
    rc = seg_infer_stream(n, tasks[s], dims, NULL, io_read, &io, io_emit, &io, NULL, NULL, &err);
    TAP_OK(rc == -1 && strstr(err.message, "seg_infer:"), "a failing writer stops it: %s",
           err.message);
    free(vol), free(ref), free(got);
    seg_net_free(n);
  }
}

int main(void) {
  mae_set_threads(1); /* the workers of threads 2 runs are asked for explicitly */
  test_conv_parity();
  test_forward_parity();
  test_stream_parity();
  return tap_done();
}
