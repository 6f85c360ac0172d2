"""Training losses (docs/DESIGN.md#training): functions of tensors plus the frozen perceptual network; no trainer logic.

Generator: :class:`GeneratorLoss` configured by :class:`LossWeights`. Discriminator:
:func:`hinge_discriminator_loss`. Each term is also usable on its own.
"""

from synergywarp.losses.adversarial import (
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    unpack_discriminator,
)
from synergywarp.losses.equivariance import (
    AffineTPSTransform,
    equivariance_loss,
    equivariance_loss_from_estimator,
    random_affine_tps,
)
from synergywarp.losses.flow import (
    collapse_flow_depth,
    flow_photometric_loss,
    keypoint_consistency_loss,
    sample_flow_at,
)
from synergywarp.losses.generator import GeneratorLoss, LossWeights
from synergywarp.losses.perceptual import PerceptualPyramid
from synergywarp.losses.pixel_pyramid import PixelPyramidLoss, ssim
from synergywarp.losses.priors import deformation_prior_loss, keypoint_prior_loss, pose_supervision_loss
from synergywarp.losses.pyramid import image_pyramid
from synergywarp.losses.reconstruction import l1_loss
from synergywarp.losses.vgg19 import VGG19Features, load_vgg19_features

__all__ = [
    "AffineTPSTransform",
    "GeneratorLoss",
    "LossWeights",
    "PerceptualPyramid",
    "PixelPyramidLoss",
    "VGG19Features",
    "collapse_flow_depth",
    "deformation_prior_loss",
    "equivariance_loss",
    "equivariance_loss_from_estimator",
    "feature_matching_loss",
    "flow_photometric_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "image_pyramid",
    "keypoint_consistency_loss",
    "keypoint_prior_loss",
    "l1_loss",
    "load_vgg19_features",
    "pose_supervision_loss",
    "random_affine_tps",
    "sample_flow_at",
    "ssim",
    "unpack_discriminator",
]
