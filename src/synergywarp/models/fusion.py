"""CGF: confidence-guided fusion of the explicit stream E and the corrected stream F_a = E + A."""

from __future__ import annotations

import torch
from einops import repeat
from torch import nn

from synergywarp.models.blocks import constant_conv
from synergywarp.models.config import CGFConfig


class ConfidenceGuidedFusion(nn.Module):
    """``F = 𝒞 ⊙ E + (1 − 𝒞) ⊙ F_a`` with ``𝒞 = σ(CNN([E, F_a, O]))`` in [0, 1].

    E, F_a: ``B×C×H×W``; O: ``B×1×H×W`` (occlusion) or None. The last conv starts at weight 0 and
    bias ``init_bias`` (𝒞 ≈ 0.88), so training starts from the explicit path. Modes: ``confidence``
    (the above), ``add`` (F = F_a), ``explicit`` (F = E, 𝒞 ≡ 1).
    """

    def __init__(self, cfg: CGFConfig, channels: int):
        super().__init__()
        self.cfg = cfg
        self.channels = channels
        hidden = cfg.hidden
        self.head = nn.Sequential(
            nn.Conv2d(2 * channels + 1, hidden, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.LeakyReLU(0.2),
            constant_conv(hidden, cfg.groups, 3, weight=0.0, bias=cfg.init_bias),
        )

    def confidence(
        self, explicit: torch.Tensor, corrected: torch.Tensor, occlusion: torch.Tensor | None
    ) -> torch.Tensor:
        """𝒞 ``B×groups×H×W`` in [0, 1]."""
        if occlusion is None:
            occlusion = torch.ones_like(explicit[:, :1])
        return torch.sigmoid(self.head(torch.cat([explicit, corrected, occlusion.to(explicit.dtype)], 1)))

    def forward(
        self, explicit: torch.Tensor, corrected: torch.Tensor, occlusion: torch.Tensor | None, mode: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (fused ``B×C×H×W``, confidence ``B×groups×H×W``)."""
        mode = mode or self.cfg.mode
        if mode == "explicit":
            return explicit, torch.ones_like(explicit[:, : self.cfg.groups])
        if mode == "add":
            return corrected, torch.zeros_like(explicit[:, : self.cfg.groups])
        conf = self.confidence(explicit, corrected, occlusion)
        weight = repeat(conf, "b g h w -> b (g c) h w", c=self.channels // self.cfg.groups)
        return weight * explicit + (1 - weight) * corrected, conf
