#!/usr/bin/python3
"""The reference MAE layout (facebookresearch/mae models_mae.py: timm Blocks,
cls token, fixed sin-cos tables, decoder over all tokens) with a 3D patch
embedding (Conv3d, kernel = stride = patch), in PyTorch. Used by the parity
test: a semmae checkpoint must load with model.load_state_dict (strict) and
give the same decoder output for the same input and mask.

usage: mae_reference.py CHECKPOINT DIR
       mae_reference.py --volume CHECKPOINT INPUT.tif MASK.tif PRED.tif RECON.tif
       mae_reference.py --step BEFORE.safetensors DIR AFTER.safetensors
  (the second form checks `semmae reconstruct` outputs of a one-crop uint8 volume,
   the third one training step: gradients, clipping and AdamW)
  DIR holds input.f32 (B, D, H, W), mask.u8 (B, L; 1 = masked), pred.f32
  (B, L, P) and loss.txt written by semmae. Prints '# ...' diagnostics and
  'RESULT name ok|fail' lines; exits 0 when all hold.
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    meta = header.pop('__metadata__', None) or {}
    tensors = {}
    for name, info in header.items():
        assert info['dtype'] == 'F32', (name, info['dtype'])
        b, e = info['data_offsets']
        arr = np.frombuffer(data[base + b:base + e], dtype='<f4').reshape(info['shape'])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, meta


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed3D(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv3d(1, dim, kernel_size=patch, stride=patch)

    def forward(self, x):  # (B, 1, D, H, W) -> (B, L, C), token order (d, h, w)
        return self.proj(x).flatten(2).transpose(1, 2)


class MaskedAutoencoder3D(nn.Module):
    def __init__(self, input_size, patch_size, embed_dim, depth, num_heads, decoder_embed_dim,
                 decoder_depth, decoder_num_heads, mlp_ratio=4.0, ln_eps=1e-6):
        super().__init__()
        self.input_size, self.patch_size = input_size, patch_size
        self.grid = tuple(i // p for i, p in zip(input_size, patch_size))
        L = math.prod(self.grid)
        P = math.prod(patch_size)
        self.patch_embed = PatchEmbed3D(patch_size, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, L + 1, embed_dim), requires_grad=False)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, ln_eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=ln_eps)
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, L + 1, decoder_embed_dim), requires_grad=False)
        self.decoder_blocks = nn.ModuleList(
            [Block(decoder_embed_dim, decoder_num_heads, mlp_ratio, ln_eps) for _ in range(decoder_depth)])
        self.decoder_norm = nn.LayerNorm(decoder_embed_dim, eps=ln_eps)
        self.decoder_pred = nn.Linear(decoder_embed_dim, P, bias=True)

    def patchify(self, vol):  # (B, D, H, W) -> (B, L, P), voxels (pd, ph, pw) row-major
        B = vol.shape[0]
        (gd, gh, gw), (pd, ph, pw) = self.grid, self.patch_size
        x = vol.reshape(B, gd, pd, gh, ph, gw, pw).permute(0, 1, 3, 5, 2, 4, 6)
        return x.reshape(B, gd * gh * gw, pd * ph * pw)

    def forward(self, vol, mask):
        """vol (B, D, H, W); mask (B, L) bool, True = masked. Returns pred (B, L, P), loss."""
        B = vol.shape[0]
        x = self.patch_embed(vol[:, None]) + self.pos_embed[:, 1:, :]
        L, C = x.shape[1], x.shape[2]
        keep = [torch.nonzero(~mask[b]).flatten() for b in range(B)]
        x = torch.stack([x[b, keep[b]] for b in range(B)])
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(B, -1, -1)
        x = torch.cat([cls, x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        x = self.decoder_embed(self.norm(x))
        full = self.mask_token.repeat(B, L, 1)
        for b in range(B):
            full[b, keep[b]] = x[b, 1:]
        x = torch.cat([x[:, :1], full], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        pred = self.decoder_pred(self.decoder_norm(x))[:, 1:, :]
        target = self.patchify(vol)
        mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1.e-6) ** .5
        m = mask.float()
        loss = (((pred - target) ** 2).mean(dim=-1) * m).sum() / m.sum()
        return pred, loss


def sincos_3d(dim, grid, max_freq=1.0, temperature=10000.0):
    """The documented table: d and h get 2*floor(C/6) channels, w the even rest;
    channel pair i of a k-channel axis turns max_freq * temperature^(-2i/k) per
    token (MAE's table: 1 and 10000; semmae's cpu-small: 2.5 and 10)."""
    n = 2 * (dim // 6)
    m = (dim - 2 * n) & ~1
    gd, gh, gw = grid
    table = np.zeros((gd * gh * gw + 1, dim))

    def axis(k, pos):
        omega = max_freq / temperature ** (np.arange(k // 2) / (k / 2.0))
        out = np.outer(pos, omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    d, h, w = np.meshgrid(np.arange(gd), np.arange(gh), np.arange(gw), indexing='ij')
    table[1:, :n] = axis(n, d.flatten())
    table[1:, n:2 * n] = axis(n, h.flatten())
    table[1:, 2 * n:2 * n + m] = axis(m, w.flatten())
    return table


def load_model(ckpt):
    """The model of a semmae checkpoint, through load_state_dict(strict=True)."""
    tensors, meta = load_safetensors(ckpt)
    trip = lambda s: tuple(int(v) for v in s.split(','))
    model = MaskedAutoencoder3D(
        trip(meta['input_size']), trip(meta['patch_size']), int(meta['embed_dim']), int(meta['depth']),
        int(meta['num_heads']), int(meta['decoder_embed_dim']), int(meta['decoder_depth']),
        int(meta['decoder_num_heads']), float(meta['mlp_ratio']), float(meta['ln_eps']))
    state = {k: v for k, v in tensors.items() if not k.startswith('optim.')}
    n_optim = len(tensors) - len(state)
    missing, unexpected = model.load_state_dict(state, strict=True)
    print(f"# load_state_dict(strict=True): {len(state)} tensors, {n_optim} optim.* set aside")
    return model, tensors, meta, [('load_state_dict strict', not missing and not unexpected)]


def read_tiff(path):
    from PIL import Image
    im = Image.open(path)
    frames = []
    for i in range(im.n_frames):
        im.seek(i)
        frames.append(np.array(im))
    return np.stack(frames)


def check_volume(ckpt, input_tif, mask_tif, pred_tif, recon_tif):
    """semmae reconstruct of a one-crop uint8 volume: recompute the decoder
    output from the checkpoint, the input and --out-mask alone, compare with
    --out-pred, and check the de-normalised masked voxels of --out."""
    model, _, _, results = load_model(ckpt)
    vol = read_tiff(input_tif)
    assert vol.dtype == np.uint8 and vol.shape == tuple(model.input_size), vol.shape
    x = torch.from_numpy(vol.astype(np.float32) / 127.5 - 1.0)[None]
    mask_vox = torch.from_numpy(read_tiff(mask_tif).astype(np.float32))[None]
    token_mask = model.patchify(mask_vox)[0]
    consistent = bool((token_mask.min(-1).values == token_mask.max(-1).values).all())
    mask = token_mask[:, 0] > 0.5
    want = model.patchify(torch.from_numpy(read_tiff(pred_tif).astype(np.float32))[None])[0]
    with torch.no_grad():
        pred, _ = model(x, mask[None])
    pred = pred[0]
    diff = (pred - want).abs().max().item()
    patches = model.patchify(x)[0]
    mean, std = patches.mean(-1, keepdim=True), (patches.var(-1, keepdim=True) + 1e-6) ** .5
    expect = ((pred * std + mean + 1.0) * 127.5).clamp(0, 255)
    recon = model.patchify(torch.from_numpy(read_tiff(recon_tif).astype(np.float32))[None])[0]
    raw = model.patchify(torch.from_numpy(vol.astype(np.float32))[None])[0]
    recon_err = (recon - expect)[mask].abs().max().item()
    pasted = bool((recon[~mask] == raw[~mask]).all())
    print(f"# {int(mask.sum())} of {mask.numel()} tokens masked; max |torch - semmae pred| = {diff:.3g}; "
          f"max |expected - semmae reconstruction| at masked voxels = {recon_err:.3g}")
    results += [('mask volume is constant per token', consistent),
                ('--out-pred equals the PyTorch decoder output within 1e-4', diff < 1e-4),
                ('masked voxels of --out are the prediction de-normalised by the patch statistics', recon_err <= 0.51),
                ('visible voxels of --out are the input', pasted)]
    for name, ok in results:
        print(f"RESULT {name} {'ok' if ok else 'fail'}")
    return 0 if all(ok for _, ok in results) else 1


def check_step(before, folder, after):
    """One training step: from checkpoint `before` (params, AdamW moments,
    step k, options), PyTorch does forward, backward, clip_grad_norm_ and
    AdamW (decay on >= 2-D weights except cls/mask tokens) on the batch in
    DIR (input.f32, mask.u8, step.txt = "lr loss"); the parameters must match
    semmae's checkpoint `after`."""
    model, tensors, meta, results = load_model(before)
    D, H, W = model.input_size
    L = math.prod(model.grid)
    vol = torch.from_numpy(np.fromfile(f'{folder}/input.f32', dtype='<f4').astype(np.float32))
    B = vol.numel() // (D * H * W)
    vol = vol.reshape(B, D, H, W)
    mask = torch.from_numpy(np.fromfile(f'{folder}/mask.u8', dtype=np.uint8).reshape(B, L).astype(bool))
    lr, want_loss = (float(v) for v in open(f'{folder}/step.txt').read().split())
    k = int(meta['step'])
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in named if p.ndim >= 2 and n not in ('cls_token', 'mask_token')]
    no_decay = [p for n, p in named if not (p.ndim >= 2 and n not in ('cls_token', 'mask_token'))]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': float(meta['weight_decay'])},
                             {'params': no_decay, 'weight_decay': 0.0}],
                            lr=lr, betas=(float(meta['beta1']), float(meta['beta2'])), eps=float(meta['adam_eps']))
    for n, p in named:
        opt.state[p] = {'step': torch.tensor(float(k)),
                        'exp_avg': tensors[f'optim.exp_avg.{n}'].clone(),
                        'exp_avg_sq': tensors[f'optim.exp_avg_sq.{n}'].clone()}
    _, loss = model(vol, mask)
    loss.backward()
    clip = float(meta['clip_grad'])
    norm = torch.nn.utils.clip_grad_norm_([p for _, p in named], clip if clip > 0 else float('inf'))
    opt.step()
    got, _ = load_safetensors(after)
    # The key bias gets an exactly zero gradient (softmax ignores a constant
    # added to a query's scores), so its Adam update is the ratio of two
    # rounding noises: it is compared only for staying within one lr step.
    worst, worst_name, key_bias = 0.0, '', 0.0
    for n, p in model.state_dict().items():
        ref = got[n]
        if n.endswith('attn.qkv.bias'):
            C = p.shape[0] // 3
            key_bias = max(key_bias, (p[C:2 * C] - ref[C:2 * C]).abs().max().item() / lr)
            p, ref = torch.cat([p[:C], p[2 * C:]]), torch.cat([ref[:C], ref[2 * C:]])
        rel = ((p - ref).abs().max() / (ref.abs().max() + 1e-12)).item()
        if rel > worst:
            worst, worst_name = rel, n
    moments = max(((opt.state[p]['exp_avg'] - got[f'optim.exp_avg.{n}']).abs().max() /
                   (got[f'optim.exp_avg.{n}'].abs().max() + 1e-12)).item() for n, p in named)
    print(f"# step {k} -> {k + 1}: lr {lr:.6g}, grad norm {norm.item():.5g} (clip {clip}), loss torch "
          f"{loss.item():.7f} semmae {want_loss:.7f}; worst relative parameter difference {worst:.3g} "
          f"({worst_name}), moments {moments:.3g}; key-bias difference {key_bias:.3g} lr")
    results += [('training step loss within 1e-5', abs(loss.item() - want_loss) < 1e-5 * max(1.0, abs(want_loss))),
                ('parameters after one AdamW step within 1e-4 relative', worst < 1e-4),
                ('AdamW first moments within 1e-4 relative', moments < 1e-4),
                ('key biases (zero gradient) within 2 lr', key_bias <= 2.0)]
    for name, ok in results:
        print(f"RESULT {name} {'ok' if ok else 'fail'}")
    return 0 if all(ok for _, ok in results) else 1


