"""The Animator's Python API on CPU with tiny models: motion paths, smoothing, streaming memory,
paste-back, references, tracked keypoints and driving frames without a face."""

from __future__ import annotations

import tracemalloc
import warnings

import cv2
import numpy as np
import pytest
import torch

from synergywarp.errors import InputError
from synergywarp.inference import AnimateOptions, Animator
from synergywarp.io import read_image
from synergywarp.io.tensors import images_to_tensor as to_tensor
from synergywarp.models import create_model, get_config

from .conftest import ASTRONAUT, GRACE, write_video

NO_CROP = AnimateOptions(crop=False, smooth=0.0, batch=4)


@pytest.fixture(scope="module")
def tiny_animator() -> Animator:
    torch.manual_seed(0)
    return Animator(create_model("tiny"))


def small_face(image: np.ndarray, size: int = 64) -> np.ndarray:
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def test_identical_driving_frames_give_the_source_keypoints_and_identical_frames(tiny_animator, grace_crops):
    source = small_face(grace_crops[0])
    prepared = tiny_animator.prepare(source, options=NO_CROP)
    frames = list(tiny_animator.animate(prepared, np.stack([grace_crops[5]] * 6)))
    assert len(frames) == 6 and frames[0].image.shape == (64, 64, 3)
    for frame in frames:
        np.testing.assert_allclose(frame.keypoints, prepared.keypoints, atol=1e-5)
        assert np.abs(frame.image.astype(int) - frames[0].image.astype(int)).max() <= 1
    assert frames[0].image.std() > 1.0  # not a blank frame


def test_relative_and_absolute_motion_differ_as_defined(tiny_animator, grace_crops):
    model = tiny_animator.model
    source = small_face(read_image(ASTRONAUT))
    driving = grace_crops[:5]
    relative = list(tiny_animator.animate(source, driving, options=NO_CROP))
    absolute = list(tiny_animator.animate(source, driving, options=AnimateOptions(
        crop=False, smooth=0.0, batch=4, motion="absolute")))
    prepared = tiny_animator.prepare(source, options=NO_CROP)
    crops = np.stack([f.driving for f in relative])
    with torch.inference_mode():
        learned = model.learned_motion()
        motion = learned.image_motion(to_tensor(crops))
        first = learned.image_motion(to_tensor(crops[:1]))
        want_abs = learned.transferred(prepared.state, motion).numpy()
        want_rel = learned.transferred(prepared.state, motion, first, "relative").numpy()
    np.testing.assert_allclose(relative[0].keypoints, prepared.keypoints, atol=1e-5)  # reference frame → source
    np.testing.assert_allclose(np.stack([f.keypoints for f in relative]), want_rel, atol=1e-5)
    np.testing.assert_allclose(np.stack([f.keypoints for f in absolute]), want_abs, atol=1e-5)
    assert np.abs(absolute[0].keypoints - prepared.keypoints).max() > 1e-3
    assert np.abs(absolute[0].image.astype(int) - relative[0].image.astype(int)).max() > 0


@pytest.mark.slow
def test_smoothing_lowers_keypoint_jitter(tiny_animator, grace_crops):
    rng = np.random.default_rng(0)
    base = grace_crops[0]
    jittered = np.stack([np.roll(base, tuple(rng.integers(-3, 4, size=2)), axis=(0, 1)) for _ in range(24)])
    source = small_face(base)

    def keypoint_jitter(strength: float) -> float:
        options = AnimateOptions(crop=False, smooth=strength, batch=8)
        kp = np.stack([f.keypoints for f in tiny_animator.animate(source, jittered, options=options)])
        return float(np.abs(np.diff(kp, axis=0)).mean())

    raw, smoothed = keypoint_jitter(0.0), keypoint_jitter(2.0)
    assert raw > 0
    assert smoothed < 0.6 * raw


def micro_model():
    """A very small learned-motion model (32²) so that 600 frames run in seconds."""
    cfg = get_config("tiny").to_dict()
    cfg.update(name="micro", image_size=32)
    cfg["appearance"].update(block_expansion=4, max_features=8, volume_channels=4, volume_depth=2, num_resblocks=1)
    cfg["motion_encoder"].update(dims=[4, 8, 8, 8])
    cfg["warp"].update(out_channels=8)
    cfg["warp"]["dense_motion"].update(block_expansion=4, max_features=8, compress=1)
    cfg["rac"].update(enabled=False, attention_grid=4)
    cfg["cgf"].update(mode="explicit")
    cfg["decoder"].update(in_channels=8, out_channels=4, num_middle=0, spade_hidden=4)
    return create_model(cfg)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.slow
