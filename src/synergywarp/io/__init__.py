"""synergywarp.io: the one image/video reader and writer of the package (Pillow, PyAV).

Images are H×W×3 uint8 RGB numpy arrays; videos are streams of such frames.
"""

from __future__ import annotations

from synergywarp.io import video
from synergywarp.io.frames import FrameFolderWriter, write_frames
from synergywarp.io.image import IMAGE_EXTENSIONS, is_image_path, read_image, write_image
from synergywarp.io.video import *  # noqa: F403  (the names of video.__all__: the reader and the writer)

__all__ = ["FrameFolderWriter", "IMAGE_EXTENSIONS", "is_image_path", "read_image", "write_frames", "write_image"]
__all__ += video.__all__
