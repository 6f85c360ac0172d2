"""Side-by-side comparison frames (driving | source | result)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def fit_height(image: np.ndarray, height: int) -> np.ndarray:
    """H×W×3 uint8 resized (aspect kept, area-averaged when shrinking) to ``height`` rows."""
    if image.shape[0] == height:
        return image
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    shrink = height < image.shape[0]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def side_by_side(panels: Sequence[np.ndarray], height: int | None = None) -> np.ndarray:
    """Panels H_i×W_i×3 → one H×ΣW×3 uint8 frame, each panel scaled to ``height`` (default: the last
    panel's height, i.e. the result's)."""
    if not panels:
        raise ValueError("side_by_side needs at least one panel")
    height = int(height or panels[-1].shape[0])
    return np.concatenate([fit_height(np.asarray(p, dtype=np.uint8), height) for p in panels], axis=1)
