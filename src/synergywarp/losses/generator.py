"""The generator's total loss: a weighted sum of every term of docs/DESIGN.md#training, configured by
:class:`LossWeights`.

    total = Σ_term weight_term · term      (a term whose weight is 0 is neither computed nor logged)

Defaults: l1 10, perceptual 10 (per VGG layer and pyramid level), gan 1, feature_matching 10,
flow_photometric 10, flow_keypoint 1, equivariance 10, keypoint_prior 10, deformation_prior 5, pose 0.
The last three plus equivariance only make sense when the motion encoder is trained
(:meth:`LossWeights.without_motion_encoder_terms` for ``motion: tracked`` or a frozen encoder).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import torch
from torch import nn

from synergywarp.errors import ConfigError
from synergywarp.losses.adversarial import feature_matching_loss, hinge_generator_loss
from synergywarp.losses.equivariance import equivariance_loss_from_estimator
from synergywarp.losses.flow import flow_photometric_loss, keypoint_consistency_loss
from synergywarp.losses.perceptual import PerceptualPyramid
from synergywarp.losses.priors import deformation_prior_loss, keypoint_prior_loss, pose_supervision_loss
from synergywarp.losses.pyramid import DEFAULT_SCALES
from synergywarp.losses.reconstruction import l1_loss

MOTION_ENCODER_TERMS = ("equivariance", "keypoint_prior", "deformation_prior")


class _PerceptualOptions(TypedDict):
    """Keyword arguments of :class:`PerceptualPyramid`."""

    scales: tuple[float, ...]
    layer_weights: Sequence[float] | None
    vgg19_path: str | Path | None


class _EquivarianceOptions(TypedDict):
    """Random-warp options of :func:`equivariance_loss_from_estimator`."""

    sigma_affine: float
    sigma_tps: float
    points: int


@dataclass(frozen=True)
class LossWeights:
    """Weight of each generator loss term (docs/DESIGN.md#training has the defaults); 0 skips the term."""

    l1: float = 10.0  # mean |prediction − driving|
    perceptual: float = 10.0  # VGG pyramid, per layer and level
    gan: float = 1.0  # hinge generator term −mean D(fake)
    feature_matching: float = 10.0  # discriminator features, real vs fake
    flow_photometric: float = 10.0  # warped downsampled source vs driving inside the occlusion map
    flow_keypoint: float = 1.0  # Φ(x_d,k) ≈ x_s,k
    equivariance: float = 10.0  # affine + TPS equivariance (motion encoder trained)
    keypoint_prior: float = 10.0  # keypoint spread + mean depth 0.33 (motion encoder trained)
    deformation_prior: float = 5.0  # ‖δ‖₁ (motion encoder trained)
    pose: float = 0.0  # L1 to ground-truth pitch/yaw/roll (synthetic data only)

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"loss weight {field.name!r} must be a number, got {type(value).__name__}")
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"loss weight {field.name!r} must be finite and ≥ 0, got {value}")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, float], section: str = "loss_weights") -> LossWeights:
        """Build from a config mapping; an unknown key raises ConfigError naming ``section.key``."""
        names = {field.name for field in dataclasses.fields(cls)}
        for key in mapping:
            if key not in names:
                raise ConfigError(f"unknown key {section}.{key}; known: {', '.join(sorted(names))}")
        try:
            return cls(**dict(mapping))
        except ConfigError as err:
            raise ConfigError(f"{section}: {err}") from None

    def without_motion_encoder_terms(self) -> LossWeights:
        """A copy with equivariance, keypoint_prior and deformation_prior set to 0."""
        return dataclasses.replace(self, **{name: 0.0 for name in MOTION_ENCODER_TERMS})

    def active(self) -> dict[str, float]:
        """Name -> weight of the terms with a non-zero weight."""
        return {f.name: float(getattr(self, f.name)) for f in dataclasses.fields(self) if getattr(self, f.name)}


