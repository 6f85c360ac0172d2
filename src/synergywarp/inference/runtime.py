"""Where and how the network runs: device and precision resolution, autocast, channels-last,
``torch.compile`` (opt-in) and the MPS fallback for 5D ``grid_sample``.

:class:`Runtime` is the one object that owns these choices; the pipeline only calls
``runtime.context()`` around model calls and ``runtime.to_device()`` on its inputs.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.nn.functional as F

from synergywarp.devices import resolve_device
from synergywarp.errors import ConfigError

NAMED_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
DTYPE_CHOICES = ("auto", *NAMED_DTYPES)
ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)

# Device types on which 5D (volumetric) grid_sample runs on the CPU instead (MPS lacks it).
GRID_SAMPLE_5D_FALLBACK_DEVICES: set[str] = {"mps"}
_fallback_warned = False


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` → fp16 on CUDA, fp32 elsewhere; ``fp32``/``fp16``/``bf16`` as named.

    Raises :class:`ConfigError` for an unknown name or a precision the device cannot compute in.
    """
    text = str(name).strip().lower()
    aliases = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16"}
    text = aliases.get(text, text)
    if text not in DTYPE_CHOICES:
        raise ConfigError(f"unknown dtype {name!r}; choose one of {', '.join(DTYPE_CHOICES)}")
    if text == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    dtype = NAMED_DTYPES[text]
    if dtype is torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("dtype bf16 is not supported on this CUDA device; use fp16 or fp32")
    if dtype is torch.float16 and device.type == "cpu":
        warnings.warn("fp16 autocast on the CPU is slow and may be unsupported for some ops; bf16 is "
                      "the CPU's half precision", stacklevel=2)
    return dtype


def _grid_sample_with_fallback(original: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``grid_sample`` that computes 5D inputs on the CPU when their device lacks the kernel."""

    def grid_sample(input: torch.Tensor, grid: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        global _fallback_warned
        if input.dim() == 5 and input.device.type in GRID_SAMPLE_5D_FALLBACK_DEVICES:
            if not _fallback_warned:
                _fallback_warned = True
                warnings.warn(f"5D grid_sample is not available on {input.device.type}; running that op "
                              "on the CPU (everything else stays on the device)", stacklevel=2)
            dtype = input.dtype
            result = original(input.to("cpu", torch.float32), grid.to("cpu", torch.float32),
                              *args, **kwargs)
            return result.to(input.device, dtype)
        return original(input, grid, *args, **kwargs)

    grid_sample.__wrapped__ = original  # type: ignore[attr-defined]
    return grid_sample


@contextlib.contextmanager
def grid_sample_fallback() -> Iterator[None]:
    """Within the block, ``torch.nn.functional.grid_sample`` falls back to the CPU for 5D inputs on
    :data:`GRID_SAMPLE_5D_FALLBACK_DEVICES` (warning once per process). Other calls are untouched."""
    original = F.grid_sample
    if getattr(original, "__wrapped__", None) is not None:  # already patched (nested use)
        yield
        return
    F.grid_sample = _grid_sample_with_fallback(original)
    try:
        yield
    finally:
        F.grid_sample = original


@dataclass
class Runtime:
    """Device, compute precision and compilation of one model.

    Weights stay fp32; ``dtype`` fp16/bf16 runs the forward passes under autocast. ``channels_last``
    is used on CUDA. ``compile`` wraps the per-frame calls in ``torch.compile`` (first call slow).
    """

    device: torch.device
    dtype: torch.dtype
    compile: bool = False
    channels_last: bool | None = None  # None: on CUDA only

    @classmethod
    def create(cls, device: str = "auto", dtype: str = "auto", compile: bool = False) -> Runtime:
        resolved = resolve_device(device)
        return cls(device=resolved, dtype=resolve_dtype(dtype, resolved), compile=bool(compile))

    @property
    def autocast_enabled(self) -> bool:
        return self.dtype != torch.float32

    @property
    def use_channels_last(self) -> bool:
        return self.device.type == "cuda" if self.channels_last is None else bool(self.channels_last)

    def prepare_model(self, model: ModuleT) -> ModuleT:
        """Move ``model`` to the device, eval mode; 2D convolutions channels-last where useful (the
        3D ones keep their layout: channels-last is a 4D format)."""
        model = model.to(self.device).eval()
        if self.use_channels_last:
            for module in model.modules():
                if isinstance(module, torch.nn.Conv2d):
                    # Module.to takes memory_format at run time; torch's typed overloads omit it
                    module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return model

    def maybe_compile(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``torch.compile(fn)`` when compilation was asked for, else ``fn``."""
        return torch.compile(fn, dynamic=True) if self.compile else fn

    def to_device(self, images: torch.Tensor) -> torch.Tensor:
        """Float image tensor ``B×3×H×W`` to the device (channels-last on CUDA)."""
        images = images.to(self.device, non_blocking=True)
        if self.use_channels_last and images.dim() == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        """inference_mode + autocast (if reduced precision) + the MPS grid_sample fallback."""
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.inference_mode())
            if self.autocast_enabled:
                stack.enter_context(torch.autocast(self.device.type, dtype=self.dtype))
            if self.device.type in GRID_SAMPLE_5D_FALLBACK_DEVICES:
                stack.enter_context(grid_sample_fallback())
            yield

    def describe(self) -> str:
        names = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}
        return f"{self.device} {names.get(self.dtype, str(self.dtype))}{' compiled' if self.compile else ''}"
