"""Perceptual pyramid loss on a frozen ImageNet VGG (docs/DESIGN.md#training), with a warned pixel-space fallback.

    L = Σ_{s ∈ scales} Σ_l w_l · mean |φ_l(P_s(prediction)) − φ_l(P_s(target))|

P_s: antialiased downsampling to scale s (1, ½, ¼, ⅛); φ_l: VGG16 relu1_2, relu2_2, relu3_3, relu4_3,
relu5_3 (ImageNet weights from the offline LPIPS files), or with ``vgg19_path`` a user-provided VGG19's
relu1_1 … relu5_1. Per-layer weights w_l default to 1; the SPEC weight of the term (10, i.e. 10 per
layer) is applied by :class:`~synergywarp.losses.generator.GeneratorLoss`. A layer whose input would
shrink below one pixel on a small pyramid level (e.g. relu5_3 at 8×8) is skipped on that level.

When no VGG16 weights are cached (AssetError from the loader) the loss falls back to
:class:`~synergywarp.losses.pixel_pyramid.PixelPyramidLoss` (L1 + (1 − SSIM) + gradient L1 on the
same pyramid) and warns once per process.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

from synergywarp.errors import AssetError
from synergywarp.losses.pixel_pyramid import PixelPyramidLoss
from synergywarp.losses.pyramid import DEFAULT_SCALES, image_pyramid
from synergywarp.models.normalise import imagenet_normalise

if TYPE_CHECKING:
    from synergywarp.losses.vgg19 import VGG19Features
    from synergywarp.models.lpips_nets import VGG16Features

Backend = Literal["vgg16", "vgg19", "pixel"]

_fallback_warned = False


def _warn_fallback_once(reason: str) -> None:
    global _fallback_warned
    if _fallback_warned:
        return
    _fallback_warned = True
    warnings.warn(
        f"perceptual loss: no VGG weights ({reason}); using the pixel-space fallback "
        "(multi-scale L1 + SSIM + gradient). Run `python -m synergywarp.assets fetch` for the VGG16 loss.",
        stacklevel=3,
    )


def _tapped_features(net: VGG16Features | VGG19Features, image: torch.Tensor) -> list[torch.Tensor]:
    """Run ``net.features`` (a tapped VGG trunk) on B×3×H×W; stop before a pool that would empty the map."""
    outputs = []
    x = image
    for index, layer in enumerate(net.features):
        if isinstance(layer, nn.MaxPool2d) and min(x.shape[-2:]) < 2:
            break
        x = layer(x)
        if index in net.taps:
            outputs.append(x)
        if index >= net.taps[-1]:
            break
    return outputs


class PerceptualPyramid(nn.Module):
    """Multi-scale VGG feature L1 between a prediction and a target (formula in the module docstring).

    forward(prediction, target: B×3×H×W in [0, 1]) -> scalar. Gradients flow to ``prediction`` only;
    the target branch runs under ``torch.no_grad``. ``backend`` says which network is in use
    ("vgg16", "vgg19" or "pixel" for the fallback).
    """

    def __init__(
        self,
        scales: Sequence[float] = DEFAULT_SCALES,
        layer_weights: Sequence[float] | None = None,
        vgg19_path: str | Path | None = None,
        allow_fallback: bool = True,
    ) -> None:
        super().__init__()
        self.scales = tuple(scales)
        self.normalise = imagenet_normalise()
        self.net: VGG16Features | VGG19Features | None = None
        self.fallback: PixelPyramidLoss | None = None
        self.backend: Backend
        if vgg19_path is not None:
            from synergywarp.losses.vgg19 import load_vgg19_features

            self.net, self.backend = load_vgg19_features(vgg19_path), "vgg19"
        else:
            from synergywarp.models.lpips_nets import load_vgg16_features

            try:
                self.net, self.backend = load_vgg16_features(), "vgg16"
            except AssetError as err:
                if not allow_fallback:
                    raise
                _warn_fallback_once(str(err))
                self.fallback, self.backend = PixelPyramidLoss(self.scales), "pixel"
        num_layers = len(self.net.taps) if self.net is not None else 0
        weights = tuple(float(w) for w in layer_weights) if layer_weights is not None else (1.0,) * num_layers
        if self.net is not None and len(weights) != num_layers:
            raise ValueError(f"layer_weights needs {num_layers} values for {self.backend}, got {len(weights)}")
        self.layer_weights = weights

    def train(self, mode: bool = True) -> PerceptualPyramid:
        """Keep the frozen network in eval mode whatever the caller sets."""
        super().train(mode)
        if self.net is not None:
            self.net.eval()
        return self

    def _features(self, image: torch.Tensor) -> list[torch.Tensor]:
        assert self.net is not None  # forward takes the fallback when there is no network
        return _tapped_features(self.net, self.normalise(image))

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if prediction.shape != target.shape:
            raise ValueError(f"perceptual loss: shapes differ, {tuple(prediction.shape)} vs {tuple(target.shape)}")
        if self.fallback is not None:
            return self.fallback(prediction, target)
        loss = prediction.new_zeros(())
        pred_levels = image_pyramid(prediction, self.scales)
        with torch.no_grad():
            target_levels = image_pyramid(target, self.scales)
        for pred_level, target_level in zip(pred_levels, target_levels):
            with torch.no_grad():
                target_features = self._features(target_level)
            pred_features = self._features(pred_level)
            for weight, fp, ft in zip(self.layer_weights, pred_features, target_features):
                if weight:
                    loss = loss + weight * (fp - ft).abs().mean()
        return loss
