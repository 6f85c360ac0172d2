"""Detection, landmarks, crops and pose on real portraits (astronaut, Grace Hopper)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from synergywarp.errors import InputError
from synergywarp.face import (
    LandmarkDetector,
    apply_crop,
    crop_from_landmarks,
    detect_faces,
    detect_landmarks,
    fit_head_pose,
    stable_video_crops,
    to_crop_coords,
)


def _dlib_68(image: np.ndarray) -> np.ndarray:
    import dlib
    import face_recognition_models

    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    rect = dlib.get_frontal_face_detector()(image, 1)[0]
    return np.array([(p.x + 0.5, p.y + 0.5) for p in predictor(image, rect).parts()])


def _pose(image: np.ndarray, align_roll: bool = False):
    points = detect_landmarks(image).points
    return fit_head_pose(to_crop_coords(points, crop_from_landmarks(points, 256, align_roll=align_roll)))


@pytest.mark.slow
@pytest.mark.parametrize("which", ["astronaut", "grace_hopper"])
def test_landmarks_agree_with_dlib_68(which: str, request: pytest.FixtureRequest) -> None:
    image = request.getfixturevalue(which)
    points = detect_landmarks(image, name=which).points
    assert points.shape == (468, 3) and points.dtype == np.float32
    ref = _dlib_68(image)
    ours = {
        "right_eye": points[[33, 133, 159, 145]].mean(axis=0)[:2],
        "left_eye": points[[263, 362, 386, 374]].mean(axis=0)[:2],
        "mouth": points[[61, 291, 13, 14]].mean(axis=0)[:2],
        "nose": points[1, :2],
    }
    theirs = {
        "right_eye": ref[36:42].mean(axis=0),
        "left_eye": ref[42:48].mean(axis=0),
        "mouth": ref[[48, 54, 62, 66]].mean(axis=0),
        "nose": ref[30],
    }
    inter_ocular = np.linalg.norm(theirs["left_eye"] - theirs["right_eye"])
    for part, limit in {"right_eye": 0.08, "left_eye": 0.08, "mouth": 0.08, "nose": 0.15}.items():
        error = np.linalg.norm(ours[part] - theirs[part])
        assert error < limit * inter_ocular, (part, error, inter_ocular)


def test_flipped_portrait_mirrors_yaw_and_roll(astronaut: np.ndarray, grace_hopper: np.ndarray) -> None:
    for image in (astronaut, grace_hopper):
        pose, mirrored = _pose(image), _pose(np.ascontiguousarray(image[:, ::-1]))
        assert abs(pose.yaw + mirrored.yaw) < 1.5 and abs(pose.roll + mirrored.roll) < 1.5
        assert abs(pose.pitch - mirrored.pitch) < 2.0
        assert abs(pose.yaw) < 10 and abs(pose.roll) < 10  # both portraits are near-frontal


def test_rotated_portrait_gives_roll(grace_hopper: np.ndarray) -> None:
    height, width = grace_hopper.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 20.0, 1.0)  # counter-clockwise on screen
    rotated = cv2.warpAffine(grace_hopper, turn, (width, height), borderMode=cv2.BORDER_REFLECT_101)
    upright, turned = _pose(grace_hopper), _pose(rotated)
    assert abs((turned.roll - upright.roll) - (-20.0)) < 2.0
    assert abs(turned.yaw - upright.yaw) < 3.0
    aligned_turned, aligned_upright = _pose(rotated, align_roll=True), _pose(grace_hopper, align_roll=True)
    assert abs(aligned_turned.roll - aligned_upright.roll) < 2.0  # the aligned crop undoes the turn


def test_synthetic_rotation_of_real_landmarks_is_recovered(astronaut: np.ndarray) -> None:
    from synergywarp.face import rotation_from_euler

    points = detect_landmarks(astronaut).points
    norm = to_crop_coords(points, crop_from_landmarks(points, 256)).astype(np.float64)
    base = fit_head_pose(norm)
    turn = rotation_from_euler(-15.0, 30.0, 10.0)
    centre = norm.mean(axis=0)
    turned = fit_head_pose((norm - centre) @ turn.T + centre)
    residual = turned.rotation.astype(np.float64) @ (turn @ base.rotation).T
    angle = np.degrees(np.arccos(np.clip((np.trace(residual) - 1) / 2, -1, 1)))
    assert angle < 1.0


@pytest.mark.parametrize("kind", ["noise", "flat"])
def test_no_face_raises_input_error(kind: str) -> None:
    rng = np.random.default_rng(3)
    image = (rng.integers(0, 256, (240, 320, 3)) if kind == "noise" else np.full((240, 320, 3), 128)).astype(np.uint8)
    with pytest.raises(InputError, match="no face found in blank.png"):
        detect_landmarks(image, name="blank.png")


def test_two_faces_largest_chosen_with_warning(astronaut: np.ndarray, grace_hopper: np.ndarray) -> None:
    both = np.concatenate([astronaut, grace_hopper[:512]], axis=1)  # Grace's face is the larger one
    with pytest.warns(UserWarning, match="2 faces found in pair"):
        found = detect_landmarks(both, name="pair")
    assert found.points[:, 0].min() > 512
    boxes = detect_faces(both)
    assert len(boxes) == 2 and boxes[0].area > boxes[1].area


def test_downscaled_detection_on_a_huge_image(grace_hopper: np.ndarray) -> None:
    big = cv2.resize(grace_hopper, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    small_points = detect_landmarks(grace_hopper).points
    big_points = detect_landmarks(big).points
    eye = [33, 133, 263, 362]
    assert np.abs(big_points[eye, :2] / 4 - small_points[eye, :2]).max() < 3.0


def test_video_mode_tracks_a_moving_face(astronaut: np.ndarray) -> None:
    frames = [np.roll(astronaut, (2 * t, 4 * t), axis=(0, 1)) for t in range(8)]
    detector = LandmarkDetector(static_image=False)
    tracks = np.stack([detector(frame).points for frame in frames])
    detector.close()
    nose_moves = tracks[1:, 1, :2] - tracks[:-1, 1, :2]
    assert np.allclose(nose_moves, [4.0, 2.0], atol=1.5)
    crops = stable_video_crops(tracks, 128, "fixed")
    first, last = apply_crop(frames[0], crops[0]), apply_crop(frames[-1], crops[-1])
    assert first.shape == (128, 128, 3) and not np.array_equal(first, last)
    assert np.array_equal(crops[0].matrix, crops[-1].matrix)
