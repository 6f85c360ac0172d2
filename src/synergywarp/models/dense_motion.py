"""Dense motion network: keypoints → dense 3D backward flow Φ and a 2D occlusion map (inside DOFW)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from synergywarp.models.config import DenseMotionConfig
from synergywarp.models.grids import identity_grid_3d, identity_heatmaps, resize_grid
from synergywarp.models.hourglass import Hourglass3d


@dataclass
class DenseMotion:
    """flow: ``B×D×H×W×3`` backward grid (x, y, z); occlusion: ``B×1×H×W`` in (0, 1) or None;
    masks: ``B×(K+1)×D×H×W`` softmax weights of the K+1 candidate motions (``B×(K+2)×D×H×W`` with the
    prior candidate, which comes last)."""

    flow: torch.Tensor
    occlusion: torch.Tensor | None
    masks: torch.Tensor


class DenseMotionNetwork(nn.Module):
    """Predicts Φ = Σ_k M_k·T_k from K+1 sparse motions ``T_0 = id``, ``T_k(z) = z − x_d,k + x_s,k``.

    Input: source volume ``B×C×D×H×W`` and keypoints ``B×K×3`` of driving and source. With
    ``cfg.prior_candidate`` a caller-given 2D backward grid ``B×H'×W'×2`` (e.g. the geometric mesh warp
    of the face landmarks) is one more candidate ``T_prior(x, y, z) = (g_x(x, y), g_y(x, y), z)``, so the
    network learns where to correct it rather than the whole motion.
    """

    def __init__(
        self,
        cfg: DenseMotionConfig,
        num_kp: int,
        feature_channels: int,
        volume_depth: int,
        estimate_occlusion: bool = True,
        grid_align_quirk: bool = False,
    ):
        super().__init__()
        self.cfg = cfg
        self.num_kp = num_kp
        self.grid_align_quirk = grid_align_quirk
        self.num_candidates = num_kp + 1 + int(cfg.prior_candidate)
        in_features = self.num_candidates * (cfg.compress + 1)
        self.hourglass = Hourglass3d(cfg.block_expansion, in_features, cfg.num_blocks, cfg.max_features,
                                     cfg.out_channels)
        self.mask = nn.Conv3d(
            self.hourglass.out_filters, self.num_candidates, cfg.mask_kernel, padding=cfg.mask_kernel // 2
        )
        self.compress = nn.Conv3d(feature_channels, cfg.compress, 1)
        self.norm = nn.BatchNorm3d(cfg.compress)
        self.occlusion = (
            nn.Conv2d(self.hourglass.out_filters * volume_depth, 1, cfg.occlusion_kernel,
                      padding=cfg.occlusion_kernel // 2)
            if estimate_occlusion
            else None
        )

    def identity_grid(self, volume: torch.Tensor) -> torch.Tensor:
        d, h, w = volume.shape[-3:]
        return identity_grid_3d(d, h, w, align_quirk=self.grid_align_quirk, device=volume.device, dtype=volume.dtype)

    def sparse_motions(self, grid: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> torch.Tensor:
        """``B×(K+1)×D×H×W×3``: the identity first, then one translation per keypoint."""
        shift = (kp_source - kp_driving)[:, :, None, None, None, :]
        per_kp = grid[None, None] + shift
        ident = grid[None, None].expand(kp_source.shape[0], 1, *grid.shape)
        return torch.cat([ident, per_kp], dim=1)

    @staticmethod
    def prior_motion(grid: torch.Tensor, prior_grid: torch.Tensor) -> torch.Tensor:
        """``B×1×D×H×W×3``: the 2D backward grid ``B×H'×W'×2`` resized to H×W, lifted with z = identity."""
        d, h, w = grid.shape[:3]
        planar = prior_grid.float()
        if planar.shape[1:3] != (h, w):
            planar = resize_grid(rearrange(planar, "b h w t -> b t h w"), (h, w))
            planar = rearrange(planar, "b t h w -> b h w t")
        planar = repeat(planar.to(grid.dtype), "b h w t -> b d h w t", d=d)
        depth = grid[..., 2:].expand(planar.shape[0], d, h, w, 1)
        return torch.cat([planar, depth], dim=-1)[:, None]

    def forward(
        self,
        volume: torch.Tensor,
        kp_driving: torch.Tensor,
        kp_source: torch.Tensor,
        prior_grid: torch.Tensor | None = None,
    ) -> DenseMotion:
        b, _, d, h, w = volume.shape
        kp_driving = kp_driving.to(volume.dtype)
        kp_source = kp_source.to(volume.dtype)
        compressed = F.relu(self.norm(self.compress(volume)))  # b c d h w
        grid = self.identity_grid(volume)
        motions = self.sparse_motions(grid, kp_driving, kp_source)  # b k1 d h w 3
        if self.cfg.prior_candidate:
            if prior_grid is None:
                raise ValueError("this model's dense motion takes a prior grid (B×H×W×2, e.g. the mesh warp)")
            motions = torch.cat([motions, self.prior_motion(grid, prior_grid)], dim=1)
        k1 = motions.shape[1]
        deformed = F.grid_sample(
            repeat(compressed, "b c d h w -> (b k) c d h w", k=k1),
            rearrange(motions, "b k d h w t -> (b k) d h w t"),
            align_corners=False,
        )
        deformed = rearrange(deformed, "(b k) c d h w -> b k c d h w", k=k1)
        variance = self.cfg.heatmap_variance
        quirk = self.grid_align_quirk
        heat = (identity_heatmaps(kp_driving, d, h, w, variance, align_quirk=quirk)
                - identity_heatmaps(kp_source, d, h, w, variance, align_quirk=quirk))
        heat = torch.cat([torch.zeros_like(heat[:, :1]), heat], dim=1)  # background first
        if self.cfg.prior_candidate:
            heat = torch.cat([heat, torch.zeros_like(heat[:, :1])], dim=1)  # the prior last
        stacked = torch.cat([heat[:, :, None], deformed], dim=2)  # b k1 (1+c) d h w
        features = self.hourglass(rearrange(stacked, "b k c d h w -> b (k c) d h w"))
        masks = torch.softmax(self.mask(features), dim=1)  # b k1 d h w
        # the flow in fp32 even under autocast: bf16 grid coordinates would be off by up to 1/256 of the image
        precise = torch.promote_types(masks.dtype, torch.float32)  # fp32 (fp64 stays fp64)
        with torch.autocast(masks.device.type, enabled=False):
            flow = torch.einsum("bkdhw,bkdhwt->bdhwt", masks.to(precise), motions.to(precise))
        occlusion = None
        if self.occlusion is not None:
            occlusion = torch.sigmoid(self.occlusion(rearrange(features, "b c d h w -> b (c d) h w")))
        return DenseMotion(flow=flow, occlusion=occlusion, masks=masks)
