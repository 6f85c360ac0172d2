"""``motion: tracked`` keypoints (docs/DESIGN.md#keypoint-sources): the fixed 32-landmark subset of the 468 points.

The same function builds them for training and animation, so both see identical keypoints.
"""

from __future__ import annotations

import numpy as np

from synergywarp.tracked_keypoints import TRACKED_KEYPOINT_INDICES

_INDEX = np.asarray(TRACKED_KEYPOINT_INDICES, dtype=np.int64)


def tracked_keypoints(points_norm: np.ndarray) -> np.ndarray:
    """Crop-normalised landmarks ...×468×3 → keypoints ...×32×3 (numpy or torch tensors)."""
    if points_norm.shape[-2:] != (468, 3):
        raise ValueError(f"tracked_keypoints expects ...×468×3 landmarks, got {tuple(points_norm.shape)}")
    if isinstance(points_norm, np.ndarray):
        return points_norm[..., _INDEX, :]
    import torch

    return points_norm.index_select(-2, torch.as_tensor(_INDEX, device=points_norm.device))
