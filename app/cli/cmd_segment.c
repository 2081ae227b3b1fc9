/* semmae segment: a fine-tuned segmentation network over a whole volume,
 * writing instance labels (and optionally the probability maps). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli_common.h"
#include "cli_mae.h"
#include "cpu_budget.h"
#include "probs_writer.h"
#include "progress.h"
#include "seg_checkpoint.h"
#include "seg_infer.h"
#include "seg_task.h"

static const char usage[] =
    "usage: semmae segment --model S --data VOLUME [--out LABELS.tif] [--probs P.tif]\n"
    "         [--overlap F] [--tta] [--threads T] [--batch B]\n"
    "\n"
    "Runs the segmentation model S (from semmae finetune) over VOLUME in overlapping windows\n"
    "blended with Gaussian weights, turns the probabilities into instances and writes them\n"
    "as uint32 labels (0 = boundary/background):\n"
    "  neurons: affinities -> 2D watershed fragments -> mean-affinity agglomeration (0.5)\n"
    "  mito: foreground + contour -> seeded watershed (MitoEM style)\n"
    "  membrane: cells = watershed per slice from regions of membrane probability < 0.5\n"
    "\n"
    "  --probs P.tif   also write the float32 probabilities: one multi-page TIFF of C*Z\n"
    "                  pages, channel-major (all Z pages of channel 0, then channel 1, ...);\n"
    "                  channels: neurons z,y,x affinities; mito foreground, contour;\n"
    "                  membrane: membrane probability\n"
    "  --overlap F     share of a window its neighbours overlap, in [0, 1) (0.5)\n"
    "  --tta           also predict on y/x-flipped windows and average (4x slower)\n"
    "  --threads T     workers, each running its own windows (all CPUs)\n"
    "  --batch B       windows per forward pass and worker (2)\n"
    "\n"
    "At least one of --out and --probs. Memory: the network runs over z-slabs of one\n"
    "window height (input and blended probabilities of a slab, plus the windows in\n"
    "flight) and P.tif is written slice by slice as slabs finish; with --out the\n"
    "instance step also needs the whole probability volume and the labels, without it\n"
    "memory is bounded by a slab (and the uint8 input). The last line reports voxels\n"
    "per second (wall) and the CPU seconds of the windows and of the instances.\n";

static void on_progress(int64_t done, int64_t total, void *user) {
  CliProgress *p = user;
  p->total = total;
  cli_progress_update(p, done, NAN);
}

/* The input as read (uint8 EM stays one byte a voxel) or scaled to float
 * once (other types: their scaling needs the whole volume's quantiles);
 * slices come out scaled to [-1, 1] exactly as sm_volume_to_float does. */
typedef struct Source {
  const uint8_t *u8; /* (Z, Y, X) or NULL */
  const float *f32;  /* (Z, Y, X) or NULL */
  int64_t YX;
} Source;

static int source_read(void *user, int64_t z0, int64_t nz, float *dst) {
  const Source *s = user;
  size_t n = (size_t)(nz * s->YX), o = (size_t)(z0 * s->YX);
  if (s->f32) {
    memcpy(dst, s->f32 + o, sizeof(float) * n);
    return 0;
  }
  for (size_t i = 0; i < n; i++)
    dst[i] = (float)s->u8[o + i] / 127.5f - 1.0f;
  return 0;
}

/* finished slices into the channel-major probability volume (OUT, Z, Y, X)
 * for the instances and/or the probability TIFF */
typedef struct Sink {
  float *probs;       /* or NULL */
  ProbsWriter *pw;    /* or NULL */
  SmError err;        /* why pw failed */
  int64_t Z, YX;
  int OUT;
} Sink;

static int sink_emit(void *user, int64_t z, const float *p) {
  Sink *s = user;
  if (s->probs)
    for (int c = 0; c < s->OUT; c++)
      memcpy(s->probs + (c * s->Z + z) * s->YX, p + c * s->YX, sizeof(float) * (size_t)s->YX);
  return s->pw ? probs_writer_slice(s->pw, z, p, &s->err) : 0;
}

