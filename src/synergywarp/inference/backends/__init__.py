"""Execution backends of the per-frame network besides eager PyTorch (selected by ``Runtime.backend``).

- ``onnx``: :class:`~synergywarp.inference.backends.onnx_runtime.OnnxAnimate` exports
  ``SynergyWarpNet.animate`` for the prepared source's input shapes and runs it with ONNX Runtime on the
  CPU (the ``onnx`` extra: ``pip install 'synergywarp[onnx]'``).
"""

from __future__ import annotations

import importlib.util

from synergywarp.errors import SynergyWarpError

#: the packages the onnx backend needs: onnxruntime runs the graph, onnx is what torch's exporter writes with
ONNX_PACKAGES = ("onnxruntime", "onnx")


def require_onnxruntime() -> None:
    """One-line :class:`SynergyWarpError` naming the install command when the onnx extra is missing."""
    missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise SynergyWarpError(f"--backend onnx needs the onnx extra ({', '.join(missing)} not installed): "
                               "pip install 'synergywarp[onnx]', or use --backend torch")
