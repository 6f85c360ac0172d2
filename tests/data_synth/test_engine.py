"""Engine behaviour: still background, smooth motion, determinism, flips, bad inputs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from synergywarp.data.synth import SynthConfig, Trajectory, render_clip
from synergywarp.data.synth.engine import MIRROR, flip_clip
from synergywarp.errors import ConfigError, InputError
from synergywarp.face import fit_head_poses


@pytest.fixture(scope="module")
def random_clip(prepared_small, plain_config):
    return render_clip(prepared_small, plain_config(64, frames=32), seed=3)


def test_background_stays_still_while_the_head_turns(prepared_small, plain_config):
    poses = np.zeros((9, 3))
    poses[:, 1] = np.linspace(-30, 30, 9)
    poses[:, 0] = np.linspace(-15, 15, 9)
    clip = render_clip(prepared_small, plain_config(64, frames=9), trajectory=Trajectory.from_poses(poses))
    frames = clip.frames.astype(np.float32)
    mask = cv2.resize(prepared_small.layers[..., 3], (64, 64), interpolation=cv2.INTER_AREA)
    far_from_head = cv2.dilate((mask > 0.01).astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
    head = mask > 0.9
    assert far_from_head.mean() > 0.2  # the test measures a real region
    change = np.abs(frames - frames[4:5]).mean(axis=-1)  # vs the middle (frontal) frame
    background_change = change[:, far_from_head].mean()
    head_change = change[:, head].mean()
    assert background_change < 1.0  # grey levels
    assert head_change > 15 * max(background_change, 0.1)


def test_frames_are_temporally_smooth(random_clip):
    frames = random_clip.frames.astype(np.float32)
    step = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    span = np.abs(frames[-1] - frames[0]).mean()
    assert step.mean() < 0.3 * span
    pose_step = np.abs(np.diff(random_clip.pose, axis=0)).max()
    assert pose_step < 4.0  # degrees per frame at 25 fps


def test_ground_truth_fields_and_ranges(random_clip):
    t = 32
    clip = random_clip
    assert clip.frames.shape == (t, 64, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.landmarks.shape == (t, 468, 3) and clip.landmarks.dtype == np.float32
    assert clip.rotation.shape == (t, 3, 3) and clip.pose.shape == (t, 3)
    assert clip.scale.shape == (t,) and clip.translation.shape == (t, 3)
    assert clip.expression.shape == (t, len(clip.expression_names))
    assert clip.valid.all() and clip.valid.dtype == bool
    assert np.abs(clip.target_pose).max(axis=0).tolist() <= [20.0, 35.0, 15.0]
    assert np.abs(clip.landmarks[..., :2]).max() < 1.0  # the face stays inside the crop
    assert clip.expression.min() >= 0.0 and clip.expression.max() <= 1.0
    arrays = clip.arrays()
    for key in ("landmarks", "valid", "rotation", "pose", "scale", "translation", "fps", "identity",
                "expression", "expression_names"):
        assert key in arrays


def test_same_seed_same_clip_other_seed_other_clip(prepared_small):
    config = SynthConfig(size=64, frames=6)
    first, second = render_clip(prepared_small, config, seed=11), render_clip(prepared_small, config, seed=11)
    other = render_clip(prepared_small, config, seed=12)
    assert np.array_equal(first.frames, second.frames)
    for key, value in first.arrays().items():
        assert np.array_equal(value, second.arrays()[key]), key
    assert not np.array_equal(first.frames, other.frames)
    assert not np.allclose(first.pose, other.pose)


def test_flip_mirrors_frames_landmarks_and_pose(random_clip):
    frames, landmarks, expression, target = flip_clip(
        random_clip.frames, random_clip.landmarks, random_clip.expression,
        random_clip.expression_names, random_clip.target_pose)
    assert np.array_equal(frames[:, :, ::-1], random_clip.frames)
    assert np.allclose(landmarks[:, MIRROR][..., 0], -random_clip.landmarks[..., 0])
    fitted = fit_head_poses(landmarks)["pose"]
    assert np.allclose(fitted[:, 1], -random_clip.pose[:, 1], atol=0.5)
    names = random_clip.expression_names
    right, left = names.index("blink_right"), names.index("blink_left")
    assert np.array_equal(expression[:, right], random_clip.expression[:, left])
    assert np.allclose(target[:, 1], -random_clip.target_pose[:, 1])


def test_flip_probability_one_flips(prepared_small):
    clip = render_clip(prepared_small, SynthConfig(size=64, frames=2, flip_prob=1.0), seed=0)
    assert clip.flipped
    # indices keep mediapipe's convention: the subject's right eye (33) stays on the image's left
    assert (clip.landmarks[:, 33, 0] < clip.landmarks[:, 263, 0]).all()


def test_bad_inputs_raise_input_error(tmp_path):
    with pytest.raises(InputError):
        render_clip(np.zeros((5, 5), np.uint8), SynthConfig(size=32, frames=1))
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not an image")
    with pytest.raises(InputError, match="notes.jpg"):
        render_clip(not_an_image, SynthConfig(size=32, frames=1))
    blank = np.full((128, 128, 3), 127, np.uint8)
    with pytest.raises(InputError, match="no face"):
        render_clip(blank, SynthConfig(size=32, frames=1))


def test_config_is_validated():
    with pytest.raises(ConfigError):
        SynthConfig(size=31)
    with pytest.raises(ConfigError):
        SynthConfig(flip_prob=1.5)
