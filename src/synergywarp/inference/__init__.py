"""Inference: the :class:`Animator` pipeline (crop → motion → warp → decode → paste-back → video).

``Animator.from_pretrained(checkpoint, device, dtype, compile)`` loads a model;
``animator.animate(source, driving, references, options)`` streams :class:`AnimatedFrame` s;
``animator.animate_to_file(...)`` writes the mp4 (driving fps and audio), a comparison video and PNGs;
``animator.start_live(prepared, fps)`` + ``animator.animate_frame(session, frame)`` animate frames
that arrive one at a time (a camera).
The names below are imported on first use (the CLI parser imports this package without torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synergywarp._lazy import lazy_attributes

if TYPE_CHECKING:
    from synergywarp.inference.live import LiveSession
    from synergywarp.inference.motion import OneEuroFilter, transfer_tracked_motion
    from synergywarp.inference.options import AnimateOptions
    from synergywarp.inference.output import AnimationResult, animate_to_file
    from synergywarp.inference.pipeline import AnimatedFrame, Animator, PreparedSource
    from synergywarp.inference.runtime import Runtime

_EXPORTS = {
    "AnimateOptions": "synergywarp.inference.options",
    "AnimatedFrame": "synergywarp.inference.pipeline",
    "AnimationResult": "synergywarp.inference.output",
    "Animator": "synergywarp.inference.pipeline",
    "LiveSession": "synergywarp.inference.live",
    "OneEuroFilter": "synergywarp.inference.motion",
    "PreparedSource": "synergywarp.inference.pipeline",
    "Runtime": "synergywarp.inference.runtime",
    "animate_to_file": "synergywarp.inference.output",
    "transfer_tracked_motion": "synergywarp.inference.motion",
}
__getattr__ = lazy_attributes(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
