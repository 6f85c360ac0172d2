"""Streaming video decode (PyAV) and frame-folder input, as H×W×3 uint8 RGB frames.

Files are decoded packet by packet, so only a few frames are ever held in memory. The first frame is
decoded eagerly when a video is opened, so missing, corrupt and zero-frame inputs fail with an
InputError before any work starts; a file that breaks off later yields the frames that decode, warns,
and stops. Display-matrix rotation (phone videos) is applied, as ffmpeg's autorotate does.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synergywarp.errors import InputError
from synergywarp.io.image import IMAGE_EXTENSIONS, missing_file_error, read_image
from synergywarp.io.optional_av import av

VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".gif", ".mpg", ".mpeg", ".ts", ".wmv", ".flv"}
)
"""Lower-case suffixes (with the dot) treated as video files."""

DEFAULT_FOLDER_FPS = 25.0
"""Frame rate reported for a folder of image frames (a folder carries no timing)."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video (file or frame folder) holds; width/height are after display rotation."""

    fps: float
    num_frames: int | None  # None when the container does not say (e.g. some mkv/webm)
    width: int
    height: int
    has_audio: bool


def is_video_path(path: str | Path) -> bool:
    """True for a folder (read as a frame folder) or a path with one of VIDEO_EXTENSIONS."""
    path = Path(path)
    return path.is_dir() or path.suffix.lower() in VIDEO_EXTENSIONS


def _natural_key(path: Path) -> list[int | str]:
    """Sort key that orders `frame2.png` before `frame10.png` (zero-padded names sort as usual)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_frame_files(folder: str | Path) -> list[Path]:
    """Image files directly inside `folder` (IMAGE_EXTENSIONS, hidden files skipped), sorted by name.

    Digit runs compare as numbers, so unpadded names (1, 2, ..., 10) keep their order too.
    Raises InputError when the folder is missing or holds no image frames.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise missing_file_error(folder, "frame folder")
    frames = [
        entry
        for entry in folder.iterdir()
        if entry.is_file() and not entry.name.startswith(".") and entry.suffix.lower() in IMAGE_EXTENSIONS
    ]
    if not frames:
        raise InputError(f"no image frames ({', '.join(sorted(IMAGE_EXTENSIONS))}) in folder {folder}")
    return sorted(frames, key=_natural_key)


def open_video(
    path: str | Path, *, folder_fps: float = DEFAULT_FOLDER_FPS
) -> tuple[VideoInfo, Generator[np.ndarray, None, None]]:
    """Open a video file or frame folder: its VideoInfo and a generator of H×W×3 uint8 RGB frames.

    The first frame is decoded here, so bad input raises InputError now rather than mid-iteration.
    Close the generator (or exhaust it) to release the file early.
    """
    path = Path(path)
    if path.is_dir():
        return _open_frame_folder(path, folder_fps)
    container, stream = open_video_container(path)
    expected = stream.frames if stream.frames and stream.frames > 0 else None
    frames = _decode_frames(container, stream, path, expected)
    try:
        first = next(frames)
    except StopIteration:  # pragma: no cover - _decode_frames raises instead of ending empty
        raise InputError(f"no video frames in {path}") from None
    fps = _stream_fps(stream, path)
    info = VideoInfo(
        fps=fps,
        num_frames=expected,
        width=int(first.shape[1]),
        height=int(first.shape[0]),
        has_audio=len(container.streams.audio) > 0,
    )
    return info, _prepend(first, frames)


def probe_video(path: str | Path, *, folder_fps: float = DEFAULT_FOLDER_FPS) -> VideoInfo:
    """VideoInfo of a video file or frame folder (decodes only the first frame)."""
    info, frames = open_video(path, folder_fps=folder_fps)
    frames.close()
    return info


def iter_video_frames(path: str | Path, *, folder_fps: float = DEFAULT_FOLDER_FPS) -> Iterator[np.ndarray]:
    """Stream the frames of a video file or frame folder as H×W×3 uint8 RGB arrays (a generator)."""
    return open_video(path, folder_fps=folder_fps)[1]


def read_video(path: str | Path, *, folder_fps: float = DEFAULT_FOLDER_FPS) -> tuple[np.ndarray, float]:
    """Decode a whole video into memory: (T×H×W×3 uint8 RGB frames, fps). Prefer iter_video_frames."""
    info, frames = open_video(path, folder_fps=folder_fps)
    return np.stack(list(frames)), info.fps


def _prepend(first: np.ndarray, rest: Iterator[np.ndarray]) -> Generator[np.ndarray, None, None]:
    yield first
    yield from rest


def variable_frame_times(path: str | Path, fps: float) -> np.ndarray | None:
    """Each frame's presentation time (seconds from the first frame) of a variable-frame-rate video
    file, read from the packets (nothing is decoded); None when the frames are evenly spaced at
    ``fps`` (within a quarter of a frame) or the file does not say."""
    container, stream = open_video_container(Path(path))
    try:
        pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None and p.size > 0)
    except (av.FFmpegError, OSError):
        return None
    finally:
        container.close()
    if len(pts) < 3 or not stream.time_base or not fps > 0:
        return None
    times = (np.asarray(pts, dtype=np.float64) - pts[0]) * float(stream.time_base)
    if np.all(np.abs(np.diff(times) - 1.0 / fps) <= 0.25 / fps):
        return None
    return times


