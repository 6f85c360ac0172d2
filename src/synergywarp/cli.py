"""The ``synergywarp`` command line: parses arguments, calls the library, reports in one line."""

from __future__ import annotations

import argparse
import sys

from synergywarp.errors import SynergyWarpError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synergywarp", description=__doc__)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


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
    try:
        return int(args.func(args) or 0)
    except SynergyWarpError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
