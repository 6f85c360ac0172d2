"""Renderer, trajectory and expression units on synthetic inputs."""

from __future__ import annotations

import numpy as np

from synergywarp.data.synth import EXPRESSION_NAMES, random_trajectory
from synergywarp.data.synth.expression import expression_basis
from synergywarp.data.synth.trajectory import PoseRanges
from synergywarp.face import CANONICAL_FACE
from synergywarp.face.mesh_render import warp_mesh


def _grid_mesh(size: int, cells: int = 4) -> tuple[np.ndarray, np.ndarray]:
    lin = np.linspace(-0.5, size - 0.5, cells + 1)
    xs, ys = np.meshgrid(lin, lin)
    points = np.stack([xs.ravel(), ys.ravel()], axis=1)
    triangles = []
    for r in range(cells):
        for c in range(cells):
            a, b = r * (cells + 1) + c, r * (cells + 1) + c + 1
            d, e = a + cells + 1, b + cells + 1
            triangles += [(a, b, e), (a, e, d)]
    return points, np.array(triangles, np.int32)


def test_identity_warp_returns_the_source():
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(32, 32, 3)).astype(np.float32)
    points, triangles = _grid_mesh(32)
    warped, ids = warp_mesh(image, points, points, np.zeros(len(points)), triangles)
    assert (ids >= 0).all()
    assert np.abs(warped - image).max() < 1e-4


def test_translated_mesh_shifts_the_image():
    rng = np.random.default_rng(1)
    image = rng.uniform(size=(32, 32, 1)).astype(np.float32)
    points, triangles = _grid_mesh(32)
    warped, _ = warp_mesh(image[..., 0], points, points + [3.0, 0.0], np.zeros(len(points)), triangles)
    assert np.abs(warped[:, 3:, 0] - image[:, :-3, 0]).max() < 1e-4


def test_nearer_triangle_hides_farther_one():
    image = np.zeros((20, 20), np.float32)
    image[:, 10:] = 1.0  # left half 0, right half 1
    source = np.array([[0, 0], [9, 0], [0, 19], [10, 0], [19, 0], [19, 19]], float)
    target = np.array([[0, 0], [19, 0], [0, 19], [0, 0], [19, 0], [19, 19]], float)
    triangles = np.array([[0, 1, 2], [3, 4, 5]], np.int32)
    for near_is_right in (False, True):
        depth = np.array([5, 5, 5, 1, 1, 1], float) if near_is_right else np.array([1, 1, 1, 5, 5, 5], float)
        warped, _ = warp_mesh(image, source, target, depth, triangles)
        overlap_value = warped[3, 15, 0]  # covered by both triangles
        assert overlap_value == (1.0 if near_is_right else 0.0)


def test_trajectory_is_deterministic_smooth_and_in_range():
    ranges = PoseRanges(yaw=30.0, pitch=10.0, roll=5.0)
    first = random_trajectory(np.random.default_rng(5), 100, 25.0, ranges)
    again = random_trajectory(np.random.default_rng(5), 100, 25.0, ranges)
    other = random_trajectory(np.random.default_rng(6), 100, 25.0, ranges)
    assert np.array_equal(first.pose, again.pose) and np.array_equal(first.expression, again.expression)
    assert not np.allclose(first.pose, other.pose)
    assert (np.abs(first.pose) <= [10.0, 30.0, 5.0]).all()
    assert np.abs(np.diff(first.pose, axis=0)).max() < 3.0
    assert first.expression.shape == (100, len(EXPRESSION_NAMES))
    assert (first.expression >= 0).all() and (first.expression <= 1).all()


def test_expression_basis_moves_the_right_landmarks():
    basis = expression_basis(CANONICAL_FACE)
    by_name = dict(zip(EXPRESSION_NAMES, basis))
    lower_lip, upper_lip = 14, 13
    assert by_name["mouth_open"][lower_lip, 1] > 0.08 > abs(by_name["mouth_open"][upper_lip, 1])
    assert np.abs(by_name["mouth_open"][[10, 33, 263]]).max() < 1e-6  # forehead, eyes stay
    # blink: upper lid travels (nearly) to the lower lid of that eye only
    gap = CANONICAL_FACE[145, 1] - CANONICAL_FACE[159, 1]
    assert abs(by_name["blink_right"][159, 1] - gap) < 0.05 * gap
    assert abs(by_name["blink_right"][386, 1]) < 1e-6
    assert by_name["brow_raise"][105, 1] < -0.03 and abs(by_name["brow_raise"][152, 1]) < 1e-6
    assert by_name["smile"][291, 0] > 0.02 and by_name["smile"][61, 0] < -0.02
