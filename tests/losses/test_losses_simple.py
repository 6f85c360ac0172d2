"""Hand-made cases for L1, hinge GAN, feature matching, keypoint/deformation priors and pose supervision."""

from __future__ import annotations

import math

import pytest
import torch

from synergywarp.losses import (
    deformation_prior_loss,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    keypoint_prior_loss,
    l1_loss,
    pose_supervision_loss,
)


def test_l1_of_known_tensors():
    prediction = torch.tensor([[0.0, 1.0], [0.5, 0.25]])
    target = torch.tensor([[1.0, 1.0], [0.0, 0.25]])
    assert l1_loss(prediction, target).item() == pytest.approx((1 + 0 + 0.5 + 0) / 4)
    assert l1_loss(target, target).item() == 0.0
    with pytest.raises(ValueError):
        l1_loss(prediction, target[:1])


@pytest.mark.parametrize(
    "real_value, fake_value, expected",
    [(1.0, -1.0, 0.0), (0.0, 0.0, 2.0), (-1.0, 1.0, 4.0), (2.0, -3.0, 0.0), (0.5, -0.5, 1.0)],
)
def test_hinge_discriminator_values(real_value, fake_value, expected):
    real = torch.full((2, 1, 4, 4), real_value)
    fake = torch.full((2, 1, 4, 4), fake_value)
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(expected)


def test_hinge_generator_and_multiscale():
    assert hinge_generator_loss(torch.full((2, 1, 3, 3), 1.0)).item() == pytest.approx(-1.0)
    assert hinge_generator_loss(torch.full((2, 1, 3, 3), -1.0)).item() == pytest.approx(1.0)
    assert hinge_generator_loss(torch.zeros(2, 1, 3, 3)).item() == 0.0
    # a list of patch maps (multi-scale discriminator) sums its terms
    scales = [torch.full((1, 1, 4, 4), 1.0), torch.full((1, 1, 2, 2), -1.0)]
    assert hinge_generator_loss(scales).item() == pytest.approx(0.0)
    real = [torch.full((1, 1, 4, 4), 0.0), torch.full((1, 1, 2, 2), 1.0)]
    fake = [torch.full((1, 1, 4, 4), 0.0), torch.full((1, 1, 2, 2), -1.0)]
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(2.0)


def test_feature_matching_zero_and_known_offset():
    generator = torch.Generator().manual_seed(0)
    real = [torch.randn(2, 8, 16, 16, generator=generator), torch.randn(2, 16, 8, 8, generator=generator)]
    assert feature_matching_loss(real, [r.clone() for r in real]).item() == 0.0
    fake = [r + 0.3 for r in real]
    assert feature_matching_loss(real, fake).item() == pytest.approx(0.3, abs=1e-6)
    mixed = [real[0] - 0.2, real[1] + 0.6]  # mean over layers
    assert feature_matching_loss(real, mixed).item() == pytest.approx(0.4, abs=1e-6)


def test_feature_matching_detaches_real():
    real = [torch.randn(1, 4, 4, 4, requires_grad=True)]
    fake = [torch.randn(1, 4, 4, 4, requires_grad=True)]
    feature_matching_loss(real, fake).backward()
    assert real[0].grad is None
    assert fake[0].grad is not None and fake[0].grad.abs().sum() > 0


def test_keypoint_prior_well_separated_is_zero():
    xs = torch.tensor([-0.6, 0.0, 0.6])
    grid_x, grid_y = torch.meshgrid(xs, xs, indexing="ij")  # spacing 0.6: squared distances ≥ 0.36
    keypoints = torch.stack([grid_x.flatten(), grid_y.flatten(), torch.full((9,), 0.33)], dim=-1)[None]
    assert keypoint_prior_loss(keypoints.repeat(2, 1, 1)).item() == pytest.approx(0.0, abs=1e-7)


def test_keypoint_prior_penalises_coincident_points_and_depth():
    keypoints = torch.tensor([[[0.2, 0.1, 0.33], [0.2, 0.1, 0.33], [0.9, -0.9, 0.33]]])
    # the coincident pair counts twice (ordered pairs): 2 · 0.1
    assert keypoint_prior_loss(keypoints).item() == pytest.approx(0.2, abs=1e-6)
    far = torch.tensor([[[-0.9, -0.9, 0.0], [0.9, 0.9, 0.0]]])
    assert keypoint_prior_loss(far).item() == pytest.approx(0.33, abs=1e-6)


def test_deformation_prior_and_pose():
    expression = torch.tensor([[[0.1, -0.2, 0.0], [0.0, 0.0, 0.3]]])
    assert deformation_prior_loss(expression).item() == pytest.approx((0.3 + 0.3) / 2)
    predicted = torch.tensor([[10.0, -20.0, 0.0]])
    target = torch.tensor([[13.0, -20.0, 6.0]])
    assert pose_supervision_loss(predicted, target).item() == pytest.approx(3.0 * math.pi / 180)
    assert pose_supervision_loss(predicted, target, scale=1.0).item() == pytest.approx(3.0)


def test_unpack_discriminator_outputs_of_the_model():
    from synergywarp.losses import unpack_discriminator
    from synergywarp.models.config import DiscriminatorConfig
    from synergywarp.models.discriminator import MultiScaleDiscriminator, PatchDiscriminator

    image = torch.rand(1, 3, 32, 32)
    cfg = DiscriminatorConfig(channels=4, num_layers=3, num_scales=2)
    features, logits = unpack_discriminator(MultiScaleDiscriminator(cfg)(image))
    assert len(features) == 6 and len(logits) == 2 and all(patch.shape[1] == 1 for patch in logits)
    features, logits = unpack_discriminator(PatchDiscriminator(cfg)(image))
    assert len(features) == 3 and len(logits) == 1
    assert feature_matching_loss(features, features).item() == 0.0
