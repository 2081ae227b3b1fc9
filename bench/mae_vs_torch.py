#!/usr/bin/python3
"""semmae's MAE training step against the PyTorch peer, measured in one run.

Alternates `semmae bench` and the PyTorch peer ../shared/bench/torch_mae3d.py
(imported unchanged by bench/torch_step_cpu.py, which adds a CPU-time clock;
same shapes, same thread count) for several rounds per configuration, and
prints the per-step speed ratio (median over rounds of torch_s / semmae_s)
by wall time and by process CPU time, semmae's achieved GFLOP/s against the
sgemm peak measured in the same run, and the peak resident memory of
semmae's training process. Machines are shared and noisy: read the ratios,
not the absolute seconds. On an oversubscribed machine, wall time at 2
threads is dominated by OpenBLAS threads waiting for each other; there,
--threads 1 and the CPU-time ratio are the trustworthy figures.

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
TORCH_SCRIPT = os.path.join(ROOT, 'bench', 'torch_step_cpu.py')

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
        ratios, cpu_ratios, gflops, gflops_cpu, peaks, peaks_cpu = [], [], [], [], [], []
        s_rss = 0.0
        for r in range(a.rounds):
            out, _ = run([peak, '--threads', str(a.threads), '--size', '2048', '--reps', '5'], env)
            peaks.append(float(kv(out)['sgemm_gflops']))
            peaks_cpu.append(float(kv(out)['sgemm_gflops_cpu']))
            out, _ = run([semmae, 'bench', '--config', name, '--batch', str(batch), '--mask-ratio', '0.9',
                          '--steps', str(s_steps), '--threads', str(a.threads)], env)
            s = kv(out)
            s_rss = max(s_rss, float(s['peak_rss_mb']))
            s_step, s_cpu = float(s['median_step_s']), float(s['median_step_cpu_s'])
            flop = float(s['gflop_per_step'])
            gflops.append(flop / s_step)
            gflops_cpu.append(flop / s_cpu * a.threads)
            out, _ = run(['/usr/bin/python3', TORCH_SCRIPT] + shape +
                         ['--mask', '0.9', '--batch', str(batch), '--steps', str(t_steps),
                          '--threads', str(a.threads)], env)
            t = kv(out)
            t_step, t_cpu = float(t['step_s_median']), float(t['step_cpu_s_median'])
            ratios.append(t_step / s_step)
            cpu_ratios.append(t_cpu / s_cpu)
            print(f'{name} round {r + 1}: wall semmae {s_step:.4f} torch {t_step:.4f} s/step ratio {ratios[-1]:.2f}x | '
                  f'cpu semmae {s_cpu:.4f} torch {t_cpu:.4f} s/step ratio {cpu_ratios[-1]:.2f}x | '
                  f'semmae {gflops[-1]:.1f} GFLOP/s wall, {gflops_cpu[-1]:.1f} per CPU-s x threads; '
                  f'sgemm {peaks[-1]:.1f} wall, {peaks_cpu[-1]:.1f} cpu', flush=True)
        med = statistics.median
        summary.append((name, batch, med(ratios), min(ratios), max(ratios), med(cpu_ratios), min(cpu_ratios),
                        max(cpu_ratios), med(g / p for g, p in zip(gflops, peaks)),
                        med(g / p for g, p in zip(gflops_cpu, peaks_cpu)), med(gflops_cpu), med(peaks_cpu), s_rss))
    print()
    for (name, batch, ratio, lo, hi, cratio, clo, chi, share, cshare, gc, pc, rss) in summary:
        print(f'{name} batch {batch} mask 0.9, {a.threads} thread(s): semmae/PyTorch speed ratio '
              f'{ratio:.2f}x by wall time (rounds {lo:.2f}..{hi:.2f}), {cratio:.2f}x by CPU time '
              f'(rounds {clo:.2f}..{chi:.2f}); achieved {100 * share:.0f}% of the sgemm peak by wall time, '
              f'{100 * cshare:.0f}% by CPU time ({gc:.1f} of {pc:.1f} GFLOP/s); semmae peak RSS {rss:.0f} MB')

if __name__ == '__main__':
    main()
