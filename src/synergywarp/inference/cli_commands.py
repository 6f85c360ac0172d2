"""Argument parsing for ``synergywarp animate`` and ``synergywarp demo`` (the CLI layer: progress
bars, warnings as ``warning: ...`` lines, a summary line). ``cli.py`` calls :func:`add_animate_parser`
and :func:`add_demo_parser`; handlers raise :mod:`synergywarp.errors` classes for one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import types
import typing
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synergywarp.cli_parsing import add_command
from synergywarp.errors import InputError
from synergywarp.inference.options import AnimateOptions

if TYPE_CHECKING:
    from tqdm import tqdm


def _add_runtime_flags(parser: argparse._ActionsContainer, default_model: str = "the bundled demo model",
                       default_backend: str = "torch") -> None:
    parser.add_argument("--checkpoint", metavar="CKPT", default=None,
                        help=f"SynergyWarp .safetensors checkpoint, or demo / demo-live for a bundled one (default: "
                             f"{default_model})")
    parser.add_argument("--device", default="auto", metavar="auto|cpu|cuda|mps", help="compute device (auto)")
    parser.add_argument("--dtype", default="auto", metavar="auto|fp32|fp16|bf16",
                        help="compute precision (auto: fp16 on CUDA, bf16 on a CPU with native bf16 "
                        "(AVX512-BF16/AMX), else fp32)")
    parser.add_argument("--backend", default=default_backend, metavar="torch|jit|onnx|auto",
                        help=f"what runs the network per frame (default {default_backend}): torch, jit (TorchScript on "
                        "the CPU, fp32: traced, frozen and optimised per input size, a few seconds at the first "
                        "frame), onnx (ONNX Runtime on the CPU, fp32; needs pip install 'synergywarp[onnx]'; the "
                        "first use of a size exports and caches the graph) or auto (jit on a CPU in fp32, else torch)")
    parser.add_argument("--compile", action="store_true",
                        help="compile the per-frame network call with torch.compile (a slow first batch, then "
                             "faster frames on GPUs)")


def add_reference_flags(parser: argparse._ActionsContainer) -> None:
    """``--ref`` (repeatable) and ``--refs-dir``: the reference images :func:`_reference_paths` lists."""
    parser.add_argument("--ref", action="extend", nargs="+", default=[], metavar="IMG",
                        help="more photos of the source person (reference images; repeatable)")
    parser.add_argument("--refs-dir", metavar="DIR", help="a folder of reference images")


def add_option_flags(parser: argparse._ActionsContainer, names: Iterable[str] | None = None) -> None:
    """One flag per :class:`AnimateOptions` field (``names``: only these), generated from the field: its
    name (``--crop-scale``, or the field's ``flag``), type, choices (a ``Literal``), default and help. A
    bool that defaults to True gets ``--no-…``, one that defaults to False ``--…``. The values land in
    ``args.<field name>``; :func:`options_from_args` builds the options from them."""
    wanted = None if names is None else set(names)
    hints = typing.get_type_hints(AnimateOptions)
    for spec in dataclasses.fields(AnimateOptions):
        if wanted is not None and spec.name not in wanted:
            continue
        help_text, dashed = spec.metadata["help"], spec.name.replace("_", "-")
        kind, default = hints[spec.name], spec.default
        if kind is bool:
            flag = spec.metadata["flag"] or (f"--no-{dashed}" if default else f"--{dashed}")
            parser.add_argument(flag, dest=spec.name, action="store_false" if default else "store_true",
                                help=help_text)
            continue
        kinds = [t for t in typing.get_args(kind) if t is not type(None)] if _is_optional(kind) else [kind]
        if len(kinds) != 1:
            raise TypeError(f"AnimateOptions.{spec.name}: no flag for a value of type {kind}")
        value_type, choices = kinds[0], None
        if typing.get_origin(value_type) is typing.Literal:
            choices, value_type = list(typing.get_args(value_type)), str
        shown = "" if default is None else f" (default {default})"
        parser.add_argument(spec.metadata["flag"] or f"--{dashed}", dest=spec.name, type=value_type, choices=choices,
                            default=default, metavar=spec.metadata["metavar"], help=help_text + shown)


def _is_optional(kind: Any) -> bool:
    return typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in typing.get_args(kind)


def options_from_args(args: argparse.Namespace, **fixed: Any) -> AnimateOptions:
    """:class:`AnimateOptions` from the flags :func:`add_option_flags` added (fields without a flag keep
    their default; ``fixed`` overrides), validated."""
    given = {spec.name: getattr(args, spec.name) for spec in dataclasses.fields(AnimateOptions)
             if hasattr(args, spec.name)}
    return AnimateOptions(**{**given, **fixed}).validate()


def add_animate_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``animate``: source image + driving video/image (+ references) → mp4."""
    parser = add_command(
        subparsers, "animate", run_animate, help="animate a portrait with a driving video",
        description="Animate the face in --source with the head motion and expressions of --driving.")
    parser.add_argument("--source", required=True, metavar="IMG", help="the portrait to animate")
    parser.add_argument("--driving", required=True, metavar="VIDEO_OR_IMAGE",
                        help="driving video, image or folder of frames")
    add_reference_flags(parser)
    parser.add_argument("--out", required=True, metavar="OUT.mp4", help="output video (H.264 mp4)")
    parser.add_argument("--compare", action="store_true", help="also write OUT_compare.mp4 (driving | source | result)")
    parser.add_argument("--frames-dir", metavar="DIR", help="also write every frame as PNG into DIR")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    _add_runtime_flags(parser)
    add_option_flags(parser.add_argument_group("animation options"))
    return parser


def add_demo_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``demo``: the bundled portrait, references, driving clip and model → DIR/demo.mp4."""
    parser = add_command(
        subparsers, "demo", run_demo, help="run the bundled offline demo",
        description="Animate the bundled portrait with the bundled driving clip and references; writes "
                    "DIR/demo.mp4 and DIR/demo_compare.mp4 (replacing earlier demo outputs).")
    parser.add_argument("--out", default="synergywarp_demo", metavar="DIR", help="output folder")
    _add_runtime_flags(parser)
    add_option_flags(parser.add_argument_group("animation options"))
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
        Runtime.create(args.device, args.dtype, args.compile, backend=args.backend)  # bad flags: before any work
        check_outputs(out, compare, frames_dir, overwrite, [source, driving, *references])  # before any work
        check_input_files(source, driving, references)
        animator = Animator.from_pretrained(args.checkpoint, device=args.device, dtype=args.dtype,
                                            compile=args.compile, backend=args.backend)
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
    options = options_from_args(args)
    references = _reference_paths(args.ref, args.refs_dir)
    return _animate(Path(args.source), Path(args.driving), references, Path(args.out), args, options=options,
                    compare=bool(args.compare), frames_dir=args.frames_dir, overwrite=bool(args.overwrite))


def run_demo(args: argparse.Namespace) -> int:
    """Handler of ``synergywarp demo``."""
    from synergywarp.inference.demo import demo_inputs

    options = options_from_args(args)
    source, references, driving = demo_inputs()
    folder = Path(args.out)
    return _animate(source, driving, references, folder / "demo.mp4", args, options=options,
                    compare=folder / "demo_compare.mp4", frames_dir=None, overwrite=True)
