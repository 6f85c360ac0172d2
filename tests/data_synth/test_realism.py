"""Rendered clips measured with independent detectors: mediapipe re-detection and dlib identity."""

from __future__ import annotations

import numpy as np
import pytest

from synergywarp.data.synth import Trajectory, render_clip
from synergywarp.face import fit_head_pose
from synergywarp.face.landmarks import detect_landmarks

YAWS = (-30.0, -15.0, 15.0, 30.0)
PITCHES = (-20.0, -10.0, 10.0, 20.0)


@pytest.fixture(scope="module")
def pose_sweep(prepared_large, plain_config):
    """Frame 0 neutral, then the yaw sweep, the pitch sweep, and a wide-open mouth."""
    poses = [(0.0, 0.0, 0.0)] + [(0.0, y, 0.0) for y in YAWS] + [(p, 0.0, 0.0) for p in PITCHES]
    poses.append((0.0, 0.0, 0.0))
    trajectory = Trajectory.from_poses(np.array(poses))
    trajectory.expression[-1, trajectory.expression_names.index("mouth_open")] = 1.0
    return render_clip(prepared_large, plain_config(224, len(poses)), seed=0, trajectory=trajectory)


def _redetect(frame: np.ndarray) -> np.ndarray:
    """Landmarks found by mediapipe on a rendered crop, crop-normalised (468×3)."""
    points = detect_landmarks(frame, name="rendered frame").points.astype(np.float64)
    size = frame.shape[0]
    return points * (2.0 / size) - np.array([1.0, 1.0, 0.0])


# Nose, eye corners, cheekbones and alae: points whose image position mediapipe pins to visible
# features (the silhouette and the textureless forehead top are inferred, not seen).
CENTRAL_RIGID = (168, 6, 197, 195, 5, 4, 1, 133, 362, 33, 263, 116, 345, 50, 280, 98, 327)


def _relative_rotation(shape: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(pitch, yaw, roll) in degrees of the orthographic view of the rigid 3D ``shape`` (468×3, the
    neutral frame's detection) that best explains the detected 2D ``points`` (468×2+)."""
    from scipy.optimize import least_squares

    from synergywarp.face import rotation_from_euler

    model = shape[list(CENTRAL_RIGID)] - shape[list(CENTRAL_RIGID)].mean(axis=0)
    observed = points[list(CENTRAL_RIGID), :2]

    def residual(params: np.ndarray) -> np.ndarray:
        projected = params[3] * (model @ rotation_from_euler(*params[:3]).T)[:, :2] + params[4:6]
        return (projected - observed).ravel()

    start = np.array([0.0, 0.0, 0.0, 1.0, *observed.mean(axis=0)])
    return least_squares(residual, start).x[:3]


def test_redetected_pose_matches_requested(pose_sweep):
    """Landmarks found by mediapipe on the rendered frames turn like the requested rotation."""
    detected = [_redetect(frame) for frame in pose_sweep.frames[:1 + len(YAWS) + len(PITCHES)]]
    angles = np.array([_relative_rotation(detected[0], points) for points in detected[1:]])
    yaw_errors = np.abs(angles[:4, 1] - YAWS)
    pitch_errors = np.abs(angles[4:, 0] - PITCHES)
    assert yaw_errors.max() < 4.0, angles[:4]
    assert pitch_errors.max() < 6.0, angles[4:]
    # fit_head_pose on raw detections agrees in sign and most of the size (mediapipe's depth
    # flattens on turned faces, so its 3D fit under-reads large yaws by up to ~25%)
    fitted_yaw = np.array([fit_head_pose(p).yaw for p in detected[:5]])
    assert np.all(np.sign(fitted_yaw[1:] - fitted_yaw[0]) == np.sign(YAWS))
    assert np.all(np.abs(fitted_yaw[1:] - fitted_yaw[0]) > 0.65 * np.abs(YAWS))


def test_redetected_landmarks_match_ground_truth(pose_sweep):
    for frame, truth in zip(pose_sweep.frames[:9], pose_sweep.landmarks[:9]):
        error = np.linalg.norm(_redetect(frame)[:, :2] - truth[:, :2], axis=1)
        assert np.median(error) < 0.02  # 1% of the crop side


def test_ground_truth_pose_is_the_requested_rotation(pose_sweep):
    relative = pose_sweep.pose[1:9] - pose_sweep.pose[0]
    assert np.allclose(relative[:4, 1], YAWS, atol=1.0)
    assert np.allclose(relative[4:8, 0], PITCHES, atol=1.0)
    assert np.allclose(pose_sweep.target_pose[1:5, 1], YAWS)


def test_mouth_open_increases_the_lip_gap(pose_sweep):
    def gap(points: np.ndarray) -> float:
        return float(np.linalg.norm(points[14, :2] - points[13, :2]))

    neutral, opened = pose_sweep.frames[0], pose_sweep.frames[-1]
    detected_neutral, detected_open = gap(_redetect(neutral)), gap(_redetect(opened))
    assert detected_open > detected_neutral + 0.04  # normalised units: > 4.5 px at 224²
    assert gap(pose_sweep.landmarks[-1]) > gap(pose_sweep.landmarks[0]) + 0.05


@pytest.mark.slow
def test_identity_is_preserved(pose_sweep, astronaut):
    import dlib
    import face_recognition_models as models

    detector = dlib.get_frontal_face_detector()
    shape = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
    encoder = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    def descriptor(image: np.ndarray) -> np.ndarray:
        boxes = detector(image, 1)
        assert len(boxes) >= 1, "dlib found no face"
        box = max(boxes, key=lambda b: b.area())
        return np.array(encoder.compute_face_descriptor(image, shape(image, box)))

    original = descriptor(astronaut)
    frames = pose_sweep.frames[[1, 4, 5, 8, -1]]  # yaw ±30, pitch ±20, open mouth
    distances = [float(np.linalg.norm(descriptor(np.ascontiguousarray(f)) - original)) for f in frames]
    assert max(distances) < 0.5, distances
