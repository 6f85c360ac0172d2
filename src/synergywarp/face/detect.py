"""Face detection on whole images: mediapipe FaceDetection (full range, then short range), then
dlib's HOG detector as a fallback. Boxes are in full-image pixels, largest first."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from synergywarp.errors import InputError
from synergywarp.face import _mediapipe
from synergywarp.face.types import FaceBox

DETECTION_MAX_SIDE = 1024  # larger images are downscaled (INTER_AREA) before detection
MIN_FACE_SIDE = 20  # boxes smaller than this (pixels, in the detection image) are discarded
DLIB_MIN_SCORE = 0.3
MIN_IMAGE_SIDE = 8  # smaller images cannot hold a detectable face


def check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Return ``image`` as a contiguous H×W×3 uint8 array; InputError otherwise."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise InputError(f"{name}: expected an H×W×3 uint8 RGB image, got {array.dtype} {array.shape}")
    if min(array.shape[:2]) < MIN_IMAGE_SIDE:
        raise InputError(f"{name}: the image is {array.shape[1]}×{array.shape[0]} px, too small to hold a face "
                         f"(at least {MIN_IMAGE_SIDE}×{MIN_IMAGE_SIDE})")
    return np.ascontiguousarray(array)


def _downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """(image resized so its longer side is at most ``max_side``, factor original→resized)."""
    height, width = image.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    if factor >= 1.0:
        return image, 1.0
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), factor


def _clip_box(box: FaceBox, width: int, height: int) -> FaceBox | None:
    """``box`` clipped to the image; None when (almost) nothing is left."""
    x0, y0 = max(box.x0, 0.0), max(box.y0, 0.0)
    x1, y1 = min(box.x1, float(width)), min(box.y1, float(height))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    return FaceBox(x0, y0, x1, y1, box.score)


def _mediapipe_boxes(image: np.ndarray, model_selection: int) -> list[FaceBox]:
    """Boxes from one mediapipe FaceDetection model, in ``image`` pixels."""
    height, width = image.shape[:2]
    result = _mediapipe.face_detector(model_selection).process(image)
    boxes = []
    for detection in result.detections or []:
        rel = detection.location_data.relative_bounding_box
        boxes.append(FaceBox(rel.xmin * width, rel.ymin * height, (rel.xmin + rel.width) * width,
                             (rel.ymin + rel.height) * height, float(detection.score[0])))
    return boxes


@lru_cache(maxsize=1)
def _dlib_detector() -> Any:
    import dlib

    return dlib.get_frontal_face_detector()


def _dlib_boxes(image: np.ndarray) -> list[FaceBox]:
    """Boxes from dlib's HOG detector (upsampled once for small images)."""
    try:
        detector = _dlib_detector()
    except ImportError:
        return []
    upsample = 1 if max(image.shape[:2]) < 800 else 0
    rects, scores, _ = detector.run(image, upsample, DLIB_MIN_SCORE)
    return [FaceBox(r.left(), r.top(), r.right() + 1, r.bottom() + 1, float(s)) for r, s in zip(rects, scores)]


def detect_faces(image: np.ndarray, *, max_side: int = DETECTION_MAX_SIDE) -> list[FaceBox]:
    """All faces in an H×W×3 uint8 RGB image, largest box first; [] when none.

    mediapipe full-range model first, then short range, then dlib HOG. Images whose longer side
    exceeds ``max_side`` are downscaled for detection; boxes are returned in original pixels.
    """
    image = check_image(image)
    small, factor = _downscale(image, max_side)
    boxes: list[FaceBox] = []
    for finder in (lambda im: _mediapipe_boxes(im, 1), lambda im: _mediapipe_boxes(im, 0), _dlib_boxes):
        boxes = [b for b in finder(small) if min(b.width, b.height) >= MIN_FACE_SIDE]
        if boxes:
            break
    height, width = image.shape[:2]
    clipped = [_clip_box(b.scaled(1.0 / factor), width, height) for b in boxes]
    return sorted((b for b in clipped if b is not None), key=lambda b: b.area, reverse=True)
