"""468-point 3D landmarks: mediapipe FaceMesh on an upscaled square crop around a detected face.

FaceMesh run on a whole photo misses small faces, so the face is first found with
:func:`synergywarp.face.detect.detect_faces` and FaceMesh sees a ``MESH_INPUT_SIZE``² window of
``WINDOW_SCALE`` × the box side around it. Points come back in full-image pixels.
"""

from __future__ import annotations

import warnings

import numpy as np

from synergywarp.errors import InputError
from synergywarp.face import _mediapipe
from synergywarp.face.crop import CropTransform, crop_from_params, warp_square
from synergywarp.face.detect import check_image, detect_faces
from synergywarp.face.types import FaceBox, FaceLandmarks

MESH_INPUT_SIZE = 384
WINDOW_SCALE = 2.0  # window side / detector box side (mediapipe boxes span brows to chin)
WINDOW_SCALE_RETRY = (1.5, 2.8)
LANDMARK_WINDOW_SCALE = 1.5  # window side / landmark box side when tracking from the last frame
TRACK_MAX_SHIFT = 0.08  # video mode: re-centre the window when the face moves this × side
TRACK_MAX_ZOOM = 1.2  # ... or changes size by this factor


def _window(center: np.ndarray, side: float) -> CropTransform:
    return crop_from_params(center, side, 0.0, MESH_INPUT_SIZE)


class LandmarkDetector:
    """Callable ``(image H×W×3 uint8, box=None) -> FaceLandmarks | None``.

    ``static_image=True``: every call is independent (largest face when no box is given).
    ``static_image=False`` (video): FaceMesh tracks between calls and the window follows the last
    frame's landmarks, re-centred only when the face drifts (the detector runs on the first frame
    and after a loss). Call :meth:`reset` between videos.
    """

    def __init__(self, static_image: bool = True) -> None:
        self.static_image = static_image
        self._mesh = _mediapipe.face_mesh(static_image)
        self._window: CropTransform | None = None
        self._last: FaceLandmarks | None = None

    def reset(self) -> None:
        """Forget the tracked face (start of a new video)."""
        self._window, self._last = None, None
        if not self.static_image:
            self._mesh.reset()

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> LandmarkDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, image: np.ndarray, window: CropTransform) -> np.ndarray | None:
        """FaceMesh on the window → 468×3 full-image points, or None."""
        result = self._mesh.process(warp_square(image, window, border="replicate"))
        if not result.multi_face_landmarks:
            return None
        mesh = result.multi_face_landmarks[0].landmark
        crop_px = np.array([(p.x, p.y, p.z) for p in mesh], dtype=np.float64) * MESH_INPUT_SIZE
        inverse = window.inverse
        xy = crop_px[:, :2] @ inverse[:, :2].T + inverse[:, 2]
        return np.concatenate([xy, crop_px[:, 2:] / window.zoom], axis=1).astype(np.float32)

    def _from_box(self, image: np.ndarray, box: FaceBox) -> np.ndarray | None:
        side = max(box.width, box.height)
        for window_scale in (WINDOW_SCALE, *WINDOW_SCALE_RETRY):
            window = _window(np.array(box.center), window_scale * side)
            points = self._run(image, window)
            if points is not None:
                self._window = window
                return points
        return None

    def _tracked_window(self) -> CropTransform | None:
        """Video mode: the previous window, or a re-centred one when the face drifted."""
        if self._last is None or self._window is None:
            return None
        face = self._last.bounding_box()
        side = LANDMARK_WINDOW_SCALE * max(face.width, face.height)
        center = np.array(face.center)
        old_side = MESH_INPUT_SIZE / self._window.zoom
        old_center = self._window.inverse @ np.array([MESH_INPUT_SIZE / 2, MESH_INPUT_SIZE / 2, 1.0])
        drift = np.linalg.norm(center - old_center) / old_side
        zoom = max(side / old_side, old_side / side)
        if drift > TRACK_MAX_SHIFT or zoom > TRACK_MAX_ZOOM:
            self._mesh.reset()  # the window moves: FaceMesh's own track would be stale
            return _window(center, side)
        return self._window

    def __call__(self, image: np.ndarray, box: FaceBox | None = None) -> FaceLandmarks | None:
        image = check_image(image)
        points = None
        window = None if (self.static_image or box is not None) else self._tracked_window()
        if window is not None:
            points = self._run(image, window)
            if points is not None:
                self._window = window
                lo, hi = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
                box = FaceBox(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]), 1.0)
        if points is None:
            if box is None:
                boxes = detect_faces(image)
                if not boxes:
                    self._last = None
                    return None
                box = boxes[0]
            if not self.static_image:
                self._mesh.reset()
            points = self._from_box(image, box)
        if points is None:
            self._last = None
            return None
        assert box is not None  # given, detected, or from the tracked window's points
        self._last = FaceLandmarks(points=points, box=box)
        return self._last


_STATIC_DETECTOR: LandmarkDetector | None = None


def detect_landmarks(image: np.ndarray, *, name: str = "image") -> FaceLandmarks:
    """Landmarks of the largest face in an H×W×3 uint8 image; warns when several faces are found;
    InputError "no face found in {name}" when none."""
    global _STATIC_DETECTOR
    image = check_image(image, name)
    boxes = detect_faces(image)
    if len(boxes) > 1:
        warnings.warn(f"{len(boxes)} faces found in {name}; using the largest", stacklevel=2)
    if _STATIC_DETECTOR is None:
        _STATIC_DETECTOR = LandmarkDetector(static_image=True)
    for box in boxes[:3]:
        found = _STATIC_DETECTOR(image, box)
        if found is not None:
            return found
    raise InputError(f"no face found in {name}")
