"""Stage 1 + decoder reproduce LivePortrait's own outputs (golden fixture) and map 1:1 onto its checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from synergywarp.models import SynergyWarpNet, create_model
from synergywarp.models.config import (
    AppearanceConfig,
    DecoderConfig,
    DenseMotionConfig,
    ModelConfig,
    MotionEncoderConfig,
    RACConfig,
    WarpConfig,
)
from synergywarp.models.keypoints import bins_to_degrees, keypoints_from_motion, pose_rotation
from synergywarp.models.liveportrait import LIVEPORTRAIT_PARTS, load_part_into

FIXTURE = Path(__file__).parents[1] / "data" / "liveportrait"


def fixture_config(grid_align_quirk: bool = True) -> ModelConfig:
    """Our config equal to the fixture's small LivePortrait constructor configs."""
    return ModelConfig(
        name="liveportrait_fixture",
        image_size=64,
        motion="learned",
        num_kp=21,
        grid_align_quirk=grid_align_quirk,
        appearance=AppearanceConfig(block_expansion=2, num_down_blocks=2, max_features=16, volume_channels=4,
                                    volume_depth=4, num_resblocks=2),
        motion_encoder=MotionEncoderConfig(depths=[1, 1, 2, 1], dims=[8, 16, 24, 32]),
        warp=WarpConfig(out_channels=2, dense_motion=DenseMotionConfig(block_expansion=4, max_features=16,
                                                                       num_blocks=3, compress=1)),
        rac=RACConfig(dim=8, heads=2, attention_grid=8, keypoint_channels=4),
        decoder=DecoderConfig(in_channels=2, out_channels=1, num_middle=6, spade_hidden=128, upscale=2),
    )


@pytest.fixture(scope="module")
def fixture_tensors() -> dict[str, torch.Tensor]:
    return load_file(str(FIXTURE / "liveportrait_small.safetensors"))


def _load_fixture_model(tensors, grid_align_quirk=True) -> SynergyWarpNet:
    model = SynergyWarpNet(fixture_config(grid_align_quirk))
    for filename, (attribute, prefix) in LIVEPORTRAIT_PARTS.items():
        part = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        load_part_into(getattr(model, attribute), part, filename)
    return model.eval()


@pytest.fixture(scope="module")
def parity_outputs(fixture_tensors):
    model = _load_fixture_model(fixture_tensors)
    src, drv = fixture_tensors["in.source"], fixture_tensors["in.driving"]
    with torch.no_grad():
        state = model.encode_source(src)
        driving_motion = model.learned_motion().image_motion(drv)
        kp_driving = model.learned_motion().transferred(state, driving_motion)
        out = model.animate(state, kp_driving, fusion_mode="explicit")
    return model, state, driving_motion, kp_driving, out


def _close(ours: torch.Tensor, theirs: torch.Tensor, tol: float) -> None:
    assert ours.shape == theirs.shape
    err = (ours - theirs).abs().max().item()
    assert err <= tol, f"max abs error {err:.2e} > {tol:.0e}"


def test_appearance_volume_matches(parity_outputs, fixture_tensors):
    _, state, *_ = parity_outputs
    _close(state.volume, fixture_tensors["out.f_s"], 1e-5)


@pytest.mark.parametrize("who", ["src", "drv"])
def test_motion_outputs_match(parity_outputs, fixture_tensors, who):
    model, state, driving_motion, *_ = parity_outputs
    motion = state.motion if who == "src" else driving_motion
    t = {k.split(".")[-1]: v for k, v in fixture_tensors.items() if k.startswith(f"out.kp_{who}.")}
    for name in ("pitch", "yaw", "roll", "t", "scale"):
        _close(getattr(motion, name), t[name], 1e-5)
    _close(motion.kp.flatten(1), t["kp"], 1e-5)
    _close(motion.exp.flatten(1), t["exp"], 1e-5)
    for name in ("pitch", "yaw", "roll"):
        _close(bins_to_degrees(getattr(motion, name))[:, None], t[f"{name}_deg"], 1e-4)
    # LivePortrait's helper returns R^T (it multiplies row vectors on the right)
    _close(pose_rotation(motion).transpose(1, 2), fixture_tensors[f"out.R_{who}"], 1e-5)


def test_keypoints_match(parity_outputs, fixture_tensors):
    _, state, _, kp_driving, _ = parity_outputs
    _close(state.keypoints, fixture_tensors["out.x_s"], 1e-5)
    _close(kp_driving, fixture_tensors["out.x_d"], 1e-5)


def test_warp_outputs_match(parity_outputs, fixture_tensors):
    *_, out = parity_outputs
    _close(out.flow, fixture_tensors["out.warp.deformation"], 1e-5)
    _close(out.occlusion, fixture_tensors["out.warp.occlusion_map"], 1e-5)
    _close(out.masks, fixture_tensors["out.dm.mask"], 1e-5)
    # not in the fixture's 1e-5 list: conv summation order gives ~1e-5 on values of magnitude ~2
    _close(out.explicit_feature, fixture_tensors["out.warp.out"], 5e-5)


def test_image_matches(parity_outputs, fixture_tensors):
    *_, out = parity_outputs
    _close(out.image, fixture_tensors["out.img"], 1e-4)


def test_quirk_flag_is_required_for_parity(fixture_tensors):
    """Turning LivePortrait's align_corners quirk off must break parity (the flag really matters)."""
    model = _load_fixture_model(fixture_tensors, grid_align_quirk=False)
    with torch.no_grad():
        state = model.encode_source(fixture_tensors["in.source"])
        driving_motion = model.learned_motion().image_motion(fixture_tensors["in.driving"])
        kp_d = keypoints_from_motion(state.canonical, driving_motion)
        img = model.animate(state, kp_d, fusion_mode="explicit").image
    assert (img - fixture_tensors["out.img"]).abs().max() > 1e-2


@pytest.mark.slow
def test_lp256_state_dict_matches_manifest():
    manifest = json.loads((FIXTURE / "liveportrait_manifest.json").read_text())
    model = create_model("lp256")
    assert model.config.grid_align_quirk
    for filename, (attribute, _) in LIVEPORTRAIT_PARTS.items():
        short = {"appearance_encoder": "appearance_feature_extractor", "motion_encoder": "motion_extractor",
                 "warping": "warping_module", "decoder": "spade_generator"}[attribute]
        entries = manifest["modules"][short]["state_dict"]
        ours = getattr(model, attribute).state_dict()
        theirs = {e["key"]: tuple(e["shape"]) for e in entries}
        assert set(ours) == set(theirs), f"{filename}: key sets differ: {sorted(set(ours) ^ set(theirs))[:5]}"
        for key, shape in theirs.items():
            assert tuple(ours[key].shape) == shape, key
        assert len(ours) == manifest["modules"][short]["num_state_dict_keys"]
