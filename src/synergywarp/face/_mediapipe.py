"""Lazy, per-process access to mediapipe's solutions (imported only when a face is searched)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from synergywarp.errors import AssetError


def solutions() -> Any:
    """``mediapipe.solutions``, with its C++ logging quietened; AssetError when not installed."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with quiet_native_stderr():
            import mediapipe as mp
        return mp.solutions
    except (ImportError, AttributeError) as error:
        raise AssetError(
            "mediapipe==0.10.21 is needed for face detection: pip install --no-deps mediapipe==0.10.21"
            f" ({error})"
        ) from error


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Send the C++ layer's stderr (absl/TFLite start-up chatter) to /dev/null for the block."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # captured or replaced stderr: nothing to silence
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


class _QuietStart:
    """Wraps a mediapipe graph so that its construction and first ``process`` call print nothing."""

    def __init__(self, factory):
        with quiet_native_stderr():
            self._graph = factory()
        self._started = False

    def process(self, image):
        if self._started:
            return self._graph.process(image)
        with quiet_native_stderr():
            result = self._graph.process(image)
        self._started = True
        return result

    def close(self) -> None:
        with quiet_native_stderr():
            self._graph.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._graph, name)


@lru_cache(maxsize=2)
def face_detector(model_selection: int) -> Any:
    """A cached ``FaceDetection`` graph (0 = short range, 1 = full range)."""
    return _QuietStart(lambda: solutions().face_detection.FaceDetection(
        model_selection=model_selection, min_detection_confidence=0.5))


def face_mesh(static_image: bool) -> Any:
    """A new ``FaceMesh`` graph (468 landmarks, no iris refinement, one face)."""
    return _QuietStart(lambda: solutions().face_mesh.FaceMesh(
        static_image_mode=static_image, max_num_faces=1, refine_landmarks=False,
        min_detection_confidence=0.5, min_tracking_confidence=0.5))


@lru_cache(maxsize=1)
def selfie_segmenter() -> Any:
    """A cached ``SelfieSegmentation`` graph (general model, 256×256 input)."""
    return _QuietStart(lambda: solutions().selfie_segmentation.SelfieSegmentation(model_selection=0))
