"""Where and how the network runs: device, precision and backend resolution, autocast, channels-last,
the CPU's fast 3D convolutions, ``torch.compile`` (opt-in), the ONNX Runtime backend (opt-in) and the
MPS fallback for 5D ``grid_sample``.

:class:`Runtime` is the one object that owns these choices; the pipeline only calls
``runtime.context()`` around model calls, ``runtime.to_device()`` on its inputs and the function that
``runtime.frame_function()`` returns for the per-frame network.
"""

from __future__ import annotations

import contextlib
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
import torch.nn.functional as F

from synergywarp.devices import resolve_device
from synergywarp.errors import ConfigError

if TYPE_CHECKING:
    from synergywarp.models import SynergyWarpNet

NAMED_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
DTYPE_CHOICES = ("auto", *NAMED_DTYPES)
BACKEND_CHOICES = ("torch", "onnx", "jit", "auto")
#: /proc/cpuinfo flags of native bf16 arithmetic; without them bf16 autocast is emulated on the CPU (on an
#: AVX2-only EPYC here about 40× slower than fp32), so ``auto`` never picks it there
NATIVE_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)

# Device types on which 5D (volumetric) grid_sample runs on the CPU instead (MPS lacks it).
GRID_SAMPLE_5D_FALLBACK_DEVICES: set[str] = {"mps"}
_fallback_warned = False


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags from the text of ``/proc/cpuinfo`` (this machine's when None; empty where it
    cannot be read, e.g. not Linux)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return frozenset()
    line = next((line for line in cpuinfo.splitlines() if line.split(":", 1)[0].strip() in ("flags", "Features")), "")
    return frozenset(line.split(":", 1)[1].split()) if ":" in line else frozenset()


