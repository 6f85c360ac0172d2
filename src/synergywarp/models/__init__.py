"""Pure PyTorch networks of SynergyWarpNet (tensors in, tensors out), their configs and checkpoints."""

from synergywarp.models.config import ModelConfig
from synergywarp.models.network import SourceState, SynergyWarpNet
from synergywarp.models.outputs import AnimateOutput
from synergywarp.models.rac import ReferenceTokens
from synergywarp.models.registry import create_model, get_config, list_models

__all__ = [
    "AnimateOutput",
    "ModelConfig",
    "ReferenceTokens",
    "SourceState",
    "SynergyWarpNet",
    "create_model",
    "get_config",
    "list_models",
]
