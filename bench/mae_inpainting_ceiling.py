#!/usr/bin/env python3
"""How low can the masked norm-pix loss go on a volume, at a masking ratio, for a model that learns
fast? Trains a small 2D U-Net (PyTorch) as an inpainter on the MAE's own task: 6 x 96 x 96 crops,
1 x 16 x 16 tokens masked uniformly at random, the six slices (masked voxels, mask) as 12 channels,
loss = MSE against each masked token normalised by its own mean and variance, as semmae's MAE.

Not semmae: a yardstick for what the data allows in a given number of steps. On ISBI 2012 at mask 0.9
it is what says that "recognisable membranes after 2000 steps" is out of reach for any model tried
(see bench/README.md, "Inpainting ceiling").

  OPENBLAS_CORETYPE=Haswell /usr/bin/python3 bench/mae_inpainting_ceiling.py \
      --data ../shared/em-data/isbi2012/image [--mask 0.9] [--steps 3000] [--batch 8] [--threads 1]

Prints the mean loss of every 50 steps; the trivial score (predict each patch's mean) is 255/256.

With --blurred-truth S1,S2,... it trains nothing and prints the loss of an oracle that knows every
masked token up to a Gaussian blur of S pixels (each slice blurred, then normalised with the true
patch's mean and standard deviation): what a reconstruction that shows the membranes blurred by S
pixels would score.
"""
import argparse
import glob
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

CROP, TOKEN, GRID = (6, 96, 96), 16, (6, 6, 6)
N_TOKENS = GRID[0] * GRID[1] * GRID[2]


def load_png_stack(folder):
    files = sorted(glob.glob(os.path.join(folder, '*.png')), key=lambda p: int(os.path.basename(p)[:-4]))
    if not files:
        sys.exit(f'{folder}: no N.png slices')
    return np.stack([np.array(Image.open(f).convert('L')) for f in files]).astype(np.float32) / 127.5 - 1


def load_volume(path):
    if os.path.isdir(path):
        return load_png_stack(path)
    image, slices = Image.open(path), []
    for k in range(getattr(image, 'n_frames', 1)):
        image.seek(k)
        slices.append(np.array(image, dtype=np.float32))
    return np.stack(slices) / 127.5 - 1


class UNet2d(nn.Module):
    # (batch, 12, 96, 96) -> (batch, 6, 96, 96): three poolings, skips at every level
    def __init__(self, width=32):
        super().__init__()

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.GELU(), nn.Conv2d(o, o, 3, padding=1), nn.GELU())

        c = width
        self.e1, self.e2, self.e3, self.e4 = block(12, c), block(c, 2 * c), block(2 * c, 4 * c), block(4 * c, 4 * c)
        self.d3, self.d2, self.d1 = block(8 * c, 2 * c), block(4 * c, c), block(2 * c, c)
        self.out = nn.Conv2d(c, 6, 1)

    def forward(self, x):
        a = self.e1(x)
        b = self.e2(F.max_pool2d(a, 2))
        c = self.e3(F.max_pool2d(b, 2))
        d = self.e4(F.max_pool2d(c, 2))
        u = self.d3(torch.cat([F.interpolate(d, scale_factor=2), c], 1))
        u = self.d2(torch.cat([F.interpolate(u, scale_factor=2), b], 1))
        return self.out(self.d1(torch.cat([F.interpolate(u, scale_factor=2), a], 1)))


def patchify(v):
    # (batch, 6, 96, 96) -> (batch, 216, 256), token index (d * 6 + h) * 6 + w as semmae
    b = v.shape[0]
    return v.reshape(b, 6, 1, 6, 16, 6, 16).permute(0, 1, 3, 5, 2, 4, 6).reshape(b, N_TOKENS, TOKEN * TOKEN)


def blurred_truth_losses(vol, sigmas):
    # every 16 x 16 token of every slice, no masking: an oracle's score does not depend on the ratio
    nz, ny, nx = vol.shape
    ny, nx = ny - ny % TOKEN, nx - nx % TOKEN
    slices = torch.from_numpy(vol[:, :ny, :nx]).unsqueeze(1)

    def tokens(v):
        return v.reshape(nz, ny // TOKEN, TOKEN, nx // TOKEN, TOKEN).permute(0, 1, 3, 2, 4).reshape(-1, TOKEN * TOKEN)

    truth = tokens(slices)
    mean, std = truth.mean(-1, keepdim=True), (truth.var(-1, keepdim=True) + 1e-6) ** 0.5
    target = (truth - mean) / std
    for sigma in sigmas:
        r = int(3 * sigma + 0.5)
        g = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * sigma * sigma))
        g /= g.sum()
        blurred = F.conv2d(F.pad(slices, (r, r, 0, 0), mode='reflect'), g.view(1, 1, 1, -1))
        blurred = F.conv2d(F.pad(blurred, (0, 0, r, r), mode='reflect'), g.view(1, 1, -1, 1))
        loss = (((tokens(blurred) - mean) / std - target) ** 2).mean().item()
        print(f'blur sigma {sigma:g} px: loss {loss:.4f}')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data', required=True, help='folder of N.png slices or a multi-page TIFF')
    p.add_argument('--mask', type=float, default=0.9)
    p.add_argument('--steps', type=int, default=3000)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--blurred-truth', metavar='S1,S2,...', help='score blurred-truth oracles instead of training')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    vol = load_volume(a.data)
    if any(s < c for s, c in zip(vol.shape, CROP)):
        sys.exit(f'{a.data}: {vol.shape} is smaller than one 6 x 96 x 96 crop')
    if a.blurred_truth:
        blurred_truth_losses(vol, [float(s) for s in a.blurred_truth.split(',')])
        return
    net = UNet2d()
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=0)
    keep = int(N_TOKENS * (1 - a.mask))
    window = []
    for step in range(1, a.steps + 1):
        crops = np.empty((a.batch,) + CROP, np.float32)
        for b in range(a.batch):
            z, y, x = (rng.integers(0, vol.shape[i] - CROP[i] + 1) for i in range(3))
            crops[b] = vol[z:z + CROP[0], y:y + CROP[1], x:x + CROP[2]]
        v = torch.from_numpy(crops)
        order = torch.rand(a.batch, N_TOKENS).argsort(1)
        masked = torch.ones(a.batch, N_TOKENS)
        masked.scatter_(1, order[:, :keep], 0.0)
        mask_voxels = masked.reshape(a.batch, 6, 6, 1, 6, 1).expand(a.batch, 6, 6, 16, 6, 16).reshape(a.batch, *CROP)
        inputs = torch.cat([v * (1 - mask_voxels), mask_voxels], 1)
        target = patchify(v)
        target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6) ** 0.5
        loss = (((patchify(net(inputs)) - target) ** 2).mean(-1) * masked).sum() / masked.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        window.append(loss.item())
        if step % 50 == 0:
            print(f'step {step} loss {np.mean(window):.5f}', flush=True)
            window = []


if __name__ == '__main__':
    main()
