"""Keypoint priors for a trained motion encoder, and optional pose supervision (docs/DESIGN.md#training)."""

from __future__ import annotations

import math

import torch
from einops import rearrange


def keypoint_prior_loss(
    keypoints: torch.Tensor, min_distance_sq: float = 0.1, depth_target: float = 0.33
) -> torch.Tensor:
    """``Σ_{i≠j} max(0, 0.1 − ‖x_i − x_j‖²) + |mean_k z_k − 0.33|``, averaged over the batch (weight 10).

    keypoints: B×K×3 (x, y, z) -> scalar. The sum runs over ordered pairs (each pair counted twice).
    """
    diff = rearrange(keypoints, "b i c -> b i 1 c") - rearrange(keypoints, "b j c -> b 1 j c")
    squared = (diff**2).sum(-1)  # b i j
    off_diagonal = ~torch.eye(keypoints.shape[1], dtype=torch.bool, device=keypoints.device)
    spread = (torch.relu(min_distance_sq - squared) * off_diagonal).sum(dim=(1, 2))
    depth = (keypoints[..., 2].mean(dim=1) - depth_target).abs()
    return (spread + depth).mean()


def deformation_prior_loss(expression: torch.Tensor) -> torch.Tensor:
    """``‖δ‖₁`` per keypoint (Σ over x, y, z), averaged over batch and keypoints (weight 5).

    expression: B×K×3 expression deformations δ -> scalar.
    """
    return expression.abs().sum(dim=-1).mean()


def pose_supervision_loss(
    predicted_degrees: torch.Tensor, target_degrees: torch.Tensor, scale: float = math.pi / 180
) -> torch.Tensor:
    """``mean |pose_pred − pose_true| · scale`` over pitch/yaw/roll (B×3, degrees) -> scalar.

    ``scale`` defaults to π/180 (an L1 in radians). Weight 0 unless the data carries ground-truth pose
    (the synthetic engine's ``pose`` array).
    """
    if predicted_degrees.shape != target_degrees.shape:
        raise ValueError(f"pose shapes differ, {tuple(predicted_degrees.shape)} vs {tuple(target_degrees.shape)}")
    return (predicted_degrees - target_degrees).abs().mean() * scale
