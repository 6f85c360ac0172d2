"""Experiment configuration: ``dataset`` / ``model`` / ``train`` / ``eval`` sections, loaded strictly from YAML.

An unknown key or a value of the wrong type raises :class:`ConfigError` naming the dotted key
(``train.phases[1].fusion_mode``). The ``model`` section is either a registered name (``model: tiny``),
a registered name with overrides (``model: {base: tiny, overrides: {rac: {dim: 16}}}``) or a full
:class:`ModelConfig` mapping.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from synergywarp.data.augment import AugmentConfig
from synergywarp.errors import ConfigError
from synergywarp.losses import LossWeights
from synergywarp.models.config import ModelConfig, build_dataclass
from synergywarp.models.motion_source import motion_source_type
from synergywarp.models.registry import get_config

Precision = Literal["fp32", "bf16", "fp16"]
FusionModeName = Literal["confidence", "add", "explicit"]
FREEZABLE = ("appearance_encoder", "motion_encoder", "warping", "rac", "fusion", "decoder", "pixel_fusion")


@dataclass
class MixSection:
    """One more dataset folder mixed into training (same layout as ``dataset.root``)."""

    root: str = ""
    repeats: int = 1  # items per clip and epoch from this folder


@dataclass
class DatasetSection:
    """Where the clips are and how items are drawn (docs/DESIGN.md#training, sampling)."""

    root: str | None = None  # DIR with train/ and test/; ``--data`` overrides
    split: str = "train"
    num_references: int = 2  # R: references per item (the largest R when ``random_references``)
    random_references: bool = True  # draw R from {0..num_references} per item
    reference_choice: Literal["pose_diverse", "random", "even"] = "pose_diverse"
    repeats: int = 1  # items per clip and epoch
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # flip + colour (same for all frames)
    cache_frames: bool = False  # keep decoded clips in memory (per worker)
    num_workers: int = 0  # DataLoader workers per process
    output_size: int | None = None  # image-skip models: render and score at this size (null: the model's own)
    hidden_fraction: float = 0.0  # share of items whose source hides what driving and references show
    mix: list[MixSection] = field(default_factory=list)  # more dataset folders trained on together


@dataclass
class PhaseSection:
    """One training phase, active until ``until_step`` (exclusive; null = to the end)."""

    until_step: int | None = None
    rac: bool = True  # RAC/CGF on; False trains the explicit path only
    references: int | None = None  # R for this phase (null: dataset.num_references); 0 = no references
    fusion_mode: FusionModeName | None = None  # null: the model's cgf.mode ("explicit" when rac is False)
    freeze: list[str] = field(default_factory=list)  # extra frozen modules in this phase


@dataclass
class TrainSection:
    """Optimisation, schedule, checkpoints and logging."""

    seed: int = 0
    batch_size: int = 8  # GLOBAL batch; each of N processes gets batch_size / N
    max_steps: int = 1000
    max_minutes: float = 0.0  # wall-clock budget of one invocation (0: off); stops early with a checkpoint
    lr: float = 2e-4
    lr_discriminator: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    lr_milestones: list[int] = field(default_factory=list)  # MultiStepLR milestones (steps)
    lr_gamma: float = 0.1
    grad_clip: float = 1.0  # max global grad norm (0: off)
    ema_decay: float = 0.999
    precision: Precision = "fp32"
    discriminator: bool = True  # GAN + feature matching on/off
    loss_weights: dict[str, float] = field(default_factory=dict)  # LossWeights fields; others keep defaults
    perceptual_scales: list[float] = field(default_factory=lambda: [1.0, 0.5, 0.25, 0.125])  # VGG pyramid levels
    lr_multipliers: dict[str, float] = field(default_factory=dict)  # top-level module → × lr (e.g. a new head)
    phases: list[PhaseSection] = field(default_factory=list)  # empty: one phase with RAC on
    freeze: list[str] = field(default_factory=list)  # modules frozen for the whole run (e.g. motion_encoder)
    init_from: str | None = None  # model checkpoint to start from (e.g. imported LivePortrait weights)
    init_extends: bool = False  # init_from is a smaller architecture: load its tensors, keep new modules' init
    log_every: int = 10
    checkpoint_every: int = 500
    keep_last: int = 3
    sample_every: int = 500  # 0: off
    num_samples: int = 4
    check_replicas_every: int = 0  # DDP debug: compare weights across ranks every N steps (0: off)
    find_unused_parameters: bool = False
    progress: bool = True  # tqdm progress bar on rank 0


@dataclass
class EvalSection:
    """Periodic held-out L1 (the full protocol is ``synergywarp eval``)."""

    every: int = 0  # steps between held-out evaluations (0: off)
    split: str = "test"
    max_items: int = 16
    references: int = 2


@dataclass
class ExperimentConfig:
    """A whole experiment; ``model`` holds the resolved :class:`ModelConfig`."""

    dataset: DatasetSection = field(default_factory=DatasetSection)
    model: ModelConfig = field(default_factory=lambda: get_config("tiny"))
    train: TrainSection = field(default_factory=TrainSection)
    eval: EvalSection = field(default_factory=EvalSection)

    def loss_weights(self) -> LossWeights:
        weights = LossWeights.from_mapping(self.train.loss_weights, "train.loss_weights")
        if not self.train.discriminator:
            weights = dataclasses.replace(weights, gan=0.0, feature_matching=0.0)
        if not motion_source_type(self.model).has_encoder or "motion_encoder" in self.train.freeze:
            weights = weights.without_motion_encoder_terms()
        return weights

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": dataclasses.asdict(self.dataset),
            "model": self.model.to_dict(),
            "train": dataclasses.asdict(self.train),
            "eval": dataclasses.asdict(self.eval),
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _deep_merge(base: dict, overrides: dict, path: str) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if key not in merged:
            raise ConfigError(f"unknown config key {path}.{key} (valid: {', '.join(sorted(merged))})")
        if isinstance(value, dict) and isinstance(merged[key], dict):
            merged[key] = _deep_merge(merged[key], value, f"{path}.{key}")
        else:
            merged[key] = value
    return merged


def resolve_model_section(data: Any) -> ModelConfig:
    """``tiny`` | ``{base: tiny, overrides: {...}}`` | a full ModelConfig mapping -> ModelConfig."""
    if isinstance(data, str):
        return get_config(data)
    if not isinstance(data, dict):
        raise ConfigError(f"model: expected a registered name or a mapping, got {type(data).__name__}")
    if "base" in data:
        extra = set(data) - {"base", "overrides"}
        if extra:
            raise ConfigError(
                f"unknown config key model.{sorted(extra)[0]} (with model.base only 'overrides' is allowed)"
            )
        if not isinstance(data["base"], str):
            raise ConfigError(f"model.base: expected a registered model name, got {data['base']!r}")
        overrides = data.get("overrides") or {}
        if not isinstance(overrides, dict):
            raise ConfigError("model.overrides: expected a mapping")
        merged = _deep_merge(get_config(data["base"]).to_dict(), overrides, "model")
        return ModelConfig.from_dict(merged)
    return ModelConfig.from_dict(data)


def _check_phases(train: TrainSection) -> None:
    previous = 0
    for i, phase in enumerate(train.phases):
        key = f"train.phases[{i}]"
        last = i == len(train.phases) - 1
        if phase.until_step is None and not last:
            raise ConfigError(f"{key}.until_step: only the last phase may omit until_step")
        if phase.until_step is not None:
            if phase.until_step <= previous:
                raise ConfigError(f"{key}.until_step: {phase.until_step} must be greater than {previous}")
            previous = phase.until_step
        if phase.references is not None and phase.references < 0:
            raise ConfigError(f"{key}.references: must be ≥ 0")
        for j, name in enumerate(phase.freeze):
            if name not in FREEZABLE:
                raise ConfigError(f"{key}.freeze[{j}]: {name!r} is not one of {list(FREEZABLE)}")


def validate(cfg: ExperimentConfig) -> ExperimentConfig:
    """Range checks that the types alone cannot express; errors name the key."""
    t = cfg.train
    for name in ("lr", "lr_discriminator", "lr_gamma", "grad_clip", "ema_decay", "max_minutes"):
        if not math.isfinite(getattr(t, name)):
            raise ConfigError(f"train.{name}: must be a finite number, got {getattr(t, name)}")
    positive = {"batch_size": t.batch_size, "max_steps": t.max_steps, "log_every": t.log_every,
                "checkpoint_every": t.checkpoint_every, "keep_last": t.keep_last}
    for name, value in positive.items():
        if value < 1:
            raise ConfigError(f"train.{name}: must be ≥ 1, got {value}")
    for name in ("lr", "lr_discriminator"):
        if getattr(t, name) <= 0:
            raise ConfigError(f"train.{name}: must be > 0")
    if t.max_minutes < 0:
        raise ConfigError(f"train.max_minutes: must be ≥ 0 (0: no time budget), got {t.max_minutes}")
    if len(t.betas) != 2 or not all(0 <= b < 1 for b in t.betas):
        raise ConfigError(f"train.betas: expected two values in [0, 1), got {t.betas}")
    if not 0 <= t.ema_decay < 1:
        raise ConfigError(f"train.ema_decay: must be in [0, 1), got {t.ema_decay}")
    if t.grad_clip < 0:
        raise ConfigError("train.grad_clip: must be ≥ 0")
    for name, factor in t.lr_multipliers.items():
        if name not in FREEZABLE or not factor > 0:
            raise ConfigError(f"train.lr_multipliers.{name}: expected a module of {list(FREEZABLE)} "
                              f"and a factor > 0, got {factor}")
    if not t.perceptual_scales or not all(0 < v <= 1 for v in t.perceptual_scales):
        raise ConfigError(f"train.perceptual_scales: expected scales in (0, 1], got {t.perceptual_scales}")
    if sorted(t.lr_milestones) != t.lr_milestones:
        raise ConfigError("train.lr_milestones: must be increasing")
    for j, name in enumerate(t.freeze):
        if name not in FREEZABLE:
            raise ConfigError(f"train.freeze[{j}]: {name!r} is not one of {list(FREEZABLE)}")
    if "motion_encoder" in t.freeze and not motion_source_type(cfg.model).has_encoder:
        raise ConfigError(f"train.freeze: a motion: {cfg.model.motion} model has no motion_encoder to freeze")
    _check_phases(t)
    if cfg.dataset.num_references < 0:
        raise ConfigError("dataset.num_references: must be ≥ 0")
    if cfg.dataset.num_workers < 0:
        raise ConfigError("dataset.num_workers: must be ≥ 0")
    if cfg.dataset.repeats < 1:
        raise ConfigError("dataset.repeats: must be ≥ 1")
    if not 0.0 <= cfg.dataset.hidden_fraction <= 1.0:
        raise ConfigError(f"dataset.hidden_fraction: must be in [0, 1], got {cfg.dataset.hidden_fraction}")
    if cfg.dataset.output_size is not None and (cfg.dataset.output_size < 8 or not cfg.model.decoder.image_skip):
        raise ConfigError("dataset.output_size: needs a model with decoder.image_skip and a size ≥ 8 "
                          f"(got {cfg.dataset.output_size}, image_skip {cfg.model.decoder.image_skip})")
    for j, mixed in enumerate(cfg.dataset.mix):
        if not mixed.root or mixed.repeats < 1:
            raise ConfigError(f"dataset.mix[{j}]: needs a root and repeats ≥ 1")
    try:
        cfg.dataset.augment.validate()
    except ConfigError as err:
        raise ConfigError(f"dataset.augment: {err}") from None
    cfg.loss_weights()  # unknown loss names fail here, naming train.loss_weights.<key>
    return cfg


def config_from_dict(data: Any, origin: str = "config") -> ExperimentConfig:
    """Strictly build an :class:`ExperimentConfig` from a mapping (the parsed YAML)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping with dataset / model / train / eval sections")
    sections = {"dataset", "model", "train", "eval"}
    for key in data:
        if key not in sections:
            raise ConfigError(f"unknown config key {key} in {origin} (valid: {', '.join(sorted(sections))})")
    return validate(
        ExperimentConfig(
            dataset=build_dataclass(DatasetSection, data.get("dataset") or {}, "dataset"),
            model=resolve_model_section(data.get("model", "tiny")),
            train=build_dataclass(TrainSection, data.get("train") or {}, "train"),
            eval=build_dataclass(EvalSection, data.get("eval") or {}, "eval"),
        )
    )


def load_config(path: str | Path) -> ExperimentConfig:
    """Read an experiment YAML; ConfigError naming the file or the key on any problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else "syntax error"
        raise ConfigError(f"{path}: not valid YAML ({first})") from None
    try:
        return config_from_dict(data, str(path))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
