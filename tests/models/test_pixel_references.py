"""Output at any size through the image skip, and the per-pixel fusion of warped references (CGF at the
output resolution): identity at initialisation, order invariance, padding, and texture reaching the pixels."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from synergywarp.models import create_model
from synergywarp.models.fusion import grid_stretch
from synergywarp.models.grids import identity_grid_2d

S, OUT = 64, 128


@pytest.fixture
def model():
    torch.manual_seed(0)
    return create_model("tiny_tracked_head").eval()


def _inputs(batch: int = 2, refs: int = 3):
    g = torch.Generator().manual_seed(1)
    source = torch.rand(batch, 3, S, S, generator=g)
    source_hr = F.interpolate(source, size=(OUT, OUT), mode="bilinear", align_corners=False)
    keypoints = torch.rand(batch, 32, 3, generator=g) * 0.6 - 0.3
    prior = identity_grid_2d(S, S)[None].expand(batch, S, S, 2).clone()
    ref_images = torch.rand(batch, refs, 3, OUT, OUT, generator=g)
    ref_grids = (identity_grid_2d(S, S) + 0.05 * torch.randn(S, S, 2, generator=g))[None, None].expand(
        batch, refs, S, S, 2).clone()
    return source, source_hr, keypoints, prior, ref_images, ref_grids


def _run(model, source, source_hr, keypoints, prior, ref_images=None, ref_grids=None, mask=None, size=OUT):
    with torch.no_grad():
        state = model.encode_source(source, keypoints, image_hr=source_hr)
        return model.animate(state, keypoints, prior_grid=prior, output_size=size, reference_images=ref_images,
                             reference_grids=ref_grids, reference_mask=mask)


def test_references_start_switched_off_and_order_does_not_matter(model):
    source, source_hr, kp, prior, refs, grids = _inputs()
    alone = _run(model, source, source_hr, kp, prior)
    joined = _run(model, source, source_hr, kp, prior, refs, grids)
    assert alone.image.shape == (2, 3, OUT, OUT) and alone.fusion_weights is None
    weights = joined.fusion_weights
    assert weights.shape == (2, 5, OUT, OUT) and torch.allclose(weights.sum(1), torch.ones(2, OUT, OUT), atol=1e-5)
    assert weights[:, 2:].max() < 0.01  # references enter at ~e^-6 before training
    assert (joined.image - alone.image).abs().max() < 0.01
    order = [2, 0, 1]
    permuted = _run(model, source, source_hr, kp, prior, refs[:, order], grids[:, order])
    assert torch.allclose(permuted.image, joined.image, atol=1e-5)
    assert torch.allclose(permuted.fusion_weights[:, 2:], joined.fusion_weights[:, 2:][:, order], atol=1e-6)


def test_padded_references_get_no_weight_and_explicit_mode_ignores_references(model):
    source, source_hr, kp, prior, refs, grids = _inputs()
    with torch.no_grad():
        model.pixel_fusion.reference_bias.fill_(40.0)  # references dominate wherever they exist
    mask = torch.tensor([[True, False, False], [True, True, False]])
    out = _run(model, source, source_hr, kp, prior, refs, grids, mask)
    weights = out.fusion_weights
    assert weights[0, 3:].max() == 0 and weights[1, 4].max() == 0 and weights[0, 2].min() > 0.5
    fewer = _run(model, source[:1], source_hr[:1], kp[:1], prior[:1], refs[:1, :1], grids[:1, :1])
    assert torch.allclose(out.image[:1], fewer.image, atol=1e-5)  # padding = not being there
    with torch.no_grad():
        state = model.encode_source(source, kp, image_hr=source_hr)
        explicit = model.animate(state, kp, prior_grid=prior, output_size=OUT, reference_images=refs,
                                 reference_grids=grids, fusion_mode="explicit")
    assert explicit.fusion_weights is None


def test_a_trusted_reference_reaches_the_pixels_at_full_resolution(model):
    source, source_hr, kp, prior, refs, _ = _inputs(batch=1, refs=1)
    identity = identity_grid_2d(S, S)[None, None]
    with torch.no_grad():
        model.pixel_fusion.reference_bias.fill_(40.0)  # trust the reference everywhere
    out = _run(model, source, source_hr, kp, prior, refs, identity)
    assert out.fusion_weights[:, 2].min() > 0.999
    assert (out.image - refs[:, 0]).abs().max() < 1e-3  # its full-resolution texture, not a 64² copy


def test_output_size_warps_the_high_resolution_source(model):
    """Forced to output the prior-warped source alone, the 128² output is the 128² source (sharp), not
    the 64² one upsampled."""
    source, _, kp, prior, _, _ = _inputs(batch=1)
    checker = ((torch.arange(OUT)[:, None] // 2 + torch.arange(OUT)[None] // 2) % 2).float()
    source_hr = checker.expand(1, 3, OUT, OUT).clone()
    source = F.interpolate(source_hr, size=(S, S), mode="bilinear", align_corners=False, antialias=True)
    with torch.no_grad():
        dense = model.warping.dense_motion_network
        dense.mask.weight.zero_()
        dense.mask.bias.fill_(-30.0)
        dense.mask.bias[-1] = 30.0  # the prior candidate everywhere
        model.decoder.conv_img.weight[3].zero_()
        model.decoder.conv_img.bias[3] = -40.0  # blend weight 0: the warped source alone
    out = _run(model, source, source_hr, kp, prior).image
    assert (out - source_hr).abs().mean() < 0.02
    low = _run(model, source, None, kp, prior).image  # no high-resolution source: the 64² one upsampled
    assert (low - source_hr).abs().mean() > 0.2


def test_grid_stretch_measures_area_change():
    identity = identity_grid_2d(32, 32)[None]
    assert grid_stretch(identity).abs().max() < 1e-5
    zoomed = identity * 0.5  # every output pixel samples half the distance: a 2× zoom, area ×4
    assert torch.allclose(grid_stretch(zoomed), torch.full((1, 1, 32, 32), float(torch.log(torch.tensor(4.0)))),
                          atol=1e-4)
