"""L1 / PSNR / SSIM against scikit-image on random and real images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from synergywarp.errors import InputError
from synergywarp.metrics import l1, psnr, resize_to_eval, ssim


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """list of H×W×3 (uint8 or float in [0, 1]) -> B×3×H×W float64."""
    stacked = np.stack([im.astype(np.float64) / (255.0 if im.dtype == np.uint8 else 1.0) for im in images])
    return torch.from_numpy(stacked).permute(0, 3, 1, 2)


def to_numpy(images: torch.Tensor) -> list[np.ndarray]:
    return [im for im in images.permute(0, 2, 3, 1).double().numpy()]


def skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(a, b, channel_axis=-1, data_range=1, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False)


@pytest.fixture(scope="module")
def image_pairs(astronaut_rgb, grace_hopper_rgb) -> tuple[torch.Tensor, torch.Tensor]:
    """Four 256² pairs: random, random vs correlated, astronaut vs noisy astronaut, astronaut vs Hopper."""
    rng = np.random.default_rng(0)
    noise_a = rng.random((256, 256, 3))
    correlated = np.clip(noise_a + 0.2 * rng.standard_normal((256, 256, 3)), 0, 1)
    astro = resize_to_eval(to_tensor([astronaut_rgb]).float())[0].double()
    hopper = resize_to_eval(to_tensor([grace_hopper_rgb]).float())[0].double()
    astro_np = astro.permute(1, 2, 0).numpy()
    noisy = np.clip(astro_np + 0.05 * rng.standard_normal(astro_np.shape), 0, 1)
    outputs = to_tensor([rng.random((256, 256, 3)), correlated, noisy, astro_np])
    targets = to_tensor([noise_a, noise_a, astro_np, hopper.permute(1, 2, 0).numpy()])
    return outputs, targets


def test_ssim_matches_skimage(image_pairs):
    outputs, targets = image_pairs
    ours = ssim(outputs, targets)
    reference = [skimage_ssim(o, t) for o, t in zip(to_numpy(outputs), to_numpy(targets))]
    assert ours.shape == (4,)
    np.testing.assert_allclose(ours.numpy(), reference, atol=1e-4)
    # the four cases span the range, so agreement is not a coincidence of one value
    assert min(reference) < 0.05 and max(reference) > 0.5


@pytest.mark.slow
def test_ssim_float32_and_identity(image_pairs):
    outputs, targets = image_pairs
    reference = [skimage_ssim(o, t) for o, t in zip(to_numpy(outputs), to_numpy(targets))]
    np.testing.assert_allclose(ssim(outputs.float(), targets.float()).numpy(), reference, atol=1e-4)
    assert torch.allclose(ssim(targets, targets), torch.ones(4, dtype=torch.float64))


def test_psnr_and_l1_match_skimage_and_numpy(image_pairs):
    outputs, targets = image_pairs
    reference = [peak_signal_noise_ratio(t, o, data_range=1) for o, t in zip(to_numpy(outputs), to_numpy(targets))]
    np.testing.assert_allclose(psnr(outputs, targets).numpy(), reference, atol=1e-4)
    expected_l1 = [np.abs(o - t).mean() for o, t in zip(to_numpy(outputs), to_numpy(targets))]
    np.testing.assert_allclose(l1(outputs, targets).numpy(), expected_l1, atol=1e-7)


def test_other_sizes_are_resized_to_256_with_antialiasing(astronaut_rgb, grace_hopper_rgb):
    full = to_tensor([astronaut_rgb]).float()  # 512²
    hopper = to_tensor([grace_hopper_rgb]).float()  # 400²
    small_a, small_h = to_numpy(resize_to_eval(full))[0], to_numpy(resize_to_eval(hopper))[0]
    assert small_a.shape == (256, 256, 3)
    assert ssim(full, hopper).item() == pytest.approx(skimage_ssim(small_a, small_h), abs=1e-4)
    assert psnr(full, hopper).item() == pytest.approx(peak_signal_noise_ratio(small_h, small_a, data_range=1), abs=1e-4)
    # antialiased: a 1-px checkerboard averages to flat grey instead of aliasing
    checker = (torch.arange(512)[:, None] + torch.arange(512)[None, :]) % 2
    board = checker.float().expand(1, 3, 512, 512)
    assert resize_to_eval(board).std().item() < 0.01


def test_bad_input_raises_one_line_error():
    with pytest.raises(InputError, match="B×3×H×W"):
        l1(torch.zeros(3, 256, 256), torch.zeros(3, 256, 256))
    with pytest.raises(InputError, match="batch size"):
        l1(torch.zeros(2, 3, 256, 256), torch.zeros(1, 3, 256, 256))
