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

from synergywarp._lazy import lazy_exports

if TYPE_CHECKING:
    from synergywarp.inference.live import LiveSession
    from synergywarp.inference.motion import OneEuroFilter, transfer_tracked_motion
    from synergywarp.inference.options import AnimateOptions
    from synergywarp.inference.output import AnimationResult, animate_to_file
    from synergywarp.inference.pipeline import AnimatedFrame, Animator, PreparedSource
    from synergywarp.inference.runtime import Runtime

__getattr__, __all__ = lazy_exports(__name__, {
    ".live": ("LiveSession",),
    ".motion": ("OneEuroFilter", "transfer_tracked_motion"),
    ".options": ("AnimateOptions",),
    ".output": ("AnimationResult", "animate_to_file"),
    ".pipeline": ("AnimatedFrame", "Animator", "PreparedSource"),
    ".runtime": ("Runtime",),
})
