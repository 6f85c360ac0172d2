"""Lazy, per-process access to mediapipe's solutions (imported only when a face is searched)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from synergywarp.errors import AssetError


def solutions() -> Any:
    """``mediapipe.solutions``, with its C++ logging quietened; AssetError when not installed."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import mediapipe as mp
        return mp.solutions
    except (ImportError, AttributeError) as error:
        raise AssetError(
            "mediapipe==0.10.21 is needed for face detection: pip install --no-deps mediapipe==0.10.21"
            f" ({error})"
        ) from error


@lru_cache(maxsize=2)
def face_detector(model_selection: int) -> Any:
    """A cached ``FaceDetection`` graph (0 = short range, 1 = full range)."""
    return solutions().face_detection.FaceDetection(model_selection=model_selection,
                                                    min_detection_confidence=0.5)


def face_mesh(static_image: bool) -> Any:
    """A new ``FaceMesh`` graph (468 landmarks, no iris refinement, one face)."""
    return solutions().face_mesh.FaceMesh(static_image_mode=static_image, max_num_faces=1,
                                          refine_landmarks=False, min_detection_confidence=0.5,
                                          min_tracking_confidence=0.5)
