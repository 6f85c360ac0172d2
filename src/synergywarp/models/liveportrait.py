"""Import LivePortrait's four stage-1 checkpoints into SynergyWarpNet (F, M, W, G, strictly).

LivePortrait ships plain flat state dicts (``appearance_feature_extractor.pth``, ``motion_extractor.pth``,
``warping_module.pth``, ``spade_generator.pth``). Our F, M, W and G use the same sub-module names, so the
import is a prefix per file; every key must be used and every shape must match. RAC and CGF keep their
fresh initialisation (A = 0, 𝒞 ≈ 0.88 ... and with ``cgf.mode = explicit`` exactly LivePortrait).
"""

from __future__ import annotations

from pathlib import Path

import torch

from synergywarp.errors import CheckpointError
from synergywarp.models.config import ModelConfig

#: LivePortrait file name → (our sub-module attribute, fixture prefix)
LIVEPORTRAIT_PARTS: dict[str, tuple[str, str]] = {
    "appearance_feature_extractor.pth": ("appearance_encoder", "F"),
    "motion_extractor.pth": ("motion_encoder", "M"),
    "warping_module.pth": ("warping", "W"),
    "spade_generator.pth": ("decoder", "G"),
}


def load_part_into(module: torch.nn.Module, state: dict[str, torch.Tensor], origin: str) -> None:
    """Strictly load a LivePortrait state dict into one of our sub-modules; errors name the first bad key."""
    from synergywarp.models.checkpoint import load_state_dict_strict

    load_state_dict_strict(module, state, origin)


def read_liveportrait_dir(directory: str | Path) -> dict[str, dict[str, torch.Tensor]]:
    """Read the four ``.pth`` state dicts (``torch.load(weights_only=True)``) from ``directory``.

    Accepts LivePortrait's ``pretrained_weights/liveportrait`` folder or its ``base_models`` sub-folder.
    """
    directory = Path(directory)
    if (directory / "base_models").is_dir():
        directory = directory / "base_models"
    if not directory.is_dir():
        raise CheckpointError(f"LivePortrait weights folder not found: {directory}")
    parts = {}
    for filename in LIVEPORTRAIT_PARTS:
        path = directory / filename
        if not path.is_file():
            raise CheckpointError(f"{path} is missing (expected the four LivePortrait base-model .pth files)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - torch raises many types for bad pickles
            raise CheckpointError(f"cannot read {path} as a plain state dict ({type(err).__name__})") from None
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise CheckpointError(f"{path} is not a flat state dict of tensors")
        parts[filename] = state
    return parts


def liveportrait_config() -> ModelConfig:
    """The ``lp256`` config (LivePortrait's released model plus RAC/CGF)."""
    from synergywarp.models.registry import get_config

    return get_config("lp256")


def import_liveportrait(directory: str | Path, config: ModelConfig | None = None, seed: int = 0):
    """Build a SynergyWarpNet (``lp256`` by default) holding LivePortrait's F, M, W, G weights."""
    from synergywarp.models.network import SynergyWarpNet

    parts = read_liveportrait_dir(directory)
    torch.manual_seed(seed)
    model = SynergyWarpNet(config or liveportrait_config())
    for filename, (attribute, _) in LIVEPORTRAIT_PARTS.items():
        load_part_into(getattr(model, attribute), parts[filename], filename)
    return model.eval()
