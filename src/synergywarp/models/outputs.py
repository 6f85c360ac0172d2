"""What :meth:`SynergyWarpNet.animate` and :meth:`SynergyWarpNet.forward` return.

Shapes: N driving frames, S' the output side, C = ``warp.out_channels``, h = w the feature grid
side (``image_size / 4``), D the volume depth, K the keypoints, g = ``cgf.groups``, R references.
The dataclass is a registered pytree node, so ``torch.compile`` and DDP (which flattens a module's
outputs to route their gradients) see the tensors inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.utils._pytree as pytree

from synergywarp.models.motion import MotionParams


@dataclass
class AnimateOutput:
    """The animated frames and the intermediate maps behind them."""

    image: torch.Tensor  # N×3×S'×S' in [0, 1]: the output
    explicit_feature: torch.Tensor  # N×C×h×w: E, the explicitly warped feature
    fused_feature: torch.Tensor  # N×C×h×w: C·E + (1 − C)·(E + A), what the decoder renders
    confidence: torch.Tensor  # N×g×h×w: C (ones on the explicit path, zeros for fusion "add")
    flow: torch.Tensor  # N×D×h×w×3: the dense backward flow (sampling grid of the source volume)
    occlusion: torch.Tensor | None  # N×1×h×w occlusion map; None when warp.use_occlusion is off
    masks: torch.Tensor  # N×(K+1)×D×h×w motion masks (K+2 with warp.dense_motion.prior_candidate)
    kp_source: torch.Tensor  # N×K×3 source keypoints (crop cube)
    kp_driving: torch.Tensor  # N×K×3 driving keypoints (crop cube)
    correction: torch.Tensor | None = None  # N×C×h×w: A from RAC; None on the explicit path
    fusion_weights: torch.Tensor | None = None  # N×(2+R)×S'×S' per-pixel candidate weights (cgf.pixel_references)
    explicit_image: torch.Tensor | None = None  # N×3×S'×S' G(E), with ``return_explicit`` only
    source_motion: MotionParams | None = None  # the source's motion (forward, motion: learned)
    driving_motion: MotionParams | None = None  # the driving's motion (forward, motion: learned, predicted)


pytree.register_dataclass(AnimateOutput)
