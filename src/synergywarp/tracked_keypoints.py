"""The fixed landmark subset behind ``motion: tracked`` keypoints (docs/DESIGN.md#keypoint-sources).

Indices into mediapipe FaceMesh's 468 landmarks (the subject's right side is the image's left).
The subset covers the regions whose motion the warp must transfer: brows, lids and eye corners,
nose, lips and the face outline. ``TRACKED_KEYPOINT_INDICES`` is the ordered list used as K
keypoints (K = 32); its order is part of every ``motion: tracked`` checkpoint, so never reorder it.

This module is a dependency-free constant shared by ``synergywarp.face`` (which builds the
keypoints) and ``synergywarp.models`` (whose configs check ``num_kp``).
"""

from __future__ import annotations

TRACKED_KEYPOINT_GROUPS: dict[str, tuple[int, ...]] = {
    # outer, middle, inner brow point; subject's right then left
    "brows": (70, 105, 107, 300, 334, 336),
    # outer corner, inner corner, upper lid, lower lid; right eye then left eye
    "eyes": (33, 133, 159, 145, 263, 362, 386, 374),
    # tip, bridge between the eyes, right ala, left ala
    "nose": (1, 168, 98, 327),
    # right corner, left corner, upper outer, lower outer, upper inner, lower inner
    "lips": (61, 291, 0, 17, 13, 14),
    # chin, right and left outline at eye height, right and left jaw angle, forehead top
    "outline": (152, 234, 454, 172, 397, 10),
    # right and left cheek
    "cheeks": (50, 280),
}

TRACKED_KEYPOINT_INDICES: tuple[int, ...] = tuple(
    i for group in TRACKED_KEYPOINT_GROUPS.values() for i in group
)

NUM_TRACKED_KEYPOINTS: int = len(TRACKED_KEYPOINT_INDICES)

assert NUM_TRACKED_KEYPOINTS == 32 and len(set(TRACKED_KEYPOINT_INDICES)) == 32
