"""The bundled demo model (v2) and its live twin (the same network at 64², its dense motion hourglass
slimmed): load offline, record their training, improve on the whole-head warp they are given as their
prior motion, and take what the source hides (an open mouth) from references that show it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synergywarp.assets import BUNDLED_LIVE_MODEL, BUNDLED_MODEL, PACKAGE_ASSETS, resolve_checkpoint
from synergywarp.data.synth import PhotometricRanges, SynthConfig, Trajectory, prepare_portrait, render_clip
from synergywarp.face import tracked_keypoints
from synergywarp.face.prior import PriorWarp
from synergywarp.face.regions import region_boxes
from synergywarp.io.tensors import images_to_tensor as to_tensor
from synergywarp.models import SynergyWarpNet, create_model

ASSETS = PACKAGE_ASSETS
MODEL = BUNDLED_MODEL
MODELS = {"demo": BUNDLED_MODEL, "demo-live": BUNDLED_LIVE_MODEL}
NETWORK_SIZES = {"demo": 128, "demo-live": 64}
FRAMES = 9
SIZE = 128


def test_bundled_models_are_small_together():
    assert sum(path.stat().st_size for path in MODELS.values()) < 30 * 2**20


@pytest.mark.parametrize("name", MODELS)
def test_bundled_model_is_self_describing(name):
    model = SynergyWarpNet.from_pretrained(MODELS[name])
    config = model.config
    assert config.image_size == NETWORK_SIZES[name]
    assert config.name == {"demo": "small_tracked_head", "demo-live": "small_tracked_head_live_slim24"}[name]
    assert config.motion == "tracked"
    assert config.warp.dense_motion.prior_candidate and config.warp.dense_motion.prior_kind == "head"
    assert config.decoder.image_skip and config.cgf.pixel_references and model.pixel_fusion is not None
    assert model.trained_stages == ["explicit", "rac", "cgf"]
    assert model.checkpoint_metadata is not None and model.checkpoint_metadata.config_version == 1


def test_the_live_model_is_the_demo_model_with_a_smaller_network():
    demo, live = (SynergyWarpNet.from_pretrained(MODELS[name]).config.to_dict() for name in ("demo", "demo-live"))
    assert live["warp"]["dense_motion"].pop("out_channels") == 24  # the slimmed hourglass (v2: 76 channels)
    assert demo["warp"]["dense_motion"].pop("out_channels") is None
    for config in (demo, live):
        config.pop("name"), config.pop("image_size")
    assert live == demo


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
    """The model's N×3×S×S outputs (S = the clip's 128²; the network at its own size, the source and
    references warped at 128²) for driving ``frames`` from frame 0, with ``refs`` as references."""
    landmarks, n, net = clip.landmarks, len(frames), model.config.image_size

    def at_net(images: np.ndarray) -> torch.Tensor:
        full = to_tensor(images)
        return full if net == SIZE else F.interpolate(full, size=(net, net), mode="bilinear", antialias=True,
                                                      align_corners=False)

    targets = landmarks[frames]
    prior = PriorWarp(model.config.warp.dense_motion.prior_kind, landmarks[0], clip.frames[0])
    source = at_net(clip.frames[:1]).expand(n, -1, -1, -1)
    inputs = dict(source_keypoints=torch.from_numpy(tracked_keypoints(landmarks[[0] * n])),
                  driving_keypoints=torch.from_numpy(tracked_keypoints(targets)),
                  prior_grid=torch.from_numpy(prior.grids(targets, net)),
                  source_hr=to_tensor(clip.frames[:1]).expand(n, -1, -1, -1), output_size=SIZE)
    references = None
    if refs:
        references = at_net(clip.frames[refs])[None].expand(n, -1, -1, -1, -1)
        inputs["references_hr"] = to_tensor(clip.frames[refs])[None].expand(n, -1, -1, -1, -1)
        inputs["reference_keypoints"] = torch.from_numpy(tracked_keypoints(landmarks[refs]))[None].expand(n, -1, -1, -1)
        grids = [PriorWarp("mesh", landmarks[r]).grids(targets, net) for r in refs]
        inputs["reference_grids"] = torch.from_numpy(np.stack(grids, axis=1))
    with torch.no_grad():
        return model.eval()(source, at_net(clip.frames[frames]), references, **inputs).image


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
@pytest.mark.parametrize("name", MODELS)
def test_bundled_model_improves_on_the_whole_head_warp_it_is_given(reposed_clip, name):
    clip, frames = reposed_clip, [4, 6, 8]
    torch.manual_seed(0)
    trained = SynergyWarpNet.from_pretrained(MODELS[name])
    untrained = create_model(trained.config)
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
@pytest.mark.parametrize("name", MODELS)
def test_bundled_model_takes_the_open_mouth_from_references(reposed_clip, name):
    """Source: closed mouth; driving: open; references: two other open-mouth frames. Inside the mouth the
    output with the references must be clearly closer to the truth than without them."""
    clip, frames, refs = reposed_clip, [6, 7], [5, 8]
    model = SynergyWarpNet.from_pretrained(MODELS[name])
    without = _l1(_animate(model, clip, frames, []), clip, frames, "mouth")
    with_refs = _l1(_animate(model, clip, frames, refs), clip, frames, "mouth")
    assert with_refs < 0.85 * without, (with_refs, without)


def test_bundled_models_by_name_and_the_live_default(tmp_path, monkeypatch):
    from synergywarp import assets

    assert resolve_checkpoint("demo") == BUNDLED_MODEL and resolve_checkpoint("demo-live") == BUNDLED_LIVE_MODEL
    assert resolve_checkpoint(None) == BUNDLED_MODEL
    assert resolve_checkpoint(None, live=True) == BUNDLED_LIVE_MODEL
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").write_bytes(b"")
    assert resolve_checkpoint("demo") == Path("demo")  # a file of that name wins
    monkeypatch.setattr(assets, "BUNDLED_LIVE_MODEL", tmp_path / "missing.safetensors")
    assert resolve_checkpoint(None, live=True) == BUNDLED_MODEL  # no live model bundled: the demo model


def test_live_loads_the_live_model_on_torchscript_with_two_workers_by_default():
    """What `synergywarp live` runs without flags: the live model, --backend auto (jit on a CPU in fp32),
    --workers auto; animate keeps the demo model on eager PyTorch."""
    from synergywarp.cli import build_parser
    from synergywarp.inference import Animator

    live = build_parser().parse_args(["live", "--source", "me.jpg"])
    animate = build_parser().parse_args(["animate", "--source", "me.jpg", "--driving", "d.mp4", "--out", "o.mp4"])
    assert (live.checkpoint, live.backend, live.workers) == (None, "auto", "auto")
    assert (animate.checkpoint, animate.backend) == (None, "torch")
    animator = Animator.from_pretrained(live.checkpoint, device="cpu", dtype="fp32", backend=live.backend, live=True)
    assert animator.checkpoint_path == BUNDLED_LIVE_MODEL and animator.runtime.backend == "jit"
    assert Animator.from_pretrained(animate.checkpoint, device="cpu").checkpoint_path == BUNDLED_MODEL
