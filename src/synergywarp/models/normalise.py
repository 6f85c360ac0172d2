"""Per-channel image normalisation ``(x − shift) / scale``: one module for every frozen ImageNet network.

- :func:`imagenet_normalise`: images ``B×3×H×W`` in [0, 1] → ImageNet mean/std normalised (VGG losses,
  the MobileNetV2 FID features).
- LPIPS' ``ScalingLayer`` (:mod:`synergywarp.models.lpips_nets`) is the same operation on [−1, 1] input
  with LPIPS' own rounded constants.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ChannelNormalise(nn.Module):
    """``(x − shift) / scale`` per channel for ``B×C×H×W`` input (shift, scale: C values each).

    ``persistent``: whether the constants are part of the state dict (LPIPS keeps them, losses do not).
    """

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self, shift: Sequence[float], scale: Sequence[float], persistent: bool = True) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor(tuple(shift)).view(1, -1, 1, 1), persistent=persistent)
        self.register_buffer("scale", torch.tensor(tuple(scale)).view(1, -1, 1, 1), persistent=persistent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale


def imagenet_normalise() -> ChannelNormalise:
    """ImageNet mean/std normalisation of ``B×3×H×W`` images in [0, 1] (constants not in the state dict)."""
    return ChannelNormalise(IMAGENET_MEAN, IMAGENET_STD, persistent=False)
