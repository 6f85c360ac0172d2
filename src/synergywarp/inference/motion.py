"""Driving motion → driving keypoints, and temporal smoothing.

- ``motion: learned``: the model's motion encoder; absolute (the source's canonical keypoints under
  the driving's pose and expression) or relative (the driving's change since its first frame applied
  to the source, LivePortrait's transfer) — see :func:`learned_driving_keypoints`.
- ``motion: tracked`` (docs/DESIGN.md#keypoint-sources): FaceMesh landmarks fitted to the canonical face
  (:func:`synergywarp.face.fit_head_pose`); :func:`transfer_tracked_motion` moves the source's
  landmarks by the driving's change in rotation, scale, translation and expression. Training uses
  the same function, so both see identical keypoints.
- :class:`OneEuroFilter`: causal, speed-adaptive low-pass filter on keypoint sequences.

Landmarks are crop-normalised (docs/CONTRACTS.md#crop-normalised-coordinates); ``p_obs = s·R·(p_can + δ) + t``
with ``δ`` the
expression residual in the canonical frame.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from synergywarp.face.keypoints import tracked_keypoints
from synergywarp.face.pose import CANONICAL_FACE, HeadPose, fit_head_pose
from synergywarp.models.motion import MotionParams
from synergywarp.models.network import SourceState, SynergyWarpNet


def _compose(rotation: np.ndarray, scale: float, translation: np.ndarray, expression: np.ndarray) -> np.ndarray:
    """``s·R·(canonical + δ) + t`` for 468×3 ``δ`` (row-wise)."""
    shape = CANONICAL_FACE.astype(np.float64) + expression
    return (scale * shape @ np.asarray(rotation, np.float64).T + translation).astype(np.float32)


def relative_pose_transfer(source: HeadPose, driving: HeadPose, driving_first: HeadPose) -> np.ndarray:
    """The source's 468×3 landmarks moved by the driving's change since its first frame.

    ``R = R_s·R_d0ᵀ·R_d`` (the rotation change measured in the driving's canonical frame, as
    LivePortrait composes it), ``s = s_s·s_d/s_d0``, ``t = t_s + (t_d − t_d0)·s_s/s_d0`` (the driving's
    shift rescaled to the source face's size), ``δ = δ_s + δ_d − δ_d0``. When ``driving`` is
    ``driving_first`` this reproduces the source's landmarks exactly.
    """
    r_s, r_d, r_d0 = (np.asarray(p.rotation, np.float64) for p in (source, driving, driving_first))
    rotation = r_s @ r_d0.T @ r_d
    scale = source.scale * driving.scale / driving_first.scale
    shift = np.asarray(driving.translation, np.float64) - np.asarray(driving_first.translation, np.float64)
    translation = np.asarray(source.translation, np.float64) + shift * (source.scale / driving_first.scale)
    expression = (np.asarray(source.expression, np.float64) + np.asarray(driving.expression, np.float64)
                  - np.asarray(driving_first.expression, np.float64))
    return _compose(rotation, scale, translation, expression)


class TrackedMotionTransfer:
    """Moves the source's landmarks by each driving frame's change (``motion: tracked``).

    The head poses of the source and of the driving's reference frame are fitted once here, so the
    per-frame cost is one pose fit of the driving frame. source, driving_first: 468×3 crop-normalised
    landmarks (NaN rows allowed). ``relative``: see :func:`relative_pose_transfer`; ``absolute``: the
    driving's landmarks as measured (its head pose, position and face shape).
    """

    def __init__(self, source: np.ndarray, driving_first: np.ndarray,
                 mode: Literal["relative", "absolute"] = "relative"):
        if mode not in ("relative", "absolute"):
            raise ValueError(f"mode must be 'relative' or 'absolute', got {mode!r}")
        self.mode = mode
        if mode == "relative":
            self.source_pose, self.first_pose = fit_head_pose(source), fit_head_pose(driving_first)

    def landmarks(self, driving: np.ndarray) -> np.ndarray:
        """Driving landmarks 468×3 or T×468×3 → the moved landmarks, same shape."""
        driving = np.asarray(driving, dtype=np.float32)
        if self.mode == "absolute":
            return driving.copy()
        frames = driving.reshape(-1, 468, 3)
        moved = np.stack([relative_pose_transfer(self.source_pose, fit_head_pose(f), self.first_pose) for f in frames])
        return moved.reshape(driving.shape)

    def keypoints(self, driving: np.ndarray) -> np.ndarray:
        """:meth:`landmarks` then the 32-keypoint subset: ``...×32×3`` float32."""
        return tracked_keypoints(self.landmarks(driving)).astype(np.float32)


def transfer_tracked_motion(
    source: np.ndarray,
    driving: np.ndarray,
    driving_first: np.ndarray,
    mode: Literal["relative", "absolute"] = "relative",
) -> np.ndarray:
    """One-shot :class:`TrackedMotionTransfer`: driving landmarks (468×3 or T×468×3) for a tracked model."""
    return TrackedMotionTransfer(source, driving_first, mode).landmarks(driving)


def learned_driving_keypoints(model: SynergyWarpNet, state: SourceState, images: torch.Tensor,
                              first_motion: MotionParams | None,
                              mode: Literal["relative", "absolute"] = "relative") -> torch.Tensor:
    """``motion: learned``: driving images ``N×3×S×S`` → keypoints ``N×K×3``.

    ``first_motion`` is the :class:`MotionParams` of the driving's reference frame (batch 1); used
    in relative mode, where the reference frame gives back the source's own keypoints.
    """
    motion = model.image_motion(images)
    if mode == "absolute":
        return model.motion_keypoints(state, motion)
    if first_motion is None:
        raise ValueError("relative motion needs the driving reference frame's motion")
    return model.relative_driving_keypoints(state, motion, first_motion)


class OneEuroFilter:
    """One-Euro filter (Casiez et al., CHI 2012) over arrays of any fixed shape, element-wise.

    The cut-off frequency rises with the filtered speed: ``f_c = min_cutoff + beta·|ẋ|``, so slow
    jitter is removed while fast motion keeps little lag. ``strength`` s sets ``min_cutoff = 1/s`` Hz
    and ``beta = 10/s`` (per crop-cube unit per second; keypoints span [−1, 1]); s = 0 passes values
    through unchanged. The first value passes through unchanged.
    """

    def __init__(self, strength: float, fps: float, derivative_cutoff: float = 1.0):
        self.strength = float(strength)
        self.period = 1.0 / float(fps)
        self.min_cutoff = 1.0 / self.strength if self.strength > 0 else math.inf
        self.beta = 10.0 / self.strength if self.strength > 0 else 0.0
        self.derivative_cutoff = derivative_cutoff
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None

    def _alpha(self, cutoff: np.ndarray | float) -> np.ndarray | float:
        tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64))
        return 1.0 / (1.0 + tau / self.period)

    def reset(self) -> None:
        self._value, self._speed = None, None

    def __call__(self, value: np.ndarray) -> np.ndarray:
        """Filter the next sample (array of the same shape every call); returns the filtered sample."""
        value = np.asarray(value, dtype=np.float64)
        if self.strength <= 0:
            return value
        if self._value is None or self._speed is None:
            self._value, self._speed = value.copy(), np.zeros_like(value)
            return value.copy()
        speed = (value - self._value) / self.period
        a_d = self._alpha(self.derivative_cutoff)
        self._speed = a_d * speed + (1.0 - a_d) * self._speed
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self._speed))
        self._value = a * value + (1.0 - a) * self._value
        return self._value.copy()

