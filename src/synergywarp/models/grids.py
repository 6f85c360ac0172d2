"""Sampling grids and Gaussian heatmaps on the normalised cube [−1, 1]³ (last axis ordered x, y, z)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def _axis(n: int, align_quirk: bool, device, dtype) -> torch.Tensor:
    if align_quirk or n == 1:
        # LivePortrait: endpoints exactly −1 and +1 (align_corners=True spacing).
        if n == 1:
            return torch.zeros(1, device=device, dtype=dtype)
        return torch.linspace(-1.0, 1.0, n, device=device, dtype=dtype)
    # Pixel centres under align_corners=False: sampling this grid is an exact identity.
    return (torch.arange(n, device=device, dtype=dtype) * 2 + 1) / n - 1


def identity_grid_3d(
    depth: int, height: int, width: int, *, align_quirk: bool = False, device=None, dtype=torch.float32
) -> torch.Tensor:
    """Identity sampling grid ``D×H×W×3`` (x = W axis, y = H axis, z = D axis)."""
    z = _axis(depth, align_quirk, device, dtype)
    y = _axis(height, align_quirk, device, dtype)
    x = _axis(width, align_quirk, device, dtype)
    zz, yy, xx = torch.meshgrid(z, y, x, indexing="ij")
    return torch.stack([xx, yy, zz], dim=-1)


def identity_grid_2d(height: int, width: int, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """Identity grid ``H×W×2`` (x, y) at pixel centres (align_corners=False)."""
    y = _axis(height, False, device, dtype)
    x = _axis(width, False, device, dtype)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    return torch.stack([xx, yy], dim=-1)


def gaussian_heatmaps(keypoints: torch.Tensor, grid: torch.Tensor, variance: float) -> torch.Tensor:
    """Gaussians centred on keypoints: ``exp(−½‖g − x_k‖² / σ²)``.

    keypoints: ``B×K×3``; grid: ``D×H×W×3``. Returns ``B×K×D×H×W``.
    """
    diff = grid[None, None] - keypoints[:, :, None, None, None, :]
    return torch.exp(-0.5 * diff.pow(2).sum(-1) / variance)


def identity_heatmaps(keypoints: torch.Tensor, depth: int, height: int, width: int, variance: float, *,
                      align_quirk: bool = False) -> torch.Tensor:
    """:func:`gaussian_heatmaps` of keypoints ``B×K×3`` (x, y, z) on the identity grid
    ``identity_grid_3d(depth, height, width)``: ``B×K×D×H×W``.

    The Gaussian of a point on an axis-aligned lattice is a product of one Gaussian per axis: three small
    ``B×K×n`` exponentials and two broadcast products instead of an exponential (and a reduction over
    the coordinate axis) per voxel, about ten times less work per frame at batch 1 on a CPU."""
    scale = -0.5 / variance
    kp = keypoints[:, :, None, :]  # b k 1 3
    axes = [_axis(n, align_quirk, keypoints.device, keypoints.dtype) for n in (width, height, depth)]
    gx, gy, gz = (torch.exp((axis - kp[..., i]).square() * scale) for i, axis in enumerate(axes))  # b k n
    return gz[:, :, :, None, None] * gy[:, :, None, :, None] * gx[:, :, None, None, :]


def resize_grid(grid: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Resize a sampling grid ``B×2×H×W`` (channels first) to ``size``: area averaging when shrinking
    (exact for affine grids at integer factors), linear interpolation between pixel centres when
    enlarging, extrapolated linearly beyond the outer centres (exact for affine grids, borders included)."""
    if tuple(grid.shape[-2:]) == tuple(size):
        return grid
    if grid.shape[-2] >= size[0] and grid.shape[-1] >= size[1]:
        return F.interpolate(grid, size=size, mode="area")
    return _linear_resize(_linear_resize(grid, -2, int(size[0])), -1, int(size[1]))


def _linear_resize(values: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """Resample ``values`` along ``dim`` to ``size`` samples at pixel centres (align_corners=False
    positions), linear inside and linearly extrapolated at both ends."""
    count = values.shape[dim]
    if count == size:
        return values
    if count == 1:
        return values.expand(*values.shape[:dim % values.ndim], size, *values.shape[dim % values.ndim + 1:])
    position = (torch.arange(size, device=values.device, dtype=torch.float32) + 0.5) * (count / size) - 0.5
    low = position.floor().clamp(0, count - 2).long()
    frac = (position - low).to(values.dtype)
    shape = [1] * values.ndim
    shape[dim] = size
    a, b = values.index_select(dim, low), values.index_select(dim, low + 1)
    return a + (b - a) * frac.view(shape)
