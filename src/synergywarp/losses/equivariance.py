"""Equivariance loss with a random affine + thin-plate-spline warp (docs/DESIGN.md#training: weight 10; motion
encoder only).

The random transform T (as in FOMM: an identity affine plus N(0, σ_affine) noise, plus TPS with a
``points × points`` control grid over [−1, 1]² and N(0, σ_tps) weights) is a BACKWARD map: the warped
image is ``out(p) = image(T(p))`` with

    T(p) = A·p + b + Σ_i w_i U(‖p − c_i‖),   U(r) = r² log r,   w_i ∈ R² (one weight per axis).

Image content at q therefore moves to ``T⁻¹(q)``; :meth:`AffineTPSTransform.map_points` computes it
with Newton's method (the gradient is the implicit-function one, J⁻¹). The loss is

    L = mean | T⁻¹(x_k^{xy}) − x̃_k^{xy} |

between the original keypoints mapped to where their content moved and the keypoints re-estimated on
the transformed image (x, y only; z is not observable in a 2D warp).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange

_LOG_EPS = 1e-9


def _pixel_centre_grid(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """h×w×2 (x, y) coordinates of pixel centres in [−1, 1] (align_corners=False convention)."""
    ys = (torch.arange(height, dtype=like.dtype, device=like.device) * 2 + 1) / height - 1
    xs = (torch.arange(width, dtype=like.dtype, device=like.device) * 2 + 1) / width - 1
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1)


@dataclass
class AffineTPSTransform:
    """A batch of affine + TPS backward maps (formula in the module docstring).

    affine: B×2×3 [A | b]; control_points: P×2 (x, y); control_weights: B×P×2.
    """

    affine: torch.Tensor
    control_points: torch.Tensor
    control_weights: torch.Tensor

    def _differences(self, xy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """xy: B×N×2 -> (p − c_i: B×N×P×2, ‖p − c_i‖²: B×N×P)."""
        diff = rearrange(xy, "b n c -> b n 1 c") - self.control_points.to(xy)
        return diff, (diff**2).sum(-1)

    def sample_coordinates(self, xy: torch.Tensor) -> torch.Tensor:
        """T(p) for points B×N×2 -> B×N×2 (where the warped image samples the original)."""
        affine = self.affine.to(xy)
        out = torch.einsum("bij,bnj->bni", affine[:, :, :2], xy) + rearrange(affine[:, :, 2], "b c -> b 1 c")
        _, squared = self._differences(xy)
        radial = 0.5 * squared * torch.log(squared + _LOG_EPS)  # r² log r
        return out + torch.einsum("bnp,bpc->bnc", radial, self.control_weights.to(xy))

    def jacobian(self, xy: torch.Tensor) -> torch.Tensor:
        """dT/dp at points B×N×2 -> B×N×2×2 (row = output axis)."""
        diff, squared = self._differences(xy)
        # ∇U = (p − c)·(log r² + r²/(r² + ε))
        radial_factor = torch.log(squared + _LOG_EPS) + squared / (squared + _LOG_EPS)
        radial_grad = diff * rearrange(radial_factor, "b n p -> b n p 1")
        tps = torch.einsum("bpi,bnpj->bnij", self.control_weights.to(xy), radial_grad)
        return rearrange(self.affine.to(xy)[:, :, :2], "b i j -> b 1 i j") + tps

    def map_points(self, xy: torch.Tensor, iterations: int = 10) -> torch.Tensor:
        """Where content at B×N×2 points moves in the warped image: T⁻¹(xy) -> B×N×2 (differentiable)."""
        with torch.no_grad():
            estimate = xy.detach().clone()
            for _ in range(iterations):
                residual = self.sample_coordinates(estimate) - xy.detach()
                step = torch.linalg.solve(self.jacobian(estimate), residual.unsqueeze(-1)).squeeze(-1)
                estimate = estimate - step
        # One Newton step with gradient: d(estimate)/d(xy) = J⁻¹ (implicit function theorem).
        residual = self.sample_coordinates(estimate) - xy
        return estimate - torch.linalg.solve(self.jacobian(estimate).detach(), residual.unsqueeze(-1)).squeeze(-1)

    def warp_image(self, image: torch.Tensor) -> torch.Tensor:
        """B×C×H×W -> B×C×H×W with ``out(p) = image(T(p))`` (bilinear, reflection padding)."""
        batch, _, height, width = image.shape
        if batch != self.affine.shape[0]:
            raise ValueError(f"transform holds {self.affine.shape[0]} warps, image batch is {batch}")
        like = image.new_empty((), dtype=torch.promote_types(image.dtype, torch.float32))
        grid = rearrange(_pixel_centre_grid(height, width, like), "h w c -> 1 (h w) c").expand(batch, -1, -1)
        sample_at = rearrange(self.sample_coordinates(grid), "b (h w) c -> b h w c", h=height).to(image.dtype)
        return F.grid_sample(image, sample_at, mode="bilinear", padding_mode="reflection", align_corners=False)


def random_affine_tps(
    batch: int,
    generator: torch.Generator | None = None,
    sigma_affine: float = 0.05,
    sigma_tps: float = 0.005,
    points: int = 5,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> AffineTPSTransform:
    """A random :class:`AffineTPSTransform` per batch item (FOMM's defaults; σ = 0 gives the identity).

    Noise is drawn on the CPU from ``generator`` (global RNG when None), then moved to ``device``.
    """
    noise_affine = torch.randn(batch, 2, 3, generator=generator) * sigma_affine
    noise_tps = torch.randn(batch, points * points, 2, generator=generator) * sigma_tps
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    axis = torch.linspace(-1, 1, points) if points > 1 else torch.zeros(1)
    grid_y, grid_x = torch.meshgrid(axis, axis, indexing="ij")
    control = torch.stack([grid_x.flatten(), grid_y.flatten()], dim=-1)
    return AffineTPSTransform(
        affine=(identity + noise_affine).to(device=device, dtype=dtype),
        control_points=control.to(device=device, dtype=dtype),
        control_weights=noise_tps.to(device=device, dtype=dtype),
    )


def equivariance_loss(
    transform: AffineTPSTransform, keypoints: torch.Tensor, keypoints_on_transformed: torch.Tensor
) -> torch.Tensor:
    """``mean |T⁻¹(x_k^{xy}) − x̃_k^{xy}|`` for keypoints B×K×(2|3) (original, re-estimated) -> scalar."""
    dtype = torch.promote_types(keypoints.dtype, torch.float32)  # Newton solves need ≥ fp32
    mapped = transform.map_points(keypoints[..., :2].to(dtype))
    return (mapped - keypoints_on_transformed[..., :2].to(dtype)).abs().mean()


def equivariance_loss_from_estimator(
    image: torch.Tensor,
    keypoints: torch.Tensor,
    estimate_keypoints: Callable[[torch.Tensor], torch.Tensor],
    transform: AffineTPSTransform | None = None,
    generator: torch.Generator | None = None,
    **transform_options: float,
) -> torch.Tensor:
    """Warp ``image`` (B×3×H×W) with ``transform`` (random when None), re-estimate keypoints on it with
    ``estimate_keypoints`` (image -> B×K×(2|3)) and return :func:`equivariance_loss` against ``keypoints``.

    transform_options: ``sigma_affine``, ``sigma_tps``, ``points`` for :func:`random_affine_tps`.
    """
    if transform is None:
        transform = random_affine_tps(
            image.shape[0], generator, device=image.device, **transform_options  # type: ignore[arg-type]
        )
    transformed = transform.warp_image(image)
    return equivariance_loss(transform, keypoints, estimate_keypoints(transformed))
