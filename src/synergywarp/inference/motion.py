"""Driving motion → driving keypoints, and temporal smoothing.

- ``motion: learned``: the model's motion encoder; absolute (the source's canonical keypoints under
  the driving's pose and expression) or relative (the driving's change since its first frame applied
  to the source, LivePortrait's transfer) — see :class:`LearnedDriving`.
- ``motion: tracked`` (docs/DESIGN.md#keypoint-sources): FaceMesh landmarks fitted to the canonical face
  (:func:`synergywarp.face.fit_head_pose`); :func:`transfer_tracked_motion` moves the source's
  landmarks by the driving's change in rotation, scale, translation and expression (per stream:
  :class:`TrackedDriving`). Training uses the same function, so both see identical keypoints.
- :func:`driving_motion`: the one of the two a model's keypoint kind needs, for one driving stream.
- :class:`OneEuroFilter`: causal, speed-adaptive low-pass filter on keypoint sequences.

Landmarks are crop-normalised (docs/CONTRACTS.md#crop-normalised-coordinates); ``p_obs = s·R·(p_can + δ) + t``
with ``δ`` the
expression residual in the canonical frame.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch

from synergywarp.face.keypoints import tracked_keypoints
from synergywarp.face.pose import CANONICAL_FACE, HeadPose, fit_head_pose
from synergywarp.inference.inputs import DrivingTrack, PreparedFace
from synergywarp.inference.options import MotionMode
from synergywarp.models.motion import MotionParams
from synergywarp.models.motion_source import LearnedMotion, SourceKeypoints
from synergywarp.models.network import SynergyWarpNet


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


class DrivingMotion(ABC):
    """One driving stream's motion for the model's keypoint kind: what is held and smoothed per frame
    (:meth:`raw`, starting from :attr:`initial`) and the keypoints ``N×K×3`` it gives the network
    (:meth:`keypoints`). Built by :func:`driving_motion` with the driving's reference frame."""

    #: what is held before the first driving frame with a face: the source's own motion
    initial: np.ndarray

    @abstractmethod
    def raw(self, crops: Sequence[np.ndarray], indices: Sequence[int], track: DrivingTrack | None) -> np.ndarray:
        """Raw (unheld, unsmoothed) motion of driving crops ``N×S×S×3`` (frames ``indices`` of ``track``);
        rows of frames without a face are NaN or unused."""

    @abstractmethod
    def keypoints(self, motion: np.ndarray) -> np.ndarray:
        """Keypoints ``N×K×3`` float32 of held/smoothed motion ``N×…`` (as :meth:`raw` gives it)."""


class TrackedDriving(DrivingMotion):
    """``motion: tracked``: the source's 468×3 landmarks moved by each driving frame's
    (:class:`TrackedMotionTransfer`, fitted at the first frame with a face)."""

    def __init__(self, source_landmarks: np.ndarray, first_landmarks: np.ndarray | None, mode: MotionMode):
        self.source_landmarks, self.first_landmarks, self.mode = source_landmarks, first_landmarks, mode
        self.initial = source_landmarks.astype(np.float32)
        self.transfer: TrackedMotionTransfer | None = None

    def raw(self, crops: Sequence[np.ndarray], indices: Sequence[int], track: DrivingTrack | None) -> np.ndarray:
        first = self.first_landmarks
        if track is None or first is None:
            raise ValueError("tracked motion needs the driving's tracking pass")
        out = np.full((len(indices), 468, 3), np.nan, np.float32)
        for row, index in enumerate(indices):
            if track.valid[index]:
                if self.transfer is None:
                    self.transfer = TrackedMotionTransfer(self.source_landmarks, first, self.mode)
                out[row] = self.transfer.landmarks(track.landmarks_at(index))
        return out

    def keypoints(self, motion: np.ndarray) -> np.ndarray:
        return tracked_keypoints(motion).astype(np.float32)


class LearnedDriving(DrivingMotion):
    """``motion: learned``: keypoints from the motion encoder (:meth:`LearnedMotion.transferred`);
    ``to_images`` turns crops into the network's input ``N×3×S×S`` on its device."""

    def __init__(self, learned: LearnedMotion, source: SourceKeypoints, first_crop: np.ndarray | None,
                 mode: MotionMode, to_images: Callable[[Sequence[np.ndarray]], torch.Tensor]):
        self.learned, self.source, self.mode, self.to_images = learned, source, mode, to_images
        self.initial = source.keypoints[0].detach().float().cpu().numpy()
        self.first: MotionParams | None = None if first_crop is None else learned.image_motion(to_images([first_crop]))

    def raw(self, crops: Sequence[np.ndarray], indices: Sequence[int], track: DrivingTrack | None) -> np.ndarray:
        if self.first is None:  # a one-shot iterator without crop: its first frame is the reference
            self.first = self.learned.image_motion(self.to_images(crops[:1]))
        motion = self.learned.image_motion(self.to_images(crops))
        return self.learned.transferred(self.source, motion, self.first, self.mode).float().cpu().numpy()

    def keypoints(self, motion: np.ndarray) -> np.ndarray:
        return motion


def driving_motion(model: SynergyWarpNet, source: PreparedFace, state: SourceKeypoints, mode: MotionMode,
                   track: DrivingTrack | None, first_index: int, first_crop: np.ndarray | None,
                   to_images: Callable[[Sequence[np.ndarray]], torch.Tensor]) -> DrivingMotion:
    """The driving motion of ``model``'s keypoint kind (:attr:`MotionSource.uses_landmarks`), given the
    driving's reference frame: frame ``first_index`` of ``track`` (landmarks) and its crop (learned)."""
    if model.motion_source.uses_landmarks:
        first = track.landmarks_at(first_index) if track is not None else None
        return TrackedDriving(source.required_landmarks(), first, mode)
    return LearnedDriving(model.learned_motion(), state, first_crop, mode, to_images)


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

