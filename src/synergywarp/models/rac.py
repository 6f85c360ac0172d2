"""RAC: reference-augmented correction by cross-attention to the 3D keypoints and textures of references.

Queries come from the driving keypoints (Gaussian-encoded) and the explicit stream E; keys from each
reference's keypoints and texture; values from the texture. All references' tokens are concatenated
along the key axis with one learned null token, so the module is invariant to the order of references
and defined for none; a key-padding mask handles a variable number per batch item.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from synergywarp.models.blocks import constant_conv
from synergywarp.models.config import RACConfig
from synergywarp.models.grids import identity_heatmaps
from synergywarp.models.warping import ConvNormLeaky2d


def sinusoidal_position_2d(height: int, width: int, dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Fixed 2D sine/cosine position code ``(H·W)×dim`` (half the channels for y, half for x)."""
    quarter = dim // 4
    freqs = torch.exp(-math.log(10000.0) * torch.arange(quarter, device=device, dtype=torch.float32) / quarter)
    ys = torch.arange(height, device=device, dtype=torch.float32)[:, None] * freqs
    xs = torch.arange(width, device=device, dtype=torch.float32)[:, None] * freqs
    y_code = torch.cat([ys.sin(), ys.cos()], -1)[:, None, :].expand(height, width, 2 * quarter)
    x_code = torch.cat([xs.sin(), xs.cos()], -1)[None, :, :].expand(height, width, 2 * quarter)
    code = torch.cat([y_code, x_code], -1).reshape(height * width, 4 * quarter)
    code = F.pad(code, (0, dim - 4 * quarter))
    return code.to(dtype)


class GaussianKeypointEncoder(nn.Module):
    """𝒢: keypoints ``B×K×3`` → ``B×C_kp×h×w``.

    Each keypoint's 3D Gaussian is evaluated on a ``(gaussian_depth, h, w)`` lattice in [−1, 1]³, the
    depth folded into channels (K·depth), then encoded by two 3×3 convs. Keeping z lets the encoding
    tell the front of the head from the back, which a 2D heatmap cannot.
    """

    def __init__(self, num_kp: int, cfg: RACConfig):
        super().__init__()
        self.depth = cfg.gaussian_depth
        self.variance = cfg.gaussian_variance
        c = cfg.keypoint_channels
        self.net = nn.Sequential(
            nn.Conv2d(num_kp * cfg.gaussian_depth, c, 3, padding=1), nn.GELU(), nn.Conv2d(c, c, 3, padding=1)
        )

    def forward(self, keypoints: torch.Tensor, height: int, width: int) -> torch.Tensor:
        dtype = next(self.net.parameters()).dtype
        heat = identity_heatmaps(keypoints, self.depth, height, width, self.variance)  # b k d h w
        return self.net(rearrange(heat, "b k d h w -> b (k d) h w").to(dtype))


@dataclass
class ReferenceTokens:
    """Cached keys/values of a reference set (incl. the null token and optionally the source).

    keys, values: one ``B×heads×N×(d/heads)`` pair per attention layer; mask: ``B×N`` (True = attend).
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    mask: torch.Tensor
    num_references: torch.Tensor  # B, how many real references each item has


class CrossAttentionBlock(nn.Module):
    """Pre-norm cross-attention + FFN on query tokens ``B×Q×d`` against cached keys/values."""

    def __init__(self, dim: int, heads: int, ffn_mult: int):
        super().__init__()
        self.heads = heads
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_mult * dim), nn.GELU(), nn.Linear(ffn_mult * dim, dim))

    def project_kv(self, key_tokens: torch.Tensor, value_tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``B×N×d`` tokens → per-head keys and values ``B×heads×N×(d/heads)`` (cached per reference set)."""
        k = self.to_k(self.norm_kv(key_tokens))
        v = self.to_v(self.norm_kv(value_tokens))
        split = "b n (h e) -> b h n e"
        return rearrange(k, split, h=self.heads), rearrange(v, split, h=self.heads)

    def forward(
        self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        q = rearrange(self.to_q(self.norm_q(queries)), "b n (h e) -> b h n e", h=self.heads)
        attended = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask[:, None, None, :])
        queries = queries + self.to_out(rearrange(attended, "b h n e -> b n (h e)"))
        return queries + self.ffn(self.norm_ffn(queries))