class GeneratorLoss(nn.Module):
    """Weighted sum of the generator's loss terms; returns ``(total, {name: weighted 0-d detached tensor})``.

    The perceptual network is built only when its weight is non-zero (lazily if the weights change
    later through the public ``weights`` attribute). Logged values are the weighted terms (they sum
    to ``total``, also logged). A term with a non-zero weight whose inputs are missing raises
    ValueError naming the term and the missing inputs.

    ``grid_align_quirk`` must match the model's (docs/CONTRACTS.md#grid-conventions): with LivePortrait's
    endpoint-inclusive identity grid, Φ's voxel values sit on an align_corners=True lattice, so the
    keypoint-consistency term samples Φ with align_corners=True; the photometric term always warps with
    align_corners=False, as the model does.
    """

    def __init__(
        self,
        weights: LossWeights | None = None,
        *,
        perceptual_scales: Sequence[float] = DEFAULT_SCALES,
        perceptual_layer_weights: Sequence[float] | None = None,
        vgg19_path: str | Path | None = None,
        equivariance_sigma_affine: float = 0.05,
        equivariance_sigma_tps: float = 0.005,
        equivariance_points: int = 5,
        detach_occlusion: bool = True,
        grid_align_quirk: bool = False,
        pose_scale: float = math.pi / 180,
    ) -> None:
        super().__init__()
        self.weights = weights if weights is not None else LossWeights()
        self._perceptual_options = _PerceptualOptions(
            scales=tuple(perceptual_scales), layer_weights=perceptual_layer_weights, vgg19_path=vgg19_path
        )
        self.perceptual: PerceptualPyramid | None = None
        if self.weights.perceptual > 0:
            self.perceptual = PerceptualPyramid(**self._perceptual_options)
        self.equivariance_options = _EquivarianceOptions(
            sigma_affine=equivariance_sigma_affine, sigma_tps=equivariance_sigma_tps, points=equivariance_points
        )
        self.detach_occlusion = detach_occlusion
        self.grid_align_quirk = grid_align_quirk
        self.pose_scale = pose_scale

    def _perceptual_module(self, device: torch.device) -> PerceptualPyramid:
        if self.perceptual is None:
            self.perceptual = PerceptualPyramid(**self._perceptual_options).to(device)
        return self.perceptual

    def forward(
        self,
        prediction: torch.Tensor,
        driving: torch.Tensor,
        *,
        source: torch.Tensor | None = None,
        flow: torch.Tensor | None = None,
        occlusion: torch.Tensor | None = None,
        kp_source: torch.Tensor | None = None,
        kp_driving: torch.Tensor | None = None,
        disc_fake_logits: torch.Tensor | Sequence[torch.Tensor] | None = None,
        disc_fake_features: Sequence[torch.Tensor] | None = None,
        disc_real_features: Sequence[torch.Tensor] | None = None,
        expression: torch.Tensor | None = None,
        keypoint_estimator: Callable[[torch.Tensor], torch.Tensor] | None = None,
        estimated_keypoints: torch.Tensor | None = None,
        pose_predicted: torch.Tensor | None = None,
        pose_target: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total generator loss -> (scalar, {term: weighted value, "total": value}).

        prediction, driving, source: B×3×H×W in [0, 1]; flow: B×D×h×w×3 backward grid; occlusion:
        B×1×h×w; kp_source, kp_driving: B×K×3; disc_*: the discriminator's patch logits on the
        prediction and its intermediate maps on prediction / driving; expression: B×K×3 (δ of the
        driving); keypoint_estimator: image -> B×K×3, with ``estimated_keypoints`` its output on
        ``driving`` (computed here when None) for the equivariance term; keypoint_prior applies to
        kp_driving; pose_*: B×3 pitch/yaw/roll in degrees; generator: RNG for the random warp.
        """
        given = {
            "source": source, "flow": flow, "kp_source": kp_source, "kp_driving": kp_driving,
            "disc_fake_logits": disc_fake_logits, "disc_fake_features": disc_fake_features,
            "disc_real_features": disc_real_features, "expression": expression,
            "keypoint_estimator": keypoint_estimator, "pose_predicted": pose_predicted, "pose_target": pose_target,
        }
        needs = {
            "l1": (), "perceptual": (), "gan": ("disc_fake_logits",),
            "feature_matching": ("disc_fake_features", "disc_real_features"),
            "flow_photometric": ("flow", "source"), "flow_keypoint": ("flow", "kp_source", "kp_driving"),
            "equivariance": ("keypoint_estimator",), "keypoint_prior": ("kp_driving",),
            "deformation_prior": ("expression",), "pose": ("pose_predicted", "pose_target"),
        }
        active = self.weights.active()
        for name, weight in active.items():
            missing = [key for key in needs[name] if given[key] is None]
            if missing:
                raise ValueError(f"loss term {name!r} has weight {weight} but {', '.join(missing)} not given; "
                                 "pass it or set the weight to 0")
        terms = {
            name: weight * self._term(name, prediction, driving, given, occlusion, estimated_keypoints, generator)
            for name, weight in active.items()
        }
        total = torch.stack(list(terms.values())).sum() if terms else prediction.new_zeros(())
        # detached 0-d tensors: no device sync here; callers convert with float() on log steps
        logged = {name: value.detach().float() for name, value in terms.items()}
        logged["total"] = total.detach().float()
        return total, logged

    def _term(self, name: str, prediction: torch.Tensor, driving: torch.Tensor, given: dict,
              occlusion: torch.Tensor | None, estimated_keypoints: torch.Tensor | None,
              generator: torch.Generator | None) -> torch.Tensor:
        if name == "l1":
            return l1_loss(prediction, driving)
        if name == "perceptual":
            return self._perceptual_module(prediction.device)(prediction, driving)
        if name == "gan":
            return hinge_generator_loss(given["disc_fake_logits"])
        if name == "feature_matching":
            return feature_matching_loss(given["disc_real_features"], given["disc_fake_features"])
        if name == "flow_photometric":
            return flow_photometric_loss(given["flow"], given["source"], driving, occlusion,
                                         detach_occlusion=self.detach_occlusion)
        if name == "flow_keypoint":
            return keypoint_consistency_loss(given["flow"], given["kp_source"], given["kp_driving"],
                                             align_corners=self.grid_align_quirk)
        if name == "equivariance":
            estimator = given["keypoint_estimator"]
            original = estimated_keypoints if estimated_keypoints is not None else estimator(driving)
            return equivariance_loss_from_estimator(driving, original, estimator, generator=generator,
                                                    **self.equivariance_options)
        if name == "keypoint_prior":
            return keypoint_prior_loss(given["kp_driving"])
        if name == "deformation_prior":
            return deformation_prior_loss(given["expression"])
        if name == "pose":
            return pose_supervision_loss(given["pose_predicted"], given["pose_target"], self.pose_scale)
        raise KeyError(name)
