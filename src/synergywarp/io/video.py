"""The package's one video reader and writer (PyAV): see video_reader.py and video_writer.py."""

from __future__ import annotations

from synergywarp.io.video_reader import (
    DEFAULT_FOLDER_FPS,
    VIDEO_EXTENSIONS,
    VideoInfo,
    is_video_path,
    iter_video_frames,
    list_frame_files,
    open_video,
    probe_video,
    read_video,
)
from synergywarp.io.video_writer import VideoWriter, frame_rate_fraction, mux_audio

__all__ = [
    "DEFAULT_FOLDER_FPS",
    "VIDEO_EXTENSIONS",
    "VideoInfo",
    "VideoWriter",
    "frame_rate_fraction",
    "is_video_path",
    "iter_video_frames",
    "list_frame_files",
    "mux_audio",
    "open_video",
    "probe_video",
    "read_video",
]
