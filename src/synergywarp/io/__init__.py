"""synergywarp.io: the one image/video reader and writer of the package (Pillow, PyAV).

Images are H×W×3 uint8 RGB numpy arrays; videos are streams of such frames.
"""

from __future__ import annotations

from synergywarp.io.frames import FrameFolderWriter, write_frames
from synergywarp.io.image import IMAGE_EXTENSIONS, is_image_path, read_image, write_image
from synergywarp.io.video import (
    DEFAULT_FOLDER_FPS,
    VIDEO_EXTENSIONS,
    VIDEO_OUTPUT_FORMATS,
    VideoInfo,
    VideoWriter,
    frame_rate_fraction,
    is_video_path,
    iter_video_frames,
    list_frame_files,
    mux_audio,
    open_video,
    probe_video,
    read_video,
    variable_frame_times,
)

__all__ = [
    "DEFAULT_FOLDER_FPS",
    "FrameFolderWriter",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "VIDEO_OUTPUT_FORMATS",
    "VideoInfo",
    "VideoWriter",
    "frame_rate_fraction",
    "is_image_path",
    "is_video_path",
    "iter_video_frames",
    "list_frame_files",
    "mux_audio",
    "open_video",
    "probe_video",
    "read_image",
    "read_video",
    "variable_frame_times",
    "write_frames",
    "write_image",
]
