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
    variable_frame_times,
)
from synergywarp.io.video_writer import VIDEO_OUTPUT_FORMATS, VideoWriter, frame_rate_fraction, mux_audio

__all__ = [
    "DEFAULT_FOLDER_FPS",
    "VIDEO_EXTENSIONS",
    "VIDEO_OUTPUT_FORMATS",
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
    "variable_frame_times",
]
