"""Training: experiment configs, the trainer (phases, EMA, AMP, exact resume), DDP through torchrun.

The names below are imported on first use (the CLI parser imports this package without torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synergywarp._lazy import lazy_exports

if TYPE_CHECKING:
    from synergywarp.train.config import ExperimentConfig, config_from_dict, load_config
    from synergywarp.train.run import train_from_config
    from synergywarp.train.trainer import Trainer, TrainingDivergedError, TrainResult

__getattr__, __all__ = lazy_exports(__name__, {
    ".config": ("ExperimentConfig", "config_from_dict", "load_config"),
    ".run": ("train_from_config",),
    ".trainer": ("Trainer", "TrainingDivergedError", "TrainResult"),
})
