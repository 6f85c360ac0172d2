"""Source images in awkward formats, huge images, and no-crop landmarks for tracked models."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from synergywarp.inference import AnimateOptions, Animator
from synergywarp.inference.inputs import DrivingFrames, prepare_face
from synergywarp.models import create_model

OPTIONS = AnimateOptions()


def crop_centre_and_side(prepared) -> tuple[np.ndarray, float]:
    crop = prepared.crop
    centre = crop.inverse @ np.array([crop.size / 2, crop.size / 2, 1.0])
    return centre, crop.size / crop.zoom


@pytest.fixture(scope="module")
def reference_crop(grace):
    return crop_centre_and_side(prepare_face(grace, 64, OPTIONS, need_landmarks=False))


def _variants(grace: np.ndarray, folder):
    grey = folder / "grey.png"
    Image.fromarray(cv2.cvtColor(grace, cv2.COLOR_RGB2GRAY)).save(grey)
    rgba = folder / "rgba.png"
    alpha = np.full(grace.shape[:2] + (1,), 255, np.uint8)
    alpha[:20] = 0  # a transparent strip at the top
    Image.fromarray(np.concatenate([grace, alpha], axis=2), "RGBA").save(rgba)
    sixteen = folder / "sixteen.png"
    grey16 = cv2.cvtColor(grace, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257
    Image.fromarray(grey16).save(sixteen)
    rotated = folder / "exif_rotated.jpg"
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(grace, k=1)))  # stored sideways ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... with "rotate 90° clockwise to display"
    stored.save(rotated, exif=exif, quality=95)
    return [grey, rgba, sixteen, rotated]


def test_grey_rgba_16bit_and_exif_rotated_sources_find_the_same_face(tmp_path, grace, reference_crop):
    centre, side = reference_crop
    for path in _variants(grace, tmp_path):
        prepared = prepare_face(path, 64, OPTIONS, need_landmarks=False)
        assert prepared.image.shape == grace.shape and prepared.image.dtype == np.uint8, path.name
        got_centre, got_side = crop_centre_and_side(prepared)
        assert np.abs(got_centre - centre).max() < 6, path.name
        assert got_side == pytest.approx(side, rel=0.05), path.name


def test_huge_source_is_found_and_cropped_at_full_resolution(grace, reference_crop):
    centre, side = reference_crop
    factor = 6
    huge = cv2.resize(grace, (grace.shape[1] * factor, grace.shape[0] * factor), interpolation=cv2.INTER_LINEAR)
    prepared = prepare_face(huge, 64, AnimateOptions(max_output_size=0), need_landmarks=False)  # full size kept
    got_centre, got_side = crop_centre_and_side(prepared)
    assert got_side == pytest.approx(side * factor, rel=0.05)
    assert np.abs(got_centre - centre * factor).max() < 6 * factor
    # by default the image kept for paste-back is scaled to the output cap; the crop is still cut at full size
    capped = prepare_face(huge, 64, OPTIONS, need_landmarks=False)
    assert max(capped.image.shape[:2]) == OPTIONS.max_output_size
    np.testing.assert_array_equal(capped.crop_image, prepared.crop_image)
    scale = capped.image.shape[0] / huge.shape[0]
    capped_centre, capped_side = crop_centre_and_side(capped)
    assert capped_side == pytest.approx(got_side * scale, rel=1e-3)
    assert np.abs(capped_centre - got_centre * scale).max() < 1.0


def test_tracked_model_without_crop_uses_landmarks_of_the_given_crop(grace_crops):
    animator = Animator(create_model("tiny_tracked"))
    options = AnimateOptions(crop=False, smooth=0.0)
    prepared = animator.prepare(grace_crops[0], options=options)
    kp = prepared.keypoints
    assert kp.shape == (32, 3) and np.abs(kp[:, :2]).max() < 1.0
    frames = list(animator.animate(prepared, grace_crops[:3]))
    assert frames[0].image.shape == (64, 64, 3)  # model resolution, no paste-back
    np.testing.assert_allclose(frames[0].keypoints, kp, atol=1e-4)


def test_driving_arrays_and_images(tmp_path, grace):
    from synergywarp.io import write_image

    single = tmp_path / "still.png"
    write_image(single, grace)
    frames = DrivingFrames(single)
    assert frames.num_frames == 1 and frames.audio_path is None and frames.fps == 25.0
    stacked = DrivingFrames(np.stack([grace, grace]))
    assert stacked.num_frames == 2 and len(list(stacked)) == 2 and len(list(stacked)) == 2  # re-iterable
    one_shot = DrivingFrames(iter([grace, grace, grace]))
    one_shot.materialise()
    assert one_shot.num_frames == 3 and len(list(one_shot)) == 3


def test_mesh_prior_model_warps_the_source_onto_the_driving_face(grace_crops):
    """A tiny_tracked_mesh model forced to output the prior-warped source: the Animator's mesh grids
    (source-crop landmarks → tracked driving landmarks) land the face where the driving has it."""
    import torch

    model = create_model("tiny_tracked_mesh").eval()
    with torch.no_grad():
        model.warping.dense_motion_network.mask.weight.zero_()
        model.warping.dense_motion_network.mask.bias.fill_(-30.0)
        model.warping.dense_motion_network.mask.bias[-1] = 30.0  # the prior candidate everywhere
        model.decoder.conv_img.weight[3].zero_()
        model.decoder.conv_img.bias[3] = -40.0  # blend weight 0: the warped source alone
    animator = Animator(model)
    options = AnimateOptions(crop=False, smooth=0.0, motion="absolute")
    frames = list(animator.animate(grace_crops[0], grace_crops[[0, 11]], options=options))

    def small(image: np.ndarray) -> np.ndarray:
        return cv2.resize(image, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)

    target, source = small(grace_crops[11]), small(grace_crops[0])
    face = (slice(16, 48), slice(16, 48))
    assert frames[1].image.shape == (512, 512, 3)  # image-skip models render at 512² by default
    moved = np.abs(small(frames[1].image) - target)[face].mean()
    static = np.abs(source - target)[face].mean()
    assert static > 8.0  # the face really moved between the two frames
    assert moved < 0.5 * static, (moved, static)
    assert np.abs(small(frames[0].image) - source)[face].mean() < 0.25 * static
