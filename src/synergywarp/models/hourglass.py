"""3D hourglass (U-Net over H, W; depth is never pooled) used by the dense motion network."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from synergywarp.models.blocks import DownBlock3d, UpBlock3d


class HourglassEncoder(nn.Module):
    """``num_blocks`` down blocks; returns ``[input, skip_1, ..., deepest]``."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        widths = [in_features] + [min(max_features, block_expansion * 2 ** (i + 1)) for i in range(num_blocks)]
        self.down_blocks = nn.ModuleList(DownBlock3d(widths[i], widths[i + 1]) for i in range(num_blocks))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class HourglassDecoder(nn.Module):
    """Up blocks with skip concatenation ``[upsampled, skip]``, then conv → BN → ReLU to ``out_filters``
    channels (``out_channels``, default ``block_expansion + in_features``: the concatenation's width)."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int,
                 out_channels: int | None = None):
        super().__init__()
        blocks = []
        for i in reversed(range(num_blocks)):
            width_in = (1 if i == num_blocks - 1 else 2) * min(max_features, block_expansion * 2 ** (i + 1))
            blocks.append(UpBlock3d(width_in, min(max_features, block_expansion * 2**i)))
        self.up_blocks = nn.ModuleList(blocks)
        concatenated = block_expansion + in_features
        self.out_filters = concatenated if out_channels is None else out_channels
        self.conv = nn.Conv3d(concatenated, self.out_filters, 3, padding=1)
        self.norm = nn.BatchNorm3d(self.out_filters)

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        skips = list(skips)
        out = skips.pop()
        for block in self.up_blocks:
            out = torch.cat([block(out), skips.pop()], dim=1)
        return F.relu(self.norm(self.conv(out)))


class Hourglass3d(nn.Module):
    """``B×C_in×D×H×W → B×C_out×D×H×W``, ``C_out`` = ``out_channels`` or ``block_expansion + C_in``."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int,
                 out_channels: int | None = None):
        super().__init__()
        self.encoder = HourglassEncoder(block_expansion, in_features, num_blocks, max_features)
        self.decoder = HourglassDecoder(block_expansion, in_features, num_blocks, max_features, out_channels)
        self.out_filters = self.decoder.out_filters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
