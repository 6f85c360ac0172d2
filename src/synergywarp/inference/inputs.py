"""Inputs of the pipeline: face crops of still images, driving frames, and the driving's tracking pass.

Crop mode: the face is found with :mod:`synergywarp.face` and cropped LivePortrait-style.
No-crop mode: the image is taken as a face crop already; its centre square is resized to the model
resolution (the same :class:`CropTransform` machinery, so landmarks map the same way).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import cv2
import numpy as np

from synergywarp.errors import InputError
from synergywarp.face import (
    CropTransform,
    LandmarkDetector,
    apply_crop,
    crop_from_landmarks,
    crop_from_params,
    detect_landmarks,
    stable_video_crops,
    to_crop_coords,
)
from synergywarp.face.types import FaceBox, FaceLandmarks
from synergywarp.inference.options import AnimateOptions
from synergywarp.io import DEFAULT_FOLDER_FPS, is_image_path, open_video, read_image, variable_frame_times
from synergywarp.io.image import missing_file_error

ImageInput = str | Path | np.ndarray
ProgressCallback = Callable[[str, int], None]  # (stage, frames just finished)


def load_image(image: ImageInput, name: str | None = None) -> tuple[np.ndarray, str]:
    """(H×W×3 uint8 RGB, display name) from a path or an array (grey/RGBA arrays converted)."""
    if isinstance(image, (str, Path)):
        return read_image(image), str(image)
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim == 3 and array.shape[2] == 4:
        alpha = array[..., 3:].astype(np.float32) / (255.0 if array.dtype == np.uint8 else 1.0)
        array = (array[..., :3] * alpha + (255.0 if array.dtype == np.uint8 else 1.0) * (1 - alpha))
    if array.dtype != np.uint8:
        scale = 255.0 if np.issubdtype(array.dtype, np.floating) and array.max(initial=0) <= 1.0 else 1.0
        array = np.clip(np.round(array * scale), 0, 255).astype(np.uint8)
    if array.ndim != 3 or array.shape[2] != 3:
        raise InputError(f"{name or 'image'}: expected an H×W×3 RGB image, got shape {array.shape}")
    return np.ascontiguousarray(array), name or "image array"


def check_input_files(source: ImageInput, driving: object, references: Iterable[ImageInput] = ()) -> None:
    """InputError naming the first given path that leads nowhere (missing, a symlink loop, a folder where
    an image is expected): a cheap check before any model is loaded. Arrays pass unchecked."""
    for image in [source, *references]:
        if isinstance(image, (str, Path)):
            path = Path(image)
            if not path.exists():
                raise missing_file_error(path, "image")
            if path.is_dir():
                raise InputError(f"expected an image file but got a folder: {path}")
    if isinstance(driving, (str, Path)) and not Path(driving).exists():
        raise missing_file_error(Path(driving), "video" if not is_image_path(driving) else "image")


def fit_output_size(image: np.ndarray, crop: CropTransform, box: FaceBox | None, max_side: int
                    ) -> tuple[np.ndarray, CropTransform, FaceBox | None]:
    """Scale a full image H×W×3 down so that its longer side is at most ``max_side`` (0: unchanged), with
    its crop and face box mapped to the smaller image (area-averaged; the crop's content is unchanged)."""
    height, width = image.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return image, crop, box
    factor = max_side / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    scale = np.array([size[0] / width, size[1] / height])  # full px → small px (edges map to edges)
    matrix = np.asarray(crop.matrix, dtype=np.float64).copy()
    matrix[:, :2] /= scale[None, :]
    box = None if box is None else FaceBox(box.x0 * scale[0], box.y0 * scale[1], box.x1 * scale[0],
                                           box.y1 * scale[1], box.score)
    return small, CropTransform(matrix, crop.size), box


def center_square_crop(height: int, width: int, size: int) -> CropTransform:
    """The centre square of an H×W image resized to ``size``² (no-crop mode)."""
    return crop_from_params(np.array([width / 2.0, height / 2.0]), float(min(height, width)), 0.0, size)


@dataclass
class PreparedFace:
    """A still image ready for the network: full image H×W×3, its crop transform, the crop S×S×3,
    crop-normalised landmarks 468×3 (None when not searched) and the face box (full-image px)."""

    name: str
    image: np.ndarray
    crop: CropTransform
    crop_image: np.ndarray
    landmarks: np.ndarray | None
    box: FaceBox | None

    def required_landmarks(self) -> np.ndarray:
        """``landmarks`` (always searched for tracked models); ValueError when they were not searched."""
        if self.landmarks is None:
            raise ValueError(f"{self.name}: landmarks were not searched (prepare_face with need_landmarks=True)")
        return self.landmarks


def prepare_face(image: ImageInput, size: int, options: AnimateOptions, *, need_landmarks: bool,
                 name: str | None = None) -> PreparedFace:
    """Load ``image``, find its face (crop mode, or when landmarks are needed) and crop it to ``size``².

    In crop mode the full image kept for paste-back is then scaled down to ``options.max_output_size``
    (the crop is taken from the full resolution first), which bounds the memory and the output video."""
    rgb, label = load_image(image, name)
    found = None
    if options.crop or need_landmarks:
        found = detect_landmarks(rgb, name=label)  # InputError "no face found in {label}"
    if options.crop and found is not None:
        crop = crop_from_landmarks(found.points, size, scale=options.crop_scale, vy=options.crop_vy)
    else:
        crop = center_square_crop(rgb.shape[0], rgb.shape[1], size)
    landmarks = to_crop_coords(found.points, crop) if (found is not None and need_landmarks) else None
    box = found.bounding_box() if found is not None else None
    crop_image = apply_crop(rgb, crop, border="replicate")
    if options.crop:
        rgb, crop, box = fit_output_size(rgb, crop, box, options.max_output_size)
    return PreparedFace(label, rgb, crop, crop_image, landmarks, box)


class DrivingFrames:
    """Re-iterable driving frames from a video file, frame folder, image file, array or sequence.

    ``fps``: the file's rate (``default_fps`` for images, folders and arrays); ``audio_path``: the
    file whose audio goes into the output (video files only); ``num_frames``: None when unknown;
    ``times``: each frame's presentation time (s) when the file has a variable frame rate, else None.
    """

    def __init__(self, driving: ImageInput | Iterable[np.ndarray], default_fps: float = DEFAULT_FOLDER_FPS):
        self.audio_path: Path | None = None
        self._path: Path | None = None
        self._frames: Sequence[np.ndarray] | None = None
        self._stream: Iterator[np.ndarray] | None = None
        self.fps = float(default_fps)
        self.num_frames: int | None = None
        self.times: np.ndarray | None = None
        if isinstance(driving, (str, Path)):
            path = Path(driving)
            self.name = str(path)
            if path.is_file() and is_image_path(path):
                self._frames = [read_image(path)]
            else:
                info, frames = open_video(path, folder_fps=default_fps)  # InputError for bad input
                frames.close()
                self._path, self.fps, self.num_frames = path, info.fps, info.num_frames
                self.audio_path = path if (path.is_file() and info.has_audio) else None
                self.times = variable_frame_times(path, info.fps) if path.is_file() else None
        elif isinstance(driving, np.ndarray):
            self.name = "driving array"
            single = driving.ndim == 2 or (driving.ndim == 3 and driving.shape[-1] in (3, 4))
            self._frames = [driving] if single else list(driving)
        else:
            self.name = "driving frames"
            if isinstance(driving, Sequence):
                self._frames = cast(Sequence[np.ndarray], driving)  # str and Path were handled above
            else:
                self._stream = iter(driving)
        if self._frames is not None:
            if len(self._frames) == 0:
                raise InputError("the driving input holds no frames")
            self.num_frames = len(self._frames)

    @property
    def reiterable(self) -> bool:
        return self._stream is None

    def materialise(self) -> None:
        """Buffer a one-shot iterator so that it can be read twice (tracking pass + animation)."""
        if self._stream is not None:
            self._frames, self._stream = list(self._stream), None
            if not self._frames:
                raise InputError("the driving input holds no frames")
            self.num_frames = len(self._frames)

    def __iter__(self) -> Generator[np.ndarray, None, None]:
        if self._path is not None:
            _, frames = open_video(self._path, folder_fps=self.fps)
            source: Iterable[np.ndarray] = frames
        elif self._frames is not None:
            source = self._frames
        else:
            stream, self._stream = self._stream, None
            if stream is None:
                raise RuntimeError("a one-shot driving iterator can only be read once")
            source = stream
        for index, frame in enumerate(source):
            yield load_image(frame, f"{self.name} frame {index}")[0]


@dataclass
class DrivingTrack:
    """Result of the tracking pass: per-frame crops, validity and (tracked models) motion landmarks.

    crops: T crop transforms; valid: T bool (a face was found); landmarks: T×468×3 crop-normalised
    FaceMesh points (NaN where invalid) or None.
    """

    crops: list[CropTransform]
    valid: np.ndarray
    landmarks: np.ndarray | None

    @property
    def num_frames(self) -> int:
        return len(self.valid)

    def landmarks_at(self, index: int) -> np.ndarray:
        """The 468×3 landmarks of frame ``index`` (tracked models); ValueError when none were tracked."""
        if self.landmarks is None:
            raise ValueError("the tracking pass kept no landmarks (track_driving with need_landmarks=True)")
        return self.landmarks[index]

    @property
    def first_valid(self) -> int:
        return int(np.flatnonzero(self.valid)[0])


def _frame_ranges(indices: np.ndarray) -> str:
    """[3, 4, 5, 9] → '3–5, 9'."""
    parts, start = [], None
    for i, value in enumerate(indices):
        if start is None:
            start = value
        if i + 1 == len(indices) or indices[i + 1] != value + 1:
            parts.append(f"{start}" if start == value else f"{start}–{value}")
            start = None
    return ", ".join(parts)


def box_corners(found: FaceLandmarks) -> np.ndarray:
    """The four corners ``4×3`` (z = 0, full-image px) of a face's tight landmark box: what driving
    crops are framed on (stable over a clip, unlike the full mesh)."""
    box = found.bounding_box()
    return np.array([[box.x0, box.y0, 0], [box.x1, box.y0, 0], [box.x0, box.y1, 0], [box.x1, box.y1, 0]],
                    np.float32)


def track_driving(frames: DrivingFrames, size: int, options: AnimateOptions, *, need_landmarks: bool,
                  progress: ProgressCallback | None = None) -> DrivingTrack:
    """One pass of FaceMesh (video mode) over the driving frames: stable crops and motion landmarks.

    Only four box corners and the 468 landmarks per frame are kept (memory ~6 KB per frame).
    Frames without a face are reported in one warning (0-based frame numbers) and later hold the
    last good motion; InputError when no frame has a face.
    """
    corners, motion_points, valid = [], [], []
    shape = None
    with LandmarkDetector(static_image=False) as detector:
        for frame in frames:
            shape = frame.shape[:2]
            found = detector(frame)
            if found is None:
                corners.append(np.full((4, 3), np.nan, np.float32))
                motion_points.append(np.full((468, 3), np.nan, np.float32))
                valid.append(False)
            else:
                corners.append(box_corners(found))
                motion_points.append(np.asarray(found.points, np.float32))
                valid.append(True)
            if progress is not None:
                progress("tracking", 1)
    valid_arr = np.asarray(valid, dtype=bool)
    if not valid_arr.any():
        raise InputError(f"no face found in any frame of {frames.name}")
    if shape is None:  # unreachable: a frame had a face
        raise InputError(f"the driving input {frames.name} holds no frames")
    if not valid_arr.all():
        missing = np.flatnonzero(~valid_arr)
        warnings.warn(f"no face in driving frame(s) {_frame_ranges(missing)} (0-based) of {frames.name}; "
                      "holding the last good motion there", stacklevel=2)
    frames.num_frames = len(valid_arr)
    if options.crop:
        crops = stable_video_crops(np.stack(corners), size, options.driving_crop, scale=options.crop_scale,
                                   vy=options.crop_vy)
    else:
        crops = [center_square_crop(shape[0], shape[1], size)] * len(valid_arr)
    landmarks = None
    if need_landmarks:
        points = np.stack(motion_points)
        if all(c is crops[0] for c in crops):
            landmarks = to_crop_coords(points, crops[0])
        else:
            landmarks = np.stack([to_crop_coords(p, c) for p, c in zip(points, crops)])
    return DrivingTrack(crops=crops, valid=valid_arr, landmarks=landmarks)
