"""Driving motion: tracked relative transfer (docs/DESIGN.md#keypoint-sources) and the One-Euro smoother."""

from __future__ import annotations

import numpy as np
import pytest

from synergywarp.face import CANONICAL_FACE, fit_head_pose, rotation_from_euler
from synergywarp.face.pose import RIGID_LANDMARK_INDICES
from synergywarp.inference.motion import OneEuroFilter, TrackedMotionTransfer, transfer_tracked_motion
from synergywarp.tracked_keypoints import TRACKED_KEYPOINT_INDICES

MOUTH = [13, 14, 17, 0, 61, 291]
# The landmarks tracked motion reads: the rigid set (pose fit) and the keypoint set (expression).
MOTION_LANDMARK_INDICES: tuple[int, ...] = tuple(sorted(set(RIGID_LANDMARK_INDICES) | set(TRACKED_KEYPOINT_INDICES)))


def expand_motion_landmarks(subset: np.ndarray) -> np.ndarray:
    """...×M×3 points at :data:`MOTION_LANDMARK_INDICES` → ...×468×3 with NaN elsewhere."""
    subset = np.asarray(subset, dtype=np.float32)
    full = np.full(subset.shape[:-2] + (468, 3), np.nan, dtype=np.float32)
    full[..., list(MOTION_LANDMARK_INDICES), :] = subset
    return full


def tracked_driving_keypoints(source: np.ndarray, driving: np.ndarray, driving_first: np.ndarray) -> np.ndarray:
    """One-shot relative transfer → the ``...×32×3`` keypoints."""
    return TrackedMotionTransfer(source, driving_first, "relative").keypoints(driving)


def filter_sequence(smoother: OneEuroFilter, values: np.ndarray) -> np.ndarray:
    """Filter T samples ``T×...`` in order."""
    return np.stack([smoother(v) for v in np.asarray(values)])


def posed(pitch=0.0, yaw=0.0, roll=0.0, scale=0.6, shift=(0.0, 0.0, 0.0), expression=None, shape=None):
    """Landmarks 468×3 of the canonical face (+ identity ``shape`` + ``expression``) under a pose."""
    points = CANONICAL_FACE.astype(np.float64).copy()
    if shape is not None:
        points += shape
    if expression is not None:
        points += expression
    return (scale * points @ rotation_from_euler(pitch, yaw, roll).T + np.asarray(shift)).astype(np.float32)


def mouth_open(amount: float) -> np.ndarray:
    delta = np.zeros((468, 3))
    delta[[14, 17], 1] = amount  # lower lip down
    return delta


def test_reference_frame_gives_back_the_source_exactly():
    rng = np.random.default_rng(0)
    source = posed(yaw=-12, pitch=5, scale=0.55, shape=rng.normal(0, 0.01, (468, 3)))
    first = posed(yaw=20, roll=4, scale=0.7, shift=(0.1, -0.05, 0.0), expression=mouth_open(0.03))
    out = transfer_tracked_motion(source, first, first, "relative")
    np.testing.assert_allclose(out, source, atol=1e-5)


def test_relative_transfer_moves_the_source_by_the_driving_change():
    source = posed(yaw=-10, scale=0.5, shift=(0.05, 0.0, 0.0))
    first = posed(yaw=15, scale=0.7, shift=(-0.1, 0.0, 0.0))
    later = posed(yaw=35, scale=0.7, shift=(0.04, 0.0, 0.0), expression=mouth_open(0.05))
    out = transfer_tracked_motion(source, later, first, "relative")
    fit = fit_head_pose(out)
    # rotation change measured in the driving's canonical frame (yaw only here: angles add up)
    assert fit.yaw == pytest.approx(-10 + 20, abs=0.5)
    assert fit.scale == pytest.approx(0.5, rel=1e-3)
    # the driving shifted by 0.14 at face scale 0.7; the source (scale 0.5) moves by 0.1
    assert fit.translation[0] == pytest.approx(0.05 + 0.14 * 0.5 / 0.7, abs=2e-3)
    # the mouth opens by the driving's amount in canonical units
    opened = fit.expression[14, 1] - fit_head_pose(source).expression[14, 1]
    assert opened == pytest.approx(0.05, abs=2e-3)


