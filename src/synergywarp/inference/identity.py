"""Reference identity check: dlib's 128-D face descriptor (ResNet, face_recognition_models).

Two photos of one person are usually closer than 0.6 (dlib's own threshold); a reference farther
than that from the source is probably someone else, which makes RAC borrow the wrong details.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from synergywarp.face.types import FaceBox

SAME_PERSON_MAX_DISTANCE = 0.6
MAX_DESCRIPTOR_SIDE = 1024  # larger images are downscaled before the descriptor


@lru_cache(maxsize=1)
def _dlib_models() -> tuple[Any, Any] | None:
    """(5-point shape predictor, face recognition net) or None when dlib or the models are missing."""
    try:
        import dlib
        import face_recognition_models as frm
    except ImportError:
        return None
    return (dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
            dlib.face_recognition_model_v1(frm.face_recognition_model_location()))


def face_descriptor(image: np.ndarray, box: FaceBox) -> np.ndarray | None:
    """128-D descriptor of the face in ``box`` of an H×W×3 uint8 RGB image (None without dlib)."""
    models = _dlib_models()
    if models is None:
        return None
    import cv2
    import dlib

    factor = min(1.0, MAX_DESCRIPTOR_SIDE / max(image.shape[:2]))
    if factor < 1.0:
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        box = box.scaled(factor)
    predictor, net = models
    rect = dlib.rectangle(int(round(box.x0)), int(round(box.y0)), int(round(box.x1)), int(round(box.y1)))
    shape = predictor(np.ascontiguousarray(image), rect)
    return np.asarray(net.compute_face_descriptor(np.ascontiguousarray(image), shape), dtype=np.float32)


def identity_distances(source: tuple[np.ndarray, FaceBox],
                       references: Sequence[tuple[np.ndarray, FaceBox]]) -> list[float] | None:
    """Descriptor distance of each reference to the source; None when dlib is unavailable."""
    anchor = face_descriptor(*source)
    if anchor is None:
        return None
    return [float(np.linalg.norm(face_descriptor(*ref) - anchor)) for ref in references]


def warn_on_identity_mismatch(source: tuple[np.ndarray, FaceBox],
                              references: Sequence[tuple[str, np.ndarray, FaceBox]],
                              threshold: float = SAME_PERSON_MAX_DISTANCE) -> list[float] | None:
    """Warn for every reference (name, image, box) farther than ``threshold`` from the source."""
    distances = identity_distances(source, [(image, box) for _, image, box in references])
    for (name, _, _), distance in zip(references, distances or []):
        if distance > threshold:
            warnings.warn(f"reference {name} may show a different person than the source (face descriptor "
                          f"distance {distance:.2f} > {threshold}); references should show the same person",
                          stacklevel=2)
    return distances
