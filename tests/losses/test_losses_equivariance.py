"""Random affine + TPS transform and the equivariance loss."""

from __future__ import annotations

import pytest
import torch

from synergywarp.losses import equivariance_loss, equivariance_loss_from_estimator, random_affine_tps

SIZE = 64


def blob_image(centres: torch.Tensor, sigma_px: float = 2.0) -> torch.Tensor:
    """B×1×SIZE×SIZE images with one Gaussian blob each at centres B×2 (x, y normalised)."""
    coords = (torch.arange(SIZE, dtype=torch.float32) * 2 + 1) / SIZE - 1
    grid_y, grid_x = torch.meshgrid(coords, coords, indexing="ij")
    sigma = 2 * sigma_px / SIZE
    dx = grid_x[None] - centres[:, 0, None, None]
    dy = grid_y[None] - centres[:, 1, None, None]
    return torch.exp(-(dx**2 + dy**2) / (2 * sigma**2))[:, None]


def locate_blob(image: torch.Tensor) -> torch.Tensor:
    """B×C×H×W -> B×1×2 intensity-weighted centroid (x, y normalised) of the first channel."""
    coords = (torch.arange(SIZE, dtype=image.dtype) * 2 + 1) / SIZE - 1
    weights = image[:, 0] ** 2  # sharpen: less influence from the faint tails
    total = weights.sum(dim=(1, 2))
    x = (weights * coords[None, None, :]).sum(dim=(1, 2)) / total
    y = (weights * coords[None, :, None]).sum(dim=(1, 2)) / total
    return torch.stack([x, y], dim=-1)[:, None]


def test_zero_sigma_is_identity():
    transform = random_affine_tps(3, torch.Generator().manual_seed(0), sigma_affine=0.0, sigma_tps=0.0)
    image = torch.rand(3, 3, 20, 24, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(transform.warp_image(image), image, atol=1e-6)
    points = torch.rand(3, 7, 2) * 2 - 1
    assert torch.allclose(transform.map_points(points), points, atol=1e-6)
    assert torch.allclose(transform.sample_coordinates(points), points, atol=1e-6)


def test_same_seed_same_transform():
    first = random_affine_tps(2, torch.Generator().manual_seed(5))
    second = random_affine_tps(2, torch.Generator().manual_seed(5))
    third = random_affine_tps(2, torch.Generator().manual_seed(6))
    assert torch.equal(first.affine, second.affine) and torch.equal(first.control_weights, second.control_weights)
    assert not torch.equal(first.affine, third.affine)


def test_mapped_points_follow_image_content():
    centres = torch.tensor([[0.2, -0.3], [-0.4, 0.1], [0.0, 0.45], [0.3, 0.3]])
    transform = random_affine_tps(4, torch.Generator().manual_seed(2), sigma_affine=0.1, sigma_tps=0.01)
    warped = transform.warp_image(blob_image(centres))
    found = locate_blob(warped)[:, 0]
    mapped = transform.map_points(centres[:, None])[:, 0]
    pixel = 2 / SIZE
    assert (found - centres).norm(dim=-1).max() > 2 * pixel  # the transform really moved the blobs
    assert (found - mapped).norm(dim=-1).max() < 0.2 * pixel
    # map_points inverts the backward sampling map
    assert torch.allclose(transform.sample_coordinates(mapped[:, None])[:, 0], centres, atol=1e-5)


def test_map_points_gradient_is_implicit_inverse_jacobian():
    transform = random_affine_tps(1, torch.Generator().manual_seed(3), sigma_affine=0.1, sigma_tps=0.01)
    transform.affine = transform.affine.double()
    transform.control_points = transform.control_points.double()
    transform.control_weights = transform.control_weights.double()
    points = (torch.rand(1, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) - 0.5)
    assert torch.autograd.gradcheck(transform.map_points, (points.requires_grad_(True),))


def test_equivariance_loss_small_for_an_equivariant_detector():
    centres = torch.tensor([[0.2, -0.3], [-0.4, 0.1]])
    image = blob_image(centres).repeat(1, 3, 1, 1)
    keypoints = torch.cat([locate_blob(image), torch.full((2, 1, 1), 0.3)], dim=-1)  # B×1×3, z ignored
    generator = torch.Generator().manual_seed(7)
    loss = equivariance_loss_from_estimator(image, keypoints, locate_blob, generator=generator,
                                            sigma_affine=0.1, sigma_tps=0.01)
    transform = random_affine_tps(2, torch.Generator().manual_seed(7), sigma_affine=0.1, sigma_tps=0.01)
    # a detector that ignores the image (always returns the original points) is penalised
    frozen = equivariance_loss(transform, keypoints, keypoints)
    assert loss.item() < 0.002
    assert frozen.item() > 20 * loss.item()


def test_equivariance_loss_gradients_reach_both_keypoint_sets():
    transform = random_affine_tps(2, torch.Generator().manual_seed(8))
    original = torch.rand(2, 5, 3, requires_grad=True)
    re_estimated = torch.rand(2, 5, 3, requires_grad=True)
    equivariance_loss(transform, original, re_estimated).backward()
    assert original.grad[..., :2].abs().sum() > 0 and re_estimated.grad[..., :2].abs().sum() > 0
    assert original.grad[..., 2].abs().sum() == 0


def test_transform_runs_in_the_image_dtype():
    transform = random_affine_tps(1, torch.Generator().manual_seed(9))
    image = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    assert transform.warp_image(image).dtype == torch.float64
    with pytest.raises(ValueError, match="image batch"):
        transform.warp_image(torch.rand(2, 3, 8, 8))  # batch mismatch
