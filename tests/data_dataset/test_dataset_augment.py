"""Augmentation: mirror pairing, flips of images/keypoints/pose, scale-translate, colour jitter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from clip_fixtures import SIZE, marker_position

from synergywarp.data import AugmentConfig, ClipDataset, mirror_landmark_pairs
from synergywarp.data.augment import AugmentParams, augment_landmarks, augment_pose, color_jitter
from synergywarp.errors import ConfigError
from synergywarp.face.pose import CANONICAL_FACE
from synergywarp.tracked_keypoints import TRACKED_KEYPOINT_INDICES

NO_COLOUR = dict(brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0)
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263


def test_mirror_pairs_are_a_symmetric_involution() -> None:
    pairs = mirror_landmark_pairs()
    assert pairs.shape == (468,)
    assert (pairs[pairs] == np.arange(468)).all()
    for right, left in [(33, 263), (133, 362), (61, 291), (70, 300), (234, 454), (50, 280)]:
        assert pairs[right] == left and pairs[left] == right
    for midline in (1, 152, 10, 0, 17, 168):
        assert pairs[midline] == midline
    # the tracked subset is closed under mirroring
    assert set(pairs[list(TRACKED_KEYPOINT_INDICES)].tolist()) == set(TRACKED_KEYPOINT_INDICES)
    # the flipped canonical face is the canonical face itself
    flipped = augment_landmarks(CANONICAL_FACE, AugmentParams(flip=True))
    np.testing.assert_allclose(flipped, CANONICAL_FACE, atol=1e-6)


def test_flip_mirrors_images_keypoints_and_pose(dataset_root: Path) -> None:
    plain = ClipDataset(dataset_root, image_size=SIZE)
    flipped = ClipDataset(dataset_root, image_size=SIZE, augment=AugmentConfig(flip_probability=1.0, **NO_COLOUR))
    marker_kp = TRACKED_KEYPOINT_INDICES.index(RIGHT_EYE_OUTER)
    mirror_kp = TRACKED_KEYPOINT_INDICES.index(LEFT_EYE_OUTER)
    for index in range(len(plain)):
        a, b = plain[index], flipped[index]
        assert torch.equal(a["reference_indices"], b["reference_indices"])  # same frames either way
        assert torch.equal(b["source"], torch.flip(a["source"], dims=[-1]))
        assert torch.equal(b["references"], torch.flip(a["references"], dims=[-1]))
        # the marker sits on landmark 33 before the flip and on the mirrored landmark 263 after
        before, after = marker_position(a["driving"]), marker_position(b["driving"])
        np.testing.assert_allclose(after, before * [-1, 1], atol=1e-4)
        np.testing.assert_allclose(a["driving_keypoints"][marker_kp, :2].numpy(), before, atol=0.05)
        np.testing.assert_allclose(b["driving_keypoints"][mirror_kp, :2].numpy(), after, atol=0.05)
        np.testing.assert_allclose(b["driving_keypoints"][mirror_kp].numpy(),
                                   a["driving_keypoints"][marker_kp].numpy() * [-1, 1, 1], atol=1e-6)
        # yaw and roll change sign, pitch does not
        np.testing.assert_allclose(b["source_pose"].numpy(), a["source_pose"].numpy() * [1, -1, -1])
        assert a["source_pose"][1] != 0


def test_scale_and_translate_move_keypoints_with_the_image(dataset_root: Path) -> None:
    config = AugmentConfig(flip_probability=0.5, scale=0.2, translate=0.1, **NO_COLOUR)
    dataset = ClipDataset(dataset_root, image_size=SIZE, augment=config, repeats=3)
    plain = ClipDataset(dataset_root, image_size=SIZE, repeats=3)
    marker_kp = TRACKED_KEYPOINT_INDICES.index(RIGHT_EYE_OUTER)
    mirror_kp = TRACKED_KEYPOINT_INDICES.index(LEFT_EYE_OUTER)
    moved = flips = 0
    for index in range(len(dataset)):
        item = dataset[index]
        reference = plain[index]
        flip = bool(item["source_pose"][1] * reference["source_pose"][1] < 0)
        flips += flip
        kp = mirror_kp if flip else marker_kp
        pairs = ((item["source"], item["source_keypoints"]), (item["driving"], item["driving_keypoints"]))
        for image, keypoints in pairs:
            np.testing.assert_allclose(keypoints[kp, :2].numpy(), marker_position(image), atol=0.06)
        moved += not np.allclose(item["source_keypoints"].numpy(), reference["source_keypoints"].numpy())
    assert moved == len(dataset) and 0 < flips < len(dataset)


@pytest.mark.slow
def test_colour_jitter_is_shared_and_hue_keeps_luma() -> None:
    generator = torch.Generator().manual_seed(0)
    images = 0.4 + 0.2 * torch.rand(2, 3, 8, 8, generator=generator)  # no clipping after the shift
    shifted = color_jitter(images, hue=0.1)
    luma = torch.tensor([0.299, 0.587, 0.114])
    torch.testing.assert_close(torch.einsum("nchw,c->nhw", shifted, luma), torch.einsum("nchw,c->nhw", images, luma),
                               atol=1e-5, rtol=0)
    assert (shifted - images).abs().max() > 0.01
    grey = images.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    torch.testing.assert_close(color_jitter(grey, saturation=0.5, hue=0.2), grey, atol=1e-5, rtol=0)
    torch.testing.assert_close(color_jitter(images, brightness=1.2), (images * 1.2).clamp(0, 1))
    same = images[:1].expand(2, -1, -1, -1)
    out = color_jitter(same, 1.1, 0.9, 1.1, 0.05)
    assert torch.equal(out[0], out[1])


def test_item_colour_jitter_applies_one_draw_to_all_frames(dataset_root: Path) -> None:
    config = AugmentConfig(flip_probability=0.0, brightness=0.3, contrast=0.0, saturation=0.0, hue=0.0)
    plain = ClipDataset(dataset_root, image_size=SIZE, num_references=1)[0]
    jittered = ClipDataset(dataset_root, image_size=SIZE, num_references=1, augment=config)[0]
    ratios = []
    for key in ("source", "driving"):
        inside = (plain[key] > 0.1) & (plain[key] < 0.6)
        ratios.append(float((jittered[key][inside] / plain[key][inside]).median()))
    ratios.append(float((jittered["references"][0] / plain["references"][0].clamp(min=1e-3))
                        [(plain["references"][0] > 0.1) & (plain["references"][0] < 0.6)].median()))
    assert abs(ratios[0] - 1.0) > 0.005
    np.testing.assert_allclose(ratios, ratios[0], atol=1e-3)


def test_pose_flip_for_batches() -> None:
    pose = np.array([[10.0, 20.0, -5.0], [0.0, -3.0, 2.0]], np.float32)
    np.testing.assert_array_equal(augment_pose(pose, AugmentParams(flip=True)), pose * [1, -1, -1])
    np.testing.assert_array_equal(augment_pose(pose, AugmentParams()), pose)


@pytest.mark.parametrize("field, value", [("hue", 0.8), ("flip_probability", 1.5), ("scale", -0.1)])
def test_bad_augment_config(dataset_root: Path, field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field):
        ClipDataset(dataset_root, augment=AugmentConfig(**{field: value}))
