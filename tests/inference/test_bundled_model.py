"""The bundled demo model: loads offline, records its training, and reconstructs a face it has to warp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from synergywarp.face import apply_crop, crop_from_landmarks, detect_landmarks, to_crop_coords, tracked_keypoints
from synergywarp.io import read_image
from synergywarp.models import SynergyWarpNet, create_model
from synergywarp.models.checkpoint import trained_stages

ASSETS = Path(__file__).parents[2] / "src" / "synergywarp" / "assets"
MODEL = ASSETS / "models" / "demo.safetensors"


def _crop_and_keypoints(image: np.ndarray, size: int):
    face = detect_landmarks(image, name="portrait")
    crop = crop_from_landmarks(face.points, size)
    pixels = torch.from_numpy(apply_crop(image, crop)).permute(2, 0, 1)[None].float() / 255
    keypoints = torch.from_numpy(tracked_keypoints(to_crop_coords(face.points, crop)))[None].float()
    return pixels, keypoints


def test_bundled_model_is_small_and_self_describing():
    assert MODEL.stat().st_size < 30 * 2**20
    model = SynergyWarpNet.from_pretrained(MODEL)
    assert model.config.name == "small_tracked" and model.config.motion == "tracked"
    assert trained_stages(model) == ["explicit", "rac", "cgf"]


def test_bundled_model_reconstructs_the_demo_portrait_far_better_than_untrained():
    """Source = driving (identity motion) on the demo portrait (Grace Hopper, one of its training
    identities, here as a real photo rather than a synthetic render): measured L1 ≈ 0.067."""
    trained = SynergyWarpNet.from_pretrained(MODEL)
    torch.manual_seed(0)
    untrained = create_model("small_tracked").eval()
    image = read_image(ASSETS / "portraits" / "grace_hopper.jpg")
    pixels, keypoints = _crop_and_keypoints(image, trained.config.image_size)
    errors = {}
    with torch.no_grad():
        for name, model in (("trained", trained), ("untrained", untrained)):
            out = model(pixels, pixels, source_keypoints=keypoints, driving_keypoints=keypoints)
            errors[name] = (out["image"] - pixels).abs().mean().item()
    assert errors["trained"] < 0.09, errors
    assert errors["untrained"] > 3 * errors["trained"], errors
