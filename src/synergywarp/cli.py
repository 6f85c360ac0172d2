"""The ``synergywarp`` command line: parses arguments, calls the library, reports in one line.

Every subcommand's parser lives next to the code it drives (``<area>/cli_commands.py``) and is
imported here lazily; errors of the :mod:`synergywarp.errors` family become ``error: ...`` on stderr
and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
import warnings
from collections.abc import Iterator

from synergywarp.cli_parsing import add_command
from synergywarp.errors import SynergyWarpError

#: subcommand → (module, function adding its parser)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("synergywarp.inference.cli_commands", "add_demo_parser"),
    "animate": ("synergywarp.inference.cli_commands", "add_animate_parser"),
    "train": ("synergywarp.train.cli_commands", "add_train_parser"),
    "eval": ("synergywarp.metrics.cli_commands", "add_eval_parser"),
    "synth": ("synergywarp.data.cli_commands", "add_synth_parser"),
    "prepare": ("synergywarp.data.cli_commands", "add_prepare_parser"),
    "fetch-data": ("synergywarp.data.cli_commands", "add_fetch_data_parser"),
    "import-liveportrait": ("synergywarp.cli", "add_import_parser"),
    "app": ("synergywarp.app.cli_commands", "add_app_parser"),
    "live": ("synergywarp.app.cli_commands", "add_live_parser"),
}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C, so that the same clean-up runs (unfinished
    outputs are discarded) before the process exits with status 143."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within the block SIGTERM raises :class:`Terminated` (main thread, default handler only: a program
    that embeds the CLI keeps its own handler)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def handler(signum, frame):  # noqa: ANN001
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not interrupt the clean-up
        raise Terminated()

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _os_error_line(error: OSError) -> str:
    """``No space left on device: out.mp4`` for an OSError no layer turned into a SynergyWarpError."""
    reason = error.strerror or str(error) or type(error).__name__
    return f"{reason}: {error.filename}" if error.filename else reason


def _import_liveportrait(args: argparse.Namespace) -> int:
    from synergywarp.atomic import check_output_file, remove_stale_temporaries
    from synergywarp.models.liveportrait import import_liveportrait

    out = check_output_file(args.out, args.overwrite)
    remove_stale_temporaries(out.parent)
    model = import_liveportrait(args.directory)
    model.save_pretrained(out, trained_stages=["explicit"], source="LivePortrait base models")
    print(f"wrote {out} (LivePortrait F/M/W/G in lp256; RAC/CGF untrained, so the explicit path is used)")
    return 0


def add_import_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "import-liveportrait", _import_liveportrait,
                    help="convert LivePortrait's weights into a checkpoint",
                    description="Read LivePortrait's four base-model .pth files (weights only) into "
                    "the lp256 model and write a safetensors checkpoint that carries its config.")
    p.add_argument("directory", help="LivePortrait's pretrained_weights/liveportrait (or its base_models) folder")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synergywarp", description="SynergyWarpNet portrait animation: animate, train, evaluate."
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name, function in COMMANDS.values():
        getattr(importlib.import_module(module_name), function)(subparsers)
    return parser


def _format_warning(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from synergywarp import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    warnings.formatwarning = _format_warning
    try:
        with _sigterm_as_interrupt():
            return int(args.func(args) or 0)
    except SynergyWarpError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # an environment failure no layer described (they name the file themselves)
        print(f"error: {_os_error_line(err)}", file=sys.stderr)
        return 1
    except MemoryError:
        print("error: out of memory (try a smaller input, --batch 1, or --max-output-size)", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupt:
        what = "terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "interrupted"
        resume = "; continue with --resume" if args.command == "train" else ""
        print(f"error: {what}; unfinished outputs were discarded{resume}", file=sys.stderr)
        return 143 if isinstance(interrupt, Terminated) else 130
