"""Flow loss (ours, docs/DESIGN.md#training): photometric warp with the depth-collapsed flow + keypoint consistency.

Conventions (docs/CONTRACTS.md#dense-flow): the dense flow Φ is a BACKWARD sampling grid B×D×h×w×3 over the
source feature
volume, last axis (x, y, z) in [−1, 1], sampled with ``grid_sample(align_corners=False)``. With LivePortrait's grid
quirk
(``grid_align_quirk``: an endpoint-inclusive identity grid) Φ's values live on an align_corners=True
lattice: sample Φ at keypoints with ``align_corners=True`` then (the photometric warp stays False).

- Photometric (weight 10): Φ is collapsed over depth by averaging its (x, y) over the D slices
  (optionally weighted per slice, e.g. by the source's feature occupancy) into a 2D grid B×h×w×2.
  The source image, downsampled to h×w (antialiased), is warped with it and compared with the
  downsampled driving image:  L = Σ O·|warp(S) − D|̄ / (Σ O + ε)   (|·|̄ = mean over channels),
  i.e. an L1 inside the occlusion map O (B×1×h×w), normalised by its sum. O is detached by default so
  that this loss cannot shrink O to hide errors.
- Keypoint consistency (weight 1): Φ sampled trilinearly at the driving keypoints should return the
  source keypoints:  L = mean |Φ(x_d,k) − x_s,k|  over batch, keypoints and x, y, z.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange, reduce

from synergywarp.losses.pyramid import resize_antialiased


def collapse_flow_depth(flow: torch.Tensor, depth_weights: torch.Tensor | None = None) -> torch.Tensor:
    """B×D×h×w×3 flow -> B×h×w×2 grid: the (x, y) of Φ averaged over depth.

    depth_weights: optional B×D×h×w non-negative weights per slice (normalised over D here); None = mean.
    """
    xy = flow[..., :2]
    if depth_weights is None:
        return reduce(xy, "b d h w c -> b h w c", "mean")
    weights = depth_weights / depth_weights.sum(dim=1, keepdim=True).clamp_min(1e-8)
    return (xy * rearrange(weights, "b d h w -> b d h w 1")).sum(dim=1)


def warp_image(image: torch.Tensor, grid: torch.Tensor, align_corners: bool = False) -> torch.Tensor:
    """Backward-warp B×C×h×w by a B×h×w×2 sampling grid (x, y in [−1, 1]); border padding."""
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=align_corners)


def flow_photometric_loss(
    flow: torch.Tensor,
    source: torch.Tensor,
    driving: torch.Tensor,
    occlusion: torch.Tensor | None = None,
    depth_weights: torch.Tensor | None = None,
    detach_occlusion: bool = True,
    align_corners: bool = False,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Occlusion-weighted L1 between the flow-warped downsampled source and the downsampled driving.

    flow: B×D×h×w×3; source, driving: B×3×H×W in [0, 1]; occlusion: B×1×h×w in [0, 1] (None = all 1)
    -> scalar. The driving image gets no gradient.
    """
    batch, _, height, width, _ = flow.shape
    grid = collapse_flow_depth(flow, depth_weights)
    source_small = resize_antialiased(source, (height, width))
    driving_small = resize_antialiased(driving, (height, width)).detach()
    warped = warp_image(source_small, grid.to(source_small.dtype), align_corners=align_corners)
    error = reduce((warped - driving_small).abs(), "b c h w -> b 1 h w", "mean")
    if occlusion is None:
        return error.mean()
    if occlusion.shape != (batch, 1, height, width):
        raise ValueError(f"occlusion must be {(batch, 1, height, width)}, got {tuple(occlusion.shape)}")
    weights = occlusion.detach() if detach_occlusion else occlusion
    return (weights * error).sum() / (weights.sum() + eps)


def sample_flow_at(flow: torch.Tensor, points: torch.Tensor, align_corners: bool = False) -> torch.Tensor:
    """Trilinear sample of the B×D×h×w×3 flow at B×K×3 points (x, y, z in [−1, 1]) -> B×K×3.

    Border padding: points outside the cube read the nearest boundary value.
    """
    volume = rearrange(flow, "b d h w c -> b c d h w")
    grid = rearrange(points.to(flow.dtype), "b k c -> b k 1 1 c")
    sampled = F.grid_sample(volume, grid, mode="bilinear", padding_mode="border", align_corners=align_corners)
    return rearrange(sampled, "b c k 1 1 -> b k c")


def keypoint_consistency_loss(
    flow: torch.Tensor, kp_source: torch.Tensor, kp_driving: torch.Tensor, align_corners: bool = False
) -> torch.Tensor:
    """``mean |Φ(x_d,k) − x_s,k|`` for flow B×D×h×w×3 and keypoints B×K×3 -> scalar (SPEC weight 1)."""
    if kp_source.shape != kp_driving.shape:
        raise ValueError(f"keypoint shapes differ, {tuple(kp_source.shape)} vs {tuple(kp_driving.shape)}")
    return (sample_flow_at(flow, kp_driving, align_corners) - kp_source).abs().mean()
