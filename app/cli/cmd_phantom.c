/* semmae phantom OUT.tif: a synthetic serial-SEM volume of neuropil with
 * exact ground truth (neurite labels, mitochondria), for trying the tools
 * without data and for tests. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_common.h"
#include "data/phantom.h"
#include "data/volume.h"

static const char usage[] =
    "usage: semmae phantom OUT.tif [--labels L.tif] [--mito M.tif] [--shape Z,Y,X] [--seed N]\n"
    "                      [--anisotropy A] [--noise X]\n"
    "\n"
    "Writes a synthetic serial-SEM volume of neuropil: neurites with dark membranes,\n"
    "mitochondria and vesicle clouds, SEM blur and noise. The same options and seed\n"
    "give the same volume, bit for bit.\n"
    "\n"
    "options:\n"
    "  --labels L.tif     also write the neurite instance labels (uint32, 0 on membranes)\n"
    "  --mito M.tif       also write the mitochondrion instance ids (uint32, 0 elsewhere)\n"
    "  --shape Z,Y,X      size in voxels (default 64,256,256)\n"
    "  --seed N           random seed (default 1)\n"
    "  --anisotropy A     z voxel size / xy voxel size (default 1: 4 x 4 x 4 nm;\n"
    "                     e.g. 10 for 40 nm sections)\n"
    "  --noise X          SEM noise strength, 0 = none, 1 = typical (default 1)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Files are deflate-compressed TIFFs with the voxel size in nm, written to a\n"
    "temporary file and renamed, so an interrupted run leaves no partial file.\n";

enum { MAX_OUTPUTS = 3 };

/* A value option given as "--name VALUE" or "--name=VALUE". Returns the value,
 * NULL when argv[*i] is not this option; *missing is set when it is but has
 * no value. */
static const char *option_value(int argc, char **argv, int *i, const char *name, bool *missing) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, n) != 0) return NULL;
  if (a[n] == '=') return a + n + 1;
  if (a[n] != '\0') return NULL;
  if (*i + 1 >= argc) {
    *missing = true;
    return NULL;
  }
  return argv[++*i];
}

/* Fails early, before the generation's work, when a file cannot be created
 * where it is asked for. */
static int check_writable(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return cli_fail("%s: is a directory", path);
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  const char *dir = dirname(buf);
  if (stat(dir, &st) != 0) return cli_fail("%s: cannot write: %s", path, strerror(errno));
  if (!S_ISDIR(st.st_mode)) return cli_fail("%s: cannot write: %s is not a directory", path, dir);
  if (access(dir, W_OK) != 0) return cli_fail("%s: cannot write: %s", path, strerror(errno));
  return 0;
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

static uint32_t max_id(const SmVolume *v) {
  const uint32_t *d = v->data;
  uint32_t m = 0;
  for (size_t i = 0, n = sm_volume_voxels(v); i < n; i++)
    if (d[i] > m) m = d[i];
  return m;
}

int cmd_phantom(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("%s", usage);
    return 0;
  }
  SmPhantomParams p;
  sm_phantom_default_params(&p);
  const char *out = NULL, *labels_path = NULL, *mito_path = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    bool missing = false;
    if ((v = option_value(argc, argv, &i, "--labels", &missing))) {
      labels_path = v;
    } else if ((v = option_value(argc, argv, &i, "--mito", &missing))) {
      mito_path = v;
    } else if ((v = option_value(argc, argv, &i, "--shape", &missing))) {
      int64_t shape[3];
      if (!cli_parse_shape(v, shape))
        return cli_usage_error("phantom", "--shape wants Z,Y,X positive integers, not '%s'", v);
      p.nz = shape[0];
      p.ny = shape[1];
      p.nx = shape[2];
    } else if ((v = option_value(argc, argv, &i, "--seed", &missing))) {
      if (!cli_parse_u64(v, &p.seed))
        return cli_usage_error("phantom", "--seed wants a non-negative integer, not '%s'", v);
    } else if ((v = option_value(argc, argv, &i, "--anisotropy", &missing))) {
      if (!cli_parse_double(v, &p.z_anisotropy) || !(p.z_anisotropy >= 0.1 && p.z_anisotropy <= 100))
        return cli_usage_error("phantom", "--anisotropy wants a number in [0.1, 100], not '%s'", v);
    } else if ((v = option_value(argc, argv, &i, "--noise", &missing))) {
      if (!cli_parse_double(v, &p.noise) || !(p.noise >= 0 && p.noise <= 10))
        return cli_usage_error("phantom", "--noise wants a number in [0, 10], not '%s'", v);
    } else if (missing) {
      return cli_usage_error("phantom", "%s needs a value", a);
    } else if (strcmp(a, "--") == 0) {
      if (i + 1 < argc && !out) out = argv[++i];
    } else if (a[0] == '-' && a[1]) {
      return cli_usage_error("phantom", "unknown option '%s'", a);
    } else if (!out) {
      out = a;
    } else {
      return cli_usage_error("phantom", "one OUT.tif at a time ('%s' is extra)", a);
    }
  }
  if (!out) return cli_usage_error("phantom", "missing OUT.tif");

  const char *paths[MAX_OUTPUTS] = {out, labels_path, mito_path};
  for (int i = 0; i < MAX_OUTPUTS; i++) {
    if (!paths[i]) continue;
    for (int j = 0; j < i; j++)
      if (paths[j] && strcmp(paths[i], paths[j]) == 0)
        return cli_usage_error("phantom", "'%s' is given for two outputs", paths[i]);
    if (check_writable(paths[i]) != 0) return 1;
  }

  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  SmError err;
  SmVolume vols[MAX_OUTPUTS];
  memset(vols, 0, sizeof vols);
  if (sm_phantom_generate(&p, &vols[0], labels_path ? &vols[1] : NULL,
                          mito_path ? &vols[2] : NULL, &err) != 0)
    return cli_fail("%s", err.message);
  double gen_seconds = seconds_since(&t0);
  uint32_t n_cells = labels_path ? max_id(&vols[1]) : 0;
  uint32_t n_mito = mito_path ? max_id(&vols[2]) : 0;

  /* All outputs or none: a later failure removes what this run wrote. */
  int status = 0;
  for (int i = 0; i < MAX_OUTPUTS && status == 0; i++) {
    if (!paths[i]) continue;
    if (sm_volume_write(paths[i], &vols[i], &err) != 0) {
      status = cli_fail("%s", err.message);
      for (int j = 0; j < i; j++)
        if (paths[j]) unlink(paths[j]);
    }
  }
  for (int i = 0; i < MAX_OUTPUTS; i++) sm_volume_free(&vols[i]);
  if (status != 0) return status;

  printf("%s: %lld x %lld x %lld uint8, voxel %g x %g x %g nm, seed %llu (generated in %.2f s)\n",
         out, (long long)p.nz, (long long)p.ny, (long long)p.nx, p.xy_voxel_nm * p.z_anisotropy,
         p.xy_voxel_nm, p.xy_voxel_nm, (unsigned long long)p.seed, gen_seconds);
  if (labels_path) printf("%s: %u neurite pieces (uint32, 0 on membranes)\n", labels_path, n_cells);
  if (mito_path) printf("%s: %u mitochondria (uint32)\n", mito_path, n_mito);
  return 0;
}
