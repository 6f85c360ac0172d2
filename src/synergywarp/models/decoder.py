"""SPADE decoder G: fused 2D feature → RGB image (LivePortrait's ``spade_generator`` layout)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from synergywarp.models.config import DecoderConfig


class SPADE(nn.Module):
    """Parameter-free instance norm modulated by the label map: ``IN(x)·(1 + γ(seg)) + β(seg)``.

    x: ``B×C×H×W``; seg: ``B×C_seg×H'×W'`` (resized to H×W with nearest unless it has that size).
    """

    def __init__(self, norm_channels: int, label_channels: int, hidden: int = 128):
        super().__init__()
        self.param_free_norm = nn.InstanceNorm2d(norm_channels, affine=False)
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_channels, hidden, 3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, norm_channels, 3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, norm_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        if seg.shape[-2:] != x.shape[-2:]:
            seg = F.interpolate(seg, size=x.shape[-2:], mode="nearest")
        shared = self.mlp_shared(seg)
        return self.param_free_norm(x) * (1 + self.mlp_gamma(shared)) + self.mlp_beta(shared)


class SPADEResBlock(nn.Module):
    """Residual block with SPADE norms and spectral-normalised convs: ``B×C_in×H×W → B×C_out×H×W``."""

    def __init__(self, fin: int, fout: int, label_channels: int, hidden: int = 128):
        super().__init__()
        fmiddle = min(fin, fout)
        self.learned_shortcut = fin != fout
        self.conv_0 = spectral_norm(nn.Conv2d(fin, fmiddle, 3, padding=1))
        self.conv_1 = spectral_norm(nn.Conv2d(fmiddle, fout, 3, padding=1))
        self.norm_0 = SPADE(fin, label_channels, hidden)
        self.norm_1 = SPADE(fmiddle, label_channels, hidden)
        if self.learned_shortcut:
            self.conv_s = spectral_norm(nn.Conv2d(fin, fout, 1, bias=False))
            self.norm_s = SPADE(fin, label_channels, hidden)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 0.2))
        return shortcut + dx


class SPADEDecoder(nn.Module):
    """Feature ``B×C×h×w`` (also the SPADE label map) → image ``B×3×4h×4w`` (×2 more with pixel shuffle), in [0, 1].

    With ``cfg.image_skip`` a 4th channel is returned too: the blend weight (in [0, 1]) of the decoded RGB
    against the source image warped by the predicted flow (composited by the network).
    """

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        c = cfg.in_channels
        self.fc = nn.Conv2d(c, 2 * c, 3, padding=1)
        for i in range(cfg.num_middle):
            self.add_module(f"G_middle_{i}", SPADEResBlock(2 * c, 2 * c, c, cfg.spade_hidden))
        self.num_middle = cfg.num_middle
        self.up_0 = SPADEResBlock(2 * c, c, c, cfg.spade_hidden)
        self.up_1 = SPADEResBlock(c, cfg.out_channels, c, cfg.spade_hidden)
        channels = 4 if cfg.image_skip else 3
        self.conv_img: nn.Module
        if cfg.upscale == 2:
            self.conv_img = nn.Sequential(nn.Conv2d(cfg.out_channels, channels * 4, 3, padding=1), nn.PixelShuffle(2))
        else:
            self.conv_img = nn.Conv2d(cfg.out_channels, channels, 3, padding=1)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        x = self.fc(feature)
        for i in range(self.num_middle):
            x = getattr(self, f"G_middle_{i}")(x, feature)
        # the label map is resized once per resolution, not once per SPADE (3 of them in each up block:
        # at batch 1 on a CPU the resizes cost as much as the block's convolutions)
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.up_0(x, F.interpolate(feature, size=x.shape[-2:], mode="nearest"))
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.up_1(x, F.interpolate(feature, size=x.shape[-2:], mode="nearest"))
        return torch.sigmoid(self.conv_img(F.leaky_relu(x, 0.2)))
