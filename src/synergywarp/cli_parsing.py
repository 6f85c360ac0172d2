"""What every subcommand's parser shares (argparse only, so building the CLI parser stays free of torch).

The areas' ``cli_commands.py`` register their subcommands with :func:`add_command`; ``cli.py`` collects them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]


def add_command(subparsers: argparse._SubParsersAction, name: str, handler: Handler, *, help: str,
                description: str) -> argparse.ArgumentParser:
    """Add subcommand ``name`` (``help``: its line in ``synergywarp --help``); ``args.func`` is ``handler``."""
    parser = subparsers.add_parser(name, help=help, description=description)
    parser.set_defaults(func=handler)
    return parser


def add_no_progress_flag(parser: argparse.ArgumentParser, help: str = "no progress bar") -> None:
    """``--no-progress``: ``args.no_progress`` turns the progress bars off."""
    parser.add_argument("--no-progress", action="store_true", help=help)
