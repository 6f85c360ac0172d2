"""Small convolutional building blocks shared by the encoders, the dense motion network and the decoder.

Sub-module names (``conv``, ``norm``, ...) follow LivePortrait's so that its checkpoints load 1:1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvNormAct2d(nn.Module):
    """3×3 conv → BatchNorm2d → ReLU, optionally followed by 2×2 average pooling.

    ``B×C_in×H×W → B×C_out×H×W`` (or ``H/2×W/2`` with ``pool=True``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, pool: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.norm = nn.BatchNorm2d(out_channels)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm(self.conv(x)))
        return F.avg_pool2d(x, 2) if self.pool else x


class DownBlock3d(nn.Module):
    """3×3×3 conv → BatchNorm3d → ReLU → average pool over (H, W) only: ``B×C×D×H×W → B×C'×D×H/2×W/2``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, 3, padding=1)
        self.norm = nn.BatchNorm3d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool3d(F.relu(self.norm(self.conv(x))), kernel_size=(1, 2, 2))


class UpBlock3d(nn.Module):
    """Nearest ×2 upsampling over (H, W) → 3×3×3 conv → BatchNorm3d → ReLU: ``B×C×D×H×W → B×C'×D×2H×2W``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, 3, padding=1)
        self.norm = nn.BatchNorm3d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=(1, 2, 2), mode="nearest")
        return F.relu(self.norm(self.conv(x)))


class ResBlock3d(nn.Module):
    """Pre-activation residual block on a feature volume: ``x + conv(relu(bn(conv(relu(bn(x))))))``.

    ``B×C×D×H×W → B×C×D×H×W``.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.norm1 = nn.BatchNorm3d(channels)
        self.conv1 = nn.Conv3d(channels, channels, 3, padding=1)
        self.norm2 = nn.BatchNorm3d(channels)
        self.conv2 = nn.Conv3d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return out + x


def constant_conv(in_channels: int, out_channels: int, kernel_size: int, *, weight: float, bias: float) -> nn.Conv2d:
    """A same-padded 2D conv with every weight equal to ``weight`` and every bias to ``bias`` (an output
    layer that starts as a constant, e.g. zero: the default init runs first, so RNG use is unchanged)."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
    nn.init.constant_(conv.weight, weight)
    if conv.bias is not None:  # always: built with bias=True
        nn.init.constant_(conv.bias, bias)
    return conv
