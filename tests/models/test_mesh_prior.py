"""The prior candidate motion (a caller-given 2D grid, e.g. the mesh warp) and the full-resolution
image skip of ``*_tracked_mesh`` models."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from synergywarp.models import create_model, get_config


def _identity_grid(n: int, size: int) -> torch.Tensor:
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) * 2 / size - 1
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack([xs, ys], -1).expand(n, size, size, 2).clone()


@pytest.fixture
def model():
    torch.manual_seed(0)
    return create_model("tiny_tracked_mesh").eval()


def _inputs(model, n: int = 2):
    size = model.config.image_size
    torch.manual_seed(1)
    source = torch.rand(n, 3, size, size)
    kp_s = torch.rand(n, 32, 3) * 1.6 - 0.8
    kp_d = kp_s + 0.05 * torch.randn(n, 32, 3)
    return source, kp_s, kp_d


def _force_prior(model) -> None:
    """Make the dense motion pick the prior candidate everywhere (last mask channel)."""
    mask = model.warping.dense_motion_network.mask
    with torch.no_grad():
        mask.weight.zero_()
        mask.bias.fill_(-30.0)
        mask.bias[-1] = 30.0


def _force_skip(model) -> None:
    """Make the decoder's blend weight 0: the output is the warped source alone."""
    conv = model.decoder.conv_img
    with torch.no_grad():
        conv.weight[3].zero_()
        conv.bias[3] = -40.0


def test_registered_mesh_models_take_the_prior_and_the_skip():
    for name in ("tiny_tracked_mesh", "small_tracked_mesh"):
        cfg = get_config(name)
        assert cfg.motion == "tracked" and cfg.warp.dense_motion.prior_candidate and cfg.decoder.image_skip
    assert not get_config("lp256").warp.dense_motion.prior_candidate  # LivePortrait layout untouched


def test_prior_is_one_more_candidate_and_is_required(model):
    source, kp_s, kp_d = _inputs(model)
    size = model.config.image_size
    out = model(source, source, source_keypoints=kp_s, driving_keypoints=kp_d, prior_grid=_identity_grid(2, size))
    assert out.masks.shape[1] == model.config.num_kp + 2
    torch.testing.assert_close(out.masks.sum(1), torch.ones_like(out.masks[:, 0]), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="prior grid"):
        model(source, source, source_keypoints=kp_s, driving_keypoints=kp_d)


def test_flow_follows_a_dominant_prior(model):
    _force_prior(model)
    source, kp_s, kp_d = _inputs(model)
    size, feature = model.config.image_size, model.config.feature_size
    prior = _identity_grid(2, size) + torch.tensor([0.2, -0.1])
    out = model(source, source, source_keypoints=kp_s, driving_keypoints=kp_d, prior_grid=prior)
    expected = _identity_grid(2, feature) + torch.tensor([0.2, -0.1])
    for depth in range(out.flow.shape[1]):
        torch.testing.assert_close(out.flow[:, depth, ..., :2], expected, atol=1e-4, rtol=0)


def test_image_skip_warps_the_full_resolution_source(model):
    _force_prior(model)
    _force_skip(model)
    source, kp_s, kp_d = _inputs(model)
    size = model.config.image_size
    shifted = _identity_grid(2, size) + torch.tensor([4 * 2 / size, 0.0])  # sample 4 pixels to the right
    out = model(source, source, source_keypoints=kp_s, driving_keypoints=kp_d, prior_grid=shifted)
    expected = F.grid_sample(source, shifted, mode="bilinear", padding_mode="border", align_corners=False)
    torch.testing.assert_close(out.image, expected, atol=1e-4, rtol=0)
    # full resolution: the output keeps detail a feature-resolution flow would blur away
    assert (out.image[..., :-4] - source[..., 4:]).abs().max() < 1e-4


def test_without_a_forced_blend_the_decoder_contributes(model):
    source, kp_s, kp_d = _inputs(model)
    size = model.config.image_size
    grid = _identity_grid(2, size)
    skip_only = F.grid_sample(source, grid, align_corners=False)
    out = model(source, source, source_keypoints=kp_s, driving_keypoints=kp_d, prior_grid=grid)
    assert (out.image - skip_only).abs().mean() > 1e-3


def test_prior_grids_are_never_coarser_than_128():
    """A small network gets its prior at 128² (it area-averages the grid to its motion volume; the
    rendering upsamples it to the output size, where a 64² seam pixel would be a 4×4 blob)."""
    from synergywarp.face.prior import MIN_PRIOR_SIZE, prior_grid_size

    assert MIN_PRIOR_SIZE == 128
    assert [prior_grid_size(s) for s in (64, 128, 256)] == [128, 128, 256]


def test_a_finer_prior_grid_moves_the_network_like_its_own_size_and_renders_its_detail():
    """The 64² network fed a 128² prior: its flow equals (to within the area average) what the same
    prior at 64² gives, while the rendered output at 128² follows the fine grid (a seam that the 64²
    grid smears over 2 px stays 1 px wide)."""
    torch.manual_seed(0)
    model = create_model("tiny_tracked_head").eval()
    s, k = model.config.image_size, model.config.num_kp
    g = torch.Generator().manual_seed(1)
    keypoints = torch.rand(1, k, 3, generator=g) - 0.5
    centres = (torch.arange(128) + 0.5) * 2 / 128 - 1
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    fine = torch.stack([xs + 0.2 * (xs > 0.1).float(), ys], -1)[None]  # a seam: the right part samples 0.2 further
    coarse = F.interpolate(fine.permute(0, 3, 1, 2), size=(s, s), mode="area").permute(0, 2, 3, 1)
    with torch.no_grad():
        state = model.encode_source(torch.rand(1, 3, s, s, generator=g), keypoints,
                                    image_hr=torch.rand(1, 3, 128, 128, generator=g))
        driving = keypoints + 0.02
        a = model.animate(state, driving, None, fusion_mode="explicit", prior_grid=fine, output_size=128)
        b = model.animate(state, driving, None, fusion_mode="explicit", prior_grid=coarse, output_size=128)
    torch.testing.assert_close(a.flow, b.flow, atol=1e-4, rtol=0)  # the network's input is the same
    assert (a.image - b.image).abs().amax() > 0.01  # but the render keeps the fine grid's detail
