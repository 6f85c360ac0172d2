"""CGF: confidence-guided fusion of the explicit stream E and the corrected stream F_a = E + A."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
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


def grid_stretch(grid: torch.Tensor) -> torch.Tensor:
    """Log area change ``B×1×H×W`` of a backward sampling grid ``B×H×W×2`` (x, y in [−1, 1]): log |det J|
    of the map output pixel → source pixel, 0 for the identity; large where a small source area is
    stretched over many output pixels (a closed mouth pulled open)."""
    g = rearrange(grid.float(), "b h w t -> b t h w") * torch.tensor(
        [grid.shape[2] / 2.0, grid.shape[1] / 2.0], device=grid.device).view(1, 2, 1, 1)  # in output pixels
    dx = F.pad(g[..., :, 1:] - g[..., :, :-1], (0, 1, 0, 0), mode="replicate")
    dy = F.pad(g[..., 1:, :] - g[..., :-1, :], (0, 0, 0, 1), mode="replicate")
    det = dx[:, 0] * dy[:, 1] - dx[:, 1] * dy[:, 0]
    return -torch.log(det.abs().clamp_min(1e-3))[:, None]  # output area per source area


MASKED_LOGIT = -1.0e4  # a padded reference: exp() underflows to exactly 0, and resampling stays finite


class CandidateFusion(nn.Module):
    """Per-pixel fusion of the decoder's synthesis, the warped source and the warped references.

    Candidates at the network's output size s: the decoder RGB G with its blend weight w, the source
    warped by the predicted flow c₀, and each reference warped to the driving pose c_k (k = 1..R).
    One shared head scores every warped candidate from ``[c_k, |c_k − G|, |c_k − c₀|, stretch_k, is_source]``
    (order-invariant over references); the weights are a softmax over ``[ℓ_G, ℓ₀, ℓ₁..ℓ_R]`` with
    ``ℓ_G = logit(w) + ℓ₀``, so with no reference (or at initialisation, where the head's last conv is 0
    and references start at ``reference_init``) the output is exactly ``w·G + (1 − w)·c₀``. Padded
    references get weight 0.
    """

    INPUTS = 11

    def __init__(self, cfg: CGFConfig):
        super().__init__()
        hidden = cfg.pixel_hidden
        self.head = nn.Sequential(
            nn.Conv2d(self.INPUTS, hidden, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.LeakyReLU(0.2),
            constant_conv(hidden, 1, 3, weight=0.0, bias=0.0),
        )
        self.reference_bias = nn.Parameter(torch.tensor(float(cfg.reference_init)))

    def logits(self, decoded: torch.Tensor, candidates: torch.Tensor, stretch: torch.Tensor,
               mask: torch.Tensor | None) -> torch.Tensor:
        """Logits ``N×(2+R)×s×s`` for [G, source, references...].

        decoded: ``N×4×s×s`` (RGB, w); candidates: ``N×(1+R)×3×s×s`` (source first); stretch:
        ``N×(1+R)×1×s×s``; mask ``N×R`` bool (True = a real reference) or None."""
        n, count = candidates.shape[:2]
        rgb, weight = decoded[:, None, :3].float(), decoded[:, 3:4].float()
        is_source = torch.zeros(n, count, 1, *candidates.shape[-2:], device=candidates.device)
        is_source[:, 0] = 1.0
        features = torch.cat([candidates, (candidates - rgb).abs(), (candidates - candidates[:, :1]).abs(),
                              stretch, is_source], dim=2)
        scores = rearrange(self.head(rearrange(features, "n k c h w -> (n k) c h w")), "(n k) 1 h w -> n k h w",
                           k=count)
        scores = scores + (1.0 - is_source[:, :, 0]) * self.reference_bias
        if mask is not None:
            padded = ~mask.bool()
            scores[:, 1:] = scores[:, 1:].masked_fill(padded[:, :, None, None], MASKED_LOGIT)
        decoder = torch.logit(weight.clamp(1e-6, 1 - 1e-6)) + scores[:, :1]
        return torch.cat([decoder, scores], dim=1)
