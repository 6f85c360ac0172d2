"""Write an animation to disk: H.264 mp4 at the driving's fps with its audio, an optional
side-by-side comparison video and an optional folder of PNG frames.

Outputs are checked before any work starts (exists without ``overwrite``, folder not writable, the
output is an input); videos are written atomically, so a failure never leaves half a file and never
destroys an existing one.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synergywarp.errors import InputError
from synergywarp.inference.compare import side_by_side
from synergywarp.inference.inputs import DrivingFrames, ImageInput, ProgressCallback
from synergywarp.inference.options import AnimateOptions
from synergywarp.io import FrameFolderWriter, VideoWriter


@dataclass
class AnimationResult:
    """What :func:`animate_to_file` wrote, and how fast (``seconds`` covers the whole call)."""

    out: Path
    compare: Path | None
    frames_dir: Path | None
    num_frames: int
    fps: float  # the output's frame rate (the driving's)
    seconds: float
    has_audio: bool

    @property
    def frames_per_second(self) -> float:
        """Processing speed, frames per wall-clock second."""
        return self.num_frames / self.seconds if self.seconds > 0 else float("inf")


def compare_path_for(out: str | Path) -> Path:
    """``OUT.mp4`` → ``OUT_compare.mp4``."""
    out = Path(out)
    return out.with_name(f"{out.stem}_compare{out.suffix or '.mp4'}")


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output_path(path: str | Path, overwrite: bool, inputs: Iterable[Path] = ()) -> Path:
    """InputError when ``path`` exists (without ``overwrite``), is a folder, is one of ``inputs``, or
    its folder cannot be created or written."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"output path is a folder, expected a file name: {path}")
    resolved = path.resolve()
    if any(resolved == Path(p).resolve() for p in inputs):
        raise InputError(f"output {path} is also an input; choose another output name")
    if path.exists() and not overwrite:
        raise InputError(f"output {path} exists; pass --overwrite to replace it")
    ancestor = _nearest_existing(path.parent)
    if not ancestor.is_dir():
        raise InputError(f"cannot create output folder {path.parent}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"output folder is not writable: {ancestor}")
    return path


def check_frames_dir(folder: str | Path, overwrite: bool) -> Path:
    """InputError when ``folder`` is a file, or a non-empty folder without ``overwrite``."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"frames folder {folder} is a file")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise InputError(f"frames folder {folder} is not empty; pass --overwrite to write into it")
    ancestor = _nearest_existing(folder)
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"frames folder {folder} cannot be created or written")
    return folder


def animate_to_file(animator, source: ImageInput, driving: ImageInput | Iterable[np.ndarray], out: str | Path,
                    references: Iterable[ImageInput] = (), options: AnimateOptions | None = None, *,
                    compare: bool | str | Path = False, frames_dir: str | Path | None = None,
                    overwrite: bool = False, progress: ProgressCallback | None = None) -> AnimationResult:
    """Animate and write ``out`` (H.264 mp4, the driving's fps and audio). ``compare=True`` also writes
    ``OUT_compare.mp4`` (driving crop | source | result; or pass a path); ``frames_dir`` gets PNGs."""
    start = time.perf_counter()
    options = (options or AnimateOptions()).validate()
    references = list(references)
    inputs = [Path(p) for p in [source, driving, *references] if isinstance(p, (str, Path))]
    out = check_output_path(out, overwrite, inputs)
    compare_out = None
    if compare:
        compare_out = compare_path_for(out) if compare is True else Path(compare)
        check_output_path(compare_out, overwrite, inputs)
    folder = check_frames_dir(frames_dir, overwrite) if frames_dir is not None else None
    frames = DrivingFrames(driving, options.fps)
    prepared = animator.prepare(source, references, options)
    stream = animator.animate(prepared, frames, progress=progress)
    source_panel = _source_panel(prepared, options)
    count = 0
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(VideoWriter(out, frames.fps, audio_from=frames.audio_path))
        compare_writer = (stack.enter_context(VideoWriter(compare_out, frames.fps, audio_from=frames.audio_path))
                          if compare_out is not None else None)
        png_writer = FrameFolderWriter(folder) if folder is not None else None
        for frame in stream:
            with animator.timed("encoding"):
                writer.write(frame.image)
                if compare_writer is not None:
                    compare_writer.write(side_by_side([frame.driving, source_panel, frame.image]))
                if png_writer is not None:
                    png_writer.write(frame.image)
            count += 1
        has_audio = writer.has_audio
    return AnimationResult(out=out, compare=compare_out, frames_dir=folder, num_frames=count, fps=frames.fps,
                           seconds=time.perf_counter() - start, has_audio=has_audio)


def _source_panel(prepared, options: AnimateOptions) -> np.ndarray:
    """The source as shown beside the result: the full image with paste-back, else its crop."""
    if options.crop and options.paste_back:
        return prepared.source.image
    return prepared.source.crop_image
