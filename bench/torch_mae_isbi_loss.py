#!/usr/bin/python3
"""Reference loss curve for `semmae pretrain` (cpu-small) on the ISBI 2012 slices.

Trains the reference MAE layout of tests/engine/mae_reference.py (6x96x96 crops,
1x16x16 tokens, encoder 192x6x3, decoder 128x2x4, norm-pix MSE on masked tokens)
with the optimiser semmae uses (AdamW 0.9/0.999, weight decay 0, clip 1,
linear warm-up steps/20 then cosine to 0) on random crops scaled x/127.5-1,
and prints the loss every --every steps, so its curve can be compared with
`semmae pretrain --log`. Also prints what a constant-zero prediction scores.
It starts as the reference MAE does (`semmae pretrain --reference-init`), or with
--local-init as semmae does by default (engine/mae_attn_init.h: sin-cos tables of
max frequency 2.5 and temperature 10, similarity heads in the encoder, offset heads
in the decoder), so PyTorch shows whether a faster start is the start's doing.

usage: torch_mae_isbi_loss.py [--data DIR] [--steps 300] [--batch 8] [--lr 1.5e-3]
                              [--mask 0.9] [--every 20] [--seed 0] [--local-init]
"""
import argparse
import glob
import math
import os
import sys

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'engine'))
from mae_reference import MaskedAutoencoder3D, sincos_3d  # noqa: E402


def load_stack(folder):
    if folder.endswith(('.tif', '.tiff')):  # a multi-page TIFF, e.g. fibsem-mini
        im = Image.open(folder)
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.array(im))
        return np.stack(frames)
    files = sorted(glob.glob(os.path.join(folder, '*.png')),
                   key=lambda p: int(os.path.splitext(os.path.basename(p))[0]))
    return np.stack([np.array(Image.open(f).convert('L')) for f in files])


