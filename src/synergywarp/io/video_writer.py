"""H.264 mp4 writing with audio passthrough, written atomically.

Frames go to a hidden temporary file beside the output and are encoded as they arrive; the file is
renamed onto the output only when `close()` succeeds, so an error (or an exception inside the `with`
block, a full disk, a signal) never leaves a half-written video and never destroys an existing one.
The container follows the suffix: `.mp4`/`.m4v` (MP4) or `.mov` (QuickTime); others are refused.

Frame times: constant rate by default (frame i at i / fps); variable-frame-rate sources pass each
frame's presentation time (`times`), which is kept, so audio copied from the source stays in sync.

Odd sizes: yuv420p needs even width and height, so an odd dimension is padded by ONE row/column that
repeats the last one (edge replication, nothing is cropped); a 65×47 input is stored as 66×48.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from synergywarp.atomic import check_writable_folder, publish, temporary_sibling, write_failure
from synergywarp.errors import OutputError
from synergywarp.io.audio import AudioPassthrough
from synergywarp.io.optional_av import av
from synergywarp.io.video_reader import open_video_container

VIDEO_OUTPUT_FORMATS: dict[str, str] = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov"}
"""Output suffix → container written (H.264 video, the source's audio)."""
VFR_TIME_BASE = Fraction(1, 90000)  # frame times of variable-frame-rate output (the MPEG clock)

_BT601_MATRIX = 6  # AVCOL_SPC_SMPTE170M
_LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG
_BT709_PRIMARIES = 1  # AVCOL_PRI_BT709 (= sRGB primaries)
_BT709_TRANSFER = 1  # AVCOL_TRC_BT709


def frame_rate_fraction(fps: float | int | Fraction) -> Fraction:
    """Exact frame rate for the encoder: NTSC-like rates snap to N·1000/1001 (29.97 → 30000/1001).

    Other rates become the nearest fraction with denominator ≤ 1001 (25 → 25, 12.5 → 25/2).
    """
    if isinstance(fps, Fraction):
        rate = fps
    else:
        value = float(fps)
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        ntsc = Fraction(round(value * 1.001) * 1000, 1001)
        if value != round(value) and abs(value - float(ntsc)) < 5e-3:
            return ntsc
        rate = Fraction(value).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    return rate


def pad_to_even(frames: np.ndarray) -> np.ndarray:
    """Pad …×H×W×3 frames by one replicated row/column where H or W is odd (see module docstring)."""
    pad_rows, pad_cols = frames.shape[-3] % 2, frames.shape[-2] % 2
    if not (pad_rows or pad_cols):
        return frames
    widths = [(0, 0)] * (frames.ndim - 3) + [(0, pad_rows), (0, pad_cols), (0, 0)]
    return np.pad(frames, widths, mode="edge")


def video_container_format(path: str | Path) -> str:
    """The container for an output video's suffix (see VIDEO_OUTPUT_FORMATS); OutputError for others."""
    suffix = Path(path).suffix.lower()
    if suffix not in VIDEO_OUTPUT_FORMATS:
        given = f"extension {suffix!r}" if suffix else "no extension"
        raise OutputError(f"output video {path} has {given}; use {', '.join(VIDEO_OUTPUT_FORMATS)} (H.264)")
    return VIDEO_OUTPUT_FORMATS[suffix]


def open_output_container(path: Path, temporary: Path) -> av.container.OutputContainer:
    """Create `path`'s folder if needed and open a container on `temporary` (OutputError on failure)."""
    container_format = video_container_format(path)
    if path.is_dir():
        raise OutputError(f"output path is a folder, expected a video file name: {path}")
    check_writable_folder(path.parent)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create output folder {path.parent}: {error.strerror or error}") from None
    try:
        return av.open(str(temporary), "w", format=container_format, options={"movflags": "+faststart"})
    except (av.FFmpegError, OSError) as error:
        temporary.unlink(missing_ok=True)
        raise write_failure(path, error) from None


class VideoWriter:
    """Encode frames to an H.264 (libx264, yuv420p) mp4 at `fps`, optionally with the audio of `audio_from`.

    `write()` takes one H×W×3 or a batch N×H×W×3 of uint8 RGB frames; all frames share the first
    frame's size. `fps` may be fractional (29.97 is stored as 30000/1001, see frame_rate_fraction).
    When `audio_from` (typically the driving video) has an audio track it is muxed in, cut at the end
    of the video; a source without audio gives a silent video. Use as a context manager: leaving the
    block normally commits the file, an exception discards it. The container follows the suffix (see
    VIDEO_OUTPUT_FORMATS); `crf` and `preset` are libx264's quality and speed settings. `times`: each
    frame's presentation time in seconds from the first (a variable-frame-rate source's timing; frames
    past its end continue at its last interval); None for frame i at i / fps.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float | Fraction,
        *,
        audio_from: str | Path | None = None,
        crf: int = 18,
        preset: str = "medium",
        times: Sequence[float] | np.ndarray | None = None,
    ) -> None:
        self.path = Path(path)
        self.rate = frame_rate_fraction(fps)
        self.times = None if times is None or len(times) == 0 else np.asarray(times, dtype=np.float64)
        self._last_pts = -1
        self.crf = int(crf)
        self.preset = preset
        self.frames_written = 0
        self._audio = AudioPassthrough(audio_from) if audio_from is not None else None
        self._temporary = temporary_sibling(self.path)
        try:
            self._container = open_output_container(self.path, self._temporary)
        except BaseException:
            if self._audio is not None:
                self._audio.close()
            raise
        self._stream: av.VideoStream | None = None
        self._frame_shape: tuple[int, int, int] | None = None
        self._closed = False

    @property
    def has_audio(self) -> bool:
        """True when an audio track from `audio_from` is being muxed."""
        return self._audio is not None and self._audio.available

    def _start(self, height: int, width: int) -> None:
        stream = self._container.add_stream("libx264", rate=self.rate)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = 1 / self.rate if self.times is None else VFR_TIME_BASE
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        # RGB→YUV uses swscale's default BT.601 matrix, limited range: say so in the stream, so players
        # that would guess BT.709 (HD) decode the colours right. Primaries/transfer: sRGB's (BT.709).
        context = stream.codec_context
        context.colorspace, context.color_range = _BT601_MATRIX, _LIMITED_RANGE
        context.color_primaries, context.color_trc = _BT709_PRIMARIES, _BT709_TRANSFER
        self._stream = stream
        if self._audio is not None:
            self._audio.add_to(self._container)

    def write(self, frames: np.ndarray) -> None:
        """Encode one H×W×3 frame or a batch N×H×W×3 (uint8 RGB)."""
        if self._closed:
            raise ValueError(f"VideoWriter for {self.path} is already closed")
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(
                f"expected uint8 H×W×3 or N×H×W×3 RGB frames, got {frames.dtype} {frames.shape}"
            )
        if self._frame_shape is None:
            self._frame_shape = frames.shape[1:]
            self._start(frames.shape[1], frames.shape[2])
        elif frames.shape[1:] != self._frame_shape:
            raise ValueError(
                f"frame size {frames.shape[1:]} differs from the first frame's {self._frame_shape}"
            )
        stream = self._stream
        assert stream is not None  # _start ran on the first frame
        try:
            for rgb in pad_to_even(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                frame.pts = self._pts(self.frames_written)
                self._container.mux(stream.encode(frame))
                self.frames_written += 1
            if self._audio is not None:
                self._audio.mux_until(self._container, self.time_of(self.frames_written))
        except (av.FFmpegError, OSError) as error:  # a full disk, a vanished folder
            self.abort()
            raise write_failure(self.path, error) from None

    def time_of(self, index: int) -> float:
        """Presentation time (seconds) of frame ``index``; ``time_of(n)`` is where n frames end."""
        if self.times is None:
            return float(index / self.rate)
        if index < len(self.times):
            return float(self.times[index])
        last = float(self.times[-1] - self.times[-2]) if len(self.times) > 1 else float(1 / self.rate)
        return float(self.times[-1]) + (index - len(self.times) + 1) * max(last, 1e-3)

    def _pts(self, index: int) -> int:
        """Frame ``index``'s pts in the codec's time base, strictly increasing."""
        if self.times is None:
            return index
        self._last_pts = max(round(self.time_of(index) / VFR_TIME_BASE), self._last_pts + 1)
        return self._last_pts

    def close(self) -> Path:
        """Flush, finish the audio, and atomically move the file onto `path`; returns `path`."""
        if self._closed:
            return self.path
        if self.frames_written == 0:
            self.abort()
            raise ValueError(f"no frames were written to {self.path}; nothing saved")
        stream = self._stream
        assert stream is not None  # frames were written, so _start ran
        try:
            self._container.mux(stream.encode(None))
            if self._audio is not None:
                self._audio.finish(self._container, self.time_of(self.frames_written))
            self._container.close()
            publish(self._temporary, self.path)
        except (av.FFmpegError, OSError) as error:
            self.abort()
            raise write_failure(self.path, error) from None
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Discard everything written so far; an existing file at `path` stays as it was."""
        if self._closed:
            return
        self._closed = True
        releases = [self._container.close] + ([self._audio.close] if self._audio is not None else [])
        for release in releases:
            try:
                release()
            except (av.FFmpegError, OSError, ValueError):
                pass  # already failing; the temporary file is removed below either way
        self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.abort()


def mux_audio(video_path: str | Path, audio_from: str | Path, out_path: str | Path) -> Path:
    """Copy the video stream of `video_path` and the audio of `audio_from` into `out_path` (mp4).

    The video is not re-encoded; audio follows the VideoWriter rules (copy AAC/MP3/Opus, else AAC),
    cut at the end of the video. Written atomically, so `out_path` may equal `video_path`.
    Without audio in `audio_from` the result is a plain copy of the video stream.
    """
    video_path, out_path = Path(video_path), Path(out_path)
    source, source_stream = open_video_container(video_path)
    audio = AudioPassthrough(audio_from)
    temporary = temporary_sibling(out_path)
    try:
        output = open_output_container(out_path, temporary)
        try:
            video_stream = output.add_stream_from_template(source_stream)
            audio.add_to(output)
            video_end = 0.0
            for packet in source.demux(source_stream):
                if packet.dts is None:
                    continue
                if packet.pts is not None:
                    end = (packet.pts + (packet.duration or 0)) * packet.time_base
                    video_end = max(video_end, float(end))
                    audio.mux_until(output, float(packet.pts * packet.time_base))
                packet.stream = video_stream
                output.mux(packet)
            audio.finish(output, video_end)
        finally:
            output.close()
        publish(temporary, out_path)
    except (av.FFmpegError, OSError) as error:
        temporary.unlink(missing_ok=True)
        raise write_failure(out_path, error) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    finally:
        audio.close()
        source.close()
    return out_path
