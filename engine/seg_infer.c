#include "seg_infer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn.h"
#include "seg_infer_net.h"

void seg_infer_options_default(SegInferOptions *o) {
  o->overlap = 0.5;
  o->tta = 0;
  o->batch = 2;
  o->threads = 0;
}

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

/* One worker's buffers: its activations, the crops of a group of windows
 * (all passes) and their logits. */
typedef struct Worker {
  SegInferActs *acts;
  float *crops;  // (Bw * passes, D, H, W)
  float *logits; // (Bw * passes, OUT, D, H, W)
} Worker;

/* The state of one run: geometry, the current z-slab and the windows of
 * the slab's row of windows. */
typedef struct Run {
  const SegNet *net;
  SegTask task;
  int D, H, W, OUT, passes, Bw, T;
  size_t V;
  int64_t Z, Y, X, S; /* S = slices held: min(D, Z) */
  int64_t *sy0, *sx0;
  int ny, nx;
  float *in;      // (S, Y, X) input slices base .. base + S - 1
  int64_t in_nz;  // of which read
  float *acc;     // (OUT, S, Y, X) weighted sums
  float *wacc;    // (S, Y, X) weights
  float *wprob;   // (4 T Bw, OUT, D, H, W) probabilities of the windows in flight
  float *g;       // (D + H + W) Gaussian weights per axis
  Worker *workers;
} Run;

/* window (y0, x0) of the current slab -> crop (D, H, W), zero outside */
static void gather(const Run *r, float *win, int64_t y0, int64_t x0) {
  for (int d = 0; d < r->D; d++)
    for (int y = 0; y < r->H; y++) {
      float *row = win + ((size_t)d * r->H + y) * r->W;
      int64_t yy = y0 + y;
      if (d >= r->in_nz || yy >= r->Y) {
        memset(row, 0, sizeof(float) * r->W);
        continue;
      }
      const float *src = r->in + ((size_t)d * r->Y + yy) * r->X + x0;
      int n = x0 + r->W <= r->X ? r->W : (int)(r->X - x0);
      memcpy(row, src, sizeof(float) * n);
      memset(row + n, 0, sizeof(float) * (r->W - n));
    }
}

/* Windows first .. first + nb - 1 of the slab's row (index iy * nx + ix)
 * through worker w; their probabilities (averaged over the passes) into
 * wprob slots slot .. slot + nb - 1. */
static void run_group(const Run *r, Worker *w, int first, int nb, int slot) {
  size_t V = r->V, OV = (size_t)r->OUT * V;
  for (int j = 0; j < nb; j++) {
    int k = first + j;
    float *c0 = w->crops + (size_t)j * r->passes * V;
    gather(r, c0, r->sy0[k / r->nx], r->sx0[k % r->nx]);
    for (int ps = 1; ps < r->passes; ps++) {
      memcpy(c0 + ps * V, c0, sizeof(float) * V);
      flip(c0 + ps * V, 1, r->D, r->H, r->W, ps & 1, ps >> 1);
    }
  }
  seg_net_infer(r->net, w->acts, w->crops, nb * r->passes, w->logits, NULL);
  for (int j = 0; j < nb; j++) {
    float *out = r->wprob + (size_t)(slot + j) * OV;
    memset(out, 0, sizeof(float) * OV);
    for (int ps = 0; ps < r->passes; ps++) {
      float *lg = w->logits + ((size_t)j * r->passes + ps) * OV;
      int fy = ps & 1, fx = ps >> 1;
      for (size_t i = 0; i < OV; i++)
        lg[i] = sigm(lg[i]);
      flip(lg, r->OUT, r->D, r->H, r->W, fy, fx);
      if (r->task == SEG_TASK_NEURONS) {
        if (fy)
          shift_channel(lg + V, r->D, r->H, r->W, 1);
        if (fx)
          shift_channel(lg + 2 * V, r->D, r->H, r->W, 2);
      }
      for (size_t i = 0; i < OV; i++)
        out[i] += lg[i] / r->passes;
    }
  }
}

