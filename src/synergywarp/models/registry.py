"""Registered model configurations and the factory (``create_model``, ``list_models``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from synergywarp.errors import ConfigError
from synergywarp.models.config import ModelConfig
from synergywarp.tracked_keypoints import NUM_TRACKED_KEYPOINTS

ConfigBuilder = Callable[[], ModelConfig]

_REGISTRY: dict[str, ConfigBuilder] = {}


def register(name: str) -> Callable[[ConfigBuilder], ConfigBuilder]:
    """Decorator: ``get_config(name)`` builds its config with the decorated function."""

    def wrap(fn: ConfigBuilder) -> ConfigBuilder:
        _REGISTRY[name] = fn
        return fn

    return wrap


@register("lp256")
def lp256() -> ModelConfig:
    """Paper scale, LivePortrait-compatible: 256² in, 512² out, K = 21, volume 32×16×64×64."""
    return ModelConfig(name="lp256", image_size=256, motion="learned", num_kp=21, grid_align_quirk=True)


#: The CPU-sized models side by side: config field → (small, tiny). Fields not named keep the
#: ModelConfig defaults; decoder.in_channels must equal warp.out_channels.
_CPU_SIZES: dict[str, tuple[Any, Any]] = {
    "image_size": (128, 64),
    "motion": ("learned", "learned"),
    "num_kp": (15, 10),
    "appearance.block_expansion": (32, 8),
    "appearance.max_features": (128, 32),
    "appearance.volume_channels": (16, 8),
    "appearance.volume_depth": (8, 4),
    "appearance.num_resblocks": (3, 2),
    "motion_encoder.depths": ([2, 2, 4, 2], [1, 1, 1, 1]),
    "motion_encoder.dims": ([32, 64, 128, 256], [8, 16, 24, 32]),
    "warp.out_channels": (48, 16),
    "warp.dense_motion.block_expansion": (8, 8),
    "warp.dense_motion.max_features": (64, 32),
    "warp.dense_motion.num_blocks": (3, 2),
    "warp.dense_motion.compress": (2, 2),
    "warp.dense_motion.mask_kernel": (3, 3),
    "warp.dense_motion.occlusion_kernel": (5, 5),
    "rac.dim": (64, 32),
    "rac.heads": (4, 4),
    "rac.attention_grid": (16, 8),
    "rac.keypoint_channels": (32, 16),
    "rac.ffn_mult": (2, 2),
    "cgf.hidden": (16, 8),
    "decoder.in_channels": (48, 16),
    "decoder.out_channels": (16, 8),
    "decoder.num_middle": (2, 1),
    "decoder.spade_hidden": (16, 16),
    "decoder.upscale": (1, 1),
    "discriminator.channels": (32, 16),
    "discriminator.num_layers": (4, 3),
    "discriminator.max_channels": (256, 64),
}
_CPU_SIZED = ("small", "tiny")  # the columns of _CPU_SIZES


def _cpu_sized(name: str) -> ModelConfig:
    """The column ``name`` of :data:`_CPU_SIZES` as a config (strictly checked by ``from_dict``)."""
    column = _CPU_SIZED.index(name)
    tree: dict[str, Any] = {"name": name}
    for path, values in _CPU_SIZES.items():
        *parents, leaf = path.split(".")
        node = tree
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = values[column]
    return ModelConfig.from_dict(tree)


@register("small")
def small() -> ModelConfig:
    """CPU training and the demo: 128² in and out, volume 16×8×32×32, K = 15."""
    return _cpu_sized("small")


@register("tiny")
def tiny() -> ModelConfig:
    """Unit tests and ablation smoke runs: 64² in and out, volume 8×4×16×16, K = 10, < 1 M parameters."""
    return _cpu_sized("tiny")


def _tracked(cfg: ModelConfig) -> None:
    """Keypoints from the 3D face tracker instead of the learned motion encoder."""
    cfg.motion = "tracked"
    cfg.num_kp = NUM_TRACKED_KEYPOINTS
    cfg.warp.dense_motion.compress = 1  # K = 32 candidate motions: keep the hourglass input lean


def _mesh(cfg: ModelConfig) -> None:
    """:func:`_tracked`, the face-mesh warp as one more candidate motion, and the image skip."""
    _tracked(cfg)
    cfg.warp.dense_motion.prior_candidate = True
    cfg.decoder.image_skip = True


def _head(cfg: ModelConfig) -> None:
    """:func:`_mesh` with the whole-head warp, and references fused per pixel."""
    _mesh(cfg)
    cfg.warp.dense_motion.prior_kind = "head"
    cfg.cgf.pixel_references = True


#: name suffix → (the change to the base config, the docstring; {summary}: the base's, up to its colon)
_VARIANTS: dict[str, tuple[Callable[[ModelConfig], None], str]] = {
    "tracked": (_tracked, "{summary} with keypoints from the 3D face tracker (motion: tracked, K = 32)."),
    "tracked_mesh": (_mesh, "{summary}, tracked keypoints, the face-mesh warp as one more candidate motion and a "
                     "full-resolution image skip (the demo model's architecture)."),
    "tracked_head": (_head, "{summary}, tracked keypoints, the whole-head warp as one more candidate motion, output "
                     "at any size by the image skip, and references warped to the driving pose fused per pixel "
                     "(demo model v2)."),
}


def _variant(base: ConfigBuilder, suffix: str, change: Callable[[ModelConfig], None], doc: str) -> ConfigBuilder:
    """A builder of ``base``'s config named ``<base name>_<suffix>`` and changed by ``change``."""

    def build() -> ModelConfig:
        cfg = base()
        cfg.name = f"{cfg.name}_{suffix}"
        change(cfg)
        return cfg

    build.__doc__ = doc.format(summary=(base.__doc__ or "").split(":")[0])
    return build


for _suffix, (_change, _doc) in _VARIANTS.items():
    for _base in (tiny, small):
        register(f"{_base().name}_{_suffix}")(_variant(_base, _suffix, _change, _doc))


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
