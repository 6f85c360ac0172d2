"""Pixel reconstruction loss."""

from __future__ import annotations

import torch


def l1_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error ``mean |prediction − target|`` over all elements (docs/DESIGN.md#training: weight 10).

    prediction, target: B×3×H×W images in [0, 1] (any equal shapes) -> scalar.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"l1_loss: shapes differ, {tuple(prediction.shape)} vs {tuple(target.shape)}")
    return (prediction - target).abs().mean()
