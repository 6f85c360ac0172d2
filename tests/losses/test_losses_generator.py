"""LossWeights validation and the GeneratorLoss aggregator."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from synergywarp.errors import ConfigError
from synergywarp.losses import GeneratorLoss, LossWeights, l1_loss, unpack_discriminator
from synergywarp.models.config import DiscriminatorConfig
from synergywarp.models.discriminator import MultiScaleDiscriminator

ZERO = LossWeights(**{f.name: 0.0 for f in dataclasses.fields(LossWeights)})


def test_default_weights_follow_the_spec():
    weights = LossWeights()
    assert weights.active() == {
        "l1": 10.0, "perceptual": 10.0, "gan": 1.0, "feature_matching": 10.0, "flow_photometric": 10.0,
        "flow_keypoint": 1.0, "equivariance": 10.0, "keypoint_prior": 10.0, "deformation_prior": 5.0,
    }
    tracked = weights.without_motion_encoder_terms()
    assert tracked.equivariance == tracked.keypoint_prior == tracked.deformation_prior == 0
    assert tracked.l1 == 10.0


def test_weights_from_mapping_errors_name_the_key():
    assert LossWeights.from_mapping({"l1": 3, "pose": 0.5}).pose == 0.5
    with pytest.raises(ConfigError, match=r"loss_weights\.perceptul"):
        LossWeights.from_mapping({"perceptul": 1.0})
    with pytest.raises(ConfigError, match="'gan'"):
        LossWeights.from_mapping({"gan": -1.0})
    with pytest.raises(ConfigError, match="'l1'"):
        LossWeights.from_mapping({"l1": "ten"})


def test_zero_weight_terms_are_skipped():
    loss = GeneratorLoss(dataclasses.replace(ZERO, l1=10.0))
    assert loss.perceptual is None  # the VGG is not even loaded
    prediction, target = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    total, logged = loss(prediction, target)  # no flow, keypoints or discriminator needed
    assert set(logged) == {"l1", "total"}
    assert total.item() == pytest.approx(10 * l1_loss(prediction, target).item(), rel=1e-6)
    assert logged["total"].item() == pytest.approx(total.item())


def test_missing_inputs_name_the_term():
    loss = GeneratorLoss(dataclasses.replace(ZERO, l1=1.0, flow_keypoint=1.0))
    with pytest.raises(ValueError, match="'flow_keypoint'.*flow, kp_source, kp_driving"):
        loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))


class TinyKeypointNet(nn.Module):
    """image B×3×H×W -> B×K×3 in (−1, 1)."""

    def __init__(self, keypoints: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, keypoints * 3, 5, padding=2)
        self.keypoints = keypoints

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(image).mean(dim=(2, 3))).view(-1, self.keypoints, 3)


def test_all_terms_sum_to_total_and_backpropagate():
    torch.manual_seed(0)
    batch, depth, size = 2, 4, 32
    loss = GeneratorLoss(LossWeights(pose=1.0))
    discriminator = MultiScaleDiscriminator(DiscriminatorConfig(channels=4, num_layers=2, num_scales=2))
    keypoint_net = TinyKeypointNet()
    prediction = torch.rand(batch, 3, size, size, requires_grad=True)
    driving, source = torch.rand(batch, 3, size, size), torch.rand(batch, 3, size, size)
    flow = (torch.rand(batch, depth, 16, 16, 3) * 2 - 1).requires_grad_(True)
    kp_driving = keypoint_net(driving)
    fake_features, fake_logits = unpack_discriminator(discriminator(prediction))
    real_features, _ = unpack_discriminator(discriminator(driving))
    total, logged = loss(
        prediction, driving, source=source, flow=flow, occlusion=torch.rand(batch, 1, 16, 16),
        kp_source=torch.rand(batch, 4, 3), kp_driving=kp_driving, disc_fake_logits=fake_logits,
        disc_fake_features=fake_features, disc_real_features=real_features,
        expression=torch.randn(batch, 4, 3) * 0.1, keypoint_estimator=keypoint_net, estimated_keypoints=kp_driving,
        pose_predicted=torch.randn(batch, 3) * 10, pose_target=torch.randn(batch, 3) * 10,
        generator=torch.Generator().manual_seed(1),
    )
    assert set(logged) == set(LossWeights(pose=1.0).active()) | {"total"}
    assert sum(v.item() for k, v in logged.items() if k != "total") == pytest.approx(total.item(), rel=1e-5)
    assert loss.perceptual is not None and loss.perceptual.backend == "vgg16"
    total.backward()
    assert prediction.grad.abs().sum() > 0 and flow.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in keypoint_net.parameters())


def test_perceptual_is_built_when_enabled_later():
    loss = GeneratorLoss(dataclasses.replace(ZERO, l1=1.0))
    loss.weights = dataclasses.replace(loss.weights, perceptual=2.0)
    image = torch.rand(1, 3, 16, 16)
    _, logged = loss(image, image.clone())
    assert loss.perceptual is not None and logged["perceptual"].item() == 0.0
