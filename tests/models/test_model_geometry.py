"""Geometry of the explicit path: identity motion, translation direction, masks, keypoint transform."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from synergywarp.models import create_model
from synergywarp.models.grids import gaussian_heatmaps, identity_grid_3d, identity_heatmaps
from synergywarp.models.keypoints import bins_to_degrees, rotation_matrix, transform_keypoints


def test_identity_grid_is_exact_identity_without_quirk():
    volume = torch.rand(2, 3, 4, 6, 5)
    grid = identity_grid_3d(4, 6, 5).expand(2, 4, 6, 5, 3)
    torch.testing.assert_close(F.grid_sample(volume, grid, align_corners=False), volume, rtol=0, atol=1e-6)


def test_quirk_grid_has_endpoints():
    grid = identity_grid_3d(4, 6, 5, align_quirk=True)
    assert grid[..., 0].min() == -1 and grid[..., 0].max() == 1
    assert grid[0, 0, 0].tolist() == [-1, -1, -1]


def test_identity_motion_gives_identity_flow_and_warp():
    """driving = source keypoints ⇒ Φ = identity and the warped volume equals the source volume."""
    model = create_model("tiny").eval()
    with torch.no_grad():
        state = model.encode_source(torch.rand(1, 3, 64, 64))
        motion = model.warping.dense_motion_network(state.volume, state.keypoints, state.keypoints)
        grid = identity_grid_3d(*state.volume.shape[-3:])
        torch.testing.assert_close(motion.flow[0], grid, rtol=0, atol=1e-5)
        warped = F.grid_sample(state.volume, motion.flow, align_corners=False)
    torch.testing.assert_close(warped, state.volume, rtol=0, atol=1e-5)


def test_masks_sum_to_one():
    model = create_model("tiny").eval()
    with torch.no_grad():
        state = model.encode_source(torch.rand(2, 3, 64, 64))
        kp_d = state.keypoints + 0.1 * torch.randn_like(state.keypoints)
        motion = model.warping.dense_motion_network(state.volume, kp_d, state.keypoints)
    torch.testing.assert_close(motion.masks.sum(1), torch.ones_like(motion.masks[:, 0]))
    assert motion.occlusion.min() > 0 and motion.occlusion.max() < 1


def test_translation_moves_content_along_x_y_z():
    """A rigid shift of every driving keypoint by +Δ along an axis moves the warped content by +Δ."""
    model = create_model("tiny").eval()
    dm = model.warping.dense_motion_network
    with torch.no_grad():
        dm.mask.weight.zero_()
        dm.mask.bias.zero_()
        dm.mask.bias[0] = -30.0  # no background motion: every voxel follows the keypoints
    d, h, w = 4, 16, 16
    volume = torch.zeros(1, 8, d, h, w)
    volume[:, :, 1, 4, 6] = 1.0  # a single bright voxel at (x=6, y=4, z=1)
    kp_s = torch.rand(1, 10, 3) - 0.5
    for axis, cells, size in ((0, 3, w), (1, 2, h), (2, 1, d)):
        shift = torch.zeros(3)
        shift[axis] = 2.0 * cells / size  # move by `cells` voxels along `axis`
        with torch.no_grad():
            flow = dm(volume, kp_s + shift, kp_s).flow
            warped = F.grid_sample(volume, flow, align_corners=False)[0, 0]
        z, y, x = divmod(int(warped.argmax()), h * w)[0], *divmod(int(warped.argmax()) % (h * w), w)
        expected = [6, 4, 1]
        expected[axis] += cells
        assert [x, y, z] == expected, (axis, [x, y, z])


def test_rotation_matrix_conventions():
    deg = torch.tensor([30.0])
    zero = torch.zeros(1)
    # yaw about y: x axis goes to (cos, 0, -sin)
    r = rotation_matrix(zero, deg, zero)[0]
    torch.testing.assert_close(r @ torch.tensor([1.0, 0, 0]), torch.tensor([0.8660254, 0, -0.5]))
    # composition order R = Rz·Ry·Rx
    p, y, rl = torch.tensor([10.0]), torch.tensor([20.0]), torch.tensor([30.0])
    composed = rotation_matrix(zero, zero, rl) @ rotation_matrix(zero, y, zero) @ rotation_matrix(p, zero, zero)
    torch.testing.assert_close(rotation_matrix(p, y, rl), composed)


def test_bins_to_degrees_range_and_peak():
    logits = torch.full((1, 66), -1e4)
    logits[0, 40] = 0
    assert abs(bins_to_degrees(logits).item() - (3 * 40 - 97.5)) < 1e-4


def test_transform_drops_tz_and_scales_before_translation():
    kp = torch.tensor([[[0.1, 0.2, 0.3]]])
    out = transform_keypoints(kp, torch.eye(3)[None], torch.zeros_like(kp), torch.tensor([[2.0]]),
                              torch.tensor([[0.5, -0.5, 9.0]]))
    torch.testing.assert_close(out, torch.tensor([[[0.7, -0.1, 0.6]]]))


def test_gaussian_heatmap_peaks_at_keypoint():
    grid = identity_grid_3d(4, 8, 8)
    kp = grid[2, 5, 3][None, None]  # exactly on a lattice point
    heat = gaussian_heatmaps(kp, grid, 0.01)[0, 0]
    assert heat[2, 5, 3] == 1.0 and heat.argmax() == 2 * 64 + 5 * 8 + 3


@pytest.mark.parametrize("align_quirk", [False, True])
@pytest.mark.parametrize("shape", [(8, 16, 16), (1, 5, 7), (4, 6, 3)])
def test_identity_heatmaps_equal_the_heatmaps_on_the_identity_grid(shape, align_quirk):
    """The separable form (a product of per-axis Gaussians) is the same function as the per-voxel one."""
    gen = torch.Generator().manual_seed(0)
    kp = torch.rand(2, 5, 3, generator=gen, dtype=torch.float64) * 2.4 - 1.2  # some outside the cube
    grid = identity_grid_3d(*shape, align_quirk=align_quirk, dtype=torch.float64)
    expected = gaussian_heatmaps(kp, grid, 0.01)
    got = identity_heatmaps(kp, *shape, 0.01, align_quirk=align_quirk)
    assert got.shape == expected.shape == (2, 5, *shape)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-300)
    single = identity_heatmaps(kp.float(), *shape, 0.05, align_quirk=align_quirk)
    torch.testing.assert_close(single, gaussian_heatmaps(kp.float(), grid.float(), 0.05), rtol=1e-5, atol=1e-7)


def test_gradcheck_keypoints_to_flow_and_warp_float64():
    """Gradients of keypoints → heatmaps → sparse motions → warped volume are exact (float64 gradcheck)."""
    from torch.autograd import gradcheck

    from synergywarp.models.config import DenseMotionConfig
    from synergywarp.models.dense_motion import DenseMotionNetwork

    net = DenseMotionNetwork(DenseMotionConfig(block_expansion=2, max_features=4, num_blocks=1, compress=1,
                                               mask_kernel=3, occlusion_kernel=3), num_kp=2,
                             feature_channels=2, volume_depth=2).double().eval()
    volume = torch.rand(1, 2, 2, 4, 4, dtype=torch.float64)
    kp_s = (torch.rand(1, 2, 3, dtype=torch.float64) - 0.5) * 0.8

    def warp(kp_d):
        flow = net(volume, kp_d, kp_s).flow
        return F.grid_sample(volume, flow, align_corners=False)

    kp_d = ((torch.rand(1, 2, 3, dtype=torch.float64) - 0.5) * 0.8).requires_grad_()
    assert gradcheck(warp, (kp_d,), eps=1e-6, atol=1e-5)
    grid = identity_grid_3d(2, 3, 3, dtype=torch.float64)
    assert gradcheck(lambda k: gaussian_heatmaps(k, grid, 0.05), (kp_d,), eps=1e-6, atol=1e-5)
    assert gradcheck(lambda k: identity_heatmaps(k, 2, 3, 3, 0.05), (kp_d,), eps=1e-6, atol=1e-5)


@pytest.mark.slow
def test_bf16_autocast_close_to_fp32():
    """bf16 autocast (CPU) stays close to fp32 on the explicit features (dtype-aware tolerance)."""
    model = create_model("tiny").eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        ref = model(x, torch.flip(x, dims=[-1]), fusion_mode="explicit")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x, torch.flip(x, dims=[-1]), fusion_mode="explicit")
    rel = (low.explicit_feature.float() - ref.explicit_feature).norm() / ref.explicit_feature.norm()
    assert rel < 3e-2
    assert low.image.dtype in (torch.bfloat16, torch.float32) and torch.isfinite(low.image).all()
