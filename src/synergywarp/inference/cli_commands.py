"""Argument parsing for ``synergywarp animate`` and ``synergywarp demo`` (the CLI layer: progress
bars, warnings as ``warning: ...`` lines, a summary line). ``cli.py`` calls :func:`add_animate_parser`
and :func:`add_demo_parser`; handlers raise :mod:`synergywarp.errors` classes for one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synergywarp.errors import InputError

if TYPE_CHECKING:
    from tqdm import tqdm

DEFAULT_SMOOTH = 0.5
DEFAULT_BATCH = 8
DEFAULT_MAX_OUTPUT_SIZE = 1920  # AnimateOptions' (kept here so that --help imports no torch)


def _add_runtime_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", metavar="CKPT", default=None,
                        help="SynergyWarp .safetensors checkpoint (default: the bundled demo model)")
    parser.add_argument("--device", default="auto", metavar="auto|cpu|cuda|mps", help="compute device (auto)")
    parser.add_argument("--dtype", default="auto", metavar="auto|fp32|fp16|bf16",
                        help="compute precision (auto: fp16 on CUDA, bf16 on a CPU with native bf16 "
                        "(AVX512-BF16/AMX), else fp32)")
    parser.add_argument("--backend", default="torch", metavar="torch|onnx",
                        help="what runs the network per frame: torch (default) or onnx (ONNX Runtime on the CPU, "
                        "fp32; needs pip install 'synergywarp[onnx]'; the first use of a size exports and caches "
                        "the graph, a few seconds)")
    parser.add_argument("--size", type=int, default=None, metavar="PX",
                        help="side of the animated face crop, e.g. 256 or 512 (default: 512 for models that warp "
                        "the source at any size, such as the bundled one; else the model's own)")


def add_animate_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``animate``: source image + driving video/image (+ references) → mp4."""
    parser = subparsers.add_parser(
        "animate", help="animate a portrait with a driving video",
        description="Animate the face in --source with the head motion and expressions of --driving.")
    parser.add_argument("--source", required=True, metavar="IMG", help="the portrait to animate")
    parser.add_argument("--driving", required=True, metavar="VIDEO_OR_IMAGE",
                        help="driving video, image or folder of frames")
    parser.add_argument("--ref", action="extend", nargs="+", default=[], metavar="IMG",
                        help="more photos of the source person (reference images; repeatable)")
    parser.add_argument("--refs-dir", metavar="DIR", help="a folder of reference images")
    parser.add_argument("--out", required=True, metavar="OUT.mp4", help="output video (H.264 mp4)")
    _add_runtime_flags(parser)
    parser.add_argument("--motion", choices=("relative", "absolute"), default="relative",
                        help="relative: the driving's changes since its first frame (default); absolute: its pose")
    parser.add_argument("--no-crop", action="store_true",
                        help="inputs are face crops already: only resize them (output at model resolution)")
    parser.add_argument("--no-paste-back", action="store_true",
                        help="write the animated face crop instead of the full source frame")
    parser.add_argument("--smooth", type=float, default=DEFAULT_SMOOTH, metavar="STRENGTH",
                        help=f"temporal smoothing of the driving motion, 0 = off (default {DEFAULT_SMOOTH})")
    parser.add_argument("--compare", action="store_true", help="also write OUT_compare.mp4 (driving | source | result)")
    parser.add_argument("--frames-dir", metavar="DIR", help="also write every frame as PNG into DIR")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, metavar="N",
                        help=f"driving frames per network call (default {DEFAULT_BATCH})")
    parser.add_argument("--max-output-size", type=int, default=DEFAULT_MAX_OUTPUT_SIZE, metavar="PX",
                        help="scale the source photo (and so the video) down to this longest side, so that "
                             f"players can decode it (default {DEFAULT_MAX_OUTPUT_SIZE}; 0 keeps the full size)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.set_defaults(func=run_animate)
    return parser


def add_demo_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``demo``: the bundled portrait, references, driving clip and model → DIR/demo.mp4."""
    parser = subparsers.add_parser(
        "demo", help="run the bundled offline demo",
        description="Animate the bundled portrait with the bundled driving clip and references; writes "
                    "DIR/demo.mp4 and DIR/demo_compare.mp4 (replacing earlier demo outputs).")
    parser.add_argument("--out", default="synergywarp_demo", metavar="DIR", help="output folder")
    _add_runtime_flags(parser)
    parser.set_defaults(func=run_demo)
    return parser


@contextlib.contextmanager
def _reported_warnings() -> Iterator[None]:
    """Show library warnings as single ``warning: ...`` lines on stderr (above any progress bar)."""
    from tqdm import tqdm

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        tqdm.write(f"warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield


class _Progress:
    """tqdm bars per stage (``tracking``, ``animating``) with frames/s; callable as a ProgressCallback."""

    def __init__(self, total: int | None):
        self.total = total
        self.bars: dict[str, tqdm[Any]] = {}

    def __call__(self, stage: str, count: int) -> None:
        from tqdm import tqdm

        if stage not in self.bars:
            for bar in self.bars.values():
                bar.close()
            self.bars[stage] = tqdm(total=self.total, desc=stage, unit="frame", file=sys.stderr,
                                    dynamic_ncols=True, leave=False)
        self.bars[stage].update(count)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _reference_paths(refs: list[str], refs_dir: str | None) -> list[Path]:
    from synergywarp.io import IMAGE_EXTENSIONS

    paths = [Path(r) for r in refs]
    if refs_dir is not None:
        folder = Path(refs_dir)
        if not folder.is_dir():
            raise InputError(f"references folder not found: {folder}")
        found = sorted(p for p in folder.iterdir()
                       if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not found:
            raise InputError(f"no images in references folder {folder}")
        paths += found
    return paths


def _summary(result, started_with: str) -> str:
    extras = [f"{result.num_frames / result.fps:.1f} s at {result.fps:g} fps",
              "with audio" if result.has_audio else "no audio"]
    line = (f"wrote {result.num_frames} frames ({', '.join(extras)}) to {result.out} in {result.seconds:.1f} s "
            f"({result.frames_per_second:.1f} frames/s; {started_with})")
    if result.compare is not None:
        line += f"; comparison: {result.compare}"
    if result.frames_dir is not None:
        line += f"; PNG frames: {result.frames_dir}"
    return line


def _animate(source, driving, references, out: Path, args: argparse.Namespace, *, options, compare,
             frames_dir, overwrite: bool) -> int:
    from synergywarp.inference.inputs import DrivingFrames, check_input_files
    from synergywarp.inference.output import check_outputs
    from synergywarp.inference.pipeline import Animator
    from synergywarp.inference.runtime import Runtime

    with _reported_warnings():
        Runtime.create(args.device, args.dtype, backend=args.backend)  # bad runtime flags fail before any work
        check_outputs(out, compare, frames_dir, overwrite, [source, driving, *references])  # before any work
        check_input_files(source, driving, references)
        animator = Animator.from_pretrained(args.checkpoint, device=args.device, dtype=args.dtype,
                                            backend=args.backend)
        print(f"using {animator.describe()}", file=sys.stderr)
        total = DrivingFrames(driving).num_frames
        progress = _Progress(total)
        try:
            result = animator.animate_to_file(source, driving, out, references, options, compare=compare,
                                              frames_dir=frames_dir, overwrite=overwrite, progress=progress)
        finally:
            progress.close()
    print(_summary(result, animator.runtime.describe()))
    return 0


def run_animate(args: argparse.Namespace) -> int:
    """Handler of ``synergywarp animate``."""
    from synergywarp.inference.options import AnimateOptions

    options = AnimateOptions(motion=args.motion, crop=not args.no_crop, paste_back=not args.no_paste_back,
                             smooth=args.smooth, batch=args.batch, output_size=args.size,
                             max_output_size=args.max_output_size).validate()
    references = _reference_paths(args.ref, args.refs_dir)
    return _animate(Path(args.source), Path(args.driving), references, Path(args.out), args, options=options,
                    compare=bool(args.compare), frames_dir=args.frames_dir, overwrite=bool(args.overwrite))


def run_demo(args: argparse.Namespace) -> int:
    """Handler of ``synergywarp demo``."""
    from synergywarp.inference.demo import demo_inputs
    from synergywarp.inference.options import AnimateOptions

    source, references, driving = demo_inputs()
    folder = Path(args.out)
    options = AnimateOptions(output_size=args.size).validate()
    return _animate(source, driving, references, folder / "demo.mp4", args, options=options,
                    compare=folder / "demo_compare.mp4", frames_dir=None, overwrite=True)
