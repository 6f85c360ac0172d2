"""Appearance encoder F: a 2D image to a 3D appearance feature volume (LivePortrait-compatible)."""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from synergywarp.models.blocks import ConvNormAct2d, ResBlock3d
from synergywarp.models.config import AppearanceConfig


class AppearanceEncoder(nn.Module):
    """Image ``B×3×H×W`` in [0, 1] → feature volume ``B×C×D×(H/2^n)×(W/2^n)``.

    A conv stem, ``n = num_down_blocks`` ×½ blocks, a 1×1 conv to ``C·D`` channels viewed as a volume
    (channel index = c·D + d) and ``num_resblocks`` 3D residual blocks.
    """

    def __init__(self, cfg: AppearanceConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.max_features != cfg.volume_channels * cfg.volume_depth:
            raise ValueError("appearance.max_features must equal volume_channels * volume_depth")
        self.first = ConvNormAct2d(cfg.image_channels, cfg.block_expansion)
        self.down_blocks = nn.ModuleList(
            ConvNormAct2d(cfg.width(i), cfg.width(i + 1), pool=True) for i in range(cfg.num_down_blocks)
        )
        self.second = nn.Conv2d(cfg.width(cfg.num_down_blocks), cfg.max_features, 1)
        self.resblocks_3d = nn.Sequential()
        for i in range(cfg.num_resblocks):
            self.resblocks_3d.add_module(f"3dr{i}", ResBlock3d(cfg.volume_channels))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.first(image)
        for block in self.down_blocks:
            x = block(x)
        x = self.second(x)
        volume = rearrange(x, "b (c d) h w -> b c d h w", d=self.cfg.volume_depth)
        return self.resblocks_3d(volume)
