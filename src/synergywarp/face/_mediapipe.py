"""Lazy, per-process access to mediapipe's solutions (imported only when a face is searched)."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np

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
    """Wraps a mediapipe graph so that nothing it does prints: construction, every ``process`` call
    (TFLite logs from its worker threads while a call runs), ``reset`` and ``close``; graphs still open
    at exit are closed quietly too, before the interpreter tears them down.

    A graph opens its models on worker threads after (re)starting, and they log as they do; so a start
    is followed, still silenced, by one call on a blank image, which returns only once every model is
    open (a blank image holds no face, so a tracking graph's state stays as after a reset)."""

    def __init__(self, factory):
        with quiet_native_stderr():
            self._graph = factory()
            self._graph.process(_BLANK)
        _OPEN.add(self)

    def process(self, image):
        with quiet_native_stderr():
            return self._graph.process(image)

    def reset(self) -> None:
        with quiet_native_stderr():
            self._graph.reset()
            self._graph.process(_BLANK)

    def close(self) -> None:
        _OPEN.discard(self)
        with quiet_native_stderr():
            self._graph.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._graph, name)


_OPEN: set[_QuietStart] = set()
_BLANK = np.zeros((64, 64, 3), np.uint8)


@atexit.register
def _close_open_graphs() -> None:
    for graph in list(_OPEN):
        try:
            graph.close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


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
