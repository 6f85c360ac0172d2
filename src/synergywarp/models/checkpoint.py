"""Safetensors checkpoints that carry their model config (so they rebuild their own model).

Layout: the model's state dict as tensors; metadata ``format`` = ``synergywarp/1``, ``config`` (JSON of
:class:`ModelConfig`) and any extra string fields (e.g. ``trained_stages``). Writes are atomic.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from synergywarp.errors import CheckpointError, ConfigError
from synergywarp.models.config import ModelConfig

FORMAT = "synergywarp/1"


def atomic_save_tensors(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str]) -> None:
    """Write a safetensors file via a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_model(model: torch.nn.Module, path: str | Path, **extra: object) -> None:
    """Save ``model`` (a SynergyWarpNet) with its config; ``extra`` values are stored as JSON strings."""
    metadata = {"format": FORMAT, "config": json.dumps(model.config.to_dict())}
    metadata.update({k: json.dumps(v) for k, v in extra.items()})
    atomic_save_tensors(model.state_dict(), path, metadata)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of a safetensors file; :class:`CheckpointError` if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint ({err})") from None


def load_state_dict_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], origin: str) -> None:
    """Copy ``state`` into ``model`` requiring the same keys and shapes; the error names the first mismatch."""
    expected = model.state_dict()
    for key, tensor in expected.items():
        if key not in state:
            raise CheckpointError(f"{origin}: missing key {key!r} (a checkpoint of a different architecture?)")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{origin}: key {key!r} has shape {tuple(state[key].shape)}, the model expects {tuple(tensor.shape)}"
            )
    for key in state:
        if key not in expected:
            raise CheckpointError(f"{origin}: unexpected key {key!r} (a checkpoint of a different architecture?)")
    model.load_state_dict(state, strict=True)


def trained_stages(model: torch.nn.Module) -> list[str] | None:
    """The ``trained_stages`` a loaded checkpoint records (e.g. ``["explicit", "rac", "cgf"]``), or None."""
    raw = getattr(model, "checkpoint_metadata", {}).get("trained_stages")
    try:
        stages = json.loads(raw) if raw is not None else None
    except json.JSONDecodeError:
        return None
    return [str(s) for s in stages] if isinstance(stages, list) else None


def load_model(path: str | Path, map_location: str | torch.device = "cpu", config: ModelConfig | None = None):
    """Rebuild the model stored in ``path`` (or check it against ``config``) and load its weights."""
    from synergywarp.models.network import SynergyWarpNet

    metadata = read_metadata(path)
    if metadata.get("format") != FORMAT or "config" not in metadata:
        raise CheckpointError(f"{path} is not a SynergyWarp checkpoint (no model config in its metadata)")
    try:
        stored = ModelConfig.from_dict(json.loads(metadata["config"]))
    except (ConfigError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: stored model config is invalid: {err}") from None
    if config is not None and config.to_dict() != stored.to_dict():
        raise CheckpointError(f"{path} holds model {stored.name!r}, which differs from the requested {config.name!r}")
    model = SynergyWarpNet(stored)
    with safe_open(str(path), framework="pt", device=str(map_location)) as f:
        state = {k: f.get_tensor(k) for k in f.keys()}
    load_state_dict_strict(model, state, str(path))
    model.checkpoint_metadata = {k: v for k, v in metadata.items() if k not in ("format", "config")}
    return model.to(map_location).eval()