def cpu_has_native_bf16(flags: frozenset[str] | set[str] | None = None) -> bool:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX-BF16 in its ``flags``; this machine's
    flags when None). Without them bf16 autocast is emulated and slower than fp32."""
    return bool(NATIVE_BF16_CPU_FLAGS & (cpu_flags() if flags is None else set(flags)))


def auto_dtype(device: torch.device, flags: frozenset[str] | set[str] | None = None) -> torch.dtype:
    """What ``--dtype auto`` means: fp16 on CUDA, bf16 on a CPU with native bf16 (``flags``: its
    /proc/cpuinfo flags, this machine's when None), fp32 elsewhere (an AVX2-only CPU, MPS)."""
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and cpu_has_native_bf16(flags):
        return torch.bfloat16
    return torch.float32


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` → :func:`auto_dtype`; ``fp32``/``fp16``/``bf16`` as named.

    Raises :class:`ConfigError` for an unknown name or a precision the device cannot compute in.
    """
    text = str(name).strip().lower()
    aliases = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16"}
    text = aliases.get(text, text)
    if text not in DTYPE_CHOICES:
        raise ConfigError(f"unknown dtype {name!r}; choose one of {', '.join(DTYPE_CHOICES)}")
    if text == "auto":
        return auto_dtype(device)
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


def resolve_backend(name: str) -> str:
    """``torch``, ``onnx`` (ONNX Runtime), ``jit`` (TorchScript) or ``auto`` (resolved by
    :meth:`Runtime.create`: ``jit`` on a CPU in fp32, else ``torch``); :class:`ConfigError` for another name."""
    text = str(name).strip().lower()
    if text not in BACKEND_CHOICES:
        raise ConfigError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_CHOICES)}")
    return text


def _mkldnn_conv3d_forward(self: torch.nn.Conv3d, input: torch.Tensor) -> torch.Tensor:
    """``Conv3d.forward`` through oneDNN for CPU fp32 inference. PyTorch's CPU heuristic sends a 3D
    convolution whose ``N·C·D·H`` is ≤ 20480 (batch 1 of the small models' dense motion hourglass) to
    its unvectorised ``slow_conv3d``, 3–10× slower than oneDNN on this CPU; same numbers to ~1e-6.
    Anything else (autograd, tracing, compiling, other devices and dtypes) takes the stock path."""
    if (input.device.type == "cpu" and input.dtype == torch.float32 and self.weight.dtype == torch.float32
            and self.padding_mode == "zeros" and not isinstance(self.padding, str)
            and not (torch.is_grad_enabled() and (input.requires_grad or self.weight.requires_grad))
            and not torch.jit.is_tracing() and not torch.compiler.is_compiling()):
        return torch.ops.aten.mkldnn_convolution(input, self.weight, self.bias, list(self.padding),
                                                 list(self.stride), list(self.dilation), self.groups)
    return self._conv_forward(input, self.weight, self.bias)


def use_fast_conv3d(model: torch.nn.Module, enabled: bool = True) -> int:
    """Route ``model``'s :class:`~torch.nn.Conv3d` layers through oneDNN on the CPU (see
    :func:`_mkldnn_conv3d_forward`), or back to the stock forward when ``enabled`` is False. Returns how
    many layers were changed."""
    count = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Conv3d):
            if enabled:
                module.forward = types.MethodType(_mkldnn_conv3d_forward, module)  # type: ignore[method-assign]
            else:
                module.__dict__.pop("forward", None)
            count += 1
    return count


@dataclass
class Runtime:
    """Device, compute precision, backend and compilation of one model.

    Weights stay fp32; ``dtype`` fp16/bf16 runs the forward passes under autocast. ``channels_last``
    is used on CUDA. ``fast_conv3d`` (default: on the CPU in fp32) runs 3D convolutions through oneDNN.
    ``compile`` wraps the per-frame calls in ``torch.compile`` (first call slow). ``backend="onnx"``
    runs the per-frame network with ONNX Runtime (CPU, fp32; see
    :mod:`synergywarp.inference.backends.onnx_runtime`).
    """

    device: torch.device
    dtype: torch.dtype
    compile: bool = False
    channels_last: bool | None = None  # None: on CUDA only
    backend: str = "torch"
    fast_conv3d: bool | None = None  # None: on the CPU in fp32
    threads: int | None = None  # ONNX Runtime's intra-op threads (None: torch's count)

    @classmethod
    def create(cls, device: str = "auto", dtype: str = "auto", compile: bool = False,
               backend: str = "torch") -> Runtime:
        """Resolve the user's names; :class:`ConfigError` (one line) for a combination that cannot run,
        e.g. ``--backend onnx`` without onnxruntime, on CUDA, in bf16 or compiled."""
        backend = resolve_backend(backend)
        resolved = resolve_device(device)
        if backend == "auto":  # TorchScript where it is checked and faster (the CPU in fp32), else eager
            fp32 = resolve_dtype(dtype, resolved) == torch.float32
            backend = "jit" if resolved.type == "cpu" and fp32 and not compile else "torch"
        if backend in ("onnx", "jit"):  # graph backends: the CPU, fp32, not compiled
            if backend == "onnx":
                from synergywarp.inference.backends import require_onnxruntime

                require_onnxruntime()
            if resolved.type != "cpu":
                raise ConfigError(f"--backend {backend} runs on the CPU only (device {resolved.type} asked for); "
                                  "use --device cpu, or --backend torch on this device")
            if str(dtype).strip().lower() not in ("auto", "fp32", "float32"):
                raise ConfigError(f"--backend {backend} computes in fp32; drop --dtype {dtype} or use --backend torch")
            if compile:
                raise ConfigError(f"--backend {backend} cannot be combined with torch.compile; use one of them")
            return cls(device=resolved, dtype=torch.float32, backend=backend)
        return cls(device=resolved, dtype=resolve_dtype(dtype, resolved), compile=bool(compile))

    @property
    def autocast_enabled(self) -> bool:
        return self.dtype != torch.float32

    @property
    def use_channels_last(self) -> bool:
        return self.device.type == "cuda" if self.channels_last is None else bool(self.channels_last)

    @property
    def use_fast_conv3d(self) -> bool:
        if self.fast_conv3d is None:
            return self.device.type == "cpu" and self.dtype == torch.float32
        return bool(self.fast_conv3d)

    def prepare_model(self, model: ModuleT) -> ModuleT:
        """Move ``model`` to the device, eval mode; 2D convolutions channels-last where useful (the
        3D ones keep their layout: channels-last is a 4D format), 3D ones through oneDNN on the CPU."""
        model = model.to(self.device).eval()
        if self.use_channels_last:
            for module in model.modules():
                if isinstance(module, torch.nn.Conv2d):
                    # Module.to takes memory_format at run time; torch's typed overloads omit it
                    module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        use_fast_conv3d(model, self.use_fast_conv3d)
        return model

    def maybe_compile(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``torch.compile(fn)`` when compilation was asked for, else ``fn``."""
        return torch.compile(fn, dynamic=True) if self.compile else fn

    def frame_function(self, model: SynergyWarpNet) -> Callable[..., Any]:
        """The per-frame call with ``model.animate``'s signature on this runtime: the eager method,
        compiled, or an ONNX Runtime session per input shape (exports cached per weights and shapes)."""
        if self.backend == "onnx":
            from synergywarp.inference.backends.onnx_runtime import OnnxAnimate

            return OnnxAnimate(model, threads=self.threads)
        if self.backend == "jit":
            from synergywarp.inference.backends.torchscript import JitAnimate

            return JitAnimate(model)
        return self.maybe_compile(model.animate)

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
        backend = {"onnx": " onnxruntime", "jit": " torchscript"}.get(self.backend, "")
        return (f"{self.device} {names.get(self.dtype, str(self.dtype))}{backend}"
                f"{' compiled' if self.compile else ''}")
