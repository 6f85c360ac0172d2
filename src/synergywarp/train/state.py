"""Atomic training checkpoints: every tensor in safetensors, the rest in a small tagged JSON.

Layout of ``RUN/checkpoints/step_00001234/``:

- ``tensors.safetensors``: model, EMA, discriminator weights and every tensor inside the optimiser,
  scheduler, scaler and RNG states (keys ``model.*``, ``ema.*``, ``discriminator.*``, ``state.N``);
- ``state.json``: ``{"format", "step", "files": {name: bytes}, "sha256": {name: hex digest},
  "state": <tagged JSON>}`` where tensors are referenced as ``{"__tensor__": "state.N"}`` and tuples,
  Counters, non-string-keyed dicts and numpy arrays are tagged, so that nothing is unpickled on load.

A checkpoint is written into ``checkpoints/.tmp-step_…`` and renamed into place only once complete (the
rename is atomic), so an interrupted write never replaces the last good one. :func:`latest_checkpoint`
also skips any directory whose files are missing or of the wrong size; :func:`load_checkpoint` checks
the tensors' SHA-256 and that every weight is finite, so a damaged file is named as such.
"""

from __future__ import annotations

import collections
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from synergywarp.atomic import file_sha256, write_failure
from synergywarp.errors import CheckpointError, OutputError
from synergywarp.models.checkpoint import atomic_save_tensors, check_finite

FORMAT = "synergywarp-train/1"
TENSORS_FILE = "tensors.safetensors"
STATE_FILE = "state.json"
PREFIX = "step_"


