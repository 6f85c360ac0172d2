"""Motion encoder M (``motion: learned``): canonical keypoints, head pose, translation, expression, scale."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn

from synergywarp.models.config import MotionEncoderConfig
from synergywarp.models.convnext import ConvNeXtV2


@dataclass
class MotionParams:
    """What M predicts for one image batch (raw head outputs; angles are bin logits).

    kp: ``B×K×3`` canonical keypoints; pitch/yaw/roll: ``B×num_bins`` logits; t: ``B×3``;
    exp: ``B×K×3`` expression offsets; scale: ``B×1``.
    """

    kp: torch.Tensor
    pitch: torch.Tensor
    yaw: torch.Tensor
    roll: torch.Tensor
    t: torch.Tensor
    exp: torch.Tensor
    scale: torch.Tensor


class _MotionHeads(ConvNeXtV2):
    """ConvNeXt-V2 trunk plus the seven linear heads (key names as LivePortrait's ``detector``)."""

    def __init__(self, cfg: MotionEncoderConfig, num_kp: int):
        super().__init__(cfg.depths, cfg.dims)
        width = cfg.dims[-1]
        self.fc_kp = nn.Linear(width, 3 * num_kp)
        self.fc_scale = nn.Linear(width, 1)
        self.fc_pitch = nn.Linear(width, cfg.num_bins)
        self.fc_yaw = nn.Linear(width, cfg.num_bins)
        self.fc_roll = nn.Linear(width, cfg.num_bins)
        self.fc_t = nn.Linear(width, 3)
        self.fc_exp = nn.Linear(width, 3 * num_kp)


class MotionEncoder(nn.Module):
    """Image ``B×3×H×W`` in [0, 1] → :class:`MotionParams`."""

    def __init__(self, cfg: MotionEncoderConfig, num_kp: int):
        super().__init__()
        self.cfg = cfg
        self.detector = _MotionHeads(cfg, num_kp)

    def forward(self, image: torch.Tensor) -> MotionParams:
        net = self.detector
        h = net.features(image)
        return MotionParams(
            kp=rearrange(net.fc_kp(h), "b (k c) -> b k c", c=3),
            pitch=net.fc_pitch(h),
            yaw=net.fc_yaw(h),
            roll=net.fc_roll(h),
            t=net.fc_t(h),
            exp=rearrange(net.fc_exp(h), "b (k c) -> b k c", c=3),
            scale=net.fc_scale(h),
        )