def offset_of_head(k, grid):
    """engine/mae_attn_init.c: x-1, x+1, y-1, y+1, z-1, z+1 (axes longer than 1), self."""
    axes = [a for a in (2, 1, 0) if grid[a] > 1]
    o = k % (2 * len(axes) + 1)
    delta = [0, 0, 0]
    if o < 2 * len(axes):
        delta[axes[o // 2]] = 1 if o % 2 else -1
    return delta


def init_local_attention(model, max_freq, temperature, gen):
    """engine/mae_attn_init.c in numpy: query/key rows only (same distributions,
    not the same draws)."""
    with torch.no_grad():
        for blk in model.blocks:  # similarity heads, scale 1.2
            W = blk.norm1.weight.shape[0]
            g = 1.2 * gen.standard_normal((W, W)) / np.sqrt(W)
            blk.attn.qkv.weight[:W] = torch.from_numpy(g).float()
            blk.attn.qkv.weight[W:2 * W] = torch.from_numpy(g).float()
        for b, blk in enumerate(model.decoder_blocks):  # offset heads, scale 2
            W, H = blk.norm1.weight.shape[0], blk.attn.num_heads
            d, n = W // H, 2 * (W // 6)
            m = (W - 2 * n) & ~1
            base, length = (0, n, 2 * n), (n, n, m)
            k = 2.0 * gen.standard_normal((W, W)) / np.sqrt(W)
            q = k.copy()
            for h in range(H):
                delta = offset_of_head(b * H + h, model.grid)
                rows = slice(h * d, (h + 1) * d)
                for a in range(3):
                    if not delta[a]:
                        continue
                    half = length[a] // 2
                    turn = max_freq * temperature ** (-np.arange(half) / half) * delta[a]
                    u, v = base[a] + np.arange(half), base[a] + half + np.arange(half)
                    gu, gv = k[rows][:, u], k[rows][:, v]
                    q[rows, u] = gu * np.cos(turn) - gv * np.sin(turn)
                    q[rows, v] = gu * np.sin(turn) + gv * np.cos(turn)
            blk.attn.qkv.weight[:W] = torch.from_numpy(q).float()
            blk.attn.qkv.weight[W:2 * W] = torch.from_numpy(k).float()


def init_like_mae(model, max_freq=1.0, temperature=10000.0):
    """facebookresearch/mae initialize_weights: sin-cos tables, xavier-uniform
    Linear and patch-embed weights (on the 2-D view), zero biases, N(0, .02) tokens."""
    with torch.no_grad():
        model.pos_embed.copy_(torch.from_numpy(
            sincos_3d(model.pos_embed.shape[-1], model.grid, max_freq, temperature)).float()[None])
        model.decoder_pos_embed.copy_(torch.from_numpy(
            sincos_3d(model.decoder_pos_embed.shape[-1], model.grid, max_freq, temperature)).float()[None])
        w = model.patch_embed.proj.weight
        torch.nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        torch.nn.init.normal_(model.cls_token, std=.02)
        torch.nn.init.normal_(model.mask_token, std=.02)
        for m in model.modules():
            if isinstance(m, torch.nn.Linear):
                torch.nn.init.xavier_uniform_(m.weight)
                torch.nn.init.zeros_(m.bias)
            elif isinstance(m, torch.nn.LayerNorm):
                torch.nn.init.ones_(m.weight)
                torch.nn.init.zeros_(m.bias)


def random_mask(B, L, ratio, gen):
    n_mask = int(round(L * ratio))
    ids = torch.rand(B, L, generator=gen).argsort(1)
    mask = torch.zeros(B, L, dtype=torch.bool)
    mask.scatter_(1, ids[:, :n_mask], True)
    return mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='/work/shared/em-data/isbi2012/image', help='PNG folder or multi-page TIFF')
    ap.add_argument('--steps', type=int, default=300)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--lr', type=float, default=1.5e-3)
    ap.add_argument('--mask', type=float, default=0.9)
    ap.add_argument('--every', type=int, default=20)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--raw', action='store_true',
                    help='sanity check: raw-voxel target instead of norm-pix (semmae has no such mode)')
    ap.add_argument('--local-init', action='store_true',
                    help="start as semmae does by default instead of as the reference MAE")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    rs = np.random.default_rng(a.seed)

    stack = load_stack(a.data)
    D, H, W = 6, 96, 96
    model = MaskedAutoencoder3D((D, H, W), (1, 16, 16), 192, 6, 3, 128, 2, 4)
    if a.local_init:
        init_like_mae(model, 2.5, 10.0)
        init_local_attention(model, 2.5, 10.0, np.random.default_rng(a.seed))
    else:
        init_like_mae(model)
    L = math.prod(model.grid)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    opt = torch.optim.AdamW([p for _, p in named], lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    warm = max(1, a.steps // 20)

    def lr_at(k):  # k = 0-based step, as mae_lr_at
        if k < warm:
            return a.lr * (k + 1) / warm
        return 0.5 * a.lr * (1 + math.cos(math.pi * (k - warm) / max(1, a.steps - warm)))

    def batch():
        out = np.empty((a.batch, D, H, W), np.float32)
        for b in range(a.batch):
            z = rs.integers(0, stack.shape[0] - D + 1)
            y = rs.integers(0, stack.shape[1] - H + 1)
            x = rs.integers(0, stack.shape[2] - W + 1)
            out[b] = stack[z:z + D, y:y + H, x:x + W]
        return torch.from_numpy(out / 127.5 - 1.0)

    # what predicting 0 (= the patch mean after normalisation) scores
    vol = batch()
    t = model.patchify(vol)
    t = (t - t.mean(-1, keepdim=True)) / (t.var(-1, keepdim=True) + 1e-6) ** .5
    P = t.shape[-1]
    if a.raw:
        print(f"# raw target: predicting the crop-batch mean scores {float(model.patchify(vol).var()):.6f}")
    print(f"# zero prediction: loss {float((t ** 2).mean()):.6f}  ((P-1)/P = {(P - 1) / P:.6f}, P = {P})")

    window = []
    for k in range(a.steps):
        for g in opt.param_groups:
            g['lr'] = lr_at(k)
        vol = batch()
        mask = random_mask(a.batch, L, a.mask, gen)
        pred, loss = model(vol, mask)
        if a.raw:
            m = mask.float()
            loss = (((pred - model.patchify(vol)) ** 2).mean(-1) * m).sum() / m.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in named], 1.0)
        opt.step()
        window.append(loss.item())
        if (k + 1) % a.every == 0 or k == 0:
            print(f"step {k + 1:5d} loss {loss.item():.5f} mean{len(window):3d} {np.mean(window):.5f} "
                  f"lr {lr_at(k):.3g}", flush=True)
            window = []


if __name__ == '__main__':
    main()
