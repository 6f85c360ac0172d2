"""The bundled demo model: loads offline, records its training, and improves on the geometric warp it
is given as its prior motion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synergywarp.assets import BUNDLED_MODEL, PACKAGE_ASSETS
from synergywarp.data.synth import PhotometricRanges, SynthConfig, Trajectory, prepare_portrait, render_clip
from synergywarp.face import tracked_keypoints
from synergywarp.face.mesh_warp import geometric_warp, mesh_warp_grid
from synergywarp.io.tensors import images_to_tensor as to_tensor
from synergywarp.models import SynergyWarpNet, create_model

ASSETS = PACKAGE_ASSETS
MODEL = BUNDLED_MODEL
FRAMES = 9


def test_bundled_model_is_small_and_self_describing():
    assert MODEL.stat().st_size < 30 * 2**20
    model = SynergyWarpNet.from_pretrained(MODEL)
    assert model.config.name == "small_tracked_mesh" and model.config.motion == "tracked"
    assert model.config.warp.dense_motion.prior_candidate and model.config.decoder.image_skip
    assert model.trained_stages == ["explicit", "rac", "cgf"]
    assert model.checkpoint_metadata is not None and model.checkpoint_metadata.config_version == 1


@pytest.fixture(scope="module")
def reposed_clip():
    """The demo portrait turned, nodded and talking (synthetic engine, 128², no photometric change)."""
    still = PhotometricRanges(gain=0.0, brightness=0.0, contrast=0.0, saturation=0.0, gradient=0.0)
    config = SynthConfig(size=128, frames=FRAMES, photometric=still, flip_prob=0.0)
    ramp = np.linspace(0.0, 1.0, FRAMES)
    poses = np.stack([-10.0 * ramp, 22.0 * ramp, 6.0 * ramp], -1)
    trajectory = Trajectory.from_poses(poses, {"mouth_open": ramp, "smile": 0.5 * ramp})
    prepared = prepare_portrait(ASSETS / "portraits" / "grace_hopper.jpg", config, identity="grace_hopper")
    return render_clip(prepared, config, seed=3, trajectory=trajectory)


def _l1(model: SynergyWarpNet, clip, frames: list[int]) -> float:
    landmarks = clip.landmarks
    source = to_tensor(clip.frames[:1])
    grids = np.stack([mesh_warp_grid(landmarks[0], landmarks[f], 128) for f in frames])
    with torch.no_grad():
        out = model.eval()(source.expand(len(frames), -1, -1, -1), to_tensor(clip.frames[frames]),
                           source_keypoints=torch.from_numpy(tracked_keypoints(landmarks[[0] * len(frames)])),
                           driving_keypoints=torch.from_numpy(tracked_keypoints(landmarks[frames])),
                           prior_grid=torch.from_numpy(grids))
    return (out.image - to_tensor(clip.frames[frames])).abs().mean().item()


def test_bundled_model_improves_on_the_geometric_warp_it_is_given(reposed_clip):
    clip, frames = reposed_clip, [4, 6, 8]
    torch.manual_seed(0)
    trained, untrained = SynergyWarpNet.from_pretrained(MODEL), create_model("small_tracked_mesh")
    geometric = np.mean([np.abs(geometric_warp(clip.frames[0], clip.landmarks[0], clip.landmarks[f]).astype(np.float32)
                                - clip.frames[f]).mean() / 255 for f in frames])
    static = np.mean([np.abs(clip.frames[0].astype(np.float32) - clip.frames[f]).mean() / 255 for f in frames])
    errors = {"trained": _l1(trained, clip, frames), "untrained": _l1(untrained, clip, frames)}
    assert static > 1.5 * geometric, (static, geometric)  # the clip really moves
    assert errors["trained"] < geometric, (errors, geometric)
    assert errors["untrained"] > 1.5 * errors["trained"], errors
