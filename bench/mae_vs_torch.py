#!/usr/bin/python3
"""semmae's MAE training step against the PyTorch peer, measured in one run.

Alternates `semmae bench` and ../shared/bench/torch_mae3d.py (same shapes,
same thread count) for several rounds per configuration, and prints the
per-step speed ratio (median over rounds of torch_s / semmae_s), semmae's
achieved GFLOP/s against the sgemm peak measured in the same run, and the
peak resident memory of semmae's training process. Machines are shared and
noisy: read the ratios, not the absolute seconds.

usage: bench/mae_vs_torch.py [--build BUILD] [--rounds R] [--threads T] [--quick]
  --quick  cpu-small only, fewer steps (a smoke test of the script)
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH_SCRIPT = os.path.join(ROOT, '..', 'shared', 'bench', 'torch_mae3d.py')

CONFIGS = {
    # name: (torch_mae3d.py shape arguments, batch, semmae steps, torch steps)
    'cpu-small': (['--vol', '6,96,96', '--patch', '1,16,16', '--dim', '192', '--depth', '6',
                   '--heads', '3', '--ddim', '128', '--ddepth', '2'], 8, 20, 10),
    'paper-base': (['--vol', '6,96,96', '--patch', '1,16,16', '--dim', '768', '--depth', '12',
                    '--heads', '12', '--ddim', '384', '--ddepth', '8'], 4, 6, 4),
}


def run(cmd, env):
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return out, time.perf_counter() - t


def kv(text):
    return dict(re.findall(r'(\w+)=([-+0-9.eE]+)', text))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--quick', action='store_true')
    a = ap.parse_args()
    semmae = os.path.join(a.build, 'app', 'cli', 'semmae')
    peak = os.path.join(a.build, 'bench', 'sgemm_peak')
    for exe in (semmae, peak):
        if not os.access(exe, os.X_OK):
            sys.exit(f'{exe}: not built (meson compile -C {a.build})')
    env = dict(os.environ, OPENBLAS_CORETYPE=os.environ.get('OPENBLAS_CORETYPE', 'Haswell'),
               OMP_NUM_THREADS=str(a.threads))
    configs = ['cpu-small'] if a.quick else list(CONFIGS)
    print(f'# threads={a.threads} rounds={a.rounds} (alternating semmae / torch / sgemm peak)')
    summary = []
    for name in configs:
        shape, batch, s_steps, t_steps = CONFIGS[name]
        if a.quick:
            s_steps, t_steps = 5, 3
        ratios, gflops, peaks, s_times, t_times = [], [], [], [], []
        s_rss = 0.0
        for r in range(a.rounds):
            out, _ = run([peak, '--threads', str(a.threads), '--size', '2048', '--reps', '5'], env)
            peaks.append(float(kv(out)['sgemm_gflops']))
            out, _ = run([semmae, 'bench', '--config', name, '--batch', str(batch), '--mask-ratio', '0.9',
                          '--steps', str(s_steps), '--threads', str(a.threads)], env)
            s = kv(out)
            s_rss = max(s_rss, float(s['peak_rss_mb']))
            s_step = float(s['median_step_s'])
            gflops.append(float(s['gflops']))
            out, _ = run(['/usr/bin/python3', TORCH_SCRIPT] + shape +
                         ['--mask', '0.9', '--batch', str(batch), '--steps', str(t_steps),
                          '--threads', str(a.threads)], env)
            t_step = float(kv(out)['step_s_median'])
            s_times.append(s_step)
            t_times.append(t_step)
            ratios.append(t_step / s_step)
            print(f'{name} round {r + 1}: semmae {s_step:.4f} s/step  torch {t_step:.4f} s/step  '
                  f'ratio {t_step / s_step:.2f}x  semmae {gflops[-1]:.1f} GFLOP/s  '
                  f'sgemm peak {peaks[-1]:.1f} GFLOP/s', flush=True)
        ratio = statistics.median(ratios)
        share = statistics.median(g / p for g, p in zip(gflops, peaks))
        summary.append((name, batch, ratio, min(ratios), max(ratios), statistics.median(gflops),
                        statistics.median(peaks), share, s_rss, statistics.median(s_times),
                        statistics.median(t_times)))
    print()
    for (name, batch, ratio, lo, hi, g, p, share, rss, s_t, t_t) in summary:
        print(f'{name} batch {batch} mask 0.9: semmae is {ratio:.2f}x faster per step than PyTorch '
              f'(rounds {lo:.2f}..{hi:.2f}; medians {s_t:.4f} vs {t_t:.4f} s); '
              f'{g:.1f} GFLOP/s = {100 * share:.0f}% of sgemm peak {p:.1f}; semmae peak RSS {rss:.0f} MB')


if __name__ == '__main__':
    main()
