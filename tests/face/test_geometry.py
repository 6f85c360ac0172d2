"""Crop maps, paste-back, stable crops, pose fitting and keypoints on synthetic data (no detector)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synergywarp.errors import InputError
from synergywarp.face import (
    CANONICAL_FACE,
    FACE_TRIANGLES,
    RIGID_LANDMARK_INDICES,
    apply_crop,
    crop_from_params,
    euler_from_rotation,
    fit_head_pose,
    from_crop_coords,
    paste_back,
    rotation_from_euler,
    stable_video_crops,
    to_crop_coords,
    tracked_keypoints,
)
from synergywarp.tracked_keypoints import TRACKED_KEYPOINT_INDICES


def test_canonical_mesh_frame_and_topology() -> None:
    assert CANONICAL_FACE.shape == (468, 3) and FACE_TRIANGLES.shape == (898, 3)
    assert FACE_TRIANGLES.min() == 0 and FACE_TRIANGLES.max() == 467
    assert np.allclose([CANONICAL_FACE[:, 0].min(), CANONICAL_FACE[:, 0].max()], [-0.5, 0.5], atol=1e-4)
    assert CANONICAL_FACE[10, 1] < CANONICAL_FACE[1, 1] < CANONICAL_FACE[152, 1]  # forehead above chin
    assert CANONICAL_FACE[1, 2] < CANONICAL_FACE[234, 2]  # nose tip nearer the camera than the cheek
    assert CANONICAL_FACE[33, 0] < 0 < CANONICAL_FACE[263, 0]  # subject's right eye on the image left
    v = CANONICAL_FACE.astype(np.float64)
    corner = v[FACE_TRIANGLES[:, 0]]
    normals = np.cross(v[FACE_TRIANGLES[:, 1]] - corner, v[FACE_TRIANGLES[:, 2]] - corner)
    assert (normals[:, 2] < 0).mean() > 0.95  # front faces point toward the camera (−z)


def test_euler_round_trip_and_axes() -> None:
    for angles in [(10.0, -25.0, 7.0), (-18.0, 33.0, -12.0), (0.0, 0.0, 0.0)]:
        assert np.allclose(euler_from_rotation(rotation_from_euler(*angles)), angles, atol=1e-9)
    nose = np.array([0.0, 0.0, -1.0])
    assert (rotation_from_euler(0, 20, 0) @ nose)[0] < 0  # positive yaw: nose to the image left
    assert (rotation_from_euler(20, 0, 0) @ nose)[1] > 0  # positive pitch: nose down
    left_eye = np.array([1.0, 0.0, 0.0])
    assert (rotation_from_euler(0, 0, 20) @ left_eye)[1] > 0  # positive roll: clockwise on screen


def test_fit_recovers_known_similarity_with_expression_noise() -> None:
    rng = np.random.default_rng(0)
    rotation = rotation_from_euler(12.0, -28.0, 9.0)
    expression = np.zeros((468, 3))
    mouth = [13, 14, 17, 0, 61, 291, 78, 308, 82, 312, 87, 317]
    expression[mouth, 1] = rng.normal(0, 0.04, len(mouth))  # non-rigid change outside the fit subset
    observed = 0.7 * (CANONICAL_FACE + expression) @ rotation.T + np.array([0.05, -0.1, 0.2])
    observed[list(RIGID_LANDMARK_INDICES)] += rng.normal(0, 1e-3, (len(RIGID_LANDMARK_INDICES), 3))
    pose = fit_head_pose(observed)
    assert np.allclose([pose.pitch, pose.yaw, pose.roll], [12.0, -28.0, 9.0], atol=1.0)
    assert abs(pose.scale - 0.7) < 0.01
    assert np.abs(pose.expression[mouth, 1] - expression[mouth, 1]).max() < 0.01
    with pytest.raises(ValueError):
        fit_head_pose(observed[:100])


def _dot_image(x: float, y: float, shape=(300, 400)) -> np.ndarray:
    """Black image with a small bright blob centred at continuous pixel position (x, y)."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]] + 0.5
    blob = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 3.0**2))
    return np.repeat((blob * 255).astype(np.uint8)[..., None], 3, axis=2)


