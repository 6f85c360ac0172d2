"""The bundled demo model (v2): loads offline, records its training, improves on the whole-head warp it is
given as its prior motion, and takes what the source hides (an open mouth) from references that show it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synergywarp.assets import BUNDLED_MODEL, PACKAGE_ASSETS
from synergywarp.data.synth import PhotometricRanges, SynthConfig, Trajectory, prepare_portrait, render_clip
from synergywarp.face import tracked_keypoints
from synergywarp.face.prior import PriorWarp
from synergywarp.face.regions import region_boxes
from synergywarp.io.tensors import images_to_tensor as to_tensor
from synergywarp.models import SynergyWarpNet, create_model

ASSETS = PACKAGE_ASSETS
MODEL = BUNDLED_MODEL
FRAMES = 9
SIZE = 128


def test_bundled_model_is_small_and_self_describing():
    assert MODEL.stat().st_size < 30 * 2**20
    model = SynergyWarpNet.from_pretrained(MODEL)
    config = model.config
    assert config.name == "small_tracked_head" and config.motion == "tracked"
    assert config.warp.dense_motion.prior_candidate and config.warp.dense_motion.prior_kind == "head"
    assert config.decoder.image_skip and config.cgf.pixel_references and model.pixel_fusion is not None
    assert model.trained_stages == ["explicit", "rac", "cgf"]
    assert model.checkpoint_metadata is not None and model.checkpoint_metadata.config_version == 1


@pytest.fixture(scope="module")
def reposed_clip():
    """The demo portrait turned, nodded and opening its mouth wide (synthetic engine, 128², no
    photometric change): frame 0 closed, the last frames open (the engine paints the mouth interior)."""
    still = PhotometricRanges(gain=0.0, brightness=0.0, contrast=0.0, saturation=0.0, gradient=0.0)
    config = SynthConfig(size=SIZE, frames=FRAMES, photometric=still, flip_prob=0.0)
    ramp = np.linspace(0.0, 1.0, FRAMES)
    poses = np.stack([-8.0 * ramp, 18.0 * ramp, 5.0 * ramp], -1)
    trajectory = Trajectory.from_poses(poses, {"mouth_open": ramp, "smile": 0.3 * ramp})
    prepared = prepare_portrait(ASSETS / "portraits" / "grace_hopper.jpg", config, identity="grace_hopper")
    return render_clip(prepared, config, seed=3, trajectory=trajectory)


def _animate(model: SynergyWarpNet, clip, frames: list[int], refs: list[int]) -> torch.Tensor:
    """The model's N×3×S×S outputs for driving ``frames`` from frame 0, with ``refs`` as references."""
    landmarks, n = clip.landmarks, len(frames)
    targets = landmarks[frames]
    prior = PriorWarp(model.config.warp.dense_motion.prior_kind, landmarks[0], clip.frames[0])
    source = to_tensor(clip.frames[:1]).expand(n, -1, -1, -1)
    inputs = dict(source_keypoints=torch.from_numpy(tracked_keypoints(landmarks[[0] * n])),
                  driving_keypoints=torch.from_numpy(tracked_keypoints(targets)),
                  prior_grid=torch.from_numpy(prior.grids(targets, SIZE)))
    references = None
    if refs:
        references = to_tensor(clip.frames[refs])[None].expand(n, -1, -1, -1, -1)
        inputs["reference_keypoints"] = torch.from_numpy(tracked_keypoints(landmarks[refs]))[None].expand(n, -1, -1, -1)
        grids = [PriorWarp("mesh", landmarks[r]).grids(targets, SIZE) for r in refs]
        inputs["reference_grids"] = torch.from_numpy(np.stack(grids, axis=1))
    with torch.no_grad():
        return model.eval()(source, to_tensor(clip.frames[frames]), references, **inputs).image


def _l1(output: torch.Tensor, clip, frames: list[int], region: str | None = None) -> float:
    target = to_tensor(clip.frames[frames])
    if region is None:
        return (output - target).abs().mean().item()
    errors = []
    for i, box in enumerate(region_boxes(clip.landmarks[frames])[region]):
        x0, y0, x1, y1 = np.clip(np.round((box + 1) * SIZE / 2).astype(int), 0, SIZE)
        errors.append((output[i, :, y0:y1, x0:x1] - target[i, :, y0:y1, x0:x1]).abs().mean().item())
    return float(np.mean(errors))


@pytest.mark.slow
def test_bundled_model_improves_on_the_whole_head_warp_it_is_given(reposed_clip):
    clip, frames = reposed_clip, [4, 6, 8]
    torch.manual_seed(0)
    trained, untrained = SynergyWarpNet.from_pretrained(MODEL), create_model("small_tracked_head")
    prior = PriorWarp("head", clip.landmarks[0], clip.frames[0])
    geometric = np.mean([np.abs(prior.warp_image(clip.frames[0], clip.landmarks[f]).astype(np.float32)
                                - clip.frames[f]).mean() / 255 for f in frames])
    static = np.mean([np.abs(clip.frames[0].astype(np.float32) - clip.frames[f]).mean() / 255 for f in frames])
    errors = {"trained": _l1(_animate(trained, clip, frames, []), clip, frames),
              "untrained": _l1(_animate(untrained, clip, frames, []), clip, frames)}
    assert static > 1.5 * geometric, (static, geometric)  # the clip really moves
    assert errors["trained"] < geometric, (errors, geometric)
    assert errors["untrained"] > 1.5 * errors["trained"], errors


@pytest.mark.slow
def test_bundled_model_takes_the_open_mouth_from_references(reposed_clip):
    """Source: closed mouth; driving: open; references: two other open-mouth frames. Inside the mouth the
    output with the references must be clearly closer to the truth than without them."""
    clip, frames, refs = reposed_clip, [6, 7], [5, 8]
    model = SynergyWarpNet.from_pretrained(MODEL)
    without = _l1(_animate(model, clip, frames, []), clip, frames, "mouth")
    with_refs = _l1(_animate(model, clip, frames, refs), clip, frames, "mouth")
    assert with_refs < 0.85 * without, (with_refs, without)
