"""Hinge GAN losses and discriminator feature matching (docs/DESIGN.md#training: GAN weight 1, feature matching 10).

Logits may be one patch map (B×1×h×w) or a sequence of them (multi-scale discriminators; terms are
summed over the sequence).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F

Logits = torch.Tensor | Sequence[torch.Tensor]
DiscriminatorOutput = tuple[Sequence[torch.Tensor], torch.Tensor]


def unpack_discriminator(
    outputs: DiscriminatorOutput | Sequence[DiscriminatorOutput],
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``(features, logits)`` of one discriminator, or a list of them (one per scale) ->
    (all feature maps in order, the logits maps): the inputs of the functions below."""
    if len(outputs) == 2 and isinstance(outputs[1], torch.Tensor):  # one discriminator's (features, logits)
        features, logits = cast(DiscriminatorOutput, outputs)
        return list(features), [logits]
    features_all: list[torch.Tensor] = []
    logits_all: list[torch.Tensor] = []
    for features, logits in cast(Sequence[DiscriminatorOutput], outputs):
        features_all.extend(features)
        logits_all.append(logits)
    return features_all, logits_all


def _as_list(logits: Logits) -> list[torch.Tensor]:
    return [logits] if isinstance(logits, torch.Tensor) else list(logits)


def hinge_discriminator_loss(real_logits: Logits, fake_logits: Logits) -> torch.Tensor:
    """Discriminator hinge loss ``mean(relu(1 − D(real))) + mean(relu(1 + D(fake)))`` -> scalar.

    Pass ``fake_logits`` computed on detached generator outputs.
    """
    real, fake = _as_list(real_logits), _as_list(fake_logits)
    if len(real) != len(fake):
        raise ValueError(f"hinge loss: {len(real)} real vs {len(fake)} fake logit maps")
    loss = real[0].new_zeros(())
    for r, f in zip(real, fake):
        loss = loss + F.relu(1 - r).mean() + F.relu(1 + f).mean()
    return loss


def hinge_generator_loss(fake_logits: Logits) -> torch.Tensor:
    """Generator hinge loss ``−mean(D(fake))`` -> scalar (SPEC weight 1)."""
    fake = _as_list(fake_logits)
    loss = fake[0].new_zeros(())
    for f in fake:
        loss = loss - f.mean()
    return loss


def feature_matching_loss(real_features: Sequence[torch.Tensor], fake_features: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of ``mean |D_l(real) − D_l(fake)|`` (real detached) -> scalar (SPEC weight 10).

    real_features, fake_features: the discriminator's intermediate maps for the real and the generated
    image, layer by layer (B×C_l×h_l×w_l each).
    """
    if len(real_features) != len(fake_features) or not real_features:
        raise ValueError(f"feature matching: {len(real_features)} real vs {len(fake_features)} fake maps")
    total = fake_features[0].new_zeros(())
    for real, fake in zip(real_features, fake_features):
        total = total + (fake - real.detach()).abs().mean()
    return total / len(real_features)
