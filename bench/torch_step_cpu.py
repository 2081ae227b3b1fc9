#!/usr/bin/python3
"""The PyTorch peer's training step (../shared/bench/torch_mae3d.py, imported
unchanged: same model, optimizer and loop), timed by both wall clock and the
process's CPU time. With --threads 1 on a shared, oversubscribed machine the
CPU time per step is the steadier figure. Same arguments as torch_mae3d.py;
prints step_s_median= and step_cpu_s_median=."""
import argparse
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'bench'))
import torch  # noqa: E402
import torch_mae3d as peer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--vol', default='16,128,128'); ap.add_argument('--patch', default='4,16,16')
    ap.add_argument('--dim', type=int, default=192); ap.add_argument('--depth', type=int, default=6)
    ap.add_argument('--heads', type=int, default=3); ap.add_argument('--ddim', type=int, default=128)
    ap.add_argument('--ddepth', type=int, default=2); ap.add_argument('--mask', type=float, default=.75)
    ap.add_argument('--batch', type=int, default=4); ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args(); torch.set_num_threads(a.threads); torch.manual_seed(0)
    vol, patch = peer.trip(a.vol), peer.trip(a.patch)
    m = peer.MAE3D(vol, patch, a.dim, a.depth, a.heads, a.ddim, a.ddepth)
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1.5e-4, weight_decay=.05)
    x = torch.rand(a.batch, *vol)
    wall, cpu = [], []
    for i in range(a.steps + 2):
        t, c = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = m(x, a.mask); loss.backward(); opt.step()
        if i >= 2:
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    print(f"torch {torch.__version__} threads={a.threads} loss={loss.item():.4f}")
    print(f"step_s_median={statistics.median(wall):.4f} step_cpu_s_median={statistics.median(cpu):.4f} "
          f"voxels_per_s={a.batch * math.prod(vol) / statistics.median(wall):.0f}")


if __name__ == '__main__':
    main()
