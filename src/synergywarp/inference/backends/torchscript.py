"""The per-frame network as TorchScript (CPU, fp32): traced per input shape, frozen, optimised.

:class:`JitAnimate` is called like ``SynergyWarpNet.animate`` (through ``Runtime.frame_function`` when
``backend="jit"``). For each set of input shapes (and fusion mode and output size) it traces the same
graph the ONNX backend exports (:class:`~synergywarp.inference.backends.onnx_runtime.FrameGraph`),
freezes it and runs ``torch.jit.optimize_for_inference`` (oneDNN convolutions with their element-wise
neighbours fused); the result is checked against eager PyTorch on the tracing inputs (max abs ≤
:data:`PARITY_TOLERANCE`, else the shape stays eager, with a warning). A traced graph runs without
Python between its operations, so it holds the GIL only at its entry: two frames rendering on two
threads (``synergywarp live --workers 2``) do not wait for each other's Python.

A batch smaller than one already traced (a clip's last, shorter batch) is padded to it with copies of its
last frame instead of being traced again, as the ONNX backend does. Traced graphs live in memory only (a
few seconds per new shape; nothing is written to disk). TorchScript
is deprecated upstream: if tracing fails on some torch version, the call warns once per shape and runs
eagerly.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

import torch

from synergywarp.inference.backends.onnx_runtime import (
    PARITY_TOLERANCE,
    PER_FRAME,
    FrameGraph,
    GraphBackend,
    ImageOutput,
    pad_to_built_batch,
)
from synergywarp.models import SynergyWarpNet

_MISSING: Any = object()  # a cache lookup's "no graph for this key yet" (None means: runs eagerly)


class JitAnimate(GraphBackend):
    """``SynergyWarpNet.animate`` as frozen TorchScript graphs, one per input shapes (returns an
    :class:`~synergywarp.inference.backends.onnx_runtime.ImageOutput`: the image only, like ``onnx``).

    ``traces`` counts the graphs traced; ``max_error`` maps each shape key (fusion mode, output size, the
    inputs' shapes without the per-frame batch, the batch) to its check's max abs error."""

    def __init__(self, model: SynergyWarpNet):
        self.model = model
        self.traces = 0
        self.max_error: dict[tuple, float] = {}
        self._graphs: dict[tuple, Callable[..., torch.Tensor] | None] = {}
        self._lock = threading.Lock()  # live workers may meet a new shape at the same time

    name = "jit"

    def run(self, inputs: dict[str, torch.Tensor], fusion_mode: str | None, output_size: int | None) -> ImageOutput:
        n = inputs["driving_keypoints"].shape[0]
        shapes = (fusion_mode, output_size, tuple((name, tuple(t.shape[1:] if name in PER_FRAME else t.shape), t.dtype)
                                                  for name, t in inputs.items()))
        key = (*shapes, n)
        graph = self._graphs.get(key, _MISSING)  # the common case (every frame of a stream): no lock
        if graph is _MISSING:
            with self._lock:  # live workers may meet a new shape at the same time
                traced = [batch for (*other, batch), built in self._graphs.items()
                          if tuple(other) == shapes and built is not None]
                padded, batch = pad_to_built_batch(inputs, traced)  # a clip's last, shorter batch: no new trace
                key = (*shapes, batch)
                if key not in self._graphs:
                    self._graphs[key] = self._trace(key, padded, fusion_mode, output_size)
                graph = self._graphs[key]
            if graph is not None:
                inputs = padded
        with torch.no_grad():
            if graph is None:  # eager (tracing failed or missed its check): the frames as they are, no padding
                image = FrameGraph(self.model, list(inputs), fusion_mode, output_size)(*inputs.values())
            else:
                image = graph(*inputs.values())
        return ImageOutput(image=image[:n])

    def _trace(self, key: tuple, inputs: dict[str, torch.Tensor], fusion_mode: str | None,
               output_size: int | None) -> Callable[..., torch.Tensor] | None:
        """Trace, freeze and optimise the graph for these inputs; None (eager) if it fails its check."""
        graph = FrameGraph(self.model, list(inputs), fusion_mode, output_size)
        values = [tensor.clone() for tensor in inputs.values()]  # plain tensors, not inference-mode ones
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message=".*deprecated.*", category=DeprecationWarning)  # TorchScript
            expected = graph(*values)
            try:
                traced: Any = torch.jit.trace(graph, values, check_trace=False)
                optimised = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
                for _ in range(2):  # the profiling executor specialises on the first runs
                    got = optimised(*values)
            except Exception as failure:  # noqa: BLE001 - a torch without (this part of) TorchScript: stay eager
                first_line = str(failure).splitlines()[0] if str(failure) else ""
                warnings.warn(f"TorchScript could not trace the network ({type(failure).__name__}: {first_line}); "
                              "running it on eager PyTorch",
                              RuntimeWarning, stacklevel=3)
                return None
        self.traces += 1
        error = float((got - expected).abs().max())
        self.max_error[key] = error
        if not error <= PARITY_TOLERANCE:
            warnings.warn(f"the TorchScript graph differs from PyTorch by {error:.2g} (> {PARITY_TOLERANCE:g}) "
                          "for these inputs; running them on eager PyTorch", RuntimeWarning, stacklevel=3)
            return None
        return optimised
