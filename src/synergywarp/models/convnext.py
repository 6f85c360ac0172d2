"""ConvNeXt-V2 backbone pieces (channels-first LayerNorm, GRN, block) used by the motion encoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of ``B×C×H×W`` (biased variance, per-channel affine)."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class GlobalResponseNorm(nn.Module):
    """GRN on ``B×H×W×C``: ``γ·(x·N) + β + x`` with ``N_c = ‖x_c‖₂ / mean_c ‖x_c‖₂``."""

    def __init__(self, channels: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, channels))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norms = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        normalised = norms / (norms.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * normalised) + self.beta + x


class ConvNeXtV2Block(nn.Module):
    """7×7 depthwise conv → LN → Linear(4d) → GELU → GRN → Linear(d), residual. ``B×d×H×W``."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.grn = GlobalResponseNorm(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = rearrange(self.dwconv(x), "b c h w -> b h w c")
        y = self.pwconv2(self.grn(F.gelu(self.pwconv1(self.norm(y)))))
        return x + rearrange(y, "b h w c -> b c h w")


class ConvNeXtV2(nn.Module):
    """Four-stage ConvNeXt-V2 trunk: ``B×3×H×W → B×dims[-1]`` (global average pool + LayerNorm)."""

    def __init__(self, depths: list[int], dims: list[int], in_channels: int = 3):
        super().__init__()
        self.downsample_layers = nn.ModuleList()
        self.downsample_layers.append(
            nn.Sequential(nn.Conv2d(in_channels, dims[0], 4, stride=4), LayerNorm2d(dims[0]))
        )
        for i in range(1, 4):
            self.downsample_layers.append(
                nn.Sequential(LayerNorm2d(dims[i - 1]), nn.Conv2d(dims[i - 1], dims[i], 2, stride=2))
            )
        self.stages = nn.ModuleList(
            nn.Sequential(*(ConvNeXtV2Block(dims[i]) for _ in range(depths[i]))) for i in range(4)
        )
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))
        return self.norm(x.mean(dim=(-2, -1)))
