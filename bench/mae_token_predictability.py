#!/usr/bin/python3
"""How much of a masked MAE token can its visible neighbours predict? (issue 4)

The MAE's norm-pix loss scores 255/256 = 0.99609 for predicting nothing (the patch mean).
Whether a model can do better depends on the data: this fits a ridge regression from the
visible neighbours of each 1 x 16 x 16 token (the 4-pixel border strips of the four
in-plane neighbours and the two z-neighbours, each present only when that neighbour is
visible at the given masking ratio) to the token's normalised pixels, and prints the
held-out loss per masking ratio next to the trivial score. On ISBI 2012 (4 x 4 x 50 nm)
a masked token is next to unpredictable from its neighbours at ratio 0.9.

usage: bench/mae_token_predictability.py FOLDER_OF_8BIT_GREY_PNG_SLICES [--ratios 0,0.5,0.75,0.9]
Needs numpy only (the PNG reader is below: non-interlaced 8-bit grey, as ISBI's slices).
"""
import argparse
import os
import struct
import zlib

import numpy as np

PATCH = 16
BORDER = 4


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def read_grey_png(path):
    data = open(path, 'rb').read()
    pos, idat, width, height = 8, b'', 0, 0
    while pos < len(data):
        n = struct.unpack('>I', data[pos:pos + 4])[0]
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            width, height, depth, colour = struct.unpack('>IIBB', body[:10])
            if depth != 8 or colour != 0 or body[12] != 0:
                raise SystemExit(f'{path}: only non-interlaced 8-bit grey PNG is read here')
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, width + 1)
    out = np.zeros((height, width), np.int32)
    prev = np.zeros(width, np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            cur = line
        elif kind == 2:
            cur = (line + prev) & 255
        else:  # sub, average, paeth depend on the pixel to the left: per pixel
            cur = np.zeros(width, np.int32)
            for x in range(width):
                a = cur[x - 1] if x else 0
                c = prev[x - 1] if x else 0
                pred = a if kind == 1 else (a + prev[x]) // 2 if kind == 3 else paeth(a, prev[x], c)
                cur[x] = (line[x] + pred) & 255
        out[y], prev = cur, cur
    return out


def read_folder(folder):
    names = sorted((f for f in os.listdir(folder) if f.endswith('.png')),
                   key=lambda f: (len(f), f))
    return np.stack([read_grey_png(os.path.join(folder, f)) for f in names]).astype(np.float32) / 127.5 - 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('folder')
    ap.add_argument('--ratios', default='0,0.5,0.75,0.9')
    a = ap.parse_args()
    vol = read_folder(a.folder)
    depth, gy, gx = vol.shape[0], vol.shape[1] // PATCH, vol.shape[2] // PATCH
    tok = vol[:, :gy * PATCH, :gx * PATCH].reshape(depth, gy, PATCH, gx, PATCH).transpose(0, 1, 3, 2, 4)
    flat = tok.reshape(depth, gy, gx, -1)
    target = (flat - flat.mean(-1, keepdims=True)) / np.sqrt(flat.var(-1, ddof=1, keepdims=True) + 1e-6)
    rng = np.random.default_rng(0)
    print(f'{a.folder}: {vol.shape[0]} x {vol.shape[1]} x {vol.shape[2]}, tokens 1 x {PATCH} x {PATCH}; '
          f'trivial score {(PATCH * PATCH - 1) / (PATCH * PATCH):.5f}')
    for ratio in (float(r) for r in a.ratios.split(',')):
        feats, targets = [], []
        for z in range(1, depth - 1):
            for y in range(1, gy - 1):
                for x in range(1, gx - 1):
                    parts = [tok[z, y - 1, x][-BORDER:], tok[z, y + 1, x][:BORDER],
                             tok[z, y, x - 1][:, -BORDER:], tok[z, y, x + 1][:, :BORDER],
                             tok[z - 1, y, x], tok[z + 1, y, x]]
                    row = []
                    for p in parts:
                        visible = rng.random() >= ratio
                        q = p.ravel()
                        row.append(q - q.mean() if visible else np.zeros_like(q))
                        row.append([float(visible)])
                    feats.append(np.concatenate(row))
                    targets.append(target[z, y, x])
        X, Y = np.array(feats), np.array(targets)
        train = np.arange(len(X)) < 0.7 * len(X)
        A = X[train]
        ridge = 0.1 * np.trace(A.T @ A) / A.shape[1]
        w = np.linalg.solve(A.T @ A + ridge * np.eye(A.shape[1]), A.T @ Y[train])
        held = np.mean((Y[~train] - X[~train] @ w) ** 2)
        print(f'mask ratio {ratio:.2f}: trivial {np.mean(Y[~train] ** 2):.4f}  '
              f'linear from the visible neighbours {held:.4f}')


if __name__ == '__main__':
    main()
