"""Flow loss: photometric warp with the depth-collapsed flow, and keypoint consistency."""

from __future__ import annotations

import pytest
import torch

from synergywarp.losses import collapse_flow_depth, flow_photometric_loss, keypoint_consistency_loss, sample_flow_at


def identity_flow(batch: int, depth: int, height: int, width: int) -> torch.Tensor:
    """B×D×h×w×3 identity sampling grid at voxel centres (align_corners=False)."""
    def centres(n: int) -> torch.Tensor:
        return (torch.arange(n, dtype=torch.float32) * 2 + 1) / n - 1

    z, y, x = torch.meshgrid(centres(depth), centres(height), centres(width), indexing="ij")
    return torch.stack([x, y, z], dim=-1)[None].repeat(batch, 1, 1, 1, 1)


@pytest.fixture
def shifted_pair(smooth_texture):
    """``(shift_px, size=16) -> (source, driving)`` 2×3×size×size, driving(x) = source(x − shift)."""
    def make(shift_px: int, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
        wide = smooth_texture(2, size, size + shift_px, seed=3)
        return wide[..., shift_px:], wide[..., :size]

    return make


def test_identity_flow_identical_images_is_zero(smooth_texture):
    flow = identity_flow(2, 4, 16, 16)
    image = smooth_texture(2, 16, 16)
    occlusion = torch.ones(2, 1, 16, 16)
    assert flow_photometric_loss(flow, image, image, occlusion).item() == pytest.approx(0.0, abs=1e-6)


def test_shifted_driving_is_penalised_and_matching_flow_fixes_it(shifted_pair):
    shift = 2
    source, driving = shifted_pair(shift)
    occlusion = torch.ones(2, 1, 16, 16)
    occlusion[..., :shift] = 0  # content entering from outside the source
    flow = identity_flow(2, 4, 16, 16)
    wrong = flow_photometric_loss(flow, source, driving, occlusion).item()
    assert wrong > 0.02
    shifted_flow = flow.clone()
    shifted_flow[..., 0] -= 2 * shift / 16  # backward grid: Φ(x) = x − shift
    assert flow_photometric_loss(shifted_flow, source, driving, occlusion).item() == pytest.approx(0.0, abs=1e-6)


def test_downsampled_images_and_occlusion_normalisation(shifted_pair):
    source, driving = shifted_pair(4, size=32)  # 4 px at 32² = 2 px at the 16² flow
    occlusion = torch.zeros(2, 1, 16, 16)
    occlusion[..., 3:-3] = 0.5  # keep away from the borders, where the antialias filter is clamped
    flow = identity_flow(2, 4, 16, 16)
    flow[..., 0] -= 2 * 2 / 16
    assert flow_photometric_loss(flow, source, driving, occlusion).item() == pytest.approx(0.0, abs=1e-5)
    # the loss is a weighted mean: scaling the occlusion map leaves it unchanged
    plain = flow_photometric_loss(identity_flow(2, 4, 16, 16), source, driving, occlusion)
    scaled = flow_photometric_loss(identity_flow(2, 4, 16, 16), source, driving, occlusion * 2)
    assert plain.item() > 0.02 and scaled.item() == pytest.approx(plain.item(), rel=1e-5)


def test_depth_collapse_averages_xy():
    flow = identity_flow(1, 4, 8, 8)
    flow[:, 1, ..., 0] += 0.4  # one of four slices moved: mean x shift 0.1
    collapsed = collapse_flow_depth(flow)
    assert collapsed.shape == (1, 8, 8, 2)
    expected = identity_flow(1, 1, 8, 8)[:, 0, ..., :2]
    expected[..., 0] += 0.1
    assert torch.allclose(collapsed, expected, atol=1e-6)
    weights = torch.zeros(1, 4, 8, 8)
    weights[:, 1] = 1  # all weight on the moved slice
    assert torch.allclose(collapse_flow_depth(flow, weights)[..., 0], expected[..., 0] + 0.3, atol=1e-6)


def test_photometric_gradients_reach_flow_not_occlusion(shifted_pair):
    source, driving = shifted_pair(2)
    flow = identity_flow(2, 4, 16, 16).requires_grad_(True)
    occlusion = torch.full((2, 1, 16, 16), 0.7, requires_grad=True)
    flow_photometric_loss(flow, source, driving, occlusion).backward()
    assert flow.grad is not None and flow.grad[..., :2].abs().sum() > 0
    assert occlusion.grad is None


def test_keypoint_consistency_translation_flow():
    offset = torch.tensor([0.1, -0.05, 0.2])
    flow = identity_flow(2, 8, 16, 16) + offset  # Φ(z) = z + offset
    generator = torch.Generator().manual_seed(1)
    kp_driving = (torch.rand(2, 10, 3, generator=generator) * 2 - 1) * 0.8
    kp_source = kp_driving + offset
    assert torch.allclose(sample_flow_at(flow, kp_driving), kp_source, atol=1e-5)
    assert keypoint_consistency_loss(flow, kp_source, kp_driving).item() == pytest.approx(0.0, abs=1e-6)
    # keypoints that did not move: the loss is the known offset (mean |offset|)
    assert keypoint_consistency_loss(flow, kp_driving, kp_driving).item() == pytest.approx(
        offset.abs().mean().item(), abs=1e-5
    )


def test_keypoint_consistency_with_the_liveportrait_grid_quirk():
    from synergywarp.models.grids import identity_grid_3d

    offset = torch.tensor([-0.1, 0.15, 0.05])
    flow = (identity_grid_3d(8, 16, 16, align_quirk=True) + offset)[None].repeat(2, 1, 1, 1, 1)
    kp_driving = (torch.rand(2, 6, 3, generator=torch.Generator().manual_seed(2)) * 2 - 1) * 0.8
    kp_source = kp_driving + offset
    # the endpoint-inclusive lattice is read exactly with align_corners=True ...
    assert keypoint_consistency_loss(flow, kp_source, kp_driving, align_corners=True).item() == pytest.approx(
        0.0, abs=1e-6
    )
    # ... and with a visible error under the default convention
    assert keypoint_consistency_loss(flow, kp_source, kp_driving).item() > 1e-3
