"""Registered model configurations and the factory (``create_model``, ``list_models``)."""

from __future__ import annotations

import copy
from collections.abc import Callable

from synergywarp.errors import ConfigError
from synergywarp.models.config import (
    AppearanceConfig,
    CGFConfig,
    DecoderConfig,
    DenseMotionConfig,
    DiscriminatorConfig,
    ModelConfig,
    MotionEncoderConfig,
    RACConfig,
    WarpConfig,
)
from synergywarp.tracked_keypoints import NUM_TRACKED_KEYPOINTS

_REGISTRY: dict[str, Callable[[], ModelConfig]] = {}


def register(name: str):
    def wrap(fn: Callable[[], ModelConfig]):
        _REGISTRY[name] = fn
        return fn

    return wrap


@register("lp256")
def lp256() -> ModelConfig:
    """Paper scale, LivePortrait-compatible: 256² in, 512² out, K = 21, volume 32×16×64×64."""
    return ModelConfig(name="lp256", image_size=256, motion="learned", num_kp=21, grid_align_quirk=True)


@register("small")
def small() -> ModelConfig:
    """CPU training and the demo: 128² in and out, volume 16×8×32×32, K = 15."""
    return ModelConfig(
        name="small",
        image_size=128,
        motion="learned",
        num_kp=15,
        appearance=AppearanceConfig(
            block_expansion=32, max_features=128, volume_channels=16, volume_depth=8, num_resblocks=3
        ),
        motion_encoder=MotionEncoderConfig(depths=[2, 2, 4, 2], dims=[32, 64, 128, 256]),
        warp=WarpConfig(
            out_channels=48,
            dense_motion=DenseMotionConfig(
                block_expansion=8, max_features=64, num_blocks=3, compress=2, mask_kernel=3, occlusion_kernel=5
            ),
        ),
        rac=RACConfig(dim=64, heads=4, attention_grid=16, keypoint_channels=32),
        cgf=CGFConfig(hidden=16),
        decoder=DecoderConfig(in_channels=48, out_channels=16, num_middle=2, spade_hidden=16, upscale=1),
        discriminator=DiscriminatorConfig(channels=32, num_layers=4, max_channels=256),
    )


@register("tiny")
def tiny() -> ModelConfig:
    """Unit tests and ablation smoke runs: 64² in and out, volume 8×4×16×16, K = 10, < 1 M parameters."""
    return ModelConfig(
        name="tiny",
        image_size=64,
        motion="learned",
        num_kp=10,
        appearance=AppearanceConfig(
            block_expansion=8, max_features=32, volume_channels=8, volume_depth=4, num_resblocks=2
        ),
        motion_encoder=MotionEncoderConfig(depths=[1, 1, 1, 1], dims=[8, 16, 24, 32]),
        warp=WarpConfig(
            out_channels=16,
            dense_motion=DenseMotionConfig(
                block_expansion=8, max_features=32, num_blocks=2, compress=2, mask_kernel=3, occlusion_kernel=5
            ),
        ),
        rac=RACConfig(dim=32, heads=4, attention_grid=8, keypoint_channels=16, ffn_mult=2),
        cgf=CGFConfig(hidden=8),
        decoder=DecoderConfig(in_channels=16, out_channels=8, num_middle=1, spade_hidden=16, upscale=1),
        discriminator=DiscriminatorConfig(channels=16, num_layers=3, max_channels=64),
    )


def _tracked(base: Callable[[], ModelConfig]) -> Callable[[], ModelConfig]:
    def build() -> ModelConfig:
        cfg = base()
        cfg.name = f"{cfg.name}_tracked"
        cfg.motion = "tracked"
        cfg.num_kp = NUM_TRACKED_KEYPOINTS
        cfg.warp.dense_motion.compress = 1  # K = 32 candidate motions: keep the hourglass input lean
        return cfg

    summary = (base.__doc__ or "").split(":")[0]
    build.__doc__ = f"{summary} with keypoints from the 3D face tracker (motion: tracked, K = 32)."
    return build


register("tiny_tracked")(_tracked(tiny))
register("small_tracked")(_tracked(small))


def _mesh(base: Callable[[], ModelConfig]) -> Callable[[], ModelConfig]:
    def build() -> ModelConfig:
        cfg = _tracked(base)()
        cfg.name = f"{base().name}_tracked_mesh"
        cfg.warp.dense_motion.prior_candidate = True
        cfg.decoder.image_skip = True
        return cfg

    summary = (base.__doc__ or "").split(":")[0]
    build.__doc__ = (f"{summary}, tracked keypoints, the face-mesh warp as one more candidate "
                     "motion and a full-resolution image skip (the demo model's architecture).")
    return build


register("tiny_tracked_mesh")(_mesh(tiny))
register("small_tracked_mesh")(_mesh(small))


def _head(base: Callable[[], ModelConfig]) -> Callable[[], ModelConfig]:
    def build() -> ModelConfig:
        cfg = _mesh(base)()
        cfg.name = f"{base().name}_tracked_head"
        cfg.warp.dense_motion.prior_kind = "head"
        cfg.cgf.pixel_references = True
        return cfg

    summary = (base.__doc__ or "").split(":")[0]
    build.__doc__ = (f"{summary}, tracked keypoints, the whole-head warp as one more candidate motion, "
                     "output at any size by the image skip, and references warped to the driving pose fused "
                     "per pixel (demo model v2).")
    return build


register("tiny_tracked_head")(_head(tiny))
register("small_tracked_head")(_head(small))


def list_models() -> list[str]:
    """Names of the registered configurations."""
    return sorted(_REGISTRY)


def get_config(name: str) -> ModelConfig:
    """A fresh copy of the registered config ``name`` (``synergywarp_`` prefix optional)."""
    key = name.removeprefix("synergywarp_")
    if key not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; registered: {', '.join(list_models())}")
    return copy.deepcopy(_REGISTRY[key]()).validate()


def create_model(name_or_config: str | ModelConfig | dict, **overrides):
    """Build a :class:`SynergyWarpNet` from a registered name, a config or a config dict.

    ``overrides`` replace top-level config fields (e.g. ``motion="tracked"``)."""
    from synergywarp.models.network import SynergyWarpNet

    if isinstance(name_or_config, str):
        cfg = get_config(name_or_config)
    elif isinstance(name_or_config, dict):
        cfg = ModelConfig.from_dict(name_or_config)
    else:
        cfg = copy.deepcopy(name_or_config)
    if overrides:
        cfg = ModelConfig.from_dict({**cfg.to_dict(), **overrides})
    return SynergyWarpNet(cfg.validate())