class ReferenceAugmentedCorrection(nn.Module):
    """RAC: explicit stream ``E`` (``B×C×H×W``) + driving keypoints → correction ``A`` (``B×C×H×W``).

    The final conv is zero-initialised, so at initialisation ``A = 0`` and ``E + A = E``.
    """

    def __init__(self, cfg: RACConfig, num_kp: int, volume_channels: int, volume_depth: int, feature_channels: int):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.texture_proj = nn.Sequential(
            ConvNormLeaky2d(volume_channels * volume_depth, feature_channels),
            nn.Conv2d(feature_channels, feature_channels, 1),
        )
        self.keypoint_encoder = GaussianKeypointEncoder(num_kp, cfg)
        self.query_in = nn.Linear(cfg.keypoint_channels + feature_channels, d)
        self.key_in = nn.Linear(cfg.keypoint_channels + feature_channels, d)
        self.value_in = nn.Linear(feature_channels, d)
        self.null_key = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.null_value = nn.Parameter(torch.zeros(1, 1, d))
        self.blocks = nn.ModuleList(CrossAttentionBlock(d, cfg.heads, cfg.ffn_mult) for _ in range(cfg.layers))
        self.norm_out = nn.LayerNorm(d)
        self.to_feature = nn.Linear(d, feature_channels)
        self.out = constant_conv(feature_channels, feature_channels, 3, weight=0.0, bias=0.0)

    # ------------------------------------------------------------------ per reference set
    def texture(self, volume: torch.Tensor) -> torch.Tensor:
        """T = P_t(flatten(volume)) pooled to the attention grid: ``B×C×D×H×W → B×C_w×h×w``."""
        grid = self.cfg.attention_grid
        return F.adaptive_avg_pool2d(self.texture_proj(rearrange(volume, "b c d h w -> b (c d) h w")), grid)

    def key_value_tokens(self, volume: torch.Tensor, keypoints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One image's key and value tokens ``B×(h·w)×d`` from its volume and keypoints ``B×K×3``."""
        texture = self.texture(volume)
        h, w = texture.shape[-2:]
        kp_code = self.keypoint_encoder(keypoints, h, w).to(texture.dtype)
        keys = self.key_in(rearrange(torch.cat([kp_code, texture], 1), "b c h w -> b (h w) c"))
        values = self.value_in(rearrange(texture, "b c h w -> b (h w) c"))
        pos = sinusoidal_position_2d(h, w, self.cfg.dim, device=keys.device, dtype=keys.dtype)
        return keys + pos, values

    def encode_references(
        self,
        volumes: torch.Tensor | None,
        keypoints: torch.Tensor | None,
        mask: torch.Tensor | None,
        source_volume: torch.Tensor | None = None,
        source_keypoints: torch.Tensor | None = None,
    ) -> ReferenceTokens:
        """Build the cached key/value set.

        volumes: ``B×R×C×D×H×W`` (or None for R = 0); keypoints ``B×R×K×3``; mask ``B×R`` (True = real
        reference). The source joins as one more key set when ``source_as_key``.
        """
        key_sets, value_sets, mask_sets = [], [], []
        batch = None
        if volumes is not None and volumes.shape[1] > 0:
            if keypoints is None:
                raise ValueError("reference volumes need their keypoints (B×R×K×3)")
            b, r = volumes.shape[:2]
            batch = b
            keys, values = self.key_value_tokens(
                rearrange(volumes, "b r c d h w -> (b r) c d h w"), rearrange(keypoints, "b r k t -> (b r) k t")
            )
            key_sets.append(rearrange(keys, "(b r) n c -> b (r n) c", r=r))
            value_sets.append(rearrange(values, "(b r) n c -> b (r n) c", r=r))
            if mask is None:
                mask = torch.ones(b, r, dtype=torch.bool, device=volumes.device)
            tokens_per_ref = keys.shape[1]
            mask_sets.append(mask.to(torch.bool).repeat_interleave(tokens_per_ref, dim=1))
        if self.cfg.source_as_key and source_volume is not None:
            if source_keypoints is None:
                raise ValueError("the source volume needs the source keypoints (B×K×3)")
            keys, values = self.key_value_tokens(source_volume, source_keypoints)
            batch = keys.shape[0]
            key_sets.append(keys)
            value_sets.append(values)
            mask_sets.append(torch.ones(keys.shape[:2], dtype=torch.bool, device=keys.device))
        if batch is None:
            if source_volume is None:
                raise ValueError("encode_references needs reference volumes or the source volume")
            batch = source_volume.shape[0]
        device = self.null_key.device
        dtype = key_sets[0].dtype if key_sets else self.null_key.dtype
        key_sets.append(self.null_key.to(dtype).expand(batch, 1, -1))
        value_sets.append(self.null_value.to(dtype).expand(batch, 1, -1))
        mask_sets.append(torch.ones(batch, 1, dtype=torch.bool, device=device))
        all_keys, all_values = torch.cat(key_sets, 1), torch.cat(value_sets, 1)
        per_layer = [cast(CrossAttentionBlock, block).project_kv(all_keys, all_values) for block in self.blocks]
        count = mask.sum(1) if mask is not None else torch.zeros(batch, dtype=torch.long, device=device)
        return ReferenceTokens(
            keys=[k for k, _ in per_layer], values=[v for _, v in per_layer],
            mask=torch.cat(mask_sets, 1), num_references=count,
        )

    # ------------------------------------------------------------------ per driving frame
    def forward(self, explicit: torch.Tensor, driving_keypoints: torch.Tensor, tokens: ReferenceTokens) -> torch.Tensor:
        """E ``B×C×H×W`` and driving keypoints ``B×K×3`` → correction A ``B×C×H×W``."""
        grid = self.cfg.attention_grid
        pooled = F.adaptive_avg_pool2d(explicit, grid)
        h, w = pooled.shape[-2:]
        kp_code = self.keypoint_encoder(driving_keypoints, h, w).to(pooled.dtype)
        queries = self.query_in(rearrange(torch.cat([kp_code, pooled], 1), "b c h w -> b (h w) c"))
        queries = queries + sinusoidal_position_2d(h, w, self.cfg.dim, device=queries.device, dtype=queries.dtype)
        b = queries.shape[0]
        mask = tokens.mask.expand(b, -1) if tokens.mask.shape[0] == 1 else tokens.mask
        for block, keys, values in zip(self.blocks, tokens.keys, tokens.values):
            keys = keys.expand(b, -1, -1, -1) if keys.shape[0] == 1 else keys
            values = values.expand(b, -1, -1, -1) if values.shape[0] == 1 else values
            queries = block(queries, keys.to(queries.dtype), values.to(queries.dtype), mask)
        feature = self.to_feature(self.norm_out(queries))
        feature = rearrange(feature, "b (h w) c -> b c h w", h=h)
        feature = F.interpolate(feature, size=explicit.shape[-2:], mode="bilinear", align_corners=False)
        return self.out(feature)