def test_memory_stays_flat_over_a_long_driving_video(tmp_path, grace_crops):
    frames = np.stack([small_face(grace_crops[i % 12]) for i in range(600)])
    driving = write_video(tmp_path / "long.mp4", frames)
    del frames
    animator = Animator(micro_model())
    samples: dict[int, tuple[int, int]] = {}
    seen = [0]

    def progress(stage: str, count: int) -> None:
        seen[0] += count
        if seen[0] in (100, 600):
            samples[seen[0]] = (tracemalloc.get_traced_memory()[0], _rss_bytes())

    tracemalloc.start()
    try:
        result = animator.animate_to_file(small_face(grace_crops[0]), driving, tmp_path / "out.mp4",
                                          options=AnimateOptions(crop=False, batch=8), progress=progress)
    finally:
        tracemalloc.stop()
    assert result.num_frames == 600
    python_growth = samples[600][0] - samples[100][0]
    rss_growth = samples[600][1] - samples[100][1]
    assert python_growth < 1_000_000, f"traced Python/numpy memory grew by {python_growth} bytes"
    assert rss_growth < 40_000_000, f"RSS grew by {rss_growth} bytes"


def test_paste_back_leaves_pixels_outside_the_crop_unchanged(tiny_animator, grace, grace_crops):
    prepared = tiny_animator.prepare(GRACE, options=AnimateOptions(smooth=0.0))
    frame = next(iter(tiny_animator.animate(prepared, grace_crops[:2])))
    assert frame.image.shape == grace.shape
    side = frame.crop.shape[0]
    inverse = prepared.source.crop.inverse.copy()
    inverse[:, :2] *= prepared.source.crop.size / side
    inverse[:, 2] += inverse[:, :2] @ np.array([0.5, 0.5]) - 0.5
    footprint = cv2.warpAffine(np.ones((side, side), np.uint8), inverse, grace.shape[1::-1],
                               flags=cv2.INTER_NEAREST, borderValue=0)
    # bilinear resampling reaches one crop pixel beyond the crop square: grow the footprint by that
    margin = 2 * int(np.ceil(prepared.source.crop.size / side / prepared.source.crop.zoom)) + 1
    footprint = cv2.dilate(footprint, np.ones((margin, margin), np.uint8)).astype(bool)
    assert 0.05 < footprint.mean() < 0.95
    np.testing.assert_array_equal(frame.image[~footprint], grace[~footprint])
    assert np.abs(frame.image[footprint].astype(int) - grace[footprint].astype(int)).mean() > 1.0


def test_references_to_a_checkpoint_without_trained_rac_are_reported_unused(checkpoints):
    animator = Animator.from_pretrained(checkpoints["tiny"], device="cpu")
    with pytest.warns(UserWarning, match="unused"):
        prepared = animator.prepare(GRACE, [ASTRONAUT], AnimateOptions())
    assert prepared.fusion_mode == "explicit" and prepared.reference_tokens is None
    assert prepared.references == []


