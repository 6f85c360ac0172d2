"""Shared test data for the loss tests: small real images and smooth random textures."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F


@pytest.fixture(scope="session")
def astronaut_64() -> torch.Tensor:
    """skimage's astronaut as 1×3×64×64 float in [0, 1]."""
    from skimage import data

    image = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float() / 255
    return F.interpolate(image, size=(64, 64), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def _smooth_texture(batch: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """B×3×H×W smooth random image in [0, 1] (upsampled noise)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, max(2, height // 4), max(2, width // 4), generator=generator)
    return F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False).clamp(0, 1)


def _gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of B×C×H×W (reflect padding)."""
    radius = max(1, int(3 * sigma))
    coords = torch.arange(-radius, radius + 1, dtype=image.dtype)
    kernel = torch.exp(-(coords**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = image.shape[1]
    image = F.pad(image, (radius, radius, radius, radius), mode="reflect")
    image = F.conv2d(image, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(image, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


@pytest.fixture(scope="session")
def smooth_texture():
    """The function ``(batch, height, width, seed=0) -> B×3×H×W`` smooth random image in [0, 1]."""
    return _smooth_texture


@pytest.fixture(scope="session")
def gaussian_blur():
    """The function ``(image B×C×H×W, sigma) -> blurred image``."""
    return _gaussian_blur