/* adds window k's probabilities (wprob slot) into the slab */
static void blend(Run *r, int k, int slot, int64_t z0) {
  int64_t y0 = r->sy0[k / r->nx], x0 = r->sx0[k % r->nx];
  const float *p = r->wprob + (size_t)slot * r->OUT * r->V, *g = r->g;
  size_t SYX = (size_t)(r->S * r->Y * r->X);
  int D = r->D, H = r->H, W = r->W;
  for (int d = 0; d < D && z0 + d < r->Z; d++)
    for (int y = 0; y < H && y0 + y < r->Y; y++)
      for (int x = 0; x < W && x0 + x < r->X; x++) {
        float w = g[d] * g[D + y] * g[D + H + x];
        size_t o = (size_t)((d * r->Y + y0 + y) * r->X + x0 + x);
        size_t i = ((size_t)d * H + y) * W + x;
        r->wacc[o] += w;
        for (int c = 0; c < r->OUT; c++)
          r->acc[(size_t)c * SYX + o] += w * p[(size_t)c * r->V + i];
      }
}

/* emits slab slices 0 .. n - 1 (z = base ..), then moves the rest down */
static int flush(Run *r, int64_t base, int64_t n, float *slice, SegInferEmit emit, void *user) {
  size_t YX = (size_t)(r->Y * r->X), SYX = (size_t)r->S * YX;
  for (int64_t s = 0; s < n; s++) {
    for (int c = 0; c < r->OUT; c++)
      for (size_t o = 0; o < YX; o++)
        slice[(size_t)c * YX + o] = r->acc[c * SYX + s * YX + o] / r->wacc[s * YX + o];
    if (emit(user, base + s, slice))
      return -1;
  }
  size_t keep = (size_t)(r->S - n) * YX, drop = (size_t)n * YX;
  for (int c = 0; c <= r->OUT; c++) {
    float *a = c < r->OUT ? r->acc + c * SYX : r->wacc;
    memmove(a, a + drop, sizeof(float) * keep);
    memset(a + keep, 0, sizeof(float) * drop);
  }
  return 0;
}

static void free_run(Run *r) {
  if (r->workers)
    for (int t = 0; t < r->T; t++) {
      seg_infer_acts_free(r->workers[t].acts);
      free(r->workers[t].crops), free(r->workers[t].logits);
    }
  free(r->workers), free(r->sy0), free(r->in), free(r->acc), free(r->wacc), free(r->wprob);
  free(r->g);
}

