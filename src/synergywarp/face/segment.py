"""Person segmentation (mediapipe selfie segmentation, offline): which pixels are the person."""

from __future__ import annotations

import numpy as np

from synergywarp.face import _mediapipe
from synergywarp.face.detect import check_image

#: the segmenter's input side (its general model works on 256×256): person masks of smaller crops are
#: upsampled guesses, so callers segment crops of at least this size
SEGMENT_SIZE = 256


def person_mask(image: np.ndarray, *, name: str = "image") -> np.ndarray:
    """H×W float32 in [0, 1]: the probability that each pixel of an H×W×3 uint8 RGB image shows the
    person (head, hair, neck, body) rather than the background."""
    image = check_image(image, name)
    mask = _mediapipe.selfie_segmenter().process(np.ascontiguousarray(image)).segmentation_mask
    if mask is None:
        return np.zeros(image.shape[:2], np.float32)
    return np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
