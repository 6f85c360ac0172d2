"""Driving frames that arrive one at a time (a camera): the face tracking and crop of each frame.

:meth:`Animator.start_live` returns a :class:`LiveSession`; :meth:`Animator.animate_frame` animates
one frame with it. There is no tracking pass over a whole clip, so the crop is chosen causally:
``driving_crop: fixed`` keeps the crop of the first frame with a face, ``smooth`` follows the face
with a One-Euro filter on the crop's centre and side. Without ``crop`` the frame's centre square is
used, as for a clip. The driving's reference frame (relative motion) is the first frame with a face.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from synergywarp.face import CropTransform, LandmarkDetector, apply_crop, crop_from_params, to_crop_coords
from synergywarp.face.crop import crop_params
from synergywarp.inference.inputs import DrivingTrack, box_corners, center_square_crop
from synergywarp.inference.motion import OneEuroFilter

if TYPE_CHECKING:  # pipeline imports this module
    from synergywarp.face.types import FaceLandmarks
    from synergywarp.inference.pipeline import PreparedSource, _Session


@dataclass
class LiveSession:
    """State of a live animation: the source prepared once, FaceMesh in video mode, the current crop
    and (once a face was seen) the pipeline's per-stream state. Close it to free the tracker."""

    source: PreparedSource
    fps: float
    image_size: int
    need_landmarks: bool  # tracked-motion models move landmarks, learned ones read the crop
    detector: LandmarkDetector | None = None
    crop: CropTransform | None = None
    crop_smoother: OneEuroFilter | None = None
    crop_unit: float | None = None  # half the first crop's side (px): the smoother's unit
    stream: _Session | None = None  # the pipeline's per-stream state, created at the first frame with a face
    frames_seen: int = 0
    frames_with_face: int = 0

    def __post_init__(self) -> None:
        options = self.source.options
        if options.crop or self.need_landmarks:
            self.detector = LandmarkDetector(static_image=False)
        if options.crop and options.driving_crop == "smooth":
            self.crop_smoother = OneEuroFilter(max(options.smooth, 0.5), self.fps)

    def close(self) -> None:
        if self.detector is not None:
            self.detector.close()
            self.detector = None

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def track(self, frame: np.ndarray) -> tuple[DrivingTrack, np.ndarray] | None:
        """Face tracking of one frame H×W×3 uint8 → (a one-frame :class:`DrivingTrack`, the driving
        crop S×S×3), or None while no face has been seen yet (frames without a face later are
        returned marked invalid, so the pipeline holds the last good motion)."""
        self.frames_seen += 1
        found = self.detector(frame) if self.detector is not None else None
        if found is None and self.detector is not None and self.stream is None:
            return None
        self.frames_with_face += found is not None
        self.crop = self._next_crop(frame, found)
        landmarks = None
        if self.need_landmarks:
            landmarks = np.full((1, 468, 3), np.nan, np.float32)
            if found is not None:
                landmarks[0] = to_crop_coords(np.asarray(found.points, np.float32), self.crop)
        valid = np.array([found is not None or self.detector is None])
        track = DrivingTrack(crops=[self.crop], valid=valid, landmarks=landmarks)
        return track, apply_crop(frame, self.crop, border="replicate")

    def _next_crop(self, frame: np.ndarray, found: FaceLandmarks | None) -> CropTransform:
        options = self.source.options
        if not options.crop:
            return self.crop or center_square_crop(frame.shape[0], frame.shape[1], self.image_size)
        if found is None or (self.crop is not None and self.crop_smoother is None):
            if self.crop is None:  # track() returns before the first face, so this cannot happen
                raise ValueError("no driving crop before the first face")
            return self.crop  # fixed: the first face's crop; smooth: the last one while the face is lost
        center, side, _ = crop_params(box_corners(found), options.crop_scale, options.crop_vy)
        if self.crop_smoother is not None:  # filtered in units of half the first crop's side, like keypoints
            self.crop_unit = self.crop_unit or side / 2.0
            unit = self.crop_unit
            center_side = self.crop_smoother(np.array([center[0], center[1], side]) / unit) * unit
            center, side = center_side[:2], float(center_side[2])
        return crop_from_params(np.asarray(center, np.float64), float(side), 0.0, self.image_size)