int seg_infer_stream(const SegNet *net, SegTask task, const int64_t dims[3],
                     const SegInferOptions *opts, SegInferRead read, void *read_user,
                     SegInferEmit emit, void *emit_user, SegInferProgress progress, void *user,
                     MaeError *err) {
  const SegConfig *cfg = seg_net_config(net);
  SegInferOptions o;
  if (opts)
    o = *opts;
  else
    seg_infer_options_default(&o);
  if (!(o.overlap >= 0 && o.overlap < 1))
    return mae_error_set(err, "seg_infer: overlap must be in [0, 1)");
  if (dims[0] < 1 || dims[1] < 1 || dims[2] < 1)
    return mae_error_set(err, "seg_infer: empty volume");
  Run r = {.net = net, .task = task, .D = cfg->mae.input[0], .H = cfg->mae.input[1],
           .W = cfg->mae.input[2], .OUT = cfg->out_channels, .passes = o.tta ? 4 : 1,
           .Z = dims[0], .Y = dims[1], .X = dims[2]};
  r.V = (size_t)r.D * r.H * r.W;
  r.S = r.Z < r.D ? r.Z : r.D;
  int batch = o.batch < 1 ? 1 : o.batch;
  r.Bw = batch / r.passes < 1 ? 1 : batch / r.passes;
  r.T = o.threads;
#ifdef _OPENMP
  if (r.T < 1)
    r.T = omp_get_max_threads();
#endif
  if (r.T < 1)
    r.T = 1;
  size_t YX = (size_t)(r.Y * r.X), OV = (size_t)r.OUT * r.V;
  int64_t *sz0 = malloc(sizeof(int64_t) * (size_t)(r.Z + 1));
  r.sy0 = malloc(sizeof(int64_t) * (size_t)(r.Y + r.X + 2));
  r.in = malloc(sizeof(float) * (size_t)r.S * YX);
  r.acc = calloc((size_t)r.OUT * r.S * YX, sizeof(float));
  r.wacc = calloc((size_t)r.S * YX, sizeof(float));
  r.wprob = malloc(sizeof(float) * (size_t)4 * r.T * r.Bw * OV);
  r.g = malloc(sizeof(float) * (size_t)(r.D + r.H + r.W));
  r.workers = calloc((size_t)r.T, sizeof(Worker));
  float *slice = malloc(sizeof(float) * r.OUT * YX);
  int rc = 0;
  if (!sz0 || !r.sy0 || !r.in || !r.acc || !r.wacc || !r.wprob || !r.g || !r.workers || !slice) {
    rc = mae_error_set(err, "seg_infer: out of memory for a %lld-slice slab of %lldx%lld",
                       (long long)r.S, (long long)r.Y, (long long)r.X);
    goto done;
  }
  for (int t = 0; t < r.T; t++) {
    Worker *w = &r.workers[t];
    int nf = r.Bw * r.passes;
    if (seg_infer_acts_create(&w->acts, net, nf, err)) {
      rc = -1;
      goto done;
    }
    w->crops = malloc(sizeof(float) * nf * r.V);
    w->logits = malloc(sizeof(float) * nf * OV);
    if (!w->crops || !w->logits) {
      rc = mae_error_set(err, "seg_infer: out of memory");
      goto done;
    }
  }
  r.sx0 = r.sy0 + r.Y + 1;
  int nz = starts(sz0, r.Z, r.D, o.overlap);
  r.ny = starts(r.sy0, r.Y, r.H, o.overlap), r.nx = starts(r.sx0, r.X, r.W, o.overlap);
  gauss(r.g, r.D), gauss(r.g + r.D, r.H), gauss(r.g + r.D + r.H, r.W);
  /* windows between two blends: a few per worker, so that a worker the
   * scheduler delays holds the others up rarely */
  int per_slab = r.ny * r.nx, chunk = 4 * r.T * r.Bw;
  int64_t total = (int64_t)nz * per_slab, done_n = 0, base = 0;
  for (int iz = 0; iz < nz; iz++) {
    int64_t z0 = sz0[iz];
    if (z0 > base && flush(&r, base, z0 - base, slice, emit, emit_user)) {
      rc = mae_error_set(err, "seg_infer: stopped while writing slice %lld", (long long)base);
      goto done;
    }
    base = z0;
    r.in_nz = r.Z - z0 < r.S ? r.Z - z0 : r.S;
    if (read(read_user, z0, r.in_nz, r.in)) {
      rc = mae_error_set(err, "seg_infer: stopped while reading slices from %lld", (long long)z0);
      goto done;
    }
    for (int k0 = 0; k0 < per_slab; k0 += chunk) {
      int n = per_slab - k0 < chunk ? per_slab - k0 : chunk;
      int groups = (n + r.Bw - 1) / r.Bw;
#pragma omp parallel for schedule(dynamic, 1) num_threads(r.T) if (r.T > 1)
      for (int gi = 0; gi < groups; gi++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        nn_flush_denormals();
        int first = gi * r.Bw, nb = n - first < r.Bw ? n - first : r.Bw;
        run_group(&r, &r.workers[t], k0 + first, nb, first);
      }
      for (int j = 0; j < n; j++)
        blend(&r, k0 + j, j, z0);
      done_n += n;
      if (progress)
        progress(done_n, total, user);
    }
  }
  if (flush(&r, base, r.Z - base, slice, emit, emit_user))
    rc = mae_error_set(err, "seg_infer: stopped while writing slice %lld", (long long)base);
done:
  free_run(&r);
  free(sz0), free(slice);
  return rc;
}

/* ---- the whole volume in memory ---- */

typedef struct MemIo {
  const float *vol;
  float *probs;
  int64_t Z, YX;
  int OUT;
} MemIo;

static int mem_read(void *user, int64_t z0, int64_t nz, float *dst) {
  const MemIo *m = user;
  memcpy(dst, m->vol + z0 * m->YX, sizeof(float) * (size_t)(nz * m->YX));
  return 0;
}

static int mem_emit(void *user, int64_t z, const float *p) {
  const MemIo *m = user;
  for (int c = 0; c < m->OUT; c++)
    memcpy(m->probs + (c * m->Z + z) * m->YX, p + c * m->YX, sizeof(float) * (size_t)m->YX);
  return 0;
}

int seg_infer_volume(SegNet *net, SegTask task, float *probs, const float *vol,
                     const int64_t dims[3], double overlap, int tta, SegInferProgress progress,
                     void *user, MaeError *err) {
  SegInferOptions o;
  seg_infer_options_default(&o);
  o.overlap = overlap, o.tta = tta;
  MemIo m = {vol, probs, dims[0], dims[1] * dims[2], seg_net_config(net)->out_channels};
  return seg_infer_stream(net, task, dims, &o, mem_read, &m, mem_emit, &m, progress, user, err);
}