def test_absolute_returns_the_driving_landmarks():
    source, first, later = posed(yaw=-10), posed(yaw=10), posed(yaw=25, expression=mouth_open(0.04))
    np.testing.assert_array_equal(transfer_tracked_motion(source, later, first, "absolute"), later)
    relative = transfer_tracked_motion(source, later, first, "relative")
    assert np.abs(relative - later).max() > 0.05


def test_subset_landmarks_are_enough_for_keypoints():
    """MOTION_LANDMARK_INDICES alone (the rigid set + the keypoints) give the same keypoints as the full set."""
    source, first = posed(yaw=-5), posed(yaw=10, scale=0.65)
    frames = np.stack([posed(yaw=10 + 3 * t, expression=mouth_open(0.01 * t)) for t in range(4)])
    full = tracked_driving_keypoints(source, frames, first)
    subset_first = expand_motion_landmarks(first[list(MOTION_LANDMARK_INDICES)])
    subset_frames = expand_motion_landmarks(frames[:, list(MOTION_LANDMARK_INDICES)])
    reduced = tracked_driving_keypoints(source, subset_frames, subset_first)
    assert reduced.shape == (4, len(TRACKED_KEYPOINT_INDICES), 3)
    np.testing.assert_allclose(reduced, full, atol=1e-5)


def test_one_euro_passes_through_when_off_and_keeps_constants():
    values = np.random.default_rng(1).normal(size=(20, 5, 3))
    off = filter_sequence(OneEuroFilter(0.0, fps=25), values)
    np.testing.assert_array_equal(off, values)
    constant = np.tile(values[:1], (20, 1, 1))
    np.testing.assert_allclose(filter_sequence(OneEuroFilter(2.0, fps=25), constant), constant, atol=1e-12)


def test_one_euro_reduces_jitter_and_follows_fast_motion():
    rng = np.random.default_rng(2)
    t = np.arange(100) / 25.0
    clean = 0.1 * np.stack([np.sin(2 * np.pi * 0.5 * t), np.cos(2 * np.pi * 0.3 * t)], axis=1)  # head sway
    noisy = clean + rng.normal(0, 0.01, clean.shape)  # tracker jitter
    smoothed = filter_sequence(OneEuroFilter(1.0, fps=25), noisy)
    jitter = lambda x: np.abs(np.diff(x, n=2, axis=0)).mean()  # noqa: E731  (frame-to-frame wobble)
    assert jitter(smoothed) < 0.5 * jitter(noisy)
    assert np.abs(smoothed - clean).mean() < np.abs(noisy - clean).mean()
    # a fast jump is followed within a few frames (speed raises the cut-off)
    step = np.concatenate([np.zeros(10), np.ones(10)])[:, None]
    out = filter_sequence(OneEuroFilter(1.0, fps=25), step)
    assert out[15, 0] > 0.8


def test_transfer_fits_source_and_reference_poses_once(monkeypatch):
    """Per driving frame only that frame's pose is fitted; source and reference poses are cached."""
    from synergywarp.inference import motion as motion_module

    calls = []
    real_fit = motion_module.fit_head_pose
    monkeypatch.setattr(motion_module, "fit_head_pose", lambda p: calls.append(1) or real_fit(p))
    source, first = posed(yaw=-10, scale=0.5), posed(yaw=15, scale=0.7)
    frames = [posed(yaw=15 + 4 * t, scale=0.7, expression=mouth_open(0.01 * t)) for t in range(5)]
    transfer = motion_module.TrackedMotionTransfer(source, first, "relative")
    cached = np.stack([transfer.keypoints(f) for f in frames])
    assert len(calls) == 2 + len(frames)
    one_shot = tracked_driving_keypoints(source, np.stack(frames), first)
    np.testing.assert_allclose(cached, one_shot, atol=1e-6)
