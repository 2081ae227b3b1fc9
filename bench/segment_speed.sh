#!/bin/sh
# Speed of `semmae segment` on a whole volume (issue 7: the 10 x 1024 x 1024 VNC stack in
# under 3 minutes on 2 cores). Prints voxels/s by wall time and by CPU time, the wall time
# an idle machine would take (CPU seconds / threads: the workers scale, see bench/README.md),
# its ratio to the 3-minute target (scaled to the volume's size), the load average and the
# peak resident memory.
#
#   bench/segment_speed.sh [--build DIR] [--model S.safetensors] [--data VOLUME]
#                          [--threads T] [--batch B] [--tta]
#
# Without --model a cpu-small membrane model is fine-tuned for 2 steps on ISBI 2012 first
# (speed does not depend on the weights).
set -eu
build=build
model=
data=../shared/em-data/vnc-stack1/raw
threads=2
extra=
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batch) extra="$extra --batch $2"; shift 2 ;;
    --tta) extra="$extra --tta"; shift ;;
    *) echo "segment_speed.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
: "${OPENBLAS_CORETYPE:=Haswell}"
export OPENBLAS_CORETYPE
semmae=$build/app/cli/semmae
[ -x "$semmae" ] || { echo "segment_speed.sh: $semmae not built" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$model" ]; then
  isbi=../shared/em-data/isbi2012
  "$semmae" finetune --task membrane --data $isbi/image --labels $isbi/label --scratch \
    --steps 2 --threads "$threads" --out "$tmp/model.safetensors" >/dev/null 2>&1
  model=$tmp/model.safetensors
fi
load0=$(cut -d' ' -f1 /proc/loadavg)
# shellcheck disable=SC2086
if ! /usr/bin/time -v -o "$tmp/time.txt" "$semmae" segment --model "$model" --data "$data" \
  --out "$tmp/labels.tif" --probs "$tmp/probs.tif" --threads "$threads" $extra \
  >"$tmp/out.txt" 2>"$tmp/err.txt"; then
  tail -n 3 "$tmp/err.txt" >&2
  exit 1
fi
load1=$(cut -d' ' -f1 /proc/loadavg)
tail -n 1 "$tmp/out.txt"
awk -v threads="$threads" -v load0="$load0" -v load1="$load1" '
  FNR == NR {
    if (match($0, /[0-9]+x[0-9]+x[0-9]+ voxels/)) {
      split(substr($0, RSTART, RLENGTH - 7), d, "x"); voxels = d[1] * d[2] * d[3]
    }
    if (match($0, /windows [0-9.]+ s wall, [0-9.]+ CPU-s/)) {
      split(substr($0, RSTART, RLENGTH), w, " "); win_wall = w[2]; win_cpu = w[5]
    }
    next
  }
  /User time/ { user = $NF }
  /System time/ { sys = $NF }
  /Elapsed \(wall clock\)/ {
    n = split($NF, t, ":"); wall = 0
    for (i = 1; i <= n; i++) wall = wall * 60 + t[i]
  }
  /Maximum resident/ { rss = $NF / 1024 }
  END {
    cpu = user + sys; idle = cpu / threads
    target = 180 * voxels / (10 * 1024 * 1024)
    printf "voxels=%d threads=%d load_avg_before=%s load_avg_after=%s\n", voxels, threads, load0, load1
    printf "wall_s=%.1f cpu_s=%.1f windows_wall_s=%.1f windows_cpu_s=%.1f peak_rss_mb=%.0f\n", wall, cpu, win_wall, win_cpu, rss
    printf "voxels_per_s=%.0f voxels_per_cpu_s=%.0f\n", voxels / wall, voxels / cpu
    printf "idle_wall_estimate_s=%.1f target_s=%.1f target_ratio_idle=%.2f target_ratio_measured=%.2f\n", idle, target, target / idle, target / wall
  }' "$tmp/out.txt" "$tmp/time.txt"
