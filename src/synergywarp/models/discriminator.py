"""PatchGAN discriminator with spectral norm (training only)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from synergywarp.models.config import DiscriminatorConfig


class PatchDiscriminator(nn.Module):
    """Image ``B×3×H×W`` → (features per layer, patch logits ``B×1×h×w``).

    4×4 stride-2 spectral-norm convs with LeakyReLU(0.2), the last layer stride 1, then a 4×4 conv to 1.
    """

    def __init__(self, cfg: DiscriminatorConfig, in_channels: int = 3):
        super().__init__()
        layers = []
        width_in = in_channels
        for i in range(cfg.num_layers):
            width_out = min(cfg.max_channels, cfg.channels * 2**i)
            stride = 2 if i < cfg.num_layers - 1 else 1
            layers.append(spectral_norm(nn.Conv2d(width_in, width_out, 4, stride=stride, padding=1)))
            width_in = width_out
        self.layers = nn.ModuleList(layers)
        self.head = spectral_norm(nn.Conv2d(width_in, 1, 4, padding=1))

    def forward(self, image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        features = []
        x = image
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
            features.append(x)
        return features, self.head(x)


class MultiScaleDiscriminator(nn.Module):
    """One :class:`PatchDiscriminator` per scale (full, ½, ¼ ...): returns a list of (features, logits)."""

    def __init__(self, cfg: DiscriminatorConfig, in_channels: int = 3):
        super().__init__()
        self.discriminators = nn.ModuleList(PatchDiscriminator(cfg, in_channels) for _ in range(cfg.num_scales))

    def forward(self, image: torch.Tensor) -> list[tuple[list[torch.Tensor], torch.Tensor]]:
        outputs = []
        for i, disc in enumerate(self.discriminators):
            scaled = image
            if i > 0:  # antialiased resampling in fp32 (no low-precision CPU kernel), then back
                scaled = F.interpolate(image.float(), scale_factor=0.5**i, mode="bilinear", antialias=True)
                scaled = scaled.to(image.dtype)
            outputs.append(disc(scaled))
        return outputs
