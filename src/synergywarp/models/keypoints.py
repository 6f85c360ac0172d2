"""Keypoint geometry: pose bins → degrees, rotation matrices, the keypoint transform, motion transfer.

Keypoints are row vectors ``B×K×3`` in the normalised crop cube (x right, y down, z into the screen).
"""

from __future__ import annotations

import math

import torch

from synergywarp.models.motion import MotionParams


def bins_to_degrees(logits: torch.Tensor) -> torch.Tensor:
    """Pose-bin logits ``B×N`` → angle ``B`` in degrees: ``3·Σ softmax(logits)_i·i − 3·(N−1)/2``."""
    num_bins = logits.shape[-1]
    idx = torch.arange(num_bins, device=logits.device, dtype=logits.dtype)
    return 3.0 * (torch.softmax(logits, dim=-1) * idx).sum(-1) - 1.5 * (num_bins - 1)


def rotation_matrix(pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """Angles ``B`` in degrees → ``R = R_z(roll)·R_y(yaw)·R_x(pitch)`` ``B×3×3`` (column-vector convention)."""
    p, y, r = (a * (math.pi / 180.0) for a in (pitch, yaw, roll))
    one, zero = torch.ones_like(p), torch.zeros_like(p)
    rx = torch.stack([one, zero, zero, zero, p.cos(), -p.sin(), zero, p.sin(), p.cos()], -1).view(-1, 3, 3)
    ry = torch.stack([y.cos(), zero, y.sin(), zero, one, zero, -y.sin(), zero, y.cos()], -1).view(-1, 3, 3)
    rz = torch.stack([r.cos(), -r.sin(), zero, r.sin(), r.cos(), zero, zero, zero, one], -1).view(-1, 3, 3)
    return rz @ ry @ rx


def pose_rotation(motion: MotionParams) -> torch.Tensor:
    """Rotation ``B×3×3`` of a :class:`MotionParams` (bin logits → degrees → matrix)."""
    return rotation_matrix(bins_to_degrees(motion.pitch), bins_to_degrees(motion.yaw), bins_to_degrees(motion.roll))


def transform_keypoints(
    canonical: torch.Tensor,
    rotation: torch.Tensor,
    expression: torch.Tensor,
    scale: torch.Tensor,
    translation: torch.Tensor,
) -> torch.Tensor:
    """``x = s·(x_c·Rᵀ + δ) + [t_x, t_y, 0]``.

    canonical, expression: ``B×K×3``; rotation: ``B×3×3``; scale: ``B×1``; translation: ``B×3``
    (its z is dropped). Returns ``B×K×3``.
    """
    moved = canonical @ rotation.transpose(1, 2) + expression
    shift = torch.cat([translation[:, :2], torch.zeros_like(translation[:, 2:])], dim=1)
    return scale[:, :, None] * moved + shift[:, None, :]


def keypoints_from_motion(canonical: torch.Tensor, motion: MotionParams) -> torch.Tensor:
    """Keypoints of an image whose pose/expression is ``motion`` on the given canonical keypoints ``B×K×3``."""
    return transform_keypoints(canonical, pose_rotation(motion), motion.exp, motion.scale, motion.t)


def relative_keypoints(
    canonical: torch.Tensor,
    source: MotionParams,
    driving: MotionParams,
    driving_first: MotionParams,
) -> torch.Tensor:
    """Relative motion transfer: the driving's change since its first frame applied to the source.

    ``R = R_s·R_d0ᵀ·R_d`` (LivePortrait's composition), ``δ = δ_s + δ_d − δ_d0``, ``s = s_s·s_d/s_d0``,
    ``t = t_s + t_d − t_d0``.
    All :class:`MotionParams` are broadcastable batches; returns ``B×K×3``.
    """
    r_s, r_d, r_d0 = pose_rotation(source), pose_rotation(driving), pose_rotation(driving_first)
    rotation = r_s @ r_d0.transpose(1, 2) @ r_d
    expression = source.exp + driving.exp - driving_first.exp
    scale = source.scale * driving.scale / driving_first.scale
    translation = source.t + driving.t - driving_first.t
    return transform_keypoints(canonical, rotation, expression, scale, translation)
