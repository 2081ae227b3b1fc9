#!/usr/bin/python3
"""How fast does the MAE leave the "predict the patch mean" plateau? (issue 4)

Runs `semmae pretrain` twice on one volume with the same seed, steps, batch, mask ratio and
learning rate: once as semmae starts by default (local attention, sin-cos tables of max frequency
2.5 and temperature 10) and once with `--reference-init` (the reference MAE's xavier attention and
1 / 10000 tables), side by side on one thread each. Then prints, per window of steps, the mean
masked norm-pix loss of both, the first step whose 100-step mean is 0.002 below the trivial score
(255/256 = 0.99609 for 16x16 tokens: predicting the patch mean), and the ratio of those steps.
With --heldout VOLUME it also reconstructs that volume with both models (`semmae reconstruct`,
mask ratio of the run, seed 0) and prints their masked loss there.

usage: bench/mae_learning_speed.py --semmae build/app/cli/semmae --data VOLUME --work DIR
           [--steps 2000] [--batch 8] [--mask 0.9] [--lr 1e-3] [--seed 0] [--window 200]
           [--heldout VOLUME] [--extra "--no-augment"]
"""
import argparse
import csv
import os
import subprocess
import sys

TRIVIAL = 255 / 256
MARGIN = 0.002


def losses(path):
    with open(path) as f:
        return [float(r['loss']) for r in csv.DictReader(f)]


def first_below(loss, level, span=100):
    total = sum(loss[:span])
    for end in range(span, len(loss) + 1):
        if total / span < level:
            return end
        if end < len(loss):
            total += loss[end] - loss[end - span]
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--semmae', required=True)
    ap.add_argument('--data', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--steps', type=int, default=2000)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--mask', type=float, default=0.9)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--window', type=int, default=200)
    ap.add_argument('--heldout')
    ap.add_argument('--extra', default='')
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    env = dict(os.environ, OPENBLAS_CORETYPE=os.environ.get('OPENBLAS_CORETYPE', 'Haswell'))
    arms = {'semmae (local)': [], 'reference MAE init': ['--reference-init']}
    jobs = {}
    for name, flag in arms.items():
        tag = 'local' if not flag else 'reference'
        log = os.path.join(a.work, f'{tag}.csv')
        if os.path.exists(log):
            os.remove(log)
        cmd = [a.semmae, 'pretrain', '--data', a.data, '--out', os.path.join(a.work, f'{tag}.safetensors'),
               '--steps', str(a.steps), '--batch', str(a.batch), '--mask-ratio', str(a.mask),
               '--lr', str(a.lr), '--seed', str(a.seed), '--threads', '1', '--log', log,
               '--save-every', '0'] + flag + a.extra.split()
        jobs[name] = (tag, log, subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                                 stderr=open(os.path.join(a.work, f'{tag}.stderr'), 'w')))
    for name, (tag, _, p) in jobs.items():
        if p.wait():
            sys.exit(f'{name}: semmae pretrain failed, see {a.work}/{tag}.stderr')

    curves = {name: losses(log) for name, (_, log, _) in jobs.items()}
    print(f'# {a.data}: cpu-small, {a.steps} steps, batch {a.batch}, mask {a.mask}, lr {a.lr}, seed {a.seed}; '
          f'trivial score {TRIVIAL:.5f}')
    names = list(curves)
    print('| steps | ' + ' | '.join(names) + ' |')
    print('|---|' + '---|' * len(names))
    for end in range(a.window, a.steps + 1, a.window):
        cells = [f'{sum(c[end - a.window:end]) / a.window:.5f}' for c in curves.values()]
        print(f'| {end - a.window + 1}-{end} | ' + ' | '.join(cells) + ' |')
    reach = {n: first_below(c, TRIVIAL - MARGIN) for n, c in curves.items()}
    for n, s in reach.items():
        print(f'{n}: 100-step mean below {TRIVIAL - MARGIN:.5f} from step {s if s else f"> {a.steps}"}')
    ref, loc = reach['reference MAE init'], reach['semmae (local)']
    if loc:
        ratio = f'{ref / loc:.2f}x' if ref else f'> {a.steps / loc:.2f}x'
        print(f'plateau_escape_ratio={ratio} (reference steps / semmae steps)')
    elif ref:
        print(f'plateau_escape_ratio={ref / a.steps:.2f}x or less (only the reference start left the plateau)')
    else:
        print('plateau_escape_ratio=n/a (neither start left the plateau within the run)')
    if a.heldout:
        for name, (tag, _, _) in jobs.items():
            out = subprocess.run([a.semmae, 'reconstruct', '--model', os.path.join(a.work, f'{tag}.safetensors'),
                                  '--data', a.heldout, '--out', os.path.join(a.work, f'{tag}-recon.tif'),
                                  '--threads', '2'], env=env, capture_output=True, text=True)
            line = [s for s in out.stderr.splitlines() if 'masked norm-pix loss' in s]
            print(f'held-out {a.heldout}, {name}: {line[-1].split(";")[0].replace("semmae: ", "") if line else out.stderr.strip()}')


if __name__ == '__main__':
    main()
