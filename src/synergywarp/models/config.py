"""Typed model configuration: nested dataclasses with a strict dict/YAML round trip.

Architecture hyper-parameters only (user options live with the pipelines). A config is saved in
every checkpoint, so a checkpoint always rebuilds its own model.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from synergywarp.errors import ConfigError

MotionKind = Literal["learned", "tracked"]  # strategies: synergywarp.models.motion_source
FusionMode = Literal["confidence", "add", "explicit"]
PriorKind = Literal["mesh", "head"]


@dataclass
class AppearanceConfig:
    """Appearance encoder F (image → ``C×D×H/4×W/4`` volume)."""

    image_channels: int = 3
    block_expansion: int = 64  # width of the stem; block i is min(max_features, be·2^i) wide
    num_down_blocks: int = 2  # ×½ blocks; the decoder's two ×2 upsamples assume 2
    max_features: int = 512  # must equal volume_channels · volume_depth
    volume_channels: int = 32  # C of the feature volume
    volume_depth: int = 16  # D of the feature volume
    num_resblocks: int = 6

    def width(self, i: int) -> int:
        return min(self.max_features, self.block_expansion * 2**i)


@dataclass
class MotionEncoderConfig:
    """Motion encoder M: ConvNeXt-V2 backbone with keypoint/pose/expression heads (``motion: learned``)."""

    depths: list[int] = field(default_factory=lambda: [3, 3, 9, 3])
    dims: list[int] = field(default_factory=lambda: [96, 192, 384, 768])
    num_bins: int = 66  # head-pose bins of 3° each


@dataclass
class DenseMotionConfig:
    """Dense motion network inside DOFW: sparse motions + heatmaps → 3D hourglass → masks, flow, occlusion."""

    block_expansion: int = 32
    max_features: int = 1024
    num_blocks: int = 5
    compress: int = 4  # channels of the compressed volume the hourglass sees
    mask_kernel: int = 7  # kernel of the 3D conv predicting the K+1 motion masks
    occlusion_kernel: int = 7  # kernel of the 2D conv predicting the occlusion map
    heatmap_variance: float = 0.01
    prior_candidate: bool = False  # one more candidate motion: a caller-given 2D backward grid (mesh warp; tracked)
    prior_kind: PriorKind = "mesh"  # which geometric warp callers build that grid with (synergywarp.face.prior)
    out_channels: int | None = None  # width of the hourglass's last conv (None: block_expansion + its input's)


@dataclass
class WarpConfig:
    """DOFW: dense 3D flow warping of the appearance volume, projection P_w to a 2D feature map."""

    out_channels: int = 256  # width of the warped 2D feature E
    use_occlusion: bool = True
    dense_motion: DenseMotionConfig = field(default_factory=DenseMotionConfig)


@dataclass
class RACConfig:
    """Reference-augmented correction: cross-attention from driving/explicit tokens to reference tokens."""

    enabled: bool = True
    dim: int = 256  # attention width d
    heads: int = 8
    layers: int = 1
    attention_grid: int = 32  # tokens on an h×w grid, h = w = attention_grid
    gaussian_depth: int = 4  # depth samples of the Gaussian keypoint encoding lattice
    gaussian_variance: float = 0.01
    keypoint_channels: int = 64  # width of the Gaussian keypoint encoder's output
    ffn_mult: int = 2
    source_as_key: bool = True  # the source is one more key set


@dataclass
class CGFConfig:
    """Confidence-guided fusion: F = C·E + (1 − C)·(E + A)."""

    mode: FusionMode = "confidence"  # "add": F = E + A; "explicit": F = E (C ≡ 1, RAC unused)
    hidden: int = 32
    groups: int = 1  # 1: one confidence per pixel; >1: one per channel group
    init_bias: float = 2.0  # sigmoid(2) ≈ 0.88: trust the explicit path at first
    pixel_references: bool = False  # per-pixel fusion of decoder, warped source and warped references (image skip)
    pixel_hidden: int = 16  # width of the per-candidate scoring head
    reference_init: float = -6.0  # logit offset of references at initialisation (start from the source alone)
    # the geometric warp that moves each reference to the driving pose for the per-pixel fusion
    # (synergywarp.face.prior): "mesh" stretches hair and background with the face (smudges around a head
    # that shrinks or turns), "head" moves them rigidly with it and keeps the background (needs the
    # reference's person mask)
    reference_warp: PriorKind = "mesh"


@dataclass
class DecoderConfig:
    """SPADE decoder G: fused feature → image (two ×2 upsamples, optional ×2 pixel shuffle)."""

    in_channels: int = 256  # must equal warp.out_channels
    out_channels: int = 64  # width of the last SPADE block
    num_middle: int = 6
    spade_hidden: int = 128
    upscale: int = 2  # 2: ×2 pixel shuffle at the end (LivePortrait, 512² out); 1: plain RGB conv (no others)
    image_skip: bool = False  # blend the RGB with the source image warped by the predicted flow (4th channel)


@dataclass
class DiscriminatorConfig:
    """PatchGAN discriminator (spectral norm) for adversarial training."""

    channels: int = 64
    num_layers: int = 4
    max_channels: int = 512
    num_scales: int = 1


@dataclass
class ModelConfig:
    """The whole SynergyWarpNet."""

    name: str = "custom"
    image_size: int = 256  # input resolution of source, driving and references
    motion: MotionKind = "learned"
    num_kp: int = 21
    grid_align_quirk: bool = False  # LivePortrait's endpoint grid sampled with align_corners=False
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)
    motion_encoder: MotionEncoderConfig = field(default_factory=MotionEncoderConfig)
    warp: WarpConfig = field(default_factory=WarpConfig)
    rac: RACConfig = field(default_factory=RACConfig)
    cgf: CGFConfig = field(default_factory=CGFConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    @property
    def feature_size(self) -> int:
        """Side of the 2D feature grid (and of the volume): image_size / 2^num_down_blocks."""
        return self.image_size // 2**self.appearance.num_down_blocks

    @property
    def output_size(self) -> int:
        return self.feature_size * 4 * self.decoder.upscale

    def validate(self) -> ModelConfig:
        """Check cross-field constraints; raise :class:`ConfigError` naming the field."""
        from synergywarp.tracked_keypoints import NUM_TRACKED_KEYPOINTS

        a = self.appearance
        checks = [
            (a.max_features == a.volume_channels * a.volume_depth,
             "appearance.max_features must equal volume_channels * volume_depth"),
            (self.image_size % 2**a.num_down_blocks == 0, "image_size must be divisible by 2^num_down_blocks"),
            (self.decoder.in_channels == self.warp.out_channels, "decoder.in_channels must equal warp.out_channels"),
            (self.rac.heads > 0 and self.rac.dim % self.rac.heads == 0,
             "rac.dim must be divisible by rac.heads (> 0)"),
            (self.cgf.groups > 0 and self.warp.out_channels % self.cgf.groups == 0,
             "cgf.groups must divide warp.out_channels (> 0)"),
            (self.num_kp > 0, "num_kp must be positive"),
            (not self.cgf.pixel_references or self.decoder.image_skip,
             "cgf.pixel_references needs decoder.image_skip (the decoder's blend channel)"),
            # the prior grid and the references' warps are built from tracked FaceMesh landmarks
            (not self.warp.dense_motion.prior_candidate or self.motion == "tracked",
             f"warp.dense_motion.prior_candidate needs motion: tracked (its grid is a warp of the tracked face "
             f"landmarks), got motion: {self.motion}"),
            (not self.cgf.pixel_references or self.motion == "tracked",
             f"cgf.pixel_references needs motion: tracked (references are warped along the tracked face "
             f"landmarks), got motion: {self.motion}"),
            (self.decoder.upscale in (1, 2),
             f"decoder.upscale must be 1 or 2 (only the ×2 pixel shuffle is built), got {self.decoder.upscale}"),
            (self.motion != "tracked" or self.num_kp == NUM_TRACKED_KEYPOINTS,
             f"num_kp must be {NUM_TRACKED_KEYPOINTS} for motion: tracked"),
            (0 < self.rac.attention_grid <= self.feature_size,
             "rac.attention_grid must be positive and not exceed the feature size"),
            (len(self.motion_encoder.depths) == len(self.motion_encoder.dims) == 4,
             "motion_encoder.depths and dims must have 4 entries"),
            (self.warp.dense_motion.out_channels is None or self.warp.dense_motion.out_channels > 0,
             f"warp.dense_motion.out_channels must be positive (or null for the default width), "
             f"got {self.warp.dense_motion.out_channels}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self

    # ---------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return _build(cls, data, "model").validate()

    @classmethod
    def from_yaml(cls, text: str) -> ModelConfig:
        return cls.from_dict(yaml.safe_load(text) or {})


def _check_value(value: Any, annotation: Any, path: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        if value not in typing.get_args(annotation):
            raise ConfigError(f"{path}: {value!r} is not one of {list(typing.get_args(annotation))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__}")
        (item_type,) = typing.get_args(annotation)[:1]
        return [_check_value(v, item_type, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return _check_value(value, option, path)
            except ConfigError:
                continue
        raise ConfigError(f"{path}: {value!r} has the wrong type")
    if annotation is type(None):
        if value is not None:
            raise ConfigError(f"{path}: expected null")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true/false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return _build(annotation, value, path)
    return value


def _build(cls: type, data: Any, path: str) -> Any:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types by their dotted path."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise ConfigError(f"unknown config key {path}.{key} (valid: {', '.join(sorted(names))})")
    kwargs = {k: _check_value(v, hints[k], f"{path}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def build_dataclass(cls: type, data: Any, path: str) -> Any:
    """Public strict builder for any config dataclass (used by the training configs too)."""
    return _build(cls, data, path)