def main():
    if sys.argv[1] == '--volume':
        return check_volume(*sys.argv[2:7])
    if sys.argv[1] == '--step':
        return check_step(*sys.argv[2:5])
    ckpt, folder = sys.argv[1], sys.argv[2]
    model, tensors, meta, results = load_model(ckpt)

    D, H, W = model.input_size
    L, P = math.prod(model.grid), math.prod(model.patch_size)
    vol = torch.from_numpy(np.fromfile(f'{folder}/input.f32', dtype='<f4').astype(np.float32))
    B = vol.numel() // (D * H * W)
    vol = vol.reshape(B, D, H, W)
    mask = torch.from_numpy(np.fromfile(f'{folder}/mask.u8', dtype=np.uint8).reshape(B, L).astype(bool))
    want = torch.from_numpy(np.fromfile(f'{folder}/pred.f32', dtype='<f4').reshape(B, L, P).copy())
    want_loss = float(open(f'{folder}/loss.txt').read())
    with torch.no_grad():
        pred, loss = model(vol, mask)
    diff = (pred - want).abs().max().item()
    scale = want.abs().max().item()
    print(f"# batch {B}, {int(mask.sum())} masked of {B * L} tokens; max |torch - semmae| = {diff:.3g} "
          f"(max |pred| {scale:.3g}); loss torch {loss.item():.7f} semmae {want_loss:.7f}")
    results.append(('decoder output within 1e-4', diff < 1e-4))
    results.append(('masked norm-pix loss within 1e-4', abs(loss.item() - want_loss) < 1e-4 * max(1, abs(want_loss))))
    for name, dim in (('pos_embed', int(meta['embed_dim'])), ('decoder_pos_embed', int(meta['decoder_embed_dim']))):
        table = sincos_3d(dim, model.grid, float(meta.get('pos_embed_max_freq', 1)),
                          float(meta.get('pos_embed_temperature', 10000)))
        err = np.abs(tensors[name][0].numpy() - table).max()
        print(f"# {name}: max |semmae - documented sin-cos| = {err:.3g}")
        results.append((f'{name} is the documented 3D sin-cos table', err < 1e-5))
    for name, ok in results:
        print(f"RESULT {name} {'ok' if ok else 'fail'}")
    return 0 if all(ok for _, ok in results) else 1


if __name__ == '__main__':
    sys.exit(main())