def test_references_are_encoded_and_a_different_identity_is_warned(checkpoints, grace):
    animator = Animator.from_pretrained(checkpoints["tiny_rac"], device="cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prepared = animator.prepare(GRACE, [ASTRONAUT, np.ascontiguousarray(grace[:, ::-1])], AnimateOptions())
    identity = [str(w.message) for w in caught if "different person" in str(w.message)]
    assert len(identity) == 1 and str(ASTRONAUT) in identity[0]
    assert int(prepared.reference_tokens.num_references[0]) == 2
    assert prepared.fusion_mode is None  # the checkpoint's own (confidence) fusion


def test_tracked_model_holds_the_last_motion_on_frames_without_a_face(checkpoints, grace_crops):
    animator = Animator.from_pretrained(checkpoints["tiny_tracked"], device="cpu")
    driving = grace_crops[:6].copy()
    driving[2] = 128  # no face in frame 2
    with pytest.warns(UserWarning, match=r"frame\(s\) 2 "):
        prepared = animator.prepare(GRACE, options=AnimateOptions(smooth=0.0))
        frames = list(animator.animate(prepared, driving))
    assert len(frames) == 6
    assert [f.face_found for f in frames] == [True, True, False, True, True, True]
    assert frames[0].keypoints.shape == (32, 3)
    np.testing.assert_allclose(frames[0].keypoints, prepared.keypoints, atol=1e-4)
    np.testing.assert_array_equal(frames[2].keypoints, frames[1].keypoints)
    assert np.abs(frames[5].keypoints - frames[0].keypoints).max() > 1e-3


def test_no_face_in_any_driving_frame_fails(tiny_animator):
    blank = np.full((4, 96, 96, 3), 90, np.uint8)
    with pytest.raises(InputError, match="no face found in any frame"):
        tiny_animator.animate(GRACE, blank)


def test_several_faces_use_the_largest_with_a_warning(tiny_animator, grace):
    other = cv2.resize(grace, (grace.shape[1] * 2 // 3, grace.shape[0] * 2 // 3))  # a smaller second face
    canvas = np.full((grace.shape[0], grace.shape[1] + other.shape[1], 3), 255, np.uint8)
    canvas[:, :grace.shape[1]] = grace
    canvas[:other.shape[0], grace.shape[1]:] = other
    with pytest.warns(UserWarning, match="faces found"):
        prepared = tiny_animator.prepare(canvas)
    centre = prepared.source.crop.inverse @ np.array([32.0, 32.0, 1.0])
    assert centre[0] < grace.shape[1]  # the (larger) Grace Hopper face was taken


def test_a_learned_model_with_a_mesh_prior_is_refused_before_it_trains_or_animates(tmp_path):
    """Such a config used to validate and train, and then the Animator failed on the source (its
    landmarks are never searched for learned motion). Now every way in stops with the fields named."""
    from synergywarp.errors import CheckpointError, ConfigError
    from synergywarp.models.checkpoint import write_checkpoint
    from synergywarp.train.config import config_from_dict

    prior = {"warp": {"dense_motion": {"prior_candidate": True}}}
    reason = r"warp\.dense_motion\.prior_candidate needs motion: tracked .*got motion: learned"
    with pytest.raises(ConfigError, match=reason):  # the training config (model: {base, overrides})
        config_from_dict({"model": {"base": "tiny", "overrides": prior}})
    config = get_config("tiny")
    config.warp.dense_motion.prior_candidate = True
    with pytest.raises(ConfigError, match=reason):  # building the model
        create_model(config)
    path = tmp_path / "learned_prior.safetensors"  # a checkpoint written before the check existed
    write_checkpoint(path, create_model("tiny").state_dict(), config)
    with pytest.raises(CheckpointError, match=reason):  # loading it, before any face work
        Animator.from_pretrained(path, device="cpu")


def test_a_small_network_gets_its_prior_and_reference_grids_at_128(grace_crops):
    """The Animator hands a 64² head-prior model 128² grids (face.prior.prior_grid_size), for the prior
    and for every reference, and renders at the output size asked for."""
    torch.manual_seed(0)
    animator = Animator(create_model("tiny_tracked_head"))
    seen = []
    animate = animator._animate_fn

    def spy(*args, **kwargs):
        seen.append((tuple(kwargs["prior_grid"].shape), tuple(kwargs["reference_grids"].shape)))
        return animate(*args, **kwargs)

    animator._animate_fn = spy
    prepared = animator.prepare(grace_crops[0], [grace_crops[4]],
                                AnimateOptions(crop=False, smooth=0.0, batch=2, output_size=96, check_identity=False))
    frames = list(animator.animate(prepared, grace_crops[1:3]))
    assert seen == [((2, 128, 128, 2), (2, 1, 128, 128, 2))]
    assert frames[0].crop.shape == (96, 96, 3)


def test_references_move_by_the_warp_the_config_names(grace_crops):
    """``cgf.reference_warp: head`` hands the network each reference moved by the whole-head warp (person
    mask from a crop of the segmenter's size), ``mesh`` by the ring mesh; the source's prior is the same."""
    from synergywarp.face.prior import prior_grid_size
    from synergywarp.face.segment import SEGMENT_SIZE

    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    options = AnimateOptions(crop=False, smooth=0.0, batch=2, output_size=96, check_identity=False)
    for kind in ("mesh", "head"):
        torch.manual_seed(0)
        config = get_config("tiny_tracked_head")
        config.cgf.reference_warp = kind
        animator = Animator(create_model(config))
        animate = animator._animate_fn

        def spy(*args, kind=kind, animate=animate, **kwargs):
            seen[kind] = (kwargs["prior_grid"].clone(), kwargs["reference_grids"].clone())
            return animate(*args, **kwargs)

        animator._animate_fn = spy
        prepared = animator.prepare(grace_crops[0], [grace_crops[6]], options)
        assert [w.kind for w in prepared.reference_warps] == [kind]
        list(animator.animate(prepared, grace_crops[1:2]))
    assert torch.equal(seen["mesh"][0], seen["head"][0])
    assert (seen["mesh"][1] - seen["head"][1]).abs().max() > 0.01  # the hair and background move differently
    # the person masks (the reference's and the source prior's) come from crops of the segmenter's input
    # size, not the 64² network crops
    warp = prepared.reference_warps[0]
    assert warp._person is not None and warp._person.shape == (SEGMENT_SIZE, SEGMENT_SIZE)
    assert prepared.prior is not None and prepared.prior._person is not None
    assert prepared.prior._person.shape == (SEGMENT_SIZE, SEGMENT_SIZE)
    assert seen["head"][1].shape[-2] == prior_grid_size(get_config("tiny_tracked_head").image_size)


def test_describe_names_the_output_size_a_model_renders_at(tiny_animator):
    assert "(learned motion, 64² → 64²)" in tiny_animator.describe()
    torch.manual_seed(0)
    any_size = Animator(create_model("tiny_tracked_head")).describe()  # renders at the size asked for
    assert "64² network, output at any size" in any_size and "→" not in any_size
