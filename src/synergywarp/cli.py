"""The ``synergywarp`` command line: parses arguments, calls the library, reports in one line.

Every subcommand's parser lives next to the code it drives (``<area>/cli_commands.py``) and is
imported here lazily; errors of the :mod:`synergywarp.errors` family become ``error: ...`` on stderr
and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from pathlib import Path

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


def _import_liveportrait(args: argparse.Namespace) -> int:
    from synergywarp.models.liveportrait import import_liveportrait

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise SynergyWarpError(f"{out} exists; pass --overwrite to replace it")
    model = import_liveportrait(args.directory)
    model.save_pretrained(out, trained_stages=["explicit"], source="LivePortrait base models")
    print(f"wrote {out} (LivePortrait F/M/W/G in lp256; RAC/CGF untrained, so the explicit path is used)")
    return 0


def add_import_parser(subparsers) -> None:
    p = subparsers.add_parser("import-liveportrait", help="convert LivePortrait's weights into a checkpoint",
                              description="Read LivePortrait's four base-model .pth files (weights only) into "
                              "the lp256 model and write a safetensors checkpoint that carries its config.")
    p.add_argument("directory", help="LivePortrait's pretrained_weights/liveportrait (or its base_models) folder")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=_import_liveportrait)


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
        return int(args.func(args) or 0)
    except SynergyWarpError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
