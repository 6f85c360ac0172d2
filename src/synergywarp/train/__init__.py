"""Training: experiment configs, the trainer (phases, EMA, AMP, exact resume), DDP through torchrun."""

from synergywarp.train.config import ExperimentConfig, config_from_dict, load_config
from synergywarp.train.run import train_from_config
from synergywarp.train.trainer import Trainer, TrainingDivergedError, TrainResult

__all__ = [
    "ExperimentConfig",
    "TrainResult",
    "Trainer",
    "TrainingDivergedError",
    "config_from_dict",
    "load_config",
    "train_from_config",
]
