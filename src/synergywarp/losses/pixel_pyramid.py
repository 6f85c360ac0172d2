"""Pixel-space multi-scale loss: the documented fallback of the perceptual loss when no VGG weights exist.

Per pyramid level: ``mean |p − t| + (1 − SSIM(p, t)) + mean |∇p − ∇t|``, summed over levels. SSIM uses a
Gaussian window (σ = 1.5, 11 taps, shrunk on tiny levels) with replicate padding and the standard
constants C1 = (0.01)², C2 = (0.03)² for images in [0, 1]; ∇ are forward differences along x and y.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from synergywarp.losses.pyramid import DEFAULT_SCALES, image_pyramid

SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2


def _gaussian_window(size: int, sigma: float, like: torch.Tensor) -> torch.Tensor:
    """1D normalised Gaussian of ``size`` taps (dtype/device of ``like``)."""
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    window = torch.exp(-(coords**2) / (2 * sigma**2))
    return window / window.sum()


def _blur(image: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of B×C×H×W with replicate padding (same size out)."""
    channels = image.shape[1]
    pad = window.numel() // 2
    horizontal = window.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    vertical = window.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    image = F.conv2d(F.pad(image, (pad, pad, 0, 0), mode="replicate"), horizontal, groups=channels)
    return F.conv2d(F.pad(image, (0, 0, pad, pad), mode="replicate"), vertical, groups=channels)


def ssim(prediction: torch.Tensor, target: torch.Tensor, window_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean structural similarity of B×C×H×W images in [0, 1] -> scalar (1 for identical images).

    The window shrinks to the largest odd size ≤ min(H, W) on small images.
    """
    size = min(window_size, min(prediction.shape[-2:]))
    size = max(1, size if size % 2 == 1 else size - 1)
    window = _gaussian_window(size, sigma, prediction)
    mu_p, mu_t = _blur(prediction, window), _blur(target, window)
    var_p = _blur(prediction * prediction, window) - mu_p**2
    var_t = _blur(target * target, window) - mu_t**2
    cov = _blur(prediction * target, window) - mu_p * mu_t
    numerator = (2 * mu_p * mu_t + SSIM_C1) * (2 * cov + SSIM_C2)
    denominator = (mu_p**2 + mu_t**2 + SSIM_C1) * (var_p + var_t + SSIM_C2)
    return (numerator / denominator).mean()


def gradient_l1(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean |∂x p − ∂x t| + mean |∂y p − ∂y t|`` with forward differences (0 on 1-pixel axes)."""
    loss = prediction.new_zeros(())
    if prediction.shape[-1] > 1:
        loss = loss + (prediction.diff(dim=-1) - target.diff(dim=-1)).abs().mean()
    if prediction.shape[-2] > 1:
        loss = loss + (prediction.diff(dim=-2) - target.diff(dim=-2)).abs().mean()
    return loss


class PixelPyramidLoss(nn.Module):
    """Σ_levels [ mean|p − t| + (1 − SSIM(p, t)) + mean|∇p − ∇t| ] on an antialiased image pyramid.

    forward(prediction, target: B×3×H×W in [0, 1]) -> scalar; the target gets no gradient.
    """

    def __init__(self, scales: Sequence[float] = DEFAULT_SCALES) -> None:
        super().__init__()
        self.scales = tuple(scales)

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target = target.detach()
        loss = prediction.new_zeros(())
        for pred_level, target_level in zip(image_pyramid(prediction, self.scales), image_pyramid(target, self.scales)):
            loss = loss + (pred_level - target_level).abs().mean()
            loss = loss + (1 - ssim(pred_level, target_level))
            loss = loss + gradient_l1(pred_level, target_level)
        return loss
