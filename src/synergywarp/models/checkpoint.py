"""Safetensors checkpoints that carry their model config (so they rebuild their own model).

Layout (docs/CONTRACTS.md#model-checkpoints): the model's state dict as tensors; string metadata
``format`` = ``synergywarp/1``, ``config`` (JSON of :class:`ModelConfig`), ``config_version`` (an
integer; absent in checkpoints written before it existed, which are version 1) and optional JSON
fields ``trained_stages``, ``step`` and ``source``. Writes are atomic and
byte-reproducible (the header's metadata keys sorted: :func:`canonicalise_header`).

This module reads and writes files only; :class:`~synergywarp.models.network.SynergyWarpNet` owns
saving and loading itself (``save_pretrained`` / ``from_pretrained``) on top of it.

Config migration: when a release renames a config key it raises :data:`CONFIG_VERSION` and adds the
renames to :data:`CONFIG_MIGRATIONS`; older checkpoints are migrated on load, so they keep loading.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from synergywarp.atomic import publish, temporary_sibling, write_failure
from synergywarp.errors import CheckpointError, ConfigError
from synergywarp.models.config import ModelConfig

FORMAT = "synergywarp/1"

#: The config layout this code writes. Checkpoints without ``config_version`` metadata are version 1.
CONFIG_VERSION = 1

#: version v → renames (old dotted key → new dotted key) that turn a version-v config into version v + 1.
CONFIG_MIGRATIONS: dict[int, Mapping[str, str]] = {}

_KNOWN_FIELDS = ("format", "config", "config_version", "trained_stages", "step", "source")


@dataclass
class CheckpointMetadata:
    """What a checkpoint records besides its config and weights.

    trained_stages: the stages its training ran (e.g. ``["explicit", "rac", "cgf"]``), None if unrecorded;
    step: the training step of the weights; source: where the weights came from (e.g. an import);
    config_version: the config layout the file was written with (before migration);
    extra: any other metadata fields, as stored (JSON strings).
    """

    trained_stages: list[str] | None = None
    step: int | None = None
    source: str | None = None
    config_version: int = CONFIG_VERSION
    extra: dict[str, str] = field(default_factory=dict)

    def to_strings(self) -> dict[str, str]:
        """The optional metadata fields as safetensors strings (JSON values)."""
        fields: dict[str, str] = dict(self.extra)
        if self.trained_stages is not None:
            fields["trained_stages"] = json.dumps(list(self.trained_stages))
        if self.step is not None:
            fields["step"] = json.dumps(int(self.step))
        if self.source is not None:
            fields["source"] = json.dumps(self.source)
        return fields

    @classmethod
    def from_strings(cls, metadata: Mapping[str, str]) -> CheckpointMetadata:
        """Parse the metadata of a file; unreadable optional fields count as unrecorded."""
        stages = _json_field(metadata, "trained_stages")
        step = _json_field(metadata, "step")
        source = _json_field(metadata, "source")
        return cls(
            trained_stages=[str(s) for s in stages] if isinstance(stages, list) else None,
            step=step if isinstance(step, int) and not isinstance(step, bool) else None,
            source=source if isinstance(source, str) else None,
            config_version=_config_version(metadata),
            extra={k: v for k, v in metadata.items() if k not in _KNOWN_FIELDS},
        )


def _json_field(metadata: Mapping[str, str], key: str) -> Any:
    raw = metadata.get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return None


def _config_version(metadata: Mapping[str, str]) -> int:
    raw = metadata.get("config_version", "1")
    try:
        return int(raw)
    except ValueError:
        raise CheckpointError(f"config_version {raw!r} is not an integer") from None


def canonicalise_header(path: str | Path) -> bool:
    """Rewrite a safetensors file's header in place with its metadata keys sorted, so equal tensors and
    metadata give equal bytes (safetensors writes its metadata in a per-call random order, so the sha256 of
    a rewritten file was not reproducible). The header keeps its length (padded with spaces, as
    safetensors pads it); returns False, leaving the file as it is, where that is not possible."""
    with open(path, "r+b") as file:
        head = file.read(8)
        length = int.from_bytes(head, "little")
        if len(head) < 8 or length > os.fstat(file.fileno()).st_size - 8:
            return False
        raw = file.read(length)
        try:
            header = json.loads(raw)
            if not isinstance(header, dict):
                return False
            metadata = header.pop("__metadata__", None)
            ordered: dict[str, Any] = {}
            if isinstance(metadata, dict):
                ordered["__metadata__"] = dict(sorted(metadata.items()))
            ordered.update(header)
            text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except (UnicodeError, ValueError, TypeError):  # not JSON, lone surrogates, unsortable keys
            return False
        if len(text) > length:
            return False
        file.seek(8)
        file.write(text + b" " * (length - len(text)))
    return True


def atomic_save_tensors(tensors: Mapping[str, torch.Tensor], path: str | Path, metadata: dict[str, str]) -> None:
    """Write a safetensors file via a temporary file in the same folder and an atomic rename, with the
    umask's permissions (safetensors creates 0600 files) and a canonical header (equal contents, equal
    bytes); OutputError naming ``path`` when the disk is full or the folder not writable (an earlier file
    at ``path`` is then kept)."""
    path = Path(path)
    tmp = temporary_sibling(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
        canonicalise_header(tmp)  # always possible for safetensors' own output; the file is valid either way
        publish(tmp, path)
    except (OSError, SafetensorError) as error:
        raise write_failure(path, error) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_checkpoint(path: str | Path, state: Mapping[str, torch.Tensor], config: ModelConfig,
                     metadata: CheckpointMetadata | None = None) -> None:
    """Write weights + config (+ metadata) atomically; the file records :data:`CONFIG_VERSION`."""
    fields = (metadata or CheckpointMetadata()).to_strings()
    fields.update({"format": FORMAT, "config": json.dumps(config.to_dict()), "config_version": str(CONFIG_VERSION)})
    atomic_save_tensors(state, path, fields)


def check_checkpoint_file(path: Path) -> Path:
    """CheckpointError naming the problem when ``path`` is not an existing file (a folder, a training
    run, a broken link)."""
    if path.is_dir():
        hint = (f"; its exported model is {path / 'model_ema.safetensors'}"
                if (path / "model_ema.safetensors").is_file() or (path / "checkpoints").is_dir() else "")
        raise CheckpointError(f"checkpoint {path} is a folder, expected a .safetensors file{hint}")
    if path.is_symlink() and not path.exists():
        raise CheckpointError(f"checkpoint {path} is a broken symlink or a symlink loop")
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    return path


def check_finite(state: Mapping[str, torch.Tensor], origin: str) -> None:
    """CheckpointError when any floating-point tensor holds NaN or inf (a damaged file or a diverged
    run would otherwise animate a black frame)."""
    bad = [key for key, tensor in state.items() if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if bad:
        raise CheckpointError(f"{origin} holds non-finite weights (NaN/inf) in {len(bad)} tensor(s), e.g. "
                              f"{bad[0]!r}: the file is damaged or comes from a diverged run")


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of a safetensors file; :class:`CheckpointError` if unreadable."""
    path = Path(path)
    check_checkpoint_file(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint ({err})") from None


def _rename_key(data: dict[str, Any], old: str, new: str) -> None:
    """Move the value at dotted path ``old`` to dotted path ``new`` (no-op when ``old`` is absent)."""
    *old_parents, old_leaf = old.split(".")
    section: Any = data
    for part in old_parents:
        section = section.get(part) if isinstance(section, dict) else None
    if not isinstance(section, dict) or old_leaf not in section:
        return
    value = section.pop(old_leaf)
    *new_parents, new_leaf = new.split(".")
    target = data
    for part in new_parents:
        target = target.setdefault(part, {})
    target[new_leaf] = value


def migrate_config(data: dict[str, Any], version: int) -> dict[str, Any]:
    """A config dict written at ``version`` brought to :data:`CONFIG_VERSION` by the renames of
    :data:`CONFIG_MIGRATIONS` (a new dict). CheckpointError for a version newer than this code."""
    if version > CONFIG_VERSION:
        raise CheckpointError(f"config version {version} is newer than this SynergyWarp reads ({CONFIG_VERSION}); "
                              "upgrade synergywarp to load it")
    migrated = json.loads(json.dumps(data))
    for step in range(version, CONFIG_VERSION):
        for old, new in CONFIG_MIGRATIONS.get(step, {}).items():
            _rename_key(migrated, old, new)
    return migrated


def read_checkpoint_header(path: str | Path) -> tuple[ModelConfig, CheckpointMetadata]:
    """The (migrated) model config and the metadata of a SynergyWarp checkpoint; one-line CheckpointError
    for a missing, unreadable or foreign file."""
    raw = read_metadata(path)
    if raw.get("format") != FORMAT or "config" not in raw:
        raise CheckpointError(f"{path} is not a SynergyWarp checkpoint (no model config in its metadata)")
    try:
        metadata = CheckpointMetadata.from_strings(raw)
        config = ModelConfig.from_dict(migrate_config(json.loads(raw["config"]), metadata.config_version))
    except (ConfigError, CheckpointError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: stored model config is invalid: {err}") from None
    return config, metadata


def read_tensors(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file, on ``device``; CheckpointError when a weight is NaN or inf."""
    with safe_open(str(path), framework="pt", device=str(device)) as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    check_finite(tensors, str(path))
    return tensors


def load_state_dict_strict(model: torch.nn.Module, state: Mapping[str, torch.Tensor], origin: str) -> None:
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