int cmd_segment(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("%s", usage);
    return 0;
  }
  const char *model = NULL, *data = NULL, *out = NULL, *probs_path = NULL;
  double overlap = 0.5;
  int64_t threads = 0, batch = 2;
  bool tta = false;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    if (strcmp(o, "--tta") == 0) {
      tta = true;
      continue;
    }
    if (i + 1 >= argc)
      return cli_usage_error("segment", "%s needs a value", o);
    const char *v = argv[++i];
    if (strcmp(o, "--model") == 0)
      model = v;
    else if (strcmp(o, "--data") == 0)
      data = v;
    else if (strcmp(o, "--out") == 0)
      out = v;
    else if (strcmp(o, "--probs") == 0)
      probs_path = v;
    else if (strcmp(o, "--overlap") == 0) {
      if (!cli_parse_double(v, &overlap) || !(overlap >= 0 && overlap < 1))
        return cli_usage_error("segment", "--overlap must be in [0, 1), got '%s'", v);
    } else if (strcmp(o, "--threads") == 0) {
      if (!cli_parse_i64(v, &threads) || threads < 1)
        return cli_usage_error("segment", "--threads needs a positive integer, got '%s'", v);
    } else if (strcmp(o, "--batch") == 0) {
      if (!cli_parse_i64(v, &batch) || batch < 1 || batch > 64)
        return cli_usage_error("segment", "--batch needs an integer in 1..64, got '%s'", v);
    } else
      return cli_usage_error("segment", "unknown option '%s'", o);
  }
  if (!model || !data || (!out && !probs_path))
    return cli_usage_error("segment", "--model, --data and --out or --probs are required");
  if ((out && cli_check_writable(out)) || (probs_path && cli_check_writable(probs_path)))
    return 1;
  cli_setup_threads((int)threads);
  SegNet *net;
  SmSegInfo info;
  SmError se;
  MaeError me;
  if (sm_seg_checkpoint_load(model, &net, &info, &se))
    return cli_fail("%s", se.message);
  float *scaled = NULL, *probs = NULL;
  SmVolume vinfo = {0}, lab = {0};
  Sink sink = {0};
  int rc = 1;
  if (sm_volume_read(data, &vinfo, &se)) {
    cli_fail("%s", se.message);
    goto done;
  }
  const int64_t dims[3] = {vinfo.nz, vinfo.ny, vinfo.nx};
  size_t NV = (size_t)(dims[0] * dims[1] * dims[2]);
  Source src = {.YX = dims[1] * dims[2]};
  if (vinfo.dtype == SM_U8) {
    src.u8 = vinfo.data;
  } else {
    if (!(scaled = malloc(sizeof(float) * NV))) {
      cli_fail("%s: out of memory for %zu voxels", data, NV);
      goto done;
    }
    sm_volume_to_float(&vinfo, scaled, NULL, NULL);
    free(vinfo.data);
    vinfo.data = NULL;
    src.f32 = scaled;
  }
  const int OUT = seg_net_config(net)->out_channels;
  if (out && !(probs = malloc(sizeof(float) * OUT * NV))) {
    cli_fail("%s: out of memory for the probabilities of %zu voxels", data, NV);
    goto done;
  }
  sink = (Sink){.probs = probs, .Z = dims[0], .YX = dims[1] * dims[2], .OUT = OUT};
  if (probs_path && probs_writer_open(&sink.pw, probs_path, OUT, dims[0], dims[1], dims[2],
                                      vinfo.voxel_size, vinfo.unit, &se)) {
    cli_fail("%s", se.message);
    goto done;
  }
  SegInferOptions io;
  seg_infer_options_default(&io);
  io.overlap = overlap, io.tta = tta, io.batch = (int)batch, io.threads = (int)threads;
  double t0 = cli_now(), c0 = cli_process_cpu_seconds();
  CliProgress prog;
  cli_progress_begin(&prog, "window", 0, 0, 100);
  int irc = seg_infer_stream(net, info.task, dims, &io, source_read, &src, sink_emit, &sink,
                             on_progress, &prog, &me);
  cli_progress_end(&prog);
  if (irc) {
    cli_fail("%s", sink.pw && sink.err.message[0] ? sink.err.message : me.message);
    goto done;
  }
  if (sink.pw) {
    ProbsWriter *pw = sink.pw;
    sink.pw = NULL;
    if (probs_writer_finish(pw, &se)) {
      cli_fail("%s", se.message);
      goto done;
    }
  }
  double t_net = cli_now() - t0, c_net = cli_process_cpu_seconds() - c0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double rss_net = ru.ru_maxrss / 1024.0; /* peak so far, MB */
  /* the input is not needed any more: give its memory to the labels */
  free(vinfo.data), free(scaled);
  vinfo.data = NULL, scaled = NULL;
  int64_t k = 0;
  double c_inst = 0;
  if (out) {
    if (sm_volume_alloc(&lab, SM_U32, dims[0], dims[1], dims[2], &se)) {
      cli_fail("%s", se.message);
      goto done;
    }
    memcpy(lab.voxel_size, vinfo.voxel_size, sizeof lab.voxel_size);
    memcpy(lab.unit, vinfo.unit, sizeof lab.unit);
    double c1 = cli_process_cpu_seconds();
    k = seg_task_instances(info.task, lab.data, probs, dims, &me);
    if (k < 0) {
      cli_fail("%s", me.message);
      goto done;
    }
    c_inst = cli_process_cpu_seconds() - c1;
    if (sm_volume_write(out, &lab, &se)) {
      cli_fail("%s", se.message);
      goto done;
    }
  }
  double secs = cli_now() - t0;
  if (out)
    printf("%s: %lld %s instances, ", out, (long long)k, seg_task_name(info.task));
  else
    printf("%s: %s probabilities, ", probs_path, seg_task_name(info.task));
  printf("%lldx%lldx%lld voxels in %.1f s (%.0f voxels/s); windows %.1f s wall, %.1f CPU-s "
         "(%.0f voxels/CPU-s, peak RSS %.0f MB); instances %.1f CPU-s\n",
         (long long)dims[0], (long long)dims[1], (long long)dims[2], secs,
         NV / (secs > 0 ? secs : 1), t_net, c_net, NV / (c_net > 0 ? c_net : 1), rss_net, c_inst);
  rc = 0;
done:
  probs_writer_abort(sink.pw);
  free(vinfo.data), free(scaled), free(probs);
  sm_volume_free(&lab);
  seg_net_free(net);
  return rc;
}
