"""Carry the cached LPIPS VGG16 weights to a machine without internet in half the space.

``pack``: every conv kernel becomes int8 with one float32 scale per output channel (58.9 → 14.8 MB);
``unpack``: back to the float32 safetensors file the perceptual loss reads (``$SYNERGYWARP_CACHE``).
The round trip changes each weight by at most half a quantisation step (0.4 % of its channel's
largest weight); ``check`` prints the relative change of the VGG features on random images.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file


def pack(src: Path, dst: Path) -> None:
    arrays, out = load_file(str(src)), {}
    for key, value in arrays.items():
        if value.ndim == 4 and value.size > 4096:  # H×W×in×out kernels
            scale = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0) / 127.0
            scale = np.maximum(scale, 1e-12).astype(np.float32)
            out[key + ".q"] = np.clip(np.rint(value / scale), -127, 127).astype(np.int8)
            out[key + ".scale"] = scale
        else:
            out[key] = value
    save_file(out, str(dst))


def unpack(src: Path, dst: Path) -> None:
    arrays, out = load_file(str(src)), {}
    for key, value in arrays.items():
        if key.endswith(".q"):
            base = key[:-2]
            out[base] = (value.astype(np.float32) * arrays[base + ".scale"]).astype(np.float32)
        elif not key.endswith(".scale"):
            out[key] = value
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(dst))


def check(original: Path, restored: Path) -> None:
    import os

    import torch

    from synergywarp.models.lpips_nets import load_vgg16_features

    x = torch.rand(4, 3, 128, 128)
    feats = []
    for path in (original, restored):
        os.environ["SYNERGYWARP_CACHE"] = str(path.parent)
        with torch.no_grad():
            feats.append(load_vgg16_features()(x))
    for i, (a, b) in enumerate(zip(*feats)):
        print(f"tap {i}: relative feature change {((a - b).norm() / a.norm()).item():.2e}")


if __name__ == "__main__":
    command, *paths = sys.argv[1:]
    {"pack": pack, "unpack": unpack, "check": check}[command](*map(Path, paths))
