"""DOFW: dense optical-flow warping of the source appearance volume (LivePortrait's warping module)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from synergywarp.models.config import WarpConfig
from synergywarp.models.dense_motion import DenseMotionNetwork


class ConvNormLeaky2d(nn.Module):
    """3×3 conv → BatchNorm2d → LeakyReLU(0.01)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.norm(self.conv(x)), 0.01)


@dataclass
class WarpOutput:
    """feature: explicit stream E ``B×C_w×H×W``; flow ``B×D×H×W×3``; occlusion ``B×1×H×W`` or None;
    masks ``B×(K+1)×D×H×W``."""

    feature: torch.Tensor
    flow: torch.Tensor
    occlusion: torch.Tensor | None
    masks: torch.Tensor


class WarpingNetwork(nn.Module):
    """``E = O ⊙ P_w(flatten(grid_sample(f_s, Φ)))``. Keys match LivePortrait's ``warping_module``."""

    def __init__(self, cfg: WarpConfig, num_kp: int, volume_channels: int, volume_depth: int, grid_align_quirk: bool):
        super().__init__()
        self.cfg = cfg
        self.dense_motion_network = DenseMotionNetwork(
            cfg.dense_motion, num_kp, volume_channels, volume_depth, cfg.use_occlusion, grid_align_quirk
        )
        self.third = ConvNormLeaky2d(volume_channels * volume_depth, cfg.out_channels)
        self.fourth = nn.Conv2d(cfg.out_channels, cfg.out_channels, 1)

    def forward(
        self,
        volume: torch.Tensor,
        kp_driving: torch.Tensor,
        kp_source: torch.Tensor,
        prior_grid: torch.Tensor | None = None,
    ) -> WarpOutput:
        motion = self.dense_motion_network(volume, kp_driving, kp_source, prior_grid)
        warped = F.grid_sample(volume, motion.flow, align_corners=False)
        feature = self.fourth(self.third(rearrange(warped, "b c d h w -> b (c d) h w")))
        if motion.occlusion is not None:
            feature = feature * motion.occlusion
        return WarpOutput(feature=feature, flow=motion.flow, occlusion=motion.occlusion, masks=motion.masks)
