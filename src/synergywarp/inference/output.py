"""Write an animation to disk: H.264 mp4 at the driving's fps with its audio, an optional
side-by-side comparison video and an optional folder of PNG frames.

Outputs are checked before any work starts (:func:`check_outputs`: exists without ``overwrite``,
folder not writable, an extension that is not a video's, the output is an input, a frames folder
that holds inputs); videos are written atomically, so a failure never leaves half a file and never
destroys an existing one, and temporaries that a killed run left in the output folders are removed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synergywarp.atomic import check_output_file, check_writable_folder, remove_stale_temporaries, same_file
from synergywarp.errors import OutputError
from synergywarp.inference.compare import side_by_side
from synergywarp.inference.inputs import DrivingFrames, ImageInput, ProgressCallback
from synergywarp.inference.options import AnimateOptions
from synergywarp.io import FrameFolderWriter, VideoWriter
from synergywarp.io.video_writer import video_container_format


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


def check_output_path(path: str | Path, overwrite: bool, inputs: Iterable[Path] = ()) -> Path:
    """OutputError when ``path`` exists (without ``overwrite``), is a folder, is one of ``inputs``, has
    no video extension (see VIDEO_OUTPUT_FORMATS), or its folder cannot be created or written."""
    path = check_output_file(path, overwrite, inputs)
    video_container_format(path)
    return path


def check_frames_dir(folder: str | Path, overwrite: bool, inputs: Iterable[Path] = ()) -> Path:
    """OutputError when ``folder`` is a file, a non-empty folder without ``overwrite``, an input or a
    folder that holds one (its numbered PNGs could replace input frames), or not writable."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"frames folder {folder} is a file")
    for given in inputs:
        if same_file(folder, given) or same_file(folder, Path(given).parent):
            raise OutputError(f"frames folder {folder} is an input or holds one ({given}); choose another --frames-dir")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise OutputError(f"frames folder {folder} is not empty; pass --overwrite to write into it")
    check_writable_folder(folder, "frames")
    return folder


def check_outputs(out: str | Path, compare: bool | str | Path, frames_dir: str | Path | None, overwrite: bool,
                  inputs: Iterable[ImageInput | object]) -> tuple[Path, Path | None, Path | None]:
    """Check every output of one animation before any work: (out, comparison video or None, frames
    folder or None); ``inputs`` are the source, driving and references (paths among them are compared)."""
    paths = [Path(p) for p in inputs if isinstance(p, (str, Path))]
    out = check_output_path(out, overwrite, paths)
    compare_out = None
    if compare:
        compare_out = compare_path_for(out) if compare is True else Path(compare)
        check_output_path(compare_out, overwrite, [*paths, out])
    folder = check_frames_dir(frames_dir, overwrite, paths) if frames_dir is not None else None
    return out, compare_out, folder


def animate_to_file(animator, source: ImageInput, driving: ImageInput | Iterable[np.ndarray], out: str | Path,
                    references: Iterable[ImageInput] = (), options: AnimateOptions | None = None, *,
                    compare: bool | str | Path = False, frames_dir: str | Path | None = None,
                    overwrite: bool = False, progress: ProgressCallback | None = None) -> AnimationResult:
    """Animate and write ``out`` (H.264 mp4, the driving's fps and audio). ``compare=True`` also writes
    ``OUT_compare.mp4`` (driving crop | source | result; or pass a path); ``frames_dir`` gets PNGs."""
    start = time.perf_counter()
    options = (options or AnimateOptions()).validate()
    references = list(references)
    out, compare_out, folder = check_outputs(out, compare, frames_dir, overwrite, [source, driving, *references])
    for written_to in {out.parent, *([compare_out.parent] if compare_out else []), *([folder] if folder else [])}:
        remove_stale_temporaries(written_to)
    frames = DrivingFrames(driving, options.fps)
    prepared = animator.prepare(source, references, options)
    stream = animator.animate(prepared, frames, progress=progress)
    source_panel = _source_panel(prepared, options)
    count = 0
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(VideoWriter(out, frames.fps, audio_from=frames.audio_path, times=frames.times))
        compare_writer = (stack.enter_context(VideoWriter(compare_out, frames.fps, audio_from=frames.audio_path,
                                                          times=frames.times))
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
