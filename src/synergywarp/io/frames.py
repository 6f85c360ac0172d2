"""Write frames as a folder of numbered PNG images (e.g. `animate --frames-dir`)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from synergywarp.errors import InputError
from synergywarp.io.image import write_image


class FrameFolderWriter:
    """Save H×W×3 (or batches N×H×W×3) uint8 RGB frames as `folder/000000.png`, `000001.png`, ...

    Names are zero-padded so they sort in frame order (and read back with iter_video_frames(folder)).
    """

    def __init__(
        self, folder: str | Path, *, start: int = 0, digits: int = 6, extension: str = ".png"
    ) -> None:
        self.folder = Path(folder)
        self.next_index = int(start)
        self.digits = int(digits)
        self.extension = extension
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"cannot create frame folder {self.folder}: {error.strerror or error}") from None

    def path_for(self, index: int) -> Path:
        """The file a frame with this index is written to."""
        return self.folder / f"{index:0{self.digits}d}{self.extension}"

    def write(self, frames: np.ndarray) -> None:
        """Write one H×W×3 frame or a batch N×H×W×3."""
        frames = np.asarray(frames)
        for frame in frames[None] if frames.ndim == 3 else frames:
            write_image(self.path_for(self.next_index), frame)
            self.next_index += 1

    def __enter__(self) -> FrameFolderWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


def write_frames(folder: str | Path, frames: Iterable[np.ndarray], *, start: int = 0) -> list[Path]:
    """Write every frame of `frames` (each H×W×3 uint8) into `folder`; returns the written paths."""
    writer = FrameFolderWriter(folder, start=start)
    first = writer.next_index
    for frame in frames:
        writer.write(frame)
    return [writer.path_for(index) for index in range(first, writer.next_index)]
