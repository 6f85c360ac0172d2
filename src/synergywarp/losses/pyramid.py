"""Image pyramids shared by the perceptual loss and its pixel-space fallback."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

DEFAULT_SCALES: tuple[float, ...] = (1.0, 0.5, 0.25, 0.125)


def resize_antialiased(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """B×C×H×W -> B×C×h×w with antialiased bilinear resampling (the input itself when sizes match)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    antialias = size[0] < image.shape[-2] or size[1] < image.shape[-1]
    # antialiased kernels have no bf16/fp16 CPU implementation: resample in fp32 and cast back
    resized = F.interpolate(image.float(), size=size, mode="bilinear", align_corners=False, antialias=antialias)
    return resized.to(image.dtype)


def image_pyramid(image: torch.Tensor, scales: Sequence[float] = DEFAULT_SCALES) -> list[torch.Tensor]:
    """B×C×H×W -> one image per scale, B×C×round(H·s)×round(W·s) (antialiased downsampling, ≥ 1 px)."""
    height, width = image.shape[-2:]
    levels = []
    for scale in scales:
        if scale <= 0:
            raise ValueError(f"pyramid scales must be positive, got {scale}")
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        levels.append(resize_antialiased(image, size))
    return levels
