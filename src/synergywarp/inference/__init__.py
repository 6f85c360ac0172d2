"""Inference: the :class:`Animator` pipeline (crop → motion → warp → decode → paste-back → video).

``Animator.from_pretrained(checkpoint, device, dtype, compile)`` loads a model;
``animator.animate(source, driving, references, options)`` streams :class:`AnimatedFrame` s;
``animator.animate_to_file(...)`` writes the mp4 (driving fps and audio), a comparison video and PNGs.
"""

from synergywarp.inference.motion import OneEuroFilter, transfer_tracked_motion
from synergywarp.inference.options import AnimateOptions
from synergywarp.inference.output import AnimationResult, animate_to_file
from synergywarp.inference.pipeline import AnimatedFrame, Animator, PreparedSource
from synergywarp.inference.runtime import Runtime

__all__ = [
    "AnimateOptions",
    "AnimatedFrame",
    "AnimationResult",
    "Animator",
    "OneEuroFilter",
    "PreparedSource",
    "Runtime",
    "animate_to_file",
    "transfer_tracked_motion",
]