def _error_reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def open_video_container(path: Path) -> tuple[av.container.InputContainer, av.VideoStream]:
    """Open a container and its first video stream, turning every failure into an InputError."""
    if not path.exists():
        raise missing_file_error(path, "video")
    if path.stat().st_size == 0:
        raise InputError(f"video file is empty: {path}")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        raise InputError(f"expected a video but got an image file: {path}")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise InputError(f"not a readable video: {path} ({_error_reason(error)})") from None
    if not container.streams.video:
        has_audio = bool(container.streams.audio)
        container.close()
        if has_audio:
            raise InputError(f"no video stream in {path} (the file holds audio only)")
        raise InputError(f"no video frames in {path} (the file holds no video or audio stream)")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def _stream_fps(stream: av.VideoStream, path: Path) -> float:
    """Frames per second from the stream's average rate, else its guessed/base rate."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return float(rate)
    warnings.warn(f"{path}: frame rate unknown, assuming {DEFAULT_FOLDER_FPS:g} fps", stacklevel=3)
    return DEFAULT_FOLDER_FPS


def _frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """Decoded frame → H×W×3 uint8 RGB with the display-matrix rotation applied.

    The array owns its memory (a copy out of FFmpeg's frame buffer), so it is independent of the
    decoder and visible to Python memory accounting such as tracemalloc.
    """
    rgb = frame.to_ndarray(format="rgb24")
    quarter_turns = round(frame.rotation / 90) % 4 if frame.rotation else 0
    return np.ascontiguousarray(np.rot90(rgb, k=quarter_turns)) if quarter_turns else rgb.copy()


def _decode_frames(
    container: av.container.InputContainer, stream: av.VideoStream, path: Path, expected: int | None
) -> Iterator[np.ndarray]:
    """Yield decoded frames; warn and stop at a break-off after ≥1 frame, InputError before that."""
    decoded = 0
    shape: tuple[int, ...] | None = None
    try:
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    rgb = _frame_to_rgb(frame)
                    if shape is None:
                        shape = rgb.shape
                    elif rgb.shape != shape:  # mid-stream size change: keep the first size
                        rgb = _frame_to_rgb(frame.reformat(width=shape[1], height=shape[0]))
                    decoded += 1
                    yield rgb
        except (av.FFmpegError, OSError) as error:
            if decoded == 0:
                reason = _error_reason(error)
                raise InputError(f"corrupt video, no frame decodes: {path} ({reason})") from None
            warnings.warn(
                f"{path}: decoding stopped after {decoded} frames ({_error_reason(error)}); "
                "the file looks truncated or corrupt",
                stacklevel=2,
            )
            return
        if decoded == 0:
            raise InputError(f"no video frames in {path} (empty or corrupt video stream)")
        if expected is not None and decoded < expected:
            warnings.warn(
                f"{path}: only {decoded} of {expected} frames decoded; the file looks truncated",
                stacklevel=2,
            )
    finally:
        container.close()


def _open_frame_folder(folder: Path, fps: float) -> tuple[VideoInfo, Generator[np.ndarray, None, None]]:
    files = list_frame_files(folder)
    first = read_image(files[0])
    info = VideoInfo(
        fps=float(fps), num_frames=len(files), width=first.shape[1], height=first.shape[0],
        has_audio=False,
    )
    return info, _iter_frame_files(first, files)


def _iter_frame_files(first: np.ndarray, files: list[Path]) -> Generator[np.ndarray, None, None]:
    yield first
    for file in files[1:]:
        rgb = read_image(file)
        if rgb.shape != first.shape:
            raise InputError(
                f"frame {file} is {rgb.shape[1]}×{rgb.shape[0]} but the first frame is "
                f"{first.shape[1]}×{first.shape[0]}"
            )
        yield rgb


def decode_selected_frames(path: str | Path, wanted: set[int] | None = None) -> tuple[dict[int, np.ndarray], int]:
    """Decode a video file up to the largest ``wanted`` index (every frame when None).

    Returns ({frame index: H×W×3 uint8 RGB} for the wanted frames, number of frames decoded). With PyAV
    (display rotation applied); on machines without it (training-only images) OpenCV's bundled FFmpeg
    decodes instead, without rotation handling. InputError when the file is missing, unreadable or
    breaks off with a decoding error.
    """
    path = Path(path)
    try:
        import av as _  # noqa: F401  (the real package, not the optional stand-in)
    except ImportError:
        return _decode_selected_opencv(path, wanted)
    last = None if wanted is None else max(wanted, default=-1)
    frames: dict[int, np.ndarray] = {}
    container, stream = open_video_container(path)
    decoded = 0
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                if wanted is None or decoded in wanted:
                    frames[decoded] = _frame_to_rgb(frame)
                decoded += 1
                if last is not None and decoded > last:
                    return frames, decoded
    except (av.FFmpegError, OSError) as error:
        raise InputError(f"corrupt video {path} ({_error_reason(error)})") from None
    finally:
        container.close()
    return frames, decoded


def _decode_selected_opencv(path: Path, wanted: set[int] | None) -> tuple[dict[int, np.ndarray], int]:
    import cv2

    if not path.is_file():
        raise InputError(f"video not found: {path}")
    last = None if wanted is None else max(wanted, default=-1)
    frames: dict[int, np.ndarray] = {}
    capture = cv2.VideoCapture(str(path))
    decoded = 0
    try:
        while last is None or decoded <= last:
            ok, bgr = capture.read()
            if not ok:
                break
            if wanted is None or decoded in wanted:
                frames[decoded] = np.ascontiguousarray(bgr[..., ::-1])
            decoded += 1
    finally:
        capture.release()
    return frames, decoded