# ---------------------------------------------------------------- tagged JSON codec
def encode_state(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Python state (dicts, lists, tuples, Counters, tensors, numpy arrays, scalars) -> JSON-able tree;
    tensors are moved into ``tensors`` and referenced by key."""
    if isinstance(obj, torch.Tensor):
        key = f"state.{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, collections.Counter):
        return {"__counter__": [[encode_state(k, tensors), v] for k, v in obj.items()]}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode_state(v, tensors) for k, v in obj.items()}
        return {"__items__": [[encode_state(k, tensors), encode_state(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_state(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [encode_state(v, tensors) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a training checkpoint")


def decode_state(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`encode_state`."""
    if isinstance(obj, list):
        return [decode_state(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__ndarray__" in obj:
        return np.asarray(obj["__ndarray__"], dtype=obj["dtype"])
    if "__counter__" in obj:
        return collections.Counter({decode_state(k, tensors): v for k, v in obj["__counter__"]})
    if "__items__" in obj:
        return {decode_state(k, tensors): decode_state(v, tensors) for k, v in obj["__items__"]}
    if "__tuple__" in obj:
        return tuple(decode_state(v, tensors) for v in obj["__tuple__"])
    return {k: decode_state(v, tensors) for k, v in obj.items()}


# ---------------------------------------------------------------- RNG
def capture_rng_state() -> dict[str, Any]:
    """Python, numpy, torch CPU and (if present) every CUDA device's RNG state."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"].to(torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.to(torch.uint8) for s in state["cuda"]])


# ---------------------------------------------------------------- checkpoint directories
def checkpoint_name(step: int) -> str:
    return f"{PREFIX}{step:08d}"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_tensors(directory: Path, tensors: dict[str, torch.Tensor]) -> None:
    atomic_save_tensors(tensors, directory / TENSORS_FILE, {"format": FORMAT})


def _write_state_json(directory: Path, document: dict[str, Any]) -> None:
    path = directory / STATE_FILE
    with open(path, "w") as f:
        json.dump(document, f)
        f.flush()
        os.fsync(f.fileno())


def save_checkpoint(
    root: str | Path, step: int, weights: dict[str, torch.Tensor], state: dict[str, Any], keep_last: int = 3
) -> Path:
    """Write ``weights`` (flat name -> tensor) and ``state`` (anything :func:`encode_state` takes) as
    ``root/step_<step>`` atomically; then delete all but the newest ``keep_last`` complete checkpoints."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / checkpoint_name(step)
    temp = root / f".tmp-{final.name}-{os.getpid()}"
    if temp.exists():
        shutil.rmtree(temp)
    temp.mkdir()
    try:
        tensors = dict(weights)
        encoded = encode_state(state, tensors)
        _write_tensors(temp, tensors)
        files = {TENSORS_FILE: (temp / TENSORS_FILE).stat().st_size}
        _write_state_json(temp, {"format": FORMAT, "step": step, "files": files,
                                 "sha256": {TENSORS_FILE: file_sha256(temp / TENSORS_FILE)}, "state": encoded})
        _fsync_dir(temp)
        if final.exists():  # re-saving a step (e.g. after a resume): move the old one aside first
            old = root / f".old-{final.name}-{os.getpid()}"
            os.replace(final, old)
            os.replace(temp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, final)
        _fsync_dir(root)
    except (OSError, OutputError) as error:  # a full disk, a folder that became read-only
        shutil.rmtree(temp, ignore_errors=True)
        good = latest_checkpoint(root)
        kept = f"the last good checkpoint {good} is intact" if good else "no earlier checkpoint exists"
        raise write_failure(final, error, f"{kept}; free some space, then continue with --resume") from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    prune_checkpoints(root, keep_last)
    return final


def _step_of(path: Path) -> int | None:
    if not path.name.startswith(PREFIX):
        return None
    try:
        return int(path.name[len(PREFIX):])
    except ValueError:
        return None


def is_complete(path: str | Path) -> bool:
    """True when ``path`` holds a readable state.json whose listed files exist with the listed sizes."""
    path = Path(path)
    try:
        document = json.loads((path / STATE_FILE).read_text())
        if document.get("format") != FORMAT:
            return False
        return all((path / name).stat().st_size == size for name, size in document["files"].items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def list_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoints under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(s, p) for p in root.iterdir() if p.is_dir() and (s := _step_of(p)) is not None]
    return [p for _, p in sorted(found) if is_complete(p)]


def latest_checkpoint(root: str | Path) -> Path | None:
    """The newest complete checkpoint under ``root`` (incomplete or temporary ones are skipped)."""
    found = list_checkpoints(root)
    return found[-1] if found else None


def prune_checkpoints(root: str | Path, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` complete checkpoints (incomplete ones are left alone)."""
    for path in list_checkpoints(root)[: max(0, len(list_checkpoints(root)) - keep_last)]:
        shutil.rmtree(path, ignore_errors=True)


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], int]:
    """-> (weights ``model.*``/``ema.*``/``discriminator.*``, decoded state, step); CheckpointError if
    the directory is incomplete or unreadable."""
    path = Path(path)
    if not is_complete(path):
        raise CheckpointError(f"{path} is not a complete training checkpoint")
    document = json.loads((path / STATE_FILE).read_text())

    def damaged(why: object) -> CheckpointError:
        return CheckpointError(f"training checkpoint {path} is damaged ({why}); move it away to resume from "
                               "the one before, or start a new run")

    expected = document.get("sha256", {}).get(TENSORS_FILE)
    if expected is not None and file_sha256(path / TENSORS_FILE) != expected:
        raise damaged(f"{TENSORS_FILE} does not match the checksum written with it")
    try:
        tensors = load_file(str(path / TENSORS_FILE))
    except (SafetensorError, OSError) as err:
        raise damaged(f"{TENSORS_FILE} is unreadable: {err}") from None
    weights = {k: v for k, v in tensors.items() if not k.startswith("state.")}
    try:
        check_finite(weights, str(path))
    except CheckpointError as err:
        raise damaged(err) from None
    state = decode_state(document["state"], tensors)
    return weights, state, int(document["step"])


def split_prefixed(weights: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """``{"model.a": t}`` with prefix ``model`` -> ``{"a": t}``."""
    head = prefix + "."
    return {k[len(head):]: v for k, v in weights.items() if k.startswith(head)}


def prefixed(state_dict: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in state_dict.items()}
