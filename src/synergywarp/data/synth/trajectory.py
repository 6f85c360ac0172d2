"""Smooth random head-pose and expression trajectories, deterministic for a seed.

A trajectory holds, per frame, the head rotation relative to the source portrait (pitch, yaw, roll
in degrees, ``R = Rz(roll)·Ry(yaw)·Rx(pitch)`` about the head centre), a small shift of the head
(crop-normalised units), a zoom factor, and expression strengths in [0, 1] named by
:data:`EXPRESSION_NAMES`. Pose curves are sums of a few low-frequency sinusoids; mouth motion is a
fast rectified "talking" signal under a slow envelope; blinks are short raised-cosine events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EXPRESSION_NAMES: tuple[str, ...] = (
    "mouth_open", "smile", "blink_right", "blink_left", "eye_wide", "brow_raise",
)


@dataclass(frozen=True)
class PoseRanges:
    """Largest |angle| (degrees) a trajectory reaches, plus head shift and zoom ranges."""

    yaw: float = 35.0
    pitch: float = 20.0
    roll: float = 15.0
    shift: float = 0.03  # crop-normalised units (crop side = 2)
    zoom: float = 0.04  # relative scale change


@dataclass(frozen=True)
class ExpressionStrengths:
    """Largest value (0–1) of each expression; 0 switches it off."""

    mouth_open: float = 1.0
    smile: float = 0.8
    blink: float = 1.0
    eye_wide: float = 0.6
    brow_raise: float = 0.8
    blink_rate_hz: tuple[float, float] = (0.15, 0.5)  # blinks per second, drawn per clip


@dataclass
class Trajectory:
    """Per-frame motion: ``pose`` T×3 (pitch, yaw, roll deg), ``shift`` T×2, ``zoom`` T,
    ``expression`` T×E (E = len(expression_names)), all float32."""

    pose: np.ndarray
    shift: np.ndarray
    zoom: np.ndarray
    expression: np.ndarray
    expression_names: tuple[str, ...] = field(default=EXPRESSION_NAMES)

    def __post_init__(self) -> None:
        frames = len(self.pose)
        self.pose = np.asarray(self.pose, np.float32).reshape(frames, 3)
        self.shift = np.asarray(self.shift, np.float32).reshape(frames, 2)
        self.zoom = np.asarray(self.zoom, np.float32).reshape(frames)
        self.expression = np.asarray(self.expression, np.float32).reshape(frames, len(self.expression_names))

    @property
    def num_frames(self) -> int:
        return len(self.pose)

    @classmethod
    def still(cls, frames: int) -> Trajectory:
        """The source pose and a neutral face for every frame."""
        return cls(np.zeros((frames, 3)), np.zeros((frames, 2)), np.ones(frames),
                   np.zeros((frames, len(EXPRESSION_NAMES))))

    @classmethod
    def from_poses(cls, poses: np.ndarray, expression: dict[str, np.ndarray | float] | None = None
                   ) -> Trajectory:
        """A trajectory through given T×3 (pitch, yaw, roll) poses with optional named expressions."""
        poses = np.asarray(poses, np.float32).reshape(-1, 3)
        traj = cls.still(len(poses))
        traj.pose[:] = poses
        for name, value in (expression or {}).items():
            traj.expression[:, EXPRESSION_NAMES.index(name)] = value
        return traj


def smooth_curve(rng: np.random.Generator, frames: int, fps: float, low_hz: float, high_hz: float,
                 components: int = 3) -> np.ndarray:
    """T float64 in [−1, 1]: a normalised sum of ``components`` sinusoids with random frequencies
    in [low_hz, high_hz], phases and weights."""
    time = np.arange(frames) / fps
    freqs = rng.uniform(low_hz, high_hz, components)
    phases = rng.uniform(0.0, 2.0 * np.pi, components)
    weights = rng.dirichlet(np.ones(components))
    return np.sin(2.0 * np.pi * freqs[:, None] * time[None, :] + phases[:, None]).T @ weights


def _ranged_curve(rng: np.random.Generator, frames: int, fps: float, limit: float,
                  low_hz: float = 0.08, high_hz: float = 0.45) -> np.ndarray:
    """A smooth curve that stays within ±limit: random amplitude and offset with amp + |off| ≤ limit."""
    if limit <= 0:
        return np.zeros(frames)
    amplitude = limit * rng.uniform(0.35, 1.0)
    offset = rng.uniform(-1.0, 1.0) * (limit - amplitude)
    return offset + amplitude * smooth_curve(rng, frames, fps, low_hz, high_hz)


def _blink_track(rng: np.random.Generator, frames: int, fps: float, rate_hz: float) -> np.ndarray:
    """T×2 (right, left) blink closure in [0, 1]: raised-cosine events of 0.15–0.3 s."""
    track = np.zeros((frames, 2))
    duration_s = frames / fps
    count = rng.poisson(rate_hz * duration_s)
    starts = rng.uniform(-0.2, duration_s, count)
    lengths = rng.uniform(0.15, 0.3, count)
    winks = rng.uniform(size=count) < 0.08
    wink_side = rng.integers(0, 2, count)
    time = np.arange(frames) / fps
    for start, length, wink, side in zip(starts, lengths, winks, wink_side):
        phase = (time - start) / length
        bump = np.where((phase > 0) & (phase < 1), 0.5 - 0.5 * np.cos(2 * np.pi * phase), 0.0)
        columns = [side] if wink else [0, 1]
        track[:, columns] = np.maximum(track[:, columns], bump[:, None])
    return track


def random_trajectory(rng: np.random.Generator, frames: int, fps: float,
                      ranges: PoseRanges = PoseRanges(),
                      strengths: ExpressionStrengths = ExpressionStrengths()) -> Trajectory:
    """A smooth random head motion and expression sequence of ``frames`` frames."""
    pose = np.stack([_ranged_curve(rng, frames, fps, ranges.pitch),
                     _ranged_curve(rng, frames, fps, ranges.yaw),
                     _ranged_curve(rng, frames, fps, ranges.roll)], axis=1)
    shift = np.stack([_ranged_curve(rng, frames, fps, ranges.shift) for _ in range(2)], axis=1)
    zoom = 1.0 + _ranged_curve(rng, frames, fps, ranges.zoom)

    talking = np.maximum(smooth_curve(rng, frames, fps, 1.5, 4.5, components=4), 0.0) * 1.6
    envelope = np.clip(0.5 + 0.8 * smooth_curve(rng, frames, fps, 0.15, 0.5), 0.0, 1.0)
    mouth = np.clip(talking * envelope * rng.uniform(0.4, 1.0), 0.0, 1.0)

    def slow_positive(scale: float) -> np.ndarray:
        level = rng.uniform(-0.6, 0.4)
        return np.clip(level + 0.8 * smooth_curve(rng, frames, fps, 0.1, 0.5), 0.0, 1.0) * scale

    smile = slow_positive(strengths.smile)
    blink = _blink_track(rng, frames, fps, rng.uniform(*strengths.blink_rate_hz)) * strengths.blink
    eye_wide = slow_positive(strengths.eye_wide)
    brow = slow_positive(strengths.brow_raise)
    expression = np.column_stack([mouth * strengths.mouth_open, smile, blink, eye_wide, brow])
    # a lid cannot close and widen at once: blinking overrides widening
    expression[:, 4] *= 1.0 - expression[:, 2:4].max(axis=1)
    return Trajectory(pose, shift, zoom, expression)
