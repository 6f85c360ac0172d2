"""Perceptual pyramid loss: VGG16 from the LPIPS weights, a user VGG19, and the warned pixel fallback."""

from __future__ import annotations

import warnings

import pytest
import torch

from synergywarp.errors import AssetError
from synergywarp.losses import PerceptualPyramid, PixelPyramidLoss, VGG19Features, image_pyramid, ssim
from synergywarp.losses import perceptual as perceptual_module


@pytest.fixture(scope="module")
def vgg16_loss() -> PerceptualPyramid:
    try:
        loss = PerceptualPyramid(allow_fallback=False)
    except AssetError as err:  # the set-up step caches these weights; missing means a broken set-up
        pytest.fail(f"VGG16 weights must be cached for the test suite: {err}")
    return loss


def test_vgg16_backend_and_identical_images(vgg16_loss, astronaut_64):
    assert vgg16_loss.backend == "vgg16"
    assert vgg16_loss(astronaut_64, astronaut_64.clone()).item() == 0.0


def test_vgg16_input_normalisation_matches_lpips_scaling(vgg16_loss, astronaut_64):
    from synergywarp.models.lpips_nets import ScalingLayer

    ours = vgg16_loss._features(astronaut_64)
    lpips_scaled = vgg16_loss.net(ScalingLayer()(astronaut_64 * 2 - 1))
    assert len(ours) == 5
    for a, b in zip(ours, lpips_scaled):
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_vgg16_loss_grows_with_blur(vgg16_loss, astronaut_64, gaussian_blur):
    losses = [vgg16_loss(gaussian_blur(astronaut_64, sigma), astronaut_64).item() for sigma in (0.5, 1.0, 2.0)]
    assert 0 < losses[0] < losses[1] < losses[2]


@pytest.mark.slow
def test_vgg16_gradients_reach_prediction_only(vgg16_loss, astronaut_64, gaussian_blur):
    prediction = gaussian_blur(astronaut_64, 1.0).requires_grad_(True)
    target = astronaut_64.clone().requires_grad_(True)
    vgg16_loss(prediction, target).backward()
    assert prediction.grad is not None and prediction.grad.abs().sum() > 0
    assert target.grad is None
    assert all(p.grad is None and not p.requires_grad for p in vgg16_loss.parameters())


def test_small_pyramid_levels_skip_vanishing_layers(vgg16_loss):
    levels = image_pyramid(torch.rand(1, 3, 64, 64), vgg16_loss.scales)
    assert [tuple(level.shape[-2:]) for level in levels] == [(64, 64), (32, 32), (16, 16), (8, 8)]
    assert len(vgg16_loss._features(levels[-1])) == 4  # relu5_3 would need a 0×0 map
    assert len(vgg16_loss._features(levels[-2])) == 5


def test_train_mode_keeps_network_frozen(vgg16_loss):
    vgg16_loss.train()
    assert not vgg16_loss.net.training


@pytest.mark.slow
def test_user_vgg19(tmp_path, astronaut_64, gaussian_blur):
    torch.manual_seed(0)
    reference = VGG19Features()
    state = {f"features.{k}": v for k, v in reference.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # a full torchvision state dict also has a head
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    loss = PerceptualPyramid(vgg19_path=path, scales=(1.0, 0.5))
    assert loss.backend == "vgg19"
    assert torch.equal(loss.net.features[28].weight, reference.features[28].weight)
    assert len(loss._features(astronaut_64)) == 5
    assert loss(astronaut_64, astronaut_64).item() == 0.0
    assert loss(gaussian_blur(astronaut_64, 2.0), astronaut_64).item() > 0
    with pytest.raises(AssetError, match="missing.pth"):
        PerceptualPyramid(vgg19_path=tmp_path / "missing.pth")
    torch.save({"features.0.weight": torch.zeros(3)}, tmp_path / "bad.pth")
    with pytest.raises(AssetError, match="bad.pth"):
        PerceptualPyramid(vgg19_path=tmp_path / "bad.pth")


@pytest.mark.slow
def test_fallback_is_used_and_warned_once(tmp_path, monkeypatch, astronaut_64, gaussian_blur):
    monkeypatch.setenv("SYNERGYWARP_CACHE", str(tmp_path))
    monkeypatch.setattr(perceptual_module, "_fallback_warned", False)
    with pytest.warns(UserWarning, match="pixel-space fallback"):
        loss = PerceptualPyramid()
    assert loss.backend == "pixel" and loss.net is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = PerceptualPyramid()
        second(astronaut_64, astronaut_64)
    assert second.backend == "pixel" and not caught
    assert loss(astronaut_64, astronaut_64).item() == pytest.approx(0.0, abs=1e-6)
    values = [loss(gaussian_blur(astronaut_64, sigma), astronaut_64).item() for sigma in (0.5, 1.0, 2.0)]
    assert 0 < values[0] < values[1] < values[2]
    with pytest.raises(AssetError):
        PerceptualPyramid(allow_fallback=False)


def test_pixel_fallback_terms():
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 16, 16, generator=generator)
    assert ssim(image, image).item() == pytest.approx(1.0, abs=1e-5)
    assert ssim(image, 1 - image).item() < 0
    brighter = (image + 0.1).clamp(max=1.0)
    single_level = PixelPyramidLoss(scales=(1.0,))
    value = single_level(brighter, image).item()
    l1 = (brighter - image).abs().mean().item()
    assert value >= l1  # L1 plus the non-negative gradient term plus 1 − SSIM ≥ 0
    assert value == pytest.approx(l1 + (1 - ssim(brighter, image).item()) + _gradient_l1(brighter, image), rel=1e-5)


def _gradient_l1(prediction: torch.Tensor, target: torch.Tensor) -> float:
    dx = (prediction[..., 1:] - prediction[..., :-1]) - (target[..., 1:] - target[..., :-1])
    dy = (prediction[..., 1:, :] - prediction[..., :-1, :]) - (target[..., 1:, :] - target[..., :-1, :])
    return dx.abs().mean().item() + dy.abs().mean().item()


@pytest.mark.slow
def test_bf16_autocast_on_cpu(vgg16_loss, astronaut_64, gaussian_blur):
    """Mixed-precision training: bf16 inputs work (antialiased pyramids resample in fp32) and agree with fp32."""
    blurred = gaussian_blur(astronaut_64, 1.0)
    reference = vgg16_loss(blurred, astronaut_64).item()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = vgg16_loss(blurred.bfloat16(), astronaut_64.bfloat16())
    assert torch.isfinite(low)
    assert abs(low.item() - reference) / reference < 0.05
