"""Training: experiment configs, the trainer (phases, EMA, AMP, exact resume), DDP through torchrun.

The names below are imported on first use (the CLI parser imports this package without torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synergywarp._lazy import lazy_attributes

if TYPE_CHECKING:
    from synergywarp.train.config import ExperimentConfig, config_from_dict, load_config
    from synergywarp.train.run import train_from_config
    from synergywarp.train.trainer import Trainer, TrainingDivergedError, TrainResult

_EXPORTS = {
    "ExperimentConfig": "synergywarp.train.config",
    "TrainResult": "synergywarp.train.trainer",
    "Trainer": "synergywarp.train.trainer",
    "TrainingDivergedError": "synergywarp.train.trainer",
    "config_from_dict": "synergywarp.train.config",
    "load_config": "synergywarp.train.config",
    "train_from_config": "synergywarp.train.run",
}
__getattr__ = lazy_attributes(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
