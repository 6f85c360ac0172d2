"""SynergyWarpNet: explicit 3D warping (DOFW) → reference-augmented correction (RAC) → confidence-guided
fusion (CGF) → SPADE decoder.

Work that depends only on the source or the reference set is done once (:meth:`encode_source`,
:meth:`encode_references`); :meth:`animate` is the per-driving-frame path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from synergywarp.errors import CheckpointError
from synergywarp.models.appearance import AppearanceEncoder
from synergywarp.models.checkpoint import (
    CheckpointMetadata,
    load_state_dict_strict,
    read_checkpoint_header,
    read_tensors,
    write_checkpoint,
)
from synergywarp.models.config import ModelConfig
from synergywarp.models.decoder import SPADEDecoder
from synergywarp.models.fusion import CandidateFusion, ConfidenceGuidedFusion, grid_stretch
from synergywarp.models.grids import resize_grid
from synergywarp.models.motion import MotionEncoder
from synergywarp.models.motion_source import (
    LearnedMotion,
    MotionSource,
    SourceKeypoints,
    motion_source,
    motion_source_type,
)
from synergywarp.models.outputs import AnimateOutput
from synergywarp.models.rac import ReferenceAugmentedCorrection, ReferenceTokens
from synergywarp.models.warping import WarpingNetwork


@dataclass(kw_only=True)
class SourceState(SourceKeypoints):
    """Per-source cache: the keypoints (:class:`SourceKeypoints`: x_s ``B×K×3``, and for ``motion: learned``
    the canonical keypoints and the source's motion) and the appearance volume ``B×C×D×H×W``."""

    volume: torch.Tensor
    source_only_tokens: ReferenceTokens | None = None  # RAC keys of the source alone (R = 0), built once
    image: torch.Tensor | None = None  # B×3×S×S source image, kept for the decoder's image skip
    image_hr: torch.Tensor | None = None  # B×3×H×W the source at any higher resolution (output sharper than S)


class SynergyWarpNet(nn.Module):
    """The full network. Build with :func:`synergywarp.models.create_model` or from a checkpoint with
    :meth:`from_pretrained`.

    Images are ``B×3×S×S`` in [0, 1] with ``S = config.image_size``; keypoints ``B×K×3`` in the
    normalised crop cube. The output image is ``B×3×config.output_size²``.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        a = config.appearance
        self.appearance_encoder = AppearanceEncoder(a)
        self.motion_encoder = (
            MotionEncoder(config.motion_encoder, config.num_kp) if motion_source_type(config).has_encoder else None
        )
        self.warping = WarpingNetwork(
            config.warp, config.num_kp, a.volume_channels, a.volume_depth, config.grid_align_quirk
        )
        self.rac = (
            ReferenceAugmentedCorrection(
                config.rac, config.num_kp, a.volume_channels, a.volume_depth, config.warp.out_channels
            )
            if config.rac.enabled
            else None
        )
        self.fusion = ConfidenceGuidedFusion(config.cgf, config.warp.out_channels)
        self.pixel_fusion = CandidateFusion(config.cgf) if config.cgf.pixel_references else None
        self.decoder = SPADEDecoder(config.decoder)
        #: set by :meth:`from_pretrained`; None for a model built from a config
        self.checkpoint_metadata: CheckpointMetadata | None = None

    # ------------------------------------------------------------------ checkpoints
    @classmethod
    def from_pretrained(
        cls, path: str | Path, map_location: str | torch.device = "cpu", config: ModelConfig | None = None
    ) -> SynergyWarpNet:
        """Rebuild a model from a safetensors checkpoint that carries its config (migrated from older
        config versions), in eval mode on ``map_location``. With ``config`` the stored config must equal
        it. The checkpoint's metadata is kept in :attr:`checkpoint_metadata`."""
        stored, metadata = read_checkpoint_header(path)
        if config is not None and config.to_dict() != stored.to_dict():
            differ = _differing_fields(stored.to_dict(), config.to_dict())
            shown = ", ".join(f"{key}: {a!r} vs {b!r}" for key, a, b in differ[:3])
            more = f" and {len(differ) - 3} more" if len(differ) > 3 else ""
            raise CheckpointError(f"{path} holds model {stored.name!r}, which differs from the requested "
                                  f"{config.name!r} ({shown}{more})")
        model = cls(stored)
        load_state_dict_strict(model, read_tensors(path, map_location), str(path))
        model.checkpoint_metadata = metadata
        return model.to(map_location).eval()

    def save_pretrained(self, path: str | Path, *, trained_stages: Sequence[str] | None = None,
                        step: int | None = None, source: str | None = None) -> None:
        """Write weights + config (+ what training recorded) to a safetensors file, atomically."""
        metadata = CheckpointMetadata(trained_stages=list(trained_stages) if trained_stages is not None else None,
                                      step=step, source=source)
        write_checkpoint(path, self.state_dict(), self.config, metadata)

    @property
    def trained_stages(self) -> list[str] | None:
        """The stages the loaded checkpoint's training ran (e.g. ``["explicit", "rac", "cgf"]``), None when
        unrecorded or not loaded from a checkpoint."""
        return self.checkpoint_metadata.trained_stages if self.checkpoint_metadata is not None else None

    # ------------------------------------------------------------------ motion
    @property
    def motion_source(self) -> MotionSource:
        """How this model's keypoints are obtained (``config.motion``; :mod:`synergywarp.models.motion_source`)."""
        return motion_source(self.config, self.motion_encoder)

    def learned_motion(self) -> LearnedMotion:
        """The motion encoder's strategy (``motion: learned`` only; ValueError for tracked keypoints). A
        method, not a property: TorchScript's tracer reads every attribute of the modules it traces."""
        strategy = self.motion_source
        if not isinstance(strategy, LearnedMotion):
            raise ValueError("this model uses tracked keypoints; it has no motion encoder")
        return strategy

    # ------------------------------------------------------------------ per source / reference set
    def encode_source(self, image: torch.Tensor, keypoints: torch.Tensor | None = None, *,
                      image_hr: torch.Tensor | None = None) -> SourceState:
        """Appearance volume and keypoints of the source (once per source). ``image_hr`` ``B×3×H×W``: the
        same crop at a higher resolution, which models with ``decoder.image_skip`` warp for outputs
        larger than the network's (see :meth:`animate`'s ``output_size``)."""
        volume = self.appearance_encoder(image)
        skip = self.config.decoder.image_skip
        kp = self.motion_source.source(image, keypoints)
        return SourceState(keypoints=kp.keypoints, canonical=kp.canonical, motion=kp.motion, volume=volume,
                           image=image if skip else None, image_hr=image_hr if skip else None)

    def encode_references(
        self,
        source: SourceState,
        images: torch.Tensor | None,
        keypoints: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> ReferenceTokens | None:
        """Reference key/value tokens (once per reference set); None when RAC is disabled.

        images: ``B×R×3×S×S`` or None (R = 0); keypoints ``B×R×K×3`` (required for ``motion: tracked``;
        for ``learned`` they are the source's canonical keypoints under each reference's motion);
        mask: ``B×R`` bool, True where a reference is real (padding otherwise).
        """
        if self.rac is None:
            return None
        volumes = None
        if images is not None and images.shape[1] > 0:
            r = images.shape[1]
            flat = rearrange(images, "b r c h w -> (b r) c h w")
            volumes = rearrange(self.appearance_encoder(flat), "(b r) c d h w -> b r c d h w", r=r)
            keypoints = self.motion_source.references(source, images, keypoints)
        return self.rac.encode_references(volumes, keypoints, mask, source.volume, source.keypoints)

    # ------------------------------------------------------------------ per driving frame
    def frame_tokens(self, source: SourceState, references: ReferenceTokens | None,
                     fusion_mode: str | None = None) -> ReferenceTokens | None:
        """The reference tokens :meth:`animate` attends to: ``references``, or without them the source's
        own (R = 0, built once and kept in ``source``); None where RAC is off or the mode is explicit."""
        if self.rac is None or (fusion_mode or self.config.cgf.mode) == "explicit":
            return None
        if references is None:
            if source.source_only_tokens is None:
                source.source_only_tokens = self.rac.encode_references(None, None, None, source.volume,
                                                                       source.keypoints)
            references = source.source_only_tokens
        return references

    def animate(
        self,
        source: SourceState,
        driving_keypoints: torch.Tensor,
        references: ReferenceTokens | None = None,
        *,
        fusion_mode: str | None = None,
        return_explicit: bool = False,
        prior_grid: torch.Tensor | None = None,
        output_size: int | None = None,
        reference_images: torch.Tensor | None = None,
        reference_grids: torch.Tensor | None = None,
        reference_mask: torch.Tensor | None = None,
    ) -> AnimateOutput:
        """Animate the cached source with driving keypoints ``N×K×3`` (source batch 1 or N).

        ``fusion_mode="explicit"`` skips RAC and CGF (the LivePortrait-equivalent explicit path).
        ``prior_grid`` ``N×H×W×2`` (backward sampling grid, align_corners=False convention) is required
        by models with ``warp.dense_motion.prior_candidate`` and ignored by others.
        ``output_size``: side of the output for models with ``decoder.image_skip`` (default
        ``config.output_size``): the flow, the blend weights and the decoder's RGB are upsampled and the
        source (``SourceState.image_hr`` when given) is warped at that size, so the output is as sharp as
        the source crop. Models with ``cgf.pixel_references`` also fuse the references per pixel:
        ``reference_images`` ``N×R×3×H×W`` (or ``1×R×...``), ``reference_grids`` ``N×R×h×w×2`` (each
        reference warped to the driving pose, e.g. its mesh warp to the driving landmarks) and
        ``reference_mask`` ``N×R`` bool; without them (or in explicit mode) R = 0.
        Returns an :class:`~synergywarp.models.outputs.AnimateOutput` (with ``return_explicit`` its
        ``explicit_image`` = G(E) is set).
        """
        n = driving_keypoints.shape[0]
        volume, kp_source, image = source.volume, source.keypoints, source.image
        if volume.shape[0] != n:
            volume = volume.expand(n, *volume.shape[1:])
            kp_source = kp_source.expand(n, *kp_source.shape[1:])
            image = image.expand(n, *image.shape[1:]) if image is not None else None
        if not self.config.warp.dense_motion.prior_candidate:
            prior_grid = None
        warp = self.warping(volume, driving_keypoints, kp_source, prior_grid)
        explicit = warp.feature
        mode = fusion_mode or self.config.cgf.mode
        if self.rac is None or mode == "explicit":
            correction = None
            fused, confidence = self.fusion(explicit, explicit, warp.occlusion, mode="explicit")
        else:
            references = self.frame_tokens(source, references, mode)
            assert references is not None  # RAC is built and the mode is not explicit
            correction = self.rac(explicit, driving_keypoints, references)
            fused, confidence = self.fusion(explicit, explicit + correction, warp.occlusion, mode=mode)
        pixels = None
        if self.pixel_fusion is not None and mode != "explicit" and reference_images is not None \
                and reference_grids is not None and reference_images.shape[1] > 0:
            pixels = (reference_images, reference_grids, reference_mask)
        image_hr = source.image_hr
        if image_hr is not None and image_hr.shape[0] != n:
            image_hr = image_hr.expand(n, *image_hr.shape[1:])
        rendered, weights = self._render(fused, warp.flow, image, prior_grid, image_hr, output_size, pixels)
        explicit_image = None
        if return_explicit:
            explicit_image = (
                self._render(explicit, warp.flow, image, prior_grid, image_hr, output_size)[0]
                if correction is not None or pixels is not None else rendered
            )
        return AnimateOutput(
            image=rendered, explicit_feature=explicit, fused_feature=fused, confidence=confidence, flow=warp.flow,
            occlusion=warp.occlusion, masks=warp.masks, kp_source=kp_source, kp_driving=driving_keypoints,
            correction=correction, fusion_weights=weights, explicit_image=explicit_image,
        )

    def _render(self, feature: torch.Tensor, flow: torch.Tensor, source_image: torch.Tensor | None,
                prior_grid: torch.Tensor | None = None, source_hr: torch.Tensor | None = None,
                output_size: int | None = None,
                references: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(image ``N×3×S'×S'``, fusion weights ``N×(2+R)×S'×S'`` or None).

        Without ``decoder.image_skip``: G(feature). With it the decoder's RGB is blended with the source
        warped by the flow's depth-averaged (x, y) at the output size S' (``output_size`` or the
        decoder's): ``w·G_rgb + (1 − w)·warp(source)``; with a prior grid the warp is the prior at full
        resolution plus the upsampled difference flow − prior. With ``references`` (images, grids, mask)
        the warped references join as candidates (:class:`~synergywarp.models.fusion.CandidateFusion`)."""
        decoded = self.decoder(feature)
        if not self.config.decoder.image_skip:
            return decoded, None
        if source_image is None:
            raise ValueError("this model's decoder blends in the source image: encode_source must keep it")
        net_size = decoded.shape[-2:]
        size = (output_size, output_size) if output_size else tuple(net_size)
        planar = rearrange(flow[..., :2].float().mean(dim=1), "n h w t -> n t h w")  # n 2 h w

        def source_grid(at: tuple[int, ...]) -> torch.Tensor:
            if prior_grid is None:
                return rearrange(resize_grid(planar, at), "n t h w -> n h w t")
            prior = rearrange(prior_grid.float(), "n h w t -> n t h w")  # keep the prior's detail, upsample the rest
            low = resize_grid(prior, planar.shape[-2:])
            return rearrange(resize_grid(planar - low, at) + resize_grid(prior, at), "n t h w -> n h w t")

        source = source_hr if source_hr is not None else source_image
        warped = _sample(source, source_grid(size), size)
        rgb, weight = decoded[:, :3].float(), decoded[:, 3:4].float()
        if references is None or self.pixel_fusion is None:
            if size != tuple(net_size):  # upsample the blend's logit, as the reference fusion does
                rgb = _upsample(rgb, size)
                weight = torch.sigmoid(_upsample(torch.logit(weight.clamp(1e-6, 1 - 1e-6)), size))
            return (weight * rgb + (1.0 - weight) * warped).to(decoded.dtype), None
        images, grids, mask = references
        n, count = grids.shape[:2]
        images = images.expand(n, *images.shape[1:]) if images.shape[0] != n else images
        flat_images = rearrange(images.float(), "n r c h w -> (n r) c h w")
        flat_grids = rearrange(grids.float(), "n r h w t -> (n r) h w t")
        low_grids = rearrange(resize_grid(rearrange(flat_grids, "m h w t -> m t h w"), net_size),
                              "m t h w -> m h w t")
        source_low = source_grid(tuple(net_size))
        low_refs = rearrange(_sample(flat_images, low_grids, net_size), "(n r) c h w -> n r c h w", r=count)
        candidates = torch.cat([_sample(source_image, source_low, net_size)[:, None], low_refs], dim=1)
        stretch = torch.cat([grid_stretch(source_low)[:, None],
                             rearrange(grid_stretch(low_grids), "(n r) 1 h w -> n r 1 h w", r=count)], dim=1)
        logits = self.pixel_fusion.logits(decoded, candidates, stretch, mask)
        if size != tuple(net_size):
            logits, rgb = _upsample(logits, size), _upsample(rgb, size)
        weights = torch.softmax(logits, dim=1)
        hr_grids = rearrange(resize_grid(rearrange(flat_grids, "m h w t -> m t h w"), size), "m t h w -> m h w t")
        warped_refs = rearrange(_sample(flat_images, hr_grids, size), "(n r) c h w -> n r c h w", r=count)
        image = weights[:, :1] * rgb + weights[:, 1:2] * warped + (weights[:, 2:, None] * warped_refs).sum(dim=1)
        return image.to(decoded.dtype), weights

    def forward(
        self,
        source: torch.Tensor,
        driving: torch.Tensor,
        references: torch.Tensor | None = None,
        reference_mask: torch.Tensor | None = None,
        *,
        source_keypoints: torch.Tensor | None = None,
        driving_keypoints: torch.Tensor | None = None,
        reference_keypoints: torch.Tensor | None = None,
        fusion_mode: str | None = None,
        return_explicit: bool = False,
        prior_grid: torch.Tensor | None = None,
        source_hr: torch.Tensor | None = None,
        references_hr: torch.Tensor | None = None,
        reference_grids: torch.Tensor | None = None,
        output_size: int | None = None,
    ) -> AnimateOutput:
        """Training path: source ``B×3×S×S``, driving ``B×3×S×S``, references ``B×R×3×S×S`` (optional).

        ``source_hr``/``references_hr`` (the same crops at a higher resolution), ``reference_grids``
        ``B×R×h×w×2`` and ``output_size``: see :meth:`animate` (image-skip and pixel-reference models).

        For ``motion: learned`` keypoints are predicted (driving: source canonical keypoints under the
        driving's pose and expression) and the motion parameters are returned for the priors
        (``source_motion``, ``driving_motion``); for ``motion: tracked`` all keypoints must be given.
        """
        state = self.encode_source(source, source_keypoints, image_hr=source_hr)
        driving_keypoints, driving_motion = self.motion_source.driving(state, driving, driving_keypoints)
        tokens = None
        if self.rac is not None and (fusion_mode or self.config.cgf.mode) != "explicit":
            tokens = self.encode_references(state, references, reference_keypoints, reference_mask)
        pixel_images = references_hr if references_hr is not None else references
        out = self.animate(state, driving_keypoints, tokens, fusion_mode=fusion_mode,
                           return_explicit=return_explicit, prior_grid=prior_grid, output_size=output_size,
                           reference_images=pixel_images, reference_grids=reference_grids,
                           reference_mask=reference_mask)
        out.source_motion, out.driving_motion = state.motion, driving_motion
        return out


def _upsample(images: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """``N×C×h×w`` → ``N×C×size`` (bilinear)."""
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False)


def _sample(images: torch.Tensor, grid: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """``images`` ``N×C×H×W`` (resized to ``size`` first when another size: antialiased when shrinking)
    sampled at a backward grid ``N×size×2`` (bilinear, border)."""
    images = images.float()
    if tuple(images.shape[-2:]) != tuple(size):
        images = F.interpolate(images, size=size, mode="bilinear", align_corners=False,
                               antialias=images.shape[-1] > size[-1])
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _differing_fields(stored: dict, requested: dict, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted key, stored value, requested value) for every config field that differs."""
    out: list[tuple[str, object, object]] = []
    for key in sorted(stored.keys() | requested.keys()):
        a, b = stored.get(key), requested.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differing_fields(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append((f"{prefix}{key}", a, b))
    return out
