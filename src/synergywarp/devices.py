"""Device names → ``torch.device``: the one resolver behind every ``--device`` flag (animate, eval, train).

``auto`` → CUDA, else MPS, else CPU; ``cpu``/``cuda``/``cuda:N``/``mps`` are checked for availability.
Errors are :class:`~synergywarp.errors.ConfigError` lines that name the fix.
"""

from __future__ import annotations

import torch

from synergywarp.errors import ConfigError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA, else MPS, else CPU; ``cpu``/``cuda``/``cuda:N``/``mps`` checked for availability.

    Raises :class:`ConfigError` for an unknown or unavailable device.
    """
    text = str(name).strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_available() else torch.device("cpu")
    base, _, index = text.partition(":")
    if base not in DEVICE_CHOICES[1:] or (index and not (base == "cuda" and index.isdigit())):
        raise ConfigError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if base == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device 'cuda' requested but CUDA is not available; use --device cpu or auto")
        if index and int(index) >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    if base == "mps" and not mps_available():
        raise ConfigError("device 'mps' requested but MPS is not available; use --device cpu or auto")
    return torch.device(text)
