"""SynergyWarp: attention-guided cooperative warping for neural portrait animation.

Public API: :class:`SynergyWarpNet` (the network), ``create_model`` / ``list_models`` (the
registry) and ``Animator`` (the inference pipeline). They are imported lazily, so that
``import synergywarp.face`` does not pay for the networks.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["SynergyWarpNet", "create_model", "list_models", "Animator", "__version__"]


def __getattr__(name: str):
    if name in ("SynergyWarpNet", "create_model", "list_models"):
        from synergywarp import models

        return getattr(models, name)
    if name == "Animator":
        from synergywarp.inference import Animator

        return Animator
    raise AttributeError(f"module 'synergywarp' has no attribute {name!r}")