def _centroid(image: np.ndarray) -> np.ndarray:
    weight = image[..., 0].astype(np.float64)
    ys, xs = np.mgrid[0 : image.shape[0], 0 : image.shape[1]] + 0.5
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()


@pytest.mark.parametrize("side,angle", [(120.0, 0.0), (80.0, 17.0), (260.0, -11.0)])
def test_crop_round_trip_within_one_pixel(side: float, angle: float) -> None:
    dot = np.array([231.3, 140.7])
    crop = crop_from_params(np.array([210.0, 150.0]), side, angle, 128)
    cropped = apply_crop(_dot_image(*dot), crop)
    found = _centroid(cropped)
    predicted = crop.matrix[:, :2] @ dot + crop.matrix[:, 2]
    assert np.linalg.norm(found - predicted) < 0.25  # a half-pixel convention slip fails here
    back = crop.inverse[:, :2] @ found + crop.inverse[:, 2]
    assert np.linalg.norm(back - dot) < 1.0
    points = np.array([[[*dot, 12.0], [10.0, 20.0, -5.0]]])
    norm = to_crop_coords(points, crop)
    assert np.allclose(norm[0, 0, :2], 2 * predicted / 128 - 1, atol=1e-4)
    assert np.allclose(norm[..., 2], points[..., 2] * 2 * (128 / side) / 128, atol=1e-5)
    assert np.allclose(from_crop_coords(norm, crop), points, atol=1e-3)


def test_paste_back_restores_image_and_only_touches_the_crop(astronaut: np.ndarray) -> None:
    crop = crop_from_params(np.array([230.0, 130.0]), 200.0, 10.0, 256)
    restored = paste_back(astronaut, apply_crop(astronaut, crop), crop, feather=0.1)
    inner = (slice(110, 150), slice(210, 250))
    assert np.abs(restored[inner].astype(int) - astronaut[inner]).mean() < 3.0
    dark = paste_back(astronaut, np.zeros((512, 512, 3), np.uint8), crop)  # other size than the crop
    assert dark[inner].max() < 5
    assert np.array_equal(dark[400:, :], astronaut[400:, :])  # far from the crop: untouched


def _moving_points(frames: int) -> np.ndarray:
    base = CANONICAL_FACE * 100 + np.array([200.0, 150.0, 0.0])
    return np.stack([base + np.array([3.0 * t, 1.0 * t, 0.0]) for t in range(frames)])


def test_stable_crops_fixed_identical_and_contains_every_face() -> None:
    points = _moving_points(10)
    points[4] = np.nan  # a frame without a face
    crops = stable_video_crops(points, 128, "fixed")
    assert len(crops) == 10 and all(np.array_equal(c.matrix, crops[0].matrix) for c in crops)
    for frame in points[[0, 9]]:
        norm = to_crop_coords(frame, crops[0])
        assert np.abs(norm[:, :2]).max() < 0.9


def test_stable_crops_smooth_follow_motion_and_fill_gaps() -> None:
    points = _moving_points(30)
    points[10:13] = np.nan
    crops = stable_video_crops(points, 128, "smooth", smooth_sigma=2.0)
    centres = np.array([c.inverse @ np.array([64.0, 64.0, 1.0]) for c in crops])
    steps = np.diff(centres, axis=0)
    assert np.allclose(steps[5:-5, 0], 3.0, atol=0.3) and np.allclose(steps[5:-5, 1], 1.0, atol=0.3)
    with pytest.raises(InputError):
        stable_video_crops(np.full((3, 468, 3), np.nan), 128)


def test_tracked_keypoints_numpy_and_torch() -> None:
    points = np.random.default_rng(1).normal(size=(2, 5, 468, 3)).astype(np.float32)
    kp = tracked_keypoints(points)
    assert kp.shape == (2, 5, 32, 3)
    assert np.array_equal(kp[1, 3, 7], points[1, 3, TRACKED_KEYPOINT_INDICES[7]])
    assert torch.equal(tracked_keypoints(torch.from_numpy(points)), torch.from_numpy(kp))
